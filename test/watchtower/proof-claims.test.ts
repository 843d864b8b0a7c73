import assert from "node:assert/strict";
import {
  ClaimingProofSubmitter,
  EVIDENCE_USED,
  ProofRejectedError,
  claimKey,
  type ProofClaims,
} from "../../src/watchtower/index.js";
import {
  BENEFICIARY,
  FakeDirectory,
  FakeSubmitter,
  QueueSource,
  deviceSigner,
  reading,
  tempDb,
  watchtower,
} from "./helpers.js";

/** Claims in memory with the PostgreSQL semantics (owner again: yes; another owner: no). */
class MemoryClaims implements ProofClaims {
  readonly owners = new Map<string, string>();
  readonly finished = new Set<string>();
  failDone = false;

  claim(key: string, owner: string): Promise<boolean> {
    const held = this.owners.get(key);
    if (held !== undefined && held !== owner) return Promise.resolve(false);
    this.owners.set(key, owner);
    return Promise.resolve(true);
  }

  done(key: string): Promise<void> {
    if (this.failDone) return Promise.reject(new Error("store down"));
    this.finished.add(key);
    return Promise.resolve();
  }
}

describe("ClaimingProofSubmitter", function () {
  it("sends a proof only under its watchtower's claim; another's claim reads as ProofsEvidenceUsed", async function () {
    const device = deviceSigner("p256");
    const a = await reading(device, 5n, 20n);
    const b = await reading(device, 5n, 21n);
    const claims = new MemoryClaims();
    const innerA = new FakeSubmitter();
    const innerB = new FakeSubmitter();
    const first = new ClaimingProofSubmitter(innerA, claims, "gw-a");
    const second = new ClaimingProofSubmitter(innerB, claims, "gw-b");

    await first.proveEquivocation(a, b, BENEFICIARY);
    const key = claimKey("equivocation", a);
    assert.equal(claims.owners.get(key), "gw-a");
    assert.ok(claims.finished.has(key), "done once sent");
    await assert.rejects(
      second.proveEquivocation(b, a, BENEFICIARY),
      (err: unknown) => err instanceof ProofRejectedError && err.code === EVIDENCE_USED,
    );
    assert.equal(innerB.calls.length, 0, "the second watchtower sent nothing");
    // The owner resumes its own proof (after a crash) under the same claim.
    await first.proveEquivocation(a, b, BENEFICIARY);
    assert.equal(innerA.calls.length, 2);
  });

  it("keys an equivocation by its slot (either reading) and an out-of-bounds proof by its reading", async function () {
    const device = deviceSigner("secp256k1");
    const a = await reading(device, 9n, 20n);
    const b = await reading(device, 9n, 99n);
    assert.equal(claimKey("equivocation", a), claimKey("equivocation", b));
    assert.notEqual(claimKey("out-of-bounds", a), claimKey("out-of-bounds", b));
    assert.notEqual(claimKey("out-of-bounds", a), claimKey("equivocation", a));
  });

  it("a claim store that fails after the send does not fail the sent proof; one that fails before it, fails the send", async function () {
    const device = deviceSigner("p256");
    const a = await reading(device, 1n, 20n);
    const claims = new MemoryClaims();
    claims.failDone = true;
    const inner = new FakeSubmitter();
    const done = await new ClaimingProofSubmitter(inner, claims, "gw-a").proveOutOfBounds(
      a,
      BENEFICIARY,
    );
    assert.equal(inner.calls.length, 1);
    assert.ok(done.incident.startsWith("0x"));

    const down: ProofClaims = {
      claim: () => Promise.reject(new Error("connection refused")),
      done: () => Promise.resolve(),
    };
    const unsent = new FakeSubmitter();
    await assert.rejects(
      new ClaimingProofSubmitter(unsent, down, "gw-a").proveOutOfBounds(a, BENEFICIARY),
      /connection refused/,
    );
    assert.equal(unsent.calls.length, 0);
  });

  it("two watchtowers that both see a clone's conflict: one sends, the other records it already proven", async function () {
    const device = deviceSigner("p256");
    const genuine = await reading(device, 3n, 20n);
    const cloned = await reading(device, 3n, 25n);
    const claims = new MemoryClaims();
    const inners = [new FakeSubmitter(), new FakeSubmitter()];
    const statuses: string[] = [];
    for (const [i, inner] of inners.entries()) {
      const source = new QueueSource();
      const w = watchtower({
        source,
        directory: new FakeDirectory(),
        submitter: new ClaimingProofSubmitter(inner, claims, `gw-${String(i)}`),
        dbPath: await tempDb(),
      });
      await w.start();
      source.push({ ...genuine, origin: "test" });
      source.push({ ...cloned, origin: "test" });
      source.end();
      await w.drained();
      statuses.push(...w.evidence.proofs().map((p) => p.status));
      await w.stop();
    }
    assert.deepEqual(statuses, ["submitted", "already-proven"]);
    assert.equal(inners[0]?.calls.length, 1);
    assert.equal(inners[1]?.calls.length, 0);
  });
});
