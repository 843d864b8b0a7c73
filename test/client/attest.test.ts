import assert from "node:assert/strict";
import { join } from "node:path";
import {
  attestDevice,
  changeStatus,
  deprecateFirmware,
  deviceTrust,
  publishFirmware,
  revokeFirmware,
  submitEvidence,
  type AttestResult,
} from "../../src/client/index.js";
import type { KeyStore } from "../../src/device/key-store.js";
import type { Signed } from "../../src/device/device-signer.js";
import type { Curve } from "../../src/protocol/index.js";
import { appraiseOnChain, trustVerdictName } from "../../src/verify/appraise.js";
import { releaseImages } from "./attestation-fixture.js";
import {
  MODEL,
  deployFixture,
  networkHelpers,
  registeredDevice,
  tempDir,
  type Fixture,
} from "./fixture.js";
import { rejectsWith } from "./fixture.js";

describe("client", function () {
  describe("attestDevice and deviceTrust", function () {
    let dir: string;
    let cleanup: () => Promise<void>;
    before(async function () {
      ({ dir, cleanup } = await tempDir());
    });
    after(async function () {
      await cleanup();
    });

    async function publish(f: Fixture, version: string) {
      return publishFirmware({
        registry: f.asMaker,
        model: MODEL,
        version,
        images: await releaseImages(dir, version),
      });
    }

    async function attest(
      f: Fixture,
      store: KeyStore,
      version: string,
      options: {
        challenge?: "block" | "nonce";
        state?: string;
        registry?: Fixture["asOther"];
      } = {},
    ): Promise<AttestResult> {
      return attestDevice({
        registry: options.registry ?? f.asOther,
        device: store,
        images: await releaseImages(dir, version),
        bootState: options.state,
        challenge: options.challenge ?? "block",
      });
    }

    for (const curve of ["p256", "secp256k1"] as const satisfies readonly Curve[]) {
      it(`boots, attests and is trusted; a repeat attestation counts the next boot (${curve})`, async function () {
        const f = await networkHelpers.loadFixture(deployFixture);
        const fw = await publish(f, "1.0.0");
        const { store, deviceId } = await registeredDevice(f, curve);
        const state = join(dir, `boot-${curve}.json`);
        const first = await attest(f, store, "1.0.0", { state });
        assert.equal(first.deviceId, deviceId);
        assert.equal(first.firmwareId, fw.firmwareId);
        assert.equal(first.measurement, fw.measurement);
        assert.equal(first.bootCount, 1n);
        assert.equal(first.challengeMode, "block");
        assert.equal(first.challengeBlock, first.blockNumber - 2);
        assert.equal(first.challengeGasUsed, null);

        const view = await deviceTrust(f.asOther, deviceId, 3600n);
        assert.equal(view.trusted, true, view.reason);
        assert.equal(view.verdict, "Trusted");
        assert.equal(view.firmwareVersion, "1.0.0");
        assert.equal(view.firmwareStatus, "Good");
        assert.equal(view.measurement, fw.measurement);
        assert.equal(view.attestedAt, first.timestamp);
        assert.equal(view.bootCount, 1n);
        assert.equal(await f.asOther.isTrusted(deviceId, 3600n), true);

        // The operator asks for a nonce: the challenge costs a transaction, then serves once.
        const repeat = await attest(f, store, "1.0.0", {
          state,
          challenge: "nonce",
          registry: f.asOperator,
        });
        assert.equal(repeat.bootCount, 2n);
        assert.equal(repeat.challengeBlock, 0);
        assert.ok(repeat.challengeGasUsed !== null && repeat.challengeGasUsed > 0n);
        assert.equal(await f.asOther.challengeOf(deviceId), `0x${"00".repeat(32)}`);
        const evidence = await f.asOther.evidenceOf(deviceId);
        assert.equal(evidence.bootCount, 2n);
        const third = await attest(f, store, "1.0.0", { state });
        assert.equal(third.bootCount, 3n);
        console.log(
          `      gas (${curve}): first attestation ${first.gasUsed.toString()}, repeat ${third.gasUsed.toString()} (block hash) / ${repeat.gasUsed.toString()} (nonce, + issueChallenge ${repeat.challengeGasUsed.toString()})`,
        );
      });
    }

    it("rejects with decoded errors: unknown images, a replay, a nonce from a stranger, a counter gone back", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      await publish(f, "1.0.0");
      const { store, deviceId } = await registeredDevice(f, "p256");
      const unknown = await rejectsWith(
        attest(f, store, "0.9-dev"),
        "AttestationUnknownMeasurement",
      );
      assert.match(unknown.message, /which no maker published/);
      const stranger = await rejectsWith(
        attest(f, store, "1.0.0", { challenge: "nonce" }),
        "AttestationNotOperator",
      );
      assert.match(stranger.message, /only they may issue it a challenge/);

      const state = join(dir, "boot-replay.json");
      const ok = await attest(f, store, "1.0.0", { state });
      assert.equal(ok.evidence.message.deviceId, deviceId);
      // The same signed evidence again: not newer than the recorded one.
      await rejectsWith(
        submitEvidence(f.asOther, ok.evidence, ok.challengeBlock),
        "AttestationNotNewer",
      );
      // Without its state file the device reports no counter (0) after having reported 1.
      const back = await rejectsWith(attest(f, store, "1.0.0"), "AttestationBootCountDecreased");
      assert.deepEqual(back.args.slice(1), [0n, 1n]);
    });

    it("untrusts every device on a firmware in the block that revokes it", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const fw = await publish(f, "1.0.0");
      const devices = [await registeredDevice(f, "p256"), await registeredDevice(f, "secp256k1")];
      for (const d of devices) await attest(f, d.store, "1.0.0");
      for (const d of devices) assert.equal(await f.asOther.isTrusted(d.deviceId, 3600n), true);
      const revoked = await revokeFirmware(f.asMaker, { id: fw.firmwareId });
      for (const d of devices) {
        assert.equal(
          await f.asOther.isTrusted(d.deviceId, 3600n, { blockTag: revoked.blockNumber }),
          false,
        );
        const view = await deviceTrust(f.asOther, d.deviceId, 3600n);
        assert.equal(view.verdict, "FirmwareRevoked");
        assert.match(view.reason, /which its maker or governance revoked: update it/);
      }
      // Revoked firmware is refused as new evidence, too.
      await rejectsWith(
        attest(f, devices[0]?.store ?? fail(), "1.0.0"),
        "AttestationFirmwareNotTrusted",
      );
      // v2 published, the device updated: trusted again.
      await publish(f, "2.0.0");
      const d0 = devices[0] ?? fail();
      await attest(f, d0.store, "2.0.0");
      assert.equal((await deviceTrust(f.asOther, d0.deviceId, 3600n)).verdict, "Trusted");
    });

    it("the off-chain appraisal agrees with trustReport on every verdict", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const maxAge = 600n;
      const v1 = await publish(f, "1.0.0");
      const { store, deviceId } = await registeredDevice(f, "p256");
      let evidence: Signed<"Attestation"> | undefined;
      const seen: string[] = [];

      async function agree(expected: string): Promise<void> {
        const report = await f.asOther.trustReport(deviceId, maxAge, {
          blockTag: await networkHelpers.time.latestBlock(),
        });
        const onChain = trustVerdictName(report.verdict);
        const offChain = await appraiseOnChain(f.asOther, { deviceId, evidence, maxAge });
        const view = await deviceTrust(f.asOther, deviceId, maxAge);
        assert.equal(onChain, expected);
        assert.equal(offChain.verdict, onChain, offChain.reason);
        assert.equal(view.verdict, onChain);
        assert.equal(offChain.trusted, await f.asOther.isTrusted(deviceId, maxAge));
        if (evidence !== undefined) assert.equal(offChain.firmwareId, Number(report.firmwareId));
        seen.push(onChain);
      }
      const reattest = async (version: string): Promise<void> => {
        evidence = (await attest(f, store, version)).evidence;
      };

      await agree("NeverAttested");
      await reattest("1.0.0");
      await agree("Trusted");
      await networkHelpers.time.increase(maxAge + 1n);
      await agree("Stale");

      await reattest("1.0.0");
      const sunset = BigInt(await networkHelpers.time.latest()) + 100n;
      await deprecateFirmware(f.asMaker, { id: v1.firmwareId }, sunset);
      await agree("Trusted");
      await networkHelpers.time.increaseTo(sunset);
      await agree("FirmwareSunset");

      await publish(f, "2.0.0");
      await reattest("2.0.0");
      await agree("Trusted");
      await revokeFirmware(f.asGovernance, { model: MODEL, version: "2.0.0", maker: f.makerId });
      await agree("FirmwareRevoked");

      await publish(f, "3.0.0");
      await reattest("3.0.0");
      await changeStatus(f.asOperator, deviceId, "suspend", "maintenance");
      await agree("NotActive");
      assert.deepEqual([...new Set(seen)].sort(), [
        "FirmwareRevoked",
        "FirmwareSunset",
        "NeverAttested",
        "NotActive",
        "Stale",
        "Trusted",
      ]);
    });
  });
});

function fail(): never {
  throw new Error("missing test device");
}
