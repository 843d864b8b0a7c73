import assert from "node:assert/strict";
import { join } from "node:path";
import hre from "hardhat";
import { startSoftwareTpm, type SoftwareTpm } from "../../src/device/swtpm.js";
import { Tpm, TpmKeyStore } from "../../src/device/tpm.js";
import {
  addMaker,
  makerEndorse,
  publishFirmware,
  registerDevice,
  registryAt,
} from "../../src/client/index.js";
import { deviceIdOf, type Hex } from "../../src/protocol/index.js";
import { releaseImages } from "../client/attestation-fixture.js";
import { tempDir } from "../client/fixture.js";
import { runTask } from "./run-task.js";

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
    const { ethers } = await hre.network.getOrCreate();
    const [governance, maker, operator] = await ethers.getSigners();
    if (governance === undefined || maker === undefined || operator === undefined)
      throw new Error("need 3 accounts");
    const deployed = await ethers.deployContract("DeviceRegistry", [governance.address]);
    registry = (await deployed.getAddress()).toLowerCase();
    const tpmAttestation = await ethers.deployContract("TpmAttestation", [registry]);
    appraiser = (await tpmAttestation.getAddress()).toLowerCase();
    await (
      await deployed.connect(governance).grantRole(await deployed.APPRAISER_ROLE(), appraiser)
    ).wait();
    ({ dir, cleanup } = await tempDir());
    await addMaker(registryAt(registry, governance), maker.address, "Acme TPM Gateways");
    const store = await TpmKeyStore.open(tpm);
    deviceId = deviceIdOf(store.deviceKey);
    const latest = await ethers.provider.getBlock("latest");
    await registerDevice({
      registry: registryAt(registry, operator),
      device: store,
      operator: operator.address,
      deadline: BigInt((latest?.timestamp ?? 0) + 600),
      model: 12,
      endorsement: await makerEndorse(registryAt(registry, maker), maker, deviceId, 12),
    });
    await store.close();
    const release = await releaseImages(dir, "4.2");
    images = release.join(",");
    await publishFirmware({
      registry: registryAt(registry, maker),
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
