/**
 * The simulator's text control: one command per line, for stdin of
 * `tether sim` (and anything else that wants to drive faults by hand).
 * Every line gets one reply line; a bad line gets an error reply, never an
 * exception.
 */
import {
  LOG_LEVELS,
  RESET_DATA,
  RESET_REASONS,
  isMsgId,
  isOpcode,
  type LogLevel,
} from '../protocol/index.js';
import type { Simulator } from './simulator.js';

export const CONTROL_HELP = `commands (one per line):
  silent on|off              USB unplugged: accept requests, answer nothing
  drop                       drop every TCP connection (reset)
  reset [REASON [DATA]]      controller reset, e.g. "reset WATCHDOG" or "reset 3C 01"
  noise N                    N bytes of line noise
  slow MS                    delay every response by MS (0: off)
  setup-mode [drop] [quiet]  enter listening mode (no answers), optionally dropping connections; quiet: no <!SETUP_MODE>
  leave-setup-mode           answer requests again
  handshake-after-none on|off  handshake only after a NONE request
  handshake-delay MS         late handshake on connect
  annotate on|off            log annotations inside data lines
  busy OPCODE...|off         answer BUSY to these opcodes (e.g. "busy BLOCK_WRITE")
  setup-mode-on-connect on|off  <!SETUP_MODE> after every new connection's handshake
  nested-payload N           block answers carry data nested N deep (0: off)
  respond MSGID [ERROR]      a response nobody asked for
  proto-version HEX          handshake proto_version (incompatible firmware)
  device-id HEX              handshake device id (wrong device)
  next-firmware HEX          the firmware version a FIRMWARE_UPDATE installs
  update-fails on|off        firmware updates fail (UPDATE_ERROR, the old firmware stays)
  handshake                  send a handshake now
  log LEVEL TEXT             a firmware log annotation (DEBUG, INFO, WARN, ERROR)
  cbox-error HH              <!CBOXERROR,HH>
  annotation TEXT            any annotation text, e.g. "!FOO,1"
  status                     settings and counters
  help                       this text`;

const ON_OFF: Record<string, boolean> = {
  on: true,
  off: false,
  true: true,
  false: false,
  '1': true,
  '0': false,
};

export function applyControlLine(sim: Simulator, line: string): string {
  const words = line.trim().split(/\s+/);
  const [command = '', ...args] = words;
  const f = sim.faults;
  try {
    switch (command.toLowerCase()) {
      case '':
        return '';
      case 'help':
        return CONTROL_HELP;
      case 'status':
        return JSON.stringify({
          ...f.settings,
          protoVersion: f.protoVersion,
          deviceId: f.deviceId,
          setupMode: f.setupMode,
          connections: sim.connections,
          ...sim.stats,
        });
      case 'silent':
        f.silent = onOff(args[0]);
        return 'ok';
      case 'drop':
        f.drop();
        return 'ok';
      case 'reset':
        f.reset(resetCode(args[0] ?? '3C', RESET_REASONS), resetCode(args[1] ?? '01', RESET_DATA));
        return 'ok';
      case 'noise':
        f.noise(count(args[0]));
        return 'ok';
      case 'slow':
        f.responseDelayMs = count(args[0]);
        return 'ok';
      case 'setup-mode':
        f.enterSetupMode({ drop: args.includes('drop'), announce: !args.includes('quiet') });
        return 'ok';
      case 'leave-setup-mode':
        f.leaveSetupMode();
        return 'ok';
      case 'handshake-after-none':
        f.handshakeOnlyAfterNone = onOff(args[0]);
        return 'ok';
      case 'handshake-delay':
        f.handshakeDelayMs = count(args[0]);
        return 'ok';
      case 'annotate':
        f.annotateLines = onOff(args[0]);
        return 'ok';
      case 'busy':
        f.busyOpcodes = args.length === 1 && args[0]?.toLowerCase() === 'off' ? [] : opcodes(args);
        return 'ok';
      case 'setup-mode-on-connect':
        f.setupModeOnConnect = onOff(args[0]);
        return 'ok';
      case 'nested-payload':
        f.nestedPayloadDepth = count(args[0]);
        return 'ok';
      case 'respond':
        f.respond(msgId(args[0]), args[1] ?? 'OK');
        return 'ok';
      case 'proto-version':
        f.protoVersion = field(args[0]);
        return 'ok';
      case 'device-id':
        f.deviceId = field(args[0]);
        return 'ok';
      case 'next-firmware':
        f.nextFirmware = { firmwareVersion: field(args[0]) };
        return 'ok';
      case 'update-fails':
        f.updateFails = onOff(args[0]);
        return 'ok';
      case 'handshake':
        f.handshake();
        return 'ok';
      case 'log':
        f.log(level(args[0]), args.slice(1).join(' '));
        return 'ok';
      case 'cbox-error':
        f.cboxError(parseInt(hex2(args[0]), 16));
        return 'ok';
      case 'annotation':
        f.annotation(args.join(' '));
        return 'ok';
      default:
        return `error: unknown command "${command}" (try "help")`;
    }
  } catch (error) {
    return `error: ${error instanceof Error ? error.message : String(error)}`;
  }
}

function onOff(word: string | undefined): boolean {
  const value = ON_OFF[(word ?? '').toLowerCase()];
  if (value === undefined) throw new Error(`expected on or off, got "${word ?? ''}"`);
  return value;
}

function count(word: string | undefined): number {
  const n = Number(word);
  if (!Number.isInteger(n) || n < 0) throw new Error(`expected a non-negative integer, got "${word ?? ''}"`);
  return n;
}

function opcodes(words: string[]): string[] {
  const upper = words.map((w) => w.toUpperCase());
  const bad = upper.find((w) => !isOpcode(w));
  if (upper.length === 0 || bad !== undefined) throw new Error(`expected opcodes or off, got "${bad ?? ''}"`);
  return upper;
}

function msgId(word: string | undefined): number {
  const n = Number(word);
  if (!isMsgId(n)) throw new Error(`expected a msgId 1..65535, got "${word ?? ''}"`);
  return n;
}

function hex2(word: string | undefined): string {
  if (word === undefined || !/^[0-9a-fA-F]{2}$/.test(word))
    throw new Error(`expected 2 hex digits, got "${word ?? ''}"`);
  return word.toUpperCase();
}

/** Two hex digits, or a name from the handshake's table (WATCHDOG, CBOX_RESET, ...). */
function resetCode(word: string, table: Record<string, string>): string {
  const byName = Object.entries(table).find(([, name]) => name === word.toUpperCase());
  return byName !== undefined ? byName[0] : hex2(word);
}

function level(word: string | undefined): LogLevel {
  const found = LOG_LEVELS.find((l) => l === (word ?? '').toUpperCase());
  if (found === undefined) throw new Error(`expected one of ${LOG_LEVELS.join(', ')}`);
  return found;
}

/** Handshake fields may not hold the separator or annotation delimiters. */
function field(word: string | undefined): string {
  if (word === undefined || word === '' || /[,<>]/.test(word))
    throw new Error('expected a value without , < or >');
  return word;
}
