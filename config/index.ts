/** The configuration: schema and defaults, loading with precedence, errors, JSON Schema. */
export {
  CONFIG_DEFAULTS,
  TRACE_SAMPLERS,
  ConfigSchema,
  type ChildName,
  type ChildPolicy,
  type DeepPartial,
  type SupervisorName,
  type SupervisorPolicy,
  type TetherConfig,
  type TetherConfigInput,
} from './schema.js';
export {
  checkConfigText,
  loadConfig,
  resolveConfig,
  type ConfigSources,
  type LoadedConfig,
  type LoadOptions,
  type ValueOrigin,
} from './load.js';
export {
  ConfigError,
  ConfigNotFoundError,
  formatProblem,
  type ConfigKey,
  type ConfigProblem,
} from './errors.js';
export { MAX_CONFIG_BYTES, readConfigFile } from './read-file.js';
export { MAX_CA_FILE_BYTES, checkConfigFiles } from './files.js';
export { NON_CONFIG_VARIABLES, envName } from './env.js';
export { isLoopback, isWildcard, parseHostPort, unbracket, type HostPort } from './address.js';
export { hasToken } from './rules.js';
export { configJsonSchema } from './json-schema.js';
export { REDACTED, redactSecrets, redactUrlPassword } from './secrets.js';
export { childPolicy, supervisorFlags, type ChildPolicyOptions } from './supervision.js';

/** sysexits EX_CONFIG: the configuration is invalid; a service manager should not restart in a loop. */
export const EXIT_CONFIG = 78;
