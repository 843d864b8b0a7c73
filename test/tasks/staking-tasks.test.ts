import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import hre from "hardhat";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { DeviceSigner } from "../../src/device/device-signer.js";
import {
  addMaker,
  equivocationProof,
  makerEndorse,
  registerDevice,
  registryAt,
  registryDomain,
  writeProofFile,
} from "../../src/client/index.js";
import { deviceIdOf, type Hex, signedReadingToJson } from "../../src/protocol/index.js";
import { MockERC20__factory } from "../../types/ethers-contracts/index.js";
import { tempDir } from "../client/fixture.js";
import { runTask } from "./run-task.js";
import { FEED } from "../client/staking-fixture.js";

describe("tasks: stake, proof, watchtower", function () {
  let registry: string;
  let staking: string;
  let proofs: string;
  let dir: string;
  let cleanup: () => Promise<void>;
  const devices: { deviceId: Hex; signer: DeviceSigner; clone: DeviceSigner }[] = [];
  let beneficiary: string;
  let now: bigint;

  before(async function () {
    const { ethers } = await hre.network.getOrCreate();
    const [governance, maker, operator, , loss, watcher] = await ethers.getSigners();
    if (
      governance === undefined ||
      maker === undefined ||
      operator === undefined ||
      loss === undefined ||
      watcher === undefined
    )
      throw new Error("need 6 accounts");
    beneficiary = watcher.address;
    const deployed = await ethers.deployContract("DeviceRegistry", [governance.address]);
    registry = (await deployed.getAddress()).toLowerCase();
    const token = await ethers.deployContract("MockERC20", ["Collateral", "COL"]);
    const s = await ethers.deployContract("DeviceStaking", [
      registry,
      await token.getAddress(),
      governance.address,
      { minStake: 1000n, unbondingPeriod: 86_400n, bountyBps: 2_000n, lossRecipient: loss.address },
    ]);
    staking = (await s.getAddress()).toLowerCase();
    const p = await ethers.deployContract("FraudProofs", [registry, staking, 3_600n]);
    proofs = (await p.getAddress()).toLowerCase();
    await (await s.setProofs(proofs)).wait();
    await (await deployed.grantRole(await deployed.SUSPENDER_ROLE(), staking)).wait();
    await (
      await MockERC20__factory.connect(await token.getAddress(), governance).mint(
        operator.address,
        100_000n,
      )
    ).wait();
    await addMaker(registryAt(registry, governance), maker.address, "Acme Meters");
    ({ dir, cleanup } = await tempDir());
    const domain = await registryDomain(registryAt(registry, operator));
    const latest = await ethers.provider.getBlock("latest");
    now = BigInt(latest?.timestamp ?? 0);
    for (let i = 0; i < 2; i++) {
      const store = SoftwareKeyStore.generate("p256");
      const deviceId = deviceIdOf(store.deviceKey);
      await registerDevice({
        registry: registryAt(registry, operator),
        device: store,
        operator: operator.address,
        deadline: now + 600n,
        model: 11,
        endorsement: await makerEndorse(registryAt(registry, maker), maker, deviceId, 11),
      });
      const clone = SoftwareKeyStore.fromPrivateKey("p256", store.exportPrivateKey());
      devices.push({
        deviceId,
        signer: new DeviceSigner(store, domain),
        clone: new DeviceSigner(clone, domain),
      });
    }
  });
  after(async function () {
    await cleanup();
  });

  const chain = (from: number, json = false) => ({ registry, staking, from: String(from), json });

  it("deposit (--wei), show, request a withdrawal (token units); an early withdraw fails with a sentence", async function () {
    const device = devices[0];
    assert.ok(device !== undefined);
    const deposit = await runTask(["stake", "deposit"], {
      ...chain(2, true),
      deviceId: device.deviceId,
      amount: "5000",
      wei: true,
    });
    assert.equal(deposit.result.success, true, deposit.stderr);
    const credited = JSON.parse(deposit.stdout) as { credited: string; active: string };
    assert.deepEqual([credited.credited, credited.active], ["5000", "5000"]);

    const request = await runTask(["stake", "request-withdrawal"], {
      ...chain(2),
      deviceId: device.deviceId,
      amount: "0.000000000000001", // 1,000 base units of an 18-decimal token
    });
    assert.equal(request.result.success, true, request.stderr);
    assert.match(request.stdout, /^unlocks: +in 1d \(/m);

    const show = await runTask(["stake", "show"], {
      ...chain(0),
      deviceId: device.deviceId,
      wei: true,
    });
    assert.equal(show.result.success, true, show.stderr);
    assert.match(show.stdout, /^active: +4000$/m);
    assert.match(show.stdout, /^slashable: +5000$/m);
    assert.match(show.stdout, /^params\.bountyBps: +2000$/m);
    // For people: the collateral's units and symbol; --json keeps base units.
    const units = await runTask(["stake", "show"], { ...chain(0), deviceId: device.deviceId });
    assert.equal(units.result.success, true, units.stderr);
    assert.match(units.stdout, /^active: +0\.000000000000004 \w+$/m);
    assert.match(units.stdout, /^params\.minStake: +0\.000000000000001 \w+$/m);
    const json = await runTask(["stake", "show"], {
      ...chain(0),
      deviceId: device.deviceId,
      json: true,
    });
    assert.equal((JSON.parse(json.stdout) as { active: string }).active, "4000");

    const early = await runTask(["stake", "withdraw"], {
      ...chain(2, true),
      deviceId: device.deviceId,
    });
    assert.equal(early.result.success, false);
    assert.equal(early.result.error?.code, "StakingStillUnbonding");
    assert.match(
      early.stderr,
      /^Error StakingStillUnbonding: StakingStillUnbonding\(.*wait until then and withdraw again$/m,
    );
    assert.match(early.stdout, /"code": "StakingStillUnbonding"/);
  });

  it("refuses an amount that is not one, and says how to give base units", async function () {
    const device = devices[0];
    assert.ok(device !== undefined);
    const bad = await runTask(["stake", "deposit"], {
      ...chain(2),
      deviceId: device.deviceId,
      amount: "1.5 DTC",
    });
    assert.equal(bad.result.error?.code, "INVALID_INPUT");
    assert.match(bad.stderr, /--amount "1\.5 DTC" is not an amount of \w+ .*add --wei/);
    const fractionalWei = await runTask(["stake", "deposit"], {
      ...chain(2),
      deviceId: device.deviceId,
      amount: "1.5",
      wei: true,
    });
    assert.match(fractionalWei.stderr, /not a whole number of \w+ base units \(--wei\)/);
  });

  it("proof submit slashes the device from a proof file", async function () {
    const device = devices[0];
    assert.ok(device !== undefined);
    const reading = { feedId: FEED, sequence: 1n, timestamp: now, value: 20n };
    const file = join(dir, "proof.json");
    await writeProofFile(
      file,
      equivocationProof(
        await device.signer.signReading(reading),
        await device.clone.signReading({ ...reading, value: 21n }),
      ),
    );
    const submit = await runTask(["proof", "submit"], {
      registry,
      proofs,
      from: "3",
      json: false,
      file,
      beneficiary,
    });
    assert.equal(submit.result.success, true, submit.stderr);
    assert.match(submit.stdout, /^kind: +Equivocation$/m);
    assert.match(submit.stdout, /^slashed: +5000$/m);
    assert.match(submit.stdout, /^bounty: +1000$/m);
    const again = await runTask(["proof", "submit"], {
      registry,
      proofs,
      from: "3",
      json: false,
      file,
      beneficiary,
    });
    assert.equal(again.result.error?.code, "ProofsEvidenceUsed");
  });

  it("watchtower start catches a cloned key in a JSON-lines file and proves it", async function () {
    const device = devices[1];
    assert.ok(device !== undefined);
    const deposit = await runTask(["stake", "deposit"], {
      ...chain(2),
      deviceId: device.deviceId,
      amount: "2000",
      wei: true,
    });
    assert.equal(deposit.result.success, true, deposit.stderr);
    const reading = { feedId: FEED, sequence: 3n, timestamp: now, value: 7n };
    const lines = [
      await device.signer.signReading(reading),
      await device.clone.signReading({ ...reading, value: 8n }),
    ].map((s) =>
      JSON.stringify(
        signedReadingToJson({ reading: s.message, key: s.key, signature: s.signature }),
      ),
    );
    const source = join(dir, "readings.jsonl");
    await writeFile(source, `${lines.join("\n")}\nnot json\n`);
    const run = await runTask(["watchtower", "start"], {
      registry,
      proofs,
      from: "4",
      json: true,
      source,
      db: join(dir, "wt.sqlite"),
      port: 0,
      logLevel: "error",
      beneficiary,
    });
    assert.equal(run.result.success, true, run.stderr);
    const summary = JSON.parse(run.stdout) as {
      readings: number;
      proofs: { kind: string; status: string; deviceId: string }[];
    };
    assert.equal(summary.readings, 1);
    assert.deepEqual(
      summary.proofs.map((p) => [p.kind, p.status, p.deviceId]),
      [["equivocation", "submitted", device.deviceId]],
    );
    assert.match(run.stderr, /readings\.jsonl:3 skipped/);
  });

  it("asks for --staking on the in-process network, which no deployment folder describes", async function () {
    const missing = await runTask(["stake", "show"], {
      registry,
      staking: "",
      from: "",
      json: false,
      deviceId: devices[0]?.deviceId ?? "",
    });
    assert.equal(missing.result.success, false);
    assert.match(
      missing.stderr,
      /no DeviceStaking address for the in-process network \(chain 31337\), which starts empty on every run: pass --staking <address>/,
    );
  });
});
