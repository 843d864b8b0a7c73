import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { decode } from "cbor2";
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
import { encodeLoose, looseHead } from "../support/cbor-loose.js";

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
/** The chain, the fixture's key and what both sides need to compare verdicts. */
async function setup() {
  const { ethers } = await network.create("osaka");
  const sink = await ethers.deployContract("MockAppraisalRegistry");
  const psa = await ethers.deployContract("PsaAttestation", [await sink.getAddress()]);
  const store = SoftwareKeyStore.fromPrivateKey("p256", FIXTURE.privateKey);
  const key = FIXTURE.publicKey;
  /** Both sides' verdicts on `token`; the stand-in registry expects what the verifier found. */
  const verdicts = async (token: Uint8Array) => {
    const verdict = verifierVerdict(token, key, psaInstanceId(fromHex(key)));
    if (verdict !== null) {
      const deviceKeyHash = keyHash({ keyType: KeyType.P256, key });
      await (await sink.expect(DEVICE, deviceKeyHash, verdict.measurement, verdict.nonce)).wait();
    }
    let chain = true;
    try {
      await psa.attestPsaToken.staticCall(DEVICE, token, key);
    } catch {
      chain = false;
    }
    return { verifier: verdict !== null, chain };
  };
  const payloads = [FIXTURE.payload, ...Object.values(FIXTURE.variants).map((v) => v.payload)];
  return { store, verdicts, payloads };
}

describe("PsaAttestation and src/verify/psa-token.ts agree", function () {
  this.timeout(300_000);

  it("on every single-byte change of the fixture payloads, re-signed", async function () {
    const { store, verdicts, payloads } = await setup();
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
      const { verifier, chain } = await verdicts(token);
      assert.equal(
        chain,
        verifier,
        `byte ${String(at)} of payload ${String(i % payloads.length)}: chain ${String(chain)}, verifier ${String(verifier)} (${toHex(token)})`,
      );
      if (chain) accepted++;
    }
    // Changes inside values (nonce, ids, measurements, texts) keep the token valid: both sides see some.
    assert.ok(accepted > SAMPLES / 10, `${String(accepted)} accepted`);
    assert.ok(accepted < SAMPLES, `${String(accepted)} accepted`);
  });

  /**
   * RFC 9783 §5's variations: the fixture claims re-encoded with random argument lengths and key orders,
   * under headers a real attester may send (a kid, a content type, an x5chain), every head of the envelope
   * in a random length; then, in two samples of three, one byte of the protected header, the unprotected
   * header or the payload changed by a random mask before signing. Both sides accept every unchanged token
   * and agree on every changed one.
   */
  it("on random encodings of the fixture tokens and their headers, with single-byte changes, re-signed", async function () {
    const { store, verdicts, payloads } = await setup();
    const next = generator(0x9052);
    const protectedHeaders = [
      new Map<number, unknown>([[1, -7]]),
      new Map<number, unknown>([
        [1, -7],
        [4, Buffer.from("iak-1")],
      ]),
      new Map<number, unknown>([
        [3, 61],
        [1, -7],
      ]),
    ];
    const unprotectedHeaders = [
      new Map<number, unknown>(),
      new Map<number, unknown>([[4, Buffer.from("iak-1")]]),
      new Map<number, unknown>([[33, [Buffer.from("leaf"), Buffer.from("intermediate")]]]),
    ];
    const shuffled = <T>(entries: T[]): T[] =>
      entries
        .map((e) => [next(), e] as const)
        .sort((a, b) => a[0] - b[0])
        .map(([, e]) => e);
    let unchangedAccepted = 0;
    let changedAccepted = 0;
    for (let i = 0; i < SAMPLES; i++) {
      const form = () => next();
      const claims = decode(fromHex(payloads[i % payloads.length] ?? "0x"), { preferMap: true });
      // A kid in one bucket only (in both, it is refused: DuplicateHeader).
      const inProtected = next() % 3;
      const inUnprotected = inProtected === 1 ? 2 * (next() % 2) : next() % 3;
      const parts = [
        encodeLoose(protectedHeaders[inProtected], form, shuffled),
        encodeLoose(unprotectedHeaders[inUnprotected], form, shuffled),
        encodeLoose(claims, form, shuffled),
      ];
      const change = next() % 3;
      const part = parts[change] ?? new Uint8Array(0);
      const changed = i % 3 !== 0;
      if (changed) {
        const at = next() % part.length;
        part[at] = (part[at] ?? 0) ^ (1 + (next() % 255));
      }
      const [protectedHeader, unprotected, payload] = parts as [Uint8Array, Uint8Array, Uint8Array];
      const signature = fromHex(
        await store.signCoseSign1(coseSign1ToBeSigned(protectedHeader, payload)),
      );
      const token = Buffer.concat([
        looseHead(6, 18, next()),
        looseHead(4, 4, next()),
        looseHead(2, protectedHeader.length, next()),
        protectedHeader,
        unprotected,
        looseHead(2, payload.length, next()),
        payload,
        looseHead(2, 64, next()),
        signature,
      ]);
      const { verifier, chain } = await verdicts(token);
      assert.equal(
        chain,
        verifier,
        `sample ${String(i)}: chain ${String(chain)}, verifier ${String(verifier)} (${toHex(token)})`,
      );
      if (!changed) {
        assert.ok(chain, `sample ${String(i)}, unchanged, is accepted (${toHex(token)})`);
        unchangedAccepted++;
      } else if (chain) {
        changedAccepted++;
      }
    }
    assert.ok(
      unchangedAccepted > 0 && changedAccepted > 0,
      `${String(changedAccepted)} changed accepted`,
    );
  });
});
