import {
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from "node:crypto";
import { setImmediate as tick } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { p256 } from "@noble/curves/nist.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { DeviceSigner } from "../device/device-signer.js";
import { SoftwareKeyStore } from "../device/software-key-store.js";
import { fromHex, type Curve, type Domain, type Hex } from "../protocol/index.js";
import { VerifyPool, type VerifyItem } from "../verify/pool.js";
import { VoucherSigner, type SignedVoucher } from "../payments/voucher-signer.js";
import { VoucherVerifier } from "../payments/voucher-verifier.js";
import { NATIVE_TOKEN, channelIdOf, type ChannelTerms } from "../payments/terms.js";
import { PublicKeyCache } from "../verify/public-key-cache.js";
import { checkDeviceSignature } from "../verify/signature.js";
import { SignatureVerifier } from "../verify/verifier.js";
import { benchLms } from "./lms.js";
import { opsPerSecond } from "./measure.js";

export interface VerifyBenchResults {
  readonly perSecond: Record<string, number>;
  readonly bytes: Record<string, number>;
  readonly meta: Record<string, string | number>;
}

const DOMAIN: Domain = { chainId: 31337n, verifyingContract: `0x${"11".repeat(20)}` };
const FEED_ID: Hex = `0x${"fe".repeat(32)}`;
/** Devices whose readings the pool figures verify (their keys cached in each worker after a round). */
const POOL_DEVICES = 256;
/** Signatures per verify() call and calls in flight per measured operation. */
const POOL_CALL = 512;
const POOL_CALLS = 4;
/** Devices in the secp256k1 key cache whose memory is measured. */
const CACHE_DEVICES = 100_000;

interface Signed {
  readonly store: SoftwareKeyStore;
  readonly digest: Hex;
  readonly signature: Hex;
}

async function signedReading(curve: Curve, sequence = 1n): Promise<Signed> {
  const store = SoftwareKeyStore.generate(curve);
  const signed = await new DeviceSigner(store, DOMAIN).signReading({
    feedId: FEED_ID,
    sequence,
    timestamp: 1_700_000_000n,
    value: 42n,
  });
  return { store, digest: signed.digest, signature: signed.signature };
}

function publicKeyObject(curve: Curve, uncompressed: Uint8Array): KeyObject {
  return createPublicKey({
    key: {
      kty: "EC",
      crv: curve === "p256" ? "P-256" : "secp256k1",
      x: Buffer.from(uncompressed.subarray(1, 33)).toString("base64url"),
      y: Buffer.from(uncompressed.subarray(33)).toString("base64url"),
    },
    format: "jwk",
  });
}

function expectValid(what: string, ok: boolean): void {
  if (!ok) {
    throw new Error(
      `${what} rejected a valid signature: the benchmark would measure a failure path`,
    );
  }
}

/** The collector, for a memory figure: V8 exposes it only under --expose-gc, settable at run time. */
function collector(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

/**
 * Heap and ArrayBuffer bytes held by a full secp256k1 key cache of `devices` devices (their id strings
 * included, as the cache holds them): the median of 3 fills, each measured after collections with a
 * turn between them (ArrayBuffers are freed after the collection that finds them dead).
 */
async function keyCacheBytes(devices: number): Promise<number> {
  const gc = collector();
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) {
      gc();
      await tick();
    }
  };
  const addresses = randomBytes(20 * devices);
  const key = new Uint8Array(randomBytes(65));
  const fill = (): PublicKeyCache => {
    const cache = new PublicKeyCache(devices);
    for (let i = 0; i < devices; i++) {
      cache.set(addresses.toString("latin1", 20 * i, 20 * i + 20), key, 1);
    }
    return cache;
  };
  const samples: number[] = [];
  for (let round = 0; round < 3; round++) {
    await settle();
    const before = process.memoryUsage();
    let cache: PublicKeyCache | undefined = fill();
    await settle();
    const after = process.memoryUsage();
    if (cache.size !== devices) throw new Error("bench: the key cache lost devices");
    cache = undefined;
    samples.push(after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers));
  }
  return samples.sort((x, y) => x - y)[1] ?? 0;
}

const POOL_WARMUP_MS = 500;
const POOL_WINDOWS = 6;
const POOL_WINDOW_MS = 700;

/**
 * Signatures per second through a pool (`op` verifies `perOp` of them), the best of POOL_WINDOWS
 * windows, with the CPU time the whole process (caller and workers) spent per signature in that window:
 * what a signature costs whatever share of the cores the pool got (it still rises when the pool's own
 * threads, or other processes, contend for the cores).
 */
async function poolRate(
  op: () => Promise<unknown>,
  perOp: number,
): Promise<{ perSecond: number; cpuMicrosPerSignature: number }> {
  const window = async (ms: number): Promise<{ perSecond: number; cpu: number }> => {
    const start = performance.now();
    const cpu = process.cpuUsage();
    let done = 0;
    while (performance.now() - start < ms) {
      await op();
      done += perOp;
    }
    const used = process.cpuUsage(cpu);
    return {
      perSecond: done / ((performance.now() - start) / 1000),
      cpu: (used.user + used.system) / done,
    };
  };
  await window(POOL_WARMUP_MS);
  let best = { perSecond: 0, cpu: 0 };
  for (let i = 0; i < POOL_WINDOWS; i++) {
    const w = await window(POOL_WINDOW_MS);
    if (w.perSecond > best.perSecond) best = w;
  }
  return { perSecond: best.perSecond, cpuMicrosPerSignature: best.cpu };
}

/** Vouchers pre-signed for the voucher figure: the verifier needs a rising amount, so they are replayed. */
const VOUCHERS = 4096;

/**
 * A seller's VoucherVerifier accepting a P-256 device's vouchers on one channel (signature, rising amount,
 * deposit, expiry), in the same run as verify.p256.openssl: `channel.voucher.verify.p256`. The vouchers
 * are signed beforehand (VoucherSigner); each measured call verifies the next, and when they run out the
 * channel is tracked afresh (its accepted amount back to 0), a negligible step every 4096 vouchers.
 */
async function benchVoucherVerify(
  rate: (key: string, op: () => unknown) => Promise<void>,
): Promise<void> {
  const domain: Domain = { chainId: 31337n, verifyingContract: `0x${"22".repeat(20)}` };
  const store = SoftwareKeyStore.generate("p256");
  const terms: ChannelTerms = {
    buyer: `0x${"b0".repeat(20)}`,
    seller: `0x${"5e".repeat(20)}`,
    buyerDevice: new VoucherSigner(store, domain).deviceId,
    token: NATIVE_TOKEN,
    pricePerUnit: 1n,
    nonce: 0n,
  };
  const channel = channelIdOf(terms);
  const signer = new VoucherSigner(store, domain);
  const vouchers: SignedVoucher[] = [];
  for (let i = 1; i <= VOUCHERS; i++)
    vouchers.push(await signer.signVoucher(channel, BigInt(i) * 1000n));
  const tracked = { terms, deposit: 10n ** 30n, expiry: 2n ** 40n, key: store.deviceKey };
  const verifier = new VoucherVerifier(domain);
  verifier.track(tracked);
  let next = 0;
  const op = () => {
    if (next === vouchers.length) {
      verifier.forget(channel);
      verifier.track(tracked);
      next = 0;
    }
    return verifier.verify(vouchers[next++] as SignedVoucher);
  };
  expectValid("VoucherVerifier", op().increment === 1000n);
  await rate("channel.voucher.verify.p256", op);
  await store.close();
}

/**
 * Off-chain signature verification rates: one device's reading per curve through OpenSSL, noble and
 * checkDeviceSignature (all on this thread), the memory of a 100,000-device secp256k1 key cache, and
 * VerifyPool's throughput on P-256 readings of 256 devices with 1 and 2 worker threads (calls of 512
 * signatures, 4 in flight), and LMS (lms.ts: lms.verify.h10w4, lms.sign.h10w4).
 */
export async function benchVerify(progress: (line: string) => void): Promise<VerifyBenchResults> {
  const perSecond: Record<string, number> = {};
  const rate = async (key: string, op: () => unknown, durationMs = 1000): Promise<void> => {
    progress(`verify: ${key}`);
    perSecond[key] = Math.round(await opsPerSecond(op, { durationMs }));
  };

  for (const curve of ["p256", "secp256k1"] as const) {
    const { store, digest: digestHex, signature } = await signedReading(curve);
    const digest = fromHex(digestHex);
    const compact = fromHex(signature).subarray(0, 64);
    const key = store.deviceKey;
    const devicetrust = () => checkDeviceSignature(key, digestHex, signature);
    expectValid("checkDeviceSignature", devicetrust() === "valid");
    if (curve === "p256") {
      // ECDSA-P256-SHA256 over the 32-byte digest: exactly the scheme the contract checks.
      const publicKey = publicKeyObject(curve, store.publicKey);
      const openssl = () =>
        nodeVerify("sha256", digest, { key: publicKey, dsaEncoding: "ieee-p1363" }, compact);
      const noble = () => p256.verify(compact, digest, store.publicKey);
      expectValid("node:crypto", openssl());
      expectValid("noble", noble());
      await rate("verify.p256.openssl", openssl);
      await benchVoucherVerify(rate);
      await rate("verify.p256.noble", noble);
      await rate("verify.p256.devicetrust", devicetrust);
    } else {
      const noble = () => secp256k1.verify(compact, digest, store.publicKey, { prehash: false });
      expectValid("noble", noble());
      // node:crypto cannot verify ECDSA over a given digest: this is ECDSA-secp256k1-SHA256 over it (one
      // more SHA-256 of 32 bytes, negligible), OpenSSL's secp256k1 arithmetic for comparison.
      const privateKey = createPrivateKey({
        key: {
          kty: "EC",
          crv: "secp256k1",
          d: Buffer.from(fromHex(store.exportPrivateKey())).toString("base64url"),
          x: Buffer.from(store.publicKey.subarray(1, 33)).toString("base64url"),
          y: Buffer.from(store.publicKey.subarray(33)).toString("base64url"),
        },
        format: "jwk",
      });
      const opensslSig = nodeSign("sha256", digest, { key: privateKey, dsaEncoding: "ieee-p1363" });
      const publicKey = createPublicKey(privateKey);
      const openssl = () =>
        nodeVerify("sha256", digest, { key: publicKey, dsaEncoding: "ieee-p1363" }, opensslSig);
      expectValid("node:crypto", openssl());
      await rate("verify.secp256k1.openssl", openssl);
      // ecrecover on libsecp256k1 with the device's recovered key kept (a compare, no keccak).
      await rate("verify.secp256k1.devicetrust", devicetrust);
      const uncached = new SignatureVerifier({ secp256k1Keys: 0 });
      await rate("verify.secp256k1.devicetrust.uncached", () =>
        uncached.check(key, digestHex, signature),
      );
      await rate("verify.secp256k1.noble", noble);
    }
    await store.close();
  }

  const lms = await benchLms(rate);

  progress(`verify: the secp256k1 key cache of ${String(CACHE_DEVICES)} devices`);
  const bytes = {
    [`verify.secp256k1.keyCache.${String(CACHE_DEVICES)}devices`]:
      await keyCacheBytes(CACHE_DEVICES),
  };

  const items: VerifyItem[] = [];
  for (let i = 0; i < POOL_DEVICES; i++) {
    const { store, digest, signature } = await signedReading("p256", BigInt(i + 1));
    items.push({ key: store.deviceKey, digest, signature });
    await store.close();
  }
  const calls = Array.from({ length: POOL_CALLS }, (_, c) =>
    Array.from(
      { length: POOL_CALL },
      (_, i) => items[(c * POOL_CALL + i) % items.length] as VerifyItem,
    ),
  );
  const perOp = POOL_CALL * POOL_CALLS;
  const cpu: Record<string, number> = {};
  for (const [workers, key] of [
    [1, "verify.pool.p256.1worker"],
    [2, "verify.pool.p256.2workers"],
  ] as const) {
    const pool = await VerifyPool.start({ workers });
    try {
      const first = await pool.verify(items);
      expectValid(
        `VerifyPool (${String(workers)})`,
        first.every((v) => v === "valid"),
      );
      progress(`verify: ${key}`);
      const op = () => Promise.all(calls.map((c) => pool.verify(c)));
      const measured = await poolRate(op, perOp);
      perSecond[key] = Math.round(measured.perSecond);
      cpu[key] = Math.round(measured.cpuMicrosPerSignature * 10) / 10;
    } finally {
      await pool.close();
    }
  }
  const k1 = perSecond["verify.secp256k1.devicetrust"] ?? 0;
  const openssl = perSecond["verify.p256.openssl"] ?? 0;
  const voucher = perSecond["channel.voucher.verify.p256"] ?? 0;
  const one = perSecond["verify.pool.p256.1worker"] ?? 0;
  const two = perSecond["verify.pool.p256.2workers"] ?? 0;
  return {
    perSecond,
    bytes,
    meta: {
      ...lms.meta,
      secp256k1Backend: new SignatureVerifier().secp256k1Backend,
      channelVoucherVerifyP256VsP256Openssl:
        openssl > 0 ? Math.round((100 * voucher) / openssl) / 100 : 0,
      verifySecp256k1DevicetrustVsP256Openssl:
        openssl > 0 ? Math.round((100 * k1) / openssl) / 100 : 0,
      verifyPoolSpeedup2v1: one > 0 ? Math.round((100 * two) / one) / 100 : 0,
      verifyPoolCpuMicrosPerSignature1worker: cpu["verify.pool.p256.1worker"] ?? 0,
      verifyPoolCpuMicrosPerSignature2workers: cpu["verify.pool.p256.2workers"] ?? 0,
      verifyPoolMethod: `VerifyPool on P-256 readings of ${String(POOL_DEVICES)} devices: ${String(POOL_CALLS)} verify() calls of ${String(POOL_CALL)} signatures in flight per operation, batches of 256, best of ${String(POOL_WINDOWS)} windows of ${String(POOL_WINDOW_MS)} ms after ${String(POOL_WARMUP_MS)} ms; CPU = the process's (every thread) per signature in that window`,
    },
  };
}
