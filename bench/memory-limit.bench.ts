/**
 * Which single allocations a worker's heap limit contains and which abort
 * the whole process (docs/decisions/0012-memory-limit-containment.md). Each
 * case runs in a process of its own, since the bad ones abort it:
 *
 *   npm run build && node dist/bench/memory-limit.bench.js [limitMb]
 *
 * Prints one line per shape: for each size, `lives` (under the limit), `oom`
 * (the worker ended alone, ERR_WORKER_OUT_OF_MEMORY) or `ABORT` (SIGABRT).
 * `map` is a Map of size × 32768 number entries, not that many MB.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const SHAPES = {
  array: 'held = new Array(mb * 131072).fill(0);',
  doubles: 'held = new Array(mb * 131072).fill(0.5);',
  map: 'held = new Map(); for (let i = 0; i < mb * 32768; i++) held.set(i, i);',
  typed: 'held = new Float64Array(mb * 131072);',
} as const;
type Shape = keyof typeof SHAPES;
const SIZES_MB = [32, 56, 72, 80, 96, 128];

/** In the child: one allocation of `mb` MB held by a worker that then goes on making small garbage. */
function child(shape: Shape, mb: number, limitMb: number): void {
  const code = `
const { parentPort } = require('node:worker_threads');
const mb = ${mb};
let held;
${SHAPES[shape]}
let junk = [];
setInterval(() => { junk = []; for (let i = 0; i < 1000; i++) junk.push({ i }); }, 1);
setTimeout(() => { parentPort.postMessage(held !== undefined); process.exit(0); }, 1000);`;
  const worker = new Worker(code, {
    eval: true,
    resourceLimits: { maxOldGenerationSizeMb: limitMb, maxYoungGenerationSizeMb: 16 },
  });
  let outcome = 'lives';
  worker.on('error', (error: Error & { code?: string }) => {
    outcome = error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'oom' : `error ${error.code}`;
  });
  worker.on('exit', () => console.log(outcome));
}

function run(shape: Shape, mb: number, limitMb: number): string {
  const self = fileURLToPath(import.meta.url);
  // No core file: an abort is one of the outcomes measured.
  const result = spawnSync(
    'sh',
    [
      '-c',
      'ulimit -c 0; exec "$0" "$@"',
      process.execPath,
      self,
      'child',
      shape,
      String(mb),
      String(limitMb),
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  if (result.signal === 'SIGABRT') return 'ABORT';
  return result.stdout.trim().split('\n').at(-1) ?? `exit ${result.status}`;
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'child') {
  child(rest[0] as Shape, Number(rest[1]), Number(rest[2]));
} else {
  const limitMb = Number(mode ?? 64);
  console.log(
    `Node ${process.version}, maxOldGenerationSizeMb ${limitMb}; one allocation of ${SIZES_MB.join(' / ')} MB`,
  );
  for (const shape of Object.keys(SHAPES) as Shape[]) {
    console.log(`${shape.padEnd(8)} ${SIZES_MB.map((mb) => run(shape, mb, limitMb).padEnd(6)).join(' ')}`);
  }
}
