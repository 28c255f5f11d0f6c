/**
 * State-file benchmark: what loading the block datastore costs inside a
 * worker with the synchronization actor's default heap limits (64 MB old
 * generation, 16 MB young), for an ordinary store, a valid store just under
 * the size bound (MAX_BLOCKS_FILE_BYTES), and the hostile files the load
 * refuses (a 150 MB file, a FIFO) — each set aside and replaced.
 *
 *     npm run build && node dist/bench/state-file.bench.js
 *
 * Reported per case: the file's size, the median and worst time of one
 * `FileDatastore.load` over the rounds, and the worker's peak heap in use
 * (sampled right after each load, the store still referenced). Results are
 * written in docs/performance.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { FileDatastore, MAX_BLOCKS_FILE_BYTES } from '../actors/synchronization/datastore.js';
import type { Block } from '../protocol/index.js';

const DEVICE = '123456789012345678901234';
const ROUNDS = 20;

interface CaseResult {
  name: string;
  bytes: number;
  medianMs: number;
  maxMs: number;
  peakHeapMb: number;
  outcome: string;
}

/** A block as a controller's looks: a dozen fields, a link, a nested object. */
function block(id: number): Block {
  return {
    id,
    type: 'ActuatorPwm',
    data: {
      name: `Fermenter heater ${id}`,
      enabled: true,
      desiredSetting: 42.5,
      setting: 42.5,
      value: 41.8,
      period: 4000,
      actuatorId: { id: id + 1, type: 'DigitalActuator' },
      constrainedBy: {
        constraints: [{ min: 0 }, { max: 100 }, { balanced: { balancerId: 7, granted: 40 } }],
      },
      claimedBy: null,
      settingMode: 'STORED',
      groups: [0, 1],
      deviceId: DEVICE,
    },
  };
}

function storeText(blocks: Block[]): string {
  return `${JSON.stringify({ format: 1, deviceId: DEVICE, blocks, savedAt: null }, null, 2)}\n`;
}

async function runCase(
  name: string,
  dir: string,
  prepare: (path: string) => Promise<void>,
): Promise<CaseResult> {
  const datastore = new FileDatastore(dir);
  const path = datastore.pathFor(DEVICE);
  const times: number[] = [];
  let peak = 0;
  let bytes = 0;
  let outcome = '';
  for (let round = 0; round < ROUNDS; round += 1) {
    await rm(path, { force: true });
    await prepare(path);
    bytes = (await stat(path)).size;
    const started = performance.now();
    const loaded = await datastore.load(DEVICE);
    times.push(performance.now() - started);
    peak = Math.max(peak, process.memoryUsage().heapUsed);
    outcome =
      loaded.recovered === undefined
        ? `read, ${loaded.store.blocks.length} blocks`
        : `set aside (${loaded.recovered.code})`;
    // Keep the directory small: drop what was set aside.
    if (loaded.recovered !== undefined) await rm(loaded.recovered.setAsideAs, { force: true });
  }
  times.sort((a, b) => a - b);
  return {
    name,
    bytes,
    medianMs: times[Math.floor(times.length / 2)] ?? 0,
    maxMs: times.at(-1) ?? 0,
    peakHeapMb: peak / 1024 / 1024,
    outcome,
  };
}

async function inWorker(): Promise<CaseResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'tether-state-bench-'));
  try {
    const ordinary = storeText(Array.from({ length: 200 }, (_, i) => block(100 + i)));
    // As many blocks as fit under the bound.
    const perBlock = Buffer.byteLength(storeText([block(100)])) - Buffer.byteLength(storeText([]));
    const fitting = Math.floor((MAX_BLOCKS_FILE_BYTES - 200) / (perBlock + 2));
    const nearBound = storeText(Array.from({ length: fitting }, (_, i) => block(100 + i)));
    if (Buffer.byteLength(nearBound) > MAX_BLOCKS_FILE_BYTES) throw new Error('near-bound store too large');
    return [
      await runCase('200 blocks (the simulator full)', dir, (path) => writeFile(path, ordinary)),
      await runCase(`${fitting} blocks (just under the bound)`, dir, (path) => writeFile(path, nearBound)),
      await runCase('150 MB file (sparse)', dir, async (path) => {
        const file = await open(path, 'w');
        await file.truncate(150 * 1024 * 1024);
        await file.close();
      }),
      await runCase('FIFO', dir, (path) => {
        execFileSync('mkfifo', [path]);
        return Promise.resolve();
      }),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (isMainThread) {
  const worker = new Worker(fileURLToPath(import.meta.url), {
    resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 },
  });
  const results = await new Promise<CaseResult[]>((resolve, reject) => {
    worker.once('message', (message: CaseResult[]) => resolve(message));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the worker exited (${code}) before answering`)));
  });
  await worker.terminate();
  console.log(`datastore load in a worker with 64 MB old / 16 MB young heap, ${ROUNDS} rounds each`);
  console.log('case | file size | median ms | worst ms | peak heap MB | outcome');
  for (const r of results) {
    console.log(
      `${r.name} | ${(r.bytes / 1024).toFixed(0)} KiB | ${r.medianMs.toFixed(2)} | ${r.maxMs.toFixed(2)} | ` +
        `${r.peakHeapMb.toFixed(1)} | ${r.outcome}`,
    );
  }
} else {
  parentPort?.postMessage(await inWorker());
}
