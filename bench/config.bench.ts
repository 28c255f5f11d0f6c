/**
 * Configuration under hostile input: how long the loader takes to refuse
 * what a careless or hostile file can hold, so "checked in seconds" is a
 * figure and not a hope.
 *
 *     npm run build && node dist/bench/config.bench.js
 *
 * Each case is the whole of `tether config check FILE` minus process start:
 * the bounded read (`readConfigFile`) of a file written to a temporary
 * directory, then `checkConfigText`; one case gives the loader a text past
 * the size bound directly, to time the loader alone. Five rounds, the median and the worst
 * reported, each case on its own in turn so they share the machine's moods.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ConfigError, MAX_CONFIG_BYTES, checkConfigText, readConfigFile } from '../config/index.js';
import { summarize } from './measure.js';

const ROUNDS = 5;

function unknownKeys(count: number): string {
  return `http:\n${Array.from({ length: count }, (_, i) => `  unknown${i}: ${i}`).join('\n')}\n`;
}

/** As many unknown keys as fit in the size bound: the most work one accepted file can ask for. */
function fullOfKeys(): string {
  const lines: string[] = ['http:'];
  let size = 6;
  for (let i = 0; ; i += 1) {
    const line = `  k${i}: ${i}`;
    if (size + line.length + 1 > MAX_CONFIG_BYTES) break;
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join('\n')}\n`;
}

const laughs = [
  'lol: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].map(
    (name, index) => `${name}: &${name} [${Array(9).fill(`*${'abcdefgh'[index]}`).join(',')}]`,
  ),
].join('\n');

/** `inMemory`: the text goes to the loader directly, past the file's size bound, to time the loader alone. */
const CASES: Array<{ name: string; text: () => string; inMemory?: boolean }> = [
  { name: 'example-sized file (valid)', text: () => 'discovery:\n  mode: tcp\nhttp:\n  port: 9000\n' },
  { name: '10,000 unknown keys', text: () => unknownKeys(10_000) },
  { name: '40,000 unknown keys (over the bound: refused by size)', text: () => unknownKeys(40_000) },
  { name: '40,000 unknown keys, loader alone', text: () => unknownKeys(40_000), inMemory: true },
  { name: 'unknown keys up to the size bound (256 KiB)', text: fullOfKeys },
  { name: 'billion laughs', text: () => `${laughs}\n` },
  { name: '50 MB file (refused by size)', text: () => '#'.repeat(50 * 1024 * 1024) },
];

const dir = await mkdtemp(join(tmpdir(), 'tether-config-bench-'));
try {
  const files = new Map<string, string>();
  for (const [index, { name, text }] of CASES.entries()) {
    const file = join(dir, `case${index}.yaml`);
    await writeFile(file, text());
    files.set(name, file);
  }
  const samples = new Map<string, number[]>(CASES.map(({ name }) => [name, []]));
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const { name, text, inMemory } of CASES) {
      const file = files.get(name) ?? '';
      const source = inMemory === true ? text() : undefined;
      const started = performance.now();
      let outcome = 'ok';
      try {
        checkConfigText(file, source ?? (await readConfigFile(file)));
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        outcome = `${error.problems.length} problems listed`;
      }
      samples.get(name)?.push(performance.now() - started);
      if (round === 0) console.log(`${name}: ${outcome}`);
    }
  }
  console.log(`\n| case | median ms | worst ms |\n|---|---|---|`);
  for (const { name } of CASES) {
    const { p50, max } = summarize(samples.get(name) ?? []);
    console.log(`| ${name} | ${p50.toFixed(1)} | ${max.toFixed(1)} |`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
