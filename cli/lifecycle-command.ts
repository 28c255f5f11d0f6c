/**
 * `tether lifecycle`: the running service's life cycle, through its HTTP API.
 *
 *     tether lifecycle                  the state, the last transition and who asked, the group
 *     tether lifecycle start|pause|stop a trigger (PUT /api/lifecycle); waits until it has run
 *
 * Options as for `tether status` (--url, --config, --json), and the token
 * from http.token of the configuration (or TETHER_HTTP__TOKEN), or --token.
 * Exit codes: 0 (also when the service was already there: the answer says
 * so), 1 when the service refuses or cannot be reached, 78 for an invalid
 * configuration.
 */
import type { Command } from 'commander';
import { ConfigError, ConfigNotFoundError, EXIT_CONFIG, loadConfig } from '../config/index.js';
import type { LifecycleJson, LifecycleTransitionJson } from '../kernel/views.js';
import type { GroupView } from '../kernel/bus.js';
import { printable } from '../errors/index.js';
import { CliFailure, fetchJson, type JsonAnswer } from './answer.js';
import { terminalJson } from './terminal.js';

export const LIFECYCLE_ACTIONS = { start: 'started', pause: 'paused', stop: 'stopped' } as const;
export type LifecycleAction = keyof typeof LIFECYCLE_ACTIONS;

export interface LifecycleFlags {
  url?: string;
  config?: string;
  token?: string;
  json?: boolean;
}

export interface LifecycleIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

/** The CLI's name in the service's record of who asked (User-Agent). */
const USER_AGENT = 'tether-cli';
/** A stop waits for the device actors' shutdown timeouts; the service bounds it, this only backs it up. */
const REQUEST_TIMEOUT_MS = 90_000;

export function registerLifecycleCommand(program: Command): void {
  program
    .command('lifecycle')
    .description('show the running service’s life cycle, or start, pause or stop it (and its group)')
    .argument('[action]', 'start | pause | stop')
    .option('--url <url>', 'the HTTP API (default: from http.host and http.port of the configuration)')
    .option('-c, --config <file>', 'configuration file (YAML); also TETHER_CONFIG')
    .option('--token <token>', 'the API token (default: http.token of the configuration)')
    .option('--json', 'print the API’s JSON as it is')
    .action(async (action: string | undefined, flags: LifecycleFlags) => {
      process.exitCode = await runLifecycleCommand(action, flags, {
        stdout: (text) => process.stdout.write(text),
        stderr: (text) => process.stderr.write(text),
        env: process.env,
      });
    });
}

export async function runLifecycleCommand(
  action: string | undefined,
  flags: LifecycleFlags,
  io: LifecycleIo,
): Promise<number> {
  if (action !== undefined && !Object.hasOwn(LIFECYCLE_ACTIONS, action)) {
    io.stderr(`tether: unknown life-cycle action "${printable(action)}" (start, pause or stop)\n`);
    return 1;
  }
  let target: { base: string; token: string };
  try {
    target = await targetFrom(flags, io.env);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof ConfigNotFoundError) {
      io.stderr(`tether: invalid configuration\n${error.message}\n`);
      return EXIT_CONFIG;
    }
    throw error;
  }
  const url = new URL('/api/lifecycle', target.base);
  const headers: Record<string, string> = { 'user-agent': USER_AGENT };
  let init: RequestInit = { headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) };
  if (action !== undefined) {
    headers['content-type'] = 'application/json';
    if (target.token !== '') headers['authorization'] = `Bearer ${target.token}`;
    init = {
      ...init,
      method: 'PUT',
      body: JSON.stringify({ state: LIFECYCLE_ACTIONS[action as LifecycleAction] }),
    };
  }
  let answer: JsonAnswer;
  try {
    answer = await fetchJson(url, init, target.base, 1);
  } catch (error) {
    if (!(error instanceof CliFailure)) throw error;
    io.stderr(`tether: ${error.message}\n`);
    return error.exitCode;
  }
  const body = answer.json;
  if (!answer.ok) {
    const apiError = (body as { error?: { code?: string; message?: string } } | null)?.error;
    io.stderr(
      `tether: ${printable(apiError?.code ?? String(answer.status))}: ${printable(apiError?.message ?? '')}\n`,
    );
    return 1;
  }
  if (flags.json === true) io.stdout(`${terminalJson(body)}\n`);
  else if (action === undefined)
    io.stdout(formatLifecycle(body as LifecycleJson & { group: GroupView | null }));
  else io.stdout(formatTrigger(body as TriggerAnswer));
  return 0;
}

interface TriggerAnswer {
  state: string;
  ignored: boolean;
  transition: LifecycleTransitionJson | null;
}

export function formatTrigger(answer: TriggerAnswer): string {
  if (answer.ignored) return `already ${printable(answer.state)}: nothing to do\n`;
  const t = answer.transition;
  return t === null
    ? `${printable(answer.state)}\n`
    : `${printable(t.from)} -> ${printable(t.to)} (${t.durationMs} ms)\n`;
}

export function formatLifecycle(view: LifecycleJson & { group: GroupView | null }): string {
  const lines = [`${printable(view.state)} since ${printable(view.since)}`];
  if (view.moving !== null) lines.push(`  moving to ${printable(view.moving)}`);
  if (view.last !== null) lines.push(`  last: ${describeTransition(view.last)}`);
  lines.push(`  allowed: ${view.allowed.length === 0 ? 'none' : view.allowed.map(printable).join(', ')}`);
  const group = view.group;
  if (group !== null) {
    lines.push(
      `  group: ${printable(group.name)} (${group.joined ? 'joined' : 'not joined'}) as ${printable(group.origin)}`,
    );
    if (group.lastReceived !== null) {
      const r = group.lastReceived;
      lines.push(
        `  last from the group: ${printable(r.to)} from ${printable(r.origin)} #${r.seq}: ${printable(r.outcome.kind)}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

function describeTransition(t: LifecycleTransitionJson): string {
  const s = t.source;
  const who =
    s.via === 'group'
      ? `group member ${printable(s.origin ?? '?')} #${s.seq ?? '?'}`
      : s.via === 'http' && s.client !== undefined
        ? `http (${printable(s.client)})`
        : s.via === 'automatic'
          ? `automatic: ${printable(s.cause ?? '')}`
          : s.via;
  return `${printable(t.from)} -> ${printable(t.to)} at ${printable(t.at)} by ${who}`;
}

async function targetFrom(
  flags: LifecycleFlags,
  env: NodeJS.ProcessEnv,
): Promise<{ base: string; token: string }> {
  if (flags.url !== undefined && flags.token !== undefined) return { base: flags.url, token: flags.token };
  const { config } = await loadConfig({ ...(flags.config === undefined ? {} : { file: flags.config }), env });
  let host = config.http.host;
  // A wildcard is where the service listens, not where to call it.
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::' || host === '[::]') host = '::1';
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  return {
    base: flags.url ?? `http://${host}:${config.http.port}`,
    token: flags.token ?? config.http.token,
  };
}
