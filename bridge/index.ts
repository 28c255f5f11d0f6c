/**
 * The USB-to-TCP bridge (`tether usb-bridge`): Spark controllers on this
 * machine's USB, each served on a TCP port, listed over HTTP and mDNS.
 */
export {
  UsbBridge,
  BRIDGE_LIMITS,
  openBackoff,
  type BridgeCounters,
  type BridgeEntry,
  type SlotState,
  type UsbBridgeOptions,
} from './bridge.js';
export {
  BridgedDevice,
  DEVICE_LIMITS,
  openWithSerialport,
  type DeviceCounters,
  type DeviceSettings,
  type SerialOpener,
} from './device.js';
export { startBridgeHttp, type BridgeHttp, type BridgeHttpOptions } from './http.js';
