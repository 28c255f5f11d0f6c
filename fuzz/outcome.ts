/**
 * What one fuzz target reports: how many inputs it ran and how long it
 * took, how much the heap grew across the run (after a full collection on
 * both sides), the slowest single input, and the failures fast-check found
 * (each with its shrunk counterexample and the seed that repeats it).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';

export interface FuzzOutcome {
  target: string;
  inputs: number;
  ms: number;
  /** Heap used after the run minus before it, both after a full collection. */
  heapGrowthBytes: number;
  /** The slowest single input, ms. */
  slowestMs: number;
  failures: string[];
}

/** A full collection, whether or not the process was started with --expose-gc. */
const collect: () => void = (() => {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed !== undefined) return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

export function heapUsed(): number {
  collect();
  collect();
  return process.memoryUsage().heapUsed;
}

/** Times each input so the slowest is known (an input that takes seconds is a finding too). */
export class Stopwatch {
  slowestMs = 0;

  time<T>(run: () => T): T {
    const started = performance.now();
    try {
      return run();
    } finally {
      this.slowestMs = Math.max(this.slowestMs, performance.now() - started);
    }
  }

  async timeAsync<T>(run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await run();
    } finally {
      this.slowestMs = Math.max(this.slowestMs, performance.now() - started);
    }
  }
}

/** Runs one property; a failure is returned as text: the error, the shrunk counterexample (cut short), the seed. */
export function check<Ts>(property: fc.IProperty<Ts>, numRuns: number, seed: number): string | undefined {
  if (numRuns <= 0) return undefined;
  return describe(fc.check(property, { numRuns, seed }));
}

export async function checkAsync<Ts>(
  property: fc.IAsyncProperty<Ts>,
  numRuns: number,
  seed: number,
): Promise<string | undefined> {
  if (numRuns <= 0) return undefined;
  return describe(await fc.check(property, { numRuns, seed }));
}

function describe<Ts>(details: fc.RunDetails<Ts>): string | undefined {
  if (!details.failed) return undefined;
  const error = details.errorInstance;
  const why = error instanceof Error ? error.message : String(error);
  const values: unknown[] =
    details.counterexample === null ? [] : [...(details.counterexample as unknown as unknown[])];
  const example = values.map((value) => short(fc.stringify(value))).join(', ');
  return `${why}\n    counterexample (after ${details.numShrinks} shrinks): ${example}\n    seed ${details.seed}, path "${short(details.counterexamplePath ?? '')}"`;
}

function short(text: string): string {
  return text.length <= 600 ? text : `${text.slice(0, 500)}... (${text.length} characters)`;
}
