import assert from "node:assert/strict";
import { join } from "node:path";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import type { Hex } from "../../src/protocol/index.js";
import { releaseImages } from "../client/attestation-fixture.js";
import { TEST_SCRYPT, tempDir } from "../client/fixture.js";
import { runTask } from "./run-task.js";
import { taskRegistry } from "./task-chain.js";

describe("tasks: firmware and attestation", function () {
  let registry: string;
  let dir: string;
  let cleanup: () => Promise<void>;
  let keyFile: string;
  let deviceId: Hex;

  before(async function () {
    // The tasks connect with network.getOrCreate(): this is the same in-process chain.
    const chain = await taskRegistry("Acme Meters");
    registry = chain.registry;
    ({ dir, cleanup } = await tempDir());
    const store = SoftwareKeyStore.generate("p256");
    keyFile = join(dir, "device.json");
    await store.save(keyFile, "pw", TEST_SCRYPT);
    deviceId = await chain.registerEndorsed(store, 11);
    await store.close();
  });
  after(async function () {
    await cleanup();
  });

  const chain = (from: number, json = false) => ({ registry, from: String(from), json });
  const keyArgs = () => ({ keyFile, password: "pw", module: "", token: "", pin: "", label: "" });
  const ref = { id: 0, maker: 0, model: -1, firmwareVersion: "" };

  it("publish, attest, trust, revoke, list: the maker's and the operator's story", async function () {
    const images = (await releaseImages(dir, "1.0")).join(",");
    const publish = await runTask(["firmware", "publish"], {
      ...chain(1, true),
      model: 11,
      firmwareVersion: "1.0",
      images,
      uri: "https://acme.example/fw/1.0",
    });
    assert.equal(publish.result.success, true, publish.stderr);
    const fw = JSON.parse(publish.stdout) as { firmwareId: number; measurement: string };
    assert.equal(fw.firmwareId, 1);

    const attest = await runTask(["device", "attest"], {
      ...chain(2),
      ...keyArgs(),
      deviceId: "",
      images,
      bootState: join(dir, "boot.json"),
      challenge: "nonce",
    });
    assert.equal(attest.result.success, true, attest.stderr);
    assert.match(attest.stdout, new RegExp(`^measurement: +${fw.measurement}$`, "m"));
    assert.match(attest.stdout, /^bootCount: +1$/m);
    assert.match(attest.stdout, /^gasUsed: +\d+$/m);
    assert.match(attest.stderr, /challenge from an issued nonce/);

    const trust = await runTask(["device", "trust"], { ...chain(0), deviceId, maxAge: 3600 });
    assert.equal(trust.result.success, true, trust.stderr);
    assert.match(trust.stdout, /^verdict: +Trusted$/m);
    assert.match(trust.stdout, /^firmwareVersion: +1\.0$/m);
    assert.match(trust.stdout, /^reason: +device 0x[0-9a-f]{64} is trusted/m);

    const revoke = await runTask(["firmware", "revoke"], {
      ...chain(1),
      ...ref,
      model: 11,
      firmwareVersion: "1.0",
    });
    assert.equal(revoke.result.success, true, revoke.stderr);
    assert.match(revoke.stdout, /^status: +Revoked$/m);
    const after = await runTask(["device", "trust"], {
      ...chain(0, true),
      deviceId,
      maxAge: 3600,
    });
    const report = JSON.parse(after.stdout) as { trusted: boolean; verdict: string };
    assert.deepEqual([report.trusted, report.verdict], [false, "FirmwareRevoked"]);

    const v2 = await runTask(["firmware", "publish"], {
      ...chain(1),
      model: 11,
      firmwareVersion: "2.0",
      images: (await releaseImages(dir, "2.0")).join(","),
      uri: "",
    });
    assert.equal(v2.result.success, true, v2.stderr);
    const deprecate = await runTask(["firmware", "deprecate"], {
      ...chain(1),
      ...ref,
      id: 2,
      sunset: "2999-01-01T00:00:00Z",
    });
    assert.equal(deprecate.result.success, true, deprecate.stderr);
    assert.match(deprecate.stdout, /^sunset: +32472144000$/m);

    const list = await runTask(["firmware", "list"], {
      ...chain(0),
      maker: 0,
      model: 11,
      fromBlock: 0,
    });
    assert.equal(list.result.success, true, list.stderr);
    assert.match(list.stdout, /^firmwareId +maker +model +version +status/m);
    assert.match(list.stdout, /^1 +1 +11 +1\.0 +Revoked/m);
    assert.match(list.stdout, /^2 +1 +11 +2\.0 +Deprecated +32472144000/m);
  });

  it("fail with decoded sentences: a stale image set, a missing option, a non-maker", async function () {
    const attest = await runTask(["device", "attest"], {
      ...chain(3),
      ...keyArgs(),
      deviceId: "",
      images: (await releaseImages(dir, "0.1-rc")).join(","),
      bootState: join(dir, "boot.json"),
      challenge: "block",
    });
    assert.equal(attest.result.success, false);
    assert.equal(attest.result.error?.code, "AttestationUnknownMeasurement");
    assert.match(attest.stderr, /which no maker published/);

    const noImages = await runTask(["firmware", "publish"], {
      ...chain(1),
      model: 11,
      firmwareVersion: "3.0",
      images: "",
      uri: "",
    });
    assert.equal(noImages.result.error?.code, "INVALID_INPUT");
    assert.match(noImages.stderr, /--images is required/);

    const both = await runTask(["firmware", "revoke"], { ...chain(1), ...ref, id: 1, model: 11 });
    assert.match(both.stderr, /name the firmware by --id <id>, or by --model/);

    const notMaker = await runTask(["firmware", "deprecate"], {
      ...chain(4),
      ...ref,
      id: 2,
      sunset: "60",
    });
    assert.equal(notMaker.result.error?.code, "AttestationNotMaker");
    const badChallenge = await runTask(["device", "attest"], {
      ...chain(3),
      ...keyArgs(),
      deviceId: "",
      images: "a.bin",
      bootState: "",
      challenge: "tpm",
    });
    assert.match(badChallenge.stderr, /--challenge must be "block"/);
  });
});
