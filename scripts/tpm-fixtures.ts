/**
 * Writes test/fixtures/tpm/quotes.json: real TPM 2.0 quotes from a software TPM (swtpm + tpm2-tools), for
 * the Solidity suite (test/TpmAttestation.t.sol), which parses them, checks the Attestation Key's
 * signatures and refuses every single-byte change of them. The live end-to-end test (test/attestation/
 * tpm-quote.test.ts) makes fresh quotes against a running chain instead.
 *
 * Run with `npm run tpm:fixtures` (needs swtpm and tpm2-tools); commit the result.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startSoftwareTpm } from "../src/device/swtpm.js";
import { BOOT_PCR, Tpm } from "../src/device/tpm.js";
import { measureImages, sha256Hex, toHex, type Hex } from "../src/protocol/index.js";
import { parseTpmQuote, parseTpmSignature } from "../src/verify/index.js";

const OUT = "test/fixtures/tpm/quotes.json";
const IMAGES = ["bootloader 2.0.0", "kernel 2.0.0", "app"].map((s) => Buffer.from(s));

/** DER SEQUENCE{INTEGER r, INTEGER s}, as `tpm2_quote -f plain` and most libraries write it. */
function der(r: bigint, s: bigint): Hex {
  const integer = (v: bigint): Buffer => {
    let b = Buffer.from(v.toString(16).padStart(64, "0"), "hex");
    while (b.length > 1 && b[0] === 0 && ((b[1] ?? 0) & 0x80) === 0) b = b.subarray(1);
    if (((b[0] ?? 0) & 0x80) !== 0) b = Buffer.concat([Buffer.from([0]), b]);
    return Buffer.concat([Buffer.from([0x02, b.length]), b]);
  };
  const body = Buffer.concat([integer(r), integer(s)]);
  return toHex(Buffer.concat([Buffer.from([0x30, body.length]), body]));
}

async function main(): Promise<void> {
  const swtpm = await startSoftwareTpm();
  try {
    const tpm = new Tpm({ tcti: swtpm.tcti, workDir: join(swtpm.dir, "work") });
    const ak = await tpm.createAttestationKey();
    const { measurement } = measureImages(IMAGES);
    await tpm.resetPcr(BOOT_PCR);
    for (const image of IMAGES) await tpm.extendPcr(BOOT_PCR, sha256Hex(image));
    const quotes = [];
    // Two quotes of PCR 16 alone (the clock moves on between them), one of PCRs 0, 7 and 16.
    const selections = [[BOOT_PCR], [BOOT_PCR], [0, 7, BOOT_PCR]];
    for (const [i, pcrs] of selections.entries()) {
      const extraData = sha256Hex(Buffer.from(`devicetrust tpm fixture ${String(i)}`));
      const q = await tpm.quote(pcrs, extraData);
      const parsed = parseTpmQuote(q.attest);
      const { r, s } = parseTpmSignature(q.signature);
      quotes.push({
        attest: toHex(q.attest),
        signature: toHex(q.signature),
        signatureDer: der(r, s),
        extraData,
        pcrs,
        pcrValues: q.pcrValues,
        resetCount: parsed.resetCount,
        restartCount: parsed.restartCount,
        clock: Number(parsed.clock),
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const fixture = { ak: toHex(ak.publicKey), measurement, quotes };
    await writeFile(OUT, `${JSON.stringify(fixture, null, 2)}\n`);
    console.log(
      `${OUT}: ${String(quotes.length)} quotes by AK ${toHex(ak.publicKey).slice(0, 18)}…`,
    );
  } finally {
    await swtpm.stop();
  }
}

await main();
