import { randomBytes } from "node:crypto";
import { DeviceSigner } from "../../../src/device/device-signer.js";
import type { KeyStore } from "../../../src/device/key-store.js";
import { SigningRecord } from "../../../src/device/signing-record.js";
import { SoftwareKeyStore } from "../../../src/device/software-key-store.js";
import type { Domain, Hex } from "../../../src/protocol/index.js";

/**
 * The device process of the signing-record crash tests (signing-crash.test.ts spawns it; loaded by
 * mocha it does nothing: no describe(), and main runs only with SIGNING_CRASH_CHILD=1). It signs
 * readings of CRASH_FEED with the key CRASH_KEY through the record at CRASH_RECORD, and prints on stdout
 * (synchronous on a pipe) what it does:
 *
 * - CRASH_MODE=before: "signing <digest>" when its key store is asked to sign reading 1 (value
 *   CRASH_VALUE), then hangs there, before any signature exists;
 * - CRASH_MODE=after: "signature <digest> <signature>" once the key store has signed reading 1, then
 *   hangs before the signer returns: the signature is out in the world;
 * - CRASH_MODE=loop: "signed <sequence> <digest>" after each reading, numbered by the record, of a value
 *   random to this process, until it is killed.
 */
const DOMAIN: Domain = {
  chainId: 31337n,
  verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
};

function hang(): Promise<never> {
  return new Promise(() => {
    setInterval(() => undefined, 60_000);
  });
}

/** The child's key store: `inner`, with a hook around each signature. */
function hooked(inner: KeyStore, around: (digest: Hex, sign: () => Promise<Hex>) => Promise<Hex>) {
  return {
    kind: inner.kind,
    curve: inner.curve,
    deviceKey: inner.deviceKey,
    publicKey: inner.publicKey,
    signDigest: (digest: Hex) => around(digest, () => inner.signDigest(digest)),
    close: () => inner.close(),
  } satisfies KeyStore;
}

async function main(): Promise<void> {
  const env = (name: string): string => {
    const v = process.env[name];
    if (v === undefined || v === "") throw new Error(`${name} is not set`);
    return v;
  };
  const mode = env("CRASH_MODE");
  const feedId = env("CRASH_FEED") as Hex;
  const key = SoftwareKeyStore.fromPrivateKey("p256", env("CRASH_KEY"));
  const store = hooked(key, async (digest, sign) => {
    if (mode === "before") {
      process.stdout.write(`signing ${digest}\n`);
      return hang();
    }
    const signature = await sign();
    if (mode === "after") {
      process.stdout.write(`signature ${digest} ${signature}\n`);
      return hang();
    }
    return signature;
  });
  const probe = new DeviceSigner(store, DOMAIN);
  const record = SigningRecord.open(env("CRASH_RECORD"), probe);
  const signer = new DeviceSigner(store, DOMAIN, undefined, record);
  if (mode === "loop") {
    const base = BigInt(`0x${randomBytes(6).toString("hex")}`);
    for (;;) {
      const sequence = signer.nextSequence(feedId);
      const s = await signer.signReading({ feedId, sequence, timestamp: sequence, value: base });
      process.stdout.write(`signed ${String(sequence)} ${s.digest}\n`);
    }
  }
  await signer.signReading({
    feedId,
    sequence: 1n,
    timestamp: 1n,
    value: BigInt(env("CRASH_VALUE")),
  });
}

if (process.env.SIGNING_CRASH_CHILD === "1") await main();
