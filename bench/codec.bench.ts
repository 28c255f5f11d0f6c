/**
 * Codec benchmark: decode throughput (MB/s) on a realistic controller stream,
 * and heap bytes allocated per decoded frame.
 *
 *     npm run build && node dist/bench/codec.bench.js
 *
 * The stream: BLOCK_READ-style responses with a block payload of a dozen
 * fields (every 20th a BLOCK_LIST of 10 blocks), a log annotation between
 * lines after every 4th frame, and one inside the data line of every 5th
 * frame. It is decoded in chunks of 64 bytes (a serial read), 4 KiB and
 * 64 KiB (TCP reads).
 *
 * Allocation: the script re-runs itself with --expose-gc and a 64 MiB young
 * generation. For each batch of 100 frames it collects garbage, reads
 * `process.memoryUsage().heapUsed`, decodes the batch (the listener keeps
 * nothing), and reads it again: with no collection inside the batch, the
 * growth is what the batch allocated. The median over 200 batches is
 * reported, next to a baseline that only does what any decoder must do
 * (`toString` + `JSON.parse` of each frame's JSON), so the decoder's own
 * overhead is the difference.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ResponseDecoder, encodeLog, encodeResponse, type JsonObject } from '../protocol/index.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  const result = spawnSync(
    process.execPath,
    ['--expose-gc', '--max-semi-space-size=64', fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  process.exit(result.status ?? 1);
}
const collect: () => void = gc;

// ------------------------------------------------------------- the stream

function block(id: number): JsonObject {
  return {
    id,
    type: 'ActuatorPwm',
    data: {
      constrainedBy: { constraints: [{ min: 0 }, { max: 100 }] },
      desiredSetting: 42.5 + (id % 7),
      setting: 42.5,
      value: 41.875,
      period: 4000,
      enabled: true,
      actuatorId: id + 1,
      claimedBy: 0,
      name: `Heater ${id}`,
      settingMode: 'STORED',
      strippedFields: [],
      transitionDurationSetting: 0,
    },
  };
}

/** One segment per frame: the frame's bytes with its annotations, so batches hold whole frames. */
function segments(frames: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < frames; i++) {
    const msgId = (i % 65535) + 1;
    const payload =
      i % 20 === 0 ? Array.from({ length: 10 }, (_, k) => block(100 + k)) : block(100 + (i % 50));
    let frame = encodeResponse({ msgId, error: 'OK', payload });
    if (i % 5 === 0) {
      const at = Math.floor(frame.length / 2);
      frame = Buffer.concat([frame.subarray(0, at), encodeLog('DEBUG', `tick ${i}`), frame.subarray(at)]);
    }
    out.push(i % 4 === 0 ? Buffer.concat([frame, encodeLog('INFO', `cycle ${i} done in 12 ms`)]) : frame);
  }
  return out;
}

// ------------------------------------------------------------- throughput

function throughput(stream: Buffer, chunkSize: number, expectedFrames: number): number {
  const runs: number[] = [];
  for (let run = 0; run < 7; run++) {
    let frames = 0;
    const decoder = new ResponseDecoder((o) => {
      if (o.kind === 'frame') frames++;
    });
    const started = process.hrtime.bigint();
    for (let at = 0; at < stream.length; at += chunkSize) decoder.push(stream.subarray(at, at + chunkSize));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (frames !== expectedFrames) throw new Error(`decoded ${frames} frames, expected ${expectedFrames}`);
    if (run >= 2) runs.push(stream.length / 1e6 / seconds); // the first runs warm the JIT up
  }
  return median(runs);
}

// ------------------------------------------------------------ allocation

const BATCH = 100;
const BATCHES = 200;

function allocationPerFrame(segs: Buffer[]): { decoder: number; baseline: number } {
  const batches: Buffer[] = [];
  for (let b = 0; b < BATCHES; b++) batches.push(Buffer.concat(segs.slice(b * BATCH, (b + 1) * BATCH)));
  // The baseline's inputs: each frame's JSON bytes, as the decoder would hold them.
  const jsonOf = batches.map((batch) => {
    const lines: Buffer[] = [];
    const d = new ResponseDecoder((o) => {
      if (o.kind === 'frame') lines.push(Buffer.from(JSON.stringify(o.frame)));
    });
    d.push(batch);
    return lines;
  });

  let sink: unknown;
  const decoder = new ResponseDecoder((o) => {
    sink = o;
  });
  const perFrame = (work: (b: number) => void): number => {
    const samples: number[] = [];
    for (let warm = 0; warm < 20; warm++) work(warm % BATCHES);
    for (let b = 0; b < BATCHES; b++) {
      collect();
      const before = process.memoryUsage().heapUsed;
      work(b);
      const grown = process.memoryUsage().heapUsed - before;
      if (grown > 0) samples.push(grown / BATCH);
    }
    return median(samples);
  };
  const decoderBytes = perFrame((b) => decoder.push(batches[b]!));
  const baselineBytes = perFrame((b) => {
    for (const json of jsonOf[b]!) sink = JSON.parse(json.toString('utf8'));
  });
  void sink;
  return { decoder: decoderBytes, baseline: baselineBytes };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

// ------------------------------------------------------------------ main

const FRAMES = 30_000;
const segs = segments(FRAMES);
const stream = Buffer.concat(segs);
console.log(
  `codec bench: ${FRAMES} frames, ${(stream.length / 1e6).toFixed(1)} MB stream, ` +
    `${(stream.length / FRAMES).toFixed(0)} bytes/frame on average`,
);
for (const chunk of [64, 4096, 65536]) {
  const mbs = throughput(stream, chunk, FRAMES);
  console.log(
    `decode, ${String(chunk).padStart(5)}-byte chunks: ${mbs.toFixed(1)} MB/s (${((mbs * 1e6) / (stream.length / FRAMES) / 1000).toFixed(0)}k frames/s)`,
  );
}
{
  // What no decoder can avoid: turning each frame's JSON bytes into a value.
  const jsonLines: Buffer[] = [];
  new ResponseDecoder((o) => {
    if (o.kind === 'frame') jsonLines.push(Buffer.from(JSON.stringify(o.frame)));
  }).push(stream);
  const runs: number[] = [];
  for (let run = 0; run < 7; run++) {
    const started = process.hrtime.bigint();
    for (const line of jsonLines) JSON.parse(line.toString('utf8'));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (run >= 2) runs.push(stream.length / 1e6 / seconds);
  }
  console.log(
    `baseline, toString + JSON.parse of each frame alone: ${median(runs).toFixed(1)} MB/s of stream`,
  );
}
const alloc = allocationPerFrame(segs);
console.log(
  `allocated per frame: ${alloc.decoder.toFixed(0)} bytes decoding ` +
    `(baseline toString+JSON.parse alone: ${alloc.baseline.toFixed(0)} bytes; decoder overhead ${(alloc.decoder - alloc.baseline).toFixed(0)} bytes)`,
);
