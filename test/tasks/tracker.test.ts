import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandTracker, LocalExecutor, NOT_FOUND, TaskAbortedError } from '../../tasks/index.js';
import type { JobContext, JournalEntry, TaskEvent, TaskKindSpec, TaskView } from '../../tasks/index.js';

/** A job the test finishes by hand, and learns when it started. */
class Gate {
  readonly started: Promise<JobContext>;
  #start!: (context: JobContext) => void;
  #finish!: (value: unknown) => void;
  #fail!: (error: unknown) => void;
  readonly done: Promise<unknown>;
  constructor() {
    this.started = new Promise((resolve) => (this.#start = resolve));
    this.done = new Promise((resolve, reject) => {
      this.#finish = resolve;
      this.#fail = reject;
    });
    this.done.catch(() => {});
  }
  run(context: JobContext): Promise<unknown> {
    this.#start(context);
    return this.done;
  }
  finish(value: unknown): void {
    this.#finish(value);
  }
  fail(error: unknown): void {
    this.#fail(error);
  }
}

/** Jobs named by their args: `{ gate: n }` waits on gates[n]. */
function rig(
  options: { maxQueued?: number; timeoutMs?: number; precondition?: () => string | undefined } = {},
) {
  const gates: Gate[] = [];
  const started: number[] = [];
  const gate = (n: number): Gate => (gates[n] ??= new Gate());
  const run = (args: unknown, context: JobContext): Promise<unknown> => {
    const n = (args as { gate: number }).gate;
    started.push(n);
    return gate(n).run(context);
  };
  const executor = new LocalExecutor({ work: run, exclusive: run });
  const spec = (kind: string, exclusive: boolean): TaskKindSpec => ({
    kind,
    executor,
    exclusive,
    timeoutMs: options.timeoutMs ?? 60_000,
    parseArgs(args) {
      if (typeof (args as { gate?: unknown })?.gate !== 'number') throw new Error('gate must be a number');
      return args;
    },
    precondition() {
      const reason = options.precondition?.();
      return reason === undefined ? undefined : { code: 'TETHER_NOT_READY', message: reason };
    },
  });
  const tracker = new CommandTracker({
    kinds: [spec('work', false), spec('exclusive', true)],
    ...(options.maxQueued !== undefined && { maxQueued: options.maxQueued }),
  });
  const events: TaskEvent[] = [];
  tracker.subscribe((event) => events.push(event));
  return { tracker, gate, events, started };
}

/** Resolves when the tracker reports `status` for task `id` (deadline 5 s). */
function statusOf(tracker: CommandTracker, id: string, status: string): Promise<TaskView> {
  return new Promise((resolve, reject) => {
    const now = tracker.get(id);
    if (now !== NOT_FOUND && now.status === status) return resolve(now);
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`task ${id} did not reach ${status} (it is ${JSON.stringify(tracker.get(id))})`));
    }, 5000);
    const stop = tracker.subscribe(({ task }) => {
      if (task.id === id && task.status === status) {
        clearTimeout(timer);
        stop();
        resolve(task);
      }
    });
  });
}

describe('command tracker', () => {
  it('a submitted task is QUEUED at once, then IN_PROGRESS with progress, then COMPLETED with its result', async () => {
    const { tracker, gate, events } = rig();
    const task = tracker.submit('work', { gate: 0 });
    assert.equal(task.status, 'QUEUED');
    assert.match(task.id, /^[0-9a-f-]{36}$/);
    const context = await gate(0).started;
    assert.equal((tracker.get(task.id) as TaskView).status, 'IN_PROGRESS');
    context.progress(40, 'validated');
    assert.deepEqual((tracker.get(task.id) as TaskView).progress, { percent: 40, message: 'validated' });
    gate(0).finish({ blocks: 3 });
    const done = await statusOf(tracker, task.id, 'COMPLETED');
    assert.deepEqual(done.result, { blocks: 3 });
    assert.equal(done.progress.percent, 100);
    assert.deepEqual(
      events.map((event) =>
        event.change === 'status' ? event.task.status : `progress ${event.task.progress.percent}`,
      ),
      ['QUEUED', 'IN_PROGRESS', 'progress 40', 'COMPLETED'],
    );
  });

  it('lists queued, executing and finished tasks apart', async () => {
    const { tracker, gate } = rig();
    const first = tracker.submit('work', { gate: 0 });
    const second = tracker.submit('work', { gate: 1 });
    await gate(0).started;
    let lists = tracker.list();
    assert.deepEqual(
      lists.executing.map((t) => t.id),
      [first.id],
    );
    assert.deepEqual(
      lists.queued.map((t) => t.id),
      [second.id],
    );
    gate(0).finish(null);
    await gate(1).started;
    lists = tracker.list();
    assert.deepEqual(
      lists.finished.map((t) => t.id),
      [first.id],
    );
    assert.deepEqual(
      lists.executing.map((t) => t.id),
      [second.id],
    );
    gate(1).finish(null);
    await statusOf(tracker, second.id, 'COMPLETED');
  });

  it('a task whose precondition fails is REJECTED at once with the reason, and can be looked up', () => {
    const { tracker } = rig({ precondition: () => 'the link is Disconnected' });
    const task = tracker.submit('work', { gate: 0 });
    assert.equal(task.status, 'REJECTED');
    assert.equal(task.problem?.code, 'TETHER_NOT_READY');
    assert.equal((tracker.get(task.id) as TaskView).status, 'REJECTED');
    assert.equal(tracker.list().queued.length, 0);
  });

  it('a task past the queue bound is REJECTED, not queued', async () => {
    const { tracker, gate } = rig({ maxQueued: 1 });
    tracker.submit('work', { gate: 0 });
    await gate(0).started;
    assert.equal(tracker.submit('work', { gate: 1 }).status, 'QUEUED');
    const third = tracker.submit('work', { gate: 2 });
    assert.equal(third.status, 'REJECTED');
    assert.equal(third.problem?.code, 'TETHER_TASK_QUEUE_FULL');
    tracker.abortAll();
    gate(0).fail(new TaskAbortedError('test'));
  });

  it('an exclusive task is REJECTED while another exclusive task holds the controller', async () => {
    const { tracker, gate } = rig();
    const first = tracker.submit('exclusive', { gate: 0 });
    await gate(0).started;
    const second = tracker.submit('exclusive', { gate: 1 });
    assert.equal(second.status, 'REJECTED');
    assert.equal(second.problem?.code, 'TETHER_TASK_EXCLUSIVE_BUSY');
    gate(0).finish(null);
    await statusOf(tracker, first.id, 'COMPLETED');
    assert.equal(tracker.submit('exclusive', { gate: 2 }).status, 'QUEUED');
    gate(2).finish(null);
  });

  it('aborting a queued task makes it ABORTED at once, and its job never starts', async () => {
    const { tracker, gate, started } = rig();
    tracker.submit('work', { gate: 0 });
    const queued = tracker.submit('work', { gate: 1 });
    await gate(0).started;
    const aborted = tracker.abort(queued.id);
    assert.equal((aborted as TaskView).status, 'ABORTED');
    gate(0).finish(null);
    const third = tracker.submit('work', { gate: 2 });
    await gate(2).started;
    gate(2).finish(null);
    await statusOf(tracker, third.id, 'COMPLETED');
    assert.deepEqual(started, [0, 2]);
  });

  it('aborting a running task signals its job, and the task is ABORTED with what it had done', async () => {
    const { tracker, gate } = rig();
    const task = tracker.submit('work', { gate: 0 });
    const context = await gate(0).started;
    context.signal.addEventListener('abort', () =>
      gate(0).fail(new TaskAbortedError('asked', { written: 7 })),
    );
    assert.equal((tracker.abort(task.id) as TaskView).status, 'IN_PROGRESS');
    const done = await statusOf(tracker, task.id, 'ABORTED');
    assert.deepEqual(done.result, { written: 7 });
    assert.equal(done.problem?.code, 'TETHER_TASK_ABORTED');
  });

  it('a job that throws makes the task FAILED with the error code and any partial result', async () => {
    const { tracker, gate } = rig();
    const task = tracker.submit('work', { gate: 0 });
    await gate(0).started;
    const error = Object.assign(new Error('controller said BUSY'), { code: 'TETHER_CONTROLLER_ERROR' });
    gate(0).fail(error);
    const done = await statusOf(tracker, task.id, 'FAILED');
    assert.equal(done.problem?.code, 'TETHER_CONTROLLER_ERROR');
  });

  it('a job that outruns its time limit is aborted and FAILED, so nothing stays IN_PROGRESS', async () => {
    const { tracker, gate } = rig({ timeoutMs: 50 });
    const task = tracker.submit('work', { gate: 0 });
    const context = await gate(0).started;
    const done = await statusOf(tracker, task.id, 'FAILED');
    assert.equal(done.problem?.code, 'TETHER_TASK_TIMEOUT');
    assert.equal(context.signal.aborted, true);
    gate(0).finish('too late');
    await Promise.resolve();
    assert.equal((tracker.get(task.id) as TaskView).status, 'FAILED');
  });

  it('an unknown id is NOT_FOUND; an unknown kind or bad arguments are refused without a record', () => {
    const { tracker } = rig();
    assert.equal(tracker.get('nope'), NOT_FOUND);
    assert.equal(tracker.abort('nope'), NOT_FOUND);
    assert.throws(() => tracker.submit('dance', {}), { code: 'TETHER_UNKNOWN_TASK_KIND' });
    assert.throws(() => tracker.submit('work', { gate: 'x' }), { code: 'TETHER_INVALID_TASK_ARGS' });
    assert.deepEqual(tracker.list(), { queued: [], executing: [], finished: [] });
  });

  it('progress is kept within 0..100 with a short message', async () => {
    const { tracker, gate } = rig();
    const task = tracker.submit('work', { gate: 0 });
    const context = await gate(0).started;
    context.progress(250, 'x'.repeat(10_000));
    const view = tracker.get(task.id) as TaskView;
    assert.equal(view.progress.percent, 100);
    assert.ok(view.progress.message.length <= 200);
    context.progress(Number.NaN, '');
    assert.equal((tracker.get(task.id) as TaskView).progress.percent, 0);
    gate(0).finish(null);
    await statusOf(tracker, task.id, 'COMPLETED');
  });

  it('progress is published once per whole percent (or 250 ms), while the task always shows the latest', async () => {
    const { tracker, gate, events } = rig();
    const task = tracker.submit('work', { gate: 0 });
    const context = await gate(0).started;
    for (let block = 1; block <= 2000; block++) context.progress(block / 20, `block ${block}`);
    assert.deepEqual((tracker.get(task.id) as TaskView).progress, { percent: 100, message: 'block 2000' });
    const published = events.filter((e) => e.change === 'progress').length;
    assert.ok(published >= 100 && published <= 101, `${published} progress events`);
    gate(0).finish(null);
    await statusOf(tracker, task.id, 'COMPLETED');
  });

  it('finished tasks are forgotten past the retained count and time', () => {
    let now = 1_000_000;
    const tracker = new CommandTracker({
      kinds: [
        {
          kind: 'never',
          executor: new LocalExecutor({}),
          exclusive: false,
          timeoutMs: 1000,
          parseArgs: (args) => args,
          precondition: () => ({ code: 'TETHER_NOT_READY', message: 'no' }),
        },
      ],
      retainCount: 3,
      retainMs: 10_000,
      now: () => now,
    });
    const ids = [1, 2, 3, 4].map(() => tracker.submit('never', null).id);
    assert.equal(tracker.get(ids[0]!), NOT_FOUND);
    assert.deepEqual(
      tracker.list().finished.map((t) => t.id),
      ids.slice(1),
    );
    now += 10_001;
    assert.deepEqual(tracker.list().finished, []);
  });

  it('unfinished tasks are journaled, and after a restart are reported FAILED: service restarted', async () => {
    let saved: JournalEntry[] = [];
    const journal = { load: async () => saved, save: (entries: JournalEntry[]) => void (saved = entries) };
    const executor = new LocalExecutor({ work: () => new Promise(() => {}) });
    const kinds = [
      { kind: 'work', executor, exclusive: false, timeoutMs: 60_000, parseArgs: (a: unknown) => a },
    ];
    const first = new CommandTracker({ kinds, journal });
    const task = first.submit('work', null);
    await Promise.resolve(); // saved once per turn
    assert.deepEqual(
      saved.map((entry) => entry.id),
      [task.id],
    );
    // The process ends here without the task ending; a new one starts.
    const second = new CommandTracker({ kinds, journal });
    const recovered = await second.recover();
    assert.equal(recovered.length, 1);
    const view = second.get(task.id) as TaskView;
    assert.equal(view.status, 'FAILED');
    assert.equal(view.problem?.code, 'TETHER_SERVICE_RESTARTED');
    await Promise.resolve();
    assert.deepEqual(saved, []);
    await first.close(10);
  });

  it('close aborts everything, and a job that ignores its signal is reported FAILED after the bound', async () => {
    const { tracker, gate } = rig();
    const running = tracker.submit('work', { gate: 0 });
    const queued = tracker.submit('work', { gate: 1 });
    await gate(0).started;
    await tracker.close(50);
    assert.equal((tracker.get(queued.id) as TaskView).status, 'ABORTED');
    const view = tracker.get(running.id) as TaskView;
    assert.equal(view.status, 'FAILED');
    assert.equal(view.problem?.code, 'TETHER_TRACKER_CLOSED');
    assert.throws(() => tracker.submit('work', { gate: 2 }), { code: 'TETHER_TRACKER_CLOSED' });
  });
});
