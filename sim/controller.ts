/**
 * The simulated controller: one device (identity, block store, reset state,
 * faults) shared by every connection to it, and one Session per connection
 * (a TCP socket or a serial port) that decodes requests and writes responses
 * and annotations in order.
 *
 * Behaviour follows protocol.md as the firmware does: a handshake on every
 * new connection and after every NONE/VERSION, exactly one response per
 * parseable request in order of arrival, no response to a request with a bad
 * CRC, and after a reset no answer to anything asked before it.
 */
import { randomBytes } from 'node:crypto';
import {
  RequestDecoder,
  checkRequestPayload,
  crc8,
  crcHex,
  encodeEvent,
  encodeLog,
  encodeResponse,
  isOpcode,
  type ControllerEvent,
  type ErrorCode,
  type JsonValue,
  type Opcode,
  type RequestFrame,
  type RequestPayload,
} from '../protocol/index.js';
import { EncodeError } from '../protocol/errors.js';
import { BlockStore, type StoreResult } from './block-store.js';
import {
  FAULT_RESET,
  REBOOT_RESET,
  SIM_DEFAULTS,
  SIM_NEXT_FIRMWARE,
  UPDATE_FAILED_RESET,
  SIM_FAULTS,
  SIM_IDENTITY,
  UPDATE_RESET,
  type FaultSettings,
  type SimIdentity,
} from './defaults.js';

/** Where a session's bytes go: a TCP socket or a serial port. */
export interface SessionPort {
  readonly kind: 'tcp' | 'serial';
  readonly name: string;
  write(bytes: Buffer): void;
  /** Ends the connection abruptly (TCP reset); a serial port has no connection to drop and ignores it. */
  drop(): void;
}

export interface ControllerOptions {
  identity?: Partial<SimIdentity>;
  faults?: Partial<FaultSettings>;
  capacity?: number;
  rebootDelayMs?: number;
  /** What the simulator does, one line each, for the CLI; default silent. */
  log?: (line: string) => void;
}

export interface ControllerStats {
  requests: number;
  responses: number;
  badFrames: number;
  resets: number;
}

type Reply = { error: ErrorCode; payload?: JsonValue };

export class SimController {
  readonly identity: SimIdentity;
  readonly settings: FaultSettings;
  readonly store: BlockStore;
  readonly stats: ControllerStats = { requests: 0, responses: 0, badFrames: 0, resets: 0 };
  readonly log: (line: string) => void;
  setupMode = false;
  /** The firmware a FIRMWARE_UPDATE installs (faults.nextFirmware). */
  nextFirmware: { firmwareVersion: string; firmwareDate: string } = { ...SIM_NEXT_FIRMWARE };
  /** A FIRMWARE_UPDATE fails: the controller resets with UPDATE_ERROR and keeps its firmware. */
  updateFails = false;
  resetReason = '00';
  resetData = '00';
  readonly #sessions = new Set<Session>();
  readonly #requestListeners = new Set<(request: RequestFrame) => void>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #rebootDelayMs: number;
  #closed = false;

  constructor(options: ControllerOptions = {}) {
    this.identity = { ...SIM_IDENTITY, ...options.identity };
    this.settings = { ...SIM_FAULTS, ...options.faults };
    this.#rebootDelayMs = options.rebootDelayMs ?? SIM_DEFAULTS.rebootDelayMs;
    this.log = options.log ?? (() => {});
    this.store = new BlockStore({
      capacity: options.capacity ?? SIM_DEFAULTS.capacity,
      sysInfo: () => ({
        deviceId: this.identity.deviceId,
        platform: this.identity.platform,
        firmwareVersion: this.identity.firmwareVersion,
        protoVersion: this.identity.protoVersion,
      }),
    });
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** A new connection: the controller greets it with a handshake (unless a fault says otherwise). */
  connect(port: SessionPort): Session {
    const session = new Session(this, port);
    this.#sessions.add(session);
    this.log(`${port.kind} connection ${port.name}`);
    session.greet();
    return session;
  }

  /** @internal Called by the session when its connection is gone. */
  forget(session: Session): void {
    this.#sessions.delete(session);
  }

  handshake(): ControllerEvent {
    const id = this.identity;
    return {
      type: 'handshake',
      handshake: { ...id, resetReason: this.resetReason, resetData: this.resetData },
    };
  }

  /** Tells a listener about every request frame that decoded, answered or not (tests wait on it). */
  onRequest(listener: (request: RequestFrame) => void): () => void {
    this.#requestListeners.add(listener);
    return () => this.#requestListeners.delete(listener);
  }

  /** @internal */
  observe(request: RequestFrame): void {
    this.stats.requests++;
    for (const listener of this.#requestListeners) {
      try {
        listener(request);
      } catch {
        // An observer's bug must not change what the controller answers.
      }
    }
  }

  // ------------------------------------------------------------- faults

  /**
   * The controller resets: TCP connections are reset, pending requests are
   * never answered, serial sessions get a new handshake with the reset reason.
   */
  reset(reason: string = FAULT_RESET.reason, data: string = FAULT_RESET.data): void {
    this.resetReason = reason.toUpperCase();
    this.resetData = data.toUpperCase();
    this.setupMode = false;
    this.store.reboot();
    this.stats.resets++;
    this.log(`reset (reason ${this.resetReason}, data ${this.resetData})`);
    for (const session of this.#sessions) session.rebooted();
  }

  drop(): void {
    this.log('dropping connections');
    for (const session of this.#sessions) session.port.drop();
  }

  noise(count: number): void {
    this.log(`line noise: ${count} bytes`);
    for (const session of this.#sessions) session.send(randomBytes(count));
  }

  enterSetupMode(drop: boolean, announce = true): void {
    this.setupMode = true;
    this.log(`entering setup (listening) mode${announce ? '' : ' without saying so'}`);
    if (announce) this.broadcast(encodeEvent({ type: 'setupMode' }));
    if (drop) this.drop();
  }

  leaveSetupMode(): void {
    this.setupMode = false;
    this.log('leaving setup mode');
  }

  broadcast(bytes: Buffer): void {
    for (const session of this.#sessions) session.send(bytes);
  }

  /** A timer owned by the controller, cleared by close(). */
  later(ms: number, action: () => void): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      action();
    }, ms);
    this.#timers.add(timer);
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const session of this.#sessions) session.close();
    this.#sessions.clear();
    this.#requestListeners.clear();
  }

  // ----------------------------------------------------------- requests

  /** One request to its reply, plus what the controller does after sending it. */
  execute(request: RequestFrame): { reply: Reply; handshake: boolean; after?: () => void } {
    const { opcode } = request;
    if (!isOpcode(opcode)) return { reply: { error: 'INVALID_OPCODE' }, handshake: false };
    const checked = checkRequestPayload(opcode, request.payload);
    if (!checked.ok) return { reply: { error: 'INVALID_PAYLOAD' }, handshake: false };
    return this.#dispatch(opcode, checked.value);
  }

  #dispatch<O extends Opcode>(
    opcode: O,
    payload: RequestPayload<O>,
  ): { reply: Reply; handshake: boolean; after?: () => void } {
    const store = this.store;
    const p = payload as RequestPayload<Opcode>;
    switch (opcode) {
      case 'NONE':
        return { reply: { error: 'OK' }, handshake: true };
      case 'VERSION': {
        const { firmwareVersion, protoVersion, deviceId } = this.identity;
        const payload = {
          firmware_version: firmwareVersion,
          proto_version: protoVersion,
          device_id: deviceId,
        };
        return { reply: { error: 'OK', payload }, handshake: true };
      }
      case 'BLOCK_READ':
        return { reply: fromStore(store.read((p as RequestPayload<'BLOCK_READ'>).id)), handshake: false };
      case 'BLOCK_WRITE':
        return { reply: fromStore(store.write(p as RequestPayload<'BLOCK_WRITE'>)), handshake: false };
      case 'BLOCK_CREATE':
        return { reply: fromStore(store.create(p as RequestPayload<'BLOCK_CREATE'>)), handshake: false };
      case 'BLOCK_DELETE':
        return { reply: fromStore(store.delete((p as RequestPayload<'BLOCK_DELETE'>).id)), handshake: false };
      case 'BLOCK_LIST':
        return { reply: { error: 'OK', payload: store.list() as unknown as JsonValue }, handshake: false };
      case 'BLOCK_CLEAR':
        store.clear();
        return { reply: { error: 'OK' }, handshake: false };
      case 'REBOOT':
        return {
          reply: { error: 'OK' },
          handshake: false,
          after: () =>
            this.later(this.#rebootDelayMs, () => this.reset(REBOOT_RESET.reason, REBOOT_RESET.data)),
        };
      case 'FIRMWARE_UPDATE':
        return {
          reply: { error: 'OK' },
          handshake: false,
          after: () => {
            // The updater announces what it installs; the controller comes back running it (or, when
            // the update fails, the old firmware with UPDATE_ERROR).
            const target = { ...this.nextFirmware };
            const { protoVersion } = this.identity;
            this.broadcast(
              encodeEvent({ type: 'firmwareUpdater', firmwareVersion: target.firmwareVersion, protoVersion }),
            );
            this.log(`firmware updater: installing ${target.firmwareVersion}`);
            this.later(this.#rebootDelayMs, () => {
              if (this.updateFails) {
                this.reset(UPDATE_FAILED_RESET.reason, UPDATE_FAILED_RESET.data);
                return;
              }
              this.identity.firmwareVersion = target.firmwareVersion;
              this.identity.firmwareDate = target.firmwareDate;
              this.reset(UPDATE_RESET.reason, UPDATE_RESET.data);
            });
          },
        };
    }
    return { reply: { error: 'INVALID_OPCODE' }, handshake: false };
  }
}

function fromStore<T>(result: StoreResult<T>): Reply {
  if (result.error !== 'OK') return { error: result.error };
  return result.payload === undefined
    ? { error: 'OK' }
    : { error: 'OK', payload: result.payload as unknown as JsonValue };
}

function isBlockReply(reply: Reply): reply is { error: 'OK'; payload: { data: JsonValue } } {
  const payload = reply.payload;
  return (
    reply.error === 'OK' &&
    typeof payload === 'object' &&
    payload !== null &&
    !Array.isArray(payload) &&
    typeof payload.data === 'object' &&
    payload.data !== null
  );
}

/**
 * A block answer whose `data.nested` is an array nested `depth` deep, framed
 * by hand: the encoder refuses a frame past the codec's nesting bound, and a
 * hostile controller is exactly what sends one.
 */
function nestedFrame(msgId: number, block: { data: JsonValue }, depth: number): Buffer {
  const mark = '@@nested@@';
  const data = { ...(block.data as Record<string, JsonValue>), nested: mark };
  const json = JSON.stringify({ msgId, error: 'OK', payload: { ...block, data } }).replace(
    JSON.stringify(mark),
    '['.repeat(depth) + ']'.repeat(depth),
  );
  const line = Buffer.from(json, 'utf8');
  return Buffer.concat([line, Buffer.from(`#${crcHex(crc8(line))}\n`, 'latin1')]);
}

interface Pending {
  due: number;
  bytes: Buffer;
  after: (() => void) | undefined;
}

/** One connection to the controller. */
export class Session {
  readonly port: SessionPort;
  readonly #controller: SimController;
  readonly #decoder: RequestDecoder;
  /** Responses not yet sent (slow-response fault), in order; bounded. */
  #pending: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  #handshakeTimer: NodeJS.Timeout | undefined;
  #lineTag = 0;
  #closed = false;

  constructor(controller: SimController, port: SessionPort) {
    this.#controller = controller;
    this.port = port;
    this.#decoder = new RequestDecoder((out) => {
      if (out.kind === 'frame') this.#request(out.frame);
      else if (out.kind === 'error') {
        // A request with a bad CRC gets no response at all: its msgId cannot be trusted.
        controller.stats.badFrames++;
        controller.log(`bad request (${out.error}: ${out.reason})`);
      }
    });
  }

  receive(chunk: Uint8Array): void {
    if (!this.#closed) this.#decoder.push(chunk);
  }

  /** Sends raw bytes unless the device is "unplugged". */
  send(bytes: Buffer): void {
    if (this.#closed || this.#controller.settings.silent) return;
    this.port.write(bytes);
  }

  /** The handshake a new connection (or a rebooted serial device) gets, unless only NONE brings it. */
  greet(): void {
    const settings = this.#controller.settings;
    if (settings.handshakeOnlyAfterNone) return;
    const sendIt = (): void => {
      this.send(encodeEvent(this.#controller.handshake()));
      if (this.#controller.settings.setupModeOnConnect) this.send(encodeEvent({ type: 'setupMode' }));
    };
    clearTimeout(this.#handshakeTimer);
    if (settings.handshakeDelayMs <= 0) sendIt();
    else this.#handshakeTimer = setTimeout(sendIt, settings.handshakeDelayMs);
  }

  /** The controller reset: forget every pending answer; TCP drops, serial stays open and greets again. */
  rebooted(): void {
    this.#cancelPending();
    this.#decoder.reset();
    if (this.port.kind === 'tcp') this.port.drop();
    else this.greet();
  }

  close(): void {
    this.#closed = true;
    this.#cancelPending();
    clearTimeout(this.#handshakeTimer);
    this.#controller.forget(this);
  }

  #request(request: RequestFrame): void {
    const controller = this.#controller;
    controller.observe(request);
    // Unplugged or in listening mode, the request is simply never answered.
    if (controller.settings.silent || controller.setupMode) return;
    if (controller.settings.busyOpcodes.includes(request.opcode)) {
      this.#enqueue(this.#annotate(encodeResponse({ msgId: request.msgId, error: 'BUSY' })), undefined);
      return;
    }
    const { reply, handshake, after } = controller.execute(request);
    const depth = controller.settings.nestedPayloadDepth;
    let bytes = this.#annotate(
      depth > 0 && isBlockReply(reply)
        ? nestedFrame(request.msgId, reply.payload, depth)
        : this.#encode(request.msgId, reply),
    );
    if (handshake) bytes = Buffer.concat([bytes, encodeEvent(controller.handshake())]);
    this.#enqueue(bytes, after);
  }

  /**
   * The response's frame. One that cannot be one line (a BLOCK_LIST of many
   * blocks passes the 8192-byte bound) is answered UNKNOWN_ERROR, as firmware
   * that cannot build an answer does, rather than thrown out of the
   * decoder's callback (which would end the process hosting the simulator).
   */
  #encode(msgId: number, reply: Reply): Buffer {
    try {
      return encodeResponse({ msgId, ...reply });
    } catch (error) {
      if (!(error instanceof EncodeError)) throw error;
      this.#controller.log(`response to msgId ${msgId} cannot be sent (${error.message}): UNKNOWN_ERROR`);
      return encodeResponse({ msgId, error: 'UNKNOWN_ERROR' });
    }
  }

  /** The annotate-lines fault: a log annotation at a random point inside the data line. */
  #annotate(frame: Buffer): Buffer {
    if (!this.#controller.settings.annotateLines) return frame;
    const at = Math.floor(Math.random() * frame.length); // before the final `\n` at most
    const note = encodeLog('DEBUG', `sim line ${++this.#lineTag}`);
    return Buffer.concat([frame.subarray(0, at), note, frame.subarray(at)]);
  }

  #enqueue(bytes: Buffer, after: (() => void) | undefined): void {
    const delay = this.#controller.settings.responseDelayMs;
    if (delay <= 0 && this.#pending.length === 0) {
      this.#deliver(bytes, after);
      return;
    }
    if (this.#pending.length >= SIM_DEFAULTS.maxPendingResponses) {
      this.#controller.log('response queue full: request dropped (BUSY controllers lose requests too)');
      return;
    }
    this.#pending.push({ due: performance.now() + delay, bytes, after });
    if (this.#timer === undefined) this.#arm();
  }

  #arm(): void {
    const head = this.#pending[0];
    if (head === undefined) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        const now = performance.now();
        while (this.#pending[0] !== undefined && this.#pending[0].due <= now + 1) {
          const next = this.#pending.shift()!;
          this.#deliver(next.bytes, next.after);
        }
        this.#arm();
      },
      Math.max(0, head.due - performance.now()),
    );
  }

  #deliver(bytes: Buffer, after: (() => void) | undefined): void {
    this.#controller.stats.responses++;
    this.send(bytes);
    after?.();
  }

  #cancelPending(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = [];
  }
}
