/**
 * The HTTP API under malformed requests, written byte for byte on raw
 * sockets to the real API in front of the real service and simulator:
 *
 * - requests built from hostile parts: request lines (odd methods,
 *   targets, versions, line endings), headers (Host, Origin, Content-Type,
 *   Content-Length, Transfer-Encoding, Authorization in every wrong way;
 *   names that are not tokens, folded lines, lines without a colon, one
 *   header of 20 KB), bodies (broken JSON, deep nesting, oversize, bytes
 *   that are not UTF-8, a byte-order mark, broken chunked encoding);
 * - valid requests of every route, mutated byte by byte;
 * - requests whose answer is known, each checked for its typed error code.
 *
 * For every input: an answer within the deadline (the client half-closes
 * after writing, so a cut request ends too); an HTTP/1.x status line; no
 * 500; every error answer JSON with a `TETHER_...` code, as the API's own
 * errors are (docs/http-api.md); nothing logged as an unexpected error.
 * After the run the service still answers, and the heap is where it was.
 */
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { pino } from 'pino';
import { resolveConfig } from '../config/index.js';
import { startHttpApi } from '../http/index.js';
import type { HttpApi } from '../http/index.js';
import { startService } from '../kernel/service.js';
import type { Service } from '../kernel/service.js';
import { startSimulator } from '../sim/index.js';
import type { Simulator } from '../sim/index.js';
import { Stopwatch, checkAsync, heapUsed } from './outcome.js';
import type { FuzzOutcome } from './outcome.js';

const TOKEN = 'fuzz-token';
/** Every route answers well within this (a command's own timeout here is 2 s). */
const ANSWER_DEADLINE_MS = 15_000;
/** Statuses the API may give; a 500 is never one. */
const STATUSES = new Set([
  200, 400, 401, 403, 404, 405, 408, 409, 413, 414, 415, 421, 429, 431, 501, 502, 503, 504, 505,
]);

// ---------------------------------------------------------------- raw I/O

export interface RawAnswer {
  /** Everything the server wrote before the first final answer was complete, it closed, or the deadline. */
  bytes: Buffer;
  /** A whole answer arrived, or the server closed the connection (as opposed to the deadline passing). */
  done: boolean;
}

/** How long a request may go unanswered before the client says it has nothing more to send. */
const IDLE_BEFORE_EOF_MS = 2000;

/**
 * Writes `request` on a fresh connection and reads until a whole final
 * answer is in or the server closes. A client that half-closes at once gets
 * no answer to a slow route (Node's server drops a request whose client
 * ended), so the write side is closed only for a request known to be cut
 * short (`incomplete`), or after the server has said nothing for a while:
 * then the parser sees the end and answers what it has.
 */
export function exchange(
  port: number,
  request: Buffer,
  incomplete = false,
  deadlineMs = ANSWER_DEADLINE_MS,
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: '127.0.0.1', port });
    let settled = false;
    const finish = (done: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(idle);
      socket.destroy();
      resolve({ bytes: Buffer.concat(chunks), done });
    };
    const deadline = setTimeout(() => finish(false), deadlineMs);
    let idle = setTimeout(() => socket.end(), IDLE_BEFORE_EOF_MS);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      clearTimeout(idle);
      idle = setTimeout(() => socket.end(), IDLE_BEFORE_EOF_MS);
      if (typeof firstAnswer(Buffer.concat(chunks), true) !== 'string') finish(true);
    });
    socket.on('error', () => undefined); // a reset after the answer is the server's right
    socket.on('close', () => finish(true));
    if (incomplete) socket.end(request);
    else socket.write(request);
  });
}

export interface ParsedAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * The first final response in `bytes` (interim 1xx answers skipped): status
 * line, headers, body by Content-Length; or why there is none. `whole`:
 * only an answer whose body is all there counts.
 */
export function firstAnswer(bytes: Buffer, whole = false): ParsedAnswer | string {
  let rest = bytes;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) {
      return rest.length === 0
        ? 'no answer at all'
        : `no complete head: ${rest.subarray(0, 80).toString('latin1')}`;
    }
    const [statusLine = '', ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3}) /.exec(statusLine);
    if (match === null) return `not a status line: ${statusLine.slice(0, 80)}`;
    const status = Number(match[1]);
    if (status >= 100 && status < 200) {
      rest = rest.subarray(end + 4);
      continue;
    }
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    const body = rest.subarray(end + 4, end + 4 + length);
    if (whole && body.length < length) return 'an answer still arriving';
    return { status, headers, body };
  }
}

/** The `error.code` of an error answer, or why the answer is not one of the API's typed errors. */
export function typedCode(answer: ParsedAnswer): string | { problem: string } {
  if (!(answer.headers['content-type'] ?? '').startsWith('application/json')) {
    return {
      problem: `a ${answer.status} that is not JSON (${answer.headers['content-type'] ?? 'no content-type'})`,
    };
  }
  try {
    const code = (JSON.parse(answer.body.toString('utf8')) as { error?: { code?: unknown } }).error?.code;
    if (typeof code === 'string' && /^TETHER_[A-Z_]+$/.test(code)) return code;
    return { problem: `a ${answer.status} without an error code` };
  } catch {
    return { problem: `a ${answer.status} whose body is not JSON` };
  }
}

// ------------------------------------------------------------ generators

const PATHS = [
  '/healthz',
  '/readyz',
  '/api/status',
  '/api/tree',
  '/api/reconnect',
  '/api/autoconnecting',
  '/api/actors/commander/restart',
  '/api/commands',
  '/api/drills/faults',
];

const TARGETS = [
  ...PATHS,
  '*',
  '',
  '//api/status',
  '/api/../api/status',
  '/api/./status',
  '/API/STATUS',
  '/api/status/',
  '/api/status?x=<script>&y=%00',
  '/api/status#fragment',
  '\\api\\status',
  '/api/actors/%00/restart',
  '/api/actors/%zz/restart',
  '/api/actors/%C0%AF/restart',
  '/api/actors/%E2%80%AE/restart',
  `/api/actors/${'a'.repeat(3000)}/restart`,
  'http://127.0.0.1/api/status',
  'http://evil.example/api/status',
  'http://[::1]/api/status',
  'https://127.0.0.1:1/api/status',
  'mailto:x@y',
  '127.0.0.1:8331',
  `/${'x'.repeat(20_000)}`,
];

const METHODS = [
  'GET',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'OPTIONS',
  'HEAD',
  'TRACE',
  'CONNECT',
  'get',
  'G ET',
  'GET\t',
  '',
  'FOO',
  'PRI',
];
const VERSIONS = [
  'HTTP/1.1',
  'HTTP/1.0',
  'HTTP/2.0',
  'HTTP/0.9',
  'HTTP/1.1x',
  'http/1.1',
  'HTTP/1.01',
  '',
  'HTTP/1.1 extra',
  'HTTP/9.9',
];
const EOLS = ['\r\n', '\n', '\r', '\r\r\n'];

type Header = [string, string];

const headerChoices: fc.Arbitrary<Header> = fc.oneof(
  fc.constantFrom<Header>(
    ['Host', '127.0.0.1'],
    ['Host', 'localhost:8331'],
    ['Host', 'evil.example'],
    ['Host', ''],
    ['Host', '[::1]'],
    ['Host', '127.0.0.1, evil.example'],
    ['Host', `${'h'.repeat(300)}.example`],
    ['Origin', 'http://127.0.0.1'],
    ['Origin', 'http://evil.example'],
    ['Origin', 'null'],
    ['Origin', '::::'],
    ['Content-Type', 'application/json'],
    ['Content-Type', 'application/json; charset=latin1'],
    ['Content-Type', 'application/json; charset="utf-8"'],
    ['Content-Type', 'text/plain'],
    ['Content-Type', 'application/x-www-form-urlencoded'],
    ['Content-Type', 'multipart/form-data; boundary=x'],
    ['Content-Type', ''],
    ['Content-Length', '0'],
    ['Content-Length', '5'],
    ['Content-Length', '-1'],
    ['Content-Length', 'abc'],
    ['Content-Length', '99999999999999999999'],
    ['Content-Length', '1, 2'],
    ['Content-Length', ' 3 '],
    ['Transfer-Encoding', 'chunked'],
    ['Transfer-Encoding', 'gzip'],
    ['Transfer-Encoding', 'chunked, identity'],
    ['Transfer-Encoding', 'identity'],
    ['Authorization', `Bearer ${TOKEN}`],
    ['Authorization', 'Bearer wrong'],
    ['Authorization', 'Basic Zm9vOmJhcg=='],
    ['Authorization', 'Bearer'],
    ['Authorization', `Bearer ${'t'.repeat(5000)}`],
    ['Connection', 'close'],
    ['Connection', 'keep-alive'],
    ['Connection', 'Upgrade'],
    ['Upgrade', 'websocket'],
    ['Upgrade', 'h2c'],
    ['Expect', '100-continue'],
    ['Expect', 'nonsense'],
    ['Accept', '*/*'],
    ['X-Forwarded-Host', 'evil.example'],
  ),
  fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 40 })),
  fc.constantFrom<Header>(
    ['Bad Name', 'x'],
    ['Bad:Name', 'x'],
    ['', 'empty name'],
    [' Folded', 'x'],
    ['X-Null', 'a\u0000b'],
    ['X-Long', 'v'.repeat(20_000)],
    ['X-Latin1', 'caf\u00e9'],
    ['X-Fold', 'first\r\n second'],
  ),
);

const bodyChoices: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .constantFrom(
      '',
      '{}',
      '{"enabled":true}',
      '{"enabled":"yes"}',
      '{"opcode":"NONE"}',
      '{"opcode":"BLOCK_READ","payload":{"id":2}}',
      '{"opcode":"BLOCK_READ","payload":{"id":"2"}}',
      '{"opcode":"REBOOT"}',
      '{"opcode":"NOPE"}',
      '{"opcode":"NONE","timeoutMs":0}',
      '{"opcode":"NONE","timeoutMs":1e308}',
      '{"opcode":"NONE","extra":1}',
      '{"__proto__":{"enabled":true}}',
      '{"constructor":{"prototype":{}}}',
      '{',
      '{"a":',
      'null',
      '[]',
      '"string"',
      '1e999',
      '{"a":"\\ud800"}',
      '{"a":"\\u0000"}',
      '\ufeff{}',
      `{"opcode":"NONE","payload":${'['.repeat(5000)}${']'.repeat(5000)}}`,
      `{"x":"${'y'.repeat(20_000)}"}`,
    )
    .map((text) => Buffer.from(text, 'utf8')),
  fc.constantFrom(
    Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]),
    Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0x22, 0x7d]),
    Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]),
  ),
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null', 'utf8')),
);

interface Built {
  bytes: Buffer;
  /** Cut short on purpose: the client has nothing more to send. */
  incomplete?: boolean;
  /** A short description, for a failure report. */
  what: string;
}

/** A request from hostile parts. */
const hostileRequest: fc.Arbitrary<Built> = fc
  .record({
    method: fc.oneof(fc.constantFrom(...METHODS), fc.string({ maxLength: 10 })),
    target: fc.oneof(fc.constantFrom(...TARGETS), fc.string({ maxLength: 40 })),
    version: fc.constantFrom(...VERSIONS),
    eol: fc.constantFrom(...EOLS),
    host: fc.constantFrom('127.0.0.1', 'localhost', undefined, 'evil.example'),
    headers: fc.array(headerChoices, { maxLength: 6 }),
    body: bodyChoices,
    length: fc.constantFrom('right', 'none', 'short', 'long', 'chunked', 'broken-chunked'),
  })
  .map(({ method, target, version, eol, host, headers, body, length }) => {
    const lines = [`${method} ${target} ${version}`.trimEnd()];
    if (host !== undefined) lines.push(`Host: ${host}`);
    for (const [name, value] of headers) lines.push(`${name}: ${value}`);
    let payload = body;
    if (length === 'right') lines.push(`Content-Length: ${body.length}`);
    if (length === 'short') lines.push(`Content-Length: ${Math.max(0, body.length - 3)}`);
    if (length === 'long') lines.push(`Content-Length: ${body.length + 10}`);
    if (length === 'chunked' || length === 'broken-chunked') {
      lines.push('Transfer-Encoding: chunked');
      payload =
        length === 'chunked'
          ? Buffer.concat([
              Buffer.from(`${body.length.toString(16)}\r\n`),
              body,
              Buffer.from('\r\n0\r\n\r\n'),
            ])
          : Buffer.concat([Buffer.from('zz\r\n'), body]);
    }
    const head = Buffer.from(lines.join(eol) + eol + eol, 'latin1');
    return {
      bytes: Buffer.concat([head, payload]),
      incomplete: length === 'long' || length === 'broken-chunked',
      what: `${method} ${target.slice(0, 60)} ${version} [${headers.map(([n]) => n).join(',')}] body ${body.length} (${length})`,
    };
  });

/** Valid requests of every route, as a well-behaved client writes them. */
function valid(method: string, path: string, body?: string, extra: string[] = []): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', `Authorization: Bearer ${TOKEN}`, ...extra];
  if (body !== undefined)
    lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body ?? ''}`, 'utf8');
}

const VALID_REQUESTS: readonly Buffer[] = [
  valid('GET', '/healthz'),
  valid('GET', '/readyz'),
  valid('GET', '/api/status'),
  valid('GET', '/api/tree'),
  valid('POST', '/api/reconnect', '{}'),
  valid('PUT', '/api/autoconnecting', '{"enabled":true}'),
  valid('POST', '/api/actors/watchdog/restart', '{}'),
  valid('POST', '/api/commands', '{"opcode":"BLOCK_LIST"}'),
  valid('POST', '/api/commands', '{"opcode":"BLOCK_READ","payload":{"id":3},"timeoutMs":1000}'),
];

type ByteEdit = { at: number; op: 'flip' | 'delete' | 'insert'; byte: number };

const byteEdit: fc.Arbitrary<ByteEdit> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('flip', 'delete', 'insert'),
  byte: fc.oneof(
    fc.integer({ min: 0, max: 255 }),
    fc.constantFrom(0x0d, 0x0a, 0x00, 0x20, 0x3a, 0x09, 0x7b, 0x22),
  ),
});

const mutatedRequest: fc.Arbitrary<Built> = fc
  .tuple(fc.constantFrom(...VALID_REQUESTS.keys()), fc.array(byteEdit, { minLength: 1, maxLength: 5 }))
  .map(([index, edits]) => {
    let bytes = Buffer.from(VALID_REQUESTS[index]!);
    for (const e of edits) {
      const at = e.at % Math.max(1, bytes.length);
      if (e.op === 'flip') bytes[at] = e.byte;
      else if (e.op === 'delete') bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
      else bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([e.byte]), bytes.subarray(at)]);
    }
    return { bytes, what: `valid request ${index} with ${edits.length} byte edits` };
  });

/** Requests whose typed answer is known. */
const EXPECTED: ReadonlyArray<{ bytes: Buffer; code: string; what: string }> = [
  { bytes: valid('GET', '/nope'), code: 'TETHER_HTTP_NOT_FOUND', what: 'an unknown path' },
  {
    bytes: valid('DELETE', '/api/status'),
    code: 'TETHER_HTTP_METHOD_NOT_ALLOWED',
    what: 'a method the path has not',
  },
  {
    bytes: Buffer.from('GET /api/status HTTP/1.1\r\nHost: evil.example\r\n\r\n'),
    code: 'TETHER_HTTP_HOST_NOT_ALLOWED',
    what: 'a rebinding Host',
  },
  {
    bytes: valid('POST', '/api/reconnect', '{}', ['Origin: http://evil.example']),
    code: 'TETHER_HTTP_ORIGIN_NOT_ALLOWED',
    what: 'a foreign Origin',
  },
  {
    bytes: Buffer.from(
      `POST /api/reconnect HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n`,
    ),
    code: 'TETHER_HTTP_UNSUPPORTED_MEDIA_TYPE',
    what: 'a form-like state change',
  },
  {
    bytes: valid('POST', '/api/commands', '{"opcode":'),
    code: 'TETHER_HTTP_INVALID_BODY',
    what: 'broken JSON',
  },
  {
    bytes: valid(
      'POST',
      '/api/commands',
      `{"opcode":"NONE","payload":${'['.repeat(5000)}${']'.repeat(5000)}}`,
    ),
    code: 'TETHER_HTTP_INVALID_BODY',
    what: 'a body nested 5,000 deep',
  },
  {
    bytes: valid('POST', '/api/commands', `{"x":"${'y'.repeat(20_000)}"}`),
    code: 'TETHER_HTTP_BODY_TOO_LARGE',
    what: 'a body over 16 KiB',
  },
  {
    bytes: Buffer.from(
      'POST /api/reconnect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
    ),
    code: 'TETHER_HTTP_UNAUTHORIZED',
    what: 'no token',
  },
  {
    bytes: Buffer.from('GET /api/status HTTP/1.1 nonsense\r\nHost: 127.0.0.1\r\n\r\n'),
    code: 'TETHER_HTTP_BAD_REQUEST',
    what: 'a broken request line',
  },
  {
    bytes: Buffer.from('GET /api/status HTTP/1.1\r\nBad Name: x\r\n\r\n'),
    code: 'TETHER_HTTP_BAD_REQUEST',
    what: 'a header name with a space',
  },
  {
    bytes: Buffer.from(
      'POST /api/reconnect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
    ),
    code: 'TETHER_HTTP_BAD_REQUEST',
    what: 'two different Content-Lengths',
  },
  {
    bytes: Buffer.from(
      `GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: ${'v'.repeat(20_000)}\r\n\r\n`,
    ),
    code: 'TETHER_HTTP_HEADERS_TOO_LARGE',
    what: 'a 20 KB header',
  },
];

// ----------------------------------------------------------------- target

export interface HttpFuzzOptions {
  runs: number;
  seed: number;
}

function fail(why: string): never {
  throw new Error(why);
}

/** Checks one exchange; throws (an assertion) on any broken invariant. */
function checkAnswer(request: Buffer, answer: RawAnswer, what: string): ParsedAnswer {
  if (!answer.done) fail(`no answer within ${ANSWER_DEADLINE_MS} ms: ${what}`);
  const parsed = firstAnswer(answer.bytes);
  if (typeof parsed === 'string') fail(`${parsed}: ${what}`);
  if (!STATUSES.has(parsed.status)) fail(`status ${parsed.status}: ${what}`);
  // An answer to HEAD has a head only, by definition.
  if (parsed.status >= 400 && !request.subarray(0, 5).equals(Buffer.from('HEAD '))) {
    const code = typedCode(parsed);
    if (typeof code !== 'string') fail(`${code.problem}: ${what}`);
  }
  return parsed;
}

export async function fuzzHttp(options: HttpFuzzOptions): Promise<FuzzOutcome> {
  const { runs, seed } = options;
  const watch = new Stopwatch();
  const failures: string[] = [];
  const started = performance.now();
  const stateDir = await mkdtemp(join(tmpdir(), 'tether-fuzz-http-'));
  const unexpected: string[] = [];
  const logger = pino(
    { level: 'warn' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) {
          if (line.includes('HTTP API: unexpected error') && unexpected.length < 10)
            unexpected.push(line.slice(0, 600));
        }
        done();
      },
    }),
  );
  let sim: Simulator | undefined;
  let service: Service | undefined;
  let api: HttpApi | undefined;
  let heapBefore: number;
  let heapAfter: number;
  const share = (fraction: number): number => Math.max(1, Math.round(runs * fraction));
  try {
    sim = await startSimulator({ port: 0 });
    const config = resolveConfig({
      env: {},
      overrides: {
        discovery: { mode: 'tcp', intervalMs: 200, tcp: { host: '127.0.0.1', port: sim.address?.port ?? 0 } },
        connection: { retry: { initialMs: 100, factor: 1.5, maxMs: 1000 } },
        commander: { timeoutMs: 2000 },
        stateDir,
        http: { host: '127.0.0.1', port: 0, token: TOKEN },
      },
    }).config;
    service = await startService(config, { logger, inContainer: false });
    api = await startHttpApi(service, config.http, logger);
    const { port } = api.address;
    heapBefore = heapUsed();

    const record = (what: string, failure: string | undefined): void => {
      if (failure !== undefined) failures.push(`${what}: ${failure}`);
    };
    record(
      'requests from hostile parts',
      await checkAsync(
        fc.asyncProperty(hostileRequest, (built) =>
          watch.timeAsync(
            async () =>
              void checkAnswer(built.bytes, await exchange(port, built.bytes, built.incomplete), built.what),
          ),
        ),
        share(0.6),
        seed,
      ),
    );
    record(
      'valid requests, mutated',
      await checkAsync(
        fc.asyncProperty(mutatedRequest, (built) =>
          watch.timeAsync(
            async () => void checkAnswer(built.bytes, await exchange(port, built.bytes), built.what),
          ),
        ),
        share(0.35),
        seed + 1,
      ),
    );
    record(
      'requests with a known typed error',
      await checkAsync(
        fc.asyncProperty(fc.constantFrom(...EXPECTED), (expected) =>
          watch.timeAsync(async () => {
            const parsed = checkAnswer(expected.bytes, await exchange(port, expected.bytes), expected.what);
            const code = typedCode(parsed);
            if (code !== expected.code)
              fail(`${expected.what}: ${JSON.stringify(code)}, expected ${expected.code}`);
          }),
        ),
        Math.max(EXPECTED.length * 2, share(0.05)),
        seed + 2,
      ),
    );
    const health = firstAnswer((await exchange(port, valid('GET', '/healthz'))).bytes);
    if (typeof health === 'string' || health.status !== 200) {
      failures.push(`after the run, /healthz: ${typeof health === 'string' ? health : health.status}`);
    }
    for (const line of unexpected) failures.push(`the service logged: ${line}`);
    heapAfter = heapUsed();
  } finally {
    await api?.close();
    await service?.stop();
    await sim?.close();
    await rm(stateDir, { recursive: true, force: true });
  }
  return {
    target: 'http',
    inputs: share(0.6) + share(0.35) + Math.max(EXPECTED.length * 2, share(0.05)),
    ms: performance.now() - started,
    heapGrowthBytes: heapAfter - heapBefore,
    slowestMs: watch.slowestMs,
    failures,
  };
}
