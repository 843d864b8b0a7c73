import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { id } from "ethers";
import hre from "hardhat";
import { LmsStatefulSigner } from "../../src/device/lms-signer.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { publishFirmware, readMlDsa44PrivateKey, registryAt } from "../../src/client/index.js";
import {
  generateMlDsa44KeyPair,
  keyHash,
  lmsVerify,
  mlDsa44PrivateKeyPem,
  mlDsa44PublicKeyPem,
  pqKeyCommitment,
  toHex,
  type Hex,
} from "../../src/protocol/index.js";
import { parsePqRecoveryRequest, verifyPqRecovery } from "../../src/verify/pq.js";
import { releaseImages } from "../client/attestation-fixture.js";
import { TEST_SCRYPT, tempDir } from "../client/fixture.js";
import { runTask } from "./run-task.js";
import { taskRegistry } from "./task-chain.js";

const MODEL = 21;

/**
 * The post-quantum tasks: a maker's LMS key (maker lms-keygen, lms-sign, lms-register) signs firmware
 * manifests (firmware publish --lms-key, firmware sign); a device commits to an LMS or ML-DSA-44 key
 * (device commit-pq-key, its key file made by device pq-keygen), is recovered with it (device recover-key),
 * and the committed key replaces itself (device replace-pq-key).
 */
describe("tasks: post-quantum keys", function () {
  this.timeout(120_000);
  let registry: string;
  let recovery: string;
  let signatures: string;
  let dir: string;
  let cleanup: () => Promise<void>;
  let chainId: bigint;
  let governance: Awaited<ReturnType<typeof taskRegistry>>["governance"];
  const devices: { keyFile: string; deviceId: Hex }[] = [];

  before(async function () {
    const tasks = await taskRegistry("Acme PQ Meters");
    governance = tasks.governance;
    chainId = (await tasks.ethers.provider.getNetwork()).chainId;
    registry = tasks.registry;
    recovery = await tasks.deployWithRole("PqKeyRecovery", id("KEY_RECOVERY_ROLE"));
    signatures = await tasks.deployWithRole("FirmwareSignatures");
    ({ dir, cleanup } = await tempDir());
    for (let i = 0; i < 5; i++) {
      const store = SoftwareKeyStore.generate("p256");
      const keyFile = join(dir, `device-${String(i)}.json`);
      await store.save(keyFile, "pw", TEST_SCRYPT);
      const deviceId = await tasks.registerEndorsed(store, MODEL);
      await store.close();
      devices.push({ keyFile, deviceId });
    }
  });
  after(async function () {
    await cleanup();
  });

  const chain = (from: number, json = false) => ({ registry, from: String(from), json });
  const device = (i: number) => {
    const d = devices[i];
    if (d === undefined) throw new Error(`no device ${String(i)}`);
    return d;
  };
  const keyArgs = (keyFile: string) => ({ keyFile, password: "pw" });
  const newKeyArgs = (newKeyFile: string) => ({ newKeyFile, newPassword: "pw" });
  const makerKey = () => join(dir, "maker.lms.json");

  describe("maker lms-keygen, lms-sign, lms-register", function () {
    it("creates an LMS key file of the cheapest parameter sets by default (--json)", async function () {
      const made = await runTask(["maker", "lms-keygen"], {
        out: makerKey(),
        password: "lms-pw",
        json: true,
      });
      assert.equal(made.result.success, true, made.stderr);
      const out = JSON.parse(made.stdout) as {
        lms: string;
        lmots: string;
        publicKey: Hex;
        commitment: Hex;
        leaves: number;
        stateFile: string;
      };
      assert.deepEqual(
        [out.lms, out.lmots, out.leaves, out.stateFile],
        ["LMS_SHA256_M24_H10", "LMOTS_SHA256_N24_W4", 1024, `${makerKey()}.state`],
      );
      assert.equal(out.commitment, pqKeyCommitment("lms", out.publicKey));
      assert.match(made.stderr, /generating an LMS_SHA256_M24_H10 \/ LMOTS_SHA256_N24_W4 key/);
    });

    it("refuses to overwrite a key, and names unknown parameter sets", async function () {
      const again = await runTask(["maker", "lms-keygen"], {
        out: makerKey(),
        password: "lms-pw",
      });
      assert.equal(again.result.success, false);
      assert.match(again.stderr, /exists: an LMS key and its state are never overwritten/);
      const unknown = await runTask(["maker", "lms-keygen"], {
        out: join(dir, "other.lms.json"),
        password: "pw",
        lms: "LMS_SHA256_M24_H11",
      });
      assert.match(unknown.stderr, /unknown --lms "LMS_SHA256_M24_H11": use one of /);
    });

    it("signs a digest with the next leaf and prints q and the signature (human and --json)", async function () {
      const digest = `0x${"ab".repeat(32)}`;
      const human = await runTask(["maker", "lms-sign"], {
        lmsKey: makerKey(),
        password: "lms-pw",
        digest,
      });
      assert.equal(human.result.success, true, human.stderr);
      assert.match(human.stdout, /^q: +0$/m);
      assert.match(human.stdout, /^signature: +0x[0-9a-f]{3000}$/m);
      const json = await runTask(["maker", "lms-sign"], {
        lmsKey: makerKey(),
        password: "lms-pw",
        digest,
        json: true,
      });
      const out = JSON.parse(json.stdout) as { q: number; signature: Hex; publicKey: Hex };
      assert.equal(out.q, 1);
      assert.equal(
        lmsVerify(
          Buffer.from(out.publicKey.slice(2), "hex"),
          Buffer.from(digest.slice(2), "hex"),
          Buffer.from(out.signature.slice(2), "hex"),
        ),
        true,
      );
      const bad = await runTask(["maker", "lms-sign"], {
        lmsKey: makerKey(),
        password: "lms-pw",
        digest: "0x1234",
      });
      assert.equal(bad.result.success, false);
      assert.match(bad.stderr, /--digest must be 32 bytes, got 2/);
    });

    it("registers the maker's LMS key, and refuses a sender that is no maker", async function () {
      const refused = await runTask(["maker", "lms-register"], {
        ...chain(2),
        lmsKey: makerKey(),
        firmwareSignatures: signatures,
      });
      assert.equal(refused.result.success, false);
      assert.match(
        refused.stderr,
        /FirmwareSignaturesNotMaker\(0x[0-9a-fA-F]{40}\): .* register the LMS key from the maker's account/,
      );
      const registered = await runTask(["maker", "lms-register"], {
        ...chain(1, true),
        lmsKey: makerKey(),
        firmwareSignatures: signatures,
      });
      assert.equal(registered.result.success, true, registered.stderr);
      const out = JSON.parse(registered.stdout) as { maker: number; lms: string };
      assert.deepEqual([out.maker, out.lms], [1, "LMS_SHA256_M24_H10"]);
    });
  });

  describe("firmware publish --lms-key, firmware sign", function () {
    it("publishes and PQ-signs a release in one go (--json prints pqSigned)", async function () {
      const images = (await releaseImages(dir, "pq-1")).join(",");
      const published = await runTask(["firmware", "publish"], {
        ...chain(1, true),
        model: MODEL,
        firmwareVersion: "pq-1",
        images,
        lmsKey: makerKey(),
        password: "lms-pw",
        firmwareSignatures: signatures,
      });
      assert.equal(published.result.success, true, published.stderr);
      const out = JSON.parse(published.stdout) as {
        firmwareId: number;
        pqSigned: boolean;
        pqLeaf: number;
      };
      assert.deepEqual([out.firmwareId, out.pqSigned, out.pqLeaf], [1, true, 2]);
      assert.match(published.stderr, /signing firmware 1's manifest with the maker's LMS key/);
    });

    it("refuses a key that is not the maker's registered one before it publishes anything", async function () {
      const other = join(dir, "other-maker.lms.json");
      const made = await runTask(["maker", "lms-keygen"], { out: other, password: "pw" });
      assert.equal(made.result.success, true, made.stderr);
      const refused = await runTask(["firmware", "publish"], {
        ...chain(1),
        model: MODEL,
        firmwareVersion: "pq-2",
        images: (await releaseImages(dir, "pq-2")).join(","),
        lmsKey: other,
        password: "pw",
        firmwareSignatures: signatures,
      });
      assert.equal(refused.result.success, false);
      assert.match(refused.stderr, /FirmwareSignaturesWrongLmsKey\(1, .*maker lms-register/);
      const list = await runTask(["firmware", "list"], { ...chain(0, true), model: MODEL });
      assert.equal((JSON.parse(list.stdout) as unknown[]).length, 1);
      // With FirmwareSignatures, the list says which releases are PQ-signed.
      const marked = await runTask(["firmware", "list"], {
        ...chain(0, true),
        model: MODEL,
        firmwareSignatures: signatures,
      });
      assert.deepEqual(
        (JSON.parse(marked.stdout) as { version: string; pqSigned: boolean }[]).map((f) => [
          f.version,
          f.pqSigned,
        ]),
        [["pq-1", true]],
      );
      assert.equal("pqSigned" in (JSON.parse(list.stdout) as object[])[0]!, false);
    });

    it("signs a release published without --lms-key, once", async function () {
      const { ethers } = await hre.network.getOrCreate();
      const [, maker] = await ethers.getSigners();
      if (maker === undefined) throw new Error("need the maker's account");
      await publishFirmware({
        registry: registryAt(registry, maker),
        model: MODEL,
        version: "pq-3",
        images: await releaseImages(dir, "pq-3"),
      });
      const sign = (json: boolean) =>
        runTask(["firmware", "sign"], {
          ...chain(1, json),
          model: MODEL,
          firmwareVersion: "pq-3",
          lmsKey: makerKey(),
          password: "lms-pw",
          firmwareSignatures: signatures,
        });
      const signed = await sign(false);
      assert.equal(signed.result.success, true, signed.stderr);
      assert.match(signed.stdout, /^pqSigned: +true$/m);
      const again = await sign(true);
      assert.equal(again.result.success, false);
      assert.match(
        again.stderr,
        /FirmwareSignaturesAlreadySigned\(2\): firmware 2 is already PQ-signed/,
      );
      const error = JSON.parse(again.stdout) as { error: { code: string } };
      assert.equal(error.error.code, "FirmwareSignaturesAlreadySigned");
    });
  });

  describe("device commit-pq-key, device recover-key", function () {
    it("commits a device to an LMS key, then recovers it to a new key with that key alone (--json)", async function () {
      const { keyFile, deviceId } = device(0);
      const pqKey = join(dir, "device-0.lms.json");
      const made = await runTask(["maker", "lms-keygen"], { out: pqKey, password: "pq-pw" });
      assert.equal(made.result.success, true, made.stderr);
      const committed = await runTask(["device", "commit-pq-key"], {
        ...chain(2, true),
        ...keyArgs(keyFile),
        pqKey,
        pqKeyRecovery: recovery,
      });
      assert.equal(committed.result.success, true, committed.stderr);
      const c = JSON.parse(committed.stdout) as { deviceId: Hex; scheme: string; commitment: Hex };
      assert.deepEqual([c.deviceId, c.scheme], [deviceId, "lms"]);

      const again = await runTask(["device", "commit-pq-key"], {
        ...chain(2),
        ...keyArgs(keyFile),
        pqKey,
        pqKeyRecovery: recovery,
      });
      assert.equal(again.result.success, false);
      assert.match(
        again.stderr,
        /PqKeyRecoveryAlreadyCommitted\(0x[0-9a-f]{64}\): device .* already committed/,
      );

      const newKeyFile = join(dir, "device-0-recovered.json");
      const next = SoftwareKeyStore.generate("p256");
      await next.save(newKeyFile, "pw", TEST_SCRYPT);
      const recovered = await runTask(["device", "recover-key"], {
        ...chain(0, true),
        deviceId,
        pqKey,
        pqPassword: "pq-pw",
        pqKeyRecovery: recovery,
        ...newKeyArgs(newKeyFile),
      });
      assert.equal(recovered.result.success, true, recovered.stderr);
      const r = JSON.parse(recovered.stdout) as {
        onChain: boolean;
        newKeyHash: Hex;
        leaf: number;
        gasUsed: string;
      };
      assert.deepEqual([r.onChain, r.newKeyHash, r.leaf], [true, keyHash(next.deviceKey), 0]);
      assert.match(recovered.stderr, /the committed LMS key signs the recovery \(leaf 0\)/);
      assert.equal((await SoftwareKeyStore.info(newKeyFile)).deviceId, deviceId);
      const show = await runTask(["device", "show"], { ...chain(0, true), deviceId });
      assert.equal((JSON.parse(show.stdout) as { keyHash: Hex }).keyHash, keyHash(next.deviceKey));
    });

    it("commits to an ML-DSA-44 key and prints the off-chain recovery request (human)", async function () {
      const { keyFile, deviceId } = device(1);
      const pq = generateMlDsa44KeyPair();
      const publicPem = join(dir, "device-1.ml-dsa.pub.pem");
      const privatePem = join(dir, "device-1.ml-dsa.pem");
      await writeFile(publicPem, mlDsa44PublicKeyPem(pq.publicKey));
      await writeFile(privatePem, mlDsa44PrivateKeyPem(pq.privateKey, "ml-pw"));
      const committed = await runTask(["device", "commit-pq-key"], {
        ...chain(2),
        ...keyArgs(keyFile),
        scheme: "ml-dsa-44",
        pqKey: publicPem,
        pqKeyRecovery: recovery,
      });
      assert.equal(committed.result.success, true, committed.stderr);
      assert.match(
        committed.stdout,
        new RegExp(`^commitment: +${pqKeyCommitment("ml-dsa-44", pq.publicKey)}$`, "m"),
      );

      const newKeyFile = join(dir, "device-1-next.json");
      const next = SoftwareKeyStore.generate("p256");
      await next.save(newKeyFile, "pw", TEST_SCRYPT);
      const human = await runTask(["device", "recover-key"], {
        ...chain(0),
        deviceId,
        pqKey: privatePem,
        pqPassword: "ml-pw",
        pqKeyRecovery: recovery,
        ...newKeyArgs(newKeyFile),
      });
      assert.equal(human.result.success, true, human.stderr);
      assert.match(human.stdout, /^onChain: +false$/m);
      assert.match(human.stdout, /^request\.scheme: +ml-dsa-44$/m);
      assert.match(human.stderr, /on-chain recovery needs that precompile/);
      const json = await runTask(["device", "recover-key"], {
        ...chain(0, true),
        deviceId,
        pqKey: privatePem,
        pqPassword: "ml-pw",
        pqKeyRecovery: recovery,
        ...newKeyArgs(newKeyFile),
      });
      const out = JSON.parse(json.stdout) as { request: unknown };
      const { ethers } = await hre.network.getOrCreate();
      const request = parsePqRecoveryRequest(out.request);
      const check = verifyPqRecovery(request, {
        domain: { chainId, verifyingContract: registry as Hex },
        commitment: {
          commitment: pqKeyCommitment("ml-dsa-44", pq.publicKey),
          scheme: 2,
          nonce: 0,
        },
        registryNonce: (await registryAt(registry, ethers.provider).deviceInfo(deviceId)).nonce,
      });
      assert.equal(check.newKeyHash, keyHash(next.deviceKey));
      assert.equal(request.pqPublicKey, toHex(pq.publicKey));
      // Nothing changed on chain.
      const show = await runTask(["device", "show"], { ...chain(0, true), deviceId });
      assert.notEqual((JSON.parse(show.stdout) as { keyHash: Hex }).keyHash, check.newKeyHash);

      // Governance applies the printed request (device apply-recovery), once it holds KEY_RECOVERY_ROLE.
      const requestFile = join(dir, "device-1.recovery.json");
      await writeFile(requestFile, json.stdout);
      const apply = () =>
        runTask(["device", "apply-recovery"], {
          ...chain(0, true),
          request: requestFile,
          pqKeyRecovery: recovery,
        });
      const refused = await apply();
      assert.equal(refused.result.success, false);
      assert.match(refused.stderr, /lacks KEY_RECOVERY_ROLE: send this from a governance account/);
      const asGovernance = registryAt(registry, governance);
      await (await asGovernance.grantRole(id("KEY_RECOVERY_ROLE"), governance.address)).wait();
      const applied = await apply();
      assert.equal(applied.result.success, true, applied.stderr);
      const result = JSON.parse(applied.stdout) as { via: string; newKeyHash: Hex };
      assert.deepEqual([result.via, result.newKeyHash], ["DeviceRegistry", check.newKeyHash]);
      const after = await runTask(["device", "show"], { ...chain(0, true), deviceId });
      assert.equal((JSON.parse(after.stdout) as { keyHash: Hex }).keyHash, check.newKeyHash);
      // The same request again: the registry's nonce moved, so it no longer checks out.
      const again = await apply();
      assert.equal(again.result.success, false);
      assert.match(again.stderr, /StaleRegistryNonce/);
      await (await asGovernance.revokeRole(id("KEY_RECOVERY_ROLE"), governance.address)).wait();
    });

    it("apply-recovery says what a file without a usable request holds", async function () {
      const empty = join(dir, "no-request.json");
      await writeFile(empty, JSON.stringify({ pending: [] }));
      const out = await runTask(["device", "apply-recovery"], {
        ...chain(0),
        request: empty,
        pqKeyRecovery: recovery,
      });
      assert.equal(out.result.success, false);
      assert.match(out.stderr, /holds no recovery request \(it holds: none\)/);
    });

    it("says a device that never committed cannot be recovered, and how to commit one", async function () {
      const { deviceId } = device(2);
      const newKeyFile = join(dir, "device-2-next.json");
      await SoftwareKeyStore.generate("p256").save(newKeyFile, "pw", TEST_SCRYPT);
      const refused = await runTask(["device", "recover-key"], {
        ...chain(0),
        deviceId,
        pqKey: makerKey(),
        pqPassword: "lms-pw",
        pqKeyRecovery: recovery,
        ...newKeyArgs(newKeyFile),
      });
      assert.equal(refused.result.success, false);
      assert.match(
        refused.stderr,
        /PqKeyRecoveryNotCommitted\(0x[0-9a-f]{64}\): .*commit one \(device commit-pq-key\)/,
      );
      // The maker's key spent no leaf on it.
      const state = JSON.parse(await readFile(`${makerKey()}.state`, "utf8")) as { next: number };
      assert.equal(state.next, 4);
    });

    it("says --pq-key-recovery is not a PqKeyRecovery", async function () {
      const { keyFile } = device(2);
      const refused = await runTask(["device", "commit-pq-key"], {
        ...chain(2),
        ...keyArgs(keyFile),
        pqKey: makerKey(),
        pqKeyRecovery: signatures,
      });
      assert.equal(refused.result.success, false);
      assert.match(refused.stderr, /is not a DeviceTrust PqKeyRecovery on chain 31337/);
    });
  });

  describe("device pq-keygen, device replace-pq-key", function () {
    const stateOf = async (keyFile: string) =>
      (JSON.parse(await readFile(`${keyFile}.state`, "utf8")) as { next: number }).next;

    it("pq-keygen writes an ML-DSA-44 PEM and an LMS key file (--json) that commit-pq-key takes, and never overwrites one", async function () {
      const { keyFile, deviceId } = device(4);
      const pem = join(dir, "device-4.ml-dsa.pem");
      const made = await runTask(["device", "pq-keygen"], {
        scheme: "ml-dsa-44",
        out: pem,
        password: "ml-pw",
        json: true,
      });
      assert.equal(made.result.success, true, made.stderr);
      const out = JSON.parse(made.stdout) as {
        scheme: string;
        keyFile: string;
        encrypted: boolean;
        publicKey: Hex;
        commitment: Hex;
      };
      assert.deepEqual([out.scheme, out.keyFile, out.encrypted], ["ml-dsa-44", pem, true]);
      assert.equal(out.commitment, pqKeyCommitment("ml-dsa-44", out.publicKey));
      assert.equal((await readMlDsa44PrivateKey(pem, "ml-pw")).publicKey, out.publicKey);
      assert.match(made.stderr, /device commit-pq-key --scheme ml-dsa-44 --pq-key /);
      const committed = await runTask(["device", "commit-pq-key"], {
        ...chain(2, true),
        ...keyArgs(keyFile),
        scheme: "ml-dsa-44",
        pqKey: pem,
        pqPassword: "ml-pw",
        pqKeyRecovery: recovery,
      });
      assert.equal(committed.result.success, true, committed.stderr);
      const c = JSON.parse(committed.stdout) as { deviceId: Hex; commitment: Hex };
      assert.deepEqual([c.deviceId, c.commitment], [deviceId, out.commitment]);

      const lms = join(dir, "device-3.lms.json");
      const madeLms = await runTask(["device", "pq-keygen"], {
        out: lms,
        password: "pq-pw",
        lms: "LMS_SHA256_M24_H5",
        json: true,
      });
      assert.equal(madeLms.result.success, true, madeLms.stderr);
      const l = JSON.parse(madeLms.stdout) as {
        scheme: string;
        lms: string;
        lmots: string;
        stateFile: string;
        publicKey: Hex;
        commitment: Hex;
      };
      assert.deepEqual(
        [l.scheme, l.lms, l.lmots, l.stateFile],
        ["lms", "LMS_SHA256_M24_H5", "LMOTS_SHA256_N24_W4", `${lms}.state`],
      );
      assert.equal(l.commitment, pqKeyCommitment("lms", l.publicKey));
      assert.equal(await stateOf(lms), 0);

      const again = await runTask(["device", "pq-keygen"], {
        scheme: "ml-dsa-44",
        out: pem,
        password: "ml-pw",
        json: true,
      });
      assert.equal(again.result.success, false);
      assert.match(
        again.stderr,
        /^Error KEY_FILE_EXISTS: .*device-4\.ml-dsa\.pem already exists: a key file is never overwritten .*Choose another --out/m,
      );
      const error = JSON.parse(again.stdout) as { error: { code: string } };
      assert.equal(error.error.code, "KEY_FILE_EXISTS");
      assert.equal((await readMlDsa44PrivateKey(pem, "ml-pw")).publicKey, out.publicKey);
    });

    it("replace-pq-key moves an LMS commitment to a new key, which then recovers the device, and the old key does not (--json)", async function () {
      const { keyFile, deviceId } = device(3);
      const old = join(dir, "device-3.lms.json");
      const committed = await runTask(["device", "commit-pq-key"], {
        ...chain(2),
        ...keyArgs(keyFile),
        pqKey: old,
        pqKeyRecovery: recovery,
      });
      assert.equal(committed.result.success, true, committed.stderr);
      const fresh = join(dir, "device-3-next.lms.json");
      const made = await runTask(["device", "pq-keygen"], {
        out: fresh,
        password: "next-pw",
        lms: "LMS_SHA256_M24_H5",
      });
      assert.equal(made.result.success, true, made.stderr);
      const freshKey = await LmsStatefulSigner.info(fresh);

      // A wrong current key (the new one) is refused before it spends a leaf.
      const wrong = await runTask(["device", "replace-pq-key"], {
        ...chain(0),
        deviceId,
        pqKey: fresh,
        pqPassword: "next-pw",
        newPqKey: old,
        pqKeyRecovery: recovery,
      });
      assert.equal(wrong.result.success, false);
      assert.match(
        wrong.stderr,
        /PqKeyRecoveryWrongPqKey\(0x[0-9a-f]{64}, .*sign with the committed key \(--pq-key\)/,
      );
      assert.equal(await stateOf(fresh), 0);

      const replaced = await runTask(["device", "replace-pq-key"], {
        ...chain(0, true),
        deviceId,
        pqKey: old,
        pqPassword: "pq-pw",
        newPqKey: fresh,
        pqKeyRecovery: recovery,
      });
      assert.equal(replaced.result.success, true, replaced.stderr);
      const r = JSON.parse(replaced.stdout) as {
        deviceId: Hex;
        scheme: string;
        commitment: Hex;
        previousCommitment: Hex;
        nonce: string;
        leaf: number;
        txHash: Hex;
      };
      assert.deepEqual(
        [r.deviceId, r.scheme, r.commitment, r.nonce, r.leaf],
        [deviceId, "lms", pqKeyCommitment("lms", freshKey.publicKey), "0", 0],
      );
      assert.equal(
        r.previousCommitment,
        pqKeyCommitment("lms", (await LmsStatefulSigner.info(old)).publicKey),
      );
      assert.match(replaced.stderr, /the committed LMS key signs the replacement .*\(leaf 0\)/);
      assert.match(replaced.stderr, /no longer recovers device 0x[0-9a-f]{64}: .* does/);
      assert.equal(await stateOf(old), 1);

      const newKeyFile = join(dir, "device-3-recovered.json");
      const next = SoftwareKeyStore.generate("p256");
      await next.save(newKeyFile, "pw", TEST_SCRYPT);
      const byOld = await runTask(["device", "recover-key"], {
        ...chain(0),
        deviceId,
        pqKey: old,
        pqPassword: "pq-pw",
        pqKeyRecovery: recovery,
        ...newKeyArgs(newKeyFile),
      });
      assert.equal(byOld.result.success, false);
      assert.match(byOld.stderr, /PqKeyRecoveryWrongPqKey\(/);
      assert.equal(await stateOf(old), 1);
      const recovered = await runTask(["device", "recover-key"], {
        ...chain(0, true),
        deviceId,
        pqKey: fresh,
        pqPassword: "next-pw",
        pqKeyRecovery: recovery,
        ...newKeyArgs(newKeyFile),
      });
      assert.equal(recovered.result.success, true, recovered.stderr);
      const rec = JSON.parse(recovered.stdout) as { newKeyHash: Hex; nonce: string; leaf: number };
      assert.deepEqual([rec.newKeyHash, rec.nonce, rec.leaf], [keyHash(next.deviceKey), "1", 0]);
    });

    it("replace-pq-key says an ML-DSA-44 key cannot replace itself yet, and what to do", async function () {
      const { deviceId } = device(4);
      const refused = await runTask(["device", "replace-pq-key"], {
        ...chain(0, true),
        deviceId,
        pqKey: join(dir, "device-4.ml-dsa.pem"),
        newPqKey: join(dir, "device-3-next.lms.json"),
        pqKeyRecovery: recovery,
      });
      assert.equal(refused.result.success, false);
      assert.match(
        refused.stderr,
        /PqKeyRecoverySchemeNotOnChain\(2\): no contract verifies ML-DSA-44 signatures yet .*EIP-8051.*a replacement \(ReplacePqKey\) has no such path, so keep the committed key, which still recovers the device/,
      );
      const error = JSON.parse(refused.stdout) as { error: { code: string } };
      assert.equal(error.error.code, "PqKeyRecoverySchemeNotOnChain");
    });
  });
});
