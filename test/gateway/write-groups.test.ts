import assert from "node:assert/strict";
import {
  SqliteReadingStore,
  WriteGroups,
  type ReadingStore,
  type StoreWrite,
  type StoreWriteResult,
} from "../../src/gateway/index.js";
import { structHash } from "../../src/protocol/index.js";
import { deviceSigner, reading } from "../watchtower/helpers.js";

async function writesOf(n: number): Promise<StoreWrite[]> {
  const device = deviceSigner("p256");
  const out: StoreWrite[] = [];
  for (let i = 1n; i <= BigInt(n); i++) {
    const signed = await reading(device, i, 20n);
    out.push({
      kind: "reading",
      signed,
      structHash: structHash("Reading", signed.reading),
      receivedAt: 1,
    });
  }
  return out;
}

/** A SQLite store in memory that records the size of each transaction it was given. */
function recording(fail = false): { store: ReadingStore; groups: number[] } {
  const inner = new SqliteReadingStore(":memory:");
  const groups: number[] = [];
  const store = Object.create(inner) as ReadingStore;
  Object.defineProperty(store, "write", {
    value: (writes: readonly StoreWrite[]): Promise<(StoreWriteResult | Error)[]> => {
      groups.push(writes.length);
      return fail ? Promise.reject(new Error("disk full")) : inner.write(writes);
    },
  });
  return { store, groups };
}

describe("WriteGroups", function () {
  it("puts the writes of one event-loop turn in one transaction, at most groupSize, each with its own result", async function () {
    const { store, groups } = recording();
    const w = new WriteGroups({ store, groupSize: 4, delayMs: 0 });
    const writes = await writesOf(6);
    const results = await Promise.all([...writes, writes[0] as StoreWrite].map((x) => w.write(x)));
    assert.deepEqual(groups, [4, 3]);
    assert.deepEqual(
      results.map((r) => r.result),
      ["inserted", "inserted", "inserted", "inserted", "inserted", "inserted", "duplicate"],
    );
    await store.close();
  });

  it("rejects every write of a group whose transaction fails; flush waits for the groups in flight", async function () {
    const { store, groups } = recording(true);
    let after = 0;
    const w = new WriteGroups({
      store,
      groupSize: 100,
      delayMs: 5,
      afterCommit: () => {
        after++;
      },
    });
    const pending = (await writesOf(3)).map((x) =>
      w.write(x).then(
        () => "ok",
        () => "rejected",
      ),
    );
    await w.flush();
    assert.deepEqual(await Promise.all(pending), ["rejected", "rejected", "rejected"]);
    assert.deepEqual(groups, [3]);
    assert.equal(after, 0, "no afterCommit for a failed group");
    await store.close();
  });
});
