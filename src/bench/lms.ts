import {
  LmsPrivateKey,
  lmotsByName,
  lmsByName,
  lmsVerify,
  parseLmsPublicKey,
  encodeLmsPublicKey,
  type LmotsParams,
  type LmsParams,
} from "../protocol/index.js";

/**
 * LMS rates on one core for LMS_SHA256_M32_H10 with LMOTS_SHA256_N32_W4 (a maker's firmware-manifest
 * key: 1024 signatures of 2,508 bytes): `lms.verify.h10w4`, lmsVerify of a 32-byte manifest digest
 * from the encoded key and signature (parsing included), and `lms.sign.h10w4`, LmsPrivateKey.sign with
 * the tree in memory (the stateful signer adds its state write, an fsync, on top).
 */
export async function benchLms(
  rate: (key: string, op: () => unknown) => Promise<void>,
): Promise<{ readonly meta: Record<string, string | number> }> {
  const lms = lmsByName("LMS_SHA256_M32_H10") as LmsParams;
  const lmots = lmotsByName("LMOTS_SHA256_N32_W4") as LmotsParams;
  const started = performance.now();
  const key = LmsPrivateKey.fromSeed({
    lms,
    lmots,
    seed: new Uint8Array(32).fill(0x42),
    identifier: new Uint8Array(16).fill(0x17),
  });
  const keygenMs = Math.round(performance.now() - started);
  const publicKey = encodeLmsPublicKey(key.publicKey);
  const digest = new Uint8Array(32).fill(0xd1);
  const signature = key.sign(513, digest);
  if (!lmsVerify(parseLmsPublicKey(publicKey), digest, signature)) {
    throw new Error(
      "lmsVerify rejected a valid signature: the benchmark would measure a failure path",
    );
  }
  await rate("lms.verify.h10w4", () => lmsVerify(publicKey, digest, signature));
  let q = 0;
  await rate("lms.sign.h10w4", () => key.sign(q++ % key.leaves, digest));
  key.destroy();
  return {
    meta: {
      lmsKeygenMsH10W4: keygenMs,
      lmsMethod:
        "LMS_SHA256_M32_H10 / LMOTS_SHA256_N32_W4 over a 32-byte digest, one thread: verify from the encoded public key and signature; sign with the tree in memory, without the stateful signer's state write",
    },
  };
}
