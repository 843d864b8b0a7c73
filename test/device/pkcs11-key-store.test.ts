import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import pkcs11js from "pkcs11js";
import {
  Pkcs11KeyExistsError,
  Pkcs11KeyNotFoundError,
  Pkcs11KeyStore,
  Pkcs11ModuleNotFoundError,
  Pkcs11PinError,
  Pkcs11TokenNotFoundError,
  listPkcs11Tokens,
  parseEcPoint,
} from "../../src/device/pkcs11-key-store.js";
import { createSoftHsmToken, type SoftHsmToken } from "../../src/device/softhsm-token.js";
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
import { requireSoftHsm } from "./helpers/softhsm.js";

const CURVES: readonly Curve[] = ["p256", "secp256k1"];

function randomDigest(): Hex {
  return toHex(randomBytes(32));
}

/** Reads attributes of the key pair's private half through a session of our own, as an attacker would. */
function privateKeyAttributes(
  token: SoftHsmToken,
  label: string,
): {
  sensitive: boolean;
  extractable: boolean;
  sign: boolean;
  valueReadable: boolean;
  valueError: string;
} {
  const lib = new pkcs11js.PKCS11();
  lib.load(token.modulePath);
  lib.C_Initialize();
  try {
    const slot = lib
      .C_GetSlotList(true)
      .find((s) => lib.C_GetTokenInfo(s).label.trim() === token.tokenLabel);
    if (slot === undefined) throw new Error("token vanished");
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    lib.C_Login(session, pkcs11js.CKU_USER, token.pin);
    lib.C_FindObjectsInit(session, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_LABEL, value: label },
    ]);
    const key = lib.C_FindObjects(session, 2);
    lib.C_FindObjectsFinal(session);
    assert.equal(key.length, 1);
    const handle = key[0];
    if (handle === undefined) throw new Error("no key");
    const attrs = lib.C_GetAttributeValue(session, handle, [
      { type: pkcs11js.CKA_SENSITIVE },
      { type: pkcs11js.CKA_EXTRACTABLE },
      { type: pkcs11js.CKA_SIGN },
    ]);
    let valueReadable = true;
    let valueError = "";
    try {
      lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_VALUE }]);
    } catch (e: unknown) {
      valueReadable = false;
      valueError = e instanceof Error ? e.message : String(e);
    }
    lib.C_Logout(session);
    lib.C_CloseSession(session);
    const flag = (i: number): boolean => attrs[i]?.value[0] === 1;
    return { sensitive: flag(0), extractable: flag(1), sign: flag(2), valueReadable, valueError };
  } finally {
    lib.C_Finalize();
    lib.close();
  }
}

describe("Pkcs11KeyStore", function () {
  let token: SoftHsmToken;

  before(async function () {
    requireSoftHsm(this);
    token = await createSoftHsmToken({ label: "devicetrust-test" });
  });
  after(async function () {
    // `token` is unset when the hook above skipped the suite.
    if ((token as SoftHsmToken | undefined) !== undefined) await token.cleanup();
  });

  const access = () => ({ module: token.modulePath, tokenLabel: token.tokenLabel, pin: token.pin });
  const open = (label: string): Promise<Pkcs11KeyStore> =>
    Pkcs11KeyStore.open({ ...access(), label });

  for (const curve of CURVES) {
    describe(`generate (${curve})`, function () {
      it("creates a key pair on the token whose public key gives the device key", async function () {
        const store = await Pkcs11KeyStore.generate({ ...access(), label: `gen-${curve}`, curve });
        try {
          assert.equal(store.kind, "pkcs11");
          assert.equal(store.curve, curve);
          assert.equal(store.label, `gen-${curve}`);
          assert.equal(store.publicKey.length, 65);
          assert.equal(
            store.deviceKey.keyType,
            curve === "p256" ? KeyType.P256 : KeyType.Secp256k1,
          );
        } finally {
          await store.close();
        }
      });

      it("keeps the private key sensitive and not extractable", function () {
        const attrs = privateKeyAttributes(token, `gen-${curve}`);
        assert.equal(attrs.sensitive, true);
        assert.equal(attrs.extractable, false);
        assert.equal(attrs.sign, true);
        assert.equal(
          attrs.valueReadable,
          false,
          "CKA_VALUE of the private key must not be readable",
        );
        assert.match(attrs.valueError, /CKR_ATTRIBUTE_SENSITIVE/);
      });

      it("refuses a label already in use", async function () {
        await assert.rejects(
          Pkcs11KeyStore.generate({ ...access(), label: `gen-${curve}`, curve }),
          Pkcs11KeyExistsError,
        );
      });
    });

    describe(`signDigest (${curve})`, function () {
      it("signs 64 digests, each low-s and valid under the contract's rules", async function () {
        const store = await open(`gen-${curve}`);
        try {
          for (let i = 0; i < 64; i++) {
            const digest = randomDigest();
            const signature = await store.signDigest(digest);
            const { s } = decodeSignature(store.deviceKey.keyType, signature);
            assert.ok(isLowS(curve, s), `signature ${String(i)} is high-s`);
            assert.equal(checkDeviceSignature(store.deviceKey, digest, signature), "valid");
          }
        } finally {
          await store.close();
        }
      });

      it("serializes concurrent signing on one session", async function () {
        const store = await open(`gen-${curve}`);
        try {
          const digests = Array.from({ length: 16 }, randomDigest);
          const signatures = await Promise.all(digests.map((d) => store.signDigest(d)));
          signatures.forEach((sig, i) => {
            const digest = digests[i];
            if (digest === undefined) throw new Error("index");
            assert.equal(checkDeviceSignature(store.deviceKey, digest, sig), "valid");
          });
        } finally {
          await store.close();
        }
      });
    });

    describe(`open (${curve})`, function () {
      it("reopens the same key by label after close, and by id", async function () {
        const first = await open(`gen-${curve}`);
        const { deviceKey, id } = first;
        await first.close();
        await assert.rejects(first.signDigest(randomDigest()), (e: unknown) => {
          return e instanceof DeviceTrustError && e.code === "KEY_CLOSED";
        });
        const again = await open(`gen-${curve}`);
        const byId = await Pkcs11KeyStore.open({ ...access(), id });
        try {
          assert.deepEqual(again.deviceKey, deviceKey);
          assert.deepEqual(byId.deviceKey, deviceKey);
          const digest = randomDigest();
          assert.equal(
            checkDeviceSignature(deviceKey, digest, await byId.signDigest(digest)),
            "valid",
          );
        } finally {
          await again.close();
          await byId.close();
        }
      });
    });
  }

  describe("open", function () {
    it("throws Pkcs11PinError for a wrong PIN", async function () {
      await assert.rejects(
        Pkcs11KeyStore.open({
          module: token.modulePath,
          tokenLabel: token.tokenLabel,
          pin: "0000",
          label: "gen-p256",
        }),
        (e: unknown) => e instanceof Pkcs11PinError && e.code === "PKCS11_PIN_INCORRECT",
      );
    });

    it("throws Pkcs11PinError for a wrong PIN while another store holds the login", async function () {
      const holder = await open("gen-p256");
      try {
        await assert.rejects(
          Pkcs11KeyStore.open({
            module: token.modulePath,
            tokenLabel: token.tokenLabel,
            pin: "0000",
            label: "gen-p256",
          }),
          Pkcs11PinError,
        );
        // The failed attempt did not end the holder's login.
        const digest = randomDigest();
        assert.equal(
          checkDeviceSignature(holder.deviceKey, digest, await holder.signDigest(digest)),
          "valid",
        );
      } finally {
        await holder.close();
      }
    });

    it("throws Pkcs11TokenNotFoundError naming the tokens present", async function () {
      await assert.rejects(
        Pkcs11KeyStore.open({
          module: token.modulePath,
          tokenLabel: "no-such-token",
          pin: token.pin,
          label: "x",
        }),
        (e: unknown) =>
          e instanceof Pkcs11TokenNotFoundError &&
          e.available.includes(token.tokenLabel) &&
          e.message.includes(`"${token.tokenLabel}"`),
      );
    });

    it("throws Pkcs11KeyNotFoundError naming the label and how to generate a key", async function () {
      await assert.rejects(open("no-such-key"), (e: unknown) => {
        return (
          e instanceof Pkcs11KeyNotFoundError &&
          e.message.includes('"no-such-key"') &&
          e.message.includes("keygen")
        );
      });
    });

    it("throws Pkcs11ModuleNotFoundError for a missing module", async function () {
      await assert.rejects(
        Pkcs11KeyStore.open({
          module: "/nonexistent/libpkcs11.so",
          tokenLabel: "t",
          pin: "1",
          label: "x",
        }),
        (e: unknown) =>
          e instanceof Pkcs11ModuleNotFoundError && e.message.includes("DEVICETRUST_PKCS11_MODULE"),
      );
    });

    it("releases the module after every store closes, so a new token becomes visible", async function () {
      const second = await createSoftHsmToken({ label: "devicetrust-second" });
      try {
        const labels = listPkcs11Tokens(second.modulePath).map((t) => t.label);
        assert.ok(labels.includes("devicetrust-second"), `tokens seen: ${labels.join(", ")}`);
      } finally {
        await second.cleanup();
      }
    });
  });

  describe("listKeys", function () {
    it("lists both generated keys with their curves", function () {
      const keys = Pkcs11KeyStore.listKeys(access());
      const byLabel = new Map(keys.map((k) => [k.label, k.curve]));
      assert.equal(byLabel.get("gen-p256"), "p256");
      assert.equal(byLabel.get("gen-secp256k1"), "secp256k1");
    });
  });
});

describe("parseEcPoint", function () {
  it("unwraps the DER OCTET STRING and accepts a bare point", function () {
    const point = new Uint8Array([4, ...randomBytes(64)]);
    assert.deepEqual(parseEcPoint(new Uint8Array([0x04, 0x41, ...point])), point);
    assert.deepEqual(parseEcPoint(new Uint8Array([0x04, 0x81, 0x41, ...point])), point);
    assert.deepEqual(parseEcPoint(point), point);
  });

  it("rejects a compressed point", function () {
    assert.throws(
      () => parseEcPoint(new Uint8Array([0x04, 0x21, 0x02, ...randomBytes(32)])),
      DeviceTrustError,
    );
  });
});
