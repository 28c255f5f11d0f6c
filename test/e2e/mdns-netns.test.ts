/**
 * mDNS between two machines, as near as a test gets: two network
 * namespaces joined by a veth pair, `tether sim` in one, `tether run
 * --discovery mdns` in the other, both with their default mDNS settings
 * (port 5353, every interface: each namespace has a network of its own, so
 * nothing else on this machine hears them). The service must find the
 * simulator by its device id, at the simulator's address on the link (not
 * loopback), and reach Synchronized.
 *
 * Making namespaces needs root and iproute2; without them the test is
 * skipped and says why. (The loopback tests in
 * test/actors/connection/discovery/mdns run everywhere.)
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Recorder } from '../recorder.js';

const CLI = fileURLToPath(new URL('../../cli/tether.js', import.meta.url));
const ID = '0a1b2c3d4e5f60718293a4b5';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

/** Why namespaces cannot be made here, or undefined when they can. */
function cannotMakeNamespaces(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (ip netns)';
  const probe = `tether-probe-${process.pid}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return undefined;
  } catch (error) {
    return `ip netns does not work here: ${error instanceof Error ? error.message : String(error)}`;
  }
}

interface Proc {
  readonly lines: Recorder<string>;
  readonly exited: Promise<number | null>;
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  stop(): Promise<number | null>;
}

function runIn(ns: string, args: string[], env: Record<string, string>): Proc {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, process.execPath, CLI, ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = new Recorder<string>();
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts.filter(Boolean));
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    lines,
    exited,
    waitForLine: (pattern, timeoutMs) =>
      lines.waitFor((line) => pattern.test(line), {
        timeoutMs,
        what: `a line matching ${pattern} in ${ns}`,
        summary: () => `\n${lines.items.join('\n')}`,
      }),
    stop: async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

const skip = cannotMakeNamespaces();

describe('mDNS across a veth pair between network namespaces', { skip }, () => {
  it('tether run --discovery mdns finds tether sim in the other namespace by its device id and reaches Synchronized', async () => {
    const tag = `${process.pid % 100_000}`;
    const [nsSim, nsService] = [`tether-${tag}-sim`, `tether-${tag}-svc`];
    const [ifSim, ifService] = [`tvs${tag}`, `tvc${tag}`];
    const stateDir = await mkdtemp(join(tmpdir(), 'tether-netns-'));
    const procs: Proc[] = [];
    try {
      ip('netns', 'add', nsSim);
      ip('netns', 'add', nsService);
      ip('link', 'add', ifSim, 'netns', nsSim, 'type', 'veth', 'peer', 'name', ifService, 'netns', nsService);
      for (const [ns, dev, address] of [
        [nsSim, ifSim, '10.77.0.1/24'],
        [nsService, ifService, '10.77.0.2/24'],
      ] as const) {
        ip('-n', ns, 'addr', 'add', address, 'dev', dev);
        ip('-n', ns, 'link', 'set', dev, 'up');
        ip('-n', ns, 'link', 'set', 'lo', 'up');
        // As on a real machine: a default route, so multicast on "every interface" has a way out.
        ip('-n', ns, 'route', 'add', 'default', 'dev', dev);
      }

      const sim = runIn(nsSim, ['sim', '--host', '0.0.0.0', '--port', '8332', '--device-id', ID], {});
      procs.push(sim);
      await sim.waitForLine(/simulator ready/, 20_000);

      const service = runIn(nsService, ['run', '--discovery', 'mdns', '--device', ID.toUpperCase()], {
        TETHER_STATE_DIR: stateDir,
        TETHER_HTTP__PORT: '0',
      });
      procs.push(service);
      const found = await service.waitForLine(/mDNS: controller found/, 30_000);
      assert.match(found, /10\.77\.0\.1:8332/, 'the address on the link, not loopback');
      await service.waitForLine(/phase Acknowledged -> Synchronized/, 30_000);
      assert.equal(await service.stop(), 0);
    } finally {
      await Promise.all(procs.map((p) => p.stop()));
      for (const ns of [nsSim, nsService]) {
        try {
          ip('netns', 'del', ns); // takes its end of the veth pair with it
        } catch {
          // never made
        }
      }
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
