/**
 * `tether status` and `tether tree`: the running service's HTTP API, for a
 * person (or, with `--json`, for a script).
 *
 *     tether status [--url URL] [--config FILE] [--json]
 *     tether tree   [--url URL] [--config FILE] [--json]
 *
 * The URL defaults to http.host and http.port of the configuration (a
 * wildcard host is asked on loopback). Colour only on a terminal, and never
 * with NO_COLOR. What the service sends is printed with every control
 * character escaped (terminal.ts): some of it comes from the controller.
 * Exit codes: 0, 1 when the service cannot be reached or answers with an
 * error (or with something else than a status), 78 for an invalid
 * configuration.
 */
import type { Command } from 'commander';
import { ConfigError, ConfigNotFoundError, EXIT_CONFIG, loadConfig } from '../config/index.js';
import { quote } from '../errors/index.js';
import type { ComponentView, StatusView, TreeNodeView, TreeView } from '../http/index.js';
import { CliFailure, fetchJson, type JsonAnswer } from './answer.js';
import { terminalJson, terminalSafe } from './terminal.js';

interface StatusFlags {
  url?: string;
  config?: string;
  json?: boolean;
}

export interface StatusIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  color: boolean;
}

const processIo = (): StatusIo => ({
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  color: process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined,
});

export function registerStatusCommands(program: Command): void {
  for (const [name, description] of [
    ['status', 'show the running service: phase, device, errors, counters'],
    ['tree', 'show the running service’s supervision tree'],
  ] as const) {
    program
      .command(name)
      .description(description)
      .option('--url <url>', 'the HTTP API (default: from http.host and http.port of the configuration)')
      .option('-c, --config <file>', 'configuration file (YAML); also TETHER_CONFIG')
      .option('--json', 'print the API’s JSON as it is')
      .action(async (flags: StatusFlags) => {
        process.exitCode = await runStatusCommand(name, flags, processIo());
      });
  }
}

export async function runStatusCommand(
  what: 'status' | 'tree',
  flags: StatusFlags,
  io: StatusIo,
): Promise<number> {
  let base: string;
  try {
    base = flags.url ?? (await urlFromConfig(flags.config, io.env));
  } catch (error) {
    if (error instanceof ConfigError || error instanceof ConfigNotFoundError) {
      io.stderr(`tether: invalid configuration\n${error.message}\n`);
      return EXIT_CONFIG;
    }
    throw error;
  }
  let url: URL;
  try {
    url = new URL(what === 'status' ? '/api/status' : '/api/tree', base);
  } catch {
    io.stderr(`tether: --url: not a URL: ${quote(base)}\n`);
    return EXIT_CONFIG;
  }
  let answer: JsonAnswer;
  try {
    answer = await fetchJson(url, { signal: AbortSignal.timeout(5000) }, base, 1);
  } catch (error) {
    if (!(error instanceof CliFailure)) throw error;
    io.stderr(`tether: ${error.message}\n`);
    return error.exitCode;
  }
  const body = answer.json;
  if (!answer.ok) {
    const apiError = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const code = typeof apiError?.code === 'string' ? quote(apiError.code) : '';
    const message = typeof apiError?.message === 'string' ? quote(apiError.message, 400) : '';
    io.stderr(`tether: ${quote(url.href)} answered ${answer.status}: ${code} ${message}\n`);
    return 1;
  }
  if (flags.json === true) {
    io.stdout(`${terminalJson(body)}\n`);
    return 0;
  }
  let text: string;
  try {
    // Everything from the service made printable first: a controller writes some of it.
    const safe = terminalSafe(body);
    text =
      what === 'status'
        ? formatStatus(safe as StatusView, { color: io.color })
        : formatTree(safe as TreeView, { color: io.color });
  } catch {
    io.stderr(`tether: ${quote(url.href)} answered with something that is not a ${what} (try --json)\n`);
    return 1;
  }
  io.stdout(text);
  return 0;
}

export async function urlFromConfig(file: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  const { config } = await loadConfig({ ...(file === undefined ? {} : { file }), env });
  let host = config.http.host;
  // A wildcard is where the service listens, not where to call it.
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::' || host === '[::]') host = '::1';
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  return `http://${host}:${config.http.port}`;
}

// ------------------------------------------------------------- formatting

interface Paint {
  green: (text: string) => string;
  yellow: (text: string) => string;
  red: (text: string) => string;
  dim: (text: string) => string;
  bold: (text: string) => string;
}

function paint(color: boolean): Paint {
  const wrap =
    (open: number, close: number) =>
    (text: string): string =>
      color ? `\u001b[${open}m${text}\u001b[${close}m` : text;
  return {
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    red: wrap(31, 39),
    dim: wrap(2, 22),
    bold: wrap(1, 22),
  };
}

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}min ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}min`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

function clock(iso: string): string {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? '??:??:??' : at.toISOString().slice(11, 19);
}

/** `systemctl status`-like: a dot and headline, then aligned fields. */
export function formatStatus(status: StatusView, options: { color: boolean }): string {
  const p = paint(options.color);
  const problem = status.firmwareError ?? status.identityError;
  const dot =
    status.phase === 'Synchronized'
      ? p.green('●')
      : status.phase === 'Disconnected' || problem !== null
        ? p.red('●')
        : p.yellow('●');
  const lines: string[] = [];
  const field = (label: string, value: string): void =>
    void lines.push(`  ${`${label}:`.padEnd(14)}${value}`);
  lines.push(`${dot} tether - ${p.bold(status.phase)} (connection ${status.generation})`);
  field(
    'Phase',
    `${status.phase} since ${clock(status.since)}; ${formatDuration(status.inPhaseMs)} ago` +
      (status.disconnectReason === null ? '' : ` (${status.disconnectReason})`),
  );
  field(
    'Address',
    status.address === null ? p.dim('none') : `${status.address} (${status.transport ?? '?'})`,
  );
  if (status.device !== null) {
    const h = status.device.handshake;
    field(
      'Device',
      `${status.device.deviceId} firmware ${h['firmwareVersion'] ?? '?'} proto ${h['protoVersion'] ?? '?'} on ${h['platform'] ?? '?'}`,
    );
  }
  if (status.firmwareError !== null) field('Firmware', p.red(status.firmwareError));
  if (status.identityError !== null) field('Identity', p.red(status.identityError));
  field('Autoconnect', status.autoconnecting ? 'on' : p.yellow('off'));
  // Communication, component and tasks came with issue 12: a service from before has none of them.
  if (status.communication !== undefined) {
    field(
      'Communication',
      status.communication === 'ESTABLISHED' ? p.green(status.communication) : p.yellow(status.communication),
    );
  }
  if (status.component !== undefined) formatComponent(status.component, field, p);
  if (status.tasks !== undefined) {
    field('Tasks', `${status.tasks.executing} running, ${status.tasks.queued} queued`);
  }
  field('Uptime', formatDuration(status.uptimeMs));
  const c = status.counters;
  field(
    'Commands',
    c.commands === null
      ? p.dim('unknown')
      : `sent ${c.commands.sent}, pending ${c.commands.pending}, timed out ${c.commands.timedOut}, late ${c.commands.lateResponses}`,
  );
  if (c.connection !== null) {
    const bad = Object.values(c.connection.badFrames).reduce((sum, n) => sum + n, 0);
    field('Frames', `in ${c.connection.framesIn}, out ${c.connection.framesOut}, bad ${bad}`);
  }
  field('Restarts', String(c.restarts));
  if (status.watchdog !== null) {
    field('Watchdog', status.watchdog.healthy ? p.green('healthy') : p.red('unhealthy'));
  }
  if (status.connection !== null) field('Activity', status.connection.activity);
  for (const [actor, error] of Object.entries(status.errors)) {
    field(`! ${actor}`, p.red(`${error.code}: ${error.message}`));
  }
  if (status.recentTransitions.length > 0) {
    lines.push('', 'Recent transitions:');
    for (const t of status.recentTransitions) {
      lines.push(`  ${p.dim(clock(t.at))} ${t.from} -> ${t.to} ${p.dim(`(${t.reason})`)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** What the controller says about itself, as two lines of status. */
function formatComponent(
  component: ComponentView,
  field: (label: string, value: string) => void,
  p: Paint,
): void {
  const facts = [
    component.reset === null
      ? undefined
      : `reset ${component.reset.reasonName} (${component.reset.dataName})`,
    component.uptimeMs === null ? undefined : `up ${formatDuration(component.uptimeMs)}`,
    component.blocks === null ? undefined : `${component.blocks.count} blocks`,
    component.updater === null
      ? undefined
      : p.yellow(`in its updater (${component.updater.firmwareVersion})`),
  ].filter((fact): fact is string => fact !== undefined);
  field('Controller', facts.length === 0 ? p.dim('nothing known yet') : facts.join(', '));
  if (component.internalErrors.count > 0 || component.storage.errors > 0) {
    field(
      'Errors',
      p.red(
        `${component.internalErrors.count} internal (last ${component.internalErrors.last?.code ?? '?'}), ` +
          `${component.storage.errors} storage (last ${component.storage.last?.code ?? '?'})`,
      ),
    );
  }
}

/** The tree as `systemctl status` draws a cgroup: one line per child with state, incarnation, restarts, last exit. */
export function formatTree(tree: TreeView, options: { color: boolean }): string {
  const p = paint(options.color);
  const status = (text: string): string =>
    text === 'running' ? p.green(text) : text === 'restarting' ? p.yellow(text) : p.red(text);
  const lines = [`${tree.id} ${status(tree.state)}`];
  const walk = (nodes: readonly TreeNodeView[], prefix: string): void => {
    nodes.forEach((node, index) => {
      const last = index === nodes.length - 1;
      const exit =
        node.lastExit === null
          ? ''
          : p.dim(`  last exit ${node.lastExit.description} at ${clock(node.lastExit.at)}`);
      // A pool's load: its threads and queue now, how busy it has been, the tasks it has run.
      const pool =
        node.pool === undefined
          ? ''
          : p.dim(
              `  threads ${node.pool.threads}, queue ${node.pool.queueSize}, busy ${Math.round(node.pool.utilization * 100)}%, ${node.pool.completed} done`,
            );
      lines.push(
        `${prefix}${last ? '└─' : '├─'}${node.id} ${status(node.status)} ${p.dim(`#${node.incarnation}`)} restarts ${node.restarts}${pool}${exit}`,
      );
      if (node.children !== undefined) walk(node.children, `${prefix}${last ? '  ' : '│ '}`);
    });
  };
  walk(tree.children, '');
  return `${lines.join('\n')}\n`;
}
