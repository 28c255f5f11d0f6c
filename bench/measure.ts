/**
 * The benches' measuring tools: percentiles, one-at-a-time and in-flight
 * loops, and alternating rounds so two sides of a comparison share the
 * machine's moods. Every bench measures the same way.
 */
import { performance } from 'node:perf_hooks';

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export function summarize(samples: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN };
}

export function median(values: number[]): number {
  return summarize(values).p50;
}

/** Round-trip samples in µs, one call at a time. */
export async function sequential(call: (i: number) => Promise<unknown>, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const t = performance.now();
    await call(i);
    samples.push((performance.now() - t) * 1000);
  }
  return samples;
}

/** Keeps `width` calls outstanding until `total` have completed; returns calls per second. */
export async function throughput(
  call: (i: number) => Promise<unknown>,
  total: number,
  width: number,
): Promise<number> {
  let issued = 0;
  const started = performance.now();
  const lane = async (): Promise<void> => {
    while (issued < total) {
      issued += 1;
      await call(issued);
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
  return total / ((performance.now() - started) / 1000);
}

/**
 * Runs two sides in alternating rounds after one warm-up round each, and
 * alternates which goes first too, so neither gets the machine's quieter
 * moments, a warmer JIT, or always follows the other's garbage. Returns all
 * samples of each side.
 */
export async function interleaved<T>(
  rounds: number,
  a: () => Promise<T[]>,
  b: () => Promise<T[]>,
): Promise<[T[], T[]]> {
  await a();
  await b();
  const outA: T[] = [];
  const outB: T[] = [];
  for (let round = 0; round < rounds; round += 1) {
    if (round % 2 === 0) {
      outA.push(...(await a()));
      outB.push(...(await b()));
    } else {
      outB.push(...(await b()));
      outA.push(...(await a()));
    }
  }
  return [outA, outB];
}
