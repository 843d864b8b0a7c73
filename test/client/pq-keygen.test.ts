import assert from "node:assert/strict";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  KeyFileExistsError,
  pqKeygen,
  readMlDsa44PrivateKey,
  readPqPublicKey,
} from "../../src/client/index.js";
import { LmsStatefulSigner } from "../../src/device/lms-signer.js";
import {
  InvalidInputError,
  ML_DSA_44_PUBLIC_KEY_BYTES,
  mlDsa44Sign,
  mlDsa44Verify,
  pqKeyCommitment,
} from "../../src/protocol/index.js";
import { TEST_SCRYPT, tempDir } from "./fixture.js";

/** A device's post-quantum key files: ML-DSA-44 PKCS#8 PEM (encrypted or not) and LMS key files. */
describe("pqKeygen", function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => Promise<void>;

  before(async function () {
    ({ dir, cleanup } = await tempDir());
  });
  after(async function () {
    await cleanup();
  });

  it("writes an encrypted ML-DSA-44 PKCS#8 PEM that readMlDsa44PrivateKey reads back with its password", async function () {
    const out = join(dir, "device.ml-dsa.pem");
    const made = await pqKeygen({ scheme: "ml-dsa-44", out, password: "pq-pw" });
    assert.ok(made.scheme === "ml-dsa-44");
    assert.deepEqual([made.keyFile, made.encrypted], [out, true]);
    assert.equal((made.publicKey.length - 2) / 2, ML_DSA_44_PUBLIC_KEY_BYTES);
    assert.equal(made.commitment, pqKeyCommitment("ml-dsa-44", made.publicKey));
    const text = await readFile(out, "utf8");
    assert.match(text, /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    assert.equal((await stat(out)).mode & 0o777, 0o600);
    const key = await readMlDsa44PrivateKey(out, "pq-pw");
    assert.equal(key.publicKey, made.publicKey);
    assert.equal(await readPqPublicKey("ml-dsa-44", out, "pq-pw"), made.publicKey);
    const message = new Uint8Array(32).fill(7);
    assert.equal(
      mlDsa44Verify(made.publicKey, message, mlDsa44Sign(key.privateKey, message)),
      true,
    );
    await assert.rejects(
      readMlDsa44PrivateKey(out, "wrong"),
      /cannot decrypt the ML-DSA-44 private key: wrong password/,
    );
  });

  it("writes the PEM in the clear without a password", async function () {
    const out = join(dir, "clear.ml-dsa.pem");
    const made = await pqKeygen({ scheme: "ml-dsa-44", out });
    assert.ok(made.scheme === "ml-dsa-44");
    assert.equal(made.encrypted, false);
    assert.match(await readFile(out, "utf8"), /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal((await readMlDsa44PrivateKey(out)).publicKey, made.publicKey);
  });

  it("makes an LMS key file and its state as lmsKeygen does", async function () {
    const out = join(dir, "device.lms.json");
    const made = await pqKeygen({
      scheme: "lms",
      out,
      password: "pq-pw",
      lms: "LMS_SHA256_M24_H5",
      scrypt: TEST_SCRYPT,
    });
    assert.ok(made.scheme === "lms");
    assert.deepEqual(
      [made.keyFile, made.stateFile, made.lms, made.lmots, made.leaves],
      [out, `${out}.state`, "LMS_SHA256_M24_H5", "LMOTS_SHA256_N24_W4", 32],
    );
    assert.equal(made.commitment, pqKeyCommitment("lms", made.publicKey));
    const signer = await LmsStatefulSigner.open({ key: out }, "pq-pw");
    try {
      assert.deepEqual([signer.publicKeyHex, signer.next], [made.publicKey, 0]);
    } finally {
      signer.close();
    }
  });

  it("refuses to overwrite a file, an LMS key without a password, and LMS options for ML-DSA-44", async function () {
    const existing = join(dir, "keep-me.pem");
    await writeFile(existing, "keep me");
    await assert.rejects(
      pqKeygen({ scheme: "ml-dsa-44", out: existing, password: "pw" }),
      (err: unknown) =>
        err instanceof KeyFileExistsError &&
        err.code === "KEY_FILE_EXISTS" &&
        err.path === existing &&
        /already exists: a key file is never overwritten.*Choose another --out/.test(err.message),
    );
    assert.equal(await readFile(existing, "utf8"), "keep me");
    await assert.rejects(
      pqKeygen({ scheme: "lms", out: existing, password: "pw", scrypt: TEST_SCRYPT }),
      (err: unknown) => err instanceof KeyFileExistsError && err.path === existing,
    );
    // A state file left without its key (a key moved away): the new key would inherit its leaves.
    const orphan = join(dir, "orphan.json");
    await writeFile(`${orphan}.state`, "{}");
    await assert.rejects(
      pqKeygen({ scheme: "lms", out: orphan, password: "pw", scrypt: TEST_SCRYPT }),
      (err: unknown) => err instanceof KeyFileExistsError && err.path === `${orphan}.state`,
    );
    assert.equal(await readFile(existing, "utf8"), "keep me");
    await assert.rejects(
      pqKeygen({ scheme: "lms", out: join(dir, "no-password.lms.json") }),
      (err: unknown) =>
        err instanceof InvalidInputError &&
        err.message.includes("always encrypted: give its password"),
    );
    await assert.rejects(
      pqKeygen({ scheme: "ml-dsa-44", out: join(dir, "lms-option.pem"), lms: "LMS_SHA256_M24_H5" }),
      (err: unknown) =>
        err instanceof InvalidInputError &&
        err.message.includes("drop them for --scheme ml-dsa-44"),
    );
  });
});
