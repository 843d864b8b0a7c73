import {
  isWatchedBatch,
  type MessageSource,
  type WatchedBatch,
  type WatchedInput,
  type WatchedMessage,
} from "../protocol/index.js";
import type { BatchSink, MessageSink } from "./types.js";

/**
 * A bounded in-process stream: producers push (waiting while `full()` says so), one consumer
 * iterates. end() ends it once the buffer is empty.
 */
class BoundedStream<T extends WatchedInput> implements AsyncIterable<T> {
  protected readonly items: T[] = [];
  protected batches = 0;
  private taker: ((r: IteratorResult<T>) => void) | undefined;
  private spaceWaiters: (() => void)[] = [];
  private ended = false;

  protected async push(m: T, full: () => boolean): Promise<void> {
    while (full() && !this.ended) {
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
    if (this.ended) return;
    const t = this.taker;
    if (t !== undefined) {
      this.taker = undefined;
      t({ value: m, done: false });
    } else {
      this.items.push(m);
      if (isWatchedBatch(m)) this.batches++;
    }
  }

  end(): void {
    this.ended = true;
    for (const w of this.spaceWaiters) w();
    this.spaceWaiters = [];
    if (this.items.length === 0) {
      const t = this.taker;
      this.taker = undefined;
      t?.({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const m = this.items.shift();
        if (m !== undefined) {
          if (isWatchedBatch(m)) this.batches--;
          // Every waiter re-checks its own limit (a batch and a reading wait on different ones).
          const waiters = this.spaceWaiters;
          this.spaceWaiters = [];
          for (const w of waiters) w();
          return Promise.resolve({ value: m, done: false });
        }
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.taker = resolve;
        });
      },
      return: () => {
        this.end();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/**
 * Joins the gateway's single readings to a watchtower in one process: `sink` is the gateway's
 * MessageSink, and the object itself is the watchtower's MessageSource. The buffer is bounded: when it
 * holds `capacity` messages, `sink` waits (and the gateway with it) until the watchtower takes some.
 * end() ends the stream once the buffer is empty. WatchtowerLink also carries batches.
 */
export class SinkSource extends BoundedStream<WatchedMessage> implements MessageSource {
  private readonly capacity: number;

  constructor(capacity = 1000) {
    super();
    this.capacity = capacity;
  }

  readonly sink: MessageSink = (m) => this.push(m, () => this.items.length >= this.capacity);
}

/**
 * Joins the gateway to a watchtower in one process, single readings and signed batches alike: `sink`
 * is the gateway's MessageSink, `batchSink` its BatchSink, and the object itself is the watchtower's
 * MessageSource (both in arrival order). The buffer is bounded: when it holds `capacity` items, or
 * `batchCapacity` batches (a batch keeps its payload, ~50 kB for 1024 readings, until the watchtower
 * takes it), the sinks wait (and the gateway with them) until the watchtower takes some.
 */
export class WatchtowerLink extends BoundedStream<WatchedInput> implements MessageSource {
  private readonly capacity: number;
  private readonly batchCapacity: number;

  constructor(capacity = 1000, batchCapacity = 16) {
    super();
    this.capacity = capacity;
    this.batchCapacity = batchCapacity;
  }

  readonly sink: MessageSink = (m) => this.push(m, () => this.items.length >= this.capacity);

  readonly batchSink: BatchSink = (b: WatchedBatch) =>
    this.push(b, () => this.items.length >= this.capacity || this.batches >= this.batchCapacity);
}
