/** `batchlab serve`: the read-only dashboard and JSON API over the store (docs/api.md). */
export {
  startServer,
  DEFAULT_HOST,
  DEFAULT_PORT,
  MAX_STEPS_PER_RESPONSE,
  STREAM_RETRY_AFTER_S,
  type ServerOptions,
  type RunningServer,
} from './server.js';
export {
  ExperimentFeed,
  parseCursor,
  sseFrame,
  REAL_TICKER,
  POLL_INTERVAL_MS,
  MAX_STEPS_PER_EVENT,
  HEARTBEAT_INTERVAL_MS,
  type Cursor,
  type LiveEvent,
  type Subscriber,
  type Ticker,
} from './events.js';
export { LiveHub, DEFAULT_MAX_STREAMS, type Stream } from './hub.js';
export {
  allowedHostnames,
  checkHost,
  checkSameOrigin,
  checkToken,
  isLoopbackHost,
  parseHostHeader,
  presentedToken,
  serverToken,
  tokenCookieName,
  MIN_TOKEN_LENGTH,
  LOOPBACK_HOSTNAMES,
} from './guard.js';
export { hasDotDotSegment } from './static.js';
