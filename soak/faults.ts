/**
 * What the soak does to the service, from both sides.
 *
 * The controller's side is the simulator's own fault injection, driven by
 * its text control lines (sim/control.ts), the same lines `tether sim`
 * takes on stdin. A fault whose line this build's simulator does not know
 * (one not landed yet) is left out and reported as such.
 *
 * The service's side goes through the HTTP API only, as an operator or a
 * bug would reach it: the drill route makes an actor crash, hang or run out
 * of memory; the operator routes restart an actor, drop the link and pause
 * autoconnecting.
 *
 * Every fault ends at a moment the soak can name: a one-shot action when it
 * is done, a lasting one when it is cleared, an actor fault when the tree
 * saw the actor exit (a hang is only over once the heartbeat caught it).
 * Recovery is measured from the last of those moments.
 */
import { ACTOR_IDS } from '../contracts/actors.js';
import type { ApiClient, Answer } from './client.js';
import type { EventWatch } from './events.js';
import type { Random } from './random.js';

export type Side = 'controller' | 'service';

export interface FaultContext {
  /** One simulator control line; its reply line. */
  sim(line: string): string;
  api: ApiClient;
  events: EventWatch;
  rng: Random;
  /** How long an actor may take to be seen exiting after a crash or oom is injected. */
  exitDeadlineMs: number;
  /** The same for a hang: the heartbeat interval and timeout, and a margin. */
  hangDeadlineMs: number;
  violation(why: string): void;
}

export interface ActiveFault {
  /** What was done, for the summary (e.g. `silent`, `crash commander`); undefined when nothing could be. */
  kind: string | undefined;
  /** Ends the fault; resolves with the moment (performance.now()) it was over. */
  end(): Promise<number>;
}

export interface Fault {
  name: string;
  side: Side;
  /** Lasting faults are held for a while before they are cleared. */
  lasting: boolean;
  start(ctx: FaultContext): Promise<ActiveFault>;
}

const ACTORS = [ACTOR_IDS.connection, ACTOR_IDS.commander, ACTOR_IDS.synchronization, ACTOR_IDS.watchdog];

function simLine(ctx: FaultContext, line: string): void {
  const reply = ctx.sim(line);
  if (reply.startsWith('error')) throw new Error(`simulator: "${line}": ${reply}`);
}

/** A one-shot controller action. */
function action(name: string, lines: (ctx: FaultContext) => string[]): Fault {
  return {
    name,
    side: 'controller',
    lasting: false,
    async start(ctx) {
      for (const line of lines(ctx)) simLine(ctx, line);
      const at = performance.now();
      return { kind: name, end: async () => at };
    },
  };
}

/** A lasting controller fault: `on` lines now, `off` lines when it ends. */
function lasting(name: string, on: (ctx: FaultContext) => string[], off: string[]): Fault {
  return {
    name,
    side: 'controller',
    lasting: true,
    async start(ctx) {
      for (const line of on(ctx)) simLine(ctx, line);
      return {
        kind: name,
        end: async () => {
          for (const line of off) simLine(ctx, line);
          return performance.now();
        },
      };
    },
  };
}

export const CONTROLLER_FAULTS: readonly Fault[] = [
  action('drop', () => ['drop']),
  action('reset', (ctx) => [`reset ${ctx.rng.pick(['WATCHDOG', 'POWER_BROWNOUT', 'PANIC', 'USER'])}`]),
  action('noise', (ctx) => [`noise ${ctx.rng.int(16, 8000)}`]),
  // A controller chattering: a few hundred log annotations at once.
  action('log burst', (ctx) =>
    Array.from(
      { length: ctx.rng.int(50, 500) },
      (_, i) => `log ${ctx.rng.pick(['INFO', 'WARN', 'ERROR'])} soak ${i}`,
    ),
  ),
  lasting('silent', () => ['silent on'], ['silent off']),
  lasting('slow', (ctx) => [`slow ${ctx.rng.int(100, 3000)}`], ['slow 0']),
  lasting('setup mode', (ctx) => [ctx.rng.chance(0.5) ? 'setup-mode drop' : 'setup-mode'], [
    'leave-setup-mode',
  ]),
  // No handshake on connect, only after a NONE, and the link dropped so the next one meets it.
  lasting('handshake withheld', () => ['handshake-after-none on', 'drop'], ['handshake-after-none off']),
  lasting('late handshake', (ctx) => [`handshake-delay ${ctx.rng.int(500, 3000)}`, 'drop'], [
    'handshake-delay 0',
  ]),
  lasting('annotated lines', () => ['annotate on'], ['annotate off']),
  // Hostile controllers (the harden-link faults): present when this build's simulator has them.
  lasting('busy', (ctx) => [`busy ${ctx.rng.pick(['BLOCK_WRITE', 'BLOCK_LIST', 'BLOCK_READ NONE'])}`], [
    'busy off',
  ]),
  lasting('setup mode on connect', () => ['setup-mode-on-connect on', 'drop'], ['setup-mode-on-connect off']),
  lasting('deep payloads', (ctx) => [`nested-payload ${ctx.rng.int(100, 3000)}`], ['nested-payload 0']),
];

/** The lines that tell whether the simulator knows a fault (harmless to send: they turn it off). */
export const PROBE_LINES: Readonly<Record<string, string>> = {
  busy: 'busy off',
  'setup mode on connect': 'setup-mode-on-connect off',
  'deep payloads': 'nested-payload 0',
};

/** Waits for the supervision event of `actor` exiting after `since`; resolves with when it was seen. */
function exitOf(ctx: FaultContext, actor: string, since: number, deadlineMs: number): Promise<number> {
  return new Promise((resolve) => {
    const look = (): boolean => {
      const seen = ctx.events
        .supervisionSince(since)
        .find((n) => n.type === 'child-exited' && n.childId === actor);
      if (seen === undefined) return false;
      finish(seen.seenAt);
      return true;
    };
    const finish = (at: number): void => {
      clearTimeout(timer);
      off();
      resolve(at);
    };
    const timer = setTimeout(() => {
      ctx.violation(`${actor} was not seen exiting within ${deadlineMs} ms of an injected fault`);
      finish(performance.now());
    }, deadlineMs);
    const off = ctx.events.onChange(() => void look());
    look();
  });
}

function actorFault(fault: 'crash' | 'hang' | 'oom'): Fault {
  return {
    name: fault === 'oom' ? 'out of memory' : fault,
    side: 'service',
    lasting: false,
    async start(ctx) {
      const actor = ctx.rng.pick(ACTORS);
      const since = performance.now();
      const answer = await ctx.api.request('POST', '/api/drills/faults', { actor, fault });
      // 503: the actor was between incarnations (another fault got there first); nothing was done.
      if (answer.status === 503) return { kind: undefined, end: async () => performance.now() };
      expectStatus(ctx, answer, 'POST /api/drills/faults', [200]);
      const deadline = fault === 'hang' ? ctx.hangDeadlineMs : ctx.exitDeadlineMs;
      const exited = exitOf(ctx, actor, since, deadline);
      return { kind: `${this.name} ${actor}`, end: () => exited };
    },
  };
}

export const SERVICE_FAULTS: readonly Fault[] = [
  actorFault('crash'),
  actorFault('hang'),
  actorFault('oom'),
  {
    name: 'restart via API',
    side: 'service',
    lasting: false,
    async start(ctx) {
      const actor = ctx.rng.pick(ACTORS);
      const answer = await ctx.api.request('POST', `/api/actors/${actor}/restart`, {});
      // 409: it was restarting already (another fault); 503: its supervisor is between lives.
      expectStatus(ctx, answer, 'POST /api/actors/{id}/restart', [200, 409, 503]);
      const at = performance.now();
      return { kind: answer.status === 200 ? `restart ${actor}` : undefined, end: async () => at };
    },
  },
  {
    name: 'reconnect via API',
    side: 'service',
    lasting: false,
    async start(ctx) {
      const answer = await ctx.api.request('POST', '/api/reconnect', {});
      expectStatus(ctx, answer, 'POST /api/reconnect', [200]);
      const at = performance.now();
      return { kind: 'reconnect', end: async () => at };
    },
  },
  {
    name: 'autoconnecting paused',
    side: 'service',
    lasting: true,
    async start(ctx) {
      const paused = await ctx.api.request('PUT', '/api/autoconnecting', { enabled: false });
      expectStatus(ctx, paused, 'PUT /api/autoconnecting', [200]);
      const dropped = await ctx.api.request('POST', '/api/reconnect', {});
      expectStatus(ctx, dropped, 'POST /api/reconnect', [200]);
      // Paused, no new link opens (one already being opened may finish: a second's grace).
      let settled: number | undefined;
      const grace = setTimeout(() => (settled = ctx.events.generation), 1000);
      return {
        kind: 'autoconnecting paused',
        end: async () => {
          clearTimeout(grace);
          if (settled !== undefined && ctx.events.generation > settled) {
            ctx.violation(
              `a new link (generation ${ctx.events.generation}) opened while autoconnecting was paused`,
            );
          }
          const resumed = await ctx.api.request('PUT', '/api/autoconnecting', { enabled: true });
          expectStatus(ctx, resumed, 'PUT /api/autoconnecting', [200]);
          return performance.now();
        },
      };
    },
  },
];

function expectStatus(ctx: FaultContext, answer: Answer, route: string, allowed: number[]): void {
  if (!allowed.includes(answer.status)) {
    ctx.violation(`${route} answered ${answer.status} ${answer.code}`);
  }
}
