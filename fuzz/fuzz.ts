/**
 * `npm run fuzz`: the codec, the configuration loader and the HTTP API
 * under random and mutated inputs (see codec.ts, config.ts, http.ts for
 * what each checks). Without options it runs the full variant recorded in
 * docs/reliability.md (10^6 codec inputs); `--ci` runs the variant `npm
 * test` runs (10^5). Exits 1 if any target found a failure; each failure
 * names its shrunk counterexample and the seed that repeats it.
 *
 *     npm run fuzz                         # 10^6 codec, 20,000 config, 20,000 HTTP inputs
 *     npm run fuzz -- --ci                 # 10^5, 2,000, 2,000
 *     npm run fuzz -- --only codec --codec 5000 --seed 42
 */
import { randomInt } from 'node:crypto';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { fuzzCodec } from './codec.js';
import { fuzzConfig } from './config.js';
import { fuzzHttp } from './http.js';
import type { FuzzOutcome } from './outcome.js';

export const FULL = { codec: 1_000_000, config: 20_000, http: 20_000 } as const;
export const CI = { codec: 100_000, config: 2_000, http: 2_000 } as const;

const TARGETS = ['codec', 'config', 'http'] as const;
type Target = (typeof TARGETS)[number];

export async function runTarget(target: Target, runs: number, seed: number): Promise<FuzzOutcome> {
  switch (target) {
    case 'codec':
      return fuzzCodec({ runs, seed });
    case 'config':
      return fuzzConfig({ runs, seed });
    case 'http':
      return fuzzHttp({ runs, seed });
  }
}

export function outcomeText(outcome: FuzzOutcome): string {
  const lines = [
    `${outcome.target}: ${outcome.inputs.toLocaleString('en-US')} inputs in ${(outcome.ms / 1000).toFixed(1)} s, ` +
      `heap ${outcome.heapGrowthBytes >= 0 ? '+' : ''}${(outcome.heapGrowthBytes / 1048576).toFixed(1)} MiB, ` +
      `slowest input ${Math.round(outcome.slowestMs)} ms, ` +
      (outcome.failures.length === 0 ? 'no failure' : `${outcome.failures.length} FAILED`),
  ];
  for (const failure of outcome.failures) lines.push(`  ${failure.replace(/\n/g, '\n  ')}`);
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      ci: { type: 'boolean', default: false },
      only: { type: 'string' },
      codec: { type: 'string' },
      config: { type: 'string' },
      http: { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(`usage: npm run fuzz -- [--ci] [--only codec,config,http] [--codec N] [--config N] [--http N] [--seed S]
  --ci       the npm test variant (${CI.codec} codec, ${CI.config} config, ${CI.http} HTTP inputs);
             default the full one (${FULL.codec}, ${FULL.config}, ${FULL.http})
  --only     the targets to run, comma-separated
  --codec N, --config N, --http N   inputs for that target
  --seed S   the seed (default: random, printed)`);
    return 0;
  }
  const sizes = values.ci ? CI : FULL;
  const only = (values.only?.split(',') ?? [...TARGETS]).map((t) => t.trim());
  const unknown = only.filter((t) => !(TARGETS as readonly string[]).includes(t));
  if (unknown.length > 0) {
    console.error(`unknown target ${unknown.join(', ')} (targets: ${TARGETS.join(', ')})`);
    return 64;
  }
  const seed = values.seed === undefined ? randomInt(2 ** 31) : Number(values.seed);
  console.log(
    `fuzz: seed ${seed}, Node ${process.version}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  let failed = false;
  for (const target of TARGETS) {
    if (!only.includes(target)) continue;
    const runs = Number(values[target] ?? sizes[target]);
    const outcome = await runTarget(target, runs, seed);
    console.log(outcomeText(outcome));
    failed ||= outcome.failures.length > 0;
  }
  console.log(
    `load at the end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  return failed ? 1 : 0;
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
