/**
 * The files the configuration names (mqtt.caFile), checked before the
 * service starts: what cannot be a CA file is a configuration error naming
 * the key and where it was set, read through the bounded reader (a FIFO or
 * a huge file is refused at once, never waited on or read whole).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ConfigError,
  MAX_CA_FILE_BYTES,
  checkConfigFiles,
  loadConfig,
  type ConfigProblem,
} from '../../config/index.js';
import { runConfigCheck, type ConfigCommandIo } from '../../cli/config-command.js';
import { MqttSettingsError } from '../../actors/mqtt/errors.js';
import { readCaFileOrFail } from '../../actors/mqtt/settings.js';
import { createCa } from '../mqtt/certificates.js';
import { tempDir } from './helpers.js';

type Files = Awaited<ReturnType<typeof tempDir>>;

/** The problems `checkConfigFiles` finds in a file that sets mqtt.caFile (line 3) to `caFile`. */
async function problemsFor(files: Files, caFile: string): Promise<readonly ConfigProblem[]> {
  const file = await files.write(
    'tether.yaml',
    ['mqtt:', '  url: mqtts://127.0.0.1:8883', `  caFile: ${JSON.stringify(caFile)}`, ''].join('\n'),
  );
  const loaded = await loadConfig({ file, env: {} });
  try {
    await checkConfigFiles(loaded);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.code, 'TETHER_CONFIG_INVALID');
    return error.problems;
  }
  return [];
}

function assertNamesCaFile(problems: readonly ConfigProblem[], file: string): void {
  assert.equal(problems.length, 1);
  const [problem] = problems;
  assert.equal(problem?.source, 'file');
  assert.equal(problem.key, 'mqtt.caFile');
  if (problem.source === 'file') assert.deepEqual([problem.file, problem.line], [file, 3]);
}

describe('the CA file the configuration names (mqtt.caFile)', () => {
  let files: Files;
  let ca: string;
  before(async () => {
    files = await tempDir();
    ca = (await createCa(files.dir)).certFile;
  });
  after(() => files.remove());
  const yaml = (): string => join(files.dir, 'tether.yaml');

  it('a CA certificate in PEM passes, and is what the MQTT actor reads', async () => {
    assert.deepEqual(await problemsFor(files, ca), []);
    assert.match((await readCaFileOrFail(ca)).toString(), /-----BEGIN CERTIFICATE-----/);
  });

  it('a path that does not exist is a configuration error naming mqtt.caFile at its line', async () => {
    assertNamesCaFile(await problemsFor(files, join(files.dir, 'absent.pem')), yaml());
  });

  it('a directory is a configuration error naming mqtt.caFile', async () => {
    assertNamesCaFile(await problemsFor(files, files.dir), yaml());
  });

  it('a valid CA padded to 1 MiB passes; one byte more is refused by its size', async () => {
    // The same certificate either way, so only the size can tell them apart.
    const pem = await readFile(ca);
    const padded = async (name: string, size: number): Promise<string> => {
      const path = join(files.dir, name);
      await writeFile(path, Buffer.concat([pem, Buffer.alloc(size - pem.length, '\n')]));
      return path;
    };
    assert.deepEqual(await problemsFor(files, await padded('at-bound.pem', MAX_CA_FILE_BYTES)), []);
    assertNamesCaFile(await problemsFor(files, await padded('over.pem', MAX_CA_FILE_BYTES + 1)), yaml());
  });

  it('a FIFO is refused at once rather than read (which would wait for a writer forever)', async () => {
    const fifo = join(files.dir, 'ca.fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    assertNamesCaFile(await problemsFor(files, fifo), yaml());
  });

  it('a file with no PEM certificate in it (a private key, say) is refused: TLS would ignore it and trust nothing', async () => {
    assertNamesCaFile(await problemsFor(files, join(files.dir, 'ca.key')), yaml());
    const broken = await files.write(
      'broken.pem',
      '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
    );
    assertNamesCaFile(await problemsFor(files, broken), yaml());
  });

  it('set in the environment, the problem names the variable', async () => {
    const loaded = await loadConfig({
      env: { TETHER_MQTT__URL: 'mqtts://127.0.0.1:8883', TETHER_MQTT__CA_FILE: files.dir },
    });
    await assert.rejects(checkConfigFiles(loaded), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(
        error.problems.map((p) => [p.source, p.source === 'env' ? p.variable : '', p.key]),
        [['env', 'TETHER_MQTT__CA_FILE', 'mqtt.caFile']],
      );
      return true;
    });
  });

  it('with MQTT off (no URL) the CA file is not read, so it cannot fail the start', async () => {
    const loaded = await loadConfig({ env: { TETHER_MQTT__CA_FILE: join(files.dir, 'absent.pem') } });
    await checkConfigFiles(loaded);
  });

  it('tether config check says so and exits 78, as tether run does', async () => {
    const file = await files.write(
      'check.yaml',
      ['mqtt:', '  url: mqtts://127.0.0.1:8883', `  caFile: ${JSON.stringify(files.dir)}`, ''].join('\n'),
    );
    let err = '';
    const io: ConfigCommandIo = { env: {}, stdout: () => undefined, stderr: (text) => (err += text) };
    assert.equal(await runConfigCheck(file, {}, io), 78);
    assert.ok(err.includes(`${file}:3:`), err);
    assert.ok(err.includes('mqtt.caFile'), err);
  });

  it('a CA file gone by the time the MQTT actor starts is TETHER_MQTT_SETTINGS naming caFile', async () => {
    await assert.rejects(readCaFileOrFail(join(files.dir, 'absent.pem')), (error: unknown) => {
      assert.ok(error instanceof MqttSettingsError);
      assert.equal(error.code, 'TETHER_MQTT_SETTINGS');
      assert.equal(error.detail['key'], 'caFile');
      return true;
    });
  });
});
