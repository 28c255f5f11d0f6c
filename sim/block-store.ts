/**
 * The simulated controller's block store: user blocks in memory, system
 * blocks 2 (SysInfo, with the trace) and 3 (Ticks, the clock), and the
 * controller's answers as error codes. It outlives connections and resets,
 * as the controller's flash does; the clock and boot time do not.
 */
import {
  MAX_SYSTEM_BLOCK_ID,
  MAX_TRACE_ENTRIES,
  SYSINFO_BLOCK_ID,
  TICKS_BLOCK_ID,
  TRACE_READ_RESUME,
  isJsonObject,
  type Block,
  type ErrorCode,
  type JsonObject,
  type NewBlock,
  type TraceEntry,
} from '../protocol/index.js';

export type StoreResult<T> = { error: 'OK'; payload: T } | { error: Exclude<ErrorCode, 'OK'> };

export interface SysInfo {
  deviceId: string;
  platform: string;
  firmwareVersion: string;
  protoVersion: string;
}

export interface BlockStoreOptions {
  /** Most user blocks the store holds before INSUFFICIENT_STORAGE; default 200. */
  capacity?: number;
  /** What SysInfo reports; read on every access so identity faults show up at once. */
  sysInfo: () => SysInfo;
  /** Monotonic milliseconds; injectable for tests. */
  now?: () => number;
}

const FIRST_USER_ID = MAX_SYSTEM_BLOCK_ID + 1;
const SYSTEM_TYPES: ReadonlyMap<number, string> = new Map([
  [SYSINFO_BLOCK_ID, 'SysInfo'],
  [TICKS_BLOCK_ID, 'Ticks'],
]);

export class BlockStore {
  readonly #blocks = new Map<number, Block>();
  readonly #capacity: number;
  readonly #sysInfo: () => SysInfo;
  readonly #now: () => number;
  #bootedAt: number;
  /** Seconds since epoch at `#clockSetAt`, or undefined until someone sets the clock. */
  #clock: { seconds: number; setAt: number } | undefined;
  /** Bounded: only the last MAX_TRACE_ENTRIES calls are kept, like the firmware's ring. */
  #trace: TraceEntry[] = [];
  #tracing = true;

  constructor(options: BlockStoreOptions) {
    this.#capacity = options.capacity ?? 200;
    this.#sysInfo = options.sysInfo;
    this.#now = options.now ?? (() => performance.now());
    this.#bootedAt = this.#now();
  }

  /** A reset: the clock is lost and tracing pauses (so the trace before the reset can be read). */
  reboot(): void {
    this.#bootedAt = this.#now();
    this.#clock = undefined;
    this.#tracing = false;
  }

  get userBlockCount(): number {
    return this.#blocks.size;
  }

  read(id: number): StoreResult<Block> {
    const system = this.#system(id);
    if (system !== undefined) return { error: 'OK', payload: system };
    const block = this.#blocks.get(id);
    return block === undefined ? { error: 'BLOCK_NOT_FOUND' } : { error: 'OK', payload: clone(block) };
  }

  write(block: Block): StoreResult<Block> {
    const systemType = SYSTEM_TYPES.get(block.id);
    if (systemType !== undefined) {
      if (block.type !== systemType) return { error: 'INVALID_BLOCK_TYPE' };
      return block.id === SYSINFO_BLOCK_ID ? this.#writeSysInfo(block.data) : this.#writeTicks(block.data);
    }
    const existing = this.#blocks.get(block.id);
    if (existing === undefined) return { error: 'BLOCK_NOT_FOUND' };
    if (existing.type !== block.type) return { error: 'INVALID_BLOCK_TYPE' };
    const stored = clone(block);
    this.#blocks.set(block.id, stored);
    this.#record('BLOCK_WRITE', stored);
    return { error: 'OK', payload: clone(stored) };
  }

  create(block: NewBlock): StoreResult<Block> {
    if (block.id !== undefined && (block.id <= MAX_SYSTEM_BLOCK_ID || this.#blocks.has(block.id))) {
      return { error: 'INVALID_BLOCK_ID' };
    }
    if ([...SYSTEM_TYPES.values()].includes(block.type)) return { error: 'INVALID_BLOCK_TYPE' };
    if (this.#blocks.size >= this.#capacity) return { error: 'INSUFFICIENT_STORAGE' };
    const id = block.id ?? this.#freeId();
    if (id === undefined) return { error: 'INSUFFICIENT_STORAGE' };
    const stored: Block = { id, type: block.type, data: clone(block.data) };
    this.#blocks.set(id, stored);
    this.#record('BLOCK_CREATE', stored);
    return { error: 'OK', payload: clone(stored) };
  }

  delete(id: number): StoreResult<undefined> {
    if (id <= MAX_SYSTEM_BLOCK_ID) return { error: 'INVALID_BLOCK_ID' };
    const existing = this.#blocks.get(id);
    if (existing === undefined) return { error: 'BLOCK_NOT_FOUND' };
    this.#blocks.delete(id);
    this.#record('BLOCK_DELETE', existing);
    return { error: 'OK', payload: undefined };
  }

  list(): Block[] {
    const system = [...SYSTEM_TYPES.keys()].flatMap((id) => {
      const block = this.#system(id);
      return block === undefined ? [] : [block];
    });
    return [...system, ...[...this.#blocks.values()].sort((a, b) => a.id - b.id).map(clone)];
  }

  clear(): void {
    for (const block of this.#blocks.values()) this.#record('BLOCK_DELETE', block);
    this.#blocks.clear();
  }

  // ------------------------------------------------------------ system

  #system(id: number): Block | undefined {
    if (id === SYSINFO_BLOCK_ID) return { id, type: 'SysInfo', data: { ...this.#sysInfo() } };
    if (id === TICKS_BLOCK_ID) return { id, type: 'Ticks', data: this.#ticks() };
    return undefined;
  }

  #ticks(): JsonObject {
    const now = this.#now();
    const clock = this.#clock;
    const secondsSinceEpoch =
      clock === undefined ? 0 : Math.floor(clock.seconds + (now - clock.setAt) / 1000);
    return { secondsSinceEpoch, millisSinceBoot: Math.floor(now - this.#bootedAt) };
  }

  #writeSysInfo(data: JsonObject): StoreResult<Block> {
    const block: Block = { id: SYSINFO_BLOCK_ID, type: 'SysInfo', data: { ...this.#sysInfo() } };
    if (data.command === TRACE_READ_RESUME) {
      block.data.trace = this.#trace.map((entry) => ({ ...entry }));
      this.#trace = [];
      this.#tracing = true;
    } else if (data.command !== undefined) {
      return { error: 'INVALID_PAYLOAD' };
    }
    return { error: 'OK', payload: block };
  }

  #writeTicks(data: JsonObject): StoreResult<Block> {
    const seconds = data.secondsSinceEpoch;
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0)
      return { error: 'INVALID_PAYLOAD' };
    this.#clock = { seconds, setAt: this.#now() };
    return { error: 'OK', payload: { id: TICKS_BLOCK_ID, type: 'Ticks', data: this.#ticks() } };
  }

  #record(action: string, block: Block): void {
    if (!this.#tracing) return;
    this.#trace.push({ action, id: block.id, type: block.type });
    if (this.#trace.length > MAX_TRACE_ENTRIES) this.#trace.shift();
  }

  #freeId(): number | undefined {
    for (let id = FIRST_USER_ID; id <= 65535; id++) if (!this.#blocks.has(id)) return id;
    return undefined;
  }
}

function clone<T>(value: T): T {
  return isJsonObject(value) || Array.isArray(value) ? (structuredClone(value) as T) : value;
}
