import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import hre from "hardhat";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { deviceIdOf, type Hex } from "../../src/protocol/index.js";
import { TEST_SCRYPT, tempDir } from "../client/fixture.js";
import { runTask } from "./run-task.js";

describe("tasks", function () {
  // The tasks connect with network.getOrCreate(): this is the same in-process chain.
  let registry: string;
  let accounts: string[];
  let dir: string;
  let cleanup: () => Promise<void>;

  before(async function () {
    const { ethers } = await hre.network.getOrCreate();
    const signers = await ethers.getSigners();
    accounts = signers.map((s) => s.address.toLowerCase());
    const deployed = await ethers.deployContract("DeviceRegistry", [accounts[0]]);
    registry = (await deployed.getAddress()).toLowerCase();
    ({ dir, cleanup } = await tempDir());
  });
  after(async function () {
    await cleanup();
  });

  const chain = (from: number) => ({ registry, from: String(from), json: false });

  it("run the maker and operator story end to end, printing human and JSON output", async function () {
    const add = await runTask(["maker", "add"], {
      ...chain(0),
      signer: accounts[1],
      name: "Acme Sensors",
    });
    assert.equal(add.result.success, true, add.stderr);
    assert.match(add.stdout, /^maker: +1$/m);
    assert.match(add.stderr, new RegExp(`registry ${registry}, from `, "i"));

    const keyFile = join(dir, "device-1.json");
    const keygen = await runTask(["device", "keygen"], {
      curve: "secp256k1",
      keystore: "file",
      out: keyFile,
      password: "pw",
      module: "",
      token: "",
      pin: "",
      label: "",
      json: true,
    });
    assert.equal(keygen.result.success, true, keygen.stderr);
    const made = JSON.parse(keygen.stdout) as { deviceId: Hex; keyType: number };
    assert.equal(made.keyType, 1);

    const endorsementFile = join(dir, "endorsement.json");
    const endorse = await runTask(["maker", "endorse"], {
      ...chain(1),
      deviceId: "",
      keyFile,
      model: 3,
      out: endorsementFile,
    });
    assert.equal(endorse.result.success, true, endorse.stderr);
    const endorsement = JSON.parse(await readFile(endorsementFile, "utf8")) as {
      deviceId: string;
      chainId: string;
      maker: number;
    };
    assert.deepEqual(
      [endorsement.deviceId, endorsement.chainId, endorsement.maker],
      [made.deviceId, "31337", 1],
    );

    const keyArgs = { keyFile, password: "pw", module: "", token: "", pin: "", label: "" };
    const register = await runTask(["device", "register"], {
      ...chain(2),
      ...keyArgs,
      operator: "",
      model: -1,
      endorsement: endorsementFile,
      manifest: "",
      deadline: 600,
      json: true,
    });
    assert.equal(register.result.success, true, register.stderr);
    const registered = JSON.parse(register.stdout) as {
      deviceId: string;
      operator: string;
      gasUsed: string;
      method: string;
    };
    assert.deepEqual(
      [registered.deviceId, registered.operator, registered.method],
      [made.deviceId, accounts[2], "register"],
    );
    assert.match(registered.gasUsed, /^\d+$/);

    const show = await runTask(["device", "show"], { ...chain(0), deviceId: made.deviceId });
    assert.equal(show.result.success, true, show.stderr);
    assert.match(show.stdout, /^status: +Active$/m);
    assert.match(show.stdout, /^model: +3$/m);
    assert.match(show.stdout, new RegExp(`^operator: +${accounts[2] ?? ""}$`, "m"));

    // A batch of two devices (key files written with a low scrypt cost), published, one registered from it.
    const batchStores = [
      SoftwareKeyStore.generate("p256"),
      SoftwareKeyStore.generate("secp256k1"),
    ] as const;
    const batchKey = join(dir, "batch-0.json");
    await batchStores[0].save(batchKey, "pw2", TEST_SCRYPT);
    const devicesFile = join(dir, "devices.json");
    await writeFile(
      devicesFile,
      JSON.stringify([
        JSON.parse(await readFile(batchKey, "utf8")),
        { deviceKey: batchStores[1].deviceKey, model: 6 },
      ]),
    );
    const manifestFile = join(dir, "manifest.json");
    const batch = await runTask(["maker", "batch"], {
      ...chain(1),
      input: devicesFile,
      model: 5,
      out: manifestFile,
      publish: true,
      uri: "ipfs://b1",
    });
    assert.equal(batch.result.success, true, batch.stderr);
    assert.match(batch.stdout, /^published: +true$/m);
    const fromBatch = await runTask(["device", "register"], {
      ...chain(2),
      ...keyArgs,
      keyFile: batchKey,
      password: "pw2",
      operator: "",
      model: -1,
      endorsement: "",
      manifest: manifestFile,
      deadline: 600,
    });
    assert.equal(fromBatch.result.success, true, fromBatch.stderr);
    assert.match(fromBatch.stdout, /^method: +registerFromBatch$/m);

    const list = await runTask(["device", "list"], {
      ...chain(0),
      operator: accounts[2],
      maker: 0,
      fromBlock: 0,
      json: true,
    });
    assert.equal(list.result.success, true, list.stderr);
    const devices = JSON.parse(list.stdout) as {
      deviceId: string;
      status: string;
      model: number;
    }[];
    assert.deepEqual(
      devices.map((d) => [d.deviceId, d.status, d.model]),
      [
        [made.deviceId, "Active", 3],
        [deviceIdOf(batchStores[0].deviceKey), "Active", 5],
      ],
    );

    // Custody moves to account 3, which rotates the key and then suspends the device.
    const transfer = await runTask(["device", "transfer"], {
      ...chain(2),
      deviceId: made.deviceId,
      to: accounts[3],
      cancel: false,
    });
    assert.equal(transfer.result.success, true, transfer.stderr);
    const accept = await runTask(["device", "accept"], { ...chain(3), deviceId: made.deviceId });
    assert.equal(accept.result.success, true, accept.stderr);
    const newKeyFile = join(dir, "device-1-new.json");
    await SoftwareKeyStore.generate("p256").save(newKeyFile, "pw3", TEST_SCRYPT);
    const rotate = await runTask(["device", "rotate-key"], {
      ...chain(3),
      ...keyArgs,
      deviceId: "",
      newKeyFile,
      newPassword: "pw3",
      newToken: "",
      newPin: "",
      newLabel: "",
      deadline: 600,
    });
    assert.equal(rotate.result.success, true, rotate.stderr);
    assert.match(rotate.stdout, new RegExp(`^deviceId: +${made.deviceId}$`, "m"));
    // The new key's file now names the device it signs for (not the id its own key would give).
    assert.equal((await SoftwareKeyStore.info(newKeyFile)).deviceId, made.deviceId);
    const suspend = await runTask(["device", "suspend"], {
      ...chain(3),
      deviceId: made.deviceId,
      reason: "maintenance",
    });
    assert.equal(suspend.result.success, true, suspend.stderr);
    assert.match(suspend.stdout, /^status: +Suspended$/m);
  });

  it("fail with a decoded sentence on stderr and a failed result (exit code 1)", async function () {
    const unknown = `0x${"77".repeat(32)}`;
    const show = await runTask(["device", "show"], { ...chain(0), deviceId: unknown });
    assert.equal(show.result.success, false);
    assert.equal(show.result.error?.code, "DeviceRegistryUnknownDevice");
    assert.match(
      show.stderr,
      /Error DeviceRegistryUnknownDevice: DeviceRegistryUnknownDevice\(0x7777.*\): device 0x7777.* is not registered on this registry/,
    );
    assert.equal(show.stdout, "");

    const notGovernance = await runTask(["maker", "add"], {
      ...chain(5),
      signer: accounts[6],
      name: "Mallory",
      json: true,
    });
    assert.equal(notGovernance.result.success, false);
    const printed = JSON.parse(notGovernance.stdout) as { error: { code: string; args: string[] } };
    assert.equal(printed.error.code, "AccessControlUnauthorizedAccount");
    assert.equal(printed.error.args[0]?.toLowerCase(), accounts[5]);
    assert.match(notGovernance.stderr, /lacks GOVERNOR_ROLE/);

    const noAccount = await runTask(["device", "decommission"], {
      ...chain(0),
      from: "99",
      deviceId: unknown,
    });
    assert.equal(noAccount.result.success, false);
    assert.equal(noAccount.result.error?.code, "INVALID_INPUT");
    assert.match(
      noAccount.stderr,
      /--from 99 is neither an address nor an account index below \d+/,
    );
  });
});
