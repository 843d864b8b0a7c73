import assert from "node:assert/strict";
import { rotateKey } from "../../src/client/index.js";
import { DeviceSigner, type Signed } from "../../src/device/device-signer.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { keyHash, type Hex, type SignedReading } from "../../src/protocol/index.js";
import { deadlineIn, networkHelpers } from "../client/fixture.js";
import { BOUNTY_BPS, FEED, RANGE, stakingFixture } from "../client/staking-fixture.js";
import { STAKE, stakedClone, watchOnChain } from "./chain-helpers.js";
import { sample, tempDb } from "./helpers.js";

const DEVICE_STATUS_SUSPENDED = 2n;
const INCIDENT_EQUIVOCATION = 1n;
const INCIDENT_OUT_OF_BOUNDS = 3n;

function asSignedReading(s: Signed<"Reading">): SignedReading {
  return { reading: s.message, key: s.key, signature: s.signature };
}

describe("Watchtower end to end", function () {
  it("catches a cloned key across a restart: proof sent, stake slashed, device suspended, bounty paid", async function () {
    const f = await networkHelpers.loadFixture(stakingFixture);
    const { deviceId, signer, cloneSigner } = await stakedClone(f);
    const timestamp = BigInt(await networkHelpers.time.latest());
    const genuine = await signer.signReading({
      feedId: FEED,
      sequence: 1n,
      timestamp,
      value: 21_000n,
    });
    const cloned = await cloneSigner.signReading({
      feedId: FEED,
      sequence: 1n,
      timestamp,
      value: 35_000n,
    });
    const dbPath = await tempDb();
    const bountyBefore = await f.tokenAsOperator.balanceOf(f.beneficiary.address);

    const first = await watchOnChain(f, dbPath, [asSignedReading(genuine)]);
    assert.equal(first.proofs.length, 0);
    // The watchtower process restarts between the two conflicting readings.
    const second = await watchOnChain(f, dbPath, [asSignedReading(cloned)]);

    assert.equal(second.proofs.length, 1);
    const proof = second.proofs[0];
    assert.equal(proof?.status, "submitted");
    assert.ok(proof.incident !== null);
    const incident = await f.proofsAsOther.incident(proof.incident);
    assert.equal(incident.kind, INCIDENT_EQUIVOCATION);
    assert.equal(incident.deviceId.toLowerCase(), deviceId.toLowerCase());
    assert.equal(incident.slashed, STAKE);
    assert.equal((await f.stakingAsOther.stakeOf(deviceId)).active, 0n);
    assert.equal(await f.asOther.statusOf(deviceId), DEVICE_STATUS_SUSPENDED);
    const bounty = (STAKE * BOUNTY_BPS) / 10_000n;
    assert.equal(await f.tokenAsOperator.balanceOf(f.beneficiary.address), bountyBefore + bounty);
    assert.equal(
      sample(second.metrics, 'watchtower_proofs_submitted_total{result="submitted"}'),
      1,
    );

    // Seen again (a third run): nothing is sent twice.
    const third = await watchOnChain(f, dbPath, [
      asSignedReading(cloned),
      asSignedReading(genuine),
    ]);
    assert.equal(third.proofs.length, 1);
    assert.equal(
      sample(third.metrics, 'watchtower_proofs_submitted_total{result="submitted"}'),
      undefined,
    );
  });

  it("proves an out-of-bounds reading and treats a proof someone else sent first as done", async function () {
    const f = await networkHelpers.loadFixture(stakingFixture);
    const { deviceId, signer } = await stakedClone(f);
    const timestamp = BigInt(await networkHelpers.time.latest());
    const hot = await signer.signReading({
      feedId: FEED,
      sequence: 7n,
      timestamp,
      value: RANGE.max + 1n,
    });
    const { proofs } = await watchOnChain(f, await tempDb(), [asSignedReading(hot)]);
    assert.equal(proofs[0]?.status, "submitted");
    const incident = await f.proofsAsOther.incident(proofs[0].incident as Hex);
    assert.equal(incident.kind, INCIDENT_OUT_OF_BOUNDS);
    assert.equal(await f.asOther.statusOf(deviceId), DEVICE_STATUS_SUSPENDED);

    // A second watchtower with its own store sees the same reading: the contract says the evidence
    // was used, and that counts as done.
    const late = await watchOnChain(f, await tempDb(), [asSignedReading(hot)]);
    assert.equal(late.proofs[0]?.status, "already-proven");
  });

  it("after a rotation, sends no proof of the old key's conflict dated after it and proves one backdated before it", async function () {
    const f = await networkHelpers.loadFixture(stakingFixture);
    // The clone is whoever kept the device's old key; the operator rotates it out.
    const { deviceId, store, cloneSigner } = await stakedClone(f);
    const nextStore = SoftwareKeyStore.generate("secp256k1");
    await rotateKey({
      registry: f.asOperator,
      current: store,
      next: nextStore,
      deadline: await deadlineIn(600),
    });
    const retiredAt = BigInt(await networkHelpers.time.latest());
    const current = new DeviceSigner(nextStore, cloneSigner.domain, deviceId);
    const at = async (signer: DeviceSigner, sequence: bigint, timestamp: bigint, value: bigint) =>
      asSignedReading(await signer.signReading({ feedId: FEED, sequence, timestamp, value }));
    const honest3 = await at(current, 3n, retiredAt + 30n, 21_000n);
    const leaked3 = await at(cloneSigner, 3n, retiredAt + 20n, 35_000n);
    const honest4 = await at(current, 4n, retiredAt + 30n, 21_000n);
    const backdated4 = await at(cloneSigner, 4n, retiredAt - 1n, 35_000n);

    const run = await watchOnChain(f, await tempDb(), [honest3, leaked3, honest4, backdated4]);
    assert.equal(run.proofs.length, 1, "only the backdated conflict");
    const proof = run.proofs[0];
    assert.equal(proof?.status, "submitted");
    assert.deepEqual(proof.evidence, [honest4, backdated4]);
    const incident = await f.proofsAsOther.incident(proof.incident as Hex);
    assert.equal(incident.kind, INCIDENT_EQUIVOCATION);
    assert.equal(incident.slashed, STAKE);
    assert.deepEqual(
      run.retiredKeyMessages.map((m) => [m.keyHash, m.retiredAt, m.signedAt]),
      [[keyHash(store.deviceKey), retiredAt, retiredAt + 20n]],
    );
    assert.equal(sample(run.metrics, 'watchtower_messages_total{result="retired_key"}'), 1);
  });
});
