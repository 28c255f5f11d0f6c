/**
 * Fault injection: the misbehaviour of real controllers (protocol.md
 * section 6) on demand, from tests (`simulator.faults`) and from the command
 * line (`control.ts`). Settings stay on until changed; actions happen once.
 */
import {
  encodeAnnotation,
  encodeEvent,
  encodeLog,
  encodeResponse,
  type JsonValue,
  type LogLevel,
} from '../protocol/index.js';
import type { SimController } from './controller.js';
import type { FaultSettings } from './defaults.js';

export class Faults {
  readonly #controller: SimController;

  constructor(controller: SimController) {
    this.#controller = controller;
  }

  /** The settings now in force (a copy). */
  get settings(): FaultSettings {
    return { ...this.#controller.settings };
  }

  // ------------------------------------------------------------ settings

  /** USB unplugged: writes are accepted, nothing is ever answered or sent. */
  get silent(): boolean {
    return this.#controller.settings.silent;
  }
  set silent(on: boolean) {
    this.#controller.settings.silent = on;
    this.#controller.log(`silent ${on ? 'on' : 'off'}`);
  }

  /** Slow responses: each answer waits this long (order is kept). */
  get responseDelayMs(): number {
    return this.#controller.settings.responseDelayMs;
  }
  set responseDelayMs(ms: number) {
    this.#controller.settings.responseDelayMs = Math.max(0, ms);
    this.#controller.log(`response delay ${ms} ms`);
  }

  /** The handshake comes only after a NONE (or VERSION), not on connect. */
  get handshakeOnlyAfterNone(): boolean {
    return this.#controller.settings.handshakeOnlyAfterNone;
  }
  set handshakeOnlyAfterNone(on: boolean) {
    this.#controller.settings.handshakeOnlyAfterNone = on;
  }

  /** A late handshake on connect (the controller is busy starting up). */
  get handshakeDelayMs(): number {
    return this.#controller.settings.handshakeDelayMs;
  }
  set handshakeDelayMs(ms: number) {
    this.#controller.settings.handshakeDelayMs = Math.max(0, ms);
  }

  /** Log annotations injected inside every response's data line. */
  get annotateLines(): boolean {
    return this.#controller.settings.annotateLines;
  }
  set annotateLines(on: boolean) {
    this.#controller.settings.annotateLines = on;
  }

  /** Requests with these opcodes are answered `BUSY` (e.g. `['BLOCK_WRITE']` fails every sync). */
  get busyOpcodes(): readonly string[] {
    return [...this.#controller.settings.busyOpcodes];
  }
  set busyOpcodes(opcodes: readonly string[]) {
    this.#controller.settings.busyOpcodes = [...opcodes];
    this.#controller.log(`BUSY to ${opcodes.length === 0 ? 'nothing' : opcodes.join(', ')}`);
  }

  /** `<!SETUP_MODE>` right after the handshake of every new connection. */
  get setupModeOnConnect(): boolean {
    return this.#controller.settings.setupModeOnConnect;
  }
  set setupModeOnConnect(on: boolean) {
    this.#controller.settings.setupModeOnConnect = on;
  }

  /** Block answers carry `data.nested`, an array nested this deep (0: off). */
  get nestedPayloadDepth(): number {
    return this.#controller.settings.nestedPayloadDepth;
  }
  set nestedPayloadDepth(depth: number) {
    this.#controller.settings.nestedPayloadDepth = Math.max(0, Math.floor(depth));
  }

  /** Incompatible firmware: the proto_version of later handshakes and VERSION answers. */
  get protoVersion(): string {
    return this.#controller.identity.protoVersion;
  }
  set protoVersion(value: string) {
    this.#controller.identity.protoVersion = value;
    this.#controller.log(`proto_version ${value}`);
  }

  /** Wrong device: the device id of later handshakes. */
  get deviceId(): string {
    return this.#controller.identity.deviceId;
  }
  set deviceId(value: string) {
    this.#controller.identity.deviceId = value;
    this.#controller.log(`device id ${value}`);
  }

  /** What the next FIRMWARE_UPDATE installs: the controller comes back with this version (and date). */
  get nextFirmware(): { firmwareVersion: string; firmwareDate: string } {
    return { ...this.#controller.nextFirmware };
  }
  set nextFirmware(value: { firmwareVersion: string; firmwareDate?: string }) {
    this.#controller.nextFirmware = {
      firmwareVersion: value.firmwareVersion,
      firmwareDate: value.firmwareDate ?? this.#controller.nextFirmware.firmwareDate,
    };
    this.#controller.log(`next firmware ${value.firmwareVersion}`);
  }

  /** Firmware updates fail: the controller resets with UPDATE_ERROR and keeps the firmware it had. */
  get updateFails(): boolean {
    return this.#controller.updateFails;
  }
  set updateFails(on: boolean) {
    this.#controller.updateFails = on;
  }

  /** The firmware version the controller runs (its handshakes and VERSION answers). */
  get firmwareVersion(): string {
    return this.#controller.identity.firmwareVersion;
  }

  get setupMode(): boolean {
    return this.#controller.setupMode;
  }

  // ------------------------------------------------------------- actions

  /** Drops every TCP connection with a reset; serial ports stay (a cable has no connection to drop). */
  drop(): void {
    this.#controller.drop();
  }

  /**
   * The controller resets (watchdog by default): TCP connections are reset,
   * serial gets a new handshake with this reason, nothing pending is answered.
   * `reason` and `data` are the handshake's two hex digits.
   */
  reset(reason?: string, data?: string): void {
    this.#controller.reset(reason, data);
  }

  /** Line noise: `count` random bytes to every connection. */
  noise(count: number): void {
    this.#controller.noise(Math.max(0, Math.floor(count)));
  }

  /**
   * Listening mode: `<!SETUP_MODE>` (unless `announce` is false), then no
   * answers until leaveSetupMode(); new connections are still greeted with a
   * handshake. Optionally drops connections.
   */
  enterSetupMode(options: { drop?: boolean; announce?: boolean } = {}): void {
    this.#controller.enterSetupMode(options.drop ?? false, options.announce ?? true);
  }

  leaveSetupMode(): void {
    this.#controller.leaveSetupMode();
  }

  /** A handshake now, to every connection (as after NONE). */
  handshake(): void {
    this.#controller.broadcast(encodeEvent(this.#controller.handshake()));
  }

  /** A firmware log line, between data lines. */
  log(level: LogLevel, text: string): void {
    this.#controller.broadcast(encodeLog(level, text));
  }

  /** `<!CBOXERROR,hh>`. */
  cboxError(code: number): void {
    this.#controller.broadcast(encodeEvent({ type: 'cboxError', code }));
  }

  /** A response nobody asked for (or a late one), to every connection. */
  respond(msgId: number, error = 'OK', payload?: JsonValue): void {
    this.#controller.broadcast(
      encodeResponse({ msgId, error, ...(payload === undefined ? {} : { payload }) }),
    );
  }

  /** Any annotation text, e.g. an unknown event `!FOO` or a malformed handshake. */
  annotation(text: string): void {
    this.#controller.broadcast(encodeAnnotation(text));
  }
}
