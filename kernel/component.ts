/**
 * The controller's component state (contracts/component.ts), kept in the
 * main thread: facts arrive from the synchronization actor (handshake,
 * uptime, internal errors, updater) and from the blocks API (block count,
 * storage errors), and every accepted one is published, with the state it
 * made, through one channel of changes.
 */
import type {
  ComponentChange,
  ComponentReport,
  ComponentSource,
  ComponentState,
} from '../contracts/component.js';
import { INITIAL_COMPONENT_STATE } from '../contracts/component.js';
import { RESET_DATA, RESET_REASONS } from '../protocol/index.js';

export class ComponentStore implements ComponentSource {
  #state: ComponentState = INITIAL_COMPONENT_STATE;
  readonly #listeners = new Set<(change: ComponentChange) => void>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  get component(): ComponentState {
    return this.#state;
  }

  onComponentChange(listener: (change: ComponentChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Applies a fact about the link of `generation` (the caller has checked it is current). */
  apply(generation: number, report: ComponentReport): void {
    const at = this.#now();
    this.#state = next(this.#state, report, at);
    const change: ComponentChange = { report, generation, at, state: this.#state };
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch {
        // A listener's bug must not stop the others.
      }
    }
  }
}

/** The state after one fact. Pure: time comes in as an argument. */
export function next(state: ComponentState, report: ComponentReport, at: number): ComponentState {
  switch (report.kind) {
    case 'handshake': {
      const reason = report.resetReason.toUpperCase();
      const data = report.resetData.toUpperCase();
      return {
        ...state,
        reset: {
          reason,
          reasonName: (RESET_REASONS as Record<string, string>)[reason] ?? 'UNKNOWN',
          data,
          dataName: (RESET_DATA as Record<string, string>)[data] ?? 'NOT_SPECIFIED',
        },
        // A handshake is a controller that runs its firmware: out of the updater, if it was in it.
        updater: null,
      };
    }
    case 'uptime':
      return { ...state, uptime: { millisSinceBoot: report.millisSinceBoot, at } };
    case 'internalError':
      return {
        ...state,
        internalErrors: { count: state.internalErrors.count + 1, last: { code: report.code, at } },
      };
    case 'updater':
      return {
        ...state,
        updater: { firmwareVersion: report.firmwareVersion, protoVersion: report.protoVersion, at },
      };
    case 'blocks':
      return { ...state, blocks: { count: report.count, at } };
    case 'storageError':
      return {
        ...state,
        storage: {
          errors: state.storage.errors + 1,
          last: { code: report.code, opcode: report.opcode, at },
        },
      };
  }
}
