import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import {
  structHash,
  signBatch,
  isBatchedReading,
  isWatchedBatch,
  type WatchedInput,
  signedReadingToJson,
} from "../../src/protocol/index.js";
import { jsonLinesSource, signedBatchToJson } from "../../src/watchtower/index.js";
import {
  BENEFICIARY,
  FEED,
  FakeDirectory,
  FakeSubmitter,
  deviceSigner,
  reading,
  watchtower,
} from "./helpers.js";

/** `count` readings of FEED from sequence 1, as a device would batch them. */
function readings(count: number) {
  return Array.from({ length: count }, (_, i) => ({
    feedId: FEED,
    sequence: BigInt(i + 1),
    timestamp: 1_700_000_100n + BigInt(i),
    value: BigInt(i * 3 - 10),
  }));
}

/** One JSON line per item, as a file or stdin would carry them. */
function lines(...items: unknown[]): Readable {
  return Readable.from(
    items.map((item) => `${typeof item === "string" ? item : JSON.stringify(item)}\n`),
  );
}

async function collect(input: Readable) {
  const invalid: number[] = [];
  const got: WatchedInput[] = [];
  for await (const m of jsonLinesSource(input, "file", (line) => invalid.push(line))) got.push(m);
  return { got, invalid };
}

describe("jsonLinesSource", function () {
  it("yields signed readings from JSON lines and reports lines that do not parse", async function () {
    const device = deviceSigner();
    const a = await reading(device, 1n, -5n);
    const { got, invalid } = await collect(
      lines(signedReadingToJson(a), "", "not json", {
        ...signedReadingToJson(a),
        key: { keyType: 9, key: "0x00" },
      }),
    );
    assert.deepEqual(got, [{ ...a, origin: "file:1" }]);
    assert.deepEqual(invalid, [3, 4]);
  });

  for (const curve of ["p256", "secp256k1"] as const) {
    it(`yields a ${curve} signed batch line as the batch the device signed, with its readings`, async function () {
      const device = deviceSigner(curve);
      const b = await signBatch(device, readings(8));
      const { got, invalid } = await collect(lines(signedBatchToJson(b.signed, b.readings)));
      assert.deepEqual(invalid, []);
      const [m] = got;
      assert.ok(m !== undefined && isWatchedBatch(m));
      assert.deepEqual(m.signed, b.signed);
      assert.deepEqual(m.readings(), b.readings);
      assert.equal(m.origin, "file:1");
    });
  }

  it("reports batch lines that do not parse and reads on", async function () {
    const device = deviceSigner();
    const b = await signBatch(device, readings(4));
    const line = signedBatchToJson(b.signed, b.readings);
    const { got, invalid } = await collect(
      lines(
        { ...line, batch: { ...line.batch, root: "0x1234" } },
        { ...line, readings: undefined },
        { ...line, readings: [{ sequence: "one", timestamp: "1", value: "1" }] },
        { ...line, key: { keyType: 0, key: line.key.key } },
        line,
      ),
    );
    assert.deepEqual(invalid, [1, 2, 3, 4]);
    assert.equal(got.length, 1);
    assert.equal(got[0]?.origin, "file:5");
  });

  it("feeds a batch line and a conflicting reading line to a batch equivocation proof", async function () {
    const device = deviceSigner();
    const b = await signBatch(device, readings(16));
    const leaf = b.readings[6];
    assert.ok(leaf !== undefined);
    const clone = await reading(device, leaf.sequence, leaf.value + 1n, leaf.timestamp);
    const submitter = new FakeSubmitter();
    const w = watchtower({
      source: jsonLinesSource(
        lines(signedBatchToJson(b.signed, b.readings), signedReadingToJson(clone)),
        "file",
      ),
      directory: new FakeDirectory(),
      submitter,
      dbPath: ":memory:",
    });
    await w.start();
    await w.drained();
    const proofs = w.evidence.proofs();
    await w.stop();
    assert.equal(submitter.calls.length, 1);
    const call = submitter.calls[0];
    assert.equal(call?.kind, "batch-equivocation");
    assert.equal(call.beneficiary, BENEFICIARY);
    const [a, single] = call.evidence;
    assert.ok(a !== undefined && isBatchedReading(a));
    assert.deepEqual(a.batch, b.signed.batch);
    assert.equal(a.signature, b.signed.signature);
    assert.deepEqual(a.reading, leaf);
    assert.ok(
      SimpleMerkleTree.verify(a.batch.root, structHash("Reading", a.reading), [...a.proof]),
    );
    assert.ok(single !== undefined && !isBatchedReading(single));
    assert.deepEqual(
      { reading: single.reading, key: single.key, signature: single.signature },
      clone,
    );
    assert.equal(proofs[0]?.status, "submitted");
  });
});
