/**
 * Fakes for the Synchronizer: a clock whose timers run only when the test
 * advances it, a kernel that applies the real transition table, a commander
 * that answers as a controller would (or fails, or never answers, on
 * demand), an in-memory datastore and a logger that records.
 */
import type { Block, Handshake, Opcode, RequestPayload, ResponsePayload } from '../../../protocol/index.js';
import type { CommandOptions, KernelState } from '../../../contracts/actors.js';
import type { BlockDatastore, LoadResult, StoredBlocks } from '../../../actors/synchronization/datastore.js';
import type {
  CommanderPort,
  KernelPort,
  SynchronizationConfig,
  Timers,
} from '../../../actors/synchronization/synchronization.js';
import { INITIAL_PHASE, transition } from '../../../contracts/phase.js';
import type { ConnectionInfo, TransitionRequest } from '../../../contracts/phase.js';

export const DEVICE_ID = '123456789012345678901234';

export const HANDSHAKE: Handshake = {
  firmwareVersion: '4558bdae',
  protoVersion: 'b1698b6e',
  firmwareDate: '2026-03-24',
  protoDate: '2026-03-15',
  systemVersion: '3.2.0',
  platform: 'sim',
  resetReason: '00',
  resetData: '00',
  deviceId: DEVICE_ID,
};

export const CONFIG: SynchronizationConfig = {
  deviceId: '',
  handshakeTimeoutMs: 120_000,
  handshakePingMs: 2000,
  skipVersionCheck: false,
  clockResyncMs: 900_000,
  stepTimeoutMs: 5000,
  silentMs: 8000,
  listeningRetryMs: 2000,
  recovery: { handshakeTimeout: 'disconnect', syncError: 'disconnect', listeningMode: 'disconnect' },
};

/** Lets every pending promise callback and immediate run (the fakes answer through promises). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

// ------------------------------------------------------------------ clock

export class FakeTimers implements Timers {
  #now = 1_774_000_000_000;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.#now;
  }
  setTimeout(fn: () => void, ms: number): number {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  get pending(): number {
    return this.#timers.size;
  }

  /** Runs every timer due within `ms`, in time order, letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await flush();
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= target && (next === undefined || entry[1].at < next[1].at)) next = entry;
      }
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].at;
      next[1].fn();
      await flush();
    }
    this.#now = target;
    await flush();
  }
}

// ----------------------------------------------------------------- kernel

export class FakeKernel implements KernelPort {
  current: KernelState = { phase: INITIAL_PHASE, autoconnecting: true, version: 0 };
  readonly requests: TransitionRequest[] = [];
  readonly disconnects: { generation: number; reason: string; accepted: boolean; retryInMs?: number }[] = [];
  stateCalls = 0;
  /** Where casts go; unset to keep them back (as a slow channel would). */
  listener: ((state: KernelState) => void) | undefined;
  /** Refuse transitions to this phase, as if the table said no. */
  refuse: TransitionRequest['to'] | undefined;
  readonly #timers: { now(): number };
  readonly #waiters = new Set<() => void>();

  constructor(timers: { now(): number }) {
    this.#timers = timers;
  }

  /** Resolves once the phase is `name` (now or later); rejects at the deadline (real time). */
  waitFor(name: KernelState['phase']['name'], ms = 5000): Promise<KernelState['phase']> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.current.phase.name !== name) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(this.current.phase);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`phase ${name} not reached within ${ms} ms (now ${this.current.phase.name})`));
      }, ms);
      this.#waiters.add(check);
      check();
    });
  }

  get phase(): KernelState['phase'] {
    return this.current.phase;
  }

  state(): Promise<KernelState> {
    this.stateCalls++;
    return Promise.resolve(this.current);
  }

  transition(request: TransitionRequest): Promise<KernelState> {
    this.requests.push(request);
    return Promise.resolve().then(() => this.#apply(request));
  }

  disconnect(generation: number, reason: string, retryInMs?: number): Promise<boolean> {
    const ok = generation === this.current.phase.generation && this.current.phase.name !== 'Disconnected';
    this.disconnects.push({
      generation,
      reason,
      accepted: ok,
      ...(retryInMs === undefined ? {} : { retryInMs }),
    });
    if (ok) {
      this.#apply({
        to: 'Disconnected',
        generation,
        reason,
        ...(retryInMs === undefined ? {} : { retryInMs }),
      });
    }
    return Promise.resolve(ok);
  }

  /** A new link: what connection asks for. Returns the new generation. */
  connect(connection: ConnectionInfo = { kind: 'tcp', address: 'tcp://127.0.0.1:8332' }): number {
    return this.#apply({ to: 'Connected', connection }).phase.generation;
  }

  /** The link closed under us: what connection reports. */
  linkLost(reason = 'link closed'): void {
    this.#apply({ to: 'Disconnected', generation: this.current.phase.generation, reason });
  }

  #apply(request: TransitionRequest): KernelState {
    if (this.refuse === request.to) throw new Error(`refused ${request.to} (test)`);
    const result = transition(this.current.phase, request, this.#timers.now());
    if (!result.ok) throw result.error;
    this.current = { ...this.current, phase: result.phase };
    this.listener?.(this.current);
    for (const wake of [...this.#waiters]) wake();
    return this.current;
  }
}

// -------------------------------------------------------------- commander

export interface SentRequest {
  opcode: Opcode;
  payload: unknown;
  options: CommandOptions | undefined;
}

type Answer = (request: SentRequest) => Promise<unknown>;

/** Answers like the simulator: the clock write echoes the Ticks block, the trace write returns `trace`. */
export class FakeCommander implements CommanderPort {
  readonly sent: SentRequest[] = [];
  trace = [
    { action: 'CREATE', id: 100, type: 'TempSensor' },
    { action: 'WRITE', id: 100, type: 'TempSensor' },
  ];
  /** Overrides the answer for one kind of request (key: opcode, or `BLOCK_WRITE:<id>`). */
  readonly answers = new Map<string, Answer>();

  request<O extends Opcode>(
    opcode: O,
    payload: RequestPayload<O>,
    options?: CommandOptions,
  ): Promise<ResponsePayload<O>> {
    const request: SentRequest = { opcode, payload, options };
    this.sent.push(request);
    const key = opcode === 'BLOCK_WRITE' ? `BLOCK_WRITE:${(payload as Block).id}` : opcode;
    const answer = this.answers.get(key) ?? ((r: SentRequest) => this.#controller(r));
    return answer(request) as Promise<ResponsePayload<O>>;
  }

  of(key: string): SentRequest[] {
    return this.sent.filter(
      (r) => r.opcode === key || `${r.opcode}:${(r.payload as Block | undefined)?.id ?? ''}` === key,
    );
  }

  /** Never answers (a dead link or a busy controller); every such promise is rejected by `releaseAll`. */
  hang(key: string): void {
    this.answers.set(key, () => new Promise((_, reject) => this.#hung.push(reject)));
  }
  releaseAll(error: Error): void {
    for (const reject of this.#hung.splice(0)) reject(error);
  }
  readonly #hung: ((error: Error) => void)[] = [];

  #controller(request: SentRequest): Promise<unknown> {
    if (request.opcode === 'NONE') return Promise.resolve(undefined);
    if (request.opcode === 'BLOCK_WRITE') {
      const block = request.payload as Block;
      if (block.id === 3) {
        return Promise.resolve({ id: 3, type: 'Ticks', data: { ...block.data, millisSinceBoot: 1234 } });
      }
      if (block.id === 2) {
        return Promise.resolve({ id: 2, type: 'SysInfo', data: { deviceId: DEVICE_ID, trace: this.trace } });
      }
    }
    return Promise.reject(new Error(`fake commander: no answer for ${request.opcode}`));
  }
}

// -------------------------------------------------------------- datastore

export class MemoryDatastore implements BlockDatastore {
  readonly stores = new Map<string, StoredBlocks>();
  readonly loads: string[] = [];
  failWith: Error | undefined;
  recovered: LoadResult['recovered'];

  load(deviceId: string): Promise<LoadResult> {
    this.loads.push(deviceId);
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    const store = this.stores.get(deviceId) ?? { deviceId, blocks: [], savedAt: null };
    const result: LoadResult = { store, path: `/memory/blocks-${deviceId}.json` };
    if (this.recovered !== undefined) result.recovered = this.recovered;
    return Promise.resolve(result);
  }

  save(store: StoredBlocks): Promise<void> {
    this.stores.set(store.deviceId, store);
    return Promise.resolve();
  }
}

// ----------------------------------------------------------------- logger

export { RecordingLog, type LogLine } from '../../fakes/recording-log.js';
