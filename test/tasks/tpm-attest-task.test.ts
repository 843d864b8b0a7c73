import assert from "node:assert/strict";
import { join } from "node:path";
import { id } from "ethers";
import { startSoftwareTpm, type SoftwareTpm } from "../../src/device/swtpm.js";
import { Tpm, TpmKeyStore } from "../../src/device/tpm.js";
import { publishFirmware, registryAt } from "../../src/client/index.js";
import type { Hex } from "../../src/protocol/index.js";
import { releaseImages } from "../client/attestation-fixture.js";
import { tempDir } from "../client/fixture.js";
import { runTask } from "./run-task.js";
import { taskRegistry } from "./task-chain.js";

/** `device attest --tpm`: a software TPM's Attestation Key is the device's key; its quote is the evidence. */
describe("tasks: device attest --tpm", function () {
  this.timeout(120_000);
  let swtpm: SoftwareTpm;
  let registry: string;
  let appraiser: string;
  let dir: string;
  let cleanup: () => Promise<void>;
  let images: string;
  let deviceId: Hex;

  before(async function () {
    swtpm = await startSoftwareTpm();
    const tpm = new Tpm({ tcti: swtpm.tcti, workDir: join(swtpm.dir, "work") });
    await tpm.createAttestationKey();
    const chain = await taskRegistry("Acme TPM Gateways");
    registry = chain.registry;
    appraiser = await chain.deployWithRole("TpmAttestation", id("APPRAISER_ROLE"));
    ({ dir, cleanup } = await tempDir());
    const store = await TpmKeyStore.open(tpm);
    deviceId = await chain.registerEndorsed(store, 12);
    await store.close();
    const release = await releaseImages(dir, "4.2");
    images = release.join(",");
    await publishFirmware({
      registry: registryAt(registry, chain.maker),
      model: 12,
      version: "4.2",
      images: release,
    });
  });

  after(async function () {
    await swtpm.stop();
    await cleanup();
  });

  const attestArgs = (tpmAttestation: string, json: boolean) => ({
    registry,
    from: "2",
    json,
    keyFile: "",
    password: "",
    module: "",
    token: "",
    pin: "",
    label: "",
    deviceId: "",
    images,
    bootState: "",
    challenge: "block",
    tpm: swtpm.tcti,
    tpmAttestation,
  });

  it("quotes PCR 16 over a recent block hash and records the quote as the device's evidence", async function () {
    const attest = await runTask(["device", "attest"], attestArgs(appraiser, true));
    assert.equal(attest.result.success, true, attest.stderr);
    const out = JSON.parse(attest.stdout) as {
      deviceId: string;
      firmwareId: number;
      resetCount: number;
      quote: string;
      gasUsed: string;
    };
    assert.equal(out.deviceId, deviceId);
    assert.equal(out.firmwareId, 1);
    assert.match(out.quote, /^0xff544347/);
    assert.match(attest.stderr, /extending PCR 16 with 3 images on the TPM/);
    const trust = await runTask(["device", "trust"], {
      registry,
      from: "0",
      json: false,
      deviceId,
      maxAge: 3600,
    });
    assert.match(trust.stdout, /^verdict: +Trusted$/m);
  });

  it("says so when --tpm-attestation is not a TpmAttestation", async function () {
    const attest = await runTask(["device", "attest"], attestArgs(registry, false));
    assert.equal(attest.result.success, false);
    assert.match(attest.stderr, /is not a DeviceTrust TpmAttestation on chain 31337/);
  });
});
