import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wallet } from "ethers";
import { network } from "hardhat";
import type { DeviceRegistry } from "../../types/ethers-contracts/index.js";
import { DeviceSigner, signEndorsement, type MakerSigner } from "../../src/device/device-signer.js";
import type { KeyStore } from "../../src/device/key-store.js";
import { Pkcs11KeyStore } from "../../src/device/pkcs11-key-store.js";
import { ReadingConflictError } from "../../src/device/signing-record-errors.js";
import { SigningRecord } from "../../src/device/signing-record.js";
import { createSoftHsmToken, type SoftHsmToken } from "../../src/device/softhsm-token.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import {
  deviceIdOf,
  domainSeparator,
  toHex,
  type Curve,
  type Domain,
  type Hex,
} from "../../src/protocol/index.js";
import { requireSoftHsm } from "./helpers/softhsm.js";

const CURVES: readonly Curve[] = ["p256", "secp256k1"];
const MODEL = 4242;
const ACTIVE = 1n;

/**
 * The device SDK against the contract, for both key stores and both curves: a signature made by a key
 * store registers a device and verifies on chain. Osaka has the P-256 precompile; Prague exercises
 * OpenZeppelin's Solidity fallback.
 */
for (const networkName of ["osaka", "prague"] as const) {
  describe(`DeviceRegistry with the device SDK (${networkName})`, function () {
    let registry: DeviceRegistry;
    let domain: Domain;
    let operator: Hex;
    let maker: MakerSigner;
    let makerId: number;
    let deadline: bigint;
    let counter = 0;

    before(async function () {
      const { ethers } = await network.create(networkName);
      const [deployer, governance, operatorAccount] = await ethers.getSigners();
      if (deployer === undefined || governance === undefined || operatorAccount === undefined) {
        throw new Error("the in-process network has fewer than three accounts");
      }
      const deployed = await ethers.deployContract("DeviceRegistry", [governance.address]);
      registry = deployed.connect(operatorAccount);
      const address = (await deployed.getAddress()).toLowerCase() as Hex;
      domain = {
        chainId: (await ethers.provider.getNetwork()).chainId,
        verifyingContract: address,
      };
      assert.equal(await registry.DOMAIN_SEPARATOR(), domainSeparator(domain));

      const makerWallet = Wallet.createRandom();
      maker = {
        address: makerWallet.address.toLowerCase() as Hex,
        signDigest: (d: Hex) => Promise.resolve(makerWallet.signingKey.sign(d).serialized as Hex),
      };
      const admin = deployed.connect(governance);
      await (await admin.addMaker(makerWallet.address, "Acme Sensors")).wait();
      makerId = Number(await admin.makerCount());
      operator = operatorAccount.address.toLowerCase() as Hex;
      const block = await ethers.provider.getBlock("latest");
      deadline = BigInt(block?.timestamp ?? 0) + 3600n;
    });

    /** Registers the key store's device with a maker endorsement; returns its signer (on `record`). */
    async function register(store: KeyStore, record?: SigningRecord): Promise<DeviceSigner> {
      const device = new DeviceSigner(store, domain, undefined, record);
      const proof = await device.signRegister(operator, deadline);
      const endorsement = await signEndorsement(maker, domain, device.deviceId, MODEL);
      const registration = {
        key: { keyType: store.deviceKey.keyType, key: store.deviceKey.key },
        operator,
        model: MODEL,
        deadline,
        signature: proof.signature,
      };
      assert.equal(
        await registry.register.staticCall(registration, makerId, endorsement.signature),
        device.deviceId,
      );
      await (await registry.register(registration, makerId, endorsement.signature)).wait();
      const info = await registry.deviceInfo(device.deviceId);
      assert.equal(info.status, ACTIVE);
      assert.equal(info.operator.toLowerCase(), operator);
      assert.equal(Number(info.maker), makerId);
      return device;
    }

    /** A fresh reading signed by the device verifies on chain; the same signature over another digest does not. */
    async function assertReadingVerifies(device: DeviceSigner): Promise<void> {
      counter += 1;
      const reading = await device.signReading({
        feedId: toHex(randomBytes(32)),
        sequence: BigInt(counter),
        timestamp: deadline - 60n,
        value: -1_234_567n,
      });
      const key = { keyType: device.key.keyType, key: device.key.key };
      assert.equal(
        await registry.isValidDeviceSignature(
          device.deviceId,
          reading.digest,
          key,
          reading.signature,
        ),
        true,
      );
      const otherDigest = toHex(randomBytes(32));
      assert.equal(
        await registry.isValidDeviceSignature(device.deviceId, otherDigest, key, reading.signature),
        false,
      );
    }

    /**
     * Through a signing record on disk: the reading the device signs verifies on chain, and another
     * reading for its sequence is refused before the key store signs.
     */
    async function assertProtectedReadingVerifies(store: KeyStore): Promise<void> {
      const dir = await mkdtemp(join(tmpdir(), "devicetrust-interop-"));
      const record = SigningRecord.open(join(dir, "record.sqlite"), {
        domain,
        deviceId: deviceIdOf(store.deviceKey),
      });
      try {
        const device = await register(store, record);
        const feedId = toHex(randomBytes(32));
        const reading = {
          feedId,
          sequence: device.nextSequence(feedId),
          timestamp: deadline - 60n,
          value: 21_500n,
        };
        const signed = await device.signReading(reading);
        const key = { keyType: device.key.keyType, key: device.key.key };
        assert.equal(
          await registry.isValidDeviceSignature(
            device.deviceId,
            signed.digest,
            key,
            signed.signature,
          ),
          true,
        );
        await assert.rejects(
          device.signReading({ ...reading, value: 21_501n }),
          ReadingConflictError,
        );
        assert.equal(device.nextSequence(feedId), 2n);
      } finally {
        record.close();
        await rm(dir, { recursive: true, force: true });
      }
    }

    describe("software key store", function () {
      for (const curve of CURVES) {
        it(`registers a ${curve} device whose signed readings verify on chain`, async function () {
          const store = SoftwareKeyStore.generate(curve);
          try {
            const device = await register(store);
            for (let i = 0; i < 4; i++) await assertReadingVerifies(device);
          } finally {
            await store.close();
          }
        });

        it(`signs a ${curve} reading through a signing record on disk that verifies on chain`, async function () {
          const store = SoftwareKeyStore.generate(curve);
          try {
            await assertProtectedReadingVerifies(store);
          } finally {
            await store.close();
          }
        });
      }
    });

    describe("PKCS#11 key store (SoftHSM2)", function () {
      let token: SoftHsmToken | undefined;

      before(async function () {
        requireSoftHsm(this);
        token = await createSoftHsmToken({ label: `interop-${networkName}` });
      });
      after(async function () {
        await token?.cleanup();
      });

      function generate(curve: Curve, label: string): Promise<Pkcs11KeyStore> {
        if (token === undefined) throw new Error("no SoftHSM token");
        return Pkcs11KeyStore.generate({
          module: token.modulePath,
          tokenLabel: token.tokenLabel,
          pin: token.pin,
          label,
          curve,
        });
      }

      for (const curve of CURVES) {
        it(`registers a ${curve} device whose key never leaves the token, and its readings verify on chain`, async function () {
          const store = await generate(curve, `device-${curve}`);
          try {
            const device = await register(store);
            // Several readings: the token returns high-s about half the time, and each must be normalized.
            for (let i = 0; i < 8; i++) await assertReadingVerifies(device);
          } finally {
            await store.close();
          }
        });

        it(`signs a ${curve} reading in the token through a signing record on disk that verifies on chain`, async function () {
          const store = await generate(curve, `protected-${curve}`);
          try {
            await assertProtectedReadingVerifies(store);
          } finally {
            await store.close();
          }
        });
      }

      it("rotates a software key to a key inside the token, and the new key then signs for the device", async function () {
        const old = SoftwareKeyStore.generate("secp256k1");
        const next = await generate("p256", "rotated-in");
        try {
          const device = await register(old);
          const nonce = (await registry.deviceInfo(device.deviceId)).nonce;
          const current = await device.signRotateKey(next.deviceKey, nonce, deadline);
          const proven = await new DeviceSigner(next, domain, device.deviceId).signRotateKey(
            next.deviceKey,
            nonce,
            deadline,
          );
          await (
            await registry.rotateKey(device.deviceId, {
              currentKey: { keyType: old.deviceKey.keyType, key: old.deviceKey.key },
              newKey: { keyType: next.deviceKey.keyType, key: next.deviceKey.key },
              nonce,
              deadline,
              currentSignature: current.signature,
              newSignature: proven.signature,
            })
          ).wait();
          const rotated = new DeviceSigner(next, domain, device.deviceId);
          await assertReadingVerifies(rotated);
          const stale = await device.signReading({
            feedId: toHex(randomBytes(32)),
            sequence: 1n,
            timestamp: 1n,
            value: 1n,
          });
          const oldKey = { keyType: old.deviceKey.keyType, key: old.deviceKey.key };
          assert.equal(
            await registry.isValidDeviceSignature(
              device.deviceId,
              stale.digest,
              oldKey,
              stale.signature,
            ),
            false,
          );
        } finally {
          await old.close();
          await next.close();
        }
      });
    });
  });
}
