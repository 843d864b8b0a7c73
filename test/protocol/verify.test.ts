import assert from "node:assert/strict";
import { keccak256, toUtf8Bytes } from "ethers";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import {
  CURVE_ORDER,
  KeyType,
  bigintToHex32,
  decodeSignature,
  encodeSignature,
  type Hex,
} from "../../src/protocol/index.js";
import {
  assertDeviceSignature,
  checkDeviceSignature,
  isOnP256,
  SignatureError,
} from "../../src/verify/signature.js";

const digestA = keccak256(toUtf8Bytes("a")) as Hex;
const digestB = keccak256(toUtf8Bytes("b")) as Hex;

describe("verify", () => {
  describe("checkDeviceSignature", () => {
    for (const curve of ["p256", "secp256k1"] as const) {
      const store = SoftwareKeyStore.generate(curve);
      const keyType = curve === "p256" ? KeyType.P256 : KeyType.Secp256k1;
      const n = CURVE_ORDER[curve];

      it(`${curve}: accepts a key store's signature and rejects it over another digest`, async () => {
        const sig = await store.signDigest(digestA);
        assert.equal(checkDeviceSignature(store.deviceKey, digestA, sig), "valid");
        assert.equal(checkDeviceSignature(store.deviceKey, digestB, sig), "wrong-signer");
      });

      it(`${curve}: rejects the high-s twin of a valid signature`, async () => {
        const raw = decodeSignature(keyType, await store.signDigest(digestA));
        const high = encodeSignature(
          keyType,
          raw.recovery === undefined
            ? { r: raw.r, s: n - raw.s }
            : { r: raw.r, s: n - raw.s, recovery: raw.recovery ^ 1 },
        );
        assert.equal(checkDeviceSignature(store.deviceKey, digestA, high), "high-s");
        assert.throws(() => assertDeviceSignature(store.deviceKey, digestA, high), SignatureError);
      });

      it(`${curve}: rejects r or s zero or >= n, and bad lengths`, async () => {
        const raw = decodeSignature(keyType, await store.signDigest(digestA));
        const withRS = (r: bigint, s: bigint): Hex =>
          keyType === KeyType.P256
            ? encodeSignature(keyType, { r, s })
            : encodeSignature(keyType, { r, s, recovery: raw.recovery ?? 0 });
        assert.equal(
          checkDeviceSignature(store.deviceKey, digestA, withRS(0n, raw.s)),
          "out-of-range",
        );
        assert.equal(
          checkDeviceSignature(store.deviceKey, digestA, withRS(n, raw.s)),
          "out-of-range",
        );
        assert.equal(
          checkDeviceSignature(store.deviceKey, digestA, withRS(raw.r, 0n)),
          "out-of-range",
        );
        assert.equal(
          checkDeviceSignature(store.deviceKey, digestA, "0x1234"),
          "bad-signature-length",
        );
      });
    }

    for (const curve of ["p256", "secp256k1"] as const) {
      it(`${curve}: calls a signature or key that is not strict hex "malformed", never throws`, async () => {
        const store = SoftwareKeyStore.generate(curve);
        const key = store.deviceKey;
        const sig = await store.signDigest(digestA);
        const check = (k: string, s: string, d: string = digestA) =>
          checkDeviceSignature({ keyType: key.keyType, key: k as Hex }, d as Hex, s as Hex);
        // Buffer.from(x, "hex") stopped at the first bad digit, so these used to pass as "valid".
        for (const bad of [`${sig}zz`, `${sig} `, `${sig}0`, `${sig},${sig}`, `${sig}\n`]) {
          assert.equal(check(key.key, bad), "malformed", JSON.stringify(bad));
        }
        const mid = sig.length >> 1;
        assert.equal(check(key.key, `${sig.slice(0, mid)}g${sig.slice(mid + 1)}`), "malformed");
        assert.equal(check(key.key, sig.slice(2)), "malformed");
        assert.equal(check(key.key, `0X${sig.slice(2)}`), "malformed");
        assert.equal(check(key.key, ""), "malformed");
        // Well-formed hex of another length is the contract's verdict.
        assert.equal(check(key.key, `${sig}00`), "bad-signature-length");
        // A key that is not hex: no SyntaxError (P-256 used to throw one decoding it), "malformed".
        const badKey = `${key.key.slice(0, 10)}zz${key.key.slice(12)}`;
        assert.equal(check(badKey, sig), "malformed");
        assert.equal(check(`${key.key}zz`, sig), "malformed");
        assert.equal(check(key.key.slice(2), sig), "malformed");
        assert.equal(check(key.key.slice(0, -1), sig), "malformed");
        assert.equal(check(`${key.key}00`, sig), "bad-key-length");
        // A digest that is not 32 bytes of strict hex.
        assert.equal(check(key.key, sig, `${digestA}zz`), "malformed");
        assert.equal(check(key.key, sig, digestA.slice(0, -2)), "malformed");
        // Upper-case digits are hex.
        assert.equal(check(`0x${key.key.slice(2).toUpperCase()}`, sig), "valid");
        assert.equal(check(key.key, `0x${sig.slice(2).toUpperCase()}`), "valid");
        assert.equal(check(key.key, sig, `0x${digestA.slice(2).toUpperCase()}`), "valid");
        assert.throws(() => assertDeviceSignature(key, digestA, `${sig}zz`), {
          name: "SignatureError",
          code: "SIGNATURE_MALFORMED",
          message: /not 0x-prefixed hex of whole bytes/,
        });
      });
    }

    it("secp256k1: rejects v other than 27 or 28", async () => {
      const store = SoftwareKeyStore.generate("secp256k1");
      const sig = await store.signDigest(digestA);
      assert.equal(
        checkDeviceSignature(store.deviceKey, digestA, `${sig.slice(0, -2)}01` as Hex),
        "bad-v",
      );
    });

    it("p256: rejects a key that is not on the curve", async () => {
      const store = SoftwareKeyStore.generate("p256");
      const sig = await store.signDigest(digestA);
      const offCurve = `0x${bigintToHex32(1n).slice(2)}${bigintToHex32(1n).slice(2)}` as Hex;
      assert.equal(
        checkDeviceSignature({ keyType: KeyType.P256, key: offCurve }, digestA, sig),
        "not-on-curve",
      );
    });

    it("rejects unknown key types and wrong key lengths", () => {
      assert.equal(
        checkDeviceSignature({ keyType: KeyType.None, key: "0x" }, digestA, "0x"),
        "unsupported-key-type",
      );
      assert.equal(
        checkDeviceSignature({ keyType: KeyType.P256, key: "0x1234" }, digestA, "0x"),
        "bad-key-length",
      );
    });
  });

  describe("isOnP256", () => {
    it("accepts the generator and rejects coordinates >= p", () => {
      const gx = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n;
      const gy = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n;
      assert.ok(isOnP256(gx, gy));
      assert.ok(!isOnP256(gx, gy + 1n));
      assert.ok(!isOnP256(2n ** 256n - 1n, gy));
    });
  });
});

describe("verifySignedMessage", () => {
  const domain = {
    chainId: 31337n,
    verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3" as Hex,
  };

  it("accepts a device's own Reading and rejects it under another chain", async () => {
    const { DeviceSigner } = await import("../../src/device/device-signer.js");
    const { verifySignedMessage } = await import("../../src/verify/message.js");
    const signer = new DeviceSigner(SoftwareKeyStore.generate("p256"), domain);
    const signed = await signer.signReading({
      feedId: digestA,
      sequence: 1n,
      timestamp: 2n,
      value: -3n,
    });
    assert.equal(verifySignedMessage(domain, signed), "valid");
    assert.equal(verifySignedMessage({ ...domain, chainId: 1n }, signed), "wrong-signer");
  });

  it("rejects a message naming another device, and an expired Register", async () => {
    const { DeviceSigner } = await import("../../src/device/device-signer.js");
    const { verifySignedMessage } = await import("../../src/verify/message.js");
    const signer = new DeviceSigner(SoftwareKeyStore.generate("secp256k1"), domain);
    const other = new DeviceSigner(SoftwareKeyStore.generate("secp256k1"), domain, signer.deviceId);
    const forged = await other.signReading({
      feedId: digestA,
      sequence: 1n,
      timestamp: 2n,
      value: 3n,
    });
    assert.equal(verifySignedMessage(domain, forged), "wrong-device");
    const reg = await signer.signRegister("0x70997970c51812dc3a010c7d01b50e0d17dc79c8", 100n);
    assert.equal(verifySignedMessage(domain, reg, { now: 100n }), "valid");
    assert.equal(verifySignedMessage(domain, reg, { now: 101n }), "expired");
  });

  it("accepts a rotated key only when told the device's current key hash", async () => {
    const { DeviceSigner } = await import("../../src/device/device-signer.js");
    const { verifySignedMessage } = await import("../../src/verify/message.js");
    const { keyHash } = await import("../../src/protocol/index.js");
    const first = new DeviceSigner(SoftwareKeyStore.generate("p256"), domain);
    const rotated = new DeviceSigner(SoftwareKeyStore.generate("p256"), domain, first.deviceId);
    const signed = await rotated.signReading({
      feedId: digestA,
      sequence: 1n,
      timestamp: 2n,
      value: 3n,
    });
    assert.equal(verifySignedMessage(domain, signed), "wrong-device");
    assert.equal(
      verifySignedMessage(domain, signed, { currentKeyHash: keyHash(rotated.key) }),
      "valid",
    );
  });
});
