/**
 * The folders are layers: a folder imports only the folders listed for it
 * here (the README's layout table says the same), so there is no cycle
 * between folders and the low layers (errors, runtime, supervisors) can be
 * used without the device service. Read from the TypeScript sources.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ERROR_CATALOGUE } from '../errors/index.js';

/** From dist/test/ back to the repository root. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Each production folder and the folders it may import (besides itself). */
export const ALLOWED_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  errors: [],
  runtime: ['errors'],
  supervisors: ['errors', 'runtime'],
  library: ['errors', 'runtime', 'supervisors'],
  system: ['errors', 'runtime'],
  config: ['errors', 'runtime', 'supervisors', 'system'],
  protocol: ['errors'],
  contracts: ['errors', 'runtime', 'protocol'],
  otel: ['errors', 'runtime', 'supervisors', 'config', 'contracts'],
  actors: ['errors', 'runtime', 'supervisors', 'system', 'config', 'protocol', 'contracts', 'otel'],
  tasks: ['errors', 'runtime', 'supervisors', 'system', 'config', 'protocol', 'contracts', 'otel'],
  kernel: [
    'errors',
    'runtime',
    'supervisors',
    'system',
    'config',
    'protocol',
    'contracts',
    'otel',
    'actors',
    'tasks',
  ],
  sim: ['errors', 'runtime', 'protocol', 'actors'],
  bridge: ['errors', 'runtime', 'actors', 'http'],
  http: ['errors', 'runtime', 'supervisors', 'config', 'protocol', 'contracts', 'otel', 'tasks', 'kernel'],
  cli: [
    'errors',
    'runtime',
    'supervisors',
    'system',
    'config',
    'protocol',
    'contracts',
    'otel',
    'actors',
    'tasks',
    'kernel',
    'sim',
    'bridge',
    'http',
  ],
};

function sources(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) found.push(...sources(path));
    else if (name.endsWith('.ts')) found.push(path);
  }
  return found;
}

/** Every relative import of a file, as the top-level folder it lands in. */
function importedFolders(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const folders: string[] = [];
  for (const match of text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const target = normalize(join(dirname(file), match[1]!));
    folders.push(target.split('/')[0]!);
  }
  return folders;
}

describe('layout', () => {
  it('every production folder imports only the layers below it', () => {
    const broken: string[] = [];
    for (const [folder, allowed] of Object.entries(ALLOWED_IMPORTS)) {
      for (const file of sources(folder)) {
        for (const target of importedFolders(file)) {
          if (target !== folder && !allowed.includes(target)) broken.push(`${file} imports ${target}/`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });

  it('every folder the build compiles is in the table', () => {
    const tsconfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] };
    const unlisted = tsconfig.include.filter(
      (name) => !(name in ALLOWED_IMPORTS) && !['bench', 'soak', 'fuzz', 'test'].includes(name),
    );
    assert.deepEqual(unlisted, []);
  });

  it('the allowed imports have no cycle', () => {
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (folder: string, path: string[]): void => {
      assert.ok(!visiting.has(folder), `cycle: ${[...path, folder].join(' -> ')}`);
      if (done.has(folder)) return;
      visiting.add(folder);
      for (const next of ALLOWED_IMPORTS[folder] ?? []) visit(next, [...path, folder]);
      visiting.delete(folder);
      done.add(folder);
    };
    for (const folder of Object.keys(ALLOWED_IMPORTS)) visit(folder, []);
  });

  it('every catalogued error code is raised or answered somewhere outside the catalogue', () => {
    const text = Object.keys(ALLOWED_IMPORTS)
      .flatMap((folder) => sources(folder))
      .filter((file) => file !== join('errors', 'catalogue.ts'))
      .map((file) => readFileSync(join(ROOT, file), 'utf8'))
      .join('\n');
    const unused = Object.keys(ERROR_CATALOGUE).filter((code) => !text.includes(`'${code}'`));
    assert.deepEqual(unused, []);
  });
});
