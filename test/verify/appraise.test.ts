import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { DeviceSigner, type Signed } from "../../src/device/device-signer.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { keyHash, measureImages, toHex, type Domain, type Hex } from "../../src/protocol/index.js";
import {
  TRUST_VERDICTS,
  appraise,
  explainVerdict,
  type AppraisalInput,
  type FirmwareReference,
} from "../../src/verify/appraise.js";

const DOMAIN: Domain = {
  chainId: 31337n,
  verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
};
const NOW = 1_700_000_000n;
const V1 = measureImages([Buffer.from("boot"), Buffer.from("kernel"), Buffer.from("app v1")]);
const OTHER = measureImages([Buffer.from("boot"), Buffer.from("kernel"), Buffer.from("app x")]);

function reference(overrides: Partial<FirmwareReference> = {}): FirmwareReference {
  return {
    firmwareId: 1,
    maker: 1,
    model: 7,
    status: "Good",
    sunset: 0n,
    revokedAt: 0n,
    measurement: V1.measurement,
    ...overrides,
  };
}

describe("appraise", function () {
  const store = SoftwareKeyStore.generate("p256");
  const signer = new DeviceSigner(store, DOMAIN);
  const challenge: Hex = toHex(randomBytes(32));
  let evidence: Signed<"Attestation">;

  before(async function () {
    evidence = await signer.signAttestation({
      measurement: V1.measurement,
      challenge,
      timestamp: NOW - 10n,
      bootCount: 3n,
    });
  });

  function input(overrides: Partial<AppraisalInput> = {}): AppraisalInput {
    return {
      domain: DOMAIN,
      device: {
        deviceId: signer.deviceId,
        status: 1,
        maker: 1,
        model: 7,
        keyHash: keyHash(store.deviceKey),
      },
      evidence,
      firmware: [reference()],
      now: NOW,
      maxAge: 60n,
      ...overrides,
    };
  }

  it("trusts fresh, validly signed evidence of Good firmware of the device's model", function () {
    const a = appraise(input({ expectedChallenge: challenge }));
    assert.deepEqual(
      { ...a, reason: undefined },
      {
        trusted: true,
        verdict: "Trusted",
        reason: undefined,
        signature: "valid",
        firmwareId: 1,
        measurement: V1.measurement,
        attestedAt: NOW - 10n,
        bootCount: 3n,
      },
    );
    assert.match(a.reason, /is trusted: active, attested 10 s ago \(within 60 s\) on firmware 1/);
  });

  it("gives NotActive first, whatever the evidence", function () {
    const suspended = appraise(
      input({ device: { ...input().device, status: 2 }, evidence: undefined }),
    );
    assert.equal(suspended.verdict, "NotActive");
    assert.match(suspended.reason, /is Suspended, not Active/);
    const unknown = appraise(input({ device: { ...input().device, status: 0 } }));
    assert.equal(unknown.verdict, "NotActive");
    assert.match(unknown.reason, /is not registered/);
  });

  it("gives NeverAttested without evidence", function () {
    const a = appraise(input({ evidence: undefined }));
    assert.equal(a.verdict, "NeverAttested");
    assert.equal(a.measurement, null);
    assert.equal(a.signature, null);
  });

  it("gives Stale when the evidence is older than maxAge, and trusts it at exactly maxAge", function () {
    assert.equal(appraise(input({ maxAge: 9n })).verdict, "Stale");
    assert.equal(appraise(input({ maxAge: 10n })).verdict, "Trusted");
  });

  it("gives FirmwareRevoked for revoked firmware, FirmwareSunset from the sunset on", function () {
    assert.equal(
      appraise(input({ firmware: [reference({ status: "Revoked", revokedAt: NOW - 1n })] }))
        .verdict,
      "FirmwareRevoked",
    );
    const deprecated = (sunset: bigint) =>
      appraise(input({ firmware: [reference({ status: "Deprecated", sunset })] })).verdict;
    assert.equal(deprecated(NOW + 1n), "Trusted");
    assert.equal(deprecated(NOW), "FirmwareSunset");
  });

  it("gives ModelMismatch when the measurement is only another model's firmware", function () {
    const a = appraise(input({ firmware: [reference({ firmwareId: 4, model: 8 })] }));
    assert.equal(a.verdict, "ModelMismatch");
    assert.equal(a.firmwareId, 4);
    const otherMaker = appraise(input({ firmware: [reference({ maker: 2 })] }));
    assert.equal(otherMaker.verdict, "ModelMismatch");
  });

  it("names UnknownMeasurement when no maker published the measurement", function () {
    const a = appraise(input({ firmware: [reference({ measurement: OTHER.measurement })] }));
    assert.equal(a.verdict, "UnknownMeasurement");
    assert.equal(a.trusted, false);
  });

  it("reports signature problems: another device, another key, a broken signature", async function () {
    const other = new DeviceSigner(SoftwareKeyStore.generate("secp256k1"), DOMAIN);
    const foreign = await other.signAttestation({
      measurement: V1.measurement,
      challenge,
      timestamp: NOW - 10n,
      bootCount: 3n,
    });
    assert.equal(appraise(input({ evidence: foreign })).verdict, "WrongDevice");
    // Claims this device's id but is signed by another key.
    const impostor = await new DeviceSigner(
      other.keyStore,
      DOMAIN,
      signer.deviceId,
    ).signAttestation({
      measurement: V1.measurement,
      challenge,
      timestamp: NOW - 10n,
      bootCount: 3n,
    });
    assert.equal(appraise(input({ evidence: impostor })).verdict, "WrongKey");
    // The right key, but a changed message: the signature is over other bytes.
    const tampered = { ...evidence, message: { ...evidence.message, bootCount: 4n } };
    const a = appraise(input({ evidence: tampered }));
    assert.equal(a.verdict, "InvalidSignature");
    assert.equal(a.signature, "wrong-signer");
    // Another chain's domain: the same bytes do not verify here.
    const elsewhere = appraise(input({ domain: { ...DOMAIN, chainId: 1n } }));
    assert.equal(elsewhere.verdict, "InvalidSignature");
    const short = appraise(input({ evidence: { ...evidence, signature: "0x1234" } }));
    assert.equal(short.signature, "bad-signature-length");
  });

  it("rejects another challenge than the expected one, and a future timestamp", function () {
    assert.equal(
      appraise(input({ expectedChallenge: toHex(randomBytes(32)) })).verdict,
      "StaleChallenge",
    );
    assert.equal(appraise(input({ now: NOW - 11n })).verdict, "FutureTimestamp");
  });

  it("has a sentence for every verdict of trustReport", function () {
    for (const v of TRUST_VERDICTS) {
      const text = explainVerdict(v, {
        deviceId: signer.deviceId,
        now: NOW,
        maxAge: 60n,
        attestedAt: NOW - 5n,
        firmwareId: 2,
        sunset: NOW - 1n,
        status: "Suspended",
      });
      assert.match(text, new RegExp(`^device ${signer.deviceId}`));
      assert.ok(text.length > 60, `${v}: ${text}`);
    }
  });
});
