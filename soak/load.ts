/**
 * The command load: several HTTP clients, each on its own connection, each
 * in a loop of reads (status, tree, health, readiness) and controller
 * commands (list, read, create, write, delete, NONE, VERSION) on blocks of
 * its own, for as long as the soak runs.
 *
 * Every request must be answered by its deadline, and with a status its
 * route may give while faults come and go: a command may find the link
 * down (409, 503), the controller slow or silent (504), busy or garbled
 * (502), but never a 500, and a read never anything but 200 (or 503 for
 * health and readiness while the tree or the link is down).
 */
import { ApiClient, RequestFailure } from './client.js';
import type { Ledger } from './ledger.js';
import type { Random } from './random.js';

/** What each route may answer under faults. */
const ALLOWED: Readonly<Record<string, readonly number[]>> = {
  'GET /healthz': [200, 503],
  'GET /readyz': [200, 503],
  'GET /api/status': [200],
  'GET /api/tree': [200],
  'POST /api/commands': [200, 409, 429, 502, 503, 504],
};

/** Commands the controller answers at once; the request's own timeout (the commander's) is this. */
export const COMMAND_TIMEOUT_MS = 5000;

interface Step {
  route: keyof typeof ALLOWED;
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  /** What to do with a 200 answer's JSON. */
  then?: (json: unknown) => void;
}

export interface LoadOptions {
  base: string;
  token: string;
  clients: number;
  deadlineMs: number;
  ledger: Ledger;
  rng: Random;
}

export class Load {
  readonly #options: LoadOptions;
  readonly #clients: ApiClient[] = [];
  #running = false;
  #loops: Array<Promise<void>> = [];

  constructor(options: LoadOptions) {
    this.#options = options;
  }

  start(): void {
    this.#running = true;
    for (let i = 0; i < this.#options.clients; i += 1) {
      const client = new ApiClient({
        base: this.#options.base,
        token: this.#options.token,
        deadlineMs: this.#options.deadlineMs,
      });
      this.#clients.push(client);
      this.#loops.push(this.#loop(client, i));
    }
  }

  /** Stops issuing requests; resolves once every request in flight has settled (each has its deadline). */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    for (const client of this.#clients) client.close();
  }

  async #loop(client: ApiClient, index: number): Promise<void> {
    const { rng, ledger } = this.#options;
    const mine: number[] = [];
    let n = 0;
    while (this.#running) {
      const step = this.#choose(index, mine, (n += 1));
      try {
        const answer = await client.request(step.method, step.path, step.body);
        ledger.answer(step.route, answer.status, answer.code, answer.ms);
        if (!ALLOWED[step.route]!.includes(answer.status)) {
          ledger.violation(
            `${step.route} answered ${answer.status} ${answer.code}: ${JSON.stringify(answer.json)}`,
          );
        }
        if (answer.status === 200) step.then?.(answer.json);
      } catch (error) {
        if (!(error instanceof RequestFailure)) throw error;
        ledger.failure(step.route, error.kind);
        ledger.violation(`a request got no answer (${error.kind}): ${error.message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, rng.int(5, 60)));
    }
  }

  #choose(index: number, mine: number[], n: number): Step {
    const { rng } = this.#options;
    const command = (opcode: string, payload?: unknown, then?: (json: unknown) => void): Step => ({
      route: 'POST /api/commands',
      method: 'POST',
      path: '/api/commands',
      body: { opcode, ...(payload === undefined ? {} : { payload }), timeoutMs: COMMAND_TIMEOUT_MS },
      ...(then === undefined ? {} : { then }),
    });
    const own = mine.length > 0 ? rng.pick(mine) : undefined;
    const roll = rng.int(0, 99);
    if (roll < 8) return { route: 'GET /api/status', method: 'GET', path: '/api/status' };
    if (roll < 14) return { route: 'GET /api/tree', method: 'GET', path: '/api/tree' };
    if (roll < 18) return { route: 'GET /healthz', method: 'GET', path: '/healthz' };
    if (roll < 22) return { route: 'GET /readyz', method: 'GET', path: '/readyz' };
    if (roll < 40) {
      // Blocks of this client whose create answer was lost (a timeout, a drop) are its own again.
      return command('BLOCK_LIST', undefined, (json) => {
        const blocks = (json as { payload?: unknown }).payload;
        if (!Array.isArray(blocks)) return;
        for (const block of blocks as Array<{ id?: unknown; data?: { client?: unknown } }>) {
          if (block.data?.client === index && typeof block.id === 'number' && !mine.includes(block.id)) {
            mine.push(block.id);
          }
        }
      });
    }
    if (roll < 60) return command('BLOCK_READ', { id: own ?? rng.pick([2, 3]) });
    if (roll < 70 && mine.length < 5) {
      return command('BLOCK_CREATE', { type: 'SoakSensor', data: { client: index, n } }, (json) => {
        const id = (json as { payload?: { id?: unknown } }).payload?.id;
        if (typeof id === 'number') mine.push(id);
      });
    }
    if (roll < 80 && own !== undefined) {
      return command('BLOCK_WRITE', { id: own, type: 'SoakSensor', data: { client: index, n } });
    }
    if (roll < 88 && own !== undefined) {
      mine.splice(mine.indexOf(own), 1);
      return command('BLOCK_DELETE', { id: own });
    }
    return command(rng.chance(0.5) ? 'NONE' : 'VERSION');
  }
}
