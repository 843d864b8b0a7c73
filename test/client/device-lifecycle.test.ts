import assert from "node:assert/strict";
import { decodeBytes32String } from "ethers";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { keyHash } from "../../src/protocol/index.js";
import {
  ContractError,
  changeStatus,
  encodeReason,
  listDevices,
  rotateKey,
  showDevice,
  transferCustody,
} from "../../src/client/index.js";
import { MODEL, deadlineIn, deployFixture, networkHelpers, registeredDevice } from "./fixture.js";

describe("client", function () {
  describe("showDevice", function () {
    it("shows a registered device readably", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const { deviceId } = await registeredDevice(f, "p256");
      const view = await showDevice(f.asOther, deviceId);
      assert.deepEqual(view, {
        deviceId,
        status: "Active",
        keyType: "P-256",
        operator: f.operator.address.toLowerCase(),
        pendingOperator: null,
        maker: f.makerId,
        makerSigner: f.makerAccount.address.toLowerCase(),
        model: MODEL,
        nonce: 0,
        keyHash: deviceId,
        rotated: false,
      });
    });

    it("throws DeviceRegistryUnknownDevice for an id the registry does not know", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      await assert.rejects(showDevice(f.asOther, `0x${"ab".repeat(32)}`), (err: unknown) => {
        assert.ok(err instanceof ContractError);
        assert.equal(err.code, "DeviceRegistryUnknownDevice");
        assert.match(err.message, /check the device id, the --registry address and the network/);
        return true;
      });
    });
  });

  describe("rotateKey", function () {
    it("rotates to a key of the other curve, finding the device by its current key", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const { store, deviceId } = await registeredDevice(f, "p256");
      const next = SoftwareKeyStore.generate("secp256k1");
      const r = await rotateKey({
        registry: f.asOperator,
        current: store,
        next,
        deadline: await deadlineIn(600),
      });
      assert.equal(r.deviceId, deviceId);
      assert.equal(r.nonce, 0n);
      assert.equal(r.newKeyHash, keyHash(next.deviceKey));
      const view = await showDevice(f.asOperator, deviceId);
      assert.equal(view.keyType, "secp256k1");
      assert.equal(view.rotated, true);
      assert.equal(view.nonce, 1);
      // The rotated key is found through keyOwner; the old one no longer authorizes.
      const third = SoftwareKeyStore.generate("p256");
      const again = await rotateKey({
        registry: f.asOperator,
        current: next,
        next: third,
        deadline: await deadlineIn(600),
      });
      assert.equal(again.deviceId, deviceId);
      assert.equal(again.nonce, 1n);
      await assert.rejects(
        rotateKey({
          registry: f.asOperator,
          current: store,
          next: SoftwareKeyStore.generate("p256"),
          deadline: await deadlineIn(600),
        }),
        { code: "DeviceRegistryWrongKey" },
      );
    });

    it("reverts with DeviceRegistryNotOperator for anyone but the operator, and refuses the same key", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const { store } = await registeredDevice(f, "secp256k1");
      const deadline = await deadlineIn(600);
      await assert.rejects(
        rotateKey({
          registry: f.asOther,
          current: store,
          next: SoftwareKeyStore.generate("p256"),
          deadline,
        }),
        {
          code: "DeviceRegistryNotOperator",
        },
      );
      await assert.rejects(
        rotateKey({ registry: f.asOperator, current: store, next: store, deadline }),
        { code: "INVALID_INPUT" },
      );
    });

    it("reverts with DeviceRegistryExpired after the deadline", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const { store } = await registeredDevice(f, "p256");
      const deadline = await deadlineIn(10);
      await networkHelpers.time.increase(60);
      await assert.rejects(
        rotateKey({
          registry: f.asOperator,
          current: store,
          next: SoftwareKeyStore.generate("p256"),
          deadline,
        }),
        {
          code: "DeviceRegistryExpired",
        },
      );
    });
  });

  describe("transferCustody", function () {
    it("starts, cancels, restarts and accepts a transfer", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const { deviceId } = await registeredDevice(f);
      const started = await transferCustody(f.asOperator, deviceId, "start", f.other.address);
      assert.equal(started.to, f.other.address.toLowerCase());
      assert.equal(
        (await showDevice(f.asOther, deviceId)).pendingOperator,
        f.other.address.toLowerCase(),
      );
      const cancelled = await transferCustody(f.asOperator, deviceId, "cancel");
      assert.equal(cancelled.to, null);
      await assert.rejects(transferCustody(f.asOther, deviceId, "accept"), {
        code: "DeviceRegistryNoPendingTransfer",
      });
      await transferCustody(f.asOperator, deviceId, "start", f.other.address);
      await assert.rejects(transferCustody(f.asGovernance, deviceId, "accept"), {
        code: "DeviceRegistryNotPendingOperator",
      });
      const accepted = await transferCustody(f.asOther, deviceId, "accept");
      assert.equal(accepted.from, f.operator.address.toLowerCase());
      assert.equal(accepted.to, f.other.address.toLowerCase());
      assert.equal((await showDevice(f.asOther, deviceId)).operator, f.other.address.toLowerCase());
    });

    it("needs a valid --to", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const { deviceId } = await registeredDevice(f);
      await assert.rejects(
        transferCustody(f.asOperator, deviceId, "start"),
        /--to must be 0x-prefixed hex/,
      );
    });
  });

  describe("listDevices", function () {
    it("lists by operator (following transfers), by maker and all, with current status", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const a = await registeredDevice(f, "p256");
      const b = await registeredDevice(f, "secp256k1");
      const c = await registeredDevice(f, "p256");
      await transferCustody(f.asOperator, b.deviceId, "start", f.other.address);
      await transferCustody(f.asOther, b.deviceId, "accept");
      await changeStatus(f.asOperator, c.deviceId, "decommission");

      const mine = await listDevices(f.asOther, { operator: f.operator.address });
      assert.deepEqual(
        mine.map((d) => [d.deviceId, d.status]),
        [
          [a.deviceId, "Active"],
          [c.deviceId, "Decommissioned"],
        ],
      );
      const theirs = await listDevices(f.asOther, { operator: f.other.address });
      assert.deepEqual(
        theirs.map((d) => [d.deviceId, d.keyType, d.firstKey]),
        [[b.deviceId, "secp256k1", b.store.deviceKey.key]],
      );
      assert.equal((await listDevices(f.asOther, { maker: f.makerId })).length, 3);
      assert.equal((await listDevices(f.asOther, { maker: 2 })).length, 0);
      assert.equal((await listDevices(f.asOther)).length, 3);
    });
  });

  describe("changeStatus", function () {
    it("suspends with a reason, reinstates by governance, revokes, and then refuses everything", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const { deviceId } = await registeredDevice(f);
      const suspended = await changeStatus(f.asOperator, deviceId, "suspend", "maintenance");
      assert.equal(suspended.status, "Suspended");
      assert.equal(decodeBytes32String(suspended.reason ?? "0x"), "maintenance");
      const events = await f.asOperator.queryFilter(f.asOperator.filters.DeviceSuspended(deviceId));
      assert.equal(decodeBytes32String(events[0]?.args.reason ?? ""), "maintenance");
      await assert.rejects(changeStatus(f.asOperator, deviceId, "reinstate"), {
        code: "AccessControlUnauthorizedAccount",
      });
      assert.equal((await changeStatus(f.asGovernance, deviceId, "reinstate")).status, "Active");
      assert.equal(
        (await changeStatus(f.asOperator, deviceId, "revoke", "key leaked")).status,
        "Revoked",
      );
      await assert.rejects(changeStatus(f.asOperator, deviceId, "decommission"), (err: unknown) => {
        assert.ok(err instanceof ContractError);
        assert.equal(err.code, "DeviceRegistryTerminal");
        assert.match(err.message, /is Revoked, which is final/);
        return true;
      });
      await assert.rejects(changeStatus(f.asOperator, deviceId, "suspend", "again"), {
        code: "DeviceRegistryNotActive",
      });
    });

    it("lets only operator, suspender or governance suspend, and refuses a reason decommission cannot record", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const { deviceId } = await registeredDevice(f);
      await assert.rejects(changeStatus(f.asOther, deviceId, "suspend", "grief"), {
        code: "DeviceRegistryUnauthorized",
      });
      await assert.rejects(
        changeStatus(f.asOperator, deviceId, "decommission", "old"),
        /decommission records no reason on chain/,
      );
      assert.equal(
        (await changeStatus(f.asOperator, deviceId, "decommission")).status,
        "Decommissioned",
      );
    });

    it("rejects a reason longer than 31 bytes", function () {
      assert.throws(() => encodeReason("x".repeat(32)), /longer than 31 bytes: shorten it/);
      assert.equal(decodeBytes32String(encodeReason("slashed")), "slashed");
    });
  });
});
