/**
 * Blocks from the command line, over the running service's HTTP API. A
 * block is named by its id (digits) or its name.
 *
 *     tether block list
 *     tether block read REF
 *     tether block create TYPE [--name NAME] [--id ID] [--data JSON]
 *     tether block write REF --data JSON [--type TYPE] [--name NAME]
 *     tether block patch REF [--data JSON] [--name NAME]
 *     tether block rename REF NAME
 *     tether block delete REF
 *     tether block delete-all
 *
 * Blocks print as JSON (escaped for the terminal: a block's data is the
 * controller's). Exit codes: 0, 1 for an error answer (its code printed),
 * 69 when the service cannot be reached, 78 for a command line or
 * configuration that cannot be used.
 */
import type { Command } from 'commander';
import { ApiClient, CliFailure, errorLine } from './api-client.js';
import type { ApiFlags } from './api-client.js';
import { terminalJson } from './terminal.js';

export interface BlockIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

const processIo = (): BlockIo => ({
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
});

type Flags = ApiFlags & { name?: string; id?: string; data?: string; type?: string };

function common(command: Command): Command {
  return command
    .option('--url <url>', 'the HTTP API (default: from http.host and http.port of the configuration)')
    .option('-c, --config <file>', 'configuration file (YAML); also TETHER_CONFIG');
}

function data(text: string | undefined, required: boolean): Record<string, unknown> | undefined {
  if (text === undefined) {
    if (required) throw new CliFailure('--data is required (a JSON object)', 78);
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CliFailure('--data: not JSON', 78);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CliFailure('--data: expected a JSON object', 78);
  }
  return value as Record<string, unknown>;
}

const ref = (text: string): string => `/api/blocks/${encodeURIComponent(text)}`;

/** One API call for a block command: prints the answer's JSON, or its error in one line. */
export async function blockCall(
  flags: Flags,
  io: BlockIo,
  request: () => { method: string; path: string; body?: unknown },
): Promise<number> {
  try {
    const { method, path, body } = request();
    const api = await ApiClient.connect(flags, io.env);
    const answer = await api.call(method, path, body);
    if (answer.status >= 300) throw new CliFailure(errorLine(path, answer.status, answer.json), 1);
    io.stdout(`${terminalJson(answer.json)}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof CliFailure)) throw error;
    io.stderr(`tether: ${error.message}\n`);
    return error.exitCode;
  }
}

export function registerBlockCommands(program: Command, io: () => BlockIo = processIo): void {
  const block = program.command('block').description("the controller's blocks, by id or by name");
  const action =
    (request: (...args: never[]) => { method: string; path: string; body?: unknown }) =>
    async (...args: unknown[]): Promise<void> => {
      // commander passes the arguments, then the options, then the command.
      const flags = args[args.length - 2] as Flags;
      process.exitCode = await blockCall(flags, io(), () =>
        (request as (...a: unknown[]) => { method: string; path: string; body?: unknown })(
          ...args.slice(0, -2),
          flags,
        ),
      );
    };
  common(block.command('list'))
    .description('every block, with its name')
    .action(action(() => ({ method: 'GET', path: '/api/blocks' })));
  common(block.command('read').argument('<ref>', 'id or name'))
    .description('one block')
    .action(action((id: string) => ({ method: 'GET', path: ref(id) })));
  common(block.command('create').argument('<type>', 'the block type'))
    .description('create a block (named <type>-<id> unless --name)')
    .option('--name <name>', 'its name')
    .option('--id <id>', 'its id (100..65535; the controller picks one when absent)')
    .option('--data <json>', 'its data, a JSON object', '{}')
    .action(
      action((type: string, flags: Flags) => ({
        method: 'POST',
        path: '/api/blocks',
        body: {
          type,
          data: data(flags.data, true),
          ...(flags.name === undefined ? {} : { name: flags.name }),
          ...(flags.id === undefined ? {} : { id: Number(flags.id) }),
        },
      })),
    );
  common(block.command('write').argument('<ref>', 'id or name'))
    .description('replace a block’s data')
    .option('--data <json>', 'its data, a JSON object')
    .option('--type <type>', 'its type (default: the type it has)')
    .option('--name <name>', 'a new name')
    .action(
      action((id: string, flags: Flags) => ({
        method: 'PUT',
        path: ref(id),
        body: {
          data: data(flags.data, true),
          ...(flags.type === undefined ? {} : { type: flags.type }),
          ...(flags.name === undefined ? {} : { name: flags.name }),
        },
      })),
    );
  common(block.command('patch').argument('<ref>', 'id or name'))
    .description('merge data into a block’s (null removes a key)')
    .option('--data <json>', 'what to merge, a JSON object')
    .option('--name <name>', 'a new name')
    .action(
      action((id: string, flags: Flags) => {
        const merged = data(flags.data, false);
        return {
          method: 'PATCH',
          path: ref(id),
          body: {
            ...(merged === undefined ? {} : { data: merged }),
            ...(flags.name === undefined ? {} : { name: flags.name }),
          },
        };
      }),
    );
  common(block.command('rename').argument('<ref>', 'id or name').argument('<name>', 'the new name'))
    .description('rename a block')
    .action(action((id: string, name: string) => ({ method: 'PATCH', path: ref(id), body: { name } })));
  common(block.command('delete').argument('<ref>', 'id or name'))
    .description('delete a block (not a system block)')
    .action(action((id: string) => ({ method: 'DELETE', path: ref(id) })));
  common(block.command('delete-all'))
    .description('delete every user block')
    .action(action(() => ({ method: 'DELETE', path: '/api/blocks' })));
}
