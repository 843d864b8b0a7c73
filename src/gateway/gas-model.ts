import type { Provider } from "ethers";
import { KeyType, type DeviceKey } from "../protocol/index.js";

/**
 * The gas of the gateway's transactions (DeviceFeed.submitMany, ReadingAnchor.anchorMany) as a sum of
 * measured parts, so the submitter sets each gas limit without an eth_estimateGas per transaction
 * (one estimate costs the node several executions of the call: it was 73% of the submission time).
 *
 * Measured on Hardhat's EDR (osaka: P-256 precompile; prague: none) from receipts, with the IR
 * builds of the contracts, a 32-member feed (16 P-256, 16 secp256k1 devices) and its anchor:
 *
 * - submitMany of n readings of distinct members: 32,430 + n x 39,090 (P-256) or 34,410 (secp256k1)
 *   when each member's slot holds a reading already; a member's first reading in the feed writes a
 *   zero slot: +16,440. A second reading of a member in the same transaction costs less (warm).
 * - A round committed in the transaction (the heartbeat passed or the median moved; any transaction
 *   of a feed that has no round yet tries): up to +105,840 for 32 members (the median reads every
 *   member's slot, cold). It cannot be told in advance, so every submitMany's limit carries it.
 * - A reading that quarantines its member costs ~29,000 more than an accepted one (and more with
 *   lockdown); the round's share and the headroom cover a few, an out-of-gas fallback the rest.
 * - anchorMany of n batches of distinct devices: 24,270 + n x 29,390 (P-256) or 24,710 (secp256k1);
 *   the first batch of a (device, feed) chain writes its cursor: +17,110. A batch costs the same
 *   whatever the number of readings it covers (its root is signed).
 * - On a chain without the P-256 precompile, OpenZeppelin's Solidity verifier adds ~247,000-248,500
 *   per P-256 signature (the figure varies a little with the signature): counted as 250,000.
 *
 * The limit is the sum plus `headroomPercent` (25 by default), capped at `maxGasPerTx` (EIP-7825's
 * 16,777,216 from osaka on). A transaction that runs out of gas anyway (status 0 with ~all its gas
 * used) is sent again with the node's estimate, and the model learns: the shortfall per reading (or
 * batch) is added to every later one (`learn`).
 */
export interface GasFigures {
  /** submitMany's fixed part: the intrinsic 21,000, the calldata's head, the call, its closing write. */
  readonly submitBase: number;
  /** One reading of a member whose slot holds a reading already (its device records cold). */
  readonly reading: { readonly p256: number; readonly secp256k1: number };
  /** On top of `reading` for a member's first reading in the feed (its slot goes from zero). */
  readonly firstReading: number;
  /** A round committed by the transaction (32 members, their slots cold): on every submitMany. */
  readonly roundCommit: number;
  /** anchorMany's fixed part. */
  readonly anchorBase: number;
  /** One batch of a (device, feed) chain that has a cursor already. */
  readonly batch: { readonly p256: number; readonly secp256k1: number };
  /** On top of `batch` for a chain's first batch (its cursor goes from zero). */
  readonly firstBatch: number;
  /** On top, per P-256 signature, on a chain without the P-256 precompile (RIP-7212 / EIP-7951). */
  readonly p256WithoutPrecompile: number;
}

/** The figures measured on EDR (see GasModel). */
export const MEASURED_GAS: GasFigures = {
  submitBase: 32_430,
  reading: { p256: 39_090, secp256k1: 34_410 },
  firstReading: 16_440,
  roundCommit: 105_840,
  anchorBase: 24_270,
  batch: { p256: 29_390, secp256k1: 24_710 },
  firstBatch: 17_110,
  p256WithoutPrecompile: 250_000,
};

/** EIP-7825 (osaka): a node refuses a transaction whose gas limit is above 2^24. */
export const MAX_GAS_PER_TX = 16_777_216n;

/** One signature a transaction verifies: its key type, and whether its slot or cursor is new. */
export interface GasItem {
  readonly key: DeviceKey;
  /** The member's first reading in the feed, or the chain's first batch at the anchor. */
  readonly first: boolean;
}

/** A modelled limit and the sum it comes from (before headroom), which `learn` compares with. */
export interface GasLimit {
  readonly raw: bigint;
  readonly limit: bigint;
}

export type GasKind = "reading" | "batch";

export class GasModel {
  private readonly figures: GasFigures;
  private readonly headroom: bigint;
  private readonly cap: bigint;
  /** Learned after an out-of-gas transaction, per item, on top of the figures. */
  private readonly extra: Record<GasKind, number> = { reading: 0, batch: 0 };

  constructor(figures: GasFigures = MEASURED_GAS, headroomPercent = 25, cap = MAX_GAS_PER_TX) {
    this.figures = figures;
    this.headroom = BigInt(headroomPercent);
    this.cap = cap;
  }

  /** What the model added per reading and per batch after out-of-gas transactions (0: nothing yet). */
  get learned(): Readonly<Record<GasKind, number>> {
    return { ...this.extra };
  }

  /** A submitMany of `items` (its round included), on a chain with or without the P-256 precompile. */
  submitMany(items: readonly GasItem[], precompile: boolean): GasLimit {
    const f = this.figures;
    return this.limit(
      f.submitBase + f.roundCommit,
      items,
      precompile,
      "reading",
      f.reading,
      f.firstReading,
    );
  }

  /** An anchorMany (or anchor) of `items`. */
  anchorMany(items: readonly GasItem[], precompile: boolean): GasLimit {
    const f = this.figures;
    return this.limit(f.anchorBase, items, precompile, "batch", f.batch, f.firstBatch);
  }

  /** The limit for a transaction the node estimated: the estimate plus the headroom. */
  estimated(estimate: bigint): bigint {
    return this.withHeadroom(estimate);
  }

  /**
   * After an out-of-gas transaction of `count` items whose sum was `raw`, the node estimated
   * `estimate`: every later item of `kind` carries the shortfall per item. Returns what was added.
   */
  learn(kind: GasKind, count: number, raw: bigint, estimate: bigint): number {
    if (estimate <= raw || count < 1) return 0;
    const add = Number((estimate - raw + BigInt(count) - 1n) / BigInt(count));
    this.extra[kind] += add;
    return add;
  }

  private limit(
    base: number,
    items: readonly GasItem[],
    precompile: boolean,
    kind: GasKind,
    each: GasFigures["reading"],
    first: number,
  ): GasLimit {
    let sum = base;
    for (const item of items) {
      const p256 = item.key.keyType === KeyType.P256;
      sum += (p256 ? each.p256 : each.secp256k1) + this.extra[kind];
      if (item.first) sum += first;
      if (p256 && !precompile) sum += this.figures.p256WithoutPrecompile;
    }
    const raw = BigInt(sum);
    const limit = this.withHeadroom(raw);
    return { raw, limit: limit > this.cap ? this.cap : limit };
  }

  private withHeadroom(gas: bigint): bigint {
    return (gas * (100n + this.headroom) + 99n) / 100n;
  }
}

/**
 * A valid P-256 signature with small r and s (Wycheproof, the one OpenZeppelin's P256 probes the
 * precompile with): the precompile at 0x100 answers 1 for it; a chain without it answers nothing.
 */
const P256_PROBE =
  "0xbb5a52f42f9c9261ed4361f59422a1e30036e7c32b270c8807a419feca605023" +
  "0000000000000000000000000000000000000000000000000000000000000005" +
  "0000000000000000000000000000000000000000000000000000000000000001" +
  "a71af64de5126a4a4e02b7922d66ce9415ce88a4c9d25514d91082c8725ac957" +
  "5d47723c8fbe580bb369fec9c2665d8e30a435b9932645482e7c9f11e872296b";

/** Whether the chain has the P-256 precompile at 0x100 (one eth_call; a network error is thrown). */
export async function hasP256Precompile(provider: Provider): Promise<boolean> {
  const out = await provider.call({
    to: "0x0000000000000000000000000000000000000100",
    data: P256_PROBE,
  });
  return out !== "0x" && BigInt(out) === 1n;
}
