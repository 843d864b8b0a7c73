import { mkdtempSync, rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { id, ZeroHash } from "ethers";
import { pino, type Logger } from "pino";
import { DeviceSigner } from "../../src/device/device-signer.js";
import { SigningRecord } from "../../src/device/signing-record.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import {
  keyHash,
  type DeviceKey,
  type Domain,
  type Hex,
  type BatchedReading,
  type Evidence,
  type KeyRotationListener,
  type SignedReading,
  type WatchedInput,
  type WatchedMessage,
} from "../../src/protocol/index.js";
import {
  ProofRejectedError,
  Watchtower,
  type DeviceDirectory,
  type ProofSubmitter,
  type SensorRange,
  type SubmittedProof,
  type WatchtowerOptions,
} from "../../src/watchtower/index.js";

/** Shared helpers of the watchtower tests. No describe() here: mocha loads this file and finds no tests. */

export const DOMAIN: Domain = {
  chainId: 31337n,
  verifyingContract: "0x00000000000000000000000000000000000000aa",
};
export const FEED = id("temperature") as Hex;
export const BENEFICIARY: Hex = "0x00000000000000000000000000000000000000be";

/** A source the test pushes into; it ends on end() (or never, to test stop()). */
export class QueueSource implements AsyncIterable<WatchedMessage> {
  private readonly items: WatchedMessage[] = [];
  private waiting: ((r: IteratorResult<WatchedMessage>) => void) | undefined;
  private ended = false;

  push(...messages: WatchedMessage[]): void {
    for (const m of messages) {
      const w = this.waiting;
      if (w !== undefined) {
        this.waiting = undefined;
        w({ value: m, done: false });
      } else this.items.push(m);
    }
  }

  end(): void {
    this.ended = true;
    const w = this.waiting;
    this.waiting = undefined;
    w?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchedMessage> {
    return {
      next: () => {
        const m = this.items.shift();
        if (m !== undefined) return Promise.resolve({ value: m, done: false });
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiting = resolve;
        });
      },
      return: () => {
        this.end();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/** An async source over fixed messages (readings and batches), ending after the last. */
export async function* fromArray(messages: readonly WatchedInput[]): AsyncGenerator<WatchedInput> {
  for (const m of messages) {
    await Promise.resolve();
    yield m;
  }
}

/** A submitter that records calls; `behaviour` decides each call's outcome (default: success). */
export class FakeSubmitter implements ProofSubmitter {
  readonly calls: { kind: string; evidence: Evidence[]; beneficiary: Hex }[] = [];
  behaviour: (call: number) => Promise<SubmittedProof> = (call) =>
    Promise.resolve({ incident: id(`incident-${String(call)}`) as Hex, txHash: ZeroHash as Hex });

  proveEquivocation(a: SignedReading, b: SignedReading, beneficiary: Hex): Promise<SubmittedProof> {
    this.calls.push({ kind: "equivocation", evidence: [a, b], beneficiary });
    return this.behaviour(this.calls.length);
  }

  proveOutOfBounds(r: SignedReading, beneficiary: Hex): Promise<SubmittedProof> {
    this.calls.push({ kind: "out-of-bounds", evidence: [r], beneficiary });
    return this.behaviour(this.calls.length);
  }

  proveBatchOutOfBounds(r: BatchedReading, beneficiary: Hex): Promise<SubmittedProof> {
    this.calls.push({ kind: "batch-out-of-bounds", evidence: [r], beneficiary });
    return this.behaviour(this.calls.length);
  }

  proveBatchEquivocation(
    a: BatchedReading,
    b: SignedReading,
    beneficiary: Hex,
  ): Promise<SubmittedProof> {
    this.calls.push({ kind: "batch-equivocation", evidence: [a, b], beneficiary });
    return this.behaviour(this.calls.length);
  }

  proveBatchPairEquivocation(
    a: BatchedReading,
    b: BatchedReading,
    beneficiary: Hex,
  ): Promise<SubmittedProof> {
    this.calls.push({ kind: "batch-pair-equivocation", evidence: [a, b], beneficiary });
    return this.behaviour(this.calls.length);
  }
}

export const evidenceUsed = (): Promise<SubmittedProof> =>
  Promise.reject(new ProofRejectedError("ProofsEvidenceUsed", [ZeroHash]));

/**
 * A directory with stubbed answers: every device is maker 1 model 7, registered with its first key
 * (unless in `unknown`) and current on it (unless `current` names a rotated key's hash); `range` is
 * its sensor range; `retired` holds keys' retirement times. `rotate` does what DeviceRegistry.rotateKey
 * does (the old key retired at `at`, default now), KeyRotated event included.
 */
export class FakeDirectory implements DeviceDirectory {
  range: SensorRange | null = null;
  reachable = true;
  readonly owners = new Map<Hex, Hex>();
  /** Device id → hash of its current key, for devices whose key was rotated. */
  readonly current = new Map<Hex, Hex>();
  /** Devices the registry does not know (current key hash zero). */
  readonly unknown = new Set<Hex>();
  /** Key hash → when a rotation retired it (unix seconds). */
  readonly retired = new Map<Hex, bigint>();
  rangeLookups = 0;
  currentKeyLookups = 0;
  retiredLookups = 0;
  private readonly watchers = new Set<KeyRotationListener>();

  keyOwner(keyHash: Hex): Promise<Hex> {
    return Promise.resolve(this.owners.get(keyHash) ?? (ZeroHash as Hex));
  }
  currentKeyHash(deviceId: Hex): Promise<Hex> {
    this.currentKeyLookups++;
    if (this.unknown.has(deviceId)) return Promise.resolve(ZeroHash as Hex);
    return Promise.resolve(this.current.get(deviceId) ?? deviceId);
  }
  keyRetiredAt(keyHash: Hex): Promise<bigint> {
    this.retiredLookups++;
    return Promise.resolve(this.retired.get(keyHash) ?? 0n);
  }
  watchKeyRotations(listener: KeyRotationListener): Promise<() => Promise<void>> {
    this.watchers.add(listener);
    return Promise.resolve(() => {
      this.watchers.delete(listener);
      return Promise.resolve();
    });
  }
  /**
   * The device's key is now `key`, the one before it retired at `at` (unix seconds, default now); the
   * watchers hear of it unless `announce` is false (a lost event).
   */
  rotate(
    deviceId: Hex,
    key: DeviceKey,
    announce = true,
    at = BigInt(Math.floor(Date.now() / 1000)),
  ): void {
    const kh = keyHash(key);
    this.retired.set(this.current.get(deviceId) ?? deviceId, at);
    this.owners.set(kh, deviceId);
    this.current.set(deviceId, kh);
    if (announce) for (const w of this.watchers) w(deviceId, kh);
  }
  deviceModel(): Promise<{ maker: number; model: number }> {
    return Promise.resolve({ maker: 1, model: 7 });
  }
  sensorRange(): Promise<SensorRange | null> {
    this.rangeLookups++;
    return Promise.resolve(this.range);
  }
  ping(): Promise<void> {
    return this.reachable ? Promise.resolve() : Promise.reject(new Error("connection refused"));
  }
}

export function deviceSigner(curve: "p256" | "secp256k1" = "p256"): DeviceSigner {
  return new DeviceSigner(SoftwareKeyStore.generate(curve), DOMAIN);
}

/**
 * A clone of `signer`: the same key and device id in a signer with its own, empty, signing record. The
 * device's record refuses conflicting messages; whoever else holds the key is not bound by it. Tests
 * build equivocation evidence with clones.
 */
export function cloneOf(signer: DeviceSigner): DeviceSigner {
  return new DeviceSigner(
    signer.keyStore,
    signer.domain,
    signer.deviceId,
    SigningRecord.inMemory(signer),
  );
}

/**
 * A reading of FEED signed with `signer`'s key, by a clone of its own (cloneOf): any content for any
 * sequence, as evidence is built (two calls for one sequence are an equivocation).
 */
export async function reading(
  signer: DeviceSigner,
  sequence: bigint,
  value: bigint,
  timestamp = 1_700_000_000n,
): Promise<SignedReading> {
  const s = await cloneOf(signer).signReading({ feedId: FEED, sequence, timestamp, value });
  return { reading: s.message, key: s.key, signature: s.signature };
}

/**
 * The folder of this process's test databases (created with the first), removed when the process
 * exits: mocha runs every test file in one process, so the whole run, or a single file, leaves
 * nothing in the system temp folder, even when a test fails before it could clean up.
 */
let tempRoot: string | undefined;

function testTempRoot(): string {
  if (tempRoot === undefined) {
    const root = mkdtempSync(join(tmpdir(), "devicetrust-test-"));
    tempRoot = root;
    process.once("exit", () => {
      rmSync(root, { recursive: true, force: true });
    });
  }
  return tempRoot;
}

/** A path for a new SQLite database, in a folder of its own under this process's test folder. */
export async function tempDb(): Promise<string> {
  return join(await mkdtemp(join(testTempRoot(), "db-")), "evidence.sqlite");
}

/** A logger that keeps its JSON lines in `lines` (and prints nothing). */
export function memoryLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split("\n")) {
        if (l.trim() !== "") lines.push(JSON.parse(l) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

export function watchtower(
  overrides: Partial<WatchtowerOptions> &
    Pick<WatchtowerOptions, "source" | "directory" | "submitter" | "dbPath">,
): Watchtower {
  return new Watchtower({
    domain: DOMAIN,
    beneficiary: BENEFICIARY,
    http: false,
    logger: pino({ level: "silent" }),
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    ...overrides,
  });
}

/** The value of one metric sample in Prometheus text, or undefined. */
export function sample(text: string, name: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name} `)) return Number(line.slice(name.length + 1));
  }
  return undefined;
}
