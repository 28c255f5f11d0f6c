/**
 * A fleet for the life-cycle tests: `tether run` processes, each with its
 * own built-in simulated controller, in one group on a real mosquitto, and
 * an observer that sees what anyone on the bus would: the retained states,
 * the presence, and every message on the group topic (counted, so an echo
 * would show). Processes are stopped at the end, and killed if the test
 * file itself is ended.
 *
 * Each member publishes its state after applying a transition, on the same
 * connection it would publish an echo on; the broker keeps one client's
 * messages in order. So once every member's state shows a transition, any
 * echo of it would already have reached the observer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GroupTransition, StateDocument } from '../../contracts/bus.js';
import { Recorder } from '../recorder.js';
import { TestClient, freePort, killOnExit, withBroker, type Broker } from '../mqtt/broker.js';
import { eachLine } from './tether-process.js';

const CLI = fileURLToPath(new URL('../../cli/tether.js', import.meta.url));
export const GROUP = 'g';

/**
 * Several services start at once on a machine shared with other work: actor
 * starts and heartbeats get room (a busy 2-core machine has taken over 5 s
 * to load one actor), so that what is tested is the group, not the load.
 */
const ROOMY_CHILD = '{startTimeoutMs: 60000, heartbeat: {intervalMs: 1000, timeoutMs: 15000}}';
const SLOW_MACHINE: Record<string, string> = Object.fromEntries(
  ['CONNECTION', 'COMMANDER', 'SYNCHRONIZATION', 'WATCHDOG', 'MQTT'].map((child) => [
    `TETHER_SUPERVISION__CHILDREN__${child}`,
    ROOMY_CHILD,
  ]),
);

export interface Member {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  output: Recorder<string>;
}

export async function startMember(
  dir: string,
  name: string,
  brokerUrl: string,
  keepaliveMs = 5000,
): Promise<Member> {
  const child = spawn(process.execPath, [CLI, 'run', '--sim-if-unconfigured'], {
    env: {
      PATH: process.env['PATH'] ?? '',
      TETHER_HTTP__PORT: '0',
      TETHER_STATE_DIR: join(dir, name),
      TETHER_LOG__LEVEL: 'info',
      TETHER_MQTT__URL: brokerUrl,
      TETHER_MQTT__SERVICE: name,
      TETHER_MQTT__MIN_INTERVAL_MS: '50',
      TETHER_MQTT__KEEPALIVE_MS: String(keepaliveMs),
      TETHER_MQTT__RECONNECT: '{initialMs: 200, factor: 2, maxMs: 2000}',
      TETHER_LIFECYCLE__GROUP: GROUP,
      ...SLOW_MACHINE,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);
  const output = new Recorder<string>();
  const record = (line: string): void => {
    if (line !== '') output.push(line);
    if (process.env['TETHER_TEST_LOG'] === '1') process.stderr.write(`${name}: ${line}\n`);
  };
  eachLine(child.stdout, record);
  eachLine(child.stderr, record);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { name, child, exited, output };
}

export async function stopMember(member: Member): Promise<void> {
  if (member.child.exitCode !== null || member.child.signalCode !== null) return;
  member.child.kill('SIGTERM');
  const timer = setTimeout(() => member.child.kill('SIGKILL'), 15_000);
  await member.exited;
  clearTimeout(timer);
}

/** The test's view of the bus: every state, presence and group message. */
export async function observe(broker: Broker): Promise<TestClient> {
  const observer = await TestClient.connect(broker.url);
  await observer.subscribe('tether/+/state');
  await observer.subscribe('tether/+/status');
  await observer.subscribe(`tether/${GROUP}/lifecycle`);
  return observer;
}

export function waitForState(
  observer: TestClient,
  name: string,
  match: (doc: StateDocument) => boolean,
  /** Only states received after this mark (observer.mark()); a state from before a trigger does not count. */
  after = 0,
  timeoutMs = 60_000,
): Promise<StateDocument> {
  return observer.waitForJson<StateDocument>(`tether/${name}/state`, match, timeoutMs, after);
}

export const running = (doc: StateDocument): boolean =>
  doc.data.lifecycle.state === 'started' && doc.data.phase.name === 'Synchronized';
export const lifecycleIs =
  (state: string) =>
  (doc: StateDocument): boolean =>
    doc.data.lifecycle.state === state;

export function groupMessages(observer: TestClient): GroupTransition[] {
  return observer.on(`tether/${GROUP}/lifecycle`).map((r) => JSON.parse(r.text) as GroupTransition);
}

export async function withFleet(
  names: readonly string[],
  body: (fleet: {
    broker: Broker;
    observer: TestClient;
    members: Map<string, Member>;
    start: (name: string, url?: string, keepaliveMs?: number) => Promise<Member>;
  }) => Promise<void>,
): Promise<void> {
  await withBroker(async (broker) => {
    const dir = await mkdtemp(join(tmpdir(), 'tether-fleet-'));
    const members = new Map<string, Member>();
    const observer = await observe(broker);
    const start = async (name: string, url = broker.url, keepaliveMs?: number): Promise<Member> => {
      const member = await startMember(dir, name, url, keepaliveMs);
      members.set(name, member);
      return member;
    };
    try {
      await Promise.all(names.map((name) => start(name)));
      await body({ broker, observer, members, start });
    } catch (error) {
      // What each member said, for the failure's reader.
      for (const member of members.values()) {
        const tail = member.output.items.slice(-15).map((line) => `  ${member.name}: ${line.slice(0, 300)}`);
        process.stderr.write(
          `--- ${member.name} (exit ${String(member.child.exitCode)})\n${tail.join('\n')}\n`,
        );
      }
      throw error;
    } finally {
      await Promise.all([...members.values()].map(stopMember));
      await observer.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
}

/** A TCP relay to the broker that the test can cut and restore: one member cut off, the others not. */
export async function relay(
  brokerPort: number,
): Promise<{ url: string; cut(): void; restore(): void; close(): Promise<void> }> {
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  let open = true;
  const server = net.createServer((inbound) => {
    if (!open) {
      inbound.destroy();
      return;
    }
    const outbound = net.connect({ port: brokerPort, host: '127.0.0.1' });
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `mqtt://127.0.0.1:${port}`,
    cut() {
      open = false;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      open = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
