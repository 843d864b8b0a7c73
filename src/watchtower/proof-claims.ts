import type { BatchedReading, Hex, SignedReading } from "../protocol/index.js";
import {
  EVIDENCE_USED,
  ProofRejectedError,
  type ProofSubmitter,
  type SubmittedProof,
} from "./types.js";

/**
 * Who sends which proof, when several watchtowers see the same fraud: each in-process watchtower of
 * gateway instances that share one store (a clone's two readings can land on two instances, and a
 * message redelivered after a crash on a third), or several standalone watchtowers on the broker.
 * The contract already refuses a second proof of the same evidence (ProofsEvidenceUsed), so a
 * double proof never slashes twice; a claim saves the second transaction and its gas.
 *
 * A claim is keyed by what the contract counts once (the device, feed and sequence of an
 * equivocation; the reading of an out-of-bounds proof) and held by one watchtower (its `owner` id,
 * kept across restarts). The owner may claim again (a proof it resumes after a crash); another
 * watchtower gets the claim only once it is older than the lease and not done (its owner died for
 * good before sending).
 */
export interface ProofClaims {
  /** True when `owner` holds the claim on `key` now (it took it, already held it, or the lease ran out). */
  claim(key: string, owner: string): Promise<boolean>;
  /** Marks the claim done: the proof was sent (nobody takes it over). */
  done(key: string): Promise<void>;
}

/** The claim key of a piece of evidence: its device, feed and sequence (what a proof uses up). */
export function claimKey(kind: string, evidence: SignedReading | BatchedReading): string {
  const r = evidence.reading;
  const slot = `${r.deviceId.toLowerCase()}:${r.feedId.toLowerCase()}:${r.sequence.toString()}`;
  return kind === "equivocation" ? `equivocation:${slot}` : `${kind}:${slot}:${r.value.toString()}`;
}

/**
 * A ProofSubmitter that sends a proof only when its watchtower holds the claim; otherwise it refuses
 * it as ProofsEvidenceUsed (the watchtower then records it already proven, as when the contract
 * says so). A claim the store cannot answer fails the send like a network error: it is retried.
 */
export class ClaimingProofSubmitter implements ProofSubmitter {
  private readonly inner: ProofSubmitter;
  private readonly claims: ProofClaims;
  private readonly owner: string;

  constructor(inner: ProofSubmitter, claims: ProofClaims, owner: string) {
    this.inner = inner;
    this.claims = claims;
    this.owner = owner;
  }

  proveEquivocation(a: SignedReading, b: SignedReading, beneficiary: Hex): Promise<SubmittedProof> {
    return this.claimed(claimKey("equivocation", a), () =>
      this.inner.proveEquivocation(a, b, beneficiary),
    );
  }

  proveOutOfBounds(r: SignedReading, beneficiary: Hex): Promise<SubmittedProof> {
    return this.claimed(claimKey("out-of-bounds", r), () =>
      this.inner.proveOutOfBounds(r, beneficiary),
    );
  }

  proveBatchOutOfBounds(r: BatchedReading, beneficiary: Hex): Promise<SubmittedProof> {
    return this.claimed(claimKey("out-of-bounds", r), () =>
      this.inner.proveBatchOutOfBounds(r, beneficiary),
    );
  }

  proveBatchEquivocation(
    a: BatchedReading,
    b: SignedReading,
    beneficiary: Hex,
  ): Promise<SubmittedProof> {
    return this.claimed(claimKey("equivocation", a), () =>
      this.inner.proveBatchEquivocation(a, b, beneficiary),
    );
  }

  proveBatchPairEquivocation(
    a: BatchedReading,
    b: BatchedReading,
    beneficiary: Hex,
  ): Promise<SubmittedProof> {
    return this.claimed(claimKey("equivocation", a), () =>
      this.inner.proveBatchPairEquivocation(a, b, beneficiary),
    );
  }

  private async claimed(key: string, send: () => Promise<SubmittedProof>): Promise<SubmittedProof> {
    if (!(await this.claims.claim(key, this.owner))) {
      throw new ProofRejectedError(EVIDENCE_USED, [`claimed by another watchtower: ${key}`]);
    }
    const done = await send();
    // Sent: a claim left not done only lets another watchtower try after the lease, and the contract
    // refuses that try (ProofsEvidenceUsed).
    await this.claims.done(key).catch(() => undefined);
    return done;
  }
}
