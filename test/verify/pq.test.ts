import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { DeviceSigner } from "../../src/device/device-signer.js";
import {
  LMS_ON_CHAIN_ATTEMPTS,
  LmsPrivateKey,
  digest,
  encodeLmsPublicKey,
  fromHex,
  generateMlDsa44KeyPair,
  keyHash,
  lmotsByName,
  lmsByName,
  mlDsa44Sign,
  pqKeyCommitment,
  toHex,
  type Domain,
  type Hex,
  type LmotsParams,
  type LmsParams,
} from "../../src/protocol/index.js";
import {
  PqRecoveryError,
  parsePqRecoveryRequest,
  pqRecoveryRequestToJson,
  verifyPqRecovery,
  verifyPqSignature,
  type PqRecoveryProblem,
  type PqRecoveryRequest,
} from "../../src/verify/pq.js";

const DOMAIN: Domain = { chainId: 31337n, verifyingContract: `0x${"11".repeat(20)}` };
const DEVICE: Hex = `0x${"d1".repeat(32)}`;
const DEADLINE = 2_000_000_000n;

function refused(f: () => unknown, problem: PqRecoveryProblem): PqRecoveryError {
  try {
    f();
  } catch (err: unknown) {
    assert.ok(err instanceof PqRecoveryError, `not a PqRecoveryError: ${String(err)}`);
    assert.equal(err.code, "PQ_RECOVERY_INVALID");
    assert.equal(err.problem, problem, err.message);
    return err;
  }
  assert.fail(`expected ${problem}`);
}

describe("verify: post-quantum signatures and recovery requests", function () {
  this.timeout(30_000);
  const lms = LmsPrivateKey.generate(
    lmsByName("LMS_SHA256_M24_H5") as LmsParams,
    lmotsByName("LMOTS_SHA256_N24_W4") as LmotsParams,
  );
  const lmsPublicKey = toHex(encodeLmsPublicKey(lms.publicKey));
  const mlDsa = generateMlDsa44KeyPair();
  let leaf = 0;

  describe("verifyPqSignature", function () {
    const message = randomBytes(32);

    it("verifies LMS and ML-DSA-44 signatures of a 32-byte digest", function () {
      const byLms = lms.sign(leaf++, message);
      assert.equal(verifyPqSignature("lms", lmsPublicKey, message, byLms), true);
      assert.equal(verifyPqSignature(1, fromHex(lmsPublicKey), toHex(message), toHex(byLms)), true);
      const byMlDsa = mlDsa44Sign(mlDsa.privateKey, message);
      assert.equal(verifyPqSignature("ml-dsa-44", mlDsa.publicKey, message, byMlDsa), true);
    });

    it("is false for another message, a malformed signature or another scheme's", function () {
      const byLms = lms.sign(leaf++, message);
      assert.equal(verifyPqSignature("lms", lmsPublicKey, randomBytes(32), byLms), false);
      assert.equal(verifyPqSignature("lms", lmsPublicKey, message, byLms.subarray(1)), false);
      assert.equal(verifyPqSignature("lms", lmsPublicKey, message, "0xzz"), false);
      const byMlDsa = mlDsa44Sign(mlDsa.privateKey, message);
      assert.equal(verifyPqSignature("ml-dsa-44", mlDsa.publicKey, message, byLms), false);
      assert.equal(
        verifyPqSignature("ml-dsa-44", mlDsa.publicKey, randomBytes(32), byMlDsa),
        false,
      );
    });
  });

  describe("verifyPqRecovery", function () {
    /** A request by `scheme`'s key moving DEVICE to a fresh P-256 key, signed as the client signs it. */
    async function request(scheme: "lms" | "ml-dsa-44", nonce = 0n, registryNonce = 3n) {
      const next = SoftwareKeyStore.generate("p256");
      const newKeyHash = keyHash(next.deviceKey);
      const recover = digest(DOMAIN, "RecoverKey", {
        deviceId: DEVICE,
        newKeyHash,
        nonce,
        deadline: DEADLINE,
      });
      const possession = await new DeviceSigner(next, DOMAIN, DEVICE).signRotateKey(
        next.deviceKey,
        registryNonce,
        DEADLINE,
      );
      const message = fromHex(recover);
      const pqSignature =
        scheme === "lms"
          ? lms.sign(leaf++, message, { attempts: LMS_ON_CHAIN_ATTEMPTS })
          : mlDsa44Sign(mlDsa.privateKey, message);
      const pqPublicKey = scheme === "lms" ? lmsPublicKey : toHex(mlDsa.publicKey);
      const r: PqRecoveryRequest = {
        deviceId: DEVICE,
        newKey: next.deviceKey,
        deadline: DEADLINE,
        scheme,
        nonce,
        pqPublicKey,
        pqSignature: toHex(pqSignature),
        registryNonce,
        newKeySignature: possession.signature,
      };
      const commitment = {
        commitment: pqKeyCommitment(scheme, pqPublicKey),
        scheme: scheme === "lms" ? 1 : 2,
        nonce: Number(nonce),
      };
      return { request: r, commitment, recover, newKeyHash };
    }

    for (const scheme of ["lms", "ml-dsa-44"] as const) {
      const name = scheme === "lms" ? "an LMS" : "an ML-DSA-44";
      it(`accepts ${name} request signed by the committed key, with the new key's possession`, async function () {
        const { request: r, commitment, recover, newKeyHash } = await request(scheme);
        const check = verifyPqRecovery(r, {
          domain: DOMAIN,
          commitment,
          now: DEADLINE,
          registryNonce: 3n,
        });
        assert.deepEqual(check, {
          newKeyHash,
          recoverDigest: recover,
          rotateDigest: digest(DOMAIN, "RotateKey", {
            deviceId: DEVICE,
            newKeyHash,
            nonce: 3n,
            deadline: DEADLINE,
          }),
          commitment: commitment.commitment,
        });
      });
    }

    it("refuses each broken rule, naming it after the contract's error", async function () {
      const { request: r, commitment } = await request("ml-dsa-44", 2n);
      const domain = DOMAIN;
      refused(() => verifyPqRecovery(r, { domain, commitment, now: DEADLINE + 1n }), "Expired");
      refused(
        () => verifyPqRecovery(r, { domain, commitment: { ...commitment, scheme: 0 } }),
        "NotCommitted",
      );
      refused(
        () => verifyPqRecovery(r, { domain, commitment: { ...commitment, scheme: 1 } }),
        "SchemeMismatch",
      );
      const other = generateMlDsa44KeyPair();
      refused(
        () =>
          verifyPqRecovery({ ...r, pqPublicKey: toHex(other.publicKey) }, { domain, commitment }),
        "WrongPqKey",
      );
      refused(
        () => verifyPqRecovery(r, { domain, commitment: { ...commitment, nonce: 3 } }),
        "StaleNonce",
      );
      refused(
        () => verifyPqRecovery(r, { domain: { ...domain, chainId: 1n }, commitment }),
        "InvalidPqSignature",
      );
      refused(
        () => verifyPqRecovery(r, { domain, commitment, registryNonce: 4n }),
        "StaleRegistryNonce",
      );
      const stranger = SoftwareKeyStore.generate("p256");
      refused(
        () => verifyPqRecovery({ ...r, newKey: stranger.deviceKey }, { domain, commitment }),
        "InvalidPqSignature",
      );
      // A signature, but not the new key's of RotateKey.
      const notPossession = await stranger.signDigest(`0x${"00".repeat(32)}`);
      refused(
        () => verifyPqRecovery({ ...r, newKeySignature: notPossession }, { domain, commitment }),
        "InvalidNewKeySignature",
      );
    });

    it("round-trips a request through JSON, and refuses malformed JSON saying which field", async function () {
      const { request: r, commitment } = await request("lms");
      const json = JSON.parse(JSON.stringify(pqRecoveryRequestToJson(r))) as unknown;
      const parsed = parsePqRecoveryRequest(json);
      assert.deepEqual(parsed, r);
      verifyPqRecovery(parsed, { domain: DOMAIN, commitment });
      assert.throws(
        () => parsePqRecoveryRequest({ ...(json as object), deadline: "-1" }),
        /deadline must be a whole number/,
      );
      assert.throws(
        () => parsePqRecoveryRequest({ ...(json as object), newKey: { keyType: 3, key: "0x" } }),
        /key type 3 is not supported/,
      );
      assert.throws(() => parsePqRecoveryRequest(null), /JSON object/);
    });
  });
});
