import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
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
    // Hardening must leave the serial devices reachable.
    assert.equal(one('PrivateDevices'), undefined);
    assert.equal(unit.get('Install')?.get('WantedBy')?.[0], 'multi-user.target');
  });

  test('the compose file restarts unless stopped, reaches USB serial devices, keeps state and checks /healthz', async () => {
    const compose = parse(await read('compose.yaml')) as {
      services: Record<string, Record<string, unknown>>;
      volumes?: Record<string, unknown>;
    };
    const service = compose.services['tether'];
    assert.ok(service, 'a tether service');
    assert.equal(service['restart'], 'unless-stopped');
    const rules = (service['device_cgroup_rules'] ?? []) as string[];
    const devices = (service['devices'] ?? []) as string[];
    assert.ok(
      devices.length > 0 || (rules.includes('c 166:* rmw') && rules.includes('c 188:* rmw')),
      'access to ttyACM and ttyUSB devices',
    );
    const volumes = service['volumes'] as Array<string | { target?: string }>;
    assert.ok(volumes.includes('tether-state:/var/lib/tether'));
    assert.ok(compose.volumes && 'tether-state' in compose.volumes);
    const env = service['environment'] as Record<string, string>;
    assert.equal(env['TETHER_STATE_DIR'], '/var/lib/tether');
    // Reachable from outside the container, so never without a token.
    assert.equal(env['TETHER_HTTP__HOST'], '0.0.0.0');
    assert.match(env['TETHER_HTTP__TOKEN'] ?? '', /^\$\{TETHER_HTTP_TOKEN:\?/);
    const healthcheck = service['healthcheck'] as { test: string[] };
    assert.ok(healthcheck.test.join(' ').includes('http://127.0.0.1:8331/healthz'));
    assert.ok(seconds(String(service['stop_grace_period'])) > SHUTDOWN_BOUND_S);
  });

  test('the Dockerfile builds in one stage and runs production dependencies as a non-root user in another', async () => {
    const lines = (await read('Dockerfile'))
      .replace(/\\\n/g, ' ')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    const froms = lines.filter((l) => l.startsWith('FROM '));
    assert.equal(froms.length, 2);
    assert.match(froms[0] ?? '', /^FROM node:20-slim AS build$/);
    const runtime = lines.slice(lines.lastIndexOf(froms[1] ?? ''));
    assert.ok(runtime.some((l) => /^RUN npm ci --omit=dev\b/.test(l)));
    assert.ok(runtime.some((l) => l === 'COPY --from=build /src/dist ./dist'));
    assert.ok(!runtime.some((l) => /^COPY \. /.test(l)), 'no sources in the runtime stage');
    assert.equal(runtime.filter((l) => l.startsWith('USER ')).at(-1), 'USER node');
    assert.ok(runtime.includes('STOPSIGNAL SIGTERM'));
    assert.ok(runtime.some((l) => l.startsWith('VOLUME /var/lib/tether')));
    assert.ok(runtime.some((l) => l.includes('TETHER_STATE_DIR=/var/lib/tether')));
  });
});
