/**
 * A real mosquitto for a test: its own config file in a temp directory, a
 * listener on 127.0.0.1 on a free port, persistence off, anonymous clients
 * allowed unless the test says otherwise, plain MQTT or TLS (a throwaway
 * CA made for it, see certificates.ts). It can be stopped and started
 * again on the same port (a broker restart, a flapping broker), and is
 * always stopped at the end (`close`). Plus a small MQTT 5 client for the
 * test's side: subscribe, record, wait with a deadline, request/response.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect, type IClientPublishOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { Recorder } from '../recorder.js';
import { createCa, createServerCertificate, type TestCa } from './certificates.js';

export interface BrokerOptions {
  /** Default true; false refuses every client (no password file): "the broker refuses the credentials". */
  allowAnonymous?: boolean;
  /** More lines for mosquitto.conf (the fleet bench asks for `sys_interval 1`). */
  extraConfig?: readonly string[];
  /**
   * TLS on the listener (mqtts://): a CA made for this broker signs its
   * certificate for 127.0.0.1 and localhost; clients trust `broker.ca`.
   */
  tls?: boolean;
}

export interface Broker {
  readonly port: number;
  /** mqtt://127.0.0.1:<port>, or mqtts:// with `tls`. */
  readonly url: string;
  /** The CA that signed the broker's certificate, with `tls`. */
  readonly ca: TestCa | undefined;
  readonly running: boolean;
  /** The broker process, while it runs. */
  readonly pid: number | undefined;
  /** Stops the broker (SIGTERM, then SIGKILL past a deadline). Retained messages go with it (no persistence). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** Stops it for good and removes its directory. */
  close(): Promise<void>;
  /** What mosquitto wrote, for a failing test's message. */
  log(): string;
}

/**
 * Processes a test started (brokers, services): killed when the test file's
 * process ends, however it ends. The test runner ends a file that overruns
 * its timeout with a signal, which skips every `finally`; without this, its
 * brokers and services would live on.
 */
const LIVE_CHILDREN = new Set<ChildProcess>();
let reaperInstalled = false;

export function killOnExit(child: ChildProcess): void {
  LIVE_CHILDREN.add(child);
  child.once('exit', () => LIVE_CHILDREN.delete(child));
  if (reaperInstalled) return;
  reaperInstalled = true;
  const reap = (): void => {
    for (const running of LIVE_CHILDREN) running.kill('SIGKILL');
  };
  process.once('exit', reap);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      reap();
      process.exit(1);
    });
  }
}

export function mosquittoPath(): string {
  const found = spawnSync('sh', ['-c', 'command -v mosquitto'], { encoding: 'utf8' }).stdout.trim();
  if (found !== '') return found;
  if (existsSync('/usr/sbin/mosquitto')) return '/usr/sbin/mosquitto';
  throw new Error('mosquitto is not installed (apt-get install -y mosquitto)');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const dir = await mkdtemp(join(tmpdir(), 'tether-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  const ca = options.tls === true ? await createCa(dir) : undefined;
  const server = ca === undefined ? undefined : await createServerCertificate(dir, ca);
  await writeFile(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      ...(server === undefined
        ? []
        : [
            `certfile ${server.certFile}`,
            `keyfile ${server.keyFile}`,
            // Started as root, mosquitto would read the key as user mosquitto, which cannot enter our 0700 directory.
            ...(process.getuid?.() === 0 ? ['user root'] : []),
          ]),
      `allow_anonymous ${options.allowAnonymous === false ? 'false' : 'true'}`,
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      ...(options.extraConfig ?? []),
      '',
    ].join('\n'),
  );
  const binary = mosquittoPath();
  let child: ChildProcess | undefined;
  let output = '';

  const start = async (): Promise<void> => {
    if (child !== undefined) return;
    const started = spawn(binary, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(started);
    child = started;
    started.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => started.once('exit', () => resolve()));
    void exited.then(() => {
      if (child === started) child = undefined;
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child !== started) throw new Error(`mosquitto exited at start:\n${output}`);
      if (await accepts(port)) return;
      if (Date.now() > deadline)
        throw new Error(`mosquitto did not listen on ${port} within 10 s:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const stop = async (): Promise<void> => {
    const running = child;
    if (running === undefined) return;
    const exited = new Promise<void>((resolve) => {
      if (running.exitCode !== null || running.signalCode !== null) resolve();
      else running.once('exit', () => resolve());
    });
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
    if (child === running) child = undefined;
  };

  await start();
  return {
    port,
    url: `${ca === undefined ? 'mqtt' : 'mqtts'}://127.0.0.1:${port}`,
    ca,
    get running() {
      return child !== undefined;
    },
    get pid() {
      return child?.pid;
    },
    stop,
    start,
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
    log: () => output,
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Runs `body` with a fresh broker, and stops it whatever happens. */
export async function withBroker<T>(
  body: (broker: Broker) => Promise<T>,
  options?: BrokerOptions,
): Promise<T> {
  const broker = await startBroker(options);
  try {
    return await body(broker);
  } catch (error) {
    if (process.env['TETHER_TEST_LOG'] === '1') process.stderr.write(broker.log());
    throw error;
  } finally {
    await broker.close();
  }
}

// ------------------------------------------------------------ test client

export interface Received {
  topic: string;
  text: string;
  retain: boolean;
  packet: IPublishPacket;
}

/** The test's own MQTT 5 client: records everything on its subscriptions. */
export class TestClient {
  readonly client: MqttClient;
  readonly #seen = new Recorder<Received>();

  private constructor(client: MqttClient) {
    this.client = client;
    client.on('message', (topic, payload, packet) =>
      this.#seen.push({ topic, text: payload.toString('utf8'), retain: packet.retain, packet }),
    );
  }

  /** `ca`: the PEM the client trusts for mqtts (a test broker's `ca`), instead of the system's. */
  static async connect(
    url: string,
    clientId = `test-${randomBytes(4).toString('hex')}`,
    options: { ca?: Buffer } = {},
  ): Promise<TestClient> {
    const client = connect(url, {
      protocolVersion: 5,
      clientId,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    client.on('error', () => undefined);
    return new TestClient(client);
  }

  get received(): readonly Received[] {
    return this.#seen.items;
  }

  on(topicFilter: string): Received[] {
    return this.received.filter((r) => matches(topicFilter, r.topic));
  }

  async subscribe(filter: string): Promise<void> {
    await this.client.subscribeAsync(filter, { qos: 1 });
  }

  async publish(topic: string, payload: string | Buffer, options: IClientPublishOptions = {}): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1, ...options });
  }

  /** A mark: pass it as `from` to wait only for messages received after now. */
  mark(): number {
    return this.received.length;
  }

  /** The `count`-th message on `filter` that matches (already seen or to come, from `from` on), with a deadline. */
  waitFor(
    filter: string,
    match: (received: Received) => boolean = () => true,
    timeoutMs = 10_000,
    count = 1,
    from = 0,
  ): Promise<Received> {
    return this.#seen.waitFor((r) => matches(filter, r.topic) && match(r), {
      timeoutMs,
      count,
      from,
      what: `a message on ${filter}`,
      summary: () => this.received.map((r) => `${r.topic}: ${r.text.slice(0, 200)}`).join('\n'),
    });
  }

  /** A JSON message on `filter` whose parsed body matches. */
  async waitForJson<T = Record<string, unknown>>(
    filter: string,
    match: (body: T) => boolean,
    timeoutMs = 10_000,
    from = 0,
  ): Promise<T> {
    const found = await this.waitFor(filter, (r) => safeJson<T>(r.text, match), timeoutMs, 1, from);
    return JSON.parse(found.text) as T;
  }

  /**
   * Sends a request the MQTT 5 way: a response topic and correlation data;
   * resolves with the answer's JSON (and its correlation data).
   */
  async request(
    topic: string,
    body: unknown,
    options: { token?: string; raw?: string | Buffer; timeoutMs?: number; responseTopic?: string } = {},
  ): Promise<{ body: Record<string, unknown>; correlation: string | undefined }> {
    const correlation = randomBytes(8).toString('hex');
    const responseTopic = options.responseTopic ?? `test/replies/${randomBytes(4).toString('hex')}`;
    await this.subscribe(responseTopic);
    await this.publish(topic, options.raw ?? JSON.stringify(body), {
      properties: {
        responseTopic,
        correlationData: Buffer.from(correlation),
        ...(options.token === undefined ? {} : { userProperties: { token: options.token } }),
      },
    });
    const answer = await this.waitFor(
      responseTopic,
      (r) => r.packet.properties?.correlationData?.toString() === correlation,
      options.timeoutMs ?? 15_000,
    );
    return {
      body: JSON.parse(answer.text) as Record<string, unknown>,
      correlation: answer.packet.properties?.correlationData?.toString(),
    };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.client.end(true);
        resolve();
      }, 2000);
      this.client.end(false, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

function safeJson<T>(text: string, match: (body: T) => boolean): boolean {
  try {
    return match(JSON.parse(text) as T);
  } catch {
    return false;
  }
}

/** MQTT topic filter matching (+ one level, # the rest). */
export function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i += 1) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
