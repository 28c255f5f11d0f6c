/** The controller simulator: embeddable (`startSimulator`) and behind `tether sim`. */
export {
  startSimulator,
  type Simulator,
  type SimulatorMdnsOptions,
  type SimulatorOptions,
} from './simulator.js';
export { Faults } from './faults.js';
export {
  SIM_DEFAULTS,
  SIM_FAULTS,
  SIM_IDENTITY,
  FAULT_RESET,
  REBOOT_RESET,
  UPDATE_RESET,
  UPDATE_FAILED_RESET,
  SIM_NEXT_FIRMWARE,
  type FaultSettings,
  type SimIdentity,
} from './defaults.js';
export type { ControllerStats } from './controller.js';
export { openPtyPair, type PtyPair, type PtyPairOptions } from './pty-pair.js';
export { applyControlLine, CONTROL_HELP } from './control.js';
