import { SimpleMerkleTree, StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { AbiCoder, keccak256 } from "ethers";
import { InvalidInputError } from "./errors.js";
import { asHex, parseHexBytes, toHex, type Hex } from "./hex.js";
import { structHash, type ReadingBatchMessage, type ReadingMessage } from "./messages.js";

/** One device of a maker's production-batch manifest. */
export interface ManifestEntry {
  readonly deviceId: Hex;
  readonly model: number;
}

export interface Manifest {
  readonly root: Hex;
  readonly entries: readonly (ManifestEntry & { readonly proof: readonly Hex[] })[];
}

export const MANIFEST_LEAF_ENCODING = ["bytes32", "uint32"] as const;

/**
 * A production batch's key manifest: OpenZeppelin StandardMerkleTree over [deviceId, model], as
 * DeviceMessageLib.manifestLeaf hashes it. The maker publishes `root`; each device registers with its proof.
 */
export function buildManifest(entries: readonly ManifestEntry[]): Manifest {
  if (entries.length === 0)
    throw new InvalidInputError("a batch manifest needs at least one device");
  const seen = new Set<string>();
  for (const e of entries) {
    const id = e.deviceId.toLowerCase();
    if (seen.has(id)) throw new InvalidInputError(`device ${id} appears twice in the manifest`);
    seen.add(id);
  }
  const tree = StandardMerkleTree.of(
    entries.map((e) => [e.deviceId, e.model]),
    [...MANIFEST_LEAF_ENCODING],
  );
  return {
    root: tree.root as Hex,
    entries: entries.map((e, i) => ({ ...e, proof: tree.getProof(i) as Hex[] })),
  };
}

export interface ReadingBatch {
  readonly batch: ReadingBatchMessage;
  readonly proofs: readonly (readonly Hex[])[];
}

/**
 * A device's signed batch of readings: a sorted-pair Merkle tree over the readings' EIP-712 struct hashes
 * (OpenZeppelin SimpleMerkleTree; MerkleProof.verify checks it on chain).
 */
export function buildReadingBatch(readings: readonly ReadingMessage[]): ReadingBatch {
  const first = readings[0];
  if (first === undefined)
    throw new InvalidInputError("a reading batch needs at least one reading");
  let prev: ReadingMessage | undefined;
  for (const r of readings) {
    if (r.deviceId !== first.deviceId || r.feedId !== first.feedId) {
      throw new InvalidInputError(
        "every reading of a batch must come from one device and one feed",
      );
    }
    if (prev !== undefined && r.sequence <= prev.sequence) {
      throw new InvalidInputError(
        `batch readings must have strictly increasing sequences (${String(r.sequence)} after ${String(prev.sequence)})`,
      );
    }
    prev = r;
  }
  const leaves = readings.map((r) => structHash("Reading", r));
  const tree = SimpleMerkleTree.of(leaves);
  const timestamps = readings.map((r) => r.timestamp);
  const last = readings[readings.length - 1] ?? first;
  return {
    batch: {
      deviceId: first.deviceId,
      feedId: first.feedId,
      firstSequence: first.sequence,
      lastSequence: last.sequence,
      count: BigInt(readings.length),
      fromTimestamp: timestamps.reduce((a, b) => (b < a ? b : a)),
      toTimestamp: timestamps.reduce((a, b) => (b > a ? b : a)),
      root: tree.root as Hex,
    },
    proofs: leaves.map((leaf) => tree.getProof(leaf) as Hex[]),
  };
}

/**
 * The root of a reading batch over its leaves (the readings' struct hashes): `SimpleMerkleTree.of(leaves)
 * .root`, as buildReadingBatch builds it, computed directly (a fifth of the time for 1024 leaves): leaves
 * sorted, laid out as OpenZeppelin's array tree (leaf i at index 2n-2-i, node i = hash of nodes 2i+1 and
 * 2i+2), each pair hashed in sorted order.
 */
export function readingBatchRoot(leaves: readonly Hex[]): Hex {
  const n = leaves.length;
  if (n === 0) throw new InvalidInputError("a reading batch needs at least one reading");
  const sorted = leaves
    .map((l) => parseHexBytes(l, "batch leaf", { bytes: 32 }))
    .sort(compareBytes);
  const tree: Uint8Array[] = new Array<Uint8Array>(2 * n - 1);
  for (let i = 0; i < n; i++) tree[tree.length - 1 - i] = sorted[i] as Uint8Array;
  const pair = new Uint8Array(64);
  for (let i = tree.length - 1 - n; i >= 0; i--) {
    const l = tree[2 * i + 1] as Uint8Array;
    const r = tree[2 * i + 2] as Uint8Array;
    const [a, b] = compareBytes(l, r) <= 0 ? [l, r] : [r, l];
    pair.set(a, 0);
    pair.set(b, 32);
    tree[i] = keccak_256(pair);
  }
  return toHex(tree[0] as Uint8Array);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** The head of an empty ReadingAnchor chain. */
export const EMPTY_ANCHOR_HEAD = asHex(`0x${"00".repeat(24)}`, "empty head", 24);

/**
 * One step of a ReadingAnchor (device, feed) chain: keccak256(abi.encode(bytes24 head, bytes32
 * batchHash)) truncated to 24 bytes, as the contract computes it when it anchors the batch.
 */
export function linkAnchorHead(head: Hex, batchHash: Hex): Hex {
  const encoded = AbiCoder.defaultAbiCoder().encode(["bytes24", "bytes32"], [head, batchHash]);
  return keccak256(encoded).slice(0, 2 + 48) as Hex;
}
