import assert from "node:assert/strict";
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as nodeSign,
  verify as nodeVerify,
} from "node:crypto";
import { join } from "node:path";
import { decode, encode, Tag } from "cbor2";
import { buildPsaToken } from "../../src/device/psa-token.js";
import { Pkcs11KeyStore } from "../../src/device/pkcs11-key-store.js";
import { createSoftHsmToken, type SoftHsmToken } from "../../src/device/softhsm-token.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { startSoftwareTpm } from "../../src/device/swtpm.js";
import { Tpm, TpmKeyStore } from "../../src/device/tpm.js";
import type { KeyStore } from "../../src/device/key-store.js";
import {
  CURVE_ORDER,
  ES256_PROTECTED_HEADER,
  InvalidInputError,
  PSA_CLAIM_KEYS,
  PSA_PROFILE,
  coseSign1ToBeSigned,
  encodePsaClaims,
  isLowS,
  psaInstanceId,
  sha256Hex,
  toHex,
  type Hex,
  type PsaClaims,
} from "../../src/protocol/index.js";
import { appraisePsaToken } from "../../src/verify/psa-token.js";
import { requireSoftHsm } from "./helpers/softhsm.js";

const bytes32 = (byte: string): Hex => `0x${byte.repeat(32)}`;
const IMAGES = [
  Buffer.from("bootloader 3.1.0"),
  Buffer.from("tf-m 2.1.0"),
  Buffer.from("app 1.4.2"),
];

/** Claims as a device on a three-stage measured boot would give them. */
function claimsFor(store: KeyStore, nonce: Hex = bytes32("a5")): PsaClaims {
  return {
    nonce,
    instanceId: psaInstanceId(store.publicKey),
    clientId: -1,
    securityLifecycle: 0x3000,
    implementationId: bytes32("07"),
    bootSeed: bytes32("5e"),
    softwareComponents: IMAGES.map((image, i) => ({
      measurementType: ["BL", "PRoT", "App"][i],
      measurementValue: sha256Hex(image),
      version: ["3.1.0", "2.1.0", "1.4.2"][i],
      signerId: bytes32(i < 2 ? "51" : "52"),
    })),
  };
}

/** The token's four COSE_Sign1 parts, decoded by cbor2 alone. */
function coseParts(token: Uint8Array): [Uint8Array, Map<unknown, unknown>, Uint8Array, Uint8Array] {
  const root = decode(token, { preferMap: true });
  assert.ok(root instanceof Tag);
  assert.equal(root.tag, 18);
  return root.contents as [Uint8Array, Map<unknown, unknown>, Uint8Array, Uint8Array];
}

/** What signing and appraising `store`'s token must show, whichever key store signed it. */
async function assertRoundTrip(store: KeyStore): Promise<void> {
  const claims = claimsFor(store);
  const token = await buildPsaToken(claims, store);
  const appraised = appraisePsaToken(token, {
    publicKey: store.deviceKey.key,
    nonce: claims.nonce,
  });
  assert.deepEqual(appraised.claims, claims);
  const signature = coseParts(token)[3];
  assert.ok(isLowS("p256", BigInt(toHex(signature.subarray(32)))), "s is low");
}

describe("PSA attestation tokens (RFC 9783)", function () {
  describe("buildPsaToken", function () {
    const store = SoftwareKeyStore.generate("p256");

    it("round-trips through the software key store: the device's key appraises its token", async function () {
      await assertRoundTrip(store);
    });

    it("is a COSE_Sign1 whose ES256 signature node:crypto verifies over a Sig_structure built by hand", async function () {
      const token = await buildPsaToken(claimsFor(store), store);
      const [protectedHeader, unprotected, payload, signature] = coseParts(token);
      assert.equal(toHex(protectedHeader), "0xa10126", "protected {1: -7}");
      assert.equal(unprotected.size, 0);
      // Sig_structure = ["Signature1", protected, h'', payload], written out byte by byte (RFC 9052 §4.4).
      assert.ok(
        payload.length >= 256 && payload.length < 65_536,
        "this payload takes a 2-byte length",
      );
      const sigStructure = Buffer.concat([
        Buffer.from([0x84, 0x6a]),
        Buffer.from("Signature1", "ascii"),
        Buffer.from([0x43, 0xa1, 0x01, 0x26]),
        Buffer.from([0x40]),
        Buffer.from([0x59, payload.length >> 8, payload.length & 0xff]),
        payload,
      ]);
      const key = createPublicKey({
        key: {
          kty: "EC",
          crv: "P-256",
          x: Buffer.from(store.publicKey.subarray(1, 33)).toString("base64url"),
          y: Buffer.from(store.publicKey.subarray(33)).toString("base64url"),
        },
        format: "jwk",
      });
      assert.equal(signature.length, 64);
      assert.ok(nodeVerify("sha256", sigStructure, { key, dsaEncoding: "ieee-p1363" }, signature));
      // And the whole token: tag 18, the array, the headers, the payload, the signature, nothing else.
      const expected = Buffer.concat([
        Buffer.from([0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0]),
        Buffer.from([0x59, payload.length >> 8, payload.length & 0xff]),
        payload,
        Buffer.from([0x58, 0x40]),
        signature,
      ]);
      assert.equal(toHex(token), toHex(expected));
    });

    it("carries exactly RFC 9783's claim keys, with their CBOR types, as cbor2 decodes them", async function () {
      const claims = claimsFor(store);
      const payload = coseParts(await buildPsaToken(claims, store))[2];
      const map = decode<Map<number, unknown>>(payload, { preferMap: true });
      const k = PSA_CLAIM_KEYS;
      assert.deepEqual(
        [...map.keys()],
        [
          k.nonce,
          k.instanceId,
          k.profile,
          k.clientId,
          k.securityLifecycle,
          k.implementationId,
          k.bootSeed,
          k.softwareComponents,
        ],
      );
      assert.deepEqual([10, 256, 265, 2394, 2395, 2396, 2397, 2399], [...map.keys()]);
      assert.equal(toHex(map.get(10) as Uint8Array), claims.nonce);
      assert.equal(toHex(map.get(256) as Uint8Array), claims.instanceId);
      assert.equal((map.get(256) as Uint8Array)[0], 0x01, "UEID type RAND");
      assert.equal(map.get(265), PSA_PROFILE);
      assert.equal(map.get(265), "tag:psacertified.org,2023:psa#tfm");
      assert.equal(map.get(2394), -1);
      assert.equal(map.get(2395), 0x3000);
      assert.equal(toHex(map.get(2396) as Uint8Array), claims.implementationId);
      assert.equal(toHex(map.get(2397) as Uint8Array), claims.bootSeed);
      const components = map.get(2399) as Map<number, unknown>[];
      assert.equal(components.length, 3);
      components.forEach((c, i) => {
        assert.deepEqual(
          [...c.keys()],
          [1, 2, 4, 5],
          "measurement type, value, version, signer id",
        );
        const want = claims.softwareComponents[i];
        assert.equal(c.get(1), want?.measurementType);
        assert.equal(toHex(c.get(2) as Uint8Array), want?.measurementValue);
        assert.equal(c.get(4), want?.version);
        assert.equal(toHex(c.get(5) as Uint8Array), want?.signerId);
      });
    });

    it("encodes the optional claims with their keys: certification reference 2398, verification service 2400, description 6", async function () {
      const claims: PsaClaims = {
        ...claimsFor(store),
        certificationReference: "1234567890123-12345",
        verificationServiceIndicator: "https://verifier.example",
        softwareComponents: [
          {
            measurementValue: bytes32("01"),
            signerId: bytes32("02"),
            measurementDescription: "sha-256",
          },
        ],
      };
      const payload = coseParts(await buildPsaToken(claims, store))[2];
      const map = decode<Map<number, unknown>>(payload, { preferMap: true });
      assert.deepEqual([...map.keys()], [10, 256, 265, 2394, 2395, 2396, 2397, 2398, 2399, 2400]);
      assert.equal(map.get(2398), "1234567890123-12345");
      assert.equal(map.get(2400), "https://verifier.example");
      const [component] = map.get(2399) as Map<number, unknown>[];
      assert.deepEqual([...(component?.keys() ?? [])], [2, 5, 6]);
    });

    it("encodes in core deterministic form: cbor2's deterministic re-encoding changes no byte", async function () {
      const token = await buildPsaToken(claimsFor(store), store);
      const payload = coseParts(token)[2];
      assert.equal(
        toHex(encode(decode(payload, { preferMap: true }), { cde: true })),
        toHex(payload),
      );
      assert.equal(toHex(encode(decode(token, { preferMap: true }), { cde: true })), toHex(token));
      // The same claims give the same payload, whatever order the caller wrote them in.
      const claims = claimsFor(store);
      const reordered = Object.fromEntries(
        Object.entries(claims).reverse(),
      ) as unknown as PsaClaims;
      assert.equal(toHex(encodePsaClaims(reordered)), toHex(payload));
    });

    it("takes an ES256 signer callback and normalises a high-s signature to low-s", async function () {
      const claims = claimsFor(store);
      const privateKey = createPrivateKey({
        key: {
          kty: "EC",
          crv: "P-256",
          d: Buffer.from(store.exportPrivateKey().slice(2), "hex").toString("base64url"),
          x: Buffer.from(store.publicKey.subarray(1, 33)).toString("base64url"),
          y: Buffer.from(store.publicKey.subarray(33)).toString("base64url"),
        },
        format: "jwk",
      });
      const n = CURVE_ORDER.p256;
      let signedHighS = false;
      const highS = (toBeSigned: Uint8Array): Promise<Uint8Array> => {
        const raw = nodeSign("sha256", toBeSigned, { key: privateKey, dsaEncoding: "ieee-p1363" });
        const s = BigInt(toHex(raw.subarray(32)));
        const high = s > n / 2n ? s : n - s;
        signedHighS = true;
        return Promise.resolve(
          Buffer.concat([
            raw.subarray(0, 32),
            Buffer.from(high.toString(16).padStart(64, "0"), "hex"),
          ]),
        );
      };
      const token = await buildPsaToken(claims, highS);
      assert.ok(signedHighS);
      assert.ok(isLowS("p256", BigInt(toHex(coseParts(token)[3].subarray(32)))));
      appraisePsaToken(token, { publicKey: store.deviceKey.key, nonce: claims.nonce });
    });

    it("refuses a callback signature that is not r‖s (a DER signature is 70-odd bytes)", async function () {
      const der = () => Promise.resolve(new Uint8Array(71));
      await assert.rejects(buildPsaToken(claimsFor(store), der), /64 bytes/);
    });

    it("refuses claims that break RFC 9783, naming the claim", async function () {
      const good = claimsFor(store);
      const cases: [string, Partial<Record<keyof PsaClaims, unknown>>][] = [
        ["nonce", { nonce: `0x${"00".repeat(31)}` }],
        ["instanceId", { instanceId: bytes32("01") }],
        ["instanceId", { instanceId: `0x02${"00".repeat(32)}` }],
        ["clientId", { clientId: 0 }],
        ["clientId", { clientId: 2 ** 31 }],
        ["securityLifecycle", { securityLifecycle: 0x7000 }],
        ["securityLifecycle", { securityLifecycle: 0x3100 }],
        ["implementationId", { implementationId: `0x${"00".repeat(33)}` }],
        ["bootSeed", { bootSeed: `0x${"00".repeat(7)}` }],
        ["bootSeed", { bootSeed: `0x${"00".repeat(33)}` }],
        ["certificationReference", { certificationReference: "1234567890123" }],
        ["softwareComponents", { softwareComponents: [] }],
        [
          "softwareComponents",
          { softwareComponents: [{ measurementValue: "0x00", signerId: bytes32("01") }] },
        ],
        ["softwareComponents", { softwareComponents: [{ measurementValue: bytes32("01") }] }],
      ];
      for (const [claim, change] of cases) {
        const bad = { ...good, ...change } as PsaClaims;
        await assert.rejects(
          buildPsaToken(bad, store),
          (err: unknown) =>
            err instanceof InvalidInputError && err.message.includes(`PSA claim ${claim}:`),
          `${claim}: ${JSON.stringify(change)}`,
        );
      }
    });

    it("refuses a secp256k1 key store: ES256 needs a P-256 key", async function () {
      const k1 = SoftwareKeyStore.generate("secp256k1");
      await assert.rejects(buildPsaToken(claimsFor(store), k1), /P-256/);
    });
  });

  describe("KeyStore.signCoseSign1", function () {
    it("signs only Sig_structures: never a 32-byte digest, never other bytes", async function () {
      const store = SoftwareKeyStore.generate("p256");
      const digest = createHash("sha256").update("an EIP-712 message").digest();
      await assert.rejects(store.signCoseSign1(digest), InvalidInputError);
      await assert.rejects(store.signCoseSign1(new Uint8Array(200)), InvalidInputError);
      const toBeSigned = coseSign1ToBeSigned(ES256_PROTECTED_HEADER, new Uint8Array(40));
      const signature = await store.signCoseSign1(toBeSigned);
      assert.equal(signature.length, 2 + 128);
      await store.close();
      await assert.rejects(store.signCoseSign1(toBeSigned), /closed/);
    });
  });

  describe("through hardware key stores", function () {
    describe("PKCS#11 (SoftHSM2)", function () {
      let token: SoftHsmToken | undefined;

      before(async function () {
        requireSoftHsm(this);
        token = await createSoftHsmToken({ label: "devicetrust-psa" });
      });
      after(async function () {
        await token?.cleanup();
      });

      it("round-trips a token signed inside the token's P-256 key", async function () {
        if (token === undefined) this.skip();
        const store = await Pkcs11KeyStore.generate({
          module: token.modulePath,
          tokenLabel: token.tokenLabel,
          pin: token.pin,
          label: "psa-iak",
          curve: "p256",
        });
        try {
          await assertRoundTrip(store);
        } finally {
          await store.close();
        }
      });

      it("refuses a secp256k1 key on the token", async function () {
        if (token === undefined) this.skip();
        const store = await Pkcs11KeyStore.generate({
          module: token.modulePath,
          tokenLabel: token.tokenLabel,
          pin: token.pin,
          label: "psa-k1",
          curve: "secp256k1",
        });
        try {
          await assert.rejects(buildPsaToken(claimsFor(store), store), /P-256/);
        } finally {
          await store.close();
        }
      });
    });

    describe("TPM 2.0 (swtpm + tpm2-tools)", function () {
      this.timeout(120_000);

      it("round-trips a token signed by the TPM's Attestation Key (hashed by the TPM, ticket and all)", async function () {
        const swtpm = await startSoftwareTpm();
        try {
          const tpm = new Tpm({ tcti: swtpm.tcti, workDir: join(swtpm.dir, "work") });
          await tpm.createAttestationKey();
          const store = await TpmKeyStore.open(tpm);
          await assertRoundTrip(store);
          await store.close();
        } finally {
          await swtpm.stop();
        }
      });
    });
  });
});
