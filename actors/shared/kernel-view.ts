/**
 * An actor's view of the kernel's state, kept in order although messages
 * arrive out of order.
 *
 * The kernel casts `onKernelState` on its own channel, and an actor may also
 * fetch `kernel.state()` to catch up (when a peer's message shows it is
 * behind). Those two paths have no order between them, so a cast sent
 * before a fetch may arrive after it. States are therefore ordered by
 * (generation, phase rank): within one generation the phase only moves
 * Connected -> Acknowledged -> Synchronized -> Disconnected, and the next
 * generation starts after its Disconnected; then by the kernel's version
 * (its count of changes), which alone tells "paused" from "started again"
 * within one Disconnected (a stale fetched state that won would leave the
 * link paused for good). An older state is ignored, so the view never moves
 * back.
 */
import type { KernelState } from '../../contracts/actors.js';
import { compareKernelStates } from '../../contracts/actors.js';
import type { Phase, PhaseName } from '../../contracts/phase.js';
import { INITIAL_PHASE, PHASES } from '../../contracts/phase.js';

/** True when a link in phase `phase` may carry a request that needs `needs`. */
export function phaseAllows(phase: Phase, needs: PhaseName): boolean {
  return phase.name !== 'Disconnected' && PHASES.indexOf(phase.name) >= PHASES.indexOf(needs);
}

export const INITIAL_KERNEL_STATE: KernelState = { phase: INITIAL_PHASE, autoconnecting: true, version: 0 };

export class KernelView {
  readonly #fetch: () => Promise<KernelState>;
  readonly #onChange: (state: KernelState, previous: KernelState) => void;
  #state: KernelState;
  #refreshing: Promise<boolean> | undefined;

  /**
   * `fetch` asks the kernel for its current state; `onChange` runs for every
   * state the view accepts (from a cast or a fetch), after it is applied.
   */
  constructor(
    fetch: () => Promise<KernelState>,
    onChange: (state: KernelState, previous: KernelState) => void,
    initial: KernelState = INITIAL_KERNEL_STATE,
  ) {
    this.#fetch = fetch;
    this.#onChange = onChange;
    this.#state = initial;
  }

  get state(): KernelState {
    return this.#state;
  }

  get phase(): Phase {
    return this.#state.phase;
  }

  /** Applies `state` unless it is older than the one held; true when applied. */
  apply(state: KernelState): boolean {
    if (compareKernelStates(state, this.#state) < 0) return false;
    const previous = this.#state;
    this.#state = state;
    this.#onChange(state, previous);
    return true;
  }

  /**
   * Fetches the kernel's state and applies it. One fetch at a time: callers
   * that come while one is in flight share it. Never rejects: resolves
   * false when the kernel did not answer (the view stays as it was).
   */
  refresh(): Promise<boolean> {
    this.#refreshing ??= this.#fetch()
      .then(
        (state) => {
          this.apply(state);
          return true;
        },
        () => false,
      )
      .finally(() => {
        this.#refreshing = undefined;
      });
    return this.#refreshing;
  }
}
