/**
 * The kernel's state, in the main thread: the phase (through the pure
 * transition table of phase.ts), the autoconnecting flag, and what actors
 * reported. It is served to the actors under id `kernel` (KernelApi); every
 * accepted change is cast to the four actors as `onKernelState`, in order,
 * and published to local subscribers (logs, telemetry, HTTP).
 */
import type { KernelApi, KernelState, PhaseListener, PhaseSource } from '../contracts/actors.js';
import type {
  ComponentChange,
  ComponentReport,
  ComponentSource,
  ComponentState,
} from '../contracts/component.js';
import { ComponentStore } from './component.js';
import { ACTOR_IDS } from '../contracts/actors.js';
import type { ActorRef } from '../runtime/index.js';
import type { Phase, PhaseChange, TransitionRequest } from '../contracts/phase.js';

export type { PhaseChange } from '../contracts/phase.js';
import { INITIAL_PHASE, IllegalTransitionError, transition } from '../contracts/phase.js';

export interface KernelOptions {
  autoconnecting: boolean;
  now?: () => number;
  /** Refs to the actors that hear every state change. */
  listeners: ReadonlyArray<ActorRef<PhaseListener>>;
  /** Closes the link of a generation (connection's closeLink). */
  closeLink: (generation: number, reason: string) => void;
  /** Decides on and starts the USB rediscovery exit; true when it is under way. */
  onRediscoveryExit: (reason: string) => boolean;
}

export class Kernel implements PhaseSource, ComponentSource {
  #phase: Phase;
  readonly #component: ComponentStore;
  #autoconnecting: boolean;
  /** Counts every change of the state: see KernelState.version. */
  #version = 0;
  readonly #options: KernelOptions;
  readonly #now: () => number;
  readonly #subscribers = new Set<(change: PhaseChange) => void>();
  readonly #stateSubscribers = new Set<(state: KernelState) => void>();
  readonly #reports = new Map<string, Record<string, unknown>>();
  /** Recent changes, oldest first, so a late subscriber (or an operator) sees how we got here. */
  readonly #history: PhaseChange[] = [];
  #rediscoveryExitRequested = false;

  constructor(options: KernelOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#autoconnecting = options.autoconnecting;
    this.#phase = { ...INITIAL_PHASE, since: this.#now() };
    this.#component = new ComponentStore(this.#now);
  }

  /** What the controller says about itself (contracts/component.ts). */
  get component(): ComponentState {
    return this.#component.component;
  }

  onComponentChange(listener: (change: ComponentChange) => void): () => void {
    return this.#component.onComponentChange(listener);
  }

  /**
   * A fact about the controller learnt on the link of `generation`. A fact
   * about an older link is dropped (a late cast must not undo what the new
   * link said); false then.
   */
  reportComponent(generation: number, report: ComponentReport): boolean {
    if (generation < this.#phase.generation) return false;
    this.#component.apply(generation, report);
    return true;
  }

  get state(): KernelState {
    return { phase: this.#phase, autoconnecting: this.#autoconnecting, version: this.#version };
  }

  /** The last accepted changes (at most 200), oldest first. */
  history(): readonly PhaseChange[] {
    return this.#history;
  }

  /** Every accepted phase change, after it happened. */
  onPhaseChange(listener: (change: PhaseChange) => void): () => void {
    this.#subscribers.add(listener);
    return () => this.#subscribers.delete(listener);
  }

  /** Every state change (phase or autoconnecting). */
  onState(listener: (state: KernelState) => void): () => void {
    this.#stateSubscribers.add(listener);
    return () => this.#stateSubscribers.delete(listener);
  }

  /** Applies a transition or throws IllegalTransitionError (the caller gets it as its call's rejection). */
  transition(request: TransitionRequest): KernelState {
    const from = this.#phase;
    if (request.to === 'Connected' && !this.#autoconnecting) {
      // A link opened while autoconnecting went off (paused, stopped): the connection closes it.
      throw new IllegalTransitionError(from, request, 'autoconnecting is off');
    }
    const result = transition(from, request, this.#now());
    if (!result.ok) throw result.error;
    this.#phase = result.phase;
    this.#version += 1;
    const change: PhaseChange = {
      from,
      to: result.phase,
      reason: request.to === 'Disconnected' ? request.reason : `${request.to.toLowerCase()}`,
      durationMs: result.phase.since - from.since,
    };
    this.#history.push(change);
    if (this.#history.length > HISTORY_LIMIT) this.#history.shift();
    for (const listener of this.#subscribers) safely(() => listener(change));
    this.#publish();
    return this.state;
  }

  /** Disconnects the link of `generation` if it is current; false when stale or already down. */
  disconnect(generation: number, reason: string, retryInMs?: number): boolean {
    const phase = this.#phase;
    if (phase.generation !== generation || phase.name === 'Disconnected') return false;
    this.transition({
      to: 'Disconnected',
      generation,
      reason,
      ...(retryInMs === undefined ? {} : { retryInMs }),
    });
    this.#options.closeLink(generation, reason);
    return true;
  }

  setAutoconnecting(enabled: boolean): void {
    if (this.#autoconnecting === enabled) return;
    this.#autoconnecting = enabled;
    this.#version += 1;
    this.#publish();
  }

  requestRediscoveryExit(reason: string): boolean {
    if (this.#rediscoveryExitRequested) return true;
    const accepted = this.#options.onRediscoveryExit(reason);
    this.#rediscoveryExitRequested = accepted;
    return accepted;
  }

  report(actorId: string, facts: Record<string, unknown>): void {
    this.#reports.set(actorId, facts);
  }

  reports(): ReadonlyMap<string, Record<string, unknown>> {
    return this.#reports;
  }

  /** The handlers actors call, served under id `kernel`. */
  api(): KernelApi {
    return {
      transition: (request: TransitionRequest) => this.transition(request),
      state: () => this.state,
      disconnect: (generation: number, reason: string, retryInMs?: number) =>
        this.disconnect(generation, reason, retryInMs),
      requestRediscoveryExit: (reason: string) => this.requestRediscoveryExit(reason),
      report: (actorId: string, facts: Record<string, unknown>) => this.report(actorId, facts),
      component: (generation: number, report: ComponentReport) =>
        void this.reportComponent(generation, report),
    };
  }

  #publish(): void {
    const state = this.state;
    for (const listener of this.#options.listeners) listener.cast('onKernelState', state);
    for (const listener of this.#stateSubscribers) safely(() => listener(state));
  }
}

/** A subscriber's bug must not stop the kernel. */
function safely(run: () => void): void {
  try {
    run();
  } catch {
    // ignored on purpose
  }
}

const HISTORY_LIMIT = 200;

export const SERVICE_ACTORS = [
  ACTOR_IDS.connection,
  ACTOR_IDS.commander,
  ACTOR_IDS.synchronization,
  ACTOR_IDS.watchdog,
] as const;
