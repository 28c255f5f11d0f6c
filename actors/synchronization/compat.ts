/**
 * Which controllers this build talks to: the protocol versions it supports,
 * and the check of a handshake against them and the configured device id.
 * Pure, so the rule is tested on its own and the actor only applies it.
 */
import type { Handshake } from '../../protocol/index.js';
import type { AckInfo } from '../../contracts/phase.js';

/**
 * `proto_version` values (git hashes of the protocol definition, lower case)
 * this build implements. `b1698b6e` is protocol version 1 as `protocol.md`
 * describes it, and the simulator's default.
 */
export const SUPPORTED_PROTO_VERSIONS: ReadonlySet<string> = new Set(['b1698b6e']);

export interface CompatPolicy {
  /** The configured `device.id`; '' accepts any controller. */
  deviceId: string;
  /** `synchronization.skipVersionCheck`: accept any proto_version (development only). */
  skipVersionCheck: boolean;
  supported?: ReadonlySet<string>;
}

/** The ack the kernel records for a handshake: the handshake itself, plus what is wrong with it, if anything. */
export function assessHandshake(handshake: Handshake, policy: CompatPolicy): AckInfo {
  const supported = policy.supported ?? SUPPORTED_PROTO_VERSIONS;
  const ack: AckInfo = { handshake };
  if (!policy.skipVersionCheck && !supported.has(handshake.protoVersion.toLowerCase())) {
    ack.firmwareError = 'INCOMPATIBLE';
  }
  // Device ids are hex; the protocol says to compare them case-insensitively.
  if (policy.deviceId !== '' && policy.deviceId.toLowerCase() !== handshake.deviceId.toLowerCase()) {
    ack.identityError = 'WRONG_DEVICE';
  }
  return ack;
}

/**
 * Whether two handshakes describe the same controller run. The controller
 * sends a handshake after every NONE or VERSION request (ours while waiting,
 * the watchdog's checks, a user's), so a repeat of the acknowledged one is an
 * echo, not news. One that differs (above all in reset_reason / reset_data,
 * which the controller sets on each boot) means the controller reset.
 */
export function sameHandshake(a: Handshake, b: Handshake): boolean {
  return (
    a.firmwareVersion.toLowerCase() === b.firmwareVersion.toLowerCase() &&
    a.protoVersion.toLowerCase() === b.protoVersion.toLowerCase() &&
    a.firmwareDate === b.firmwareDate &&
    a.protoDate === b.protoDate &&
    a.systemVersion === b.systemVersion &&
    a.platform === b.platform &&
    a.resetReason.toUpperCase() === b.resetReason.toUpperCase() &&
    a.resetData.toUpperCase() === b.resetData.toUpperCase() &&
    a.deviceId.toLowerCase() === b.deviceId.toLowerCase()
  );
}
