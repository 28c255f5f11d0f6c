/**
 * Fakes for the commander and watchdog tests: a clock with timers that a
 * test advances, a connection that records what was written (decoded with
 * the real request decoder), a kernel that records disconnect requests, and
 * kernel states for each phase.
 */
import {
  RequestDecoder,
  type Block,
  type JsonObject,
  type RequestFrame,
  type ResponseFrame,
} from '../../../protocol/index.js';
import type { KernelState } from '../../../contracts/actors.js';
import type { Timer, Timers } from '../../../actors/shared/timers.js';
import type { Phase, PhaseName } from '../../../contracts/phase.js';

// ------------------------------------------------------------------ time

interface Scheduled {
  at: number;
  seq: number;
  fn: () => void;
}

/** Lets every pending promise callback run (they may start or cancel timers). */
export const drain = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class FakeTimers implements Timers {
  #now: number;
  #seq = 0;
  readonly #queue = new Set<Scheduled>();

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  schedule(ms: number, fn: () => void): Timer {
    const entry: Scheduled = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#queue.add(entry);
    return {
      cancel: () => {
        this.#queue.delete(entry);
      },
    };
  }

  /** Timers started and neither fired nor cancelled. */
  get active(): number {
    return this.#queue.size;
  }

  /**
   * Moves the clock forward by `ms`, firing due timers in order (each at its
   * own time), and lets promise callbacks run after each one, as a real event
   * loop would.
   */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await drain();
    for (;;) {
      const next = [...this.#queue]
        .filter((t) => t.at <= end)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (next === undefined) break;
      this.#queue.delete(next);
      this.#now = next.at;
      next.fn();
      await drain();
    }
    this.#now = end;
  }
}

// ------------------------------------------------------------ connection

export class FakeConnection {
  readonly writes: { generation: number; frame: RequestFrame }[] = [];
  readonly #decoder: RequestDecoder;
  #generation = 0;

  constructor() {
    this.#decoder = new RequestDecoder((out) => {
      if (out.kind !== 'frame')
        throw new Error(`the commander wrote something that is not a frame: ${out.kind}`);
      this.writes.push({ generation: this.#generation, frame: out.frame });
    });
  }

  write(generation: number, frame: string): void {
    this.#generation = generation;
    this.#decoder.push(Buffer.from(frame, 'utf8'));
  }

  get last(): RequestFrame {
    const last = this.writes.at(-1);
    if (last === undefined) throw new Error('nothing was written');
    return last.frame;
  }

  opcodes(): string[] {
    return this.writes.map((w) => w.frame.opcode);
  }
}

/** An OK response to `request`, with `payload` when given. */
export function ok(request: RequestFrame, payload?: JsonObject | Block | Block[]): ResponseFrame {
  return payload === undefined
    ? { msgId: request.msgId, error: 'OK' }
    : { msgId: request.msgId, error: 'OK', payload: payload as unknown as JsonObject };
}

// ---------------------------------------------------------------- kernel

export class FakeKernel {
  current: KernelState;
  readonly disconnects: { generation: number; reason: string }[] = [];
  stateCalls = 0;

  constructor(state: KernelState = stateOf('Disconnected', 0)) {
    this.current = state;
  }

  state(): Promise<KernelState> {
    this.stateCalls += 1;
    return Promise.resolve(this.current);
  }

  disconnect(generation: number, reason: string): Promise<boolean> {
    this.disconnects.push({ generation, reason });
    const accepted =
      this.current.phase.generation === generation && this.current.phase.name !== 'Disconnected';
    if (accepted) this.current = stateOf('Disconnected', generation, reason);
    return Promise.resolve(accepted);
  }
}

const HANDSHAKE = {
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

/** A kernel state in phase `name` for `generation`. */
export function stateOf(
  name: PhaseName,
  generation: number,
  reasonOrSince: string | number = 0,
): KernelState {
  const since = typeof reasonOrSince === 'number' ? reasonOrSince : 0;
  const connection = { kind: 'tcp' as const, address: 'tcp://127.0.0.1:8332' };
  const ack = { handshake: HANDSHAKE };
  let phase: Phase;
  switch (name) {
    case 'Disconnected':
      phase = {
        name,
        generation,
        since,
        reason: typeof reasonOrSince === 'string' ? reasonOrSince : 'test',
      };
      break;
    case 'Connected':
      phase = { name, generation, since, connection };
      break;
    case 'Acknowledged':
      phase = { name, generation, since, connection, ack };
      break;
    case 'Synchronized':
      phase = {
        name,
        generation,
        since,
        connection,
        ack,
        sync: { clockSetTo: 0, storedBlocks: 0, trace: [] },
      };
      break;
  }
  return { phase, autoconnecting: true, version: 0 };
}

// ------------------------------------------------------------------- log

export { RecordingLog, type LogLine } from '../../fakes/recording-log.js';

// ------------------------------------------------------------- promises

/** Records how a promise settled, so a test can assert it settled (or not) by now. */
export function track<T>(promise: Promise<T>): {
  readonly settled: boolean;
  readonly value: T | undefined;
  readonly error: unknown;
} {
  const state = { settled: false, value: undefined as T | undefined, error: undefined as unknown };
  promise.then(
    (value) => {
      state.settled = true;
      state.value = value;
    },
    (error: unknown) => {
      state.settled = true;
      state.error = error;
    },
  );
  return state;
}
