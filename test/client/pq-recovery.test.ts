import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import type { KeyStore } from "../../src/device/key-store.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { LmsStatefulSigner } from "../../src/device/lms-signer.js";
import {
  ContractError,
  EXPLAINED_ERRORS,
  EXPLAINED_PQ_ERRORS,
  addMaker,
  applyRecoveryRequest,
  commitPqKey,
  decodePqError,
  firmwareSignaturesAt,
  lmsPqSigner,
  makerEndorse,
  mlDsa44PqSigner,
  pqCommitmentOf,
  pqKeyRecoveryAt,
  prepareKeyRecovery,
  publishFirmware,
  recoverDeviceKey,
  registerDevice,
  registryAt,
  replacePqKey,
  setMakerLmsKey,
  signFirmwareRelease,
  submitKeyRecovery,
  type DeviceRegistry,
  type FirmwareSignatures,
  type PqKeyRecovery,
  type PqSigner,
} from "../../src/client/index.js";
import {
  InvalidInputError,
  deviceIdOf,
  digest,
  generateMlDsa44KeyPair,
  keyHash,
  lmotsByName,
  lmsByName,
  pqKeyCommitment,
  toHex,
  type Hex,
  type LmotsName,
  type LmsName,
  type PqSchemeName,
} from "../../src/protocol/index.js";
import { PqRecoveryError, verifyPqRecovery } from "../../src/verify/pq.js";
import {
  FirmwareSignatures__factory,
  PqKeyRecovery__factory,
} from "../../types/ethers-contracts/index.js";

const MODEL = 7;
/** Low scrypt cost: the tests need working key files, not slow ones. */
const TEST_SCRYPT = { N: 1024, r: 8, p: 1 } as const;

/** The parameter sets recovered on chain: the cheapest (SHA-256/192) and the RFC 8554 one. */
const SETS: readonly {
  readonly lms: LmsName;
  readonly lmots: LmotsName;
  readonly label: string;
}[] = [
  { lms: "LMS_SHA256_M24_H10", lmots: "LMOTS_SHA256_N24_W4", label: "M24_H10/N24_W4" },
  { lms: "LMS_SHA256_M32_H10", lmots: "LMOTS_SHA256_N32_W4", label: "M32_H10/N32_W4" },
];

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<ContractError> {
  try {
    await promise;
  } catch (err: unknown) {
    const decoded = decodePqError(err);
    assert.ok(decoded instanceof ContractError, `not a contract error: ${String(err)}`);
    assert.equal(decoded.code, code, decoded.message);
    return decoded;
  }
  assert.fail(`expected ${code}`);
}

describe("decodePqError", function () {
  it("explains every custom error of PqKeyRecovery, FirmwareSignatures and LmsLib", function () {
    const names = [...PqKeyRecovery__factory.abi, ...FirmwareSignatures__factory.abi]
      .filter((e) => e.type === "error")
      .map((e) => (e as { name: string }).name);
    assert.ok(names.length >= 23, String(names.length));
    for (const name of names) {
      assert.ok(
        EXPLAINED_PQ_ERRORS.includes(name) || EXPLAINED_ERRORS.includes(name),
        `${name} has no explanation`,
      );
    }
  });
});

/**
 * The post-quantum way back, end to end, on a chain with the P-256 precompile (osaka) and one without
 * (prague): a device commits to an LMS key with its P-256 key, then the LMS key alone moves it to a new
 * P-256 key (the registry's KEY_RECOVERY_ROLE held by PqKeyRecovery); an ML-DSA-44 commitment is refused
 * on chain and checked off chain; a maker's LMS key signs firmware manifests (FirmwareSignatures).
 */
for (const hardfork of ["osaka", "prague"] as const) {
  describe(`PqKeyRecovery and FirmwareSignatures (${hardfork})`, function () {
    this.timeout(180_000);
    let dir: string;
    let ethers: Awaited<ReturnType<typeof network.create>>["ethers"];
    let registry: DeviceRegistry;
    let asMaker: DeviceRegistry;
    let recovery: PqKeyRecovery;
    let signatures: FirmwareSignatures;
    let operator: string;
    let makerEndorseFn: (deviceId: Hex) => Promise<{ maker: number; signature: Hex }>;
    const lmsKeys = new Map<string, LmsStatefulSigner>();

    async function deadline(seconds = 3600): Promise<bigint> {
      const latest = await ethers.provider.getBlock("latest");
      return BigInt(latest?.timestamp ?? 0) + BigInt(seconds);
    }

    /** A recovery of `deviceId` to `newKey` signed by `pqSigner`, prepared now (an hour to its deadline). */
    async function prepare(deviceId: Hex, pqSigner: PqSigner, newKey: KeyStore) {
      return prepareKeyRecovery({
        recovery,
        registry,
        deviceId,
        pqSigner,
        newKey,
        deadline: await deadline(),
      });
    }

    /** The device (its current key in `store`) commits to `publicKey` of `scheme`, signed now. */
    async function commit(store: KeyStore, scheme: PqSchemeName, publicKey: Hex) {
      return commitPqKey({
        recovery,
        registry,
        device: store,
        scheme,
        publicKey,
        deadline: await deadline(),
      });
    }

    async function registered() {
      const store = SoftwareKeyStore.generate("p256");
      const result = await registerDevice({
        registry,
        device: store,
        operator,
        deadline: await deadline(),
        model: MODEL,
        endorsement: await makerEndorseFn(deviceIdOf(store.deviceKey)),
      });
      return { store, deviceId: result.deviceId };
    }

    async function lmsKey(name: string, lms: LmsName, lmots: LmotsName) {
      const lmsParams = lmsByName(lms);
      const lmotsParams = lmotsByName(lmots);
      if (lmsParams === undefined || lmotsParams === undefined) throw new Error("unknown set");
      const signer = await LmsStatefulSigner.create({ key: join(dir, `${name}.json`) }, "pw", {
        lms: lmsParams,
        lmots: lmotsParams,
        scrypt: TEST_SCRYPT,
      });
      lmsKeys.set(name, signer);
      return signer;
    }

    before(async function () {
      dir = await mkdtemp(join(tmpdir(), "devicetrust-pq-"));
      ({ ethers } = await network.create(hardfork));
      const [governance, makerAccount, operatorAccount] = await ethers.getSigners();
      if (governance === undefined || makerAccount === undefined || operatorAccount === undefined) {
        throw new Error("the in-process network must have at least 3 accounts");
      }
      operator = operatorAccount.address;
      const deployed = await ethers.deployContract("DeviceRegistry", [governance.address]);
      const address = await deployed.getAddress();
      const recoveryDeployed = await ethers.deployContract("PqKeyRecovery", [address]);
      const signaturesDeployed = await ethers.deployContract("FirmwareSignatures", [address]);
      await (
        await deployed
          .connect(governance)
          .grantRole(await deployed.KEY_RECOVERY_ROLE(), await recoveryDeployed.getAddress())
      ).wait();
      const added = await addMaker(registryAt(address, governance), makerAccount.address, "Acme");
      asMaker = registryAt(address, makerAccount);
      registry = registryAt(address, operatorAccount);
      recovery = pqKeyRecoveryAt(await recoveryDeployed.getAddress(), registry);
      signatures = firmwareSignaturesAt(await signaturesDeployed.getAddress(), asMaker);
      makerEndorseFn = async (deviceId) => {
        const e = await makerEndorse(asMaker, makerAccount, deviceId, MODEL);
        return { maker: added.maker, signature: e.signature };
      };
    });

    after(async function () {
      for (const signer of lmsKeys.values()) signer.close();
      await rm(dir, { recursive: true, force: true });
    });

    describe("commitPqKey", function () {
      it("records the commitment signed by the device's current key, once", async function () {
        const { store, deviceId } = await registered();
        const key = await lmsKey("commit", "LMS_SHA256_M24_H10", "LMOTS_SHA256_N24_W4");
        const committed = await commit(store, "lms", key.publicKeyHex);
        assert.equal(committed.deviceId, deviceId);
        assert.equal(committed.commitment, pqKeyCommitment("lms", key.publicKeyHex));
        assert.equal(committed.commitment, await recovery.commitmentOf(1, key.publicKeyHex));
        assert.deepEqual(await pqCommitmentOf(recovery, deviceId), {
          commitment: committed.commitment,
          scheme: 1,
          schemeName: "lms",
          nonce: 0,
        });
        // Write-once for the elliptic-curve key: a forger of it cannot move the way back.
        const other = await lmsKey("commit-other", "LMS_SHA256_M24_H10", "LMOTS_SHA256_N24_W4");
        const refused = await rejectsWith(
          commit(store, "lms", other.publicKeyHex),
          "PqKeyRecoveryAlreadyCommitted",
        );
        assert.match(refused.message, /only the committed key replaces itself/);
        assert.equal((await pqCommitmentOf(recovery, deviceId)).commitment, committed.commitment);
      });

      it("reverts when another key signs the commitment", async function () {
        const { deviceId } = await registered();
        const stranger = SoftwareKeyStore.generate("p256");
        const key = await lmsKey("commit-stranger", "LMS_SHA256_M24_H10", "LMOTS_SHA256_N24_W4");
        await rejectsWith(
          commitPqKey({
            recovery,
            registry,
            device: stranger,
            deviceId,
            scheme: "lms",
            publicKey: key.publicKeyHex,
            deadline: await deadline(),
          }),
          "PqKeyRecoveryInvalidDeviceSignature",
        );
      });

      it("refuses, before the device signs, a key its scheme could never verify", async function () {
        const { store, deviceId } = await registered();
        const before = await ethers.provider.getBlockNumber();
        for (const [scheme, publicKey, says] of [
          ["lms", `0x${"11".repeat(48)}`, /LMS public key/],
          ["ml-dsa-44", `0x${"11".repeat(1311)}`, /1311 bytes, not 1312.*--pq-key/],
        ] as const) {
          await assert.rejects(
            commitPqKey({
              recovery,
              registry,
              device: store,
              deviceId,
              scheme,
              publicKey,
              deadline: await deadline(),
            }),
            (err: unknown) => err instanceof InvalidInputError && says.test(err.message),
          );
        }
        assert.equal(await ethers.provider.getBlockNumber(), before, "nothing sent");
        assert.equal((await pqCommitmentOf(recovery, deviceId)).schemeName, null);
      });
    });

    describe("recoverDeviceKey", function () {
      for (const set of SETS) {
        it(`moves the device to a new P-256 key with an LMS ${set.label} signature alone`, async function () {
          const { store, deviceId } = await registered();
          const pq = await lmsKey(`recover-${set.lms}`, set.lms, set.lmots);
          await commit(store, "lms", pq.publicKeyHex);
          const oldKeyHash = keyHash(store.deviceKey);
          const next = SoftwareKeyStore.generate("p256");
          const prepared = await prepare(deviceId, lmsPqSigner(pq), next);
          assert.equal(prepared.leaf, 0);
          const recovered = await submitKeyRecovery(recovery, prepared);
          assert.equal(recovered.oldKeyHash, oldKeyHash);
          assert.equal(recovered.newKeyHash, keyHash(next.deviceKey));
          assert.equal(recovered.nonce, 0n);
          const info = await registry.deviceInfo(deviceId);
          assert.equal(info.keyHash, keyHash(next.deviceKey));
          assert.ok((await registry.keyRetiredAt(oldKeyHash)) > 0n);
          assert.equal((await pqCommitmentOf(recovery, deviceId)).nonce, 1);
          const receipt = await ethers.provider.getTransactionReceipt(recovered.txHash);
          const names = (receipt?.logs ?? []).map(
            (log) =>
              recovery.interface.parseLog(log)?.name ?? registry.interface.parseLog(log)?.name,
          );
          assert.deepEqual(names, ["PqKeyUsed", "KeyRotated", "KeyRecovered"]);

          // The new key signs for the device; the old one no longer does.
          const d = digest(
            { chainId: 31337n, verifyingContract: (await registry.getAddress()) as Hex },
            "Reading",
            { deviceId, feedId: `0x${"fe".repeat(32)}`, sequence: 1n, timestamp: 1n, value: 42n },
          );
          const byNew = await next.signDigest(d);
          assert.equal(
            await registry.isValidDeviceSignature(deviceId, d, next.deviceKey, byNew),
            true,
          );
          const byOld = await store.signDigest(d);
          assert.equal(
            await registry.isValidDeviceSignature(deviceId, d, store.deviceKey, byOld),
            false,
          );

          // The same request again: the commitment's nonce moved on.
          await rejectsWith(
            submitKeyRecovery(recovery, prepared),
            "PqKeyRecoveryInvalidPqSignature",
          );

          if (hardfork === "osaka" && set.lms === "LMS_SHA256_M24_H10") {
            // The whole transaction; bench/results.json keeps it as registry.recoverKey.lms.
            assert.ok(
              recovered.gasUsed <= 260_000n,
              `recoverKey (${set.label}): ${recovered.gasUsed.toString()} gas`,
            );
          }
        });
      }

      it("reverts when another LMS key signs, and spends no leaf when it can tell first", async function () {
        const { store, deviceId } = await registered();
        const pq = await lmsKey("wrong-committed", "LMS_SHA256_M24_H10", "LMOTS_SHA256_N24_W4");
        const wrong = await lmsKey("wrong-other", "LMS_SHA256_M24_H10", "LMOTS_SHA256_N24_W4");
        await commit(store, "lms", pq.publicKeyHex);
        const next = SoftwareKeyStore.generate("p256");
        const options = {
          recovery,
          registry,
          deviceId,
          newKey: next,
          deadline: await deadline(),
        };
        // The client refuses before the wrong key signs: no leaf spent.
        await rejectsWith(
          recoverDeviceKey({ ...options, pqSigner: lmsPqSigner(wrong) }),
          "PqKeyRecoveryWrongPqKey",
        );
        assert.equal(wrong.next, 0);
        // The chain refuses it too: the committed key's request, with the other key's signature of it.
        const prepared = await prepareKeyRecovery({ ...options, pqSigner: lmsPqSigner(pq) });
        const forged = wrong.sign(Buffer.from(prepared.check.recoverDigest.slice(2), "hex"));
        await rejectsWith(
          submitKeyRecovery(recovery, {
            ...prepared,
            request: {
              ...prepared.request,
              pqPublicKey: wrong.publicKeyHex,
              pqSignature: toHex(forged.signature),
            },
          }),
          "PqKeyRecoveryWrongPqKey",
        );
        assert.equal(await registry.currentKeyHash(deviceId), keyHash(store.deviceKey));
      });

      it("refuses an ML-DSA-44 recovery on chain, which verifyPqRecovery accepts off chain", async function () {
        const { store, deviceId } = await registered();
        const pq = generateMlDsa44KeyPair();
        const committed = await commit(store, "ml-dsa-44", toHex(pq.publicKey));
        assert.equal(committed.commitment, pqKeyCommitment("ml-dsa-44", pq.publicKey));
        const next = SoftwareKeyStore.generate("p256");
        const options = {
          recovery,
          registry,
          deviceId,
          pqSigner: mlDsa44PqSigner(pq.privateKey),
          newKey: next,
          deadline: await deadline(),
        };
        const refused = await rejectsWith(
          recoverDeviceKey(options),
          "PqKeyRecoverySchemeNotOnChain",
        );
        assert.match(refused.message, /EIP-8051/);
        const prepared = await prepareKeyRecovery(options);
        assert.equal(prepared.leaf, null);
        const commitment = await recovery.pqCommitmentOf(deviceId);
        const domain = {
          chainId: 31337n,
          verifyingContract: (await registry.getAddress()).toLowerCase() as Hex,
        };
        const latest = await ethers.provider.getBlock("latest");
        const check = verifyPqRecovery(prepared.request, {
          domain,
          commitment,
          now: BigInt(latest?.timestamp ?? 0),
          registryNonce: (await registry.deviceInfo(deviceId)).nonce,
        });
        assert.equal(check.newKeyHash, keyHash(next.deviceKey));
        assert.equal(check.commitment, committed.commitment);
        assert.equal(await registry.currentKeyHash(deviceId), keyHash(store.deviceKey));
      });
    });

    describe("applyRecoveryRequest", function () {
      it("applies a checked ML-DSA-44 request through the registry, by a KEY_RECOVERY_ROLE holder only, once", async function () {
        const { store, deviceId } = await registered();
        const pq = generateMlDsa44KeyPair();
        await commit(store, "ml-dsa-44", toHex(pq.publicKey));
        const next = SoftwareKeyStore.generate("p256");
        const { request } = await prepare(deviceId, mlDsa44PqSigner(pq.privateKey), next);
        const [governance] = await ethers.getSigners();
        if (governance === undefined) throw new Error("no governance account");
        const asGovernance = registryAt(await registry.getAddress(), governance);
        const apply = (r = request, by = asGovernance) =>
          applyRecoveryRequest({
            recovery: pqKeyRecoveryAt(recovery.target as string, by),
            registry: by,
            request: r,
          });

        // A tampered request (another new key under the same signatures) is refused before anything is sent.
        const before = await ethers.provider.getBlockNumber();
        const other = SoftwareKeyStore.generate("p256");
        await assert.rejects(
          apply({ ...request, newKey: other.deviceKey }),
          (err: unknown) => err instanceof PqRecoveryError && err.problem === "InvalidPqSignature",
        );
        // Governance without the role: said before sending.
        const role = await asGovernance.KEY_RECOVERY_ROLE();
        const refused = await rejectsWith(apply(), "AccessControlUnauthorizedAccount");
        assert.match(refused.message, /lacks KEY_RECOVERY_ROLE/);
        assert.equal(await ethers.provider.getBlockNumber(), before, "nothing sent");

        await (await asGovernance.grantRole(role, governance.address)).wait();
        try {
          const applied = await apply();
          assert.equal(applied.via, "DeviceRegistry");
          assert.equal(applied.newKeyHash, keyHash(next.deviceKey));
          assert.equal(applied.oldKeyHash, keyHash(store.deviceKey));
          assert.equal(await registry.currentKeyHash(deviceId), keyHash(next.deviceKey));
          assert.ok((await registry.keyRetiredAt(keyHash(store.deviceKey))) > 0n);
          const receipt = await ethers.provider.getTransactionReceipt(applied.txHash);
          const recovered = receipt?.logs
            .map((log) => registry.interface.parseLog(log))
            .find((e) => e?.name === "KeyRecovered");
          assert.equal(recovered?.args[2], governance.address, "governance recovered it");
          // Once: the registry's nonce moved, so the new key's possession signature is stale.
          await assert.rejects(
            apply(),
            (err: unknown) =>
              err instanceof PqRecoveryError && err.problem === "StaleRegistryNonce",
          );
        } finally {
          await (await asGovernance.revokeRole(role, governance.address)).wait();
        }
      });

      it("sends an LMS request through PqKeyRecovery, from any account", async function () {
        const { store, deviceId } = await registered();
        const pq = await lmsKey("apply-lms", "LMS_SHA256_M24_H10", "LMOTS_SHA256_N24_W4");
        await commit(store, "lms", pq.publicKeyHex);
        const next = SoftwareKeyStore.generate("p256");
        const { request } = await prepare(deviceId, lmsPqSigner(pq), next);
        const applied = await applyRecoveryRequest({ recovery, registry, request });
        assert.equal(applied.via, "PqKeyRecovery");
        assert.equal(await registry.currentKeyHash(deviceId), keyHash(next.deviceKey));
        assert.equal((await pqCommitmentOf(recovery, deviceId)).nonce, 1);
      });
    });

    describe("replacePqKey", function () {
      /** Options of a replacement of `deviceId`'s key by `newPublicKey`, signed by `pqSigner`. */
      async function replacing(
        deviceId: Hex,
        pqSigner: PqSigner,
        newScheme: PqSchemeName,
        newPublicKey: Hex,
      ) {
        return {
          recovery,
          registry,
          deviceId,
          pqSigner,
          newScheme,
          newPublicKey,
          deadline: await deadline(),
        };
      }

      it("moves the commitment to a new LMS key, which then recovers the device; the old key is refused", async function () {
        const { store, deviceId } = await registered();
        const old = await lmsKey("replace-old", "LMS_SHA256_M24_H10", "LMOTS_SHA256_N24_W4");
        const fresh = await lmsKey("replace-new", "LMS_SHA256_M24_H10", "LMOTS_SHA256_N24_W4");
        const committed = await commit(store, "lms", old.publicKeyHex);
        const replaced = await replacePqKey(
          await replacing(deviceId, lmsPqSigner(old), "lms", fresh.publicKeyHex),
        );
        assert.deepEqual(
          [replaced.deviceId, replaced.scheme, replaced.commitment, replaced.publicKey],
          [deviceId, "lms", pqKeyCommitment("lms", fresh.publicKeyHex), fresh.publicKeyHex],
        );
        assert.deepEqual(
          [replaced.previousScheme, replaced.previousCommitment, replaced.nonce, replaced.leaf],
          ["lms", committed.commitment, 0n, 0],
        );
        assert.equal(old.next, 1);
        assert.deepEqual(await pqCommitmentOf(recovery, deviceId), {
          commitment: replaced.commitment,
          scheme: 1,
          schemeName: "lms",
          nonce: 1,
        });
        const receipt = await ethers.provider.getTransactionReceipt(replaced.txHash);
        const events = (receipt?.logs ?? []).map((log) => recovery.interface.parseLog(log));
        assert.deepEqual(
          events.map((e): unknown[] => [
            e?.name,
            e?.args.deviceId,
            e?.args.scheme,
            e?.args.commitment,
          ]),
          [["PqKeyReplaced", deviceId, 1n, replaced.commitment]],
        );
        assert.equal(events[0]?.args.nonce, 0n);

        // The old key: refused before it signs again, and by the chain when it signs anyway.
        const next = SoftwareKeyStore.generate("p256");
        const recovering = async (pqSigner: PqSigner) => ({
          recovery,
          registry,
          deviceId,
          pqSigner,
          newKey: next,
          deadline: await deadline(),
        });
        await rejectsWith(
          recoverDeviceKey(await recovering(lmsPqSigner(old))),
          "PqKeyRecoveryWrongPqKey",
        );
        await rejectsWith(
          replacePqKey(await replacing(deviceId, lmsPqSigner(old), "lms", old.publicKeyHex)),
          "PqKeyRecoveryWrongPqKey",
        );
        assert.equal(old.next, 1);
        const end = await deadline();
        const back = digest(
          { chainId: 31337n, verifyingContract: (await registry.getAddress()) as Hex },
          "ReplacePqKey",
          { deviceId, scheme: 1, commitment: committed.commitment, nonce: 1n, deadline: end },
        );
        const byOld = old.sign(Buffer.from(back.slice(2), "hex"));
        await rejectsWith(
          recovery.replacePqKey(
            deviceId,
            1,
            committed.commitment,
            end,
            old.publicKeyHex,
            toHex(byOld.signature),
          ),
          "PqKeyRecoveryWrongPqKey",
        );

        // The new key recovers the device, with the commitment's next nonce.
        const recovered = await recoverDeviceKey(await recovering(lmsPqSigner(fresh)));
        assert.deepEqual([recovered.nonce, recovered.leaf], [1n, 0]);
        assert.equal(await registry.currentKeyHash(deviceId), keyHash(next.deviceKey));
        assert.equal((await pqCommitmentOf(recovery, deviceId)).nonce, 2);
      });

      it("refuses a wrong current key, a passed deadline, the committed key again and a malformed new key before any leaf is spent", async function () {
        const { store, deviceId } = await registered();
        const pq = await lmsKey("replace-committed", "LMS_SHA256_M24_H10", "LMOTS_SHA256_N24_W4");
        const wrong = await lmsKey("replace-wrong", "LMS_SHA256_M24_H10", "LMOTS_SHA256_N24_W4");
        const fresh = await lmsKey("replace-fresh", "LMS_SHA256_M24_H10", "LMOTS_SHA256_N24_W4");
        const committed = await commit(store, "lms", pq.publicKeyHex);
        const refused = await rejectsWith(
          replacePqKey(await replacing(deviceId, lmsPqSigner(wrong), "lms", fresh.publicKeyHex)),
          "PqKeyRecoveryWrongPqKey",
        );
        assert.deepEqual(refused.args, [
          deviceId,
          committed.commitment,
          pqKeyCommitment("lms", wrong.publicKeyHex),
        ]);
        assert.equal(wrong.next, 0);

        const latest = BigInt((await ethers.provider.getBlock("latest"))?.timestamp ?? 0);
        const expired = await rejectsWith(
          replacePqKey({
            ...(await replacing(deviceId, lmsPqSigner(pq), "lms", fresh.publicKeyHex)),
            deadline: latest,
          }),
          "PqKeyRecoveryExpired",
        );
        assert.match(expired.message, /sign again with a later --deadline/);
        await assert.rejects(
          replacePqKey(await replacing(deviceId, lmsPqSigner(pq), "lms", pq.publicKeyHex)),
          (err: unknown) =>
            err instanceof InvalidInputError &&
            /is already committed to this lms key .*: nothing to replace/.test(err.message),
        );
        await assert.rejects(
          replacePqKey(await replacing(deviceId, lmsPqSigner(pq), "lms", `0x${"00".repeat(56)}`)),
          (err: unknown) =>
            err instanceof InvalidInputError && err.message.includes("new LMS public key"),
        );
        await assert.rejects(
          replacePqKey(await replacing(deviceId, lmsPqSigner(pq), "ml-dsa-44", fresh.publicKeyHex)),
          (err: unknown) =>
            err instanceof InvalidInputError && err.message.includes("is 48 bytes, not 1312"),
        );
        assert.equal(pq.next, 0);
        assert.deepEqual(await pqCommitmentOf(recovery, deviceId), {
          commitment: committed.commitment,
          scheme: 1,
          schemeName: "lms",
          nonce: 0,
        });
      });

      it("refuses to replace an ML-DSA-44 key, which no contract verifies, and replaces an LMS key by one", async function () {
        const first = await registered();
        const mlDsa = generateMlDsa44KeyPair();
        const committed = await commit(first.store, "ml-dsa-44", toHex(mlDsa.publicKey));
        const fresh = await lmsKey(
          "replace-after-ml-dsa",
          "LMS_SHA256_M24_H10",
          "LMOTS_SHA256_N24_W4",
        );
        const refused = await rejectsWith(
          replacePqKey(
            await replacing(
              first.deviceId,
              mlDsa44PqSigner(mlDsa.privateKey),
              "lms",
              fresh.publicKeyHex,
            ),
          ),
          "PqKeyRecoverySchemeNotOnChain",
        );
        assert.deepEqual(refused.args, [2]);
        assert.match(
          refused.message,
          /EIP-8051.*a replacement \(ReplacePqKey\) has no such path, so keep the committed key/,
        );
        // Another ML-DSA-44 key is told it is not the committed one first, as the chain would.
        const other = generateMlDsa44KeyPair();
        await rejectsWith(
          replacePqKey(
            await replacing(
              first.deviceId,
              mlDsa44PqSigner(other.privateKey),
              "lms",
              fresh.publicKeyHex,
            ),
          ),
          "PqKeyRecoveryWrongPqKey",
        );
        assert.equal(
          (await pqCommitmentOf(recovery, first.deviceId)).commitment,
          committed.commitment,
        );

        // An LMS key may hand the way back to an ML-DSA-44 key: it then recovers off chain only.
        const second = await registered();
        const lms = await lmsKey("replace-to-ml-dsa", "LMS_SHA256_M24_H10", "LMOTS_SHA256_N24_W4");
        await commit(second.store, "lms", lms.publicKeyHex);
        const replaced = await replacePqKey(
          await replacing(second.deviceId, lmsPqSigner(lms), "ml-dsa-44", toHex(mlDsa.publicKey)),
        );
        assert.equal(replaced.commitment, pqKeyCommitment("ml-dsa-44", mlDsa.publicKey));
        assert.deepEqual(await pqCommitmentOf(recovery, second.deviceId), {
          commitment: replaced.commitment,
          scheme: 2,
          schemeName: "ml-dsa-44",
          nonce: 1,
        });
        const next = SoftwareKeyStore.generate("p256");
        const options = {
          recovery,
          registry,
          deviceId: second.deviceId,
          pqSigner: mlDsa44PqSigner(mlDsa.privateKey),
          newKey: next,
          deadline: await deadline(),
        };
        await rejectsWith(recoverDeviceKey(options), "PqKeyRecoverySchemeNotOnChain");
        const prepared = await prepareKeyRecovery(options);
        assert.equal(prepared.request.nonce, 1n);
        assert.equal(prepared.check.commitment, replaced.commitment);
      });
    });

    describe("signFirmwareRelease", function () {
      it("marks a release PQ-signed by its maker's registered LMS key", async function () {
        const key = await lmsKey("maker", "LMS_SHA256_M24_H10", "LMOTS_SHA256_N24_W4");
        const set = await setMakerLmsKey(signatures, key.publicKeyHex);
        assert.equal(set.maker, 1);
        assert.equal(await signatures.lmsKeyOf(1), set.lmsKeyHash);
        const images = ["boot", "app"].map((n) => join(dir, `${n}-${hardfork}.bin`));
        for (const image of images) await writeFile(image, image);
        const published = await publishFirmware({
          registry: asMaker,
          model: MODEL,
          version: "1.0.0",
          images,
        });
        assert.equal(await signatures.isPqSigned(published.firmwareId), false);
        const signed = await signFirmwareRelease({
          firmwareSignatures: signatures,
          registry: asMaker,
          firmwareId: published.firmwareId,
          version: "1.0.0",
          signer: key,
        });
        assert.equal(signed.pqSigned, true);
        assert.equal(signed.leaf, 0);
        assert.equal(
          signed.digest,
          digest(
            { chainId: 31337n, verifyingContract: (await asMaker.getAddress()) as Hex },
            "FirmwareRelease",
            { maker: 1, model: MODEL, version: "1.0.0", measurement: published.measurement },
          ),
        );
        const receipt = await ethers.provider.getTransactionReceipt(signed.txHash);
        const event = (receipt?.logs ?? [])
          .map((log) => signatures.interface.parseLog(log))
          .find((e) => e?.name === "FirmwarePqSigned");
        assert.deepEqual(
          [Number(event?.args.firmwareId), Number(event?.args.maker), event?.args.leaf],
          [published.firmwareId, 1, 0n],
        );
        const recorded = await signatures.pqSignatureOf(published.firmwareId);
        assert.equal(recorded.lmsKeyHash, set.lmsKeyHash);

        // Once only.
        await rejectsWith(
          signFirmwareRelease({
            firmwareSignatures: signatures,
            registry: asMaker,
            firmwareId: published.firmwareId,
            version: "1.0.0",
            signer: key,
          }),
          "FirmwareSignaturesAlreadySigned",
        );
        if (hardfork === "osaka") {
          assert.ok(signed.gasUsed < 300_000n, `signFirmware: ${signed.gasUsed.toString()} gas`);
        }
      });

      it("reverts for another version and for another LMS key", async function () {
        const key = lmsKeys.get("maker");
        if (key === undefined) throw new Error("runs after the maker's key is registered");
        const images = ["boot", "app2"].map((n) => join(dir, `${n}-${hardfork}.bin`));
        for (const image of images) await writeFile(image, image);
        const published = await publishFirmware({
          registry: asMaker,
          model: MODEL,
          version: "2.0.0",
          images,
        });
        const sign = (version: string, signer: LmsStatefulSigner) =>
          signFirmwareRelease({
            firmwareSignatures: signatures,
            registry: asMaker,
            firmwareId: published.firmwareId,
            version,
            signer,
          });
        await rejectsWith(sign("1.0.0", key), "FirmwareSignaturesWrongVersion");
        const other = await lmsKey("maker-other", "LMS_SHA256_M24_H10", "LMOTS_SHA256_N24_W4");
        await rejectsWith(sign("2.0.0", other), "FirmwareSignaturesWrongLmsKey");
        assert.equal(other.next, 0);
        // On chain: another key's signature of the right digest, and the right key's of another digest.
        const d = await signatures.manifestDigest(published.firmwareId, "2.0.0");
        const byOther = other.sign(Buffer.from(d.slice(2), "hex"));
        await rejectsWith(
          signatures.signFirmware(
            published.firmwareId,
            "2.0.0",
            other.publicKeyHex,
            toHex(byOther.signature),
          ),
          "FirmwareSignaturesWrongLmsKey",
        );
        const wrongDigest = key.sign(new Uint8Array(32));
        await rejectsWith(
          signatures.signFirmware(
            published.firmwareId,
            "2.0.0",
            key.publicKeyHex,
            toHex(wrongDigest.signature),
          ),
          "FirmwareSignaturesInvalidSignature",
        );
        assert.equal(await signatures.isPqSigned(published.firmwareId), false);
      });
    });
  });
}
