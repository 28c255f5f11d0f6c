/**
 * The MQTT link's settings from the configuration: the service's name in
 * the topics, the client id, the topics, and the CA file (read here, a
 * regular file of bounded size, never a device or a FIFO that would block).
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { TetherConfig } from '../../config/schema.js';
import { TOPIC_LEVEL, busTopics, type BusTopics } from '../../contracts/bus.js';
import { MqttSettingsError } from './errors.js';
import type { MqttLinkSettings } from './link.js';

/** A PEM bundle of a few CAs is kilobytes; anything near this is not one. */
export const MAX_CA_FILE_BYTES = 1024 * 1024;

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
    readCa: m.caFile === '' ? undefined : () => readCaFile(m.caFile),
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

/** The CA file's bytes; MqttSettingsError when it is not a readable regular file of at most 1 MiB. */
export async function readCaFile(path: string): Promise<Buffer> {
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new MqttSettingsError('caFile', `cannot open ${path}: ${(error as Error).message}`, error);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new MqttSettingsError('caFile', `${path} is not a regular file`);
    if (info.size > MAX_CA_FILE_BYTES) {
      throw new MqttSettingsError('caFile', `${path} is larger than ${MAX_CA_FILE_BYTES} bytes`);
    }
    const buffer = Buffer.alloc(info.size);
    const { bytesRead } = await handle.read(buffer, 0, info.size, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
