import assert from "node:assert/strict";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { DeviceSigner } from "../../src/device/device-signer.js";
import { deviceIdOf, type Curve } from "../../src/protocol/index.js";
import {
  ContractError,
  addMaker,
  makerBatch,
  makerEndorse,
  publishBatch,
  readBatchEntries,
  registerDevice,
  registryDomain,
} from "../../src/client/index.js";
import { MODEL, deadlineIn, deployFixture, networkHelpers } from "./fixture.js";

const CURVES: readonly Curve[] = ["p256", "secp256k1"];

describe("client", function () {
  describe("addMaker", function () {
    it("adds a maker and returns its id", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      assert.equal(f.makerId, 1);
      const second = await addMaker(f.asGovernance, f.other.address, "Globex");
      assert.equal(second.maker, 2);
      assert.equal(second.signer, f.other.address.toLowerCase());
      assert.ok(second.gasUsed > 0n);
    });

    it("reverts with a decoded error when the signer already is a maker", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      await assert.rejects(
        addMaker(f.asGovernance, f.makerAccount.address, "again"),
        (err: unknown) => {
          assert.ok(err instanceof ContractError);
          assert.equal(err.code, "DeviceRegistrySignerIsMaker");
          assert.match(
            err.message,
            /is already the signer of maker 1: give each maker its own key/,
          );
          return true;
        },
      );
    });
  });

  describe("makerEndorse", function () {
    it("signs Endorse under the registry's domain with the maker's Ethereum key", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const deviceId = deviceIdOf(SoftwareKeyStore.generate("p256").deviceKey);
      const e = await makerEndorse(f.asMaker, f.makerAccount, deviceId, MODEL);
      const domain = await registryDomain(f.asMaker);
      assert.equal(e.maker, f.makerId);
      assert.equal(e.chainId, domain.chainId);
      assert.equal(e.registry, domain.verifyingContract);
      assert.equal(e.signature.length, 132);
    });

    it("refuses a key that is not a maker's", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      await assert.rejects(makerEndorse(f.asOther, f.other, `0x${"11".repeat(32)}`, MODEL), {
        code: "DeviceRegistryNotMaker",
      });
    });
  });

  describe("registerDevice", function () {
    for (const curve of CURVES) {
      it(`registers a ${curve} device with a single maker endorsement`, async function () {
        const f = await networkHelpers.loadFixture(deployFixture);
        const store = SoftwareKeyStore.generate(curve);
        const endorsement = await makerEndorse(
          f.asMaker,
          f.makerAccount,
          deviceIdOf(store.deviceKey),
          MODEL,
        );
        const r = await registerDevice({
          registry: f.asOther, // anyone may relay; the operator is what the device signed
          device: store,
          operator: f.operator.address,
          deadline: await deadlineIn(600),
          model: MODEL,
          endorsement,
        });
        assert.equal(r.deviceId, deviceIdOf(store.deviceKey));
        assert.equal(r.method, "register");
        assert.equal(r.maker, f.makerId);
        assert.ok(r.gasUsed > 0n && r.gasUsed < 200_000n, `gas ${r.gasUsed.toString()}`);
        const info = await f.asOther.deviceInfo(r.deviceId);
        assert.equal(info.status, 1n);
        assert.equal(info.operator, f.operator.address);
        assert.equal(info.model, BigInt(MODEL));
      });

      it(`registers a ${curve} device from a published batch manifest`, async function () {
        const f = await networkHelpers.loadFixture(deployFixture);
        const [store, second, third] = [
          SoftwareKeyStore.generate(curve),
          SoftwareKeyStore.generate("p256"),
          SoftwareKeyStore.generate("secp256k1"),
        ];
        const entries = readBatchEntries(
          [
            { deviceKey: store.deviceKey },
            deviceIdOf(second.deviceKey),
            { ...third.deviceKey, model: 9 },
          ],
          MODEL,
        );
        assert.deepEqual(
          entries.map((e) => e.model),
          [MODEL, MODEL, 9],
        );
        const manifest = makerBatch(entries);
        const published = await publishBatch(f.asMaker, manifest, "ipfs://batch-1");
        assert.equal(published.maker, f.makerId);
        const entry = manifest.entries.find((e) => e.deviceId === deviceIdOf(store.deviceKey));
        assert.ok(entry !== undefined);
        const r = await registerDevice({
          registry: f.asOperator,
          device: store,
          operator: f.operator.address,
          deadline: await deadlineIn(600),
          model: entry.model,
          endorsement: { root: manifest.root, proof: entry.proof },
        });
        assert.equal(r.method, "registerFromBatch");
        assert.equal((await f.asOperator.deviceInfo(r.deviceId)).maker, BigInt(f.makerId));
      });
    }

    it("accepts a DeviceSigner and rejects one bound to another registry", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const store = SoftwareKeyStore.generate("p256");
      const endorsement = await makerEndorse(
        f.asMaker,
        f.makerAccount,
        deviceIdOf(store.deviceKey),
        MODEL,
      );
      const other = new DeviceSigner(store, { chainId: 1n, verifyingContract: f.address });
      const base = {
        registry: f.asOperator,
        operator: f.operator.address,
        deadline: await deadlineIn(600),
        model: MODEL,
        endorsement,
      };
      await assert.rejects(registerDevice({ ...base, device: other }), { code: "INVALID_INPUT" });
      const right = new DeviceSigner(store, await registryDomain(f.asOperator));
      assert.equal((await registerDevice({ ...base, device: right })).deviceId, right.deviceId);
    });

    it("reverts with decoded errors for an endorsement of another model, a wrong proof and a reused key", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const store = SoftwareKeyStore.generate("p256");
      const id = deviceIdOf(store.deviceKey);
      const endorsement = await makerEndorse(f.asMaker, f.makerAccount, id, MODEL);
      const base = {
        registry: f.asOperator,
        device: store,
        operator: f.operator.address,
        deadline: await deadlineIn(600),
      };
      await assert.rejects(
        registerDevice({ ...base, model: MODEL + 1, endorsement }),
        (err: unknown) => {
          assert.ok(err instanceof ContractError);
          assert.equal(err.code, "DeviceRegistryInvalidMakerSignature");
          assert.match(
            err.message,
            /have the maker sign it again \(maker endorse\) with the right --model/,
          );
          return true;
        },
      );
      const manifest = makerBatch([
        { deviceId: `0x${"22".repeat(32)}`, model: MODEL },
        { deviceId: `0x${"33".repeat(32)}`, model: MODEL },
      ]);
      await publishBatch(f.asMaker, manifest);
      await assert.rejects(
        registerDevice({
          ...base,
          model: MODEL,
          endorsement: { root: manifest.root, proof: manifest.entries[0]?.proof ?? [] },
        }),
        { code: "DeviceRegistryInvalidBatchProof" },
      );
      await registerDevice({ ...base, model: MODEL, endorsement });
      await assert.rejects(registerDevice({ ...base, model: MODEL, endorsement }), {
        code: "DeviceRegistryKeyTaken",
      });
    });

    it("reverts with DeviceRegistryBatchExists when a batch is published twice", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const manifest = makerBatch([{ deviceId: `0x${"44".repeat(32)}`, model: 1 }]);
      await publishBatch(f.asMaker, manifest);
      await assert.rejects(publishBatch(f.asMaker, manifest), {
        code: "DeviceRegistryBatchExists",
      });
      await assert.rejects(
        publishBatch(f.asOther, makerBatch([{ deviceId: `0x${"55".repeat(32)}`, model: 1 }])),
        {
          code: "DeviceRegistryNotMaker",
        },
      );
    });
  });

  describe("readBatchEntries", function () {
    it("rejects a non-array, an entry without id and an entry without model", function () {
      assert.throws(() => readBatchEntries({}), /JSON array/);
      assert.throws(
        () => readBatchEntries([{ name: "x" }], 1),
        /device #1 has neither a deviceId nor a \{keyType, key\}/,
      );
      assert.throws(
        () => readBatchEntries([`0x${"11".repeat(32)}`]),
        /device #1 has no model: give one per device or pass --model/,
      );
    });
  });
});
