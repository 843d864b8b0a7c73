import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import { startSoftwareTpm, type SoftwareTpm } from "../../src/device/swtpm.js";
import { Tpm, TpmKeyStore } from "../../src/device/tpm.js";
import { deviceIdOf, type Hex } from "../../src/protocol/index.js";
import {
  addMaker,
  attestWithTpm,
  makerEndorse,
  publishFirmware,
  registerDevice,
  registryAt,
  tpmAttestationAt,
  type DeviceRegistry,
  type TpmAttestation,
} from "../../src/client/index.js";

const MODEL = 7;
const DAY = 86_400n;

/**
 * A TPM device end to end, on a chain with the P-256 precompile (osaka) and one without (prague, where
 * OpenZeppelin's Solidity verifier checks the AK's signature): swtpm's Attestation Key registers as the
 * device's key (the registration signed inside the TPM), the maker publishes the firmware, and real quotes
 * over a block hash and over an issued nonce become the device's evidence through TpmAttestation.
 */
for (const hardfork of ["osaka", "prague"] as const) {
  describe(`TpmAttestation with a software TPM (${hardfork})`, function () {
    this.timeout(180_000);
    let swtpm: SoftwareTpm;
    let tpm: Tpm;
    let dir: string;
    let images: string[];
    let registry: DeviceRegistry;
    let appraiser: TpmAttestation;
    let deviceId: Hex;

    before(async function () {
      swtpm = await startSoftwareTpm();
      tpm = new Tpm({ tcti: swtpm.tcti, workDir: join(swtpm.dir, "work") });
      await tpm.createAttestationKey();
      dir = await mkdtemp(join(tmpdir(), "devicetrust-tpm-chain-"));
      images = ["bootloader", "kernel", "app"].map((name) => join(dir, name));
      for (const [i, image] of images.entries()) await writeFile(image, `${String(i)} ${image}`);

      const { ethers } = await network.create(hardfork);
      const [governance, makerAccount, operator] = await ethers.getSigners();
      if (governance === undefined || makerAccount === undefined || operator === undefined) {
        throw new Error("the in-process network must have at least 3 accounts");
      }
      const deployed = await ethers.deployContract("DeviceRegistry", [governance.address]);
      const address = await deployed.getAddress();
      const tpmDeployed = await ethers.deployContract("TpmAttestation", [address]);
      await (
        await deployed
          .connect(governance)
          .grantRole(await deployed.APPRAISER_ROLE(), await tpmDeployed.getAddress())
      ).wait();
      const added = await addMaker(registryAt(address, governance), makerAccount.address, "Acme");
      const asMaker = registryAt(address, makerAccount);
      registry = registryAt(address, operator);
      appraiser = tpmAttestationAt(await tpmDeployed.getAddress(), registry);

      const store = await TpmKeyStore.open(tpm);
      const endorsement = await makerEndorse(
        asMaker,
        makerAccount,
        deviceIdOf(store.deviceKey),
        MODEL,
      );
      const latest = await ethers.provider.getBlock("latest");
      const registered = await registerDevice({
        registry,
        device: store,
        operator: operator.address,
        deadline: BigInt(latest?.timestamp ?? 0) + 3600n,
        model: MODEL,
        endorsement: { maker: added.maker, signature: endorsement.signature },
      });
      await store.close();
      deviceId = registered.deviceId;
      await publishFirmware({ registry: asMaker, model: MODEL, version: "1.0.0", images });
    });

    after(async function () {
      await swtpm.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it("records a real quote over a block hash as the device's evidence", async function () {
      assert.equal(await registry.isTrusted(deviceId, DAY), false);
      const result = await attestWithTpm({ registry, appraiser, tpm, images, challenge: "block" });
      assert.equal(result.deviceId, deviceId);
      assert.equal(result.firmwareId, 1);
      assert.equal(await registry.isTrusted(deviceId, DAY), true);
      const evidence = await registry.evidenceOf(deviceId);
      assert.equal(evidence.bootCount, await appraiser.tpmCounter(result.resetCount, result.clock));
      const again = await attestWithTpm({ registry, appraiser, tpm, images, challenge: "block" });
      assert.ok(again.clock > result.clock);
      if (hardfork === "osaka") {
        // Whole transactions; bench/results.json keeps them as attestation.attest.tpmQuote(.first).
        assert.ok(
          result.gasUsed < 115_000n,
          `first attestTpmQuote: ${result.gasUsed.toString()} gas`,
        );
        assert.ok(again.gasUsed <= 60_000n, `attestTpmQuote: ${again.gasUsed.toString()} gas`);
      }
    });

    it("records a real quote over an issued nonce, dated by the nonce", async function () {
      const result = await attestWithTpm({ registry, appraiser, tpm, images, challenge: "nonce" });
      assert.equal(result.challengeBlock, 0);
      const evidence = await registry.evidenceOf(deviceId);
      assert.equal(evidence.timestamp, BigInt(result.challenge) & 0xffffffffffffffffn);
      assert.equal(await registry.challengeOf(deviceId), `0x${"0".repeat(64)}`);
    });

    it("refuses a replayed real quote: the challenge is spent and the clock has moved on", async function () {
      const first = await attestWithTpm({ registry, appraiser, tpm, images, challenge: "block" });
      await assert.rejects(
        appraiser.attestTpmQuote(
          deviceId,
          first.quote,
          first.signature,
          await akOf(tpm),
          [first.measurement],
          first.challengeBlock,
        ),
        /TpmAttestationClockWentBack|AttestationNotNewer/,
      );
    });

    it("refuses a firmware the maker never published: PCR 16 is not a reference value", async function () {
      const tampered = [...images.slice(0, 2), join(dir, "patched-app")];
      await writeFile(tampered[2] ?? "", "a patched application");
      await assert.rejects(
        attestWithTpm({ registry, appraiser, tpm, images: tampered, challenge: "block" }),
        /AttestationUnknownMeasurement/,
      );
    });
  });
}

async function akOf(tpm: Tpm): Promise<Hex> {
  const store = await TpmKeyStore.open(tpm);
  await store.close();
  return store.deviceKey.key;
}
