/**
 * Fakes for the connection's peers: a kernel that runs the real transition
 * table and casts its state back (on a later tick, as a real cast arrives),
 * peers that record what they were sent, a manual clock, and a quiet logger.
 */
import { ConfigSchema, type TetherConfig, type TetherConfigInput } from '../../../config/index.js';
import type { ControllerEvent, ResponseFrame } from '../../../protocol/index.js';
import type { KernelState } from '../../../contracts/actors.js';
import type { ConnectionPeers, TimerHandle, Timers } from '../../../actors/connection/connection.js';
import { INITIAL_PHASE, transition, type Phase, type TransitionRequest } from '../../../contracts/phase.js';
import { LinkBase, type LinkKind } from '../../../actors/connection/transport/index.js';

export function config(input: TetherConfigInput): TetherConfig {
  return ConfigSchema.parse(input);
}

/** Resolves when `condition` holds, checked after every recorded change; rejects at the deadline. */
class Waiters {
  readonly #waiters = new Set<() => void>();

  notify(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        if (!condition()) return;
        this.#waiters.delete(wake);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        reject(new Error(`${what}: not within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(wake);
      wake();
    });
  }
}

export class FakeKernel {
  phase: Phase = INITIAL_PHASE;
  autoconnecting = true;
  /** Counts changes, as the kernel's KernelState.version does. */
  version = 0;
  readonly requests: TransitionRequest[] = [];
  readonly rediscoveryRequests: string[] = [];
  rediscoveryAnswer = false;
  /** Where casts go (the connection under test). */
  listener:
    | { onKernelState(state: KernelState): void; closeLink(generation: number, reason: string): void }
    | undefined;
  readonly #waiters = new Waiters();
  #gate: Promise<void> = Promise.resolve();

  /** Transition calls wait until the returned function is called (a slow kernel). */
  holdTransitions(): () => void {
    let release = (): void => {};
    this.#gate = new Promise((resolve) => (release = resolve));
    return () => {
      this.#gate = Promise.resolve();
      release();
    };
  }

  get state(): KernelState {
    return { phase: this.phase, autoconnecting: this.autoconnecting, version: this.version };
  }

  transition(request: TransitionRequest): KernelState {
    this.requests.push(request);
    const result = transition(this.phase, request, Date.now());
    if (!result.ok) {
      this.#waiters.notify();
      throw result.error;
    }
    this.phase = result.phase;
    this.version += 1;
    this.#waiters.notify();
    this.#cast();
    return this.state;
  }

  /** What the kernel does on `disconnect`: move, then tell connection to close. */
  disconnect(generation: number, reason: string, retryInMs?: number): boolean {
    if (this.phase.generation !== generation || this.phase.name === 'Disconnected') return false;
    this.transition({
      to: 'Disconnected',
      generation,
      reason,
      ...(retryInMs === undefined ? {} : { retryInMs }),
    });
    const listener = this.listener;
    setImmediate(() => listener?.closeLink(generation, reason));
    return true;
  }

  /** What synchronization does with a link: Acknowledged, then Synchronized (the real table). */
  synchronize(generation: number): void {
    const handshake = {
      firmwareVersion: '4558bdae',
      protoVersion: 'b1698b6e',
      firmwareDate: '2026-03-24',
      protoDate: '2026-03-15',
      systemVersion: '3.2.0',
      platform: 'sim',
      resetReason: '00',
      resetData: '00',
      deviceId: '123456789012345678901234',
    };
    this.transition({ to: 'Acknowledged', generation, ack: { handshake } });
    this.transition({ to: 'Synchronized', generation, sync: { clockSetTo: 0, storedBlocks: 0, trace: [] } });
  }

  setAutoconnecting(on: boolean): void {
    this.autoconnecting = on;
    this.version += 1;
    this.#cast();
  }

  #cast(): void {
    const state = this.state;
    const listener = this.listener;
    setImmediate(() => listener?.onKernelState(state));
  }

  connectedRequests(): TransitionRequest[] {
    return this.requests.filter((r) => r.to === 'Connected');
  }

  until(condition: (kernel: this) => boolean, what: string, timeoutMs?: number): Promise<void> {
    return this.#waiters.until(() => condition(this), what, timeoutMs);
  }

  /** Connection's view of the kernel: every call answers on a later tick, as a real call does. */
  port(): ConnectionPeers['kernel'] {
    return {
      transition: async (request) => {
        await this.#gate;
        return later(() => this.transition(request));
      },
      state: () => later(() => this.state),
      requestRediscoveryExit: (reason) =>
        later(() => {
          this.rediscoveryRequests.push(reason);
          this.#waiters.notify();
          return this.rediscoveryAnswer;
        }),
    };
  }
}

function later<T>(f: () => T): Promise<T> {
  return new Promise((resolve, reject) =>
    setImmediate(() => {
      try {
        resolve(f());
      } catch (error) {
        reject(error as Error);
      }
    }),
  );
}

export class FakePeers {
  readonly responses: { generation: number; frame: ResponseFrame }[] = [];
  readonly badResponses: { generation: number; msgId: number; reason: string }[] = [];
  readonly events: { generation: number; event: ControllerEvent }[] = [];
  readonly activity: { generation: number; at: number }[] = [];
  readonly #waiters = new Waiters();

  peers(kernel: FakeKernel): ConnectionPeers {
    return {
      kernel: kernel.port(),
      onResponse: (generation, frame) => this.#record(this.responses, { generation, frame }),
      onBadResponse: (generation, msgId, reason) =>
        this.#record(this.badResponses, { generation, msgId, reason }),
      onEvent: (generation, event) => this.#record(this.events, { generation, event }),
      onActivity: (generation, at) => this.#record(this.activity, { generation, at }),
    };
  }

  #record<T>(list: T[], item: T): void {
    list.push(item);
    this.#waiters.notify();
  }

  until(condition: (peers: this) => boolean, what: string, timeoutMs?: number): Promise<void> {
    return this.#waiters.until(() => condition(this), what, timeoutMs);
  }
}

/** A manual clock: timers run only when the test advances time. */
export class FakeTimers implements Timers {
  time = 1_000_000;
  /** Every delay asked for, in order. */
  readonly delays: number[] = [];
  readonly #timers = new Map<number, { at: number; callback: () => void }>();
  #next = 1;
  readonly #waiters = new Waiters();

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.#next++;
    this.#timers.set(id, { at: this.time + ms, callback });
    this.delays.push(ms);
    this.#waiters.notify();
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward, running each timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.#timers.entries()]
        .filter(([, t]) => t.at <= end)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.time = due[1].at;
      due[1].callback();
    }
    this.time = end;
  }

  /** Waits for timer number `count` to be asked for, then runs it (a backoff, say); returns its delay. */
  async runTimer(count: number): Promise<number> {
    await this.untilDelays(count);
    const delay = this.delays[count - 1]!;
    this.advance(delay);
    return delay;
  }

  /** Resolves once `count` timers have been asked for in all. */
  untilDelays(count: number, timeoutMs?: number): Promise<void> {
    return this.#waiters.until(() => this.delays.length >= count, `${count} timers`, timeoutMs);
  }
}

export { RecordingLog, type LogLine } from '../../fakes/recording-log.js';

/** A link the test drives by hand: bytes in with `receive`, the peer hanging up with `hangUp`. */
export class FakeLink extends LinkBase {
  readonly kind: LinkKind;
  readonly written: string[] = [];
  /** When set, writes fail with this error. */
  failWrites: Error | undefined;

  constructor(kind: LinkKind, address: string) {
    super(address);
    this.kind = kind;
  }

  receive(text: string | Buffer): void {
    this.emitData(typeof text === 'string' ? Buffer.from(text) : text);
  }

  hangUp(): void {
    this.emitClose({ reason: 'remote' });
  }

  protected writeOpen(bytes: Uint8Array): Promise<void> {
    if (this.failWrites !== undefined) return Promise.reject(this.failWrites);
    this.written.push(Buffer.from(bytes).toString());
    return Promise.resolve();
  }

  protected closeOpen(): Promise<void> {
    queueMicrotask(() => this.emitClose({ reason: 'local' }));
    return Promise.resolve();
  }
}
