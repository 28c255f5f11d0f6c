/** Controllers on multicast DNS: finding them (connection's discovery) and advertising them (simulator, USB bridge). */
export {
  MdnsBrowser,
  MDNS_BROWSER_DEFAULTS,
  queryGap,
  type MdnsBrowserCounters,
  type MdnsBrowserOptions,
} from './browser.js';
export {
  MdnsAdvertiser,
  ADVERTISER_LIMITS,
  addressesFor,
  type Advertisement,
  type MdnsAdvertiserCounters,
  type MdnsAdvertiserOptions,
  type ServiceAd,
} from './advertiser.js';
export {
  CONTROLLER_SERVICE,
  ID_KEY,
  RECORD_LIMITS,
  readResponse,
  serviceRecords,
  type Sighting,
  type SkipKind,
} from './records.js';
export { MDNS_DEFAULTS, openMdnsSocket, type MdnsSocket, type MdnsSocketOptions } from './socket.js';
