import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { network } from "hardhat";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import {
  ES256_PROTECTED_HEADER,
  KeyType,
  coseSign1ToBeSigned,
  encodeCoseSign1,
  fromHex,
  keyHash,
  psaInstanceId,
  toHex,
  type Hex,
} from "../../src/protocol/index.js";
import { PsaTokenError, appraisePsaToken, parsePsaToken } from "../../src/verify/psa-token.js";

const FIXTURE = JSON.parse(
  readFileSync(new URL("../fixtures/psa/token.json", import.meta.url), "utf8"),
) as {
  privateKey: Hex;
  publicKey: Hex;
  payload: Hex;
  variants: Record<string, { payload: Hex }>;
};
const DEVICE: Hex = `0x${"d5".repeat(32)}`;
const SAMPLES = 400;

/** A small deterministic generator (xorshift32): the same mutations every run. */
function generator(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/**
 * The verifier's answer with the chain's rules: the measurement and nonce of a token it accepts, null when
 * it refuses it (or the token has a 48- or 64-byte nonce or measurement value, which the chain cannot use).
 */
function verifierVerdict(
  token: Uint8Array,
  key: Hex,
  instanceId: Hex,
): { measurement: Hex; nonce: Hex } | null {
  try {
    const { nonce } = parsePsaToken(token).claims;
    if (nonce.length !== 66) return null;
    const { measurement } = appraisePsaToken(token, { publicKey: key, nonce, instanceId });
    return measurement === null ? null : { measurement, nonce };
  } catch (err: unknown) {
    if (err instanceof PsaTokenError) return null;
    throw err;
  }
}

/**
 * PsaAttestation's decoder (contracts/libraries/PsaTokenLib.sol) and the TypeScript verifier
 * (src/verify/psa-token.ts) agree on which tokens a device key may have signed: payloads of the fixture
 * tokens with one byte changed by a random mask, each signed again by the fixture key so the signature
 * holds and only the encoding and the claims decide. The chain accepts (against a registry stand-in that
 * expects the verifier's measurement and nonce) exactly the tokens the verifier appraises with the chain's
 * rules: a 32-byte nonce, a trusted lifecycle, the key's instance id, SHA-256 measurement values.
 */
describe("PsaAttestation and src/verify/psa-token.ts agree", function () {
  this.timeout(300_000);

  it("on every single-byte change of the fixture payloads, re-signed", async function () {
    const { ethers } = await network.create("osaka");
    const sink = await ethers.deployContract("MockAppraisalRegistry");
    const psa = await ethers.deployContract("PsaAttestation", [await sink.getAddress()]);
    const store = SoftwareKeyStore.fromPrivateKey("p256", FIXTURE.privateKey);
    const key = FIXTURE.publicKey;
    const deviceKeyHash = keyHash({ keyType: KeyType.P256, key });
    const instanceId = psaInstanceId(fromHex(key));
    const payloads = [FIXTURE.payload, ...Object.values(FIXTURE.variants).map((v) => v.payload)];
    const next = generator(0x9783);
    let accepted = 0;
    for (let i = 0; i < SAMPLES; i++) {
      const payload = fromHex(payloads[i % payloads.length] ?? "0x");
      const at = next() % payload.length;
      payload[at] = (payload[at] ?? 0) ^ (1 + (next() % 255));
      const signature = await store.signCoseSign1(
        coseSign1ToBeSigned(ES256_PROTECTED_HEADER, payload),
      );
      const token = encodeCoseSign1(ES256_PROTECTED_HEADER, payload, fromHex(signature));
      const verdict = verifierVerdict(token, key, instanceId);
      if (verdict !== null) {
        await (await sink.expect(DEVICE, deviceKeyHash, verdict.measurement, verdict.nonce)).wait();
      }
      let chain = true;
      try {
        await psa.attestPsaToken.staticCall(DEVICE, token, key);
      } catch {
        chain = false;
      }
      assert.equal(
        chain,
        verdict !== null,
        `byte ${String(at)} of payload ${String(i % payloads.length)}: chain ${String(chain)}, verifier ${String(verdict !== null)} (${toHex(token)})`,
      );
      if (chain) accepted++;
    }
    // Changes inside values (nonce, ids, measurements, texts) keep the token valid: both sides see some.
    assert.ok(accepted > SAMPLES / 10, `${String(accepted)} accepted`);
    assert.ok(accepted < SAMPLES, `${String(accepted)} accepted`);
  });
});
