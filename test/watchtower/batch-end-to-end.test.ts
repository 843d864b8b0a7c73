import { signBatch, type WatchedBatch } from "../../src/protocol/index.js";
import assert from "node:assert/strict";
import type { Hex, ReadingMessage } from "../../src/protocol/index.js";
import { networkHelpers } from "../client/fixture.js";
import {
  BOUNTY_BPS,
  FEED,
  RANGE,
  stakingFixture,
  type StakingFixture,
} from "../client/staking-fixture.js";
import { STAKE, stakedClone, watchOnChain } from "./chain-helpers.js";
import { sample, tempDb } from "./helpers.js";

const DEVICE_STATUS_SUSPENDED = 2n;
const INCIDENT_BATCH_EQUIVOCATION = 2n;
const INCIDENT_OUT_OF_BOUNDS = 3n;

/** `count` readings of FEED from `from`, timestamped around `now`; content depends on the sequence. */
function readingsOf(count: number, from: bigint, now: bigint): Omit<ReadingMessage, "deviceId">[] {
  return Array.from({ length: count }, (_, i) => {
    const sequence = from + BigInt(i);
    return { feedId: FEED, sequence, timestamp: now - 100n + BigInt(i), value: 20_000n + sequence };
  });
}

async function watched(
  signer: Parameters<typeof signBatch>[0],
  readings: readonly Omit<ReadingMessage, "deviceId">[],
): Promise<WatchedBatch> {
  const b = await signBatch(signer, readings);
  return { signed: b.signed, readings: () => b.readings };
}

/** The proof was accepted: incident recorded, whole stake slashed, device suspended, bounty paid. */
async function assertSlashed(
  f: StakingFixture,
  deviceId: Hex,
  proof: { status: string; incident: Hex | null } | undefined,
  bountyBefore: bigint,
  kind = INCIDENT_BATCH_EQUIVOCATION,
) {
  assert.equal(proof?.status, "submitted");
  assert.ok(proof.incident !== null);
  const incident = await f.proofsAsOther.incident(proof.incident);
  assert.equal(incident.kind, kind);
  assert.equal(incident.deviceId.toLowerCase(), deviceId.toLowerCase());
  assert.equal(incident.slashed, STAKE);
  assert.equal((await f.stakingAsOther.stakeOf(deviceId)).active, 0n);
  assert.equal(await f.asOther.statusOf(deviceId), DEVICE_STATUS_SUSPENDED);
  assert.equal(
    await f.tokenAsOperator.balanceOf(f.beneficiary.address),
    bountyBefore + (STAKE * BOUNTY_BPS) / 10_000n,
  );
}

describe("Watchtower batches end to end", function () {
  for (const curve of ["p256", "secp256k1"] as const) {
    it(`proves a ${curve} batch leaf against a cloned single reading on chain, across a restart`, async function () {
      const f = await networkHelpers.loadFixture(stakingFixture);
      const { deviceId, signer, cloneSigner } = await stakedClone(f, curve);
      const now = BigInt(await networkHelpers.time.latest());
      const readings = readingsOf(256, 1n, now);
      const batch = await watched(signer, readings);
      const target = readings[200];
      assert.ok(target !== undefined);
      const s = await cloneSigner.signReading({ ...target, value: target.value + 1n });
      const clone = { reading: s.message, key: s.key, signature: s.signature };
      const dbPath = await tempDb();
      const bountyBefore = await f.tokenAsOperator.balanceOf(f.beneficiary.address);

      const first = await watchOnChain(f, dbPath, [batch]);
      assert.equal(first.proofs.length, 0);
      const second = await watchOnChain(f, dbPath, [clone]);
      assert.equal(second.proofs.length, 1);
      assert.equal(second.proofs[0]?.kind, "batch-equivocation");
      await assertSlashed(f, deviceId, second.proofs[0], bountyBefore);
      assert.equal(
        sample(second.metrics, 'watchtower_proofs_submitted_total{result="submitted"}'),
        1,
      );

      // Seen again: nothing is sent twice.
      const third = await watchOnChain(f, dbPath, [clone, batch]);
      assert.equal(third.proofs.length, 1);
      assert.equal(
        sample(third.metrics, 'watchtower_proofs_submitted_total{result="submitted"}'),
        undefined,
      );
    });

    it(`proves two conflicting ${curve} batches on chain; a second watchtower finds it already proven`, async function () {
      const f = await networkHelpers.loadFixture(stakingFixture);
      const { deviceId, signer, cloneSigner } = await stakedClone(f, curve);
      const now = BigInt(await networkHelpers.time.latest());
      const genuine = await watched(signer, readingsOf(1024, 1n, now));
      const cloned = await watched(
        cloneSigner,
        readingsOf(16, 1020n, now).map((r) => (r.sequence === 1022n ? { ...r, value: -1n } : r)),
      );
      const bountyBefore = await f.tokenAsOperator.balanceOf(f.beneficiary.address);

      const { proofs, metrics } = await watchOnChain(f, await tempDb(), [genuine, cloned]);
      assert.equal(proofs.length, 1);
      assert.equal(proofs[0]?.kind, "batch-pair-equivocation");
      await assertSlashed(f, deviceId, proofs[0], bountyBefore);
      assert.equal(sample(metrics, "watchtower_batch_equivocations_total"), 1);

      const late = await watchOnChain(f, await tempDb(), [cloned, genuine]);
      assert.equal(late.proofs[0]?.status, "already-proven");
    });

    it(`proves a ${curve} batch leaf outside the declared range on chain; the reading alone is then already proven`, async function () {
      const f = await networkHelpers.loadFixture(stakingFixture);
      const { deviceId, signer } = await stakedClone(f, curve);
      const now = BigInt(await networkHelpers.time.latest());
      const readings = readingsOf(512, 1n, now).map((r) =>
        r.sequence === 300n ? { ...r, value: RANGE.min - 1n } : r,
      );
      const batch = await watched(signer, readings);
      const bountyBefore = await f.tokenAsOperator.balanceOf(f.beneficiary.address);

      const { proofs, metrics } = await watchOnChain(f, await tempDb(), [batch]);
      assert.equal(proofs.length, 1);
      assert.equal(proofs[0]?.kind, "batch-out-of-bounds");
      await assertSlashed(f, deviceId, proofs[0], bountyBefore, INCIDENT_OUT_OF_BOUNDS);
      assert.equal(sample(metrics, "watchtower_batch_out_of_bounds_total"), 1);

      // Another watchtower that sees the same reading signed alone: the contract counts it as proven.
      const leaf = readings[299];
      assert.ok(leaf?.value === RANGE.min - 1n);
      const s = await signer.signReading(leaf);
      const alone = { reading: s.message, key: s.key, signature: s.signature };
      const late = await watchOnChain(f, await tempDb(), [alone]);
      assert.equal(late.proofs[0]?.kind, "out-of-bounds");
      assert.equal(late.proofs[0].status, "already-proven");
    });
  }
});
