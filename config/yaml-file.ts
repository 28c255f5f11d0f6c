/**
 * A configuration file as YAML: the parsed value, plus the document and its
 * line counter kept alive so that any later problem, syntax or schema, can
 * be pointed at a line and column.
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
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
    this.#doc = parseDocument(text, { lineCounter: this.#lines, prettyErrors: false, uniqueKeys: true });
    if (this.#doc.errors.length > 0) {
      throw new ConfigError(
        this.#doc.errors.map((error) =>
          this.problem(this.#pathAt(error.pos[0]), error.message, error.pos[0]),
        ),
      );
    }
    keepText(this.#doc.contents, [], isTextField);
    this.value = this.#doc.toJS() ?? {};
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

function keyName(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}
