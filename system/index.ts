/**
 * The service's dealings with the machine it runs on: systemd notification
 * and watchdog pings, and the state that must survive an exit.
 */
export { createNotifier, NO_OP_NOTIFIER, statusLine, type Notifier, type NotifierOptions } from './notify.js';
export {
  startWatchdogPings,
  watchdogIntervalMs,
  type WatchdogPingOptions,
  type WatchdogPings,
  type WatchdogTimers,
} from './watchdog.js';
export {
  ensureStateDir,
  loadStateFile,
  readJsonState,
  readRegularFile,
  readStateText,
  removeStaleTemps,
  STATE_FILE_MODE,
  STATE_FILE_TIMEOUT_MS,
  writeFileAtomic,
  writeJsonState,
  type LoadedStateFile,
  type LoadStateFileOptions,
  type ReadRegularFileOptions,
  type ReadStateOptions,
  type StateFileProblem,
  type StateFileRead,
} from './state-file.js';
export * from './errors.js';
export {
  discoveryWindowMs,
  loadRediscoveryState,
  recordRediscoveryExit,
  REDISCOVERY_DEFAULTS,
  resetRediscoveryState,
  type RediscoveryBackoffOptions,
  type RediscoveryState,
} from './rediscovery-state.js';
export {
  RediscoveryGate,
  type RediscoveryClock,
  type RediscoveryDecision,
  type RediscoveryGateOptions,
} from './rediscovery-gate.js';
