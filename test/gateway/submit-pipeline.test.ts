import assert from "node:assert/strict";
import type { Signer, TransactionRequest } from "ethers";
import { network } from "hardhat";
import { ChainSubmitter, MEASURED_GAS, SubmissionRejectedError } from "../../src/gateway/index.js";
import { feedAt, feedIdOf } from "../../src/client/index.js";
import { signBatch, type Hex, type SignedReading } from "../../src/protocol/index.js";
import { connection, ethers, networkHelpers } from "../client/fixture.js";
import { chainTime, deployFeedSystem, type FeedSystem } from "../client/feed-fixture.js";
import { waitFor, verdicts } from "./helpers.js";
import { signed, submitter, system } from "./chain-helpers.js";
import { cloneOf, memoryLogger } from "../watchtower/helpers.js";

type Connection = Awaited<ReturnType<typeof network.create>>;
type Provider = Connection["provider"];

/** The value every device reports in these tests (x 1e8). */
const VALUE = 2_000n * 10n ** 8n;

/** One reading per device of `s` at the chain's time `at` (default: now). */
async function round(
  s: FeedSystem,
  sequence: bigint,
  at?: bigint,
  feedId: Hex = s.feedId,
): Promise<SignedReading[]> {
  const now = at ?? (await chainTime(ethers));
  return Promise.all(s.devices.map((d) => signed(d, feedId, sequence, VALUE, now)));
}

/** Counts the JSON-RPC methods `provider` is asked until `restore` is called. */
function spy(provider: Provider): { count: (method: string) => number; restore: () => void } {
  const original = provider.request.bind(provider);
  const counts = new Map<string, number>();
  provider.request = (args) => {
    counts.set(args.method, (counts.get(args.method) ?? 0) + 1);
    return original(args);
  };
  return {
    count: (method) => counts.get(method) ?? 0,
    restore: () => {
      provider.request = original;
    },
  };
}

/** `signer`, whose `failAt`-th send fails: before the node has it, or after (its answer lost). */
function flaky(signer: Signer, failAt: number, when: "before" | "after"): Signer {
  let sends = 0;
  return new Proxy(signer, {
    get(target, prop) {
      if (prop === "sendTransaction") {
        return async (tx: TransactionRequest) => {
          if (++sends !== failAt) return target.sendTransaction(tx);
          if (when === "after") await target.sendTransaction(tx);
          throw new Error("socket hang up");
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? (value.bind(target) as unknown) : value;
    },
  });
}

async function automine(on: boolean): Promise<void> {
  await connection.provider.request({ method: "evm_setAutomine", params: [on] });
}

async function mine(): Promise<void> {
  await connection.provider.request({ method: "evm_mine", params: [] });
}

/** Transactions of `address` waiting in the node's pool. */
async function pooled(address: string): Promise<number> {
  const [pending, latest] = await Promise.all([
    ethers.provider.getTransactionCount(address, "pending"),
    ethers.provider.getTransactionCount(address, "latest"),
  ]);
  return pending - latest;
}

/** Every ReadingAccepted of the feed, as `device:sequence`. */
async function acceptedOnChain(s: FeedSystem): Promise<string[]> {
  const feed = feedAt(s.feedAddress, s.watcher);
  const events = await feed.queryFilter(feed.filters.ReadingAccepted());
  return events.map((e) => `${e.args.deviceId.toLowerCase()}:${e.args.sequence.toString()}`);
}

async function noNonceGap(address: string): Promise<void> {
  assert.equal(
    await ethers.provider.getTransactionCount(address, "pending"),
    await ethers.provider.getTransactionCount(address, "latest"),
    "no transaction of the account waits behind a nonce gap",
  );
}

describe("ChainSubmitter in flight", function () {
  it("sends a call's chunks back to back with consecutive nonces, mined together; outcomes in order", async function () {
    const s = await networkHelpers.loadFixture(system);
    const setup = submitter(s);
    await setup.submitReadings(await round(s, 1n));
    await networkHelpers.time.increase(60);
    const { logger, lines } = memoryLogger();
    const sub = submitter(s, { logger, maxPerTx: 3 });
    const readings = await round(s, 2n);
    // Device 4 (the second chunk) sends its sequence 1 again: the feed skips that one reading.
    const d4 = s.devices[4];
    assert.ok(d4 !== undefined);
    readings[4] = await signed(d4, s.feedId, 1n, VALUE, await chainTime(ethers));
    await automine(false);
    try {
      const pending = sub.submitReadings(readings);
      await waitFor(() => lines.filter((l) => l.event === "tx_sent").length === 3, "3 sends");
      assert.equal(await pooled(s.watcher.address), 3, "3 transactions in flight at once");
      await mine();
      const result = await pending;
      assert.equal(result.txHashes.length, 3);
      const txs = await Promise.all(result.txHashes.map((h) => ethers.provider.getTransaction(h)));
      const nonces = txs.map((t) => t?.nonce);
      const first = nonces[0] ?? 0;
      assert.deepEqual(nonces, [first, first + 1, first + 2], "consecutive nonces");
      assert.equal(new Set(txs.map((t) => t?.blockNumber)).size, 1, "mined in one block");
      assert.deepEqual(
        verdicts(result.outcomes),
        readings.map((_, i) =>
          i === 4 ? { accepted: false, reason: "SequenceNotIncreasing" } : { accepted: true },
        ),
      );
      assert.equal(result.accepted, 6);
    } finally {
      await automine(true);
    }
    await noNonceGap(s.watcher.address);
  });

  it("keeps at most maxInFlight transactions unmined", async function () {
    const s = await networkHelpers.loadFixture(system);
    const { logger, lines } = memoryLogger();
    const sub = submitter(s, { logger, maxPerTx: 3, maxInFlight: 2 });
    const sent = () => lines.filter((l) => l.event === "tx_sent").length;
    await automine(false);
    try {
      const pending = sub.submitReadings(await round(s, 1n));
      await waitFor(() => sent() === 2, "2 sends");
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(sent(), 2, "the third chunk waits for a receipt");
      await mine();
      await waitFor(() => sent() === 3, "the third send");
      await mine();
      const result = await pending;
      assert.equal(result.accepted, 7);
    } finally {
      await automine(true);
    }
  });

  it("refuses for good the chunk whose transaction reverts; the other chunks stand", async function () {
    const s = await networkHelpers.loadFixture(system);
    const now = await chainTime(ethers);
    const [d0, d1] = s.devices;
    assert.ok(d0 !== undefined && d1 !== undefined);
    // The anchor has code but no submitMany: its chunk reverts when mined.
    const notAFeed = feedIdOf(s.anchorAddress);
    const readings = [
      ...(await round(s, 1n, now)),
      await signed(d0, notAFeed, 1n, VALUE, now),
      await signed(d1, notAFeed, 1n, VALUE, now),
    ];
    const { logger, lines } = memoryLogger();
    const sub = submitter(s, { logger, maxPerTx: 3 });
    await automine(false);
    let result;
    try {
      const pending = sub.submitReadings(readings);
      await waitFor(() => lines.filter((l) => l.event === "tx_sent").length === 4, "4 sends");
      await mine();
      result = await pending;
    } finally {
      await automine(true);
    }
    assert.deepEqual(
      verdicts(result.outcomes),
      readings.map((_, i) =>
        i < 7 ? { accepted: true } : { accepted: false, reason: "GATEWAY_REVERTED" },
      ),
    );
    assert.equal(result.txHashes.length, 3);
    assert.deepEqual(
      result.refused.map((r) => [r.feedId, r.count, r.code]),
      [[notAFeed, 2, "GATEWAY_REVERTED"]],
    );
    const nonce = sub.pendingNonce;
    const again = await sub.submitReadings(readings);
    assert.deepEqual(again.outcomes, result.outcomes, "the refusal is final");
    assert.equal(sub.pendingNonce, nonce, "nothing is sent again");
    await noNonceGap(s.watcher.address);
  });

  for (const when of ["before", "after"] as const) {
    it(`retries a call whose second send failed ${when === "before" ? "before the node had it" : "after the node took it (the answer lost)"}: nothing twice, no nonce gap`, async function () {
      const s = await networkHelpers.loadFixture(system);
      const { logger, lines } = memoryLogger();
      const sub = new ChainSubmitter({
        signer: flaky(s.watcher, 2, when),
        anchor: s.anchorAddress,
        logger,
        pollMs: 10,
        maxPerTx: 3,
      });
      // Two readings per device, 20 s apart, in 5 chunks: chunks 3 to 5 hold the second reading of
      // the devices of chunk 2, so chunk 2 must go out before them (or the feed would skip it).
      const now = await chainTime(ethers);
      const readings = [...(await round(s, 1n, now - 20n)), ...(await round(s, 2n, now))];
      await assert.rejects(sub.submitReadings(readings), (err: unknown) => {
        assert.ok(!(err instanceof SubmissionRejectedError), "a transient failure");
        return true;
      });
      assert.ok(lines.some((l) => l.event === "tx_send_failed"));
      const result = await sub.submitReadings(readings);
      assert.deepEqual(
        verdicts(result.outcomes),
        readings.map(() => ({ accepted: true })),
      );
      assert.equal(result.txHashes.length, 5);
      const accepted = await acceptedOnChain(s);
      assert.equal(accepted.length, 14, "each reading accepted once");
      assert.equal(new Set(accepted).size, 14);
      if (when === "after") {
        assert.ok(
          !lines.some((l) => l.event === "tx_not_sent"),
          "the lost answer's transaction is found by its nonce",
        );
      } else {
        assert.ok(lines.some((l) => l.event === "tx_not_sent"));
      }
      await noNonceGap(s.watcher.address);
      assert.equal(
        sub.pendingNonce,
        await ethers.provider.getTransactionCount(s.watcher.address, "pending"),
      );
    });
  }

  it("waits for what a failed call left in the pool instead of sending it again", async function () {
    const s = await networkHelpers.loadFixture(system);
    const { logger, lines } = memoryLogger();
    // The second send's answer is lost and nothing is mined: the call fails, stuck, with chunks 1
    // and 2 in the pool (chunk 2 known to the submitter by its nonce and content only).
    const sub = new ChainSubmitter({
      signer: flaky(s.watcher, 2, "after"),
      anchor: s.anchorAddress,
      logger,
      pollMs: 10,
      maxPerTx: 3,
      maxFeeBumps: 1,
      stuckAfterMs: 300,
    });
    const count = (event: string) => lines.filter((l) => l.event === event).length;
    const readings = await round(s, 1n);
    await automine(false);
    try {
      await assert.rejects(sub.submitReadings(readings), /unmined after 1 fee bumps/);
      assert.equal(await pooled(s.watcher.address), 2, "chunks 1 and 2 wait in the pool");
      const replaced = count("tx_replaced");
      const retry = sub.submitReadings(readings);
      await waitFor(() => count("tx_replaced") === replaced + 2, "the retry replaces both");
      await mine();
      await waitFor(() => count("tx_sent") === 2, "chunk 3 sent");
      await mine();
      const result = await retry;
      assert.equal(result.accepted, 7);
    } finally {
      await automine(true);
    }
    assert.equal(count("tx_sent"), 2, "chunks 1 and 3 sent, chunk 2 never sent again");
    const accepted = await acceptedOnChain(s);
    assert.equal(accepted.length, 7, "each reading accepted once");
    assert.equal(new Set(accepted).size, 7);
    await noNonceGap(s.watcher.address);
  });
});

describe("ChainSubmitter gas model", function () {
  it("asks no eth_estimateGas in steady state: first readings, returning members, rounds, anchors", async function () {
    const s = await networkHelpers.loadFixture(system);
    const rpc = spy(connection.provider);
    try {
      const sub = submitter(s, { maxPerTx: 3 });
      const results = [];
      results.push(await sub.submitReadings(await round(s, 1n)));
      await networkHelpers.time.increase(11);
      results.push(await sub.submitReadings(await round(s, 2n)));
      // The heartbeat passed: this one commits a round.
      await networkHelpers.time.increase(601);
      results.push(await sub.submitReadings(await round(s, 3n)));
      assert.deepEqual(
        results.map((r) => r.accepted),
        [7, 7, 7],
      );
      const now = await chainTime(ethers);
      const batches = [];
      for (const first of [1n, 11n]) {
        for (const d of s.devices) {
          const readings = Array.from({ length: 10 }, (_, i) => ({
            feedId: s.feedId,
            sequence: first + BigInt(i),
            timestamp: now - 50n + first + BigInt(i),
            value: 20n,
          }));
          batches.push((await signBatch(cloneOf(d.signer), readings)).signed);
        }
      }
      const anchored = [
        await sub.anchorBatches(batches.slice(0, 7)),
        await sub.anchorBatches(batches.slice(7)),
      ];
      assert.ok(anchored.every((a) => a.outcomes.every((o) => o.anchored)));
      assert.equal(rpc.count("eth_estimateGas"), 0, "no estimate");
      // Every transaction had the gas it needed.
      const hashes = [...results.flatMap((r) => r.txHashes), ...anchored.map((a) => a.txHash)];
      assert.equal(hashes.length, 3 * 3 + 2);
      for (const hash of hashes) {
        const [tx, receipt] = await Promise.all([
          ethers.provider.getTransaction(hash),
          ethers.provider.getTransactionReceipt(hash),
        ]);
        assert.ok(tx !== null && receipt !== null);
        assert.equal(receipt.status, 1);
        const [used, limit] = [receipt.gasUsed, tx.gasLimit];
        assert.ok(used < limit, `${hash}: ${used.toString()} of ${limit.toString()}`);
      }
    } finally {
      rpc.restore();
    }
  });

  it("recovers from an artificially low model with one estimate, and learns", async function () {
    const s = await networkHelpers.loadFixture(system);
    const { logger, lines } = memoryLogger();
    const sub = submitter(s, {
      logger,
      gasFigures: {
        ...MEASURED_GAS,
        reading: { p256: 10_000, secp256k1: 10_000 },
        firstReading: 0,
        roundCommit: 0,
      },
    });
    const rpc = spy(connection.provider);
    try {
      const first = await sub.submitReadings(await round(s, 1n));
      assert.equal(first.accepted, 7);
      assert.equal(rpc.count("eth_estimateGas"), 1, "one estimate");
      assert.equal(lines.filter((l) => l.event === "out_of_gas").length, 1);
      const learned = sub.gasModel.learned.reading;
      assert.ok(learned > 30_000, `learned ${String(learned)} gas per reading`);
      assert.ok(lines.some((l) => l.event === "gas_model_raised"));
      await networkHelpers.time.increase(11);
      const second = await sub.submitReadings(await round(s, 2n));
      assert.equal(second.accepted, 7);
      assert.equal(rpc.count("eth_estimateGas"), 1, "no estimate once learned");
      assert.equal(lines.filter((l) => l.event === "out_of_gas").length, 1);
    } finally {
      rpc.restore();
    }
    const accepted = await acceptedOnChain(s);
    assert.equal(accepted.length, 14);
    assert.equal(new Set(accepted).size, 14);
    await noNonceGap(s.watcher.address);
  });

  it("recovers from a model below the intrinsic gas (the node refuses the limit)", async function () {
    const s = await networkHelpers.loadFixture(system);
    const { logger, lines } = memoryLogger();
    const sub = submitter(s, {
      logger,
      gasFigures: {
        ...MEASURED_GAS,
        submitBase: 21_000,
        reading: { p256: 100, secp256k1: 100 },
        firstReading: 0,
        roundCommit: 0,
      },
    });
    const result = await sub.submitReadings(await round(s, 1n));
    assert.equal(result.accepted, 7);
    assert.equal(lines.filter((l) => l.event === "gas_estimated").length, 1);
    assert.ok(sub.gasModel.learned.reading > 0);
    await noNonceGap(s.watcher.address);
  });
});

describe("ChainSubmitter gas model without the P-256 precompile (prague)", function () {
  it("counts P-256 signatures for the Solidity verifier and asks no estimate", async function () {
    const prague = await network.create("prague");
    const s = await deployFeedSystem(prague.ethers);
    const { logger, lines } = memoryLogger();
    const sub = new ChainSubmitter({
      signer: s.watcher,
      anchor: s.anchorAddress,
      logger,
      pollMs: 10,
    });
    const rpc = spy(prague.provider);
    try {
      const now = await chainTime(prague.ethers);
      const readings = await Promise.all(s.devices.map((d) => signed(d, s.feedId, 1n, VALUE, now)));
      const result = await sub.submitReadings(readings);
      assert.equal(result.accepted, 7);
      assert.equal(rpc.count("eth_estimateGas"), 0);
    } finally {
      rpc.restore();
    }
    assert.deepEqual(
      lines.filter((l) => l.event === "p256_precompile").map((l) => l.present),
      [false],
    );
  });
});
