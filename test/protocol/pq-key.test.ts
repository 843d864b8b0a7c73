import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { keccak256, solidityPacked } from "ethers";
import {
  InvalidInputError,
  ML_DSA_44_PUBLIC_KEY_BYTES,
  ML_DSA_44_SEED_BYTES,
  ML_DSA_44_SIGNATURE_BYTES,
  PQ_SCHEMES,
  generateMlDsa44KeyPair,
  mlDsa44PrivateKeyFromSeed,
  mlDsa44PrivateKeyPem,
  mlDsa44PublicKey,
  mlDsa44PublicKeyPem,
  mlDsa44RawPublicKey,
  mlDsa44Seed,
  mlDsa44Sign,
  mlDsa44Verify,
  parseMlDsa44Pem,
  parsePqScheme,
  pqKeyCommitment,
  pqSchemeName,
  toHex,
} from "../../src/protocol/index.js";

function invalid(f: () => unknown, pattern: RegExp): void {
  assert.throws(f, (err: unknown) => err instanceof InvalidInputError && pattern.test(err.message));
}

describe("protocol: post-quantum keys", function () {
  const digest = new Uint8Array(32).fill(0xab);

  describe("schemes", function () {
    it("numbers LMS 1 and ML-DSA-44 2, as IPqKeyRecovery.PqScheme", function () {
      assert.deepEqual(PQ_SCHEMES, { lms: 1, "ml-dsa-44": 2 });
      assert.equal(pqSchemeName(1), "lms");
      assert.equal(pqSchemeName(2n), "ml-dsa-44");
      assert.equal(parsePqScheme("LMS"), "lms");
      assert.equal(parsePqScheme("ml-dsa-44"), "ml-dsa-44");
    });

    it("refuses scheme 0 (None), other numbers and other names, saying which exist", function () {
      invalid(() => pqSchemeName(0), /1 is LMS, 2 is ML-DSA-44/);
      invalid(() => pqSchemeName(3), /1 is LMS/);
      invalid(() => parsePqScheme("sphincs"), /use lms or ml-dsa-44/);
    });
  });

  describe("pqKeyCommitment", function () {
    it("is keccak256(uint8(scheme) ‖ publicKey), as PqKeyRecovery.commitmentOf", function () {
      const key = `0x${"0000000b00000007".padEnd(96, "5a")}` as const;
      assert.equal(
        pqKeyCommitment("lms", key),
        keccak256(solidityPacked(["uint8", "bytes"], [1, key])),
      );
      assert.equal(
        pqKeyCommitment(2, key),
        keccak256(solidityPacked(["uint8", "bytes"], [2, key])),
      );
      assert.notEqual(pqKeyCommitment("lms", key), pqKeyCommitment("ml-dsa-44", key));
    });

    it("refuses an empty key", function () {
      invalid(() => pqKeyCommitment("lms", "0x"), /empty/);
    });
  });

  describe("ML-DSA-44", function () {
    it("generates, signs a 32-byte digest and verifies with the raw 1,312-byte public key", function () {
      const { publicKey, privateKey } = generateMlDsa44KeyPair();
      assert.equal(publicKey.length, ML_DSA_44_PUBLIC_KEY_BYTES);
      const signature = mlDsa44Sign(privateKey, digest);
      assert.equal(signature.length, ML_DSA_44_SIGNATURE_BYTES);
      assert.equal(mlDsa44Verify(publicKey, digest, signature), true);
      assert.equal(mlDsa44Verify(toHex(publicKey), toHex(digest), toHex(signature)), true);
      assert.equal(mlDsa44Verify(mlDsa44PublicKey(publicKey), digest, signature), true);
    });

    it("refuses another message, a flipped or short signature (false), another key's signature", function () {
      const { publicKey, privateKey } = generateMlDsa44KeyPair();
      const signature = mlDsa44Sign(privateKey, digest);
      assert.equal(mlDsa44Verify(publicKey, new Uint8Array(32), signature), false);
      const flipped = Uint8Array.from(signature);
      flipped[100] = (flipped[100] as number) ^ 1;
      assert.equal(mlDsa44Verify(publicKey, digest, flipped), false);
      assert.equal(mlDsa44Verify(publicKey, digest, signature.subarray(0, 2419)), false);
      const other = generateMlDsa44KeyPair();
      assert.equal(mlDsa44Verify(other.publicKey, digest, signature), false);
    });

    it("exports and imports raw keys: the 32-byte seed is the whole private key", function () {
      const { publicKey, privateKey } = generateMlDsa44KeyPair();
      const seed = mlDsa44Seed(privateKey);
      assert.equal(seed.length, ML_DSA_44_SEED_BYTES);
      const again = mlDsa44PrivateKeyFromSeed(seed);
      assert.equal(toHex(mlDsa44RawPublicKey(again)), toHex(publicKey));
      assert.equal(mlDsa44Verify(publicKey, digest, mlDsa44Sign(again, digest)), true);
      assert.equal(toHex(mlDsa44RawPublicKey(mlDsa44PublicKey(publicKey))), toHex(publicKey));
    });

    it("reads and writes PEM: SPKI, PKCS#8, and PKCS#8 encrypted under a password", function () {
      const { publicKey, privateKey } = generateMlDsa44KeyPair();
      const spki = parseMlDsa44Pem(mlDsa44PublicKeyPem(publicKey));
      assert.equal(toHex(spki.publicKey), toHex(publicKey));
      assert.equal(spki.privateKey, undefined);
      const plain = parseMlDsa44Pem(mlDsa44PrivateKeyPem(privateKey));
      assert.equal(toHex(plain.publicKey), toHex(publicKey));
      const sealed = mlDsa44PrivateKeyPem(privateKey, "pw");
      assert.match(sealed, /BEGIN ENCRYPTED PRIVATE KEY/);
      const opened = parseMlDsa44Pem(sealed, "pw");
      assert.ok(opened.privateKey !== undefined);
      assert.equal(mlDsa44Verify(publicKey, digest, mlDsa44Sign(opened.privateKey, digest)), true);
      invalid(() => parseMlDsa44Pem(sealed), /encrypted: give its password/);
      invalid(() => parseMlDsa44Pem(sealed, "wrong"), /wrong password/);
    });

    it("refuses keys of the wrong length, of another algorithm, and text that is no PEM", function () {
      invalid(() => mlDsa44PublicKey(new Uint8Array(1311)), /1312 bytes, not 1311/);
      invalid(() => mlDsa44PrivateKeyFromSeed(new Uint8Array(31)), /32 bytes, not 31/);
      const ed = generateKeyPairSync("ed25519");
      invalid(() => mlDsa44Sign(ed.privateKey, digest), /ed25519, not ML-DSA-44/);
      invalid(
        () => parseMlDsa44Pem(ed.publicKey.export({ format: "pem", type: "spki" }).toString()),
        /not ML-DSA-44/,
      );
      invalid(() => parseMlDsa44Pem("0x1234"), /not an ML-DSA-44 key in PEM/);
    });
  });
});
