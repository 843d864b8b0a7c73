import assert from "node:assert/strict";
import {
  EXPLAINED_ERRORS,
  contractError,
  decodeRevertData,
  deprecateFirmware,
  listFirmware,
  parseSunset,
  publishFirmware,
  revokeFirmware,
} from "../../src/client/index.js";
import { measure, InvalidInputError } from "../../src/protocol/index.js";
import { IDeviceAttestation__factory } from "../../types/ethers-contracts/index.js";
import { releaseImages } from "./attestation-fixture.js";
import { MODEL, deployFixture, networkHelpers, tempDir, type Fixture } from "./fixture.js";
import { rejectsWith } from "./fixture.js";

describe("client", function () {
  describe("firmware", function () {
    let dir: string;
    let cleanup: () => Promise<void>;
    before(async function () {
      ({ dir, cleanup } = await tempDir());
    });
    after(async function () {
      await cleanup();
    });

    async function published(f: Fixture, version: string) {
      return publishFirmware({
        registry: f.asMaker,
        model: MODEL,
        version,
        images: await releaseImages(dir, version),
        uri: `ipfs://release-${version}`,
      });
    }

    it("publishes the measurement of the release images, as the device would measure them", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const images = await releaseImages(dir, "1.0.0");
      const r = await published(f, "1.0.0");
      const expected = await measure(images);
      assert.equal(r.firmwareId, 1);
      assert.equal(r.maker, f.makerId);
      assert.equal(r.measurement, expected.measurement);
      assert.deepEqual(r.imageDigests, expected.imageDigests);
      assert.ok(r.gasUsed > 0n);
      const [record, measurement] = await f.asOther.firmware(1);
      assert.equal(measurement, expected.measurement);
      assert.equal(record.status, 1n);
      assert.equal(await f.asOther.firmwareIdOf(f.makerId, MODEL, "1.0.0"), 1n);
    });

    it("refuses a second publication of a version, and publication by a non-maker", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      await published(f, "1.0.0");
      const dup = await rejectsWith(published(f, "1.0.0"), "AttestationVersionExists");
      assert.match(dup.message, /already published version "1.0.0" of model 7/);
      await rejectsWith(
        publishFirmware({
          registry: f.asOperator,
          model: MODEL,
          version: "9",
          images: await releaseImages(dir, "9"),
        }),
        "AttestationNotMaker",
      );
      await assert.rejects(
        publishFirmware({ registry: f.asMaker, model: MODEL, version: "2", images: [] }),
        InvalidInputError,
      );
    });

    it("deprecates by model and version with a sunset, revokes by id, and lists both", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      await published(f, "1.0.0");
      await published(f, "1.1.0");
      const now = BigInt(await networkHelpers.time.latest());
      const sunset = parseSunset("86400", now);
      const dep = await deprecateFirmware(f.asMaker, { model: MODEL, version: "1.0.0" }, sunset);
      assert.deepEqual([dep.firmwareId, dep.status, dep.sunset], [1, "Deprecated", sunset]);
      // Governance may revoke any firmware.
      const rev = await revokeFirmware(f.asGovernance, { id: 2 });
      assert.equal(rev.status, "Revoked");
      assert.equal(rev.revokedAt, BigInt(await networkHelpers.time.latest()));
      await rejectsWith(revokeFirmware(f.asMaker, { id: 2 }), "AttestationInvalidStatusChange");
      await rejectsWith(
        deprecateFirmware(f.asMaker, { model: MODEL, version: "3.0" }, sunset),
        "AttestationUnknownVersion",
      );
      await rejectsWith(revokeFirmware(f.asMaker, { id: 9 }), "AttestationUnknownFirmware");
      await rejectsWith(revokeFirmware(f.asOther, { id: 1 }), "AttestationNotMaker");

      const list = await listFirmware(f.asOther, { model: MODEL });
      assert.deepEqual(
        list.map((x) => [x.firmwareId, x.version, x.status, x.sunset, x.consistent, x.uri]),
        [
          [1, "1.0.0", "Deprecated", sunset, true, "ipfs://release-1.0.0"],
          [2, "1.1.0", "Revoked", null, true, "ipfs://release-1.1.0"],
        ],
      );
      assert.equal(list[1]?.changedBy, f.governance.address.toLowerCase());
      assert.deepEqual(await listFirmware(f.asOther, { maker: f.makerId + 1 }), []);
    });

    it("explains every custom error of IDeviceAttestation in a sentence", function () {
      const errors = IDeviceAttestation__factory.abi.filter((e) => e.type === "error");
      assert.ok(errors.length >= 18);
      for (const e of errors)
        assert.ok(EXPLAINED_ERRORS.includes(e.name), `${e.name} has no sentence`);
      const iface = IDeviceAttestation__factory.createInterface();
      const data = iface.encodeErrorResult("AttestationStaleChallenge", [
        `0x${"11".repeat(32)}`,
        `0x${"22".repeat(32)}`,
        0,
      ]);
      const decoded = decodeRevertData(data);
      assert.equal(decoded?.code, "AttestationStaleChallenge");
      assert.match(decoded.message, /pending issued nonce \(each is used once\)/);
      assert.match(
        contractError("AttestationFirmwareNotTrusted", [`0x${"11".repeat(32)}`, 3, 2]).message,
        /firmware 3, which is Deprecated past its sunset/,
      );
    });

    it("reads a sunset as seconds from now or an ISO date", function () {
      assert.equal(parseSunset("60", 1000n), 1060n);
      assert.equal(parseSunset("2030-01-01T00:00:00Z", 0n), 1893456000n);
      assert.throws(() => parseSunset("next week", 0n), /neither seconds from now nor an ISO date/);
    });
  });
});
