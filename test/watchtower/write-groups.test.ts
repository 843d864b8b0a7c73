import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { MessageSource, WatchedInput } from "../../src/protocol/index.js";
import {
  FakeDirectory,
  FakeSubmitter,
  deviceSigner,
  reading,
  tempDb,
  watchtower,
} from "./helpers.js";

/** Readings committed in the evidence file, as another connection sees them. */
function committed(dbPath: string): number {
  const db = new DatabaseSync(dbPath, { readOnly: true });
  try {
    return (db.prepare("SELECT COUNT(*) AS n FROM readings").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/**
 * A watchtower over a source yielding `messages` one event-loop turn apart (a network source's wait for
 * its next message), run until it drained them; the caller stops it. `source.acknowledges`: it says it
 * acknowledges each message when the next is asked for; `source.asked` runs then (after each yield);
 * `source.atEnd` after the last.
 */
async function drain(
  messages: readonly WatchedInput[],
  dbPath: string,
  source: { acknowledges?: true; asked?: () => void; atEnd?: () => void } = {},
) {
  const stream: MessageSource = {
    ...(source.acknowledges === true ? { acknowledges: true } : {}),
    async *[Symbol.asyncIterator](): AsyncIterator<WatchedInput> {
      for (const m of messages) {
        await Promise.resolve();
        yield m;
        source.asked?.();
      }
      source.atEnd?.();
    },
  };
  const w = watchtower({
    source: stream,
    directory: new FakeDirectory(),
    submitter: new FakeSubmitter(),
    dbPath,
  });
  await w.start();
  await w.drained();
  return w;
}

describe("Watchtower write groups", function () {
  it("commits each message before an acknowledging source (MQTT) is asked for the next", async function () {
    const dbPath = await tempDb();
    const signer = deviceSigner();
    const messages = [await reading(signer, 1n, 10n), await reading(signer, 2n, 10n)];
    const seenBeforeNext: number[] = [];
    // The consumer asked for the next one: an MQTT source acknowledges the previous then.
    const w = await drain(
      messages.map((m) => ({ ...m, origin: "test" })),
      dbPath,
      { acknowledges: true, asked: () => seenBeforeNext.push(committed(dbPath)) },
    );
    assert.deepEqual(seenBeforeNext, [1, 2]);
    await w.stop();
  });

  it("commits a message that carries `durable` (and every one before it) before calling it", async function () {
    const dbPath = await tempDb();
    const signer = deviceSigner();
    const seenAtDurable: number[] = [];
    const messages: WatchedInput[] = [];
    for (let i = 1n; i <= 3n; i++)
      messages.push({ ...(await reading(signer, i, 10n)), origin: "t" });
    messages.push({
      ...(await reading(signer, 4n, 10n)),
      origin: "t",
      durable: () => seenAtDurable.push(committed(dbPath)),
    });
    const w = await drain(messages, dbPath);
    assert.deepEqual(seenAtDurable, [4], "called once, with all four committed");
    await w.stop();
  });

  it("groups the writes of a source that does not acknowledge, and commits them within 20 ms and at stop", async function () {
    const dbPath = await tempDb();
    const signer = deviceSigner();
    const messages: WatchedInput[] = [];
    for (let i = 1n; i <= 50n; i++)
      messages.push({ ...(await reading(signer, i, 10n)), origin: "t" });
    let seenDuring = -1;
    const w = await drain(messages, dbPath, { atEnd: () => (seenDuring = committed(dbPath)) });
    assert.ok(
      seenDuring < 50,
      `one group for the burst: ${String(seenDuring)} committed before it ended`,
    );
    assert.equal(w.evidence.readingCount(), 50, "its own connection sees every write");
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(committed(dbPath), 50, "committed within the group's 20 ms");
    await w.stop();
    assert.equal(committed(dbPath), 50);
  });
});
