/**
 * The tracker's journal as a state file, `<stateDir>/tasks.json`: the tasks
 * that are queued or running, so that after a restart (a crash, a power
 * cut) the tracker reports them `FAILED: service restarted` rather than
 * forgetting them. Written through system/state-file.ts, the one atomic
 * writer: a reader sees the previous list or the new one, never half.
 *
 * The tracker saves on every status change and does not wait: writes go
 * one at a time, and a save made while one is in flight replaces whatever
 * was waiting (only the latest list matters), so a burst of a thousand
 * tasks costs a handful of writes. A file that cannot be used is set aside
 * by the state-file reader and counts as no unfinished tasks.
 */
import { join } from 'node:path';
import type { Logger } from '../runtime/index.js';
import { TetherError, describe } from '../errors/index.js';
import { loadStateFile, writeFileAtomic } from '../system/index.js';
import type { JournalEntry, TaskJournal } from './tracker.js';

export const JOURNAL_FILE = 'tasks.json';
const JOURNAL_FORMAT = 1;
/** Far above what the tracker's queue bound lets it hold (an entry is about 100 bytes). */
const MAX_JOURNAL_BYTES = 256 * 1024;

export class FileTaskJournal implements TaskJournal {
  readonly path: string;
  readonly #logger: Logger | undefined;
  #pending: JournalEntry[] | undefined;
  #writing: Promise<void> | undefined;
  #lastError: string | undefined;

  constructor(stateDir: string, options: { logger?: Logger } = {}) {
    this.path = join(stateDir, JOURNAL_FILE);
    this.#logger = options.logger;
  }

  async load(): Promise<JournalEntry[]> {
    const loaded = await loadStateFile(this.path, {
      maxBytes: MAX_JOURNAL_BYTES,
      parse: parseJournal,
      replacement: () => serialize([]),
    });
    if (loaded.problem !== undefined) {
      this.#logger?.warn(
        { event: 'task-journal-unusable', ...loaded.problem },
        'the task journal could not be used: tasks unfinished before this start cannot be reported',
      );
    }
    return loaded.value ?? [];
  }

  save(entries: JournalEntry[]): void {
    this.#pending = entries;
    this.#writing ??= this.#drain().finally(() => (this.#writing = undefined));
  }

  /** Resolves when the last list saved is on disk (or its write failed and was logged). */
  async flush(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
  }

  async #drain(): Promise<void> {
    for (let entries = this.#pending; entries !== undefined; entries = this.#pending) {
      this.#pending = undefined;
      try {
        await writeFileAtomic(this.path, serialize(entries));
        this.#lastError = undefined;
      } catch (error) {
        const code = TetherError.is(error) ? error.code : 'TETHER_INTERNAL';
        // Once per kind of failure, not once per task: a full disk would otherwise flood the log.
        if (code !== this.#lastError) {
          this.#logger?.error(
            { event: 'task-journal-write-failed', code, err: describe(error) },
            'the task journal could not be written',
          );
        }
        this.#lastError = code;
      }
    }
  }
}

function serialize(entries: readonly JournalEntry[]): string {
  return `${JSON.stringify({ format: JOURNAL_FORMAT, tasks: entries })}\n`;
}

function parseJournal(text: string): JournalEntry[] {
  const value = JSON.parse(text) as unknown;
  if (typeof value !== 'object' || value === null) throw new Error('not a JSON object');
  const { format, tasks } = value as { format?: unknown; tasks?: unknown };
  if (format !== JOURNAL_FORMAT) throw new Error(`unknown format ${JSON.stringify(format)}`);
  if (!Array.isArray(tasks)) throw new Error('tasks is not an array');
  return tasks.map((entry: unknown, index) => {
    const { id, kind, submittedAt } = (entry ?? {}) as Record<string, unknown>;
    if (typeof id !== 'string' || typeof kind !== 'string' || typeof submittedAt !== 'number') {
      throw new Error(`tasks[${index}] is not {id, kind, submittedAt}`);
    }
    return { id: id.slice(0, 64), kind: kind.slice(0, 64), submittedAt };
  });
}
