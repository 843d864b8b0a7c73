import assert from "node:assert/strict";
import { network } from "hardhat";
import { getBytes, type Provider } from "ethers";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { buildPsaToken } from "../../src/device/psa-token.js";
import {
  deviceIdOf,
  psaInstanceId,
  sha256Hex,
  type Hex,
  type PsaClaims,
} from "../../src/protocol/index.js";
import {
  addMaker,
  attestWithPsaToken,
  makerEndorse,
  psaAttestationAt,
  publishFirmware,
  registerDevice,
  registryAt,
  requireDeviceTrustContract,
  type DeviceRegistry,
  type PsaAttestation,
  type PsaTokenClaims,
} from "../../src/client/index.js";

const MODEL = 7;
const DAY = 86_400n;
const IMAGES = [
  Buffer.from("bootloader 3.1.0"),
  Buffer.from("tf-m 2.1.0"),
  Buffer.from("app 1.4.2"),
];
const bytes32 = (byte: string): Hex => `0x${byte.repeat(32)}`;

/** A TF-M device's claims, as src/device/psa-token.ts's tests give them: typical layout (525 bytes). */
const CLAIMS: PsaTokenClaims = {
  clientId: -1,
  securityLifecycle: 0x3000,
  implementationId: bytes32("07"),
  bootSeed: bytes32("5e"),
  softwareComponents: [
    { measurementType: "BL", version: "3.1.0", signerId: bytes32("51") },
    { measurementType: "PRoT", version: "2.1.0", signerId: bytes32("51") },
    { measurementType: "App", version: "1.4.2", signerId: bytes32("52") },
  ],
};

/** Intrinsic calldata gas (EIP-2028): 16 a non-zero byte, 4 a zero byte. */
function calldataGas(data: string): bigint {
  let gas = 0n;
  for (const b of getBytes(data)) gas += b === 0 ? 4n : 16n;
  return gas;
}

/**
 * Arm PSA attestation tokens built in TypeScript (src/device/psa-token.ts through a SoftwareKeyStore P-256
 * device) and recorded on chain through PsaAttestation, on a chain with the P-256 precompile (osaka) and one
 * without (prague, where OpenZeppelin's Solidity verifier checks the ES256 signature): the registry issues the
 * nonce, the device signs the token over it, the token becomes the device's evidence.
 */
for (const hardfork of ["osaka", "prague"] as const) {
  describe(`PsaAttestation with a software P-256 device (${hardfork})`, function () {
    this.timeout(120_000);
    let registry: DeviceRegistry;
    let appraiser: PsaAttestation;
    let device: SoftwareKeyStore;
    let deviceId: Hex;
    let provider: Provider;

    before(async function () {
      const { ethers } = await network.create(hardfork);
      provider = ethers.provider;
      const [governance, makerAccount, operator] = await ethers.getSigners();
      if (governance === undefined || makerAccount === undefined || operator === undefined) {
        throw new Error("the in-process network must have at least 3 accounts");
      }
      const deployed = await ethers.deployContract("DeviceRegistry", [governance.address]);
      const address = await deployed.getAddress();
      const psaDeployed = await ethers.deployContract("PsaAttestation", [address]);
      await (
        await deployed
          .connect(governance)
          .grantRole(await deployed.APPRAISER_ROLE(), await psaDeployed.getAddress())
      ).wait();
      const added = await addMaker(registryAt(address, governance), makerAccount.address, "Acme");
      const asMaker = registryAt(address, makerAccount);
      registry = registryAt(address, operator);
      appraiser = psaAttestationAt(await psaDeployed.getAddress(), registry);

      device = SoftwareKeyStore.generate("p256");
      const endorsement = await makerEndorse(
        asMaker,
        makerAccount,
        deviceIdOf(device.deviceKey),
        MODEL,
      );
      const latest = await ethers.provider.getBlock("latest");
      const registered = await registerDevice({
        registry,
        device,
        operator: operator.address,
        deadline: BigInt(latest?.timestamp ?? 0) + 3600n,
        model: MODEL,
        endorsement: { maker: added.maker, signature: endorsement.signature },
      });
      deviceId = registered.deviceId;
      await publishFirmware({ registry: asMaker, model: MODEL, version: "1.0.0", images: IMAGES });
    });

    /** Gas of a whole attestation transaction, and its execution (without 21,000 and calldata). */
    async function gasOf(txHash: Hex): Promise<{ whole: bigint; execution: bigint }> {
      const tx = await provider.getTransaction(txHash);
      const receipt = await provider.getTransactionReceipt(txHash);
      assert.ok(tx !== null && receipt !== null);
      return {
        whole: receipt.gasUsed,
        execution: receipt.gasUsed - 21_000n - calldataGas(tx.data),
      };
    }

    it("records a TypeScript-built token as the device's evidence: the device becomes trusted", async function () {
      assert.equal(await registry.isTrusted(deviceId, DAY), false);
      const first = await attestWithPsaToken({
        registry,
        appraiser,
        device,
        images: IMAGES,
        claims: CLAIMS,
      });
      assert.equal(first.deviceId, deviceId);
      assert.equal(first.firmwareId, 1);
      assert.equal(getBytes(first.token).length, 525, "the typical layout");
      assert.equal(await registry.isTrusted(deviceId, DAY), true);
      const evidence = await registry.evidenceOf(deviceId);
      assert.equal(evidence.bootCount, first.bootCount, "the counter is the nonce's issue time");
      assert.equal(evidence.timestamp, first.bootCount, "dated by the nonce");
      assert.equal(await registry.challengeOf(deviceId), `0x${"0".repeat(64)}`, "consumed");

      const again = await attestWithPsaToken({
        registry,
        appraiser,
        device,
        images: IMAGES,
        claims: CLAIMS,
      });
      assert.ok(again.bootCount > first.bootCount);
      const gas = { first: await gasOf(first.txHash), repeat: await gasOf(again.txHash) };
      process.stderr.write(
        `      ${hardfork}: attestPsaToken whole transaction ${gas.first.whole.toString()} (first), ${gas.repeat.whole.toString()} (repeat); execution ${gas.first.execution.toString()} / ${gas.repeat.execution.toString()}\n`,
      );
      if (hardfork === "osaka") {
        // Whole transactions: 21,000 + calldata + execution. Target: attestation.attest.psaToken.
        assert.ok(
          gas.repeat.whole <= 120_000n,
          `attestPsaToken: ${gas.repeat.whole.toString()} gas`,
        );
      }
    });

    it("records a token built with buildPsaToken and submitted with attestPsaToken", async function () {
      const tx = await registry.issueChallenge(deviceId);
      await tx.wait();
      const nonce = (await registry.challengeOf(deviceId)) as Hex;
      const claims: PsaClaims = {
        ...CLAIMS,
        nonce,
        instanceId: psaInstanceId(device.publicKey),
        bootSeed: undefined,
        softwareComponents: CLAIMS.softwareComponents.map((c, i) => ({
          ...c,
          measurementValue: sha256Hex(IMAGES[i] ?? Buffer.alloc(0)),
        })),
      };
      const token = await buildPsaToken(claims, device);
      await (await appraiser.attestPsaToken(deviceId, token, device.deviceKey.key)).wait();
      const evidence = await registry.evidenceOf(deviceId);
      assert.equal(evidence.bootCount, BigInt(nonce) & 0xffffffffffffffffn);
      assert.equal(await registry.isTrusted(deviceId, DAY), true);
    });

    it("refuses a replayed token: its nonce is spent", async function () {
      const done = await attestWithPsaToken({
        registry,
        appraiser,
        device,
        images: IMAGES,
        claims: CLAIMS,
      });
      await assert.rejects(
        appraiser.attestPsaToken(deviceId, done.token, device.deviceKey.key),
        /AttestationStaleChallenge/,
      );
    });

    it("refuses a token over a block hash: PSA evidence takes issued nonces only", async function () {
      const block = await provider.getBlock("latest");
      const nonce = (block?.hash ?? bytes32("00")) as Hex;
      const token = await buildPsaToken(
        {
          ...CLAIMS,
          nonce,
          instanceId: psaInstanceId(device.publicKey),
          softwareComponents: CLAIMS.softwareComponents.map((c, i) => ({
            ...c,
            measurementValue: sha256Hex(IMAGES[i] ?? Buffer.alloc(0)),
          })),
        },
        device,
      );
      await assert.rejects(
        appraiser.attestPsaToken(deviceId, token, device.deviceKey.key),
        /AttestationStaleChallenge/,
      );
    });

    it("answers as a DeviceTrust PsaAttestation (contract check); the registry does not", async function () {
      const address = (await appraiser.getAddress()) as Hex;
      await requireDeviceTrustContract(provider, address, "PsaAttestation", "--psa-attestation");
      await assert.rejects(
        requireDeviceTrustContract(
          provider,
          (await registry.getAddress()) as Hex,
          "PsaAttestation",
          "--psa-attestation",
        ),
        /is not a DeviceTrust PsaAttestation on chain 31337 \(does not answer psaProfile\(\)\)/,
      );
    });

    it("refuses a firmware the maker never published", async function () {
      await assert.rejects(
        attestWithPsaToken({
          registry,
          appraiser,
          device,
          images: [...IMAGES.slice(0, 2), Buffer.from("a patched app")],
          claims: CLAIMS,
        }),
        /AttestationUnknownMeasurement/,
      );
    });
  });
}
