/**
 * The package from outside, as docs/runtime.md tells a new user to use it:
 * `npm pack` this repository, install the tarball into a new npm project
 * in a temporary folder, write the guide's files there (every code block
 * marked `file=...`, read from the guide itself, so guide and test cannot
 * drift), compile them with TypeScript against the package's own types, run
 * the program and compare what it prints with the guide's `output` block.
 *
 * Packed with --ignore-scripts: `npm test` has just built dist/, and the
 * package's prepack (a clean build) would delete dist/ under the other test
 * files running at the same time.
 *
 * Installed with `npm ci` from a lock file made from this repository's
 * own: the guide's `npm install`s, but with the versions this repository
 * is tested with, and from npm's cache (which this repository's `npm ci`
 * filled), so it takes seconds, needs no network and cannot pick up a
 * dependency release nobody has tried.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/** From dist/test/library/ back to the repository root. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const GUIDE = join(ROOT, 'docs', 'runtime.md');

/** Generous bounds for a loaded 2-core machine: a step that overruns one has hung. */
const NPM_TIMEOUT_MS = 90_000;
const RUN_TIMEOUT_MS = 30_000;

interface Guide {
  /** Each `file=` path with its content (the blocks of one file joined in order). */
  files: Map<string, string>;
  /** The lines of the `output` block. */
  output: string[];
}

/** The code blocks of the guide this test runs: ```lang file=path and ```text output. */
function readGuide(markdown: string): Guide {
  const files = new Map<string, string>();
  let output: string[] | undefined;
  for (const match of markdown.matchAll(/^```(\S+)([^\n]*)\n([\s\S]*?)^```$/gm)) {
    const info = match[2]!.trim();
    const body = match[3]!;
    const file = /^file=(\S+)$/.exec(info)?.[1];
    if (file !== undefined) files.set(file, (files.has(file) ? `${files.get(file)!}\n` : '') + body);
    else if (info === 'output') output = body.trimEnd().split('\n');
  }
  assert.ok(output !== undefined, 'the guide has no output block');
  return { files, output };
}

/**
 * The environment for a nested npm: that of the user (registry, cache, CA
 * settings), without what the npm running this test says about this
 * repository (its prefix, its package, its script), which would make the
 * nested npm act on the repository instead of the new project.
 */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    const lower = key.toLowerCase();
    if (lower === 'init_cwd' || lower === 'npm_config_local_prefix' || lower === 'npm_config_call') continue;
    if (lower.startsWith('npm_') && !lower.startsWith('npm_config_')) continue;
    env[key] = value;
  }
  return env;
}

interface Ran {
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd, env: npmEnv(), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null) {
          reject(new Error(`${command} ${args.join(' ')} failed:\n${stderr}\n${stdout}`, { cause: error }));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}

/** The npm running this test when there is one (same npm, same Node), else the one on PATH. */
function npm(args: readonly string[], cwd: string): Promise<Ran> {
  const cli = process.env['npm_execpath'];
  return cli !== undefined && cli.endsWith('.js')
    ? run(process.execPath, [cli, ...args], cwd, NPM_TIMEOUT_MS)
    : run('npm', args, cwd, NPM_TIMEOUT_MS);
}

interface LockEntry {
  version?: string;
  dev?: boolean;
  devOptional?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [key: string]: unknown;
}

/** What the guide's `npm install`s add to the new project: the tarball, and TypeScript with Node's types. */
const DEV_DEPENDENCIES = { typescript: '~5.9.3', '@types/node': '^20.19.43' };

/**
 * Adds to the project's package.json (the guide's) what the guide's `npm
 * install`s would, and writes the lock file they would, with this
 * repository's versions: the tarball, every package of this repository's
 * lock that its dependencies reach, and those TypeScript and @types/node
 * reach (marked dev).
 */
async function lockLikeThisRepository(project: string, tarball: string, tarballBytes: Buffer): Promise<void> {
  const ours = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
    license: string;
    dependencies: Record<string, string>;
    bin: Record<string, string>;
    engines: Record<string, string>;
  };
  const repoLock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const entries = repoLock.packages;
  /** Node's resolution, within the lock's paths: the nearest node_modules/<name> up from `from`. */
  const resolve = (from: string, name: string): string | undefined => {
    for (let at = from; ;) {
      const candidate = `${at === '' ? '' : `${at}/`}node_modules/${name}`;
      if (candidate in entries) return candidate;
      if (at === '') return undefined;
      const parent = at.lastIndexOf('/node_modules/');
      at = parent < 0 ? '' : at.slice(0, parent);
    }
  };
  const reach = (names: readonly string[]): Set<string> => {
    const seen = new Set<string>();
    const stack = names.map((name) => resolve('', name)).filter((path) => path !== undefined);
    for (let path = stack.pop(); path !== undefined; path = stack.pop()) {
      if (seen.has(path)) continue;
      seen.add(path);
      const entry = entries[path]!;
      for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
        const found = resolve(path, name);
        if (found !== undefined) stack.push(found);
      }
    }
    return seen;
  };
  const production = reach(Object.keys(ours.dependencies));
  const development = reach(Object.keys(DEV_DEPENDENCIES));

  const manifestPath = join(project, 'package.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>;
  manifest['dependencies'] = { tether: `file:../${tarball}` };
  manifest['devDependencies'] = DEV_DEPENDENCIES;
  await writeFile(manifestPath, JSON.stringify(manifest, null, 2));

  const packages: Record<string, unknown> = {
    '': { name: manifest['name'], dependencies: manifest['dependencies'], devDependencies: DEV_DEPENDENCIES },
    'node_modules/tether': {
      version: ours.version,
      resolved: `file:../${tarball}`,
      integrity: `sha512-${createHash('sha512').update(tarballBytes).digest('base64')}`,
      license: ours.license,
      dependencies: ours.dependencies,
      bin: ours.bin,
      engines: ours.engines,
    },
  };
  for (const path of [...new Set([...production, ...development])].sort()) {
    const { dev: _dev, devOptional: _devOptional, ...entry } = entries[path]!;
    packages[path] = production.has(path) ? entry : { ...entry, dev: true };
  }
  const lock = { name: manifest['name'], lockfileVersion: 3, requires: true, packages };
  await writeFile(join(project, 'package-lock.json'), JSON.stringify(lock, null, 2));
}

// Its own bound, above the per-test default: packing and installing are one step of several seconds each.
describe('the package, installed from its tarball into a new project', { timeout: 240_000 }, () => {
  let work: string;
  let project: string;
  let packed: { filename: string; files: Array<{ path: string }> };
  let guide: Guide;

  before(async () => {
    guide = readGuide(await readFile(GUIDE, 'utf8'));
    work = await mkdtemp(join(tmpdir(), 'tether-pack-'));
    const pack = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT);
    [packed] = JSON.parse(pack.stdout) as [typeof packed];
    project = join(work, 'project');
    await mkdir(project);
    for (const [path, content] of guide.files) {
      await mkdir(dirname(join(project, path)), { recursive: true });
      await writeFile(join(project, path), content);
    }
    await lockLikeThisRepository(project, packed.filename, await readFile(join(work, packed.filename)));
    await npm(['ci', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], project);
  });

  after(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it("compiles the guide's example against the package's types and prints what the guide shows", async () => {
    assert.ok(guide.files.has('src/main.ts') && guide.files.has('tsconfig.json'));
    await run(
      process.execPath,
      [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'],
      project,
      NPM_TIMEOUT_MS,
    );
    // It must end by itself: a thread, timer or handle left open would keep it running to the timeout.
    const { stdout } = await run(process.execPath, ['dist/main.js'], project, RUN_TIMEOUT_MS);
    assert.deepEqual(stdout.trimEnd().split('\n'), guide.output);
  });

  it('reaches only its entries: a file inside it is not importable', async () => {
    const probe = `
      await import('tether/runtime');
      await import('tether/actor');
      await import('tether/supervisors');
      try { await import('tether/dist/runtime/system.js'); console.log('imported'); }
      catch (error) { console.log(error.code); }`;
    const { stdout } = await run(
      process.execPath,
      ['--input-type=module', '-e', probe],
      project,
      RUN_TIMEOUT_MS,
    );
    assert.equal(stdout.trim(), 'ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it('installs the tether command, which runs', async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const { stdout } = await run(
      join(project, 'node_modules', '.bin', 'tether'),
      ['--version'],
      project,
      RUN_TIMEOUT_MS,
    );
    assert.equal(stdout.trim(), version);
  });

  it('holds the built code and its types, without tests, benches, soak, fuzz, source maps or build state', () => {
    const paths = packed.files.map((file) => file.path);
    for (const entry of ['dist/library/runtime', 'dist/runtime/actor-entry', 'dist/supervisors/index']) {
      assert.ok(paths.includes(`${entry}.js`), `${entry}.js is missing`);
      assert.ok(paths.includes(`${entry}.d.ts`), `${entry}.d.ts is missing`);
    }
    assert.ok(paths.includes('dist/runtime/worker/bootstrap.js'));
    assert.ok(paths.includes('docs/runtime.md'));
    const unwanted = paths.filter(
      (path) =>
        ['dist/test/', 'dist/bench/', 'dist/soak/', 'dist/fuzz/'].some((dir) => path.startsWith(dir)) ||
        path.endsWith('.map') ||
        path.endsWith('.tsbuildinfo') ||
        !(path.startsWith('dist/') || ['package.json', 'README.md', 'docs/runtime.md'].includes(path)),
    );
    assert.deepEqual(unwanted, []);
  });
});
