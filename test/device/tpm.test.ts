import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Tpm, TpmKeyStore, BOOT_PCR } from "../../src/device/tpm.js";
import { startSoftwareTpm, type SoftwareTpm } from "../../src/device/swtpm.js";
import {
  isLowS,
  measureImages,
  normalizeLowS,
  sha256Hex,
  type Hex,
} from "../../src/protocol/index.js";
import {
  TPM_ALG_SHA256,
  TpmQuoteError,
  appraiseTpmQuote,
  checkDeviceSignature,
  parseTpmQuote,
  parseTpmSignature,
  pcrDigestOf,
  type TpmQuoteProblem,
} from "../../src/verify/index.js";

/** The problem a TpmQuoteError names, or the error itself when it is another. */
function problemOf(run: () => unknown): TpmQuoteProblem | "accepted" {
  try {
    run();
    return "accepted";
  } catch (err: unknown) {
    if (err instanceof TpmQuoteError) return err.problem;
    throw err;
  }
}

const hex = (b: Uint8Array): Hex => `0x${Buffer.from(b).toString("hex")}`;

/**
 * Real quotes from a TPM 2.0 simulator (swtpm on loopback) driven by tpm2-tools, as a device would make
 * them: a measured boot extends PCR 16 with each stage's SHA-256, the Attestation Key quotes it with the
 * verifier's freshness value, the verifier appraises with the chain's rules.
 */
describe("TPM 2.0 quotes (swtpm + tpm2-tools)", function () {
  this.timeout(120_000);
  let swtpm: SoftwareTpm;
  let tpm: Tpm;
  let ak: { publicKey: Uint8Array; name: Hex };
  const images = [Buffer.from("bootloader 2.0.0"), Buffer.from("kernel 2.0.0"), Buffer.from("app")];
  const { measurement } = measureImages(images);

  /** A measured boot from m_0 = 0, then a quote over PCR 16 carrying `extraData`. */
  async function bootAndQuote(extraData: Hex) {
    await tpm.resetPcr(BOOT_PCR);
    for (const image of images) await tpm.extendPcr(BOOT_PCR, sha256Hex(image));
    return tpm.quote([BOOT_PCR], extraData);
  }

  /** A quote with a fresh nonce, and what an honest verifier holds to appraise it. */
  async function freshQuote() {
    const nonce = hex(randomBytes(32));
    const q = await bootAndQuote(nonce);
    const appraisal = {
      akPublicKey: ak.publicKey,
      extraData: nonce,
      pcrValues: q.pcrValues,
      referencePcrDigest: pcrDigestOf([measurement]),
    };
    return { q, appraisal };
  }

  before(async function () {
    swtpm = await startSoftwareTpm();
    tpm = new Tpm({ tcti: swtpm.tcti, workDir: join(swtpm.dir, "work") });
    ak = await tpm.createAttestationKey();
  });

  after(async function () {
    await swtpm.stop();
  });

  it("quotes the measured boot: PCR 16 is the published measurement, and the quote appraises", async function () {
    const nonce = hex(randomBytes(32));
    const q = await bootAndQuote(nonce);
    assert.deepEqual(q.pcrValues, [measurement], "PCR 16 extends as MeasuredBootLib does");
    const quote = appraiseTpmQuote(q.attest, q.signature, {
      akPublicKey: ak.publicKey,
      extraData: nonce,
      pcrValues: q.pcrValues,
      referencePcrDigest: pcrDigestOf([measurement]),
    });
    assert.equal(quote.extraData, nonce);
    // The AK's qualified name: SHA-256 (0x000b) over its parents' qualified name and its own name (ak.name).
    assert.match(quote.qualifiedSigner, /^0x000b[0-9a-f]{64}$/);
    assert.match(ak.name, /^0x000b[0-9a-f]{64}$/);
    assert.deepEqual(quote.pcrSelection, [{ hashAlg: TPM_ALG_SHA256, pcrs: [BOOT_PCR] }]);
    assert.equal(quote.safe, true);
    assert.ok(quote.resetCount >= 0 && quote.clock > 0n);
  });

  it("refuses every single-byte change of a real quote, and says which rule broke", async function () {
    const { q, appraisal } = await freshQuote();
    assert.equal(
      problemOf(() => appraiseTpmQuote(q.attest, q.signature, appraisal)),
      "accepted",
    );
    const seen = new Set<string>();
    for (let i = 0; i < q.attest.length; i++) {
      const mutated = Buffer.from(q.attest);
      mutated[i] = (mutated[i] ?? 0) ^ 0x01;
      const problem = problemOf(() => appraiseTpmQuote(mutated, q.signature, appraisal));
      assert.notEqual(problem, "accepted", `byte ${String(i)} changed and the quote still passed`);
      seen.add(problem);
    }
    // The structure's own checks fire before the signature's.
    assert.ok(
      seen.has("BadMagic") && seen.has("NotAQuote") && seen.has("BadSignature"),
      [...seen].join(),
    );
    for (let i = 0; i < q.signature.length; i++) {
      const mutated = Buffer.from(q.signature);
      mutated[i] = (mutated[i] ?? 0) ^ 0x01;
      assert.notEqual(
        problemOf(() => appraiseTpmQuote(q.attest, mutated, appraisal)),
        "accepted",
        `signature byte ${String(i)} changed and the quote still passed`,
      );
    }
    const trailing = Buffer.concat([q.attest, Buffer.from([0])]);
    assert.equal(
      problemOf(() => parseTpmQuote(trailing)),
      "TrailingBytes",
    );
    assert.equal(
      problemOf(() => parseTpmQuote(q.attest.subarray(0, q.attest.length - 1))),
      "Truncated",
    );
    assert.equal(
      problemOf(() => parseTpmSignature(Buffer.concat([q.signature, Buffer.from([0])]))),
      "TrailingBytes",
    );
  });

  it("refuses a stale freshness value, other PCR values and another reference", async function () {
    const { q, appraisal: base } = await freshQuote();
    const other = hex(randomBytes(32));
    assert.equal(
      problemOf(() => appraiseTpmQuote(q.attest, q.signature, { ...base, extraData: other })),
      "WrongExtraData",
    );
    assert.equal(
      problemOf(() => appraiseTpmQuote(q.attest, q.signature, { ...base, pcrValues: [other] })),
      "PcrDigestMismatch",
    );
    assert.equal(
      problemOf(() => appraiseTpmQuote(q.attest, q.signature, { ...base, pcrValues: [] })),
      "PcrCountMismatch",
    );
    assert.equal(
      problemOf(() =>
        appraiseTpmQuote(q.attest, q.signature, {
          ...base,
          referencePcrDigest: pcrDigestOf([other]),
        }),
      ),
      "PcrDigestMismatch",
    );
    const stranger = new Uint8Array(ak.publicKey);
    stranger[63] = (stranger[63] ?? 0) ^ 1;
    assert.equal(
      problemOf(() => appraiseTpmQuote(q.attest, q.signature, { ...base, akPublicKey: stranger })),
      "BadKey",
    );
  });

  it("refuses a replayed quote: the clock must move on, the reset count never go back", async function () {
    const first = await bootAndQuote(hex(randomBytes(32)));
    // The chain counts the clock in whole seconds: the next quote is one later.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const second = await bootAndQuote(hex(randomBytes(32)));
    const a = parseTpmQuote(first.attest);
    const b = parseTpmQuote(second.attest);
    assert.ok(b.clock > a.clock, "the TPM's clock advanced");
    const appraise = (q: typeof first, last: { resetCount: number; clock: bigint }) =>
      appraiseTpmQuote(q.attest, q.signature, {
        akPublicKey: ak.publicKey,
        extraData: parseTpmQuote(q.attest).extraData,
        pcrValues: q.pcrValues,
        last,
      });
    assert.equal(
      problemOf(() => appraise(second, a)),
      "accepted",
    );
    assert.equal(
      problemOf(() => appraise(first, b)),
      "ClockWentBack",
    );
    assert.equal(
      problemOf(() => appraise(second, b)),
      "ClockWentBack",
      "the same quote twice",
    );
    assert.equal(
      problemOf(() => appraise(second, { resetCount: b.resetCount + 1, clock: 0n })),
      "ResetCountWentBack",
    );
    assert.equal(
      problemOf(() => appraise(first, { resetCount: a.resetCount - 1, clock: b.clock })),
      "accepted",
      "after a reset the clock may repeat values (restored from NV after a power loss)",
    );
  });

  it("appraises only what the chain appraises: PCR 16 quoted, a 32-byte freshness value", async function () {
    const nonce = hex(randomBytes(32));
    await bootAndQuote(nonce);
    const other = await tpm.quote([0, 7], nonce);
    assert.equal(
      problemOf(() =>
        appraiseTpmQuote(other.attest, other.signature, {
          akPublicKey: ak.publicKey,
          extraData: nonce,
          pcrValues: other.pcrValues,
        }),
      ),
      "BootPcrNotSelected",
    );
    const short = await tpm.quote([BOOT_PCR], hex(randomBytes(20)));
    assert.equal(
      problemOf(() => parseTpmQuote(short.attest)),
      "WrongLength",
    );
  });

  it("signs device messages with the AK: P-256 over SHA-256 of the digest, low-s, accepted as the device's", async function () {
    const store = await TpmKeyStore.open(tpm);
    assert.equal(store.kind, "tpm");
    assert.deepEqual(store.publicKey.subarray(1), Buffer.from(ak.publicKey));
    for (let i = 0; i < 4; i++) {
      const digest = hex(randomBytes(32));
      const signature = await store.signDigest(digest);
      assert.equal(checkDeviceSignature(store.deviceKey, digest, signature), "valid");
      const s = BigInt(`0x${signature.slice(2 + 64, 2 + 128)}`);
      assert.equal(isLowS("p256", s), true, "low-s");
    }
    await store.close();
    assert.throws(() => store.tpm, /closed/);
  });

  it("reads DER signatures as tpm2-tools' plain format writes them", function () {
    const r = 0x1234n;
    const s = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550n; // n - 1: high s
    const int = (v: bigint): Buffer => {
      let b = Buffer.from(
        v.toString(16).padStart(v.toString(16).length + (v.toString(16).length % 2), "0"),
        "hex",
      );
      if ((b[0] ?? 0) & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
      return Buffer.concat([Buffer.from([2, b.length]), b]);
    };
    const body = Buffer.concat([int(r), int(s)]);
    const der = Buffer.concat([Buffer.from([0x30, body.length]), body]);
    assert.deepEqual(parseTpmSignature(der), { r, s });
    assert.equal(normalizeLowS("p256", { r, s }).s, 1n);
    assert.equal(
      problemOf(() => parseTpmSignature(Buffer.concat([der, Buffer.from([0])]))),
      "Truncated",
    );
  });
});
