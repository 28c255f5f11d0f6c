import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

// Tests run from dist/test/deploy/; the files are in the repository's deploy/.
const DEPLOY = new URL('../../../deploy/', import.meta.url);
const read = (name: string): Promise<string> => readFile(new URL(name, DEPLOY), 'utf8');

/** A systemd unit as section -> key -> every value given (keys like DeviceAllow repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1] ?? '', current);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(current && eq > 0, `not a key=value line in a section: ${line}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

/** Seconds in a systemd or compose duration ("15", "15s", "1m30s"). */
function seconds(value: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  let total = 0;
  for (const [, n, unit] of value.matchAll(/(\d+(?:\.\d+)?)\s*(ms|s|m|h)/g)) {
    total += Number(n) * ({ ms: 0.001, s: 1, m: 60, h: 3600 }[unit as 'ms' | 's' | 'm' | 'h'] ?? NaN);
  }
  return total;
}

/** The service's own shutdown bound (kernel): systemd's and Docker's must be longer. */
const SHUTDOWN_BOUND_S = 8;

/** The worst `systemd-analyze security` exposure the unit may have (0 best, 10 worst). */
const MAX_EXPOSURE = 3.0;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { timeout: 60_000, env: { ...process.env, SYSTEMD_COLORS: '0' } },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') reject(error);
        else resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      },
    );
  });
}

/** The shipped unit, copied under its own name (systemd-analyze names the unit after the file). */
async function withUnitCopy<T>(body: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tether-unit-'));
  try {
    const path = join(dir, 'tether.service');
    await copyFile(fileURLToPath(new URL('tether.service', DEPLOY)), path);
    return await body(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('deploy files', () => {
  test('the systemd unit is a notify service with a watchdog, restarts on failure but not on exit 78', async () => {
    const unit = parseUnit(await read('tether.service'));
    const service = unit.get('Service');
    assert.ok(service, 'a [Service] section');
    const one = (key: string): string | undefined => service.get(key)?.at(-1);
    assert.equal(one('Type'), 'notify');
    // The notifications come from a helper child process (socat), not the main process.
    assert.equal(one('NotifyAccess'), 'all');
    assert.ok(seconds(one('WatchdogSec') ?? '0') > 0);
    assert.equal(one('Restart'), 'on-failure');
    assert.equal(one('RestartPreventExitStatus'), '78');
    assert.ok(seconds(one('TimeoutStopSec') ?? '0') > SHUTDOWN_BOUND_S);
    assert.equal(one('StateDirectory'), 'tether');
    assert.ok(service.get('Environment')?.includes('TETHER_STATE_DIR=/var/lib/tether'));
    assert.match(one('ExecStart') ?? '', /^\/usr\/bin\/node \S+\/dist\/cli\/tether\.js run\b/);
    assert.equal(one('User'), 'tether');
    assert.match(one('SupplementaryGroups') ?? '', /\bdialout\b/);
    assert.equal(one('NoNewPrivileges'), 'yes');
    assert.equal(one('ProtectSystem'), 'strict');
    assert.equal(one('ProtectHome'), 'yes');
    assert.equal(one('PrivateTmp'), 'yes');
    assert.equal(one('SystemCallFilter'), '~@privileged @resources');
    assert.ok(service.get('SystemCallFilter')?.includes('@system-service'));
    // Sockets: Unix for the notification, IP for controllers and the API, netlink for interfaces.
    assert.deepEqual(one('RestrictAddressFamilies')?.split(/\s+/).sort(), [
      'AF_INET',
      'AF_INET6',
      'AF_NETLINK',
      'AF_UNIX',
    ]);
    assert.equal(unit.get('Install')?.get('WantedBy')?.[0], 'multi-user.target');
  });

  test('the unit keeps the USB serial devices reachable: their classes allowed, their drivers loaded first', async () => {
    const unit = parseUnit(await read('tether.service'));
    const service = unit.get('Service');
    const deps = unit.get('Unit');
    assert.ok(service && deps);
    // PrivateDevices would hide /dev/ttyACM*; a closed policy with the two classes allowed does not.
    assert.equal(service.get('PrivateDevices'), undefined);
    assert.equal(service.get('DevicePolicy')?.at(-1), 'closed');
    assert.deepEqual(service.get('DeviceAllow')?.sort(), ['char-ttyACM rw', 'char-ttyUSB rw']);
    // systemd resolves char-ttyACM through /proc/devices at start: the drivers must be loaded by then.
    for (const module of ['cdc_acm', 'usbserial']) {
      const loader = `modprobe@${module}.service`;
      assert.ok(
        deps.get('Wants')?.some((v) => v.split(/\s+/).includes(loader)),
        `Wants=${loader}`,
      );
      assert.ok(
        deps.get('After')?.some((v) => v.split(/\s+/).includes(loader)),
        `After=${loader}`,
      );
    }
    assert.match(service.get('SupplementaryGroups')?.at(-1) ?? '', /\bdialout\b/);
  });

  test('systemd-analyze verify finds nothing wrong in the unit', () =>
    withUnitCopy(async (path) => {
      const result = await run('systemd-analyze', ['verify', '--man=no', path]);
      // Warnings (an unknown key, a bad value) leave the exit code at 0: the output must be silent too.
      const about = `${result.stdout}${result.stderr}`
        .split('\n')
        .filter((line) => line.includes('tether.service'));
      assert.deepEqual(about, [], `${result.stdout}${result.stderr}`);
      assert.equal(result.code, 0, result.stderr);
    }));

  test(`systemd-analyze security scores the unit ${MAX_EXPOSURE.toFixed(1)} or better`, () =>
    withUnitCopy(async (path) => {
      const result = await run('systemd-analyze', [
        'security',
        '--offline=true',
        '--no-pager',
        `--threshold=${MAX_EXPOSURE * 10}`,
        path,
      ]);
      const overall = /Overall exposure level for tether\.service: (\d+(?:\.\d+)?)/.exec(result.stdout);
      assert.ok(overall, `an overall score in:\n${result.stdout}${result.stderr}`);
      const exposure = Number(overall[1]);
      assert.ok(exposure <= MAX_EXPOSURE, `exposure ${exposure}:\n${result.stdout}`);
      assert.equal(result.code, 0, 'within --threshold');
    }));

  test('the compose file restarts unless stopped, reaches the controller through the USB bridge, keeps state and checks /healthz', async () => {
    const compose = parse(await read('compose.yaml')) as {
      services: Record<string, Record<string, unknown>>;
      volumes?: Record<string, unknown>;
    };
    const service = compose.services['tether'];
    assert.ok(service, 'a tether service');
    assert.equal(service['restart'], 'unless-stopped');
    const env = service['environment'] as Record<string, string>;
    // The controller over TCP, from the bridge on the host: no device in the container, and
    // the rediscovery policy that goes with it (TCP never needs a fresh process).
    assert.equal(env['TETHER_DISCOVERY__MODE'], 'tcp');
    assert.match(env['TETHER_DISCOVERY__TCP__HOST'] ?? '', /host\.docker\.internal/);
    assert.equal(env['TETHER_DISCOVERY__REDISCOVERY'], 'never');
    assert.ok((service['extra_hosts'] as string[]).includes('host.docker.internal:host-gateway'));
    const volumes = service['volumes'] as Array<string | { type?: string; source?: string; target?: string }>;
    assert.deepEqual(volumes, ['tether-state:/var/lib/tether'], 'the state volume and nothing else');
    assert.ok(compose.volumes && 'tether-state' in compose.volumes);
    assert.equal(service['devices'], undefined);
    assert.equal(service['privileged'], undefined);
    assert.equal(env['TETHER_STATE_DIR'], '/var/lib/tether');
    // Reachable from outside the container, so never without a token.
    assert.equal(env['TETHER_HTTP__HOST'], '0.0.0.0');
    assert.match(env['TETHER_HTTP__TOKEN'] ?? '', /^\$\{TETHER_HTTP_TOKEN:\?/);
    const healthcheck = service['healthcheck'] as { test: string[] };
    assert.ok(healthcheck.test.join(' ').includes('http://127.0.0.1:8331/healthz'));
    assert.ok(seconds(String(service['stop_grace_period'])) > SHUTDOWN_BOUND_S);
  });

  test('the compose service runs with no capabilities, no privilege gain, an init, and a read-only root', async () => {
    const compose = parse(await read('compose.yaml')) as {
      services: Record<string, Record<string, unknown>>;
    };
    const service = compose.services['tether'];
    assert.ok(service);
    assert.equal(service['init'], true);
    assert.deepEqual(service['cap_drop'], ['ALL']);
    assert.equal(service['cap_add'], undefined);
    assert.deepEqual(service['security_opt'], ['no-new-privileges:true']);
    assert.equal(service['read_only'], true);
    // No bind mount at all, so in particular not the host's /dev.
    const volumes = (service['volumes'] ?? []) as Array<string | { type?: string; source?: string }>;
    for (const volume of volumes) {
      const source = typeof volume === 'string' ? volume.split(':')[0] : volume.source;
      assert.ok(
        source !== undefined && !source.startsWith('/') && !source.startsWith('.'),
        `bind mount ${source}`,
      );
    }
  });

  test('the Dockerfile builds on Node 24 in one stage and runs production dependencies as a non-root user in another', async () => {
    const text = await read('Dockerfile');
    const lines = text
      .replace(/\\\n/g, ' ')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    const image = /^ARG NODE_IMAGE=(\S+)$/m.exec(text)?.[1];
    assert.match(image ?? '', /^node:24(-|$)/, 'Node 24, the current LTS');
    const froms = lines.filter((l) => l.startsWith('FROM '));
    assert.deepEqual(froms, ['FROM ${NODE_IMAGE} AS build', 'FROM ${NODE_IMAGE}']);
    const runtime = lines.slice(lines.lastIndexOf(froms[1] ?? ''));
    assert.ok(runtime.some((l) => /^RUN npm ci --omit=dev\b/.test(l)));
    assert.ok(runtime.some((l) => l === 'COPY --from=build /src/dist ./dist'));
    assert.ok(!runtime.some((l) => /^COPY \. /.test(l)), 'no sources in the runtime stage');
    assert.equal(runtime.filter((l) => l.startsWith('USER ')).at(-1), 'USER node');
    assert.ok(runtime.some((l) => l.startsWith('HEALTHCHECK ') && l.includes('/healthz')));
    assert.ok(runtime.includes('STOPSIGNAL SIGTERM'));
    assert.ok(runtime.some((l) => l.startsWith('VOLUME /var/lib/tether')));
    assert.ok(runtime.some((l) => l.includes('TETHER_STATE_DIR=/var/lib/tether')));
  });
});
