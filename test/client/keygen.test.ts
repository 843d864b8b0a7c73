import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Context } from "mocha";
import { createSoftHsmToken, type SoftHsmToken } from "../../src/device/softhsm-token.js";
import { KeyType, deviceIdOf, digest, type Curve } from "../../src/protocol/index.js";
import { checkDeviceSignature } from "../../src/verify/signature.js";
import { DeviceTrustError } from "../../src/protocol/index.js";
import { MissingSecretError, keygen, openKeyStore, secretFrom } from "../../src/client/index.js";
import { requireSoftHsm } from "../device/helpers/softhsm.js";
import { TEST_SCRYPT, tempDir } from "./fixture.js";

const DOMAIN = {
  chainId: 31337n,
  verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
} as const;
const CURVES: readonly Curve[] = ["p256", "secp256k1"];

describe("client", function () {
  describe("keygen (file) and openKeyStore", function () {
    let dir: string;
    let cleanup: () => Promise<void>;
    beforeEach(async function () {
      ({ dir, cleanup } = await tempDir());
    });
    afterEach(async function () {
      await cleanup();
    });

    for (const curve of CURVES) {
      it(`creates an encrypted ${curve} key file that opens and signs as the device it names`, async function () {
        const out = join(dir, `${curve}.json`);
        const made = await keygen(
          { curve, keystore: "file", out, password: "pw", scrypt: TEST_SCRYPT },
          {},
        );
        assert.equal(made.keyType, curve === "p256" ? KeyType.P256 : KeyType.Secp256k1);
        assert.equal(made.key.length, curve === "p256" ? 130 : 42);
        assert.equal(made.deviceId, deviceIdOf({ keyType: made.keyType, key: made.key }));
        assert.equal(made.location, out);
        const file = JSON.parse(await readFile(out, "utf8")) as {
          publicKey: string;
          crypto: { kdfparams: { N: number } };
        };
        assert.equal(file.publicKey, made.publicKey);
        assert.equal(file.crypto.kdfparams.N, TEST_SCRYPT.N);

        const store = await openKeyStore({ keystore: "file", path: out, password: "pw" }, {});
        const d = digest(DOMAIN, "Endorse", { deviceId: made.deviceId, model: 1 });
        assert.equal(checkDeviceSignature(store.deviceKey, d, await store.signDigest(d)), "valid");
        assert.equal(deviceIdOf(store.deviceKey), made.deviceId);
        await store.close();
      });
    }

    it("refuses to overwrite an existing file", async function () {
      const out = join(dir, "taken.json");
      await writeFile(out, "{}");
      await assert.rejects(
        keygen({ curve: "p256", keystore: "file", out, password: "pw", scrypt: TEST_SCRYPT }, {}),
        (err: unknown) => {
          assert.ok(err instanceof DeviceTrustError);
          assert.equal(err.code, "KEY_FILE_EXISTS");
          assert.match(err.message, /choose another --out/);
          return true;
        },
      );
      assert.equal(await readFile(out, "utf8"), "{}");
    });

    it("takes the password from DEVICETRUST_KEY_PASSWORD and rejects a wrong one", async function () {
      const out = join(dir, "env.json");
      const env = { DEVICETRUST_KEY_PASSWORD: "from-env" };
      const made = await keygen(
        { curve: "secp256k1", keystore: "file", out, scrypt: TEST_SCRYPT },
        env,
      );
      const store = await openKeyStore({ keystore: "file", path: out }, env);
      assert.equal(deviceIdOf(store.deviceKey), made.deviceId);
      await store.close();
      await assert.rejects(openKeyStore({ keystore: "file", path: out, password: "wrong" }, env), {
        code: "KEY_FILE",
      });
    });

    it("says how to supply a missing secret", function () {
      assert.throws(
        () =>
          secretFrom(undefined, "DEVICETRUST_KEY_PASSWORD", "key file password", "--password", {}),
        (err: unknown) => {
          assert.ok(err instanceof MissingSecretError);
          assert.match(
            err.message,
            /pass --password, set DEVICETRUST_KEY_PASSWORD, or store it with npx hardhat keystore set/,
          );
          return true;
        },
      );
      assert.equal(secretFrom("", "PIN", "pin", "--pin", { PIN: "9" }), "9");
      assert.equal(secretFrom("1", "PIN", "pin", "--pin", { PIN: "9" }), "1");
    });
  });

  describe("keygen (pkcs11) and openKeyStore", function () {
    let token: SoftHsmToken | undefined;
    before(async function (this: Context) {
      requireSoftHsm(this);
      token = await createSoftHsmToken({ label: "devicetrust-client" });
    });
    after(async function () {
      if (token !== undefined) await token.cleanup();
    });

    for (const curve of CURVES) {
      it(`generates a ${curve} key on the token and opens it by label with the PIN from the environment`, async function () {
        const t = token;
        assert.ok(t !== undefined);
        const label = `client-${curve}`;
        const made = await keygen(
          {
            curve,
            keystore: "pkcs11",
            module: t.modulePath,
            token: t.tokenLabel,
            pin: t.pin,
            label,
          },
          {},
        );
        assert.match(made.location, new RegExp(`token "${t.tokenLabel}" label "${label}"`));
        const store = await openKeyStore(
          { keystore: "pkcs11", module: t.modulePath, token: t.tokenLabel, label },
          { DEVICETRUST_PKCS11_PIN: t.pin },
        );
        try {
          assert.equal(store.kind, "pkcs11");
          assert.equal(deviceIdOf(store.deviceKey), made.deviceId);
          const d = digest(DOMAIN, "Register", {
            deviceId: made.deviceId,
            operator: DOMAIN.verifyingContract,
            nonce: 0n,
            deadline: 1n,
          });
          assert.equal(
            checkDeviceSignature(store.deviceKey, d, await store.signDigest(d)),
            "valid",
          );
        } finally {
          await store.close();
        }
      });
    }
  });
});
