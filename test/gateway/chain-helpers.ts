import { pino } from "pino";
import { ChainSubmitter, type ChainSubmitterOptions } from "../../src/gateway/index.js";
import type { Hex, SignedReading } from "../../src/protocol/index.js";
import { ethers } from "../client/fixture.js";
import { deployFeedSystem, type FeedDevice, type FeedSystem } from "../client/feed-fixture.js";
import { cloneOf } from "../watchtower/helpers.js";

/** Helpers of the gateway tests on the in-process chain. No describe() here. */

/** The feed system every submitter test starts from (a loadFixture target). */
export async function system(): Promise<FeedSystem> {
  return deployFeedSystem(ethers);
}

/**
 * A reading signed with `device`'s key. By a clone (cloneOf): the fixture's signers outlive the chain
 * snapshots tests revert to, and the tests sign the same sequences again there.
 */
export async function signed(
  device: FeedDevice,
  feedId: Hex,
  sequence: bigint,
  value: bigint,
  timestamp: bigint,
): Promise<SignedReading> {
  const s = await cloneOf(device.signer).signReading({ feedId, sequence, timestamp, value });
  return { reading: s.message, key: s.key, signature: s.signature };
}

/** A ChainSubmitter from the fixture's watcher, quiet, polling every 10 ms. */
export function submitter(
  s: Pick<FeedSystem, "watcher" | "anchorAddress">,
  extra: Partial<ChainSubmitterOptions> = {},
): ChainSubmitter {
  return new ChainSubmitter({
    signer: s.watcher,
    anchor: s.anchorAddress,
    logger: pino({ level: "silent" }),
    pollMs: 10,
    ...extra,
  });
}
