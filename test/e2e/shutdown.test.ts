/**
 * Graceful shutdown of `tether run` as a real process: SIGTERM under a
 * steady command load through the HTTP API exits 0 within the bound, every
 * command request gets an answer (a result or a JSON error), and nothing is
 * left; a second signal exits at once.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SHUTDOWN_BOUND_MS } from '../../kernel/service.js';
import { startSimulator } from '../../sim/index.js';
import type { Simulator } from '../../sim/index.js';
import { EventStream } from '../http/fixture.js';
import { Recorder } from '../recorder.js';
import { ROOMY_START_ENV } from './tether-process.js';

const CLI = fileURLToPath(new URL('../../cli/tether.js', import.meta.url));

interface Running {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  exit: Promise<{ code: number | null; at: number }>;
  /** Resolves with the first log line that matches; rejects at the deadline. */
  waitForLine(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs: number,
  ): Promise<Record<string, unknown>>;
}

function runTether(sim: Simulator, stateDir: string): Running {
  const child = spawn(
    process.execPath,
    [CLI, 'run', '--discovery', 'tcp', '--tcp', `127.0.0.1:${sim.address?.port}`, '--state-dir', stateDir],
    {
      env: {
        PATH: process.env['PATH'] ?? '',
        TETHER_HTTP__PORT: '0',
        TETHER_LOG__LEVEL: 'info',
        ...ROOMY_START_ENV,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output = new Recorder<Record<string, unknown>>();
  const lines = output.items;
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const part of parts) {
      if (part.trim() === '') continue;
      try {
        output.push(JSON.parse(part) as Record<string, unknown>);
      } catch {
        output.push({ msg: part });
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => output.push({ stderr: chunk.toString() }));
  const exit = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.once('exit', (code) => resolve({ code, at: Date.now() })),
  );
  return {
    child,
    lines,
    exit,
    waitForLine: (match, timeoutMs) =>
      output.waitFor(match, {
        timeoutMs,
        what: 'such a log line',
        summary: () => `\n${lines.map((l) => JSON.stringify(l)).join('\n')}`,
      }),
  };
}

/** Starts a simulator and `tether run` against it; waits until Synchronized with the HTTP API up. */
async function withRunningTether(
  body: (run: Running, base: string, sim: Simulator) => Promise<void>,
): Promise<void> {
  const stateDir = await mkdtemp(join(tmpdir(), 'tether-shutdown-'));
  const sim = await startSimulator({ port: 0 });
  let run: Running | undefined;
  try {
    run = runTether(sim, stateDir);
    const listening = await run.waitForLine((l) => l['event'] === 'http-listening', 15_000);
    await run.waitForLine((l) => l['event'] === 'phase' && l['to'] === 'Synchronized', 15_000);
    await body(run, `http://127.0.0.1:${String(listening['port'])}`, sim);
  } finally {
    if (run !== undefined && run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill('SIGKILL');
      await run.exit;
    }
    await sim.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

type Outcome =
  | { kind: 'result'; status: number }
  | { kind: 'error'; status: number; code: string }
  | { kind: 'bad-answer'; status: number; text: string }
  | { kind: 'no-answer'; error: string };

async function command(base: string): Promise<Outcome> {
  let response: Response;
  try {
    response = await fetch(`${base}/api/commands`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ opcode: 'BLOCK_LIST' }),
      signal: AbortSignal.timeout(20_000),
    });
  } catch (error) {
    return { kind: 'no-answer', error: String((error as Error).cause ?? error) };
  }
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { payload?: unknown; error?: { code?: unknown } };
    if (response.status === 200 && Array.isArray(body.payload)) return { kind: 'result', status: 200 };
    if (typeof body.error?.code === 'string')
      return { kind: 'error', status: response.status, code: body.error.code };
  } catch {
    // falls through: not JSON
  }
  return { kind: 'bad-answer', status: response.status, text };
}

describe('graceful shutdown of tether run', () => {
  it('SIGTERM under a steady command load exits 0 within the bound, every command answered, nothing left', () =>
    withRunningTether(async (run, base, sim) => {
      // Slow answers keep commands in flight at the moment the signal lands.
      sim.faults.responseDelayMs = 30;
      const outcomes: Outcome[] = [];
      let signalled = false;
      let resultsBeforeSignal = 0;
      let signalAt = 0;
      const loops = Array.from({ length: 8 }, async () => {
        // Each loop keeps one command in flight until the service says no; then stops asking.
        for (;;) {
          const outcome = await command(base);
          outcomes.push(outcome);
          if (!signalled && outcome.kind === 'result') resultsBeforeSignal += 1;
          if (outcome.kind !== 'result') return;
          if (signalled && Date.now() - signalAt > SHUTDOWN_BOUND_MS) return;
        }
      });
      // An open event stream must not hold the exit either.
      const stream = await EventStream.open(base);
      await stream.waitFor('state');
      await waitUntil(() => resultsBeforeSignal >= 40, 10_000, 'commands flowing before the signal');
      signalAt = Date.now();
      signalled = true;
      run.child.kill('SIGTERM');
      const { code, at } = await withinDeadline(run.exit, SHUTDOWN_BOUND_MS + 5000, 'exit after SIGTERM');
      await Promise.all(loops);
      await stream.done;
      assert.ok(
        stream.events.some((e) => e.event === 'phase' && e.data['to'] === 'Disconnected'),
        'the stream saw the link go down before it ended',
      );
      assert.equal(code, 0, run.lines.map((l) => JSON.stringify(l)).join('\n'));
      assert.ok(at - signalAt < SHUTDOWN_BOUND_MS, `exited ${at - signalAt} ms after SIGTERM`);
      const unanswered = outcomes.filter((o) => o.kind === 'no-answer' || o.kind === 'bad-answer');
      assert.deepEqual(unanswered, [], 'every command request got a result or a JSON error');
      const codes = new Set(outcomes.flatMap((o) => (o.kind === 'error' ? [o.code] : [])));
      for (const c of codes) {
        assert.ok(
          ['TETHER_SHUTTING_DOWN', 'TETHER_LINK_LOST', 'TETHER_NOT_READY', 'TETHER_ACTOR_DOWN'].includes(c),
          `unexpected error code ${c}`,
        );
      }
      assert.ok(codes.has('TETHER_SHUTTING_DOWN') || codes.has('TETHER_LINK_LOST'), [...codes].join(','));
      assert.ok(run.lines.some((l) => l['msg'] === 'tether stopped' && l['exitCode'] === 0));
      assert.ok(stream.ended);
      assert.ok(run.child.pid !== undefined && isGone(run.child.pid), 'the process is gone');
      // The controller saw its connection close: the transport was closed, not abandoned.
      await waitUntil(() => sim.connections === 0, 10_000, 'the simulator sees no connection');
    }));

  it('a second signal while stopping exits at once', () =>
    withRunningTether(async (run) => {
      // Two different signals cannot merge into one delivery; the second lands while the first stop runs.
      run.child.kill('SIGTERM');
      run.child.kill('SIGINT');
      // The exit code (1, not the orderly stop's 0) and the log line say it was the second signal;
      // the deadline only guards against a hang, with room for a loaded machine.
      const { code } = await withinDeadline(run.exit, 10_000, 'exit after a second signal');
      assert.equal(code, 1);
      assert.ok(run.lines.some((l) => String(l['msg']).includes('second signal')));
    }));
});

function withinDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Polls a cheap in-process condition (no I/O) until it holds, or fails at the deadline. */
async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
