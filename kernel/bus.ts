/**
 * The kernel's side of the MQTT link, in the main thread. It builds the
 * state document from the kernel and the life cycle and casts it to the
 * MQTT actor on every change (the actor coalesces and keeps only the
 * latest), forwards phase, supervision and life-cycle events, and serves
 * the actor's calls (BusApi, as `bus-kernel`): operator requests go to the
 * same actions HTTP uses (operator.ts), group transitions to the life cycle.
 *
 * The group, kept in step without echo:
 * - A transition this member makes because an operator asked (HTTP, MQTT,
 *   the CLI) is published on the group topic with this process's origin id
 *   and the next sequence number; start-up transitions and failures are
 *   not, so a member that starts late never drags the group back.
 * - A transition received from another member is run here (walking the
 *   table's path to it when this member is behind) and never published
 *   again. Our own messages are skipped by origin (the broker's no-local
 *   option keeps them from us as well), and a message seen before by
 *   (origin, sequence) is skipped, so a redelivery or a retained copy after
 *   a reconnect runs nothing twice.
 * - The latest transition is retained: a member that starts late or comes
 *   back from a cut gets it with its subscription and catches up; only a
 *   group's `stopped` that predates this process is not followed.
 */
import { randomBytes } from 'node:crypto';
import type { BusApi, GroupOutcome, GroupTransition, MqttApi, StateDocument } from '../contracts/bus.js';
import { BUS_IDS } from '../contracts/bus.js';
import { pathTo } from '../contracts/lifecycle.js';
import type { TetherConfig } from '../config/index.js';
import { TetherError } from '../errors/index.js';
import type { ActorSystem, Logger } from '../runtime/index.js';
import type { SupervisionEvents } from '../supervisors/index.js';
import { busServiceName } from '../actors/mqtt/settings.js';
import type { CommandTracker, TaskView } from '../tasks/index.js';
import type { Kernel } from './kernel.js';
import type { Lifecycle, LifecycleTransition } from './lifecycle.js';
import {
  failureOf,
  lifecycleTransitionJson,
  phaseEventJson,
  stateDocument,
  supervisionEventJson,
} from './views.js';

/** Origins remembered for their last sequence number (a fleet's members over a long run). */
const SEEN_ORIGINS_LIMIT = 1000;
const FAILURES_KEPT = 5;

export interface BusBridgeOptions {
  config: TetherConfig;
  system: ActorSystem;
  kernel: Kernel;
  lifecycle: Lifecycle;
  events: SupervisionEvents;
  logger: Logger;
  /** An operator request from the broker (operator.ts performAction, as MQTT). */
  perform: (action: string, body: unknown) => Promise<unknown>;
  /** The task tracker: running and queued tasks go in the state, status changes out as `task` events. */
  tasks?: Pick<CommandTracker, 'list' | 'subscribe'>;
}

export interface GroupView {
  name: string;
  topic: string;
  /** This process's id in the group. */
  origin: string;
  joined: boolean;
  lastPublished: { seq: number; to: string; at: string; acknowledged: boolean } | null;
  lastReceived: {
    origin: string;
    seq: number;
    to: string;
    at: string;
    outcome: GroupOutcome;
  } | null;
}

export class BusBridge {
  /** This process run in the group: the service's name and a random part, new on every start. */
  readonly origin: string;
  readonly service: string;
  readonly #options: BusBridgeOptions;
  readonly #mqtt;
  readonly #group: string;
  #seq = 0;
  #pendingGroup: GroupTransition | null = null;
  #lastPublished: GroupView['lastPublished'] = null;
  #lastReceived: GroupView['lastReceived'] = null;
  readonly #seen = new Map<string, number>();
  readonly #failures: Array<{ source: string; message: string; at: string }> = [];
  #joined = false;
  readonly #joinWaiters = new Set<() => void>();
  readonly #unsubscribe: Array<() => void> = [];
  #served: { close(): void } | undefined;
  #statePending: NodeJS.Immediate | undefined;

  constructor(options: BusBridgeOptions) {
    this.#options = options;
    this.service = busServiceName(options.config);
    this.#group = options.config.lifecycle.group;
    this.origin = `${this.service}/${randomBytes(4).toString('hex')}`;
    this.#mqtt = options.system.ref<MqttApi>(BUS_IDS.mqtt);
  }

  get grouped(): boolean {
    return this.#group !== '';
  }

  /** Serves the actor's calls and starts forwarding; before the tree starts, so the actor's hello finds it. */
  start(): void {
    const { system, kernel, lifecycle, events } = this.#options;
    this.#served = system.serve(BUS_IDS.kernel, this.#api());
    this.#unsubscribe.push(
      kernel.onState(() => this.#pushState()),
      kernel.onPhaseChange((change) => this.#mqtt.cast('publishEvent', 'phase', phaseEventJson(change))),
      events.subscribe((event) => {
        // The link's own comings and goings are not news on the link.
        if ('childId' in event && event.childId === BUS_IDS.mqtt) return;
        this.#mqtt.cast('publishEvent', 'supervision', supervisionEventJson(event));
        const failure = failureOf(event);
        if (failure !== undefined) {
          this.#failures.push(failure);
          if (this.#failures.length > FAILURES_KEPT) this.#failures.shift();
          this.#pushState();
        }
      }),
      lifecycle.onMoving(() => this.#pushState()),
      lifecycle.onTransition((transition) => this.#onTransition(transition)),
    );
    const tasks = this.#options.tasks;
    if (tasks !== undefined) {
      this.#unsubscribe.push(
        // Status changes only: progress is for those who watch one task (HTTP, the CLI), not for the bus.
        tasks.subscribe(({ change, task }) => {
          if (change !== 'status') return;
          this.#mqtt.cast('publishEvent', 'task', taskEventJson(task));
          this.#pushState();
        }),
      );
    }
  }

  /** Resolves once the group subscription is in place, or after `timeoutMs`; true when joined. */
  whenJoined(timeoutMs: number): Promise<boolean> {
    if (this.#joined) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#joinWaiters.delete(done);
        resolve(this.#joined);
      };
      const timer = setTimeout(done, timeoutMs);
      this.#joinWaiters.add(done);
    });
  }

  view(): GroupView | null {
    if (!this.grouped) return null;
    return {
      name: this.#group,
      topic: `${this.#options.config.mqtt.prefix}/${this.#group}/lifecycle`,
      origin: this.origin,
      joined: this.#joined,
      lastPublished: this.#lastPublished === null ? null : { ...this.#lastPublished },
      lastReceived: this.#lastReceived === null ? null : { ...this.#lastReceived },
    };
  }

  state(): StateDocument {
    const { config, kernel, lifecycle } = this.#options;
    return stateDocument({
      service: this.service,
      kernel: kernel.state,
      lifecycle: lifecycle.view(),
      failures: this.#failures,
      publishIntervalMs: config.mqtt.publishIntervalMs,
      tasks: this.#tasks(),
    });
  }

  /** The tasks running and queued, for the state document. */
  #tasks(): Array<Record<string, unknown>> {
    const lists = this.#options.tasks?.list();
    if (lists === undefined) return [];
    return [...lists.executing, ...lists.queued].map(taskEventJson);
  }

  close(): void {
    clearImmediate(this.#statePending);
    this.#statePending = undefined;
    for (const off of this.#unsubscribe.splice(0)) off();
    for (const wake of [...this.#joinWaiters]) wake();
    this.#served?.close();
    this.#served = undefined;
  }

  // ---------------------------------------------------------------- outgoing

  /**
   * The state goes to the actor once per turn of the event loop: a
   * transition changes several things at once (autoconnecting, the phase,
   * the life cycle) and they go out as one document, the final one.
   */
  #pushState(): void {
    if (this.#statePending !== undefined) return;
    this.#statePending = setImmediate(() => {
      this.#statePending = undefined;
      this.#mqtt.cast('publishState', this.state());
    });
  }

  #onTransition(transition: LifecycleTransition): void {
    this.#mqtt.cast('publishEvent', 'lifecycle', { ...lifecycleTransitionJson(transition) });
    this.#pushState();
    const { via } = transition.source;
    if (!this.grouped || (via !== 'http' && via !== 'mqtt')) return;
    if (transition.to !== 'started' && transition.to !== 'paused' && transition.to !== 'stopped') return;
    this.#seq += 1;
    const message: GroupTransition = {
      origin: this.origin,
      seq: this.#seq,
      service: this.service,
      from: transition.from,
      to: transition.to,
      at: new Date(transition.at).toISOString(),
    };
    this.#pendingGroup = message;
    this.#lastPublished = { seq: message.seq, to: message.to, at: message.at, acknowledged: false };
    this.#mqtt.cast('publishGroup', message);
  }

  // ---------------------------------------------------------------- incoming

  #api(): BusApi {
    return {
      hello: () => ({ state: this.state(), group: this.#pendingGroup }),
      perform: (action: string, body: unknown) => this.#options.perform(action, body),
      groupTransition: (message: GroupTransition, joining: boolean) =>
        this.#groupTransition(message, joining),
      joined: () => {
        this.#joined = true;
        for (const wake of [...this.#joinWaiters]) wake();
      },
      groupPublished: (seq: number) => {
        if (this.#pendingGroup?.seq === seq) this.#pendingGroup = null;
        if (this.#lastPublished?.seq === seq) this.#lastPublished.acknowledged = true;
      },
    };
  }

  async #groupTransition(message: GroupTransition, joining: boolean): Promise<GroupOutcome> {
    if (message.origin === this.origin) return { kind: 'ignored', why: 'our own' };
    const last = this.#seen.get(message.origin);
    if (last !== undefined && message.seq <= last) return { kind: 'ignored', why: 'seen before' };
    this.#seen.delete(message.origin);
    this.#seen.set(message.origin, message.seq);
    if (this.#seen.size > SEEN_ORIGINS_LIMIT) this.#seen.delete(this.#seen.keys().next().value!);
    const outcome = await this.#follow(message, joining);
    this.#lastReceived = {
      origin: message.origin,
      seq: message.seq,
      to: message.to,
      at: message.at,
      outcome,
    };
    const log = this.#options.logger;
    if (outcome.kind === 'applied') {
      log.info(
        { event: 'lifecycle-group', origin: message.origin, seq: message.seq, to: message.to },
        `life cycle: followed ${message.origin} to ${message.to}`,
      );
    }
    return outcome;
  }

  async #follow(message: GroupTransition, joining: boolean): Promise<GroupOutcome> {
    const { lifecycle } = this.#options;
    if (joining && message.to === 'stopped') {
      // Stopped is for good: a process started after its group stopped is a new run, not a member to stop.
      return { kind: 'ignored', why: 'the group stopped before this process joined' };
    }
    const path = pathTo(lifecycle.planned, message.to);
    if (path === undefined) {
      return {
        kind: 'refused',
        code: 'TETHER_LIFECYCLE_ILLEGAL',
        message: `no way from ${lifecycle.planned} to ${message.to}`,
      };
    }
    if (path.length === 0) return { kind: 'ignored', why: `already ${message.to}` };
    const source = { via: 'group' as const, origin: message.origin, seq: message.seq };
    try {
      for (const step of path) await lifecycle.trigger(step, source);
    } catch (error) {
      return {
        kind: 'refused',
        code: TetherError.is(error) ? error.code : 'TETHER_INTERNAL',
        message: error instanceof Error ? error.message : String(error),
      };
    }
    return { kind: 'applied', state: lifecycle.state };
  }
}

/** A task as the bus shows it: what it is and how far it got, not its result. */
function taskEventJson(task: TaskView): Record<string, unknown> {
  return {
    id: task.id,
    kind: task.kind,
    status: task.status,
    progress: { ...task.progress },
    problem: task.problem === null ? null : { ...task.problem },
    submittedAt: new Date(task.submittedAt).toISOString(),
  };
}
