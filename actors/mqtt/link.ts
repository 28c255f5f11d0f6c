/**
 * The link to the broker (mqtt.js 5, MQTT 5): presence, state, events and
 * the group's life cycle out; operator requests and other members'
 * transitions in. It knows nothing of threads: the actor shell (actor.ts)
 * wires it to the kernel.
 *
 * Connecting: clean session, QoS 1 everywhere, a retained last will
 * `offline` on the status topic. mqtt.js's own reconnect (a fixed period)
 * is off: on every close this link waits by `reconnectDelay` (exponential,
 * capped, with jitter) and connects again, and the attempts count starts
 * again only once a link held for `reconnect.maxMs`. A connection that
 * does not get its CONNACK within connectTimeoutMs is dropped.
 *
 * On each connect, in this order: `online` (retained) on the status topic;
 * this member's group transition not yet acknowledged, if any; the group
 * subscription; the command subscription; then `joined` and the latest
 * state. The broker handles one client's packets in order, so the retained
 * group message that comes with the group subscription is the latest one
 * (ours, if we had one waiting) and has arrived by the time the command
 * subscription is acknowledged.
 *
 * Nothing queues while the link is down: the state is one slot (the latest
 * wins), the group transition is one slot, events are dropped and counted.
 * While up, state publications are coalesced: a change waits BURST_MS for
 * the rest of its burst, then goes out, at most one per minIntervalMs and
 * one unacknowledged at a time, events to at most
 * MAX_EVENTS_IN_FLIGHT unacknowledged, requests to MAX_REQUESTS_IN_FLIGHT.
 */
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import type {
  BusEventKind,
  BusTopics,
  GroupOutcome,
  GroupTransition,
  MqttStatus,
  StateDocument,
} from '../../contracts/bus.js';
import { GroupTransitionSchema } from '../../contracts/bus.js';
import type { ActorLogger } from '../../runtime/actor.js';
import { checkGroupSignature, groupSignature, type UserPropertyValue } from './auth.js';
import { reconnectDelay, type ReconnectPolicy } from './backoff.js';
import { MqttBusyError } from './errors.js';
import { LogLimiter } from './log-limit.js';
import { errorAnswer, parseRequest } from './requests.js';
import { isAllowedResponseTopic } from './topics.js';

export const MAX_EVENTS_IN_FLIGHT = 64;
export const MAX_REQUESTS_IN_FLIGHT = 16;
/** How long a change waits for the rest of its burst before it is published (at most minIntervalMs). */
export const BURST_MS = 20;
const REPORT_INTERVAL_MS = 1000;
/** How long an orderly stop waits for `offline` to be acknowledged, then for the broker to see us go. */
const STOP_STEP_MS = 1000;
/** Room on top of the largest payload we take, for the topic and properties of a packet. */
const PACKET_OVERHEAD_BYTES = 4096;

export interface MqttLinkSettings {
  url: string;
  username: string;
  password: string;
  /** Reads the CA's PEM, for mqtts and wss with a private CA (read when the link starts). */
  readCa: (() => Promise<Buffer>) | undefined;
  clientId: string;
  prefix: string;
  topics: BusTopics;
  keepaliveMs: number;
  connectTimeoutMs: number;
  reconnect: ReconnectPolicy;
  minIntervalMs: number;
  publishIntervalMs: number;
  brewcast: boolean;
  maxPayloadBytes: number;
  /** http.token: "" when the HTTP API requires none. */
  token: string;
}

/** What the link asks of the kernel; each returns promptly or rejects (actor calls with deadlines). */
export interface MqttLinkPeers {
  perform(action: string, body: unknown): Promise<unknown>;
  groupTransition(message: GroupTransition, joining: boolean): Promise<GroupOutcome>;
  joined(): void;
  groupPublished(seq: number): void;
  /** The link's status changed (connected, disconnected): for /api/status. */
  report(status: MqttStatus): void;
  log: ActorLogger;
  /** Defaults to Math.random; tests fix it. */
  random?: () => number;
}

export class MqttLink {
  readonly #settings: MqttLinkSettings;
  readonly #peers: MqttLinkPeers;
  readonly #limited: LogLimiter;
  readonly #random: () => number;
  #client: MqttClient | undefined;
  #connect: typeof import('mqtt').connect | undefined;
  #ca: Buffer | undefined;
  #stopping = false;
  #connected = false;
  #attempts = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  /** Starts the attempts count again once a link has held this long. */
  #heldTimer: NodeJS.Timeout | undefined;
  #republishTimer: NodeJS.Timeout | undefined;
  #reportTimer: NodeJS.Timeout | undefined;
  #stateTimer: NodeJS.Timeout | undefined;
  /** Set once this process has had its group subscription acknowledged. */
  #everJoined = false;

  #state: StateDocument | undefined;
  #stateDirty = false;
  /** When the state became dirty (Date.now()), for the burst wait. */
  #dirtySince = 0;
  #stateInFlight = false;
  #lastStateAt = Number.NEGATIVE_INFINITY;
  #group: GroupTransition | undefined;
  /** The sequence number of the last group transition acknowledged. */
  #lastGroupSeq = 0;
  #groupInFlight = false;
  #eventsInFlight = 0;
  #requestsInFlight = 0;

  readonly #status: MqttStatus;

  constructor(settings: MqttLinkSettings, peers: MqttLinkPeers) {
    this.#settings = settings;
    this.#peers = peers;
    this.#limited = new LogLimiter(peers.log);
    this.#random = peers.random ?? Math.random;
    this.#status = {
      url: redactUrl(settings.url),
      clientId: settings.clientId,
      connected: false,
      since: null,
      attempts: 0,
      connects: 0,
      disconnects: 0,
      lastError: null,
      lastErrorCode: null,
      published: { state: 0, events: 0, group: 0, responses: 0 },
      droppedEvents: 0,
      refused: 0,
      joined: false,
    };
  }

  // ------------------------------------------------------------ public API

  /**
   * Loads mqtt.js and the CA, then connects. mqtt.js is loaded here rather
   * than with this module: it is the largest module graph of any actor
   * (seconds of a busy machine's time), and the actor's start must not wait
   * for it. Rejects when the CA cannot be read (the actor then fails, and
   * its supervisor restarts it with backoff).
   */
  async start(): Promise<void> {
    const [{ connect }, ca] = await Promise.all([import('mqtt'), this.#settings.readCa?.()]);
    if (this.#stopping) return;
    this.#connect = connect;
    this.#ca = ca;
    this.#republishTimer = setInterval(() => {
      if (this.#state === undefined) return;
      this.#stateDirty = true;
      this.#pumpState();
    }, this.#settings.publishIntervalMs);
    this.#connectOnce();
  }

  /** What the kernel had when this link started: taken unless something newer came meanwhile. */
  adopt(state: StateDocument, group: GroupTransition | null): void {
    if (this.#state === undefined) this.publishState(state);
    if (group !== null && this.#group === undefined && this.#lastGroupSeq < group.seq)
      this.publishGroup(group);
  }

  publishState(document: StateDocument): void {
    this.#state = document;
    if (!this.#stateDirty) this.#dirtySince = Date.now();
    this.#stateDirty = true;
    this.#pumpState();
  }

  publishEvent(kind: BusEventKind, payload: Record<string, unknown>): void {
    const client = this.#client;
    if (client === undefined || !this.#connected || this.#eventsInFlight >= MAX_EVENTS_IN_FLIGHT) {
      this.#status.droppedEvents += 1;
      this.#reportSoon();
      return;
    }
    this.#eventsInFlight += 1;
    client.publish(this.#settings.topics.events[kind], JSON.stringify(payload), { qos: 1 }, (error) => {
      if (this.#client !== client) return;
      this.#eventsInFlight -= 1;
      if (failed(error)) this.#status.droppedEvents += 1;
      else this.#status.published.events += 1;
      this.#reportSoon();
    });
  }

  publishGroup(message: GroupTransition): void {
    if (this.#settings.topics.group === undefined) return;
    this.#group = message;
    this.#pumpGroup();
  }

  status(): MqttStatus {
    return { ...this.#status, published: { ...this.#status.published } };
  }

  /** Publishes `offline` and leaves; bounded, so a broker that does not answer never holds the stop. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    // Nothing more goes out but the goodbye.
    const wasConnected = this.#connected;
    this.#connected = false;
    for (const timer of [this.#reconnectTimer, this.#heldTimer, this.#stateTimer, this.#reportTimer]) {
      clearTimeout(timer);
    }
    clearInterval(this.#republishTimer);
    const client = this.#client;
    if (client === undefined) return;
    let ended = false;
    if (wasConnected) {
      await bounded(
        new Promise<void>((resolve) =>
          client.publish(this.#settings.topics.status, 'offline', { qos: 1, retain: true }, () => resolve()),
        ),
        STOP_STEP_MS,
      );
      ended = await bounded(
        new Promise<void>((resolve) => client.end(false, {}, () => resolve())),
        STOP_STEP_MS,
      );
    }
    // Not connected (between attempts, or still connecting), or the broker did not see us off: cut it.
    if (!ended)
      await bounded(new Promise<void>((resolve) => client.end(true, {}, () => resolve())), STOP_STEP_MS);
    client.removeAllListeners();
    // A late 'error' after the listeners are gone must not become an uncaught exception.
    client.on('error', () => undefined);
  }

  // ------------------------------------------------------ connection events

  /**
   * One client per attempt: mqtt.js keeps the callbacks of unacknowledged
   * publications of a closed connection until that client is gone, so a
   * broker that drops us every second would otherwise grow them for ever.
   */
  #connectOnce(): void {
    const s = this.#settings;
    const options: IClientOptions = {
      protocolVersion: 5,
      clientId: s.clientId,
      clean: true,
      keepalive: Math.ceil(s.keepaliveMs / 1000),
      connectTimeout: s.connectTimeoutMs,
      // Our own backoff instead (see the top of this file).
      reconnectPeriod: 0,
      // Subscriptions are made on each connect, in the order that makes `joined` mean something.
      resubscribe: false,
      queueQoSZero: false,
      manualConnect: true,
      will: { topic: s.topics.status, payload: Buffer.from('offline'), qos: 1, retain: true },
      properties: {
        // The broker drops what is larger instead of sending it to us.
        maximumPacketSize: s.maxPayloadBytes + PACKET_OVERHEAD_BYTES,
        sessionExpiryInterval: 0,
      },
      ...(s.username === '' ? {} : { username: s.username }),
      ...(s.password === '' ? {} : { password: s.password }),
      ...(this.#ca === undefined ? {} : { ca: this.#ca }),
    };
    const connect = this.#connect;
    if (connect === undefined) return;
    const client = connect(s.url, options);
    this.#client = client;
    this.#status.attempts += 1;
    const current = (): boolean => this.#client === client && !this.#stopping;
    client.on('connect', () => {
      if (current()) this.#onConnect(client);
    });
    client.on('close', () => {
      if (this.#client === client) this.#onClose(client);
    });
    client.on('error', (error) => {
      if (current()) this.#onError(error);
    });
    client.on('disconnect', (packet) => {
      if (!current()) return;
      this.#limited.write('info', 'broker-disconnect', 'the broker ended the connection', {
        reasonCode: packet.reasonCode ?? 0,
      });
    });
    client.on('message', (topic, payload, packet) => {
      if (current()) this.#onMessage(client, topic, payload, packet);
    });
    client.connect();
  }

  #onConnect(client: MqttClient): void {
    const s = this.#settings;
    this.#connected = true;
    this.#status.connected = true;
    this.#status.connects += 1;
    this.#status.since = new Date().toISOString();
    this.#status.lastError = null;
    this.#status.lastErrorCode = null;
    this.#limited.write('info', 'connect', 'connected to the broker', {
      url: this.#status.url,
      clientId: s.clientId,
    });
    clearTimeout(this.#heldTimer);
    this.#heldTimer = setTimeout(() => (this.#attempts = 0), s.reconnect.maxMs);
    client.publish(s.topics.status, 'online', { qos: 1, retain: true });
    // Ours first, so that the retained message our subscription brings back is the latest.
    this.#pumpGroup();
    const subscribed = (): void => {
      if (!this.#connected || this.#client !== client) return;
      if (s.topics.group !== undefined) {
        this.#everJoined = true;
        this.#status.joined = true;
        this.#peers.joined();
      }
      this.#peers.report(this.status());
    };
    const subscribeCommands = (): void => {
      client.subscribe(s.topics.cmdFilter, { qos: 1, nl: true }, (error) => {
        if (failed(error)) {
          this.#limited.write('warn', 'subscribe', 'could not subscribe to the command topics', {
            error: error.message,
          });
          return;
        }
        subscribed();
      });
    };
    if (s.topics.group === undefined) subscribeCommands();
    else {
      client.subscribe(s.topics.group, { qos: 1, nl: true, rh: 0 }, (error) => {
        if (failed(error)) {
          this.#limited.write('warn', 'subscribe', 'could not subscribe to the group topic', {
            error: error.message,
          });
        }
        subscribeCommands();
      });
    }
    this.#stateDirty = this.#state !== undefined;
    this.#pumpState();
  }

  #onClose(client: MqttClient): void {
    // This client is done: the next attempt gets a new one (see #connectOnce).
    client.removeAllListeners();
    client.on('error', () => undefined);
    client.end(true);
    this.#client = undefined;
    const wasConnected = this.#connected;
    this.#connected = false;
    this.#stateInFlight = false;
    this.#groupInFlight = false;
    this.#eventsInFlight = 0;
    this.#status.joined = false;
    clearTimeout(this.#heldTimer);
    clearTimeout(this.#stateTimer);
    this.#stateTimer = undefined;
    if (wasConnected) {
      this.#status.connected = false;
      this.#status.disconnects += 1;
      this.#status.since = new Date().toISOString();
      this.#peers.report(this.status());
    } else {
      // A failed attempt (a CA that did not sign the broker, refused credentials) is news for
      // /api/status too: the attempts and the error's code, at most once a REPORT_INTERVAL_MS.
      this.#reportSoon();
    }
    if (this.#stopping || this.#reconnectTimer !== undefined) return;
    const delay = reconnectDelay(this.#settings.reconnect, this.#attempts, this.#random());
    this.#attempts += 1;
    this.#limited.write('info', 'reconnect', 'broker link down; reconnecting', {
      retryInMs: delay,
      attempt: this.#attempts,
      lastError: this.#status.lastError,
      lastErrorCode: this.#status.lastErrorCode,
    });
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (!this.#stopping) this.#connectOnce();
    }, delay);
  }

  #onError(error: Error & { code?: unknown }): void {
    this.#status.lastError = error.message;
    this.#status.lastErrorCode = error.code === undefined ? null : String(error.code);
    this.#limited.write('warn', 'broker-error', 'broker link error', {
      error: error.message,
      ...(error.code === undefined ? {} : { code: String(error.code) }),
    });
  }

  // ------------------------------------------------------------ publishing

  #pumpState(): void {
    const client = this.#client;
    const s = this.#settings;
    if (client === undefined || !this.#connected || this.#stateInFlight || !this.#stateDirty) return;
    if (this.#stateTimer !== undefined) return;
    // A change usually comes in a burst (the life cycle moves, then the phase, then the life cycle
    // again): wait a moment for the rest of it, so the first publication is not a half-way state.
    const wait =
      Math.max(this.#lastStateAt + s.minIntervalMs, this.#dirtySince + Math.min(BURST_MS, s.minIntervalMs)) -
      Date.now();
    if (wait > 0) {
      this.#stateTimer = setTimeout(() => {
        this.#stateTimer = undefined;
        this.#pumpState();
      }, wait);
      return;
    }
    const document = this.#state;
    if (document === undefined) return;
    this.#stateDirty = false;
    this.#stateInFlight = true;
    this.#lastStateAt = Date.now();
    const text = JSON.stringify(document);
    client.publish(s.topics.state, text, { qos: 1, retain: true }, (error) => {
      if (this.#client !== client) return;
      this.#stateInFlight = false;
      if (failed(error)) {
        // Not acknowledged (the link is going): publish the latest again once it is back, not now.
        this.#stateDirty = true;
        return;
      }
      this.#status.published.state += 1;
      this.#reportSoon();
      this.#pumpState();
    });
    if (s.brewcast) client.publish(s.topics.brewcast, text, { qos: 1, retain: true });
  }

  #pumpGroup(): void {
    const client = this.#client;
    const topic = this.#settings.topics.group;
    const message = this.#group;
    if (client === undefined || topic === undefined || message === undefined) return;
    if (!this.#connected || this.#groupInFlight) return;
    this.#groupInFlight = true;
    const payload = Buffer.from(JSON.stringify(message));
    const token = this.#settings.token;
    client.publish(
      topic,
      payload,
      {
        qos: 1,
        retain: true,
        properties: token === '' ? {} : { userProperties: { sig: groupSignature(token, payload) } },
      },
      (error) => {
        if (this.#client !== client) return;
        this.#groupInFlight = false;
        if (failed(error)) return;
        this.#status.published.group += 1;
        this.#reportSoon();
        this.#lastGroupSeq = Math.max(this.#lastGroupSeq, message.seq);
        if (this.#group === message) this.#group = undefined;
        this.#peers.groupPublished(message.seq);
        this.#pumpGroup();
      },
    );
  }

  // -------------------------------------------------------------- receiving

  #onMessage(client: MqttClient, topic: string, payload: Buffer, packet: IPublishPacket): void {
    const s = this.#settings;
    if (s.topics.group !== undefined && topic === s.topics.group) {
      this.#onGroupMessage(payload, packet);
    } else if (topic.startsWith(s.topics.cmdPrefix)) {
      this.#onRequest(client, topic.slice(s.topics.cmdPrefix.length), payload, packet);
    }
  }

  #onRequest(client: MqttClient, action: string, payload: Buffer, packet: IPublishPacket): void {
    const s = this.#settings;
    const properties = packet.properties ?? {};
    const responseTopic = properties.responseTopic;
    const correlationData = properties.correlationData;
    if (responseTopic !== undefined && !isAllowedResponseTopic(s.prefix, responseTopic)) {
      // Answering would publish onto a topic of ours (or with a wildcard): do nothing at all.
      this.#refuse('request-refused', 'a request named a response topic it may not use', {
        action: clip(action),
        responseTopic: clip(responseTopic),
      });
      return;
    }
    // Answered on the connection the request came on; if that one is gone, so is the asker's.
    const answer = (body: unknown): void => {
      if (responseTopic === undefined || this.#client !== client || !this.#connected) return;
      client.publish(
        responseTopic,
        JSON.stringify(body),
        {
          qos: 1,
          properties: {
            contentType: 'application/json',
            ...(correlationData === undefined ? {} : { correlationData }),
          },
        },
        (error) => {
          if (!failed(error)) {
            this.#status.published.responses += 1;
            this.#reportSoon();
          }
        },
      );
    };
    const parsed = parseRequest(
      payload,
      properties.userProperties as Record<string, UserPropertyValue> | undefined,
      { maxPayloadBytes: s.maxPayloadBytes, token: s.token },
    );
    if (!parsed.ok) {
      this.#refuse('request-refused', 'refused a request', {
        action: clip(action),
        code: parsed.error.code,
        error: parsed.error.message,
      });
      answer(errorAnswer(parsed.error));
      return;
    }
    if (this.#requestsInFlight >= MAX_REQUESTS_IN_FLIGHT) {
      this.#refuse('request-refused', 'refused a request: too many in flight', { action: clip(action) });
      answer(errorAnswer(new MqttBusyError(MAX_REQUESTS_IN_FLIGHT)));
      return;
    }
    this.#requestsInFlight += 1;
    this.#peers
      .perform(action, parsed.body)
      .then(
        (result) => answer(result ?? null),
        (error: unknown) => answer(errorAnswer(error)),
      )
      .finally(() => (this.#requestsInFlight -= 1));
  }

  #onGroupMessage(payload: Buffer, packet: IPublishPacket): void {
    const s = this.#settings;
    // An empty retained message clears the topic (someone reset the group): nothing to follow.
    if (payload.length === 0) return;
    if (payload.length > s.maxPayloadBytes) {
      this.#refuse('group-refused', 'refused a group message: too large', { bytes: payload.length });
      return;
    }
    const sig = (packet.properties?.userProperties as Record<string, UserPropertyValue> | undefined)?.['sig'];
    if (!checkGroupSignature(sig, s.token, payload)) {
      this.#refuse('group-refused', 'refused a group message: missing or wrong signature', {});
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(payload.toString('utf8'));
    } catch {
      this.#refuse('group-refused', 'refused a group message: not JSON', {});
      return;
    }
    const parsed = GroupTransitionSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      this.#refuse('group-refused', 'refused a group message: not a transition', {
        issue: issue === undefined ? 'rejected' : `${issue.path.join('.')}: ${issue.message}`,
      });
      return;
    }
    // The retained message that comes with this process's first subscription: the group's past.
    const joining = packet.retain && !this.#everJoined;
    this.#peers.groupTransition(parsed.data, joining).then(
      (outcome) => {
        if (outcome.kind === 'refused') {
          this.#limited.write('warn', 'group-outcome', 'could not follow a group transition', {
            origin: clip(parsed.data.origin),
            seq: parsed.data.seq,
            to: parsed.data.to,
            code: outcome.code,
            error: outcome.message,
          });
        }
      },
      (error: unknown) => {
        this.#limited.write('warn', 'group-outcome', 'could not hand a group transition to the kernel', {
          error: error instanceof Error ? error.message : String(error),
        });
      },
    );
  }

  /** The kernel's copy of the status (/api/status) follows the counters, at most once a second. */
  #reportSoon(): void {
    if (this.#reportTimer !== undefined || this.#stopping) return;
    this.#reportTimer = setTimeout(() => {
      this.#reportTimer = undefined;
      this.#peers.report(this.status());
    }, REPORT_INTERVAL_MS);
  }

  #refuse(kind: string, msg: string, fields: Record<string, unknown>): void {
    this.#status.refused += 1;
    this.#reportSoon();
    this.#limited.write('warn', kind, msg, fields);
  }
}

/** mqtt.js calls back with undefined or null for success, an Error otherwise. */
function failed(error: Error | null | undefined): error is Error {
  return error !== undefined && error !== null;
}

/** The URL without credentials, for logs and status. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}

/** Text from the broker in a log line: bounded, so a long topic cannot make a long line. */
function clip(text: string): string {
  return text.length <= 128 ? text : `${text.slice(0, 128)}…`;
}

/** True when `promise` settled within `ms`. */
async function bounded(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
