import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeyFileError } from "../../src/device/key-file-crypto.js";
import { LmsKeyExhaustedError, LmsStateError } from "../../src/device/lms-signer-errors.js";
import { LmsStatefulSigner, type LmsSignerPaths } from "../../src/device/lms-signer.js";
import {
  lmotsByName,
  lmsByName,
  lmsVerify,
  parseLmsSignature,
  toHex,
  type LmotsParams,
  type LmsParams,
} from "../../src/protocol/index.js";

/** Cheap scrypt for tests (the default costs ~130 ms and 128 MiB per open). */
const SCRYPT = { N: 1 << 10, r: 8, p: 1 };
const PASSWORD = "correct horse";
const H5 = lmsByName("LMS_SHA256_M32_H5") as LmsParams;
const W2 = lmotsByName("LMOTS_SHA256_N32_W2") as LmotsParams;

/** The LmsStateError a promise rejects with, checked for its problem. */
async function stateError(
  promise: Promise<unknown>,
  problem: LmsStateError["problem"],
): Promise<LmsStateError> {
  try {
    await promise;
  } catch (err: unknown) {
    assert.ok(err instanceof LmsStateError, `not an LmsStateError: ${String(err)}`);
    assert.equal(err.code, "LMS_STATE");
    assert.equal(err.problem, problem, err.message);
    return err;
  }
  assert.fail(`expected an LmsStateError (${problem})`);
}

describe("LmsStatefulSigner", function () {
  this.timeout(60_000);
  let dir: string;
  let paths: LmsSignerPaths & { readonly state: string; readonly watermark: string };
  const message = new TextEncoder().encode("firmware manifest");

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), "devicetrust-lms-signer-"));
    paths = {
      key: join(dir, "maker.lms.json"),
      state: join(dir, "maker.lms.json.state"),
      watermark: join(dir, "second", "maker.lms.watermark"),
    };
  });
  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  function create(extra: { reserve?: number } = {}): Promise<LmsStatefulSigner> {
    return LmsStatefulSigner.create(paths, PASSWORD, {
      lms: H5,
      lmots: W2,
      scrypt: SCRYPT,
      ...extra,
    });
  }

  describe("create and open", function () {
    it("signs with leaves 0, 1, 2, …, and goes on after a reopen where it stopped", async function () {
      const signer = await create();
      const seen: number[] = [];
      for (let i = 0; i < 3; i++) {
        const { q, signature } = signer.sign(message);
        seen.push(q);
        assert.equal(parseLmsSignature(signature).q, q);
        assert.equal(lmsVerify(signer.publicKey, message, signature), true);
      }
      const publicKey = signer.publicKeyHex;
      signer.close();
      assert.throws(() => signer.sign(message), { code: "KEY_CLOSED" });
      const again = await LmsStatefulSigner.open(paths, PASSWORD);
      try {
        assert.equal(again.publicKeyHex, publicKey);
        assert.equal(again.next, 3);
        seen.push(again.sign(message).q);
        assert.deepEqual(seen, [0, 1, 2, 3]);
        assert.equal(again.remaining, 28);
      } finally {
        again.close();
      }
    });

    it("keeps the SEED encrypted: the key file holds no SEED in the clear, and a wrong password opens nothing", async function () {
      const seed = new Uint8Array(32).fill(0xab);
      const signer = await LmsStatefulSigner.create(paths, PASSWORD, {
        lms: H5,
        lmots: W2,
        seed,
        identifier: new Uint8Array(16).fill(1),
        scrypt: SCRYPT,
      });
      signer.close();
      const text = await readFile(paths.key, "utf8");
      assert.ok(!text.includes(toHex(seed).slice(2)));
      const file = JSON.parse(text) as Record<string, unknown>;
      assert.equal(file.kind, "devicetrust-lms-key");
      assert.equal(file.lms, "LMS_SHA256_M32_H5");
      assert.equal(file.lmots, "LMOTS_SHA256_N32_W2");
      await assert.rejects(LmsStatefulSigner.open(paths, "wrong"), KeyFileError);
      // A wrong password took no lock: the right one opens.
      (await LmsStatefulSigner.open(paths, PASSWORD)).close();
    });

    it("refuses to create over an existing key, state or watermark", async function () {
      (await create()).close();
      await stateError(create(), "exists");
      await rm(paths.key);
      await stateError(create(), "exists");
    });

    it("refuses a second signer on one state while the first is open, and takes over a dead process's lock", async function () {
      const first = await create();
      await stateError(LmsStatefulSigner.open(paths, PASSWORD), "locked");
      first.close();
      // A lock left by a process that no longer runs (SIGKILLed): taken over.
      const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
      await writeFile(`${paths.state}.lock`, `${dead.stdout.toString()}\n`);
      const second = await LmsStatefulSigner.open(paths, PASSWORD);
      assert.equal(second.sign(message).q, 0);
      second.close();
    });
  });

  describe("sign", function () {
    it("refuses once every leaf has signed, with a typed error that says so, after a reopen too", async function () {
      const signer = await create();
      for (let q = 0; q < 32; q++) assert.equal(signer.sign(message).q, q);
      assert.equal(signer.remaining, 0);
      assert.throws(
        () => signer.sign(message),
        (err: unknown) => {
          assert.ok(err instanceof LmsKeyExhaustedError);
          assert.equal(err.code, "LMS_KEY_EXHAUSTED");
          assert.equal(err.leaves, 32);
          assert.match(err.message, /exhausted: all 32 of its one-time keys/);
          return true;
        },
      );
      signer.close();
      const again = await LmsStatefulSigner.open(paths, PASSWORD);
      assert.throws(() => again.sign(message), LmsKeyExhaustedError);
      again.close();
    });

    it("writes the state before the signature is released: the file on disk is past every leaf returned", async function () {
      const signer = await create();
      for (let i = 0; i < 5; i++) {
        const { q } = signer.sign(message);
        const state = JSON.parse(await readFile(paths.state, "utf8")) as { next: number };
        const watermark = JSON.parse(await readFile(paths.watermark, "utf8")) as { next: number };
        assert.equal(state.next, q + 1);
        assert.equal(watermark.next, q + 1);
      }
      signer.close();
      // No temporary file is left beside them.
      assert.deepEqual((await readdir(dir)).sort(), [
        "maker.lms.json",
        "maker.lms.json.state",
        "second",
      ]);
    });

    it("with reserve, writes the state once per reserve signatures and skips the rest of a reservation at a reopen", async function () {
      const signer = await create({ reserve: 4 });
      assert.equal(signer.sign(message).q, 0);
      const state = JSON.parse(await readFile(paths.state, "utf8")) as { next: number };
      assert.equal(state.next, 4);
      assert.equal(signer.sign(message).q, 1);
      signer.close();
      const again = await LmsStatefulSigner.open(paths, PASSWORD);
      assert.equal(again.sign(message).q, 4);
      again.close();
    });

    it("refuses to go on when the state file is replaced under it (a backup restored while it runs)", async function () {
      const signer = await create();
      signer.sign(message);
      await copyFile(paths.state, join(dir, "backup"));
      signer.sign(message);
      await copyFile(join(dir, "backup"), paths.state);
      assert.throws(() => signer.sign(message), /replaced while the signer held it/);
      signer.close();
    });
  });

  describe("info and attempts", function () {
    it("reads a key file's parameter sets and public key without its password", async function () {
      const signer = await create();
      const publicKey = signer.publicKeyHex;
      signer.close();
      assert.deepEqual(await LmsStatefulSigner.info(paths.key), {
        lms: "LMS_SHA256_M32_H5",
        lmots: "LMOTS_SHA256_N32_W2",
        publicKey,
      });
      await assert.rejects(LmsStatefulSigner.info(paths.state), KeyFileError);
    });

    it("signs with the cheapest of several randomizers, and spends no leaf on attempts it refuses", async function () {
      const signer = await create();
      assert.throws(() => signer.sign(message, { attempts: 0 }), /attempts/);
      assert.equal(signer.next, 0);
      const { q, signature } = signer.sign(message, { attempts: 64 });
      assert.equal(q, 0);
      assert.equal(lmsVerify(signer.publicKey, message, signature), true);
      signer.close();
    });
  });

  describe("open refuses a state it cannot trust", function () {
    it("missing: a state file that does not exist (never a fresh start)", async function () {
      (await create()).close();
      await rm(paths.state);
      const err = await stateError(LmsStatefulSigner.open(paths, PASSWORD), "missing");
      assert.equal(err.path, paths.state);
      assert.equal(existsSync(`${paths.state}.lock`), false, "a refused open leaves no lock");
    });

    it("corrupt: not JSON, another format, a next leaf out of range, or edited without its checksum", async function () {
      const signer = await create();
      signer.sign(message);
      signer.close();
      const good = await readFile(paths.state, "utf8");
      const record = JSON.parse(good) as Record<string, unknown>;
      const variants = [
        good.slice(0, good.length / 2),
        "",
        JSON.stringify({ ...record, kind: "devicetrust-lms-watermark" }),
        JSON.stringify({ ...record, version: 2 }),
        JSON.stringify({ ...record, next: 0 }),
        JSON.stringify({ ...record, next: 33 }),
        JSON.stringify({ ...record, next: "1" }),
      ];
      for (const text of variants) {
        await writeFile(paths.state, text);
        const err = await stateError(LmsStatefulSigner.open(paths, PASSWORD), "corrupt");
        assert.match(err.message, /is corrupt/);
      }
    });

    it("wrong-key: another key's state", async function () {
      (await create()).close();
      const other = { key: join(dir, "other.json"), state: join(dir, "other.state") };
      (
        await LmsStatefulSigner.create(other, PASSWORD, { lms: H5, lmots: W2, scrypt: SCRYPT })
      ).close();
      await copyFile(other.state, paths.state);
      await stateError(LmsStatefulSigner.open(paths, PASSWORD), "wrong-key");
    });

    it("rolled-back: a state file behind its watermark (restored from a backup); skipTo resumes past it", async function () {
      const signer = await create();
      signer.sign(message);
      signer.sign(message);
      signer.close();
      await copyFile(paths.state, join(dir, "backup"));
      const again = await LmsStatefulSigner.open(paths, PASSWORD);
      const used = [again.sign(message).q, again.sign(message).q, again.sign(message).q];
      again.close();
      await copyFile(join(dir, "backup"), paths.state);
      const err = await stateError(LmsStatefulSigner.open(paths, PASSWORD), "rolled-back");
      assert.match(err.message, /at leaf 2, behind its watermark .* at leaf 5.*skipTo: 5/);
      await stateError(LmsStatefulSigner.open(paths, PASSWORD, { skipTo: 4 }), "rolled-back");
      const resumed = await LmsStatefulSigner.open(paths, PASSWORD, { skipTo: 5 });
      const q = resumed.sign(message).q;
      resumed.close();
      assert.equal(q, 5);
      assert.ok(!used.includes(q));
    });

    it("missing watermark: refused unless createWatermark says this is its first use", async function () {
      (await create()).close();
      await rm(paths.watermark);
      await stateError(LmsStatefulSigner.open(paths, PASSWORD), "missing");
      const signer = await LmsStatefulSigner.open(paths, PASSWORD, { createWatermark: true });
      signer.close();
      assert.equal(existsSync(paths.watermark), true);
    });

    it("a watermark behind the state (a crash between the two writes) catches up", async function () {
      const signer = await create();
      signer.sign(message);
      await copyFile(paths.watermark, join(dir, "watermark-before"));
      signer.sign(message);
      signer.close();
      await copyFile(join(dir, "watermark-before"), paths.watermark);
      const again = await LmsStatefulSigner.open(paths, PASSWORD);
      assert.equal(again.sign(message).q, 2);
      again.close();
    });
  });
});
