#!/usr/bin/env node
// The README's test command ends here (after `npm run build`): make sure the
// system packages the tests need are present, then run every compiled test
// file with Node's own test runner.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * System packages the tests use for real (not mocked): command -> Debian
 * package. socat: pseudo-terminal pairs and the systemd notify socket;
 * systemd-analyze: checks deploy/tether.service; script: a real terminal for
 * the CLI's readable log lines; mosquitto: the MQTT broker the tests start
 * on a free port of their own; openssl: the throwaway CA and certificate of
 * the TLS (mqtts://) broker (test/mqtt/certificates.ts).
 */
const systemPackages = {
  socat: 'socat',
  'systemd-analyze': 'systemd',
  script: 'bsdutils',
  mosquitto: 'mosquitto',
  openssl: 'openssl',
};

/** Daemons live in /usr/sbin, which a user's PATH may leave out. */
const SBIN = ['/usr/sbin', '/usr/local/sbin'];

function has(command) {
  if (spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0) return true;
  return SBIN.some((dir) => existsSync(join(dir, command)));
}

const missing = Object.entries(systemPackages).filter(([command]) => !has(command));
if (missing.length > 0) {
  const names = missing.map(([, pkg]) => pkg).join(' ');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && has('apt-get')) {
    console.log(`installing system packages the tests need: ${names}`);
    execFileSync(
      'sh',
      [
        '-c',
        `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${names}`,
      ],
      { stdio: 'inherit' },
    );
  } else {
    console.error(`tests need: ${names} (install with: sudo apt-get install -y ${names})`);
    process.exit(1);
  }
}

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith('.test.js')) found.push(path);
  }
  return found.sort();
}

// Optional filter: `npm test -- supervisors` runs only matching files.
const filters = process.argv.slice(2);
// Only compiled tests whose source still exists: the build does not delete
// the output of a removed or renamed test, and a stale one must not run.
const hasSource = (f) => existsSync(f.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
const files = findTests('dist/test').filter(
  (f) => hasSource(f) && (filters.length === 0 || filters.some((s) => f.includes(s))),
);
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// The soak and the fuzz run for minutes by design (npm run soak -- --minutes 2, npm run fuzz -- --ci):
// they run last, on their own, with a bound of their length; every other file keeps a 3-minute bound (a hang guard, not a figure).
const isLong = (f) => /\/(soak\/soak|fuzz\/fuzz)\.test\.js$/.test(f);
/** TETHER_TEST_CONCURRENCY=1 runs one file at a time (to tell a load-dependent failure apart). */
const CONCURRENCY = Number(process.env.TETHER_TEST_CONCURRENCY ?? 2);
const runs = [
  { files: files.filter((f) => !isLong(f)), timeoutMs: 180_000, concurrency: CONCURRENCY },
  // One at a time: the fuzz's CPU would count against the soak's recovery deadlines.
  { files: files.filter(isLong), timeoutMs: 20 * 60_000, concurrency: 1 },
];
let status = 0;
for (const { files: group, timeoutMs, concurrency } of runs) {
  if (group.length === 0) continue;
  const result = spawnSync(
    process.execPath,
    [
      '--enable-source-maps',
      '--test',
      // Two files at a time: most of a test's time is waiting (sockets, threads starting, timers),
      // and Node's default on 2 cores is one file at a time.
      `--test-concurrency=${concurrency}`,
      `--test-timeout=${timeoutMs}`,
      '--test-reporter=spec',
      ...group,
    ],
    { stdio: 'inherit' },
  );
  if (result.status !== 0) status = result.status ?? 1;
}
process.exit(status);
