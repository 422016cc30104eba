/** `batchlab serve`: the read-only dashboard and JSON API over the store (docs/api.md). */
export {
  startServer,
  DEFAULT_HOST,
  DEFAULT_PORT,
  MAX_STEPS_PER_RESPONSE,
  type ServerOptions,
  type RunningServer,
} from './server.js';
export {
  ExperimentWatcher,
  parseCursor,
  sseFrame,
  POLL_INTERVAL_MS,
  MAX_STEPS_PER_EVENT,
  type Cursor,
  type LiveEvent,
} from './events.js';
export { hasDotDotSegment, resolveInside } from './static.js';
