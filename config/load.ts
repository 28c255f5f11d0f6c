/**
 * Loading the configuration: defaults < file < environment < overrides
 * (command-line flags).
 *
 * The file is validated on its own first, so `tether config check FILE` and
 * the service agree on whether a file is valid, and a mistake in the file is
 * reported even when the environment happens to override it. Then the layers
 * are merged and validated together (for rules that span fields), and each
 * problem is traced to the layer that set the value: a file position, a
 * variable name, or the flags. Every problem found is reported at once.
 * Last come the rules over the configuration as a whole (rules.ts), such as
 * "not on loopback without a token", traced the same way.
 */
import { ConfigError, keyOf, type ConfigKey, type ConfigProblem } from './errors.js';
import { readEnv } from './env.js';
import { problemsFromIssues, type PathProblem } from './issues.js';
import { readConfigFile } from './read-file.js';
import { deploymentProblems } from './rules.js';
import { deepMerge, dropEmpty, leaves, type Path } from './merge.js';
import { isText, schemaAt } from './shape.js';
import { ConfigSchema, type DeepPartial, type TetherConfig } from './schema.js';
import { YamlFile } from './yaml-file.js';

/** Where a value that is not a default came from. */
export type ValueOrigin =
  | { source: 'file'; file: string; line: number; column: number }
  | { source: 'env'; variable: string }
  | { source: 'flags' };

export interface ConfigSources {
  /** The file read, as named; undefined when there was none. */
  file: string | undefined;
  /** The `TETHER_` variables that set something, in the order applied. */
  env: string[];
  /** Every value not left at its default, by dotted key (`discovery.tcp.port`). */
  origins: Record<ConfigKey, ValueOrigin>;
}

export interface LoadedConfig {
  config: TetherConfig;
  sources: ConfigSources;
}

export interface LoadOptions {
  /** The file; when absent, `TETHER_CONFIG` from `env`; when that is absent too, no file. */
  file?: string;
  /** Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  overrides?: DeepPartial<TetherConfig>;
}

/** Reads and validates; throws `ConfigError` (invalid) or `ConfigNotFoundError` (file given but unreadable). */
export async function loadConfig(options: LoadOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const file = options.file ?? (env.TETHER_CONFIG === '' ? undefined : env.TETHER_CONFIG);
  const text = file === undefined ? undefined : await readConfigFile(file);
  return resolveConfig({ file, text, env, overrides: options.overrides });
}

/** Validates one file's text on its own (environment and flags left out); throws `ConfigError`. */
export function checkConfigText(file: string, text: string): TetherConfig {
  return resolveConfig({ file, text, env: {} }).config;
}

/** The synchronous core of `loadConfig`, for text already in hand. */
export function resolveConfig(input: {
  file?: string | undefined;
  text?: string | undefined;
  env: NodeJS.ProcessEnv;
  overrides?: DeepPartial<TetherConfig> | undefined;
}): LoadedConfig {
  const origins = new Origins();
  const problems: ConfigProblem[] = [];

  // File: syntax (thrown by YamlFile), then the schema on the file alone.
  let yaml: YamlFile | undefined;
  let fileValue: unknown = {};
  if (input.text !== undefined) {
    yaml = new YamlFile(input.file ?? '<config>', input.text, isTextField);
    fileValue = dropEmpty(yaml.value, ConfigSchema);
    const alone = ConfigSchema.safeParse(fileValue, { reportInput: true });
    if (!alone.success) {
      const file = yaml;
      throw new ConfigError(
        problemsFromIssues(alone.error.issues, ConfigSchema).map((p) => file.problem(p.path, p.message)),
      );
    }
    for (const path of leaves(fileValue)) {
      origins.set(path, { source: 'file', file: yaml.file, ...yaml.position(path) });
    }
  }

  const env = readEnv(input.env, ConfigSchema);
  problems.push(...env.problems);
  for (const setting of env.settings) {
    for (const path of leaves(setting.value, setting.path))
      origins.set(path, { source: 'env', variable: setting.variable });
  }

  const overrides: unknown = input.overrides ?? {};
  for (const path of leaves(overrides)) origins.set(path, { source: 'flags' });

  const merged = deepMerge(deepMerge(fileValue, env.value), overrides);
  const result = ConfigSchema.safeParse(merged, { reportInput: true });
  const found = result.success
    ? deploymentProblems(result.data)
    : problemsFromIssues(result.error.issues, ConfigSchema);
  for (const problem of found) problems.push(attribute(problem, origins, yaml));
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);

  return {
    config: result.data,
    sources: { file: input.file, env: env.settings.map((s) => s.variable), origins: origins.toRecord() },
  };
}

function isTextField(path: readonly string[]): boolean {
  const field = schemaAt(ConfigSchema, path);
  return field !== undefined && isText(field);
}

/** Names the layer that set the value a problem is about (or, for a cross-field rule, a value near it). */
function attribute(problem: PathProblem, origins: Origins, yaml: YamlFile | undefined): ConfigProblem {
  const key = keyOf(problem.path);
  const origin = origins.near(problem.path);
  if (origin?.source === 'file' && yaml !== undefined) return yaml.problem(problem.path, problem.message);
  if (origin?.source === 'env')
    return { source: 'env', variable: origin.variable, key, message: problem.message };
  return { source: 'flags', key, message: problem.message };
}

/** Which layer set each leaf; a later layer's value replaces an earlier one's, and so does its origin. */
class Origins {
  readonly #byKey = new Map<ConfigKey, { path: Path; origin: ValueOrigin }>();

  set(path: Path, origin: ValueOrigin): void {
    const key = keyOf(path);
    // A value replaces whatever was at, above or below its path (heartbeat: false replaces heartbeat.intervalMs).
    for (const [other, entry] of this.#byKey) {
      if (isPrefix(entry.path, path) || isPrefix(path, entry.path)) this.#byKey.delete(other);
    }
    this.#byKey.set(key, { path, origin });
  }

  /**
   * The origin of the value at `path`, or of the nearest value above or below it;
   * failing that, of the latest value set in the closest enclosing section.
   */
  near(path: Path): ValueOrigin | undefined {
    for (let length = path.length; length >= 0; length--) {
      const prefix = path.slice(0, length);
      let found: ValueOrigin | undefined;
      for (const entry of this.#byKey.values()) {
        if (isPrefix(prefix, entry.path) || (length === path.length && isPrefix(entry.path, path))) {
          found = entry.origin;
        }
      }
      if (found !== undefined) return found;
    }
    return undefined;
  }

  toRecord(): Record<ConfigKey, ValueOrigin> {
    return Object.fromEntries([...this.#byKey].map(([key, entry]) => [key, entry.origin]));
  }
}

function isPrefix(prefix: Path, path: Path): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => String(segment) === String(path[i]));
}
