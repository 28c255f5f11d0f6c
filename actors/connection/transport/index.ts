/** Byte links to a controller: one interface, TCP and serial implementations. */
export { LinkBase, type Link, type LinkCloseInfo, type LinkKind } from './link.js';
export { openTcpLink, TcpLink, DEFAULT_TCP_PORT, type TcpLinkOptions } from './tcp.js';
export {
  openSerialLink,
  SerialLink,
  listSerialPorts,
  SERIAL_DEFAULTS,
  type SerialLinkOptions,
  type SerialPortInfo,
  type SerialPortLike,
  type SerialSettings,
} from './serial.js';
