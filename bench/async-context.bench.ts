/**
 * What an AsyncLocalStorage costs an actor's thread, on the Node running it.
 *
 *     npm run build && node dist/bench/async-context.bench.js
 *
 * An actor handler in the runtime's 'async' trace-context mode runs inside
 * `AsyncLocalStorage.run` (runtime/worker/bootstrap.ts), so its context
 * follows every await. Up to Node 22 (by default) AsyncLocalStorage is built
 * on async hooks: once one is in use, every promise the thread makes pays
 * for a hook, in or out of a `run`. Node 24 builds it on AsyncContextFrame
 * (V8's continuation-preserved embedder data): no hooks, a context is one
 * pointer carried with each continuation.
 *
 * Each mode runs in a fresh process (hooks, once installed, stay for the
 * process): `plain` (no AsyncLocalStorage), `als` (handlers inside
 * `run`). A handler awaits 10 resolved promises; 20,000 handlers per round,
 * 15 rounds after 5 of warm-up, median reported as CPU time (user + system)
 * per awaited promise.
 */
import { spawnSync } from 'node:child_process';
import { AsyncLocalStorage } from 'node:async_hooks';
import { fileURLToPath } from 'node:url';

const AWAITS = 10;
const HANDLERS = 20_000;
const ROUNDS = 15;
const WARMUP = 5;

type Mode = 'plain' | 'als';

async function handler(): Promise<number> {
  let n = 0;
  for (let i = 0; i < AWAITS; i++) n += await Promise.resolve(i);
  return n;
}

async function child(mode: Mode): Promise<void> {
  const store = new AsyncLocalStorage<string>();
  const run = mode === 'als' ? () => store.run('00-trace-span-01', handler) : handler;
  const perAwaitNs: number[] = [];
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    const before = process.cpuUsage();
    const pending: Array<Promise<number>> = [];
    for (let i = 0; i < HANDLERS; i++) pending.push(run());
    await Promise.all(pending);
    const used = process.cpuUsage(before);
    if (round >= WARMUP) perAwaitNs.push(((used.user + used.system) * 1000) / (HANDLERS * AWAITS));
  }
  perAwaitNs.sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({ mode, ns: perAwaitNs[Math.floor(perAwaitNs.length / 2)] }));
}

function main(): void {
  const results = new Map<Mode, number>();
  for (const mode of ['plain', 'als'] as const) {
    const out = spawnSync(process.execPath, [fileURLToPath(import.meta.url), mode], { encoding: 'utf8' });
    if (out.status !== 0) throw new Error(`${mode}: ${out.stderr}`);
    results.set(mode, (JSON.parse(out.stdout) as { ns: number }).ns);
  }
  const plain = results.get('plain') ?? NaN;
  const als = results.get('als') ?? NaN;
  console.log(`Node ${process.version}: CPU per awaited promise, median of ${ROUNDS} rounds`);
  console.log(`  no AsyncLocalStorage        ${plain.toFixed(0)} ns`);
  console.log(`  inside AsyncLocalStorage.run ${als.toFixed(0)} ns  (${(als / plain).toFixed(2)}x)`);
}

const mode = process.argv[2];
if (mode === 'plain' || mode === 'als') await child(mode);
else main();
