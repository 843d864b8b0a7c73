export * from "./api.js";
export {
  ChainSync,
  isRangeRefusal,
  sharePrice,
  type ConsoleAddresses,
  type ChainSyncOptions,
} from "./chain-sync.js";
export {
  EventIndex,
  feedTargetOf,
  type IndexedEvent,
  type SourceKind,
  type DeviceRecord,
  type FeedRecord,
} from "./event-index.js";
export { ServiceProbe, parsePrometheus, rates } from "./ops.js";
export {
  gradeOf,
  rateDevice,
  rateFeed,
  type DeviceRatingInput,
  type FeedRatingInput,
} from "./rating.js";
export { ConsoleServer, LIVE_MODE, type ConsoleServerOptions } from "./server.js";
export * from "./views.js";
export {
  CONSOLE_DIR,
  DEFAULT_MAX_AGE,
  ensureConsoleBundle,
  runConsole,
  type RunConsoleOptions,
  type RunningConsole,
} from "./run.js";
