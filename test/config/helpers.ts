/** Shared plumbing for the configuration tests: catching a ConfigError, temporary files, the example file. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  resolveConfig,
  type ConfigProblem,
  type DeepPartial,
  type TetherConfig,
} from '../../config/index.js';

/** From dist/test/config/ back to the repository root. */
export const EXAMPLE_FILE = fileURLToPath(new URL('../../../tether.example.yaml', import.meta.url));

/** Resolves `text` as the file `tether.yaml`, with no environment unless given. */
export function resolveText(
  text: string,
  env: NodeJS.ProcessEnv = {},
  overrides?: DeepPartial<TetherConfig>,
) {
  return resolveConfig({ file: 'tether.yaml', text, env, overrides });
}

/** The problems of the ConfigError `body` throws; fails the test when it throws nothing or something else. */
export function problemsOf(body: () => unknown): readonly ConfigProblem[] {
  try {
    body();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.code, 'TETHER_CONFIG_INVALID');
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

/** The single problem of a ConfigError; fails when there are none or several. */
export function onlyProblem(body: () => unknown): ConfigProblem {
  const problems = problemsOf(body);
  assert.equal(
    problems.length,
    1,
    `expected one problem, got:\n${problems.map((p) => JSON.stringify(p)).join('\n')}`,
  );
  return problems[0] as ConfigProblem;
}

/** A fresh directory for files; removed by the returned cleanup. */
export async function tempDir(): Promise<{
  dir: string;
  write: (name: string, text: string) => Promise<string>;
  remove: () => Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'tether-config-'));
  return {
    dir,
    write: async (name, text) => {
      const path = join(dir, name);
      await writeFile(path, text);
      return path;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Nine anchors, each a list of nine aliases of the one before: 9^9 strings once expanded. */
export const BILLION_LAUGHS = [
  'lol: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].map(
    (name, index) => `${name}: &${name} [${Array(9).fill(`*${'abcdefgh'[index]}`).join(',')}]`,
  ),
].join('\n');
