/**
 * The MQTT actor's own errors: what it answers on a response topic before a
 * request reaches the kernel. Everything past that point answers with the
 * kernel's errors, the same as over HTTP.
 */
import { TetherError, registerErrorClass } from '../../errors/index.js';

/** The HTTP API requires a token, and the request's `token` user property is missing or wrong. */
export class MqttUnauthorizedError extends TetherError {
  declare readonly code: 'TETHER_MQTT_UNAUTHORIZED';
  constructor(why: 'missing' | 'wrong') {
    super(
      'TETHER_MQTT_UNAUTHORIZED',
      why === 'missing'
        ? 'this service needs its token as the "token" user property of the request'
        : 'the "token" user property is wrong',
      { detail: { why } },
    );
  }
}
registerErrorClass('TETHER_MQTT_UNAUTHORIZED', MqttUnauthorizedError);

/** More requests are being answered than the actor takes at once. */
export class MqttBusyError extends TetherError {
  declare readonly code: 'TETHER_MQTT_BUSY';
  constructor(limit: number) {
    super('TETHER_MQTT_BUSY', `${limit} requests are being answered already; try again later`, {
      detail: { limit },
    });
  }
}
registerErrorClass('TETHER_MQTT_BUSY', MqttBusyError);

/** The MQTT settings cannot be used: the CA file is missing, not a regular file, or too large. */
export class MqttSettingsError extends TetherError {
  declare readonly code: 'TETHER_MQTT_SETTINGS';
  constructor(key: string, why: string, cause?: unknown) {
    super('TETHER_MQTT_SETTINGS', `mqtt.${key}: ${why}`, { cause, detail: { key, why } });
  }
}
registerErrorClass('TETHER_MQTT_SETTINGS', MqttSettingsError);
