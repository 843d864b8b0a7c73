import { pino } from "pino";
import type { Curve, WatchedInput } from "../../src/protocol/index.js";
import { runWatchtower } from "../../src/watchtower/index.js";
import { stakedClonedDevice, type StakingFixture } from "../client/staking-fixture.js";
import { fromArray } from "./helpers.js";

/** Helpers of the watchtower tests on the in-process chain. No describe() here. */

export const STAKE = 10_000n;

/**
 * One watchtower run over `inputs` on the staking fixture's chain (proofs from `f.other`, bounties to
 * `f.beneficiary`), until the source ends and proofs settle; returns its proofs, metrics and the
 * messages it kept as signed by retired keys.
 */
export async function watchOnChain(
  f: StakingFixture,
  dbPath: string,
  inputs: readonly WatchedInput[],
) {
  const running = await runWatchtower({
    registry: f.address,
    proofs: f.proofsAddress,
    signer: f.other,
    beneficiary: f.beneficiary.address,
    source: fromArray(inputs),
    dbPath,
    port: 0,
    handleSignals: false,
    logger: pino({ level: "silent" }),
    retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
  });
  await running.watchtower.drained();
  const metrics = await running.watchtower.metrics.text();
  const proofs = running.watchtower.evidence.proofs();
  const retiredKeyMessages = running.watchtower.evidence.retiredKeyMessages();
  await running.watchtower.stop();
  await running.finished;
  return { proofs, metrics, retiredKeyMessages };
}

/** A registered device with STAKE staked, its signer and a clone of its key. */
export function stakedClone(f: StakingFixture, curve: Curve = "p256") {
  return stakedClonedDevice(f, curve, STAKE);
}
