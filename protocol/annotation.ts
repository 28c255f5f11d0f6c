/**
 * Annotations (`<...>`) in both directions: the text between the brackets
 * becomes a log line or an event, and events become text again for the
 * simulator. Pure functions over strings; the decoder has already removed the
 * brackets and bounded the length.
 */
import type { ControllerEvent, Handshake, LogLevel } from './model.js';

export type Annotation =
  | { kind: 'log'; level: LogLevel; text: string }
  | { kind: 'event'; event: ControllerEvent }
  | { kind: 'badEvent'; reason: string };

const HANDSHAKE_FIELDS = 10;
const HEX2 = /^[0-9a-fA-F]{2}$/;

export function parseAnnotation(text: string): Annotation {
  if (text.startsWith('!')) return parseEvent(text.slice(1));
  const colon = text.indexOf(':');
  if (colon > 0) {
    const level = text.slice(0, colon);
    if (level === 'DEBUG' || level === 'INFO' || level === 'WARN' || level === 'ERROR') {
      return { kind: 'log', level, text: text.slice(colon + 1) };
    }
  }
  // The spec: an annotation without a known LEVEL is logged as INFO, whole.
  return { kind: 'log', level: 'INFO', text };
}

function parseEvent(body: string): Annotation {
  const fields = body.split(',');
  const name = fields[0];
  switch (name) {
    case 'SPARK':
      return parseHandshake(fields);
    case 'SETUP_MODE':
      return { kind: 'event', event: { type: 'setupMode' } };
    case 'CBOXERROR': {
      const code = fields[1];
      if (fields.length !== 2 || code === undefined || !HEX2.test(code)) {
        return { kind: 'badEvent', reason: 'CBOXERROR needs one field of 2 hex digits' };
      }
      return { kind: 'event', event: { type: 'cboxError', code: parseInt(code, 16) } };
    }
    case 'FIRMWARE_UPDATER': {
      const [, firmwareVersion, protoVersion] = fields;
      if (fields.length !== 3 || firmwareVersion === undefined || protoVersion === undefined) {
        return { kind: 'badEvent', reason: 'FIRMWARE_UPDATER needs 2 fields' };
      }
      return { kind: 'event', event: { type: 'firmwareUpdater', firmwareVersion, protoVersion } };
    }
    default:
      return { kind: 'event', event: { type: 'unknown', text: body } };
  }
}

/**
 * Strict on the field count (the spec makes a wrong count a bad frame) and on
 * the reset fields (they are looked up in tables), lenient on the rest: a
 * controller with an odd version string should still be named in the log as
 * incompatible rather than vanish as noise.
 */
function parseHandshake(fields: string[]): Annotation {
  if (fields.length !== HANDSHAKE_FIELDS) {
    return { kind: 'badEvent', reason: `handshake has ${fields.length - 1} fields, expected 9` };
  }
  const [
    ,
    firmwareVersion = '',
    protoVersion = '',
    firmwareDate = '',
    protoDate = '',
    systemVersion = '',
    platform = '',
    resetReason = '',
    resetData = '',
    deviceId = '',
  ] = fields;
  if (!HEX2.test(resetReason) || !HEX2.test(resetData)) {
    return { kind: 'badEvent', reason: 'handshake reset_reason and reset_data must be 2 hex digits' };
  }
  const handshake: Handshake = {
    firmwareVersion,
    protoVersion,
    firmwareDate,
    protoDate,
    systemVersion,
    platform,
    resetReason: resetReason.toUpperCase(),
    resetData: resetData.toUpperCase(),
    deviceId,
  };
  return { kind: 'event', event: { type: 'handshake', handshake } };
}

/** The annotation text (without brackets) of an event; inverse of parseAnnotation for events. */
export function formatEvent(event: ControllerEvent): string {
  switch (event.type) {
    case 'handshake': {
      const h = event.handshake;
      return [
        '!SPARK',
        h.firmwareVersion,
        h.protoVersion,
        h.firmwareDate,
        h.protoDate,
        h.systemVersion,
        h.platform,
        h.resetReason,
        h.resetData,
        h.deviceId,
      ].join(',');
    }
    case 'setupMode':
      return '!SETUP_MODE';
    case 'cboxError':
      return `!CBOXERROR,${(event.code & 0xff).toString(16).toUpperCase().padStart(2, '0')}`;
    case 'firmwareUpdater':
      return `!FIRMWARE_UPDATER,${event.firmwareVersion},${event.protoVersion}`;
    case 'unknown':
      return `!${event.text}`;
  }
}

/** The annotation text of a log line. */
export function formatLog(level: LogLevel, text: string): string {
  return `${level}:${text}`;
}
