/**
 * The MQTT link's settings from the configuration: the service's name in
 * the topics, the client id, the topics, and the CA file (read by
 * config/files.ts through the service's one bounded reader: a regular file
 * of bounded size holding a PEM certificate, never a device or a FIFO that
 * would block).
 */
import { readCaFile } from '../../config/files.js';
import type { TetherConfig } from '../../config/schema.js';
import { TOPIC_LEVEL, busTopics, type BusTopics } from '../../contracts/bus.js';
import { MqttSettingsError } from './errors.js';
import type { MqttLinkSettings } from './link.js';

/** mqtt.service, or telemetry.serviceName made safe as one topic level. */
export function busServiceName(config: TetherConfig): string {
  if (config.mqtt.service !== '') return config.mqtt.service;
  // eslint-disable-next-line no-control-regex -- NUL is what MQTT forbids in a topic
  const name = config.telemetry.serviceName.replace(/[/+#\u0000]/g, '_').slice(0, 64);
  return TOPIC_LEVEL.test(name) ? name : 'tether';
}

export function busTopicsOf(config: TetherConfig): BusTopics {
  return busTopics(config.mqtt.prefix, busServiceName(config), config.lifecycle.group);
}

export function clientIdOf(config: TetherConfig): string {
  return config.mqtt.clientId !== '' ? config.mqtt.clientId : `tether-${busServiceName(config)}`;
}

export function linkSettings(config: TetherConfig): MqttLinkSettings {
  const m = config.mqtt;
  return {
    url: m.url,
    username: m.username,
    password: m.password,
    readCa: m.caFile === '' ? undefined : () => readCaFileOrFail(m.caFile),
    clientId: clientIdOf(config),
    prefix: m.prefix,
    topics: busTopicsOf(config),
    keepaliveMs: m.keepaliveMs,
    connectTimeoutMs: m.connectTimeoutMs,
    reconnect: { ...m.reconnect },
    minIntervalMs: m.minIntervalMs,
    publishIntervalMs: m.publishIntervalMs,
    brewcast: m.brewcast,
    maxPayloadBytes: m.maxPayloadBytes,
    token: config.http.token,
  };
}

/**
 * The CA file's bytes, read when the link starts with the configuration's
 * own bounded reader (checked at `tether run` already; this catches a file
 * removed or replaced since). MqttSettingsError when it cannot be used.
 */
export async function readCaFileOrFail(path: string): Promise<Buffer> {
  const ca = await readCaFile(path);
  if (ca.bytes !== undefined) return ca.bytes;
  throw new MqttSettingsError('caFile', ca.why, ca.cause);
}
