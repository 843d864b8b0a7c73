import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  KeyFileError,
  SoftwareKeyStore,
  type KeyFile,
} from "../../src/device/software-key-store.js";
import {
  DeviceTrustError,
  KeyType,
  decodeSignature,
  isLowS,
  toHex,
  type Curve,
  type Hex,
} from "../../src/protocol/index.js";
import { checkDeviceSignature } from "../../src/verify/signature.js";

/** Fast scrypt for tests; the default (N = 2^17) is what real key files use. */
const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };
const CURVES: readonly Curve[] = ["p256", "secp256k1"];

function randomDigest(): Hex {
  return toHex(randomBytes(32));
}

describe("SoftwareKeyStore", function () {
  let dir: string;
  before(async function () {
    dir = await mkdtemp(join(tmpdir(), "devicetrust-keys-"));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  for (const curve of CURVES) {
    describe(`generate (${curve})`, function () {
      it("makes a key whose device key has the curve's type and encoding", function () {
        const store = SoftwareKeyStore.generate(curve);
        assert.equal(store.kind, "software");
        assert.equal(store.curve, curve);
        assert.equal(store.publicKey.length, 65);
        assert.equal(store.publicKey[0], 4);
        assert.equal(store.deviceKey.keyType, curve === "p256" ? KeyType.P256 : KeyType.Secp256k1);
        assert.equal(store.deviceKey.key.length, 2 + 2 * (curve === "p256" ? 64 : 20));
      });

      it("makes a different key each time", function () {
        assert.notEqual(
          SoftwareKeyStore.generate(curve).deviceKey.key,
          SoftwareKeyStore.generate(curve).deviceKey.key,
        );
      });
    });

    describe(`signDigest (${curve})`, function () {
      it("signs digests that verify with the contract's rules and are low-s", async function () {
        const store = SoftwareKeyStore.generate(curve);
        for (let i = 0; i < 32; i++) {
          const digest = randomDigest();
          const signature = await store.signDigest(digest);
          assert.equal(checkDeviceSignature(store.deviceKey, digest, signature), "valid");
          assert.ok(
            isLowS(curve, decodeSignature(store.deviceKey.keyType, signature).s),
            "s must be low",
          );
        }
      });

      it("produces a signature that does not verify for another digest", async function () {
        const store = SoftwareKeyStore.generate(curve);
        const signature = await store.signDigest(randomDigest());
        assert.equal(
          checkDeviceSignature(store.deviceKey, randomDigest(), signature),
          "wrong-signer",
        );
      });

      it("rejects a digest that is not 32 bytes", async function () {
        const store = SoftwareKeyStore.generate(curve);
        await assert.rejects(store.signDigest("0x1234"), DeviceTrustError);
      });
    });

    describe(`save and load (${curve})`, function () {
      it("round-trips the key through an encrypted file with mode 0600", async function () {
        const store = SoftwareKeyStore.generate(curve);
        const path = join(dir, `${curve}-roundtrip.json`);
        const file = await store.save(path, "correct horse", FAST_SCRYPT);
        assert.equal(file.crypto.kdfparams.N, 1024);
        assert.equal((await stat(path)).mode & 0o777, 0o600);
        const text = await readFile(path, "utf8");
        assert.ok(
          !text.includes(store.exportPrivateKey().slice(2)),
          "the file must not contain the scalar",
        );

        const loaded = await SoftwareKeyStore.load(path, "correct horse");
        assert.equal(loaded.curve, curve);
        assert.deepEqual(loaded.deviceKey, store.deviceKey);
        assert.equal(loaded.exportPrivateKey(), store.exportPrivateKey());
        const digest = randomDigest();
        assert.equal(
          checkDeviceSignature(store.deviceKey, digest, await loaded.signDigest(digest)),
          "valid",
        );
      });

      it("throws KeyFileError for a wrong password", async function () {
        const path = join(dir, `${curve}-password.json`);
        await SoftwareKeyStore.generate(curve).save(path, "right", FAST_SCRYPT);
        await assert.rejects(SoftwareKeyStore.load(path, "wrong"), KeyFileError);
      });

      it("throws KeyFileError for a tampered ciphertext, tag or public key", async function () {
        const path = join(dir, `${curve}-tamper.json`);
        await SoftwareKeyStore.generate(curve).save(path, "pw", FAST_SCRYPT);
        const original = JSON.parse(await readFile(path, "utf8")) as KeyFile;
        const flip = (hex: Hex): Hex => {
          const last = parseInt(hex.slice(-2), 16) ^ 1;
          return `${hex.slice(0, -2)}${last.toString(16).padStart(2, "0")}` as Hex;
        };
        const other = SoftwareKeyStore.generate(curve);
        const variants: KeyFile[] = [
          {
            ...original,
            crypto: { ...original.crypto, ciphertext: flip(original.crypto.ciphertext) },
          },
          { ...original, crypto: { ...original.crypto, tag: flip(original.crypto.tag) } },
          { ...original, publicKey: toHex(other.publicKey) },
        ];
        for (const variant of variants) {
          const tampered = join(dir, `${curve}-tampered.json`);
          await writeFile(tampered, JSON.stringify(variant));
          await assert.rejects(SoftwareKeyStore.load(tampered, "pw"), KeyFileError);
        }
      });

      it("throws KeyFileError for a file that is not a key file", async function () {
        const path = join(dir, "not-a-key.json");
        await writeFile(path, '{"hello": 1}');
        await assert.rejects(SoftwareKeyStore.load(path, "pw"), KeyFileError);
        await assert.rejects(SoftwareKeyStore.load(join(dir, "missing.json"), "pw"), KeyFileError);
      });

      it("refuses an empty password", async function () {
        await assert.rejects(
          SoftwareKeyStore.generate(curve).save(join(dir, "empty.json"), "", FAST_SCRYPT),
          DeviceTrustError,
        );
      });
    });
  }

  describe("fromPrivateKey", function () {
    it("derives the known secp256k1 address of private key 1", function () {
      const store = SoftwareKeyStore.fromPrivateKey("secp256k1", `0x${"00".repeat(31)}01`);
      assert.equal(store.deviceKey.key, "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf");
    });

    it("derives the P-256 generator for private key 1", function () {
      const store = SoftwareKeyStore.fromPrivateKey("p256", `0x${"00".repeat(31)}01`);
      assert.equal(
        store.deviceKey.key,
        "0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296" +
          "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
      );
    });

    it("rejects a private key that is not 32 bytes", function () {
      assert.throws(() => SoftwareKeyStore.fromPrivateKey("secp256k1", "0x01"), DeviceTrustError);
    });
  });

  describe("close", function () {
    for (const curve of CURVES) {
      it(`makes signing throw afterwards (${curve})`, async function () {
        const store = SoftwareKeyStore.generate(curve);
        await store.close();
        await assert.rejects(store.signDigest(randomDigest()), (e: unknown) => {
          return e instanceof DeviceTrustError && e.code === "KEY_CLOSED";
        });
        assert.throws(() => store.exportPrivateKey(), DeviceTrustError);
      });
    }
  });
});
