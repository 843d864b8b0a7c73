import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Context } from "mocha";
import { createSoftHsmToken, type SoftHsmToken } from "../../src/device/softhsm-token.js";
import { KeyType, deviceIdOf, digest, type Curve } from "../../src/protocol/index.js";
import { checkDeviceSignature } from "../../src/verify/signature.js";
import { DeviceTrustError } from "../../src/protocol/index.js";
import {
  MissingSecretError,
  checkKeyFileDeviceId,
  keygen,
  openKeyStore,
  passwordsFromFile,
  secretFrom,
} from "../../src/client/index.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
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
          curve: string;
          deviceId: string;
          crypto: { kdfparams: { N: number } };
        };
        assert.equal(file.publicKey, made.publicKey);
        // The file says which device it signs for, and on which curve, without its password.
        assert.deepEqual([file.deviceId, file.curve], [made.deviceId, curve]);
        const info = await SoftwareKeyStore.info(out);
        assert.deepEqual([info.deviceId, info.curve], [made.deviceId, curve]);
        assert.equal(file.crypto.kdfparams.N, TEST_SCRYPT.N);

        const store = await openKeyStore({ keystore: "file", path: out, password: "pw" }, {});
        const d = digest(DOMAIN, "Endorse", { deviceId: made.deviceId, model: 1 });
        assert.equal(checkDeviceSignature(store.deviceKey, d, await store.signDigest(d)), "valid");
        assert.equal(deviceIdOf(store.deviceKey), made.deviceId);
        await store.close();
      });
    }

    it("opens a file written before the device id was recorded, and records one later", async function () {
      const out = join(dir, "old.json");
      const made = await keygen(
        { curve: "p256", keystore: "file", out, password: "pw", scrypt: TEST_SCRYPT },
        {},
      );
      const { deviceId: _, ...old } = JSON.parse(await readFile(out, "utf8")) as {
        deviceId: string;
      };
      await writeFile(out, JSON.stringify(old));
      assert.equal((await SoftwareKeyStore.info(out)).deviceId, null);
      assert.equal(await checkKeyFileDeviceId(out, made.deviceId), made.deviceId);
      const store = await openKeyStore({ keystore: "file", path: out, password: "pw" }, {});
      assert.equal(deviceIdOf(store.deviceKey), made.deviceId);
      await store.close();

      const other = `0x${"ab".repeat(32)}` as const;
      await SoftwareKeyStore.recordDeviceId(out, other);
      assert.equal((await SoftwareKeyStore.info(out)).deviceId, other);
      await assert.rejects(checkKeyFileDeviceId(out, made.deviceId), /records device 0xabab/);
      // Recording needs no password and leaves the encrypted key as it was.
      await (await openKeyStore({ keystore: "file", path: out, password: "pw" }, {})).close();
    });

    it("refuses to overwrite an existing file", async function () {
      const out = join(dir, "taken.json");
      await writeFile(out, "{}");
      await assert.rejects(
        keygen({ curve: "p256", keystore: "file", out, password: "pw", scrypt: TEST_SCRYPT }, {}),
        (err: unknown) => {
          assert.ok(err instanceof DeviceTrustError);
          assert.equal(err.code, "KEY_FILE_EXISTS");
          assert.match(err.message, /Choose another --out/);
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

  describe("passwordsFromFile", function () {
    const files = ["keys/a.json", "keys/b.json"];
    it("reads one line per key file, in order", function () {
      assert.deepEqual(passwordsFromFile("pa\npb\n", files, "F"), ["pa", "pb"]);
    });
    it("reads a JSON map by path or file name", function () {
      const text = JSON.stringify({ "keys/a.json": "pa", "b.json": "pb" });
      assert.deepEqual(passwordsFromFile(text, files, "F"), ["pa", "pb"]);
    });
    it("says which key file has no password", function () {
      assert.throws(() => passwordsFromFile("pa\n", files, "F"), /F has 1 lines for 2 key files/);
      assert.throws(
        () => passwordsFromFile('{"a.json": "pa"}', files, "F"),
        /F has no password for key file keys\/b\.json/,
      );
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
