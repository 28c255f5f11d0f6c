/**
 * One worker thread running the actor bootstrap, before and after it takes an
 * identity. Spawning and loading happen here; what the incarnation does is
 * the host's business. Every slot is counted while its thread lives, so tests
 * can assert that none is left behind.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type { ResourceLimits } from 'node:worker_threads';
import { deserializeError } from './errors.js';
import type { HostToWorker, WorkerToHost } from './messages.js';
import type { BootstrapData, WorkerTelemetryInit } from './worker/bootstrap.js';
import type { Logger } from './logger.js';

const BOOTSTRAP = new URL('./worker/bootstrap.js', import.meta.url);

const live = new Set<Worker>();

/** Worker threads spawned by the runtime whose thread has not exited yet. */
export function liveWorkerCount(): number {
  return live.size;
}

export interface SlotOptions {
  module: string;
  resourceLimits: ResourceLimits | undefined;
  callTimeoutMs: number;
  stashLimit: number;
  logger: Logger;
  /** Loaded by the bootstrap before the actor module when set (telemetry on); absent costs nothing. */
  telemetry?: WorkerTelemetryInit | undefined;
}

export class WorkerSlot {
  readonly worker: Worker;
  /** Resolves when the bootstrap loaded the actor module; rejects if loading failed or the thread died. */
  readonly loaded: Promise<void>;
  /** Resolves with the exit code once the thread is gone. */
  readonly gone: Promise<number>;
  /** The id the slot's output is tagged with; set when it takes an identity. */
  actorId = '(standby)';
  /** The last 'error' event; kept here so an error in a standby never goes unhandled. */
  lastError: Error | undefined;
  #alive = true;

  /** @param standby a standby waits for a restart: it warms its call path meanwhile (see the bootstrap). */
  constructor(options: SlotOptions, standby = false) {
    const data: BootstrapData = {
      module: options.module,
      callTimeoutMs: options.callTimeoutMs,
      stashLimit: options.stashLimit,
      warmCallPath: standby,
      ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry }),
    };
    this.worker = new Worker(BOOTSTRAP, {
      workerData: data,
      stdout: true,
      stderr: true,
      ...(options.resourceLimits === undefined ? {} : { resourceLimits: options.resourceLimits }),
    });
    live.add(this.worker);
    this.worker.on('error', (error) => (this.lastError = error));
    this.gone = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        this.#alive = false;
        live.delete(this.worker);
        resolve(code);
      });
    });
    this.loaded = new Promise<void>((resolve, reject) => {
      const onMessage = (message: WorkerToHost): void => {
        if (message.type === 'loaded') resolve();
        else if (message.type === 'load-failed') reject(deserializeError(message.error));
        else return;
        this.worker.off('message', onMessage);
      };
      this.worker.on('message', onMessage);
      this.worker.once('error', reject);
      void this.gone.then((code) => reject(new Error(`worker exited with code ${code} while loading`)));
    });
    // Nobody may be waiting on `loaded` yet (a standby): never an unhandled rejection.
    this.loaded.catch(() => undefined);
    this.#tagOutput(this.worker.stdout, 'stdout', options.logger);
    this.#tagOutput(this.worker.stderr, 'stderr', options.logger);
  }

  get alive(): boolean {
    return this.#alive;
  }

  post(message: HostToWorker): void {
    if (!this.#alive) {
      if (message.type === 'accept' || message.type === 'peer-up') message.port.close();
      return;
    }
    if (message.type === 'accept' || message.type === 'peer-up') {
      this.worker.postMessage(message, [message.port]);
    } else {
      this.worker.postMessage(message);
    }
  }

  /** Ends the thread now (stops even a busy loop); resolves when it is gone. */
  async terminate(): Promise<void> {
    if (this.#alive) await this.worker.terminate();
    await this.gone;
  }

  /** What an actor writes to stdout/stderr reaches the logs, a line at a time, tagged with its id. */
  #tagOutput(stream: Readable, name: 'stdout' | 'stderr', logger: Logger): void {
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    lines.on('line', (line) => {
      const fields = { actor: this.actorId, stream: name };
      if (name === 'stderr') logger.warn(fields, line);
      else logger.info(fields, line);
    });
  }
}
