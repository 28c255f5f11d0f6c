/**
 * A configuration file as YAML: the parsed value, plus the document and its
 * line counter kept alive so that any later problem, syntax or schema, can
 * be pointed at a line and column.
 */
import {
  LineCounter,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  visit,
  type Document,
  type Node,
} from 'yaml';
import { ConfigError, keyOf, type ConfigProblem } from './errors.js';

export interface Position {
  line: number;
  column: number;
}

export class YamlFile {
  readonly file: string;
  /** The document as plain data; an empty document is an empty mapping. */
  readonly value: unknown;
  readonly #doc: Document.Parsed;
  readonly #lines: LineCounter;

  /**
   * Throws `ConfigError` listing every syntax error. `isTextField` names the
   * keys whose unquoted values are kept as written: YAML would read the device
   * id 000000000000000000000001 as the number 1.
   */
  constructor(file: string, text: string, isTextField: (path: readonly string[]) => boolean = () => false) {
    this.file = file;
    this.#lines = new LineCounter();
    // prettyErrors off: positions come from the line counter, and messages stay one line.
    // uniqueKeys off: the library compares every key with every other (minutes for 40,000 keys);
    // checkKeys finds duplicates with a set instead.
    this.#doc = parseDocument(text, { lineCounter: this.#lines, prettyErrors: false, uniqueKeys: false });
    if (this.#doc.errors.length > 0) {
      throw new ConfigError(
        this.#doc.errors.map((error) =>
          this.problem(this.#pathAt(error.pos[0]), error.message, error.pos[0]),
        ),
      );
    }
    const keyProblems = checkKeys(this.#doc).map(({ path, message, offset }) =>
      this.problem(path, message, offset),
    );
    if (keyProblems.length > 0) throw new ConfigError(keyProblems);
    keepText(this.#doc.contents, [], isTextField);
    this.value = toPlain(this.#doc, (message, alias) => {
      const offset = alias?.range?.[0] ?? 0;
      return new ConfigError([this.problem(this.#pathAt(offset), message, offset)]);
    });
  }

  /** A problem at `path`: at the key of the deepest entry of the path that exists in the file. */
  problem(
    path: ReadonlyArray<string | number>,
    message: string,
    offset = this.#offsetOf(path),
  ): ConfigProblem {
    const { line, col } = this.#lines.linePos(offset);
    return { source: 'file', file: this.file, line, column: col, key: keyOf(path), message };
  }

  position(path: ReadonlyArray<string | number>): Position {
    const { line, col } = this.#lines.linePos(this.#offsetOf(path));
    return { line, column: col };
  }

  #offsetOf(path: ReadonlyArray<string | number>): number {
    let node = this.#resolve(this.#doc.contents);
    let offset = node?.range?.[0] ?? 0;
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => keyName(p.key) === String(segment));
        if (pair === undefined) break;
        offset = (pair.key as Node | null)?.range?.[0] ?? offset;
        node = this.#resolve(pair.value as Node | null);
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = this.#resolve(node.items[segment] as Node | undefined);
        if (item === undefined || item === null) break;
        offset = item.range?.[0] ?? offset;
        node = item;
      } else {
        break;
      }
    }
    return offset;
  }

  /** The key path of the innermost entry spanning `offset`, so a syntax error can name its key. */
  #pathAt(offset: number): Array<string | number> {
    const path: Array<string | number> = [];
    let node: Node | null | undefined = this.#doc.contents;
    for (;;) {
      if (isMap(node)) {
        const pair = node.items.find((p) => {
          const start = (p.key as Node | null)?.range?.[0] ?? (p.value as Node | null)?.range?.[0];
          const end = (p.value as Node | null)?.range?.[2] ?? (p.key as Node | null)?.range?.[2];
          return start !== undefined && end !== undefined && start <= offset && offset <= end;
        });
        if (pair === undefined) return path;
        path.push(keyName(pair.key));
        node = pair.value as Node | null;
      } else if (isSeq(node)) {
        const index = node.items.findIndex((item) => {
          const range = (item as Node | null)?.range;
          return range !== undefined && range !== null && range[0] <= offset && offset <= range[2];
        });
        if (index < 0) return path;
        path.push(index);
        node = node.items[index] as Node | null;
      } else {
        return path;
      }
    }
  }

  #resolve(node: Node | null | undefined): Node | null | undefined {
    // An alias points at its anchor's node, which is where the value (and its keys) are written.
    return isAlias(node) ? (node.resolve(this.#doc) as Node | undefined) : node;
  }
}

/** Alias expansions allowed when a document becomes data (the library's own default, said here). */
export const MAX_ALIAS_COUNT = 100;

/**
 * Aliases allowed in one document. The library resolves each alias by
 * scanning the document's anchors, so thousands of aliases take minutes
 * even without any expansion; a configuration shares a few values at most.
 */
export const MAX_ALIASES = 100;

/**
 * Keys that would reach JavaScript's object machinery rather than name a
 * setting (`__proto__` would set a prototype). No section has them, so they
 * are unknown keys; they are refused in the document, before any object is
 * made from it.
 */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

interface KeyProblem {
  path: Array<string | number>;
  message: string;
  offset: number;
}

/**
 * Duplicate keys, forbidden keys and keys that are collections, in one pass over every mapping of the
 * document (each mapping checked against a set: linear in the keys). Aliases
 * are not followed: their anchors are checked where they are written.
 */
export function checkKeys(doc: Document.Parsed | Document): KeyProblem[] {
  const problems: KeyProblem[] = [];
  // Each entry knows its parent and key; a path is only made for a problem.
  interface Entry {
    node: unknown;
    parent: Entry | undefined;
    key: string | number;
  }
  const pathOf = (entry: Entry): Array<string | number> => {
    const path: Array<string | number> = [];
    for (let at: Entry | undefined = entry; at?.parent !== undefined; at = at.parent) path.push(at.key);
    return path.reverse();
  };
  const stack: Entry[] = [{ node: doc.contents, parent: undefined, key: '' }];
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const { node } = entry;
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const name = keyName(pair.key);
        const inner: Entry = { node: pair.value, parent: entry, key: name };
        const offset = (pair.key as Node | null)?.range?.[0] ?? 0;
        // `? [a, b]: 1` and `!!binary aGk=: 1` are YAML, but no setting is named by a list, a mapping,
        // bytes or a date (and the library would warn on stderr as it turned them into text).
        if (!isNameKey(pair.key)) {
          problems.push({
            path: pathOf(inner),
            message: 'a key must be a plain name, not a list, a mapping, bytes or a date',
            offset,
          });
        } else if (FORBIDDEN_KEYS.has(name))
          problems.push({ path: pathOf(inner), message: 'unknown key', offset });
        else if (seen.has(name)) problems.push({ path: pathOf(inner), message: 'duplicate key', offset });
        else seen.add(name);
        if (isMap(pair.value) || isSeq(pair.value)) stack.push(inner);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        if (isMap(item) || isSeq(item)) stack.push({ node: item, parent: entry, key: index });
      });
    }
  }
  return problems.sort((a, b) => a.offset - b.offset);
}

/**
 * The document as plain data, with aliases bounded twice: in number (see
 * MAX_ALIASES), and in expansion, so a "billion laughs" document (anchors of
 * aliases of aliases) cannot grow without end; and an alias inside its own
 * anchor is refused, since it makes a value that contains itself. `refuse` makes the caller's
 * error from a message and the alias to blame.
 */
export function toPlain(
  doc: Document.Parsed,
  refuse: (message: string, alias: Node | undefined) => Error,
): unknown {
  let aliases = 0;
  let first: Node | undefined;
  let excess: Node | undefined;
  let recursive: Node | undefined;
  visit(doc, {
    Alias(_key, node, ancestors) {
      first ??= node;
      aliases += 1;
      if (aliases > MAX_ALIASES) {
        excess = node;
        return visit.BREAK;
      }
      // `x: &a {y: *a}` makes a value that contains itself: anything walking it would never end.
      const target = node.resolve(doc);
      if (target !== undefined && ancestors.includes(target)) {
        recursive = node;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  if (excess !== undefined) {
    throw refuse(`more than ${MAX_ALIASES} aliases: write the values out or use fewer aliases`, excess);
  }
  if (recursive !== undefined) {
    throw refuse(
      'an alias inside its own anchor (a value that contains itself): write the value out',
      recursive,
    );
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (error) {
    // The library throws a ReferenceError for both an alias without anchor and too many expansions.
    if (!(error instanceof ReferenceError)) throw error;
    if (/alias count/i.test(error.message)) {
      throw refuse(
        `aliases expand to more than ${MAX_ALIAS_COUNT} copies (a YAML alias bomb?): write the values out or use fewer aliases`,
        first,
      );
    }
    throw refuse(error.message, unresolvedAlias(doc) ?? first);
  }
}

/** The first alias without an anchor before it (at most MAX_ALIASES lookups, each a scan). */
function unresolvedAlias(doc: Document.Parsed): Node | undefined {
  let found: Node | undefined;
  visit(doc, {
    Alias(_key, node) {
      if (node.resolve(doc) !== undefined) return undefined;
      found = node;
      return visit.BREAK;
    },
  });
  return found;
}

function keepText(node: unknown, path: string[], isTextField: (path: readonly string[]) => boolean): void {
  if (!isMap(node)) return;
  for (const pair of node.items) {
    const inner = [...path, keyName(pair.key)];
    const value = pair.value;
    if (isScalar(value) && value.type === 'PLAIN' && value.source !== undefined && isTextField(inner)) {
      // Only non-null values: an empty key still means "default".
      if (value.value !== null) value.value = value.source;
    } else {
      keepText(value, inner, isTextField);
    }
  }
}

/** A key that is a name: a scalar of text, a number, a boolean or null (an empty key). */
function isNameKey(key: unknown): boolean {
  if (isMap(key) || isSeq(key)) return false;
  const value = isScalar(key) ? key.value : key;
  return value === null || ['string', 'number', 'boolean', 'bigint'].includes(typeof value);
}

function keyName(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}
