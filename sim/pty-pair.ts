/**
 * A pseudo-terminal pair made by socat, standing in for a USB serial cable:
 * whatever is written to one end is read from the other. Node has no pty API
 * without native addons, and socat is one apt package.
 *
 * Ready is read from socat's own log (`-d -d` prints "starting data transfer
 * loop" once both links exist), so there is no polling of the file system.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PtyPairError, SocatMissingError } from './errors.js';

export interface PtyPairOptions {
  /** Paths of the two links; default `a` and `b` in a fresh temporary directory. */
  pathA?: string;
  pathB?: string;
  /** Deadline for socat to make both links; default 5000 ms. */
  timeoutMs?: number;
  /** The socat executable; default `socat` on PATH. */
  socat?: string;
}

export interface PtyPair {
  readonly pathA: string;
  readonly pathB: string;
  /** Resolves with socat's exit, e.g. when it is killed by someone else. */
  readonly exited: Promise<void>;
  /** Kills socat (both links disappear) and removes the temporary directory; idempotent. */
  close(): Promise<void>;
}

/** socat's stderr kept for error messages; bounded like every other buffer. */
const MAX_LOG_CHARS = 4096;
const KILL_GRACE_MS = 2000;

export async function openPtyPair(options: PtyPairOptions = {}): Promise<PtyPair> {
  const dir =
    options.pathA === undefined || options.pathB === undefined
      ? await mkdtemp(join(tmpdir(), 'tether-pty-'))
      : undefined;
  const pathA = options.pathA ?? join(dir ?? '', 'a');
  const pathB = options.pathB ?? join(dir ?? '', 'b');
  const timeoutMs = options.timeoutMs ?? 5000;
  const removeDir = async (): Promise<void> => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  };

  const child = spawn(
    options.socat ?? 'socat',
    ['-d', '-d', `pty,raw,echo=0,link=${pathA}`, `pty,raw,echo=0,link=${pathB}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new PtyPairError(`socat did not create the links within ${timeoutMs} ms: ${log.trim()}`));
      }, timeoutMs);
      const done = (error?: Error): void => {
        clearTimeout(timer);
        child.stderr.off('data', onLog);
        child.off('error', onError);
        child.off('exit', onExit);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onLog = (chunk: Buffer): void => {
        log = (log + chunk.toString('utf8')).slice(-MAX_LOG_CHARS);
        if (log.includes('starting data transfer loop')) done();
      };
      const onError = (error: NodeJS.ErrnoException): void =>
        done(
          error.code === 'ENOENT'
            ? new SocatMissingError(error)
            : new PtyPairError('socat failed to start', { cause: error }),
        );
      const onExit = (code: number | null): void =>
        done(new PtyPairError(`socat exited (${code}): ${log.trim()}`));
      child.stderr.on('data', onLog);
      child.once('error', onError);
      child.once('exit', onExit);
    });
  } catch (error) {
    await stop();
    await removeDir();
    throw error;
  }
  // Keep draining socat's log so a chatty socat can never block on a full pipe.
  child.stderr.on('data', () => {});

  async function stop(): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  let closing: Promise<void> | undefined;
  return {
    pathA,
    pathB,
    exited,
    close: () => (closing ??= stop().then(removeDir)),
  };
}
