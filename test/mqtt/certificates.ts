/**
 * Throwaway certificates for a TLS broker, made at test time with openssl
 * (Node's crypto makes keys but cannot sign a certificate): a CA, and a
 * server certificate it signs for 127.0.0.1 and localhost. EC P-256 keys,
 * valid for a day; a few milliseconds of openssl each. scripts/test.mjs and
 * .ci/run install openssl with the other system packages the tests use.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCa {
  /** The CA's certificate (PEM): what a client trusts. */
  readonly certFile: string;
  readonly keyFile: string;
}

export interface ServerCertificate {
  readonly certFile: string;
  readonly keyFile: string;
}

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 10_000 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error('openssl is not installed (apt-get install -y openssl)', { cause: error });
    throw error;
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'] as const;

/**
 * Runs `body` with the certificate file of a CA that signed nothing the
 * broker has (what a wrong `mqtt.caFile` is), in a directory removed after.
 */
export async function withStrangerCa(body: (certFile: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tether-stranger-ca-'));
  try {
    await body((await createCa(dir, 'stranger')).certFile);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A self-signed CA in `dir`, its files named after `name`. */
export async function createCa(dir: string, name = 'ca'): Promise<TestCa> {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  await openssl([
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '1',
    '-subj',
    `/CN=tether test ${name} ${randomBytes(4).toString('hex')}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { certFile, keyFile };
}

/** A server certificate for 127.0.0.1 and localhost, signed by `ca`. */
export async function createServerCertificate(dir: string, ca: TestCa): Promise<ServerCertificate> {
  const keyFile = join(dir, 'server.key');
  const request = join(dir, 'server.csr');
  const extensions = join(dir, 'server.ext');
  const certFile = join(dir, 'server.pem');
  await writeFile(
    extensions,
    [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  await openssl(['req', '-new', ...EC_KEY, '-keyout', keyFile, '-out', request, '-subj', '/CN=localhost']);
  await openssl([
    'x509',
    '-req',
    '-in',
    request,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-days',
    '1',
    '-extfile',
    extensions,
    '-out',
    certFile,
  ]);
  return { certFile, keyFile };
}
