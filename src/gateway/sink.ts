import type { MessageSource, WatchedMessage } from "../watchtower/index.js";
import type { MessageSink } from "./types.js";

/**
 * Joins the gateway to a watchtower in one process: `sink` is the gateway's MessageSink, and the
 * object itself is the watchtower's MessageSource. The buffer is bounded: when it holds `capacity`
 * messages, `sink` waits (and the gateway with it) until the watchtower takes some. end() ends the
 * stream once the buffer is empty.
 */
export class SinkSource implements MessageSource {
  private readonly items: WatchedMessage[] = [];
  private readonly capacity: number;
  private taker: ((r: IteratorResult<WatchedMessage>) => void) | undefined;
  private spaceWaiters: (() => void)[] = [];
  private ended = false;

  constructor(capacity = 1000) {
    this.capacity = capacity;
  }

  readonly sink: MessageSink = async (m) => {
    while (this.items.length >= this.capacity && !this.ended) {
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
    if (this.ended) return;
    const t = this.taker;
    if (t !== undefined) {
      this.taker = undefined;
      t({ value: m, done: false });
    } else this.items.push(m);
  };

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

  [Symbol.asyncIterator](): AsyncIterator<WatchedMessage> {
    return {
      next: () => {
        const m = this.items.shift();
        if (m !== undefined) {
          const w = this.spaceWaiters.shift();
          w?.();
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
