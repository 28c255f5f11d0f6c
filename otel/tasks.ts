/**
 * Tracked tasks as telemetry: each task is a span from its submission to
 * its end — status changes and progress as events, the final status and the
 * problem's code as attributes (status ERROR for FAILED and REJECTED), and a
 * summary of the result (its top-level numbers, strings and booleans) — and
 * a counter of tasks by kind and status.
 *
 * The shapes below are what this needs of the tracker's events, written
 * here so telemetry does not depend on the tasks layer (tasks/ sits above
 * otel/); the tracker's TaskEvent fits them.
 */
import { SpanStatusCode } from '@opentelemetry/api';
import type { Attributes, Counter, Meter, Span, Tracer } from '@opentelemetry/api';
import { ATTR, EVENTS, METRICS, SPANS } from './names.js';

export interface ObservedTask {
  id: string;
  kind: string;
  status: string;
  progress: { percent: number; message: string };
  result: unknown;
  problem: { code: string; message: string } | null;
  submittedAt: number;
  endedAt: number | null;
}

export interface ObservedTaskEvent {
  change: 'status' | 'progress';
  task: ObservedTask;
}

export interface ObservedTasks {
  subscribe(listener: (event: ObservedTaskEvent) => void): () => void;
}

const ENDED = new Set(['COMPLETED', 'FAILED', 'ABORTED', 'REJECTED']);
const ERRORS = new Set(['FAILED', 'REJECTED']);
/** Result fields kept on the span, and how much of a string. */
const MAX_RESULT_FIELDS = 16;
const MAX_STRING = 200;
/** Spans open at once: the tracker's queue bound is far lower; this only bounds a bug. */
const MAX_OPEN = 1000;

export class TaskObserver {
  readonly #tracer: Tracer;
  readonly #counter: Counter;
  readonly #open = new Map<string, Span>();
  #unsubscribe: (() => void) | undefined;

  constructor(deps: { tracer: Tracer; meter: Meter }) {
    this.#tracer = deps.tracer;
    this.#counter = deps.meter.createCounter(METRICS.tasks, {
      description: 'Tasks that reached a status, by kind and status',
    });
  }

  observe(tasks: ObservedTasks): void {
    this.#unsubscribe = tasks.subscribe((event) => this.on(event));
  }

  on({ change, task }: ObservedTaskEvent): void {
    let span = this.#open.get(task.id);
    if (span === undefined) {
      if (this.#open.size >= MAX_OPEN) return;
      span = this.#tracer.startSpan(SPANS.task, {
        root: true,
        startTime: task.submittedAt,
        attributes: { [ATTR.taskId]: task.id, [ATTR.taskKind]: task.kind },
      });
      this.#open.set(task.id, span);
    }
    if (change === 'progress') {
      span.addEvent(EVENTS.taskProgress, {
        [ATTR.taskPercent]: task.progress.percent,
        [ATTR.taskMessage]: task.progress.message,
      });
      return;
    }
    this.#counter.add(1, { [ATTR.taskKind]: task.kind, [ATTR.taskStatus]: task.status });
    span.addEvent(EVENTS.taskStatus, { [ATTR.taskStatus]: task.status });
    if (!ENDED.has(task.status)) return;
    span.setAttributes({ [ATTR.taskStatus]: task.status, ...summary(task.result) });
    if (task.problem !== null) span.setAttribute(ATTR.taskProblem, task.problem.code);
    if (ERRORS.has(task.status)) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: task.problem?.message ?? task.status });
    }
    span.end(task.endedAt ?? Date.now());
    this.#open.delete(task.id);
  }

  /** Ends what is open (the service is stopping) and unsubscribes. */
  close(): void {
    this.#unsubscribe?.();
    for (const span of this.#open.values()) span.end();
    this.#open.clear();
  }
}

/** The top-level numbers, strings and booleans of a result, as attributes. */
function summary(result: unknown): Attributes {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return {};
  const attributes: Attributes = {};
  let kept = 0;
  for (const [key, value] of Object.entries(result)) {
    if (kept >= MAX_RESULT_FIELDS) break;
    if (typeof value === 'number' || typeof value === 'boolean')
      attributes[`${ATTR.taskResult}.${key}`] = value;
    else if (typeof value === 'string') attributes[`${ATTR.taskResult}.${key}`] = value.slice(0, MAX_STRING);
    else continue;
    kept += 1;
  }
  return attributes;
}
