import {
  DeviceTrustError,
  EMPTY_ANCHOR_HEAD,
  asHex,
  linkAnchorHead,
  structHash,
  type Hex,
  type ReadingBatchMessage,
  type ReadingMessage,
} from "../protocol/index.js";
import type { ReadingAnchor } from "./feeds.js";

/** What ReadingAnchor.verifyReading takes besides the reading and its Merkle proof. */
export interface AnchorPath {
  /** The chain's head before the batch (zero for the first batch). */
  readonly previousHead: Hex;
  /** The batch hashes anchored after it, up to the head or to the first checkpoint at or after it. */
  readonly laterBatchHashes: readonly Hex[];
  /** Where the path ends: the current head or a checkpoint. */
  readonly endsAt: "head" | "checkpoint";
  /** The block that anchored the batch. */
  readonly anchoredInBlock: number;
}

/** The batch is not (or not yet) anchored on this ReadingAnchor. */
export class NotAnchoredError extends DeviceTrustError {
  constructor(message: string) {
    super("NOT_ANCHORED", message);
    this.name = "NotAnchoredError";
  }
}

/**
 * The path that proves `batch` anchored, read from the anchor's BatchAnchored and Checkpointed events
 * for the batch's (device, feed) chain: the head before it and the batch hashes after it, cut at the
 * first checkpoint at or after the batch so the proof stays short. Each step is re-hashed here
 * (linkAnchorHead), so a log that disagrees with the contract's chain is caught before the call.
 */
export async function anchorPath(
  anchor: ReadingAnchor,
  batch: ReadingBatchMessage,
): Promise<AnchorPath> {
  const batchHash = structHash("ReadingBatch", batch);
  const anchored = await anchor.queryFilter(
    anchor.filters.BatchAnchored(batch.deviceId, batch.feedId),
  );
  const index = anchored.findIndex((e) => e.args.batchHash === batchHash);
  const event = anchored[index];
  if (event === undefined) {
    throw new NotAnchoredError(
      `batch ${batchHash} (sequences ${String(batch.firstSequence)}..${String(batch.lastSequence)}) was never anchored on ${await anchor.getAddress()}: anchor it first (the gateway does, or ReadingAnchor.anchor)`,
    );
  }
  const checkpoints = new Set(
    (await anchor.queryFilter(anchor.filters.Checkpointed(batch.deviceId, batch.feedId))).map((e) =>
      e.args.head.toLowerCase(),
    ),
  );
  const previousHead =
    index === 0
      ? EMPTY_ANCHOR_HEAD
      : asHex(anchored[index - 1]?.args.head ?? "", "previous head", 24);
  let head = linkAnchorHead(previousHead, batchHash);
  if (head !== event.args.head.toLowerCase()) {
    throw new NotAnchoredError(
      `the anchor's log disagrees with the chain at batch ${batchHash}: is ${await anchor.getAddress()} a ReadingAnchor?`,
    );
  }
  const laterBatchHashes: Hex[] = [];
  let endsAt: AnchorPath["endsAt"] = "head";
  for (const later of anchored.slice(index + 1)) {
    if (checkpoints.has(head)) {
      endsAt = "checkpoint";
      break;
    }
    const laterHash = asHex(later.args.batchHash, "batch hash", 32);
    laterBatchHashes.push(laterHash);
    head = linkAnchorHead(head, laterHash);
  }
  if (endsAt === "head" && checkpoints.has(head)) endsAt = "checkpoint";
  return { previousHead, laterBatchHashes, endsAt, anchoredInBlock: event.blockNumber };
}

/**
 * Whether `reading` is proven (by `proof`, its Merkle path in `batch`) to be in an anchored batch:
 * ReadingAnchor.verifyReading with the path anchorPath finds. False when the contract says no.
 */
export async function verifyAnchoredReading(
  anchor: ReadingAnchor,
  reading: ReadingMessage,
  proof: readonly Hex[],
  batch: ReadingBatchMessage,
): Promise<{ readonly verified: boolean; readonly path: AnchorPath }> {
  const path = await anchorPath(anchor, batch);
  const verified = await anchor.verifyReading(reading, [...proof], batch, path.previousHead, [
    ...path.laterBatchHashes,
  ]);
  return { verified, path };
}
