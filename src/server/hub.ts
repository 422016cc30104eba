/**
 * The open event streams of one server: one ExperimentFeed (./events.ts) per experiment that has streams,
 * polled on one timer for all of them, a heartbeat, and the cap on concurrent streams.
 */
import type { Store } from '../store/index.js';
import {
  type Cursor,
  ExperimentFeed,
  HEARTBEAT_INTERVAL_MS,
  type LiveEvent,
  type Subscriber,
  type Ticker,
} from './events.js';

/** Concurrent event streams a server keeps open by default; one more gets 503 with Retry-After. */
export const DEFAULT_MAX_STREAMS = 64;

/** A stream as the hub drives it: events, heartbeats, and an end when the server closes. */
export interface Stream extends Subscriber {
  ping(): void;
  end(): void;
}

export interface LiveHubOptions {
  store: () => Store;
  pollIntervalMs: number;
  maxStreams: number;
  ticker: Ticker;
  /** Called once per store poll of an experiment (tests count polls with it). */
  onPoll?: (experimentId: number) => void;
  /** One line per expected problem (a poll that failed), not repeated while it lasts. */
  log: (line: string) => void;
}

/** One experiment's feed, its streams and its timers. */
interface Channel {
  feed: ExperimentFeed;
  streams: Set<Stream>;
  stopTimers: () => void;
}

export class LiveHub {
  private readonly channels = new Map<number, Channel>();
  private lastError: string | null = null;

  constructor(private readonly opts: LiveHubOptions) {}

  /** Streams open now, over all experiments. */
  get streamCount(): number {
    let n = 0;
    for (const c of this.channels.values()) n += c.streams.size;
    return n;
  }

  /** Whether one more stream would exceed the cap. */
  get full(): boolean {
    return this.streamCount >= this.opts.maxStreams;
  }

  /**
   * Adds a stream on `experimentId`. The first stream of an experiment starts its feed at the stream's
   * cursor and polls at once; a later one is caught up from the feed. Returns the function that removes it.
   */
  subscribe(experimentId: number, stream: Stream): () => void {
    let channel = this.channels.get(experimentId);
    if (channel === undefined) {
      channel = this.open(experimentId, stream.cursor);
      channel.streams.add(stream);
      this.poll(channel);
    } else {
      channel.streams.add(stream);
      channel.feed.catchUp(stream);
    }
    const ch = channel;
    return () => this.remove(experimentId, ch, stream);
  }

  /** Ends every stream (the server is closing). */
  closeAll(): void {
    for (const [id, channel] of [...this.channels]) {
      for (const s of [...channel.streams]) {
        this.remove(id, channel, s);
        s.end();
      }
    }
  }

  private open(experimentId: number, start: Cursor): Channel {
    const channel: Channel = {
      feed: new ExperimentFeed(this.opts.store, experimentId, start),
      streams: new Set(),
      stopTimers: () => {},
    };
    const stopPoll = this.opts.ticker.every(this.opts.pollIntervalMs, () => this.poll(channel));
    const stopPing = this.opts.ticker.every(HEARTBEAT_INTERVAL_MS, () => {
      for (const s of channel.streams) s.ping();
    });
    channel.stopTimers = () => {
      stopPoll();
      stopPing();
    };
    this.channels.set(experimentId, channel);
    return channel;
  }

  private remove(experimentId: number, channel: Channel, stream: Stream): void {
    channel.streams.delete(stream);
    if (channel.streams.size > 0 || this.channels.get(experimentId) !== channel) return;
    channel.stopTimers();
    this.channels.delete(experimentId);
  }

  /** One store poll of one experiment, delivered to each of its streams. */
  private poll(channel: Channel): void {
    this.opts.onPoll?.(channel.feed.experimentId);
    const events = channel.feed.poll();
    this.logErrors(channel.feed.experimentId, events);
    for (const s of [...channel.streams]) channel.feed.deliver(s, events);
  }

  private logErrors(experimentId: number, events: readonly LiveEvent[]): void {
    const error = events.find((e) => e.event === 'error');
    const message = error?.event === 'error' ? error.data.message : null;
    if (message !== null && message !== this.lastError) {
      this.opts.log(`batchlab serve: live updates of experiment ${experimentId}: ${message} (retrying)`);
    }
    this.lastError = message;
  }
}
