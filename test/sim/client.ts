/**
 * A minimal service-side client for the simulator tests: a Link plus a
 * ResponseDecoder, with waits that always have a deadline.
 */
import {
  ResponseDecoder,
  encodeRequest,
  type Decoded,
  type Opcode,
  type Request,
  type ResponseFrame,
} from '../../protocol/index.js';
import { openSerialLink, openTcpLink, type Link } from '../../actors/connection/transport/index.js';

type Out = Decoded<ResponseFrame>;

export class Client {
  readonly link: Link;
  readonly decoder: ResponseDecoder;
  /** Everything decoded so far, in order. */
  readonly seen: Out[] = [];
  readonly #waiters = new Set<{ match: (o: Out) => boolean; resolve: (o: Out) => void }>();
  #msgId = 0;
  closed: Promise<void>;

  private constructor(link: Link) {
    this.link = link;
    this.decoder = new ResponseDecoder((o) => {
      this.seen.push(o);
      for (const w of this.#waiters) {
        if (w.match(o)) {
          this.#waiters.delete(w);
          w.resolve(o);
        }
      }
    });
    link.onData((chunk) => this.decoder.push(chunk));
    this.closed = new Promise((resolve) => link.onClose(() => resolve()));
  }

  static async tcp(port: number): Promise<Client> {
    return new Client(await openTcpLink({ host: '127.0.0.1', port }));
  }

  static async serial(path: string): Promise<Client> {
    return new Client(await openSerialLink({ path }));
  }

  /** The first output (already seen or still to come, from index `from`) that matches. */
  waitFor(match: (o: Out) => boolean, ms = 3000, from = 0): Promise<Out> {
    const found = this.seen.slice(from).find(match);
    if (found !== undefined) return Promise.resolve(found);
    let waiter: { match: (o: Out) => boolean; resolve: (o: Out) => void } | undefined;
    const promise = new Promise<Out>((resolve) => {
      waiter = { match, resolve };
      this.#waiters.add(waiter);
    });
    return deadline(promise, ms, 'a decoded output').finally(() => {
      if (waiter !== undefined) this.#waiters.delete(waiter);
    });
  }

  handshakes(): number {
    return this.seen.filter((o) => o.kind === 'event' && o.event.type === 'handshake').length;
  }

  async send<O extends Opcode>(request: Omit<Request<O>, 'msgId'>): Promise<number> {
    this.#msgId = (this.#msgId % 65535) + 1;
    const msgId = this.#msgId;
    await this.link.write(encodeRequest({ ...request, msgId } as Request<O>));
    return msgId;
  }

  /** Sends and waits for the response with the same msgId. */
  async request<O extends Opcode>(request: Omit<Request<O>, 'msgId'>, ms = 3000): Promise<ResponseFrame> {
    const from = this.seen.length;
    const msgId = await this.send(request);
    const out = await this.waitFor((o) => o.kind === 'frame' && o.frame.msgId === msgId, ms, from);
    if (out.kind !== 'frame') throw new Error('unreachable');
    return out.frame;
  }

  close(): Promise<void> {
    return this.link.close();
  }
}

export function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`deadline of ${ms} ms passed waiting for ${what}`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Resolves false if nothing matching arrives within `ms` (for "answers nothing" checks). */
export async function nothingWithin(
  client: Client,
  match: (o: Out) => boolean,
  ms: number,
): Promise<boolean> {
  try {
    await client.waitFor(match, ms, client.seen.length);
    return false;
  } catch {
    return true;
  }
}
