import assert from "node:assert/strict";
import { createHash, randomBytes, randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  InvalidInputError,
  LMOTS_PARAMS,
  LMS_ON_CHAIN_ATTEMPTS,
  LMS_PARAMS,
  LmsParseError,
  LmsPrivateKey,
  buildLmsFixtures,
  encodeHssPublicKey,
  encodeLmsPublicKey,
  encodeLmsSignature,
  fromHex,
  hssVerify,
  lmotsByName,
  lmsByName,
  lmsPublicKeyBytes,
  lmsRootOf,
  lmsSign,
  lmsSignatureBytes,
  lmsVerify,
  parseHssPublicKey,
  parseHssSignature,
  parseLmsPublicKey,
  parseLmsSignature,
  toHex,
  type Hex,
  type LmotsParams,
  type LmsFixtures,
  type LmsParams,
  type LmsProblem,
  type LmsPublicKey,
} from "../../src/protocol/index.js";
import { lmotsDigits, lmotsVerifySteps } from "../../src/protocol/lms/lmots.js";
import { chainWords, sha256Short, wordsOf } from "../../src/protocol/lms/sha256-block.js";

interface HssVector {
  readonly publicKey: Hex;
  readonly message: Hex;
  readonly signature: Hex;
}
interface SeededLevel {
  readonly lms: string;
  readonly lmots: string;
  readonly seed: Hex;
  readonly identifier: Hex;
}
const RFC8554 = JSON.parse(readFileSync("test/fixtures/lms/rfc8554.json", "utf8")) as {
  readonly testCase1: HssVector;
  readonly testCase2: HssVector & { readonly levels: readonly [SeededLevel, SeededLevel] };
};
const RFC9858 = JSON.parse(readFileSync("test/fixtures/lms/rfc9858.json", "utf8")) as {
  readonly a1: HssVector & SeededLevel;
  readonly a4: HssVector & { readonly lms: string; readonly lmots: string };
};

/** Every byte flipped when LMS_FLIP_ALL=1; by default every byte but the inner bytes of chain values. */
const FLIP_ALL = process.env.LMS_FLIP_ALL === "1";

function lmsOf(name: string): LmsParams {
  const p = lmsByName(name);
  assert.ok(p !== undefined, name);
  return p;
}

function lmotsOf(name: string): LmotsParams {
  const p = lmotsByName(name);
  assert.ok(p !== undefined, name);
  return p;
}

function keyOf(level: SeededLevel, cachedLevels?: number): LmsPrivateKey {
  return LmsPrivateKey.fromSeed({
    lms: lmsOf(level.lms),
    lmots: lmotsOf(level.lmots),
    seed: fromHex(level.seed),
    identifier: fromHex(level.identifier),
    cachedLevels,
  });
}

/** The LmsParseError `f` throws, checked for its problem and field (fails on anything else). */
function parseError(f: () => unknown, problem: LmsProblem, field: string): LmsParseError {
  try {
    f();
  } catch (err: unknown) {
    assert.ok(err instanceof LmsParseError, `not an LmsParseError: ${String(err)}`);
    assert.ok(err instanceof InvalidInputError);
    assert.equal(err.code, "INVALID_INPUT");
    assert.equal(err.problem, problem, err.message);
    assert.equal(err.field, field);
    assert.ok(err.message.startsWith(field), err.message);
    return err;
  }
  assert.fail(`expected an LmsParseError (${problem})`);
}

function flipped(bytes: Uint8Array, at: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[at] = (out[at] as number) ^ 0xff;
  return out;
}

function u32(x: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(x >>> 0);
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/**
 * The offsets of an HSS signature whose flip is tested: all, or all but the inner bytes of each chain
 * value y[i] (bytes 1..n-2 of each, which play the same part as the first and last).
 */
function flipOffsets(signature: Uint8Array): number[] {
  const skip = new Set<number>();
  if (!FLIP_ALL) {
    const parsed = parseHssSignature(signature);
    let offset = 4;
    const levels = [
      ...parsed.signedPublicKeys.map((l) => ({ sig: l.signature, pub: l.publicKey })),
      { sig: parsed.signature, pub: undefined },
    ];
    for (const { sig, pub } of levels) {
      const { n, p } = sig.lmots;
      const yAt = offset + 8 + n;
      for (let i = 0; i < p; i++) {
        for (let k = 1; k < n - 1; k++) skip.add(yAt + i * n + k);
      }
      offset += lmsSignatureBytes(sig.lms, sig.lmots);
      if (pub !== undefined) offset += lmsPublicKeyBytes(pub.lms);
    }
    assert.equal(offset, signature.length);
  }
  return Array.from({ length: signature.length }, (_, i) => i).filter((i) => !skip.has(i));
}

describe("protocol: LMS (RFC 8554, SP 800-208)", function () {
  describe("parameter sets", function () {
    it("has RFC 8554's and SP 800-208's typecodes, and p and ls as Appendix B computes them", function () {
      assert.deepEqual(
        LMOTS_PARAMS.map((p) => [p.name, p.typecode]),
        [
          ["LMOTS_SHA256_N32_W1", 1],
          ["LMOTS_SHA256_N32_W2", 2],
          ["LMOTS_SHA256_N32_W4", 3],
          ["LMOTS_SHA256_N32_W8", 4],
          ["LMOTS_SHA256_N24_W1", 5],
          ["LMOTS_SHA256_N24_W2", 6],
          ["LMOTS_SHA256_N24_W4", 7],
          ["LMOTS_SHA256_N24_W8", 8],
        ],
      );
      assert.deepEqual(
        LMS_PARAMS.map((p) => [p.name, p.typecode, p.m, p.h]),
        [
          ["LMS_SHA256_M32_H5", 5, 32, 5],
          ["LMS_SHA256_M32_H10", 6, 32, 10],
          ["LMS_SHA256_M32_H15", 7, 32, 15],
          ["LMS_SHA256_M32_H20", 8, 32, 20],
          ["LMS_SHA256_M32_H25", 9, 32, 25],
          ["LMS_SHA256_M24_H5", 0x0a, 24, 5],
          ["LMS_SHA256_M24_H10", 0x0b, 24, 10],
          ["LMS_SHA256_M24_H15", 0x0c, 24, 15],
          ["LMS_SHA256_M24_H20", 0x0d, 24, 20],
          ["LMS_SHA256_M24_H25", 0x0e, 24, 25],
        ],
      );
      for (const p of LMOTS_PARAMS) {
        // RFC 8554 Appendix B: u = ceil(8n/w), v = ceil((floor(lg((2^w - 1) u)) + 1) / w), ls = 16 - v w.
        const u = Math.ceil((8 * p.n) / p.w);
        const v = Math.ceil((Math.floor(Math.log2(((1 << p.w) - 1) * u)) + 1) / p.w);
        assert.equal(p.p, u + v, p.name);
        assert.equal(p.ls, 16 - v * p.w, p.name);
        assert.equal(p.signatureBytes, 4 + p.n * (p.p + 1), p.name);
      }
      // RFC 8554 Table 1's signature sizes.
      assert.deepEqual(
        LMOTS_PARAMS.slice(0, 4).map((p) => p.signatureBytes),
        [8516, 4292, 2180, 1124],
      );
      assert.equal(
        lmsSignatureBytes(lmsOf("LMS_SHA256_M32_H10"), lmotsOf("LMOTS_SHA256_N32_W4")),
        2508,
      );
    });
  });

  describe("SHA-256 fast path", function () {
    /** The chain the RFC writes, hashed by node:crypto. */
    function referenceChain(
      id: Uint8Array,
      q: number,
      i: number,
      start: Uint8Array,
      from: number,
      to: number,
    ): Uint8Array {
      let tmp = start;
      for (let j = from; j < to; j++) {
        const digest = createHash("sha256")
          .update(id)
          .update(u32(q))
          .update(Uint8Array.of(i >>> 8, i & 0xff, j))
          .update(tmp)
          .digest();
        tmp = new Uint8Array(digest.subarray(0, start.length));
      }
      return tmp;
    }

    it("runs LM-OTS chains as node:crypto does, for n = 32 and n = 24 (SHA-256/192)", function () {
      for (let round = 0; round < 400; round++) {
        const n = round % 2 === 0 ? 32 : 24;
        const id = randomBytes(16);
        const q = randomInt(0, 2 ** 25);
        const i = randomInt(0, 266);
        const from = randomInt(0, 256);
        const to = Math.min(256, from + randomInt(0, 20));
        const start = randomBytes(n);
        const idWords = new Uint32Array(4);
        wordsOf(id, 0, 4, idWords);
        const tmp = new Uint32Array(8);
        wordsOf(start, 0, n / 4, tmp);
        chainWords(idWords, q, i, tmp, n / 4, from, to);
        const got = Buffer.alloc(n);
        for (let k = 0; k < n / 4; k++) got.writeUInt32BE(tmp[k] as number, 4 * k);
        assert.equal(
          toHex(got),
          toHex(referenceChain(id, q, i, start, from, to)),
          `n=${String(n)} I=${toHex(id)} q=${String(q)} i=${String(i)} j=${String(from)}..${String(to)} tmp=${toHex(start)}`,
        );
      }
    });

    it("hashes short inputs of every length up to three blocks as node:crypto does", function () {
      for (let length = 0; length <= 192; length++) {
        const data = randomBytes(length);
        const out = new Uint8Array(40);
        sha256Short(data, length, out, 3, 32);
        const expected = createHash("sha256").update(data).digest();
        assert.equal(toHex(out.subarray(3, 35)), toHex(expected), `length ${String(length)}`);
        sha256Short(data, length, out, 0, 24);
        assert.equal(toHex(out.subarray(0, 24)), toHex(expected.subarray(0, 24)));
      }
    });
  });

  describe("RFC 8554 Appendix F", function () {
    this.timeout(120_000);
    const cases = [
      ["Test Case 1 (two levels of LMS_SHA256_M32_H5 / LMOTS_SHA256_N32_W8)", RFC8554.testCase1],
      ["Test Case 2 (LMS_SHA256_M32_H10 / W4 over LMS_SHA256_M32_H5 / W8)", RFC8554.testCase2],
    ] as const;

    for (const [name, v] of cases) {
      it(`${name}: verifies, and refuses it with any byte of the signature, message or key flipped`, function () {
        const key = fromHex(v.publicKey);
        const message = fromHex(v.message);
        const signature = fromHex(v.signature);
        assert.equal(hssVerify(key, message, signature), true);
        const offsets = flipOffsets(signature);
        for (const at of offsets) {
          assert.equal(
            hssVerify(key, message, flipped(signature, at)),
            false,
            `signature byte ${String(at)}`,
          );
        }
        for (let at = 0; at < message.length; at++) {
          assert.equal(
            hssVerify(key, flipped(message, at), signature),
            false,
            `message byte ${String(at)}`,
          );
        }
        // The key's I and T[1] (a flipped typecode or level count is an unknown or mismatched key).
        for (let at = 12; at < key.length; at++) {
          assert.equal(
            hssVerify(flipped(key, at), message, signature),
            false,
            `key byte ${String(at)}`,
          );
        }
        assert.equal(hssVerify(key, message, signature.subarray(0, signature.length - 1)), false);
        assert.equal(hssVerify(key, message, concat(signature, Uint8Array.of(0))), false);
        console.log(
          `      ${String(offsets.length)} of ${String(signature.length)} signature bytes flipped (${FLIP_ALL ? "all" : "LMS_FLIP_ALL=1 flips all"}), ${String(message.length)} message bytes, ${String(key.length - 12)} key bytes: all refused`,
        );
      });
    }

    it("Test Case 2: keys from the RFC's SEED and I are its public keys, and re-signing with its C gives its signatures, byte for byte", function () {
      const v = RFC8554.testCase2;
      const [top, bottom] = v.levels.map((level) => keyOf(level));
      assert.ok(top !== undefined && bottom !== undefined);
      const hssKey = parseHssPublicKey(fromHex(v.publicKey));
      assert.equal(toHex(encodeLmsPublicKey(top.publicKey)), toHex(encodeLmsPublicKey(hssKey.top)));
      assert.equal(toHex(encodeHssPublicKey({ levels: 2, top: top.publicKey })), v.publicKey);
      const parsed = parseHssSignature(fromHex(v.signature), hssKey);
      const [signed] = parsed.signedPublicKeys;
      assert.ok(signed !== undefined);
      assert.equal(
        toHex(encodeLmsPublicKey(bottom.publicKey)),
        toHex(encodeLmsPublicKey(signed.publicKey)),
      );
      const n = 32;
      const topSig = top.sign(signed.signature.q, encodeLmsPublicKey(bottom.publicKey), {
        randomizer: signed.signature.lmotsSignature.subarray(4, 4 + n),
      });
      assert.equal(toHex(topSig), toHex(encodeLmsSignature(signed.signature)));
      const bottomSig = lmsSign(bottom, parsed.signature.q, fromHex(v.message), {
        randomizer: parsed.signature.lmotsSignature.subarray(4, 4 + n),
      });
      assert.equal(toHex(bottomSig), toHex(encodeLmsSignature(parsed.signature)));
    });
  });

  describe("SP 800-208 SHA-256/192 (RFC 9858 Appendix A)", function () {
    this.timeout(60_000);

    it("A.1 (LMS_SHA256_M24_H5 / LMOTS_SHA256_N24_W8): the key from its SEED and I, its signature byte for byte, verified", function () {
      const v = RFC9858.a1;
      const key = keyOf(v);
      const hssKey = parseHssPublicKey(fromHex(v.publicKey));
      assert.equal(hssKey.levels, 1);
      assert.equal(toHex(encodeLmsPublicKey(key.publicKey)), toHex(encodeLmsPublicKey(hssKey.top)));
      const parsed = parseHssSignature(fromHex(v.signature), hssKey);
      const again = key.sign(parsed.signature.q, fromHex(v.message), {
        randomizer: parsed.signature.lmotsSignature.subarray(4, 28),
      });
      assert.equal(toHex(again), toHex(encodeLmsSignature(parsed.signature)));
      assert.equal(hssVerify(hssKey, fromHex(v.message), fromHex(v.signature)), true);
      assert.equal(lmsVerify(key.publicKey, fromHex(v.message), again), true);
    });

    it("A.4 (LMS_SHA256_M24_H20 / LMOTS_SHA256_N24_W4, q = 100) verifies; a flipped byte refuses", function () {
      const v = RFC9858.a4;
      const key = fromHex(v.publicKey);
      const signature = fromHex(v.signature);
      assert.equal(hssVerify(key, fromHex(v.message), signature), true);
      for (const at of flipOffsets(signature).filter((_, i) => i % 7 === 0)) {
        assert.equal(
          hssVerify(key, fromHex(v.message), flipped(signature, at)),
          false,
          `byte ${String(at)}`,
        );
      }
    });
  });

  describe("LmsPrivateKey.fromSeed", function () {
    this.timeout(60_000);
    const lms = lmsOf("LMS_SHA256_M32_H5");
    const lmots = lmotsOf("LMOTS_SHA256_N32_W4");
    const seed = fromHex(`0x${"5e".repeat(32)}`);
    const identifier = fromHex(`0x${"1d".repeat(16)}`);

    it("is deterministic: one SEED and I, one key and the same signatures; another SEED or I, another key", function () {
      const a = LmsPrivateKey.fromSeed({ lms, lmots, seed, identifier });
      const b = LmsPrivateKey.fromSeed({ lms, lmots, seed: Uint8Array.from(seed), identifier });
      assert.equal(toHex(a.publicKey.root), toHex(b.publicKey.root));
      const message = new TextEncoder().encode("firmware manifest");
      assert.equal(toHex(a.sign(3, message)), toHex(b.sign(3, message)));
      assert.notEqual(toHex(a.sign(3, message)), toHex(a.sign(4, message)));
      const otherSeed = LmsPrivateKey.fromSeed({ lms, lmots, seed: flipped(seed, 31), identifier });
      const otherId = LmsPrivateKey.fromSeed({
        lms,
        lmots,
        seed,
        identifier: flipped(identifier, 0),
      });
      assert.notEqual(toHex(otherSeed.publicKey.root), toHex(a.publicKey.root));
      assert.notEqual(toHex(otherId.publicKey.root), toHex(a.publicKey.root));
      assert.equal(toHex(a.exportSeed()), toHex(seed));
    });

    it("signs alike whatever part of the tree it keeps in memory (subtrees recomputed below cachedLevels)", function () {
      const level: SeededLevel = {
        lms: "LMS_SHA256_M24_H10",
        lmots: "LMOTS_SHA256_N24_W1",
        seed: toHex(seed.subarray(0, 24)),
        identifier: toHex(identifier),
      };
      const whole = keyOf(level);
      const partial = keyOf(level, 3);
      assert.equal(toHex(partial.publicKey.root), toHex(whole.publicKey.root));
      const message = Uint8Array.of(1, 2, 3);
      for (const q of [0, 1, 127, 128, 129, 700, 1023]) {
        const signature = partial.sign(q, message);
        assert.equal(toHex(signature), toHex(whole.sign(q, message)), `q = ${String(q)}`);
        assert.equal(lmsVerify(whole.publicKey, message, signature), true);
      }
    });

    it("refuses a SEED, an I or a randomizer of the wrong length, mixed hashes, and q outside the tree", function () {
      assert.throws(
        () => LmsPrivateKey.fromSeed({ lms, lmots, seed: seed.subarray(0, 24), identifier }),
        /SEED is 32 bytes, not 24/,
      );
      assert.throws(
        () => LmsPrivateKey.fromSeed({ lms, lmots, seed, identifier: identifier.subarray(1) }),
        /16 bytes, not 15/,
      );
      assert.throws(
        () =>
          LmsPrivateKey.fromSeed({
            lms,
            lmots: lmotsOf("LMOTS_SHA256_N24_W4"),
            seed: seed.subarray(0, 24),
            identifier,
          }),
        /must use the same hash/,
      );
      const key = LmsPrivateKey.fromSeed({ lms, lmots, seed, identifier });
      for (const q of [-1, 32, 1.5, Number.NaN]) {
        assert.throws(() => key.sign(q, Uint8Array.of()), InvalidInputError);
      }
      assert.throws(
        () => key.sign(0, Uint8Array.of(), { randomizer: new Uint8Array(24) }),
        /32 bytes, not 24/,
      );
      key.destroy();
      assert.throws(() => key.sign(0, Uint8Array.of()), /destroyed/);
      assert.throws(() => key.exportSeed(), /destroyed/);
    });
  });

  describe("lmsSign / lmsVerify: every parameter set", function () {
    this.timeout(120_000);
    const message = new TextEncoder().encode("DeviceTrust firmware manifest v1");
    const other = new TextEncoder().encode("DeviceTrust firmware manifest v2");

    function roundTrip(key: LmsPrivateKey, q: number): void {
      const signature = lmsSign(key, q, message);
      assert.equal(signature.length, lmsSignatureBytes(key.lms, key.lmots));
      const parsed = parseLmsSignature(signature, key.publicKey);
      assert.equal(parsed.q, q);
      assert.equal(toHex(encodeLmsSignature(parsed)), toHex(signature));
      const publicKey = encodeLmsPublicKey(key.publicKey);
      assert.equal(toHex(encodeLmsPublicKey(parseLmsPublicKey(publicKey))), toHex(publicKey));
      assert.equal(lmsVerify(publicKey, message, signature), true);
      assert.equal(lmsVerify(key.publicKey, message, parsed), true);
      assert.equal(lmsVerify(publicKey, other, signature), false);
      assert.equal(
        hssVerify(
          encodeHssPublicKey({ levels: 1, top: key.publicKey }),
          message,
          concat(u32(0), signature),
        ),
        true,
      );
    }

    for (const lmots of LMOTS_PARAMS) {
      const lms = lmsOf(lmots.n === 32 ? "LMS_SHA256_M32_H5" : "LMS_SHA256_M24_H5");
      it(`${lmots.name} (under ${lms.name}): signs at the first and last leaf, encodes, parses and verifies`, function () {
        const key = LmsPrivateKey.generate(lms, lmots);
        roundTrip(key, 0);
        roundTrip(key, 31);
      });
    }

    for (const name of ["LMS_SHA256_M32_H10", "LMS_SHA256_M24_H10"]) {
      it(`${name}: a whole key (1024 leaves) signs, encodes, parses and verifies`, function () {
        const lms = lmsOf(name);
        const key = LmsPrivateKey.generate(
          lms,
          lmotsOf(lms.m === 32 ? "LMOTS_SHA256_N32_W4" : "LMOTS_SHA256_N24_W4"),
        );
        roundTrip(key, 0);
        roundTrip(key, 777);
        roundTrip(key, 1023);
      });
    }

    // A whole H15 key takes ~15 s, H20 minutes, H25 hours: their signatures here are an H5 key's, whose path
    // goes on with random nodes up to the root they imply (lmsRootOf), which makes the public key.
    for (const name of [15, 20, 25].flatMap((h) => [
      `LMS_SHA256_M32_H${String(h)}`,
      `LMS_SHA256_M24_H${String(h)}`,
    ])) {
      it(`${name}: a signature encodes, parses and verifies; a flipped path node refuses`, function () {
        const lms = lmsOf(name);
        const lmots = lmotsOf(lms.m === 32 ? "LMOTS_SHA256_N32_W8" : "LMOTS_SHA256_N24_W8");
        const small = LmsPrivateKey.generate(
          lmsOf(lms.m === 32 ? "LMS_SHA256_M32_H5" : "LMS_SHA256_M24_H5"),
          lmots,
        );
        const base = parseLmsSignature(small.sign(17, message));
        const tall = { ...base, lms, path: concat(base.path, randomBytes((lms.h - 5) * lms.m)) };
        const publicKey: LmsPublicKey = {
          lms,
          lmots,
          identifier: small.identifier,
          root: lmsRootOf(small.identifier, message, tall),
        };
        const signature = encodeLmsSignature(tall);
        assert.equal(signature.length, lmsSignatureBytes(lms, lmots));
        assert.equal(
          toHex(encodeLmsSignature(parseLmsSignature(signature, publicKey))),
          toHex(signature),
        );
        assert.equal(lmsVerify(encodeLmsPublicKey(publicKey), message, signature), true);
        assert.equal(lmsVerify(publicKey, other, signature), false);
        const pathAt = signature.length - lms.h * lms.m;
        assert.equal(lmsVerify(publicKey, message, flipped(signature, pathAt + 5 * lms.m)), false);
        assert.equal(
          lmsVerify(publicKey, message, flipped(signature, signature.length - 1)),
          false,
        );
      });
    }
  });

  describe("attempts: the randomizer cheapest to verify", function () {
    this.timeout(60_000);
    const key = LmsPrivateKey.generate(lmsOf("LMS_SHA256_M24_H5"), lmotsOf("LMOTS_SHA256_N24_W4"));
    const publicKey = encodeLmsPublicKey(key.publicKey);

    /** The hash steps a verifier runs for `signature` of `message` (what its gas goes with). */
    function stepsOf(signature: Uint8Array, message: Uint8Array): number {
      const parsed = parseLmsSignature(signature, key.publicKey);
      const { n } = key.lmots;
      const c = parsed.lmotsSignature.subarray(4, 4 + n);
      const q = createHash("sha256")
        .update(concat(key.identifier, u32(parsed.q), Uint8Array.of(0x81, 0x81), c, message))
        .digest()
        .subarray(0, n);
      return lmotsVerifySteps(key.lmots, lmotsDigits(key.lmots, q));
    }

    it("signs as before with one attempt, the default: the derived randomizer", function () {
      const message = randomBytes(32);
      assert.equal(toHex(key.sign(3, message, { attempts: 1 })), toHex(key.sign(3, message)));
    });

    it("verifies, costs a verifier fewer steps and is deterministic with LMS_ON_CHAIN_ATTEMPTS", function () {
      let plain = 0;
      let cheap = 0;
      for (let i = 0; i < 8; i++) {
        const message = randomBytes(32);
        const signature = key.sign(i, message, { attempts: LMS_ON_CHAIN_ATTEMPTS });
        assert.equal(lmsVerify(publicKey, message, signature), true);
        assert.equal(
          toHex(key.sign(i, message, { attempts: LMS_ON_CHAIN_ATTEMPTS })),
          toHex(signature),
        );
        const steps = stepsOf(signature, message);
        const before = stepsOf(key.sign(i, message), message);
        assert.ok(steps <= before, `${String(steps)} steps, ${String(before)} without attempts`);
        plain += before;
        cheap += steps;
      }
      // ~390 steps a signature on average without, ~270 with 4,096 attempts (each step a SHA-256 call on chain).
      assert.ok(cheap / 8 < 320, `${String(cheap / 8)} steps on average`);
      assert.ok(plain - cheap > 8 * 40, `saved ${String((plain - cheap) / 8)} steps on average`);
    });

    it("refuses attempts that are not a whole number from 1 to 2^24", function () {
      for (const attempts of [0, -1, 1.5, 2 ** 24 + 1]) {
        assert.throws(
          () => key.sign(0, new Uint8Array(32), { attempts }),
          (err: unknown) => err instanceof InvalidInputError && err.message.includes("attempts"),
        );
      }
    });
  });

  describe("parsers", function () {
    const lms = lmsOf("LMS_SHA256_M32_H5");
    const lmots = lmotsOf("LMOTS_SHA256_N32_W8");
    const key = LmsPrivateKey.fromSeed({
      lms,
      lmots,
      seed: new Uint8Array(32).fill(7),
      identifier: new Uint8Array(16).fill(9),
    });
    const publicKey = encodeLmsPublicKey(key.publicKey);
    const message = Uint8Array.of(0xde, 0xad);
    const signature = key.sign(5, message);
    const lmsTypeAt = 4 + lmots.signatureBytes;

    function withU32(bytes: Uint8Array, offset: number, value: number): Uint8Array {
      const out = Uint8Array.from(bytes);
      out.set(u32(value), offset);
      return out;
    }

    it("refuses a public key that is truncated, too long, of unknown typecodes or of mixed hashes", function () {
      const field = "LMS public key";
      parseError(() => parseLmsPublicKey(publicKey.subarray(0, 55)), "truncated", field);
      parseError(() => parseLmsPublicKey(publicKey.subarray(0, 6)), "truncated", field);
      parseError(
        () => parseLmsPublicKey(concat(publicKey, Uint8Array.of(0))),
        "trailing-bytes",
        field,
      );
      parseError(() => parseLmsPublicKey(withU32(publicKey, 0, 0)), "unknown-lms-type", field);
      parseError(() => parseLmsPublicKey(withU32(publicKey, 0, 0x0f)), "unknown-lms-type", field);
      parseError(() => parseLmsPublicKey(withU32(publicKey, 4, 9)), "unknown-lmots-type", field);
      parseError(() => parseLmsPublicKey(withU32(publicKey, 4, 8)), "type-mismatch", field);
      // A public key is configuration: a malformed one throws even from the verifier.
      assert.throws(() => lmsVerify(withU32(publicKey, 0, 0), message, signature), LmsParseError);
    });

    it("refuses a signature that is truncated, too long, of unknown typecodes, of mixed hashes, or with q outside the tree", function () {
      const field = "LMS signature";
      const bad: [Uint8Array, LmsProblem][] = [
        [signature.subarray(0, signature.length - 1), "truncated"],
        [signature.subarray(0, 7), "truncated"],
        [signature.subarray(0, lmsTypeAt + 2), "truncated"],
        [concat(signature, Uint8Array.of(0, 0)), "trailing-bytes"],
        [withU32(signature, 4, 0), "unknown-lmots-type"],
        [withU32(signature, 4, 0x0100_0003), "unknown-lmots-type"],
        [withU32(signature, lmsTypeAt, 0x0f), "unknown-lms-type"],
        [withU32(signature, lmsTypeAt, 0x0a), "type-mismatch"],
        [withU32(signature, 0, 32), "q-out-of-range"],
        [withU32(signature, 0, 0xffff_ffff), "q-out-of-range"],
      ];
      for (const [bytes, problem] of bad) {
        const err = parseError(() => parseLmsSignature(bytes), problem, field);
        assert.equal(lmsVerify(publicKey, message, bytes), false, err.message);
      }
      assert.match(
        parseError(() => parseLmsSignature(withU32(signature, 0, 32)), "q-out-of-range", field)
          .message,
        /leaf q = 32.*leaves 0\.\.31/,
      );
    });

    it("refuses a signature of another parameter set than its key's", function () {
      const otherKey = LmsPrivateKey.generate(
        lmsOf("LMS_SHA256_M32_H5"),
        lmotsOf("LMOTS_SHA256_N32_W4"),
      );
      const err = parseError(
        () => parseLmsSignature(signature, otherKey.publicKey),
        "type-mismatch",
        "LMS signature",
      );
      assert.match(
        err.message,
        /LMS_SHA256_M32_H5\/LMOTS_SHA256_N32_W8 signature, and the public key is LMS_SHA256_M32_H5\/LMOTS_SHA256_N32_W4/,
      );
      assert.equal(lmsVerify(otherKey.publicKey, message, signature), false);
    });

    it("refuses HSS values with a level count outside 1..8, another level count than the key's, or stray bytes", function () {
      const hssKey = encodeHssPublicKey({ levels: 1, top: key.publicKey });
      const hssSig = concat(u32(0), signature);
      assert.equal(hssVerify(hssKey, message, hssSig), true);
      parseError(
        () => parseHssPublicKey(withU32(hssKey, 0, 0)),
        "levels-out-of-range",
        "HSS public key",
      );
      parseError(
        () => parseHssPublicKey(withU32(hssKey, 0, 9)),
        "levels-out-of-range",
        "HSS public key",
      );
      parseError(() => parseHssPublicKey(hssKey.subarray(0, 3)), "truncated", "HSS public key");
      parseError(
        () => parseHssPublicKey(concat(hssKey, Uint8Array.of(1))),
        "trailing-bytes",
        "HSS public key",
      );
      parseError(
        () => parseHssSignature(withU32(hssSig, 0, 8)),
        "levels-out-of-range",
        "HSS signature",
      );
      parseError(
        () => parseHssSignature(withU32(hssSig, 0, 1), parseHssPublicKey(hssKey)),
        "levels-out-of-range",
        "HSS signature",
      );
      parseError(() => parseHssSignature(hssSig.subarray(0, 2)), "truncated", "HSS signature");
      parseError(
        () => parseHssSignature(concat(hssSig, Uint8Array.of(1))),
        "trailing-bytes",
        "HSS signature",
      );
      // Inside an HSS signature, each level's problem names that level.
      parseError(
        () => parseHssSignature(withU32(hssSig, 4, 32)),
        "q-out-of-range",
        "HSS signature (level 0 signature)",
      );
      for (const bytes of [
        withU32(hssSig, 0, 8),
        withU32(hssSig, 0, 1),
        concat(hssSig, Uint8Array.of(1)),
      ]) {
        assert.equal(hssVerify(hssKey, message, bytes), false);
      }
      assert.throws(() => encodeHssPublicKey({ levels: 0, top: key.publicKey }), LmsParseError);
    });
  });

  describe("Solidity fixtures (test/fixtures/lms/h10w4.json)", function () {
    this.timeout(60_000);

    it("are what buildLmsFixtures makes (npm run lms:fixtures), and every signature verifies", function () {
      const committed = JSON.parse(
        readFileSync("test/fixtures/lms/h10w4.json", "utf8"),
      ) as LmsFixtures;
      assert.deepEqual(committed, JSON.parse(JSON.stringify(buildLmsFixtures())));
      assert.deepEqual(
        committed.sets.map((set) => [set.lms, set.lmots, set.signatures.length]),
        [
          ["LMS_SHA256_M32_H10", "LMOTS_SHA256_N32_W4", 5],
          ["LMS_SHA256_M24_H10", "LMOTS_SHA256_N24_W4", 1],
        ],
      );
      for (const set of committed.sets) {
        const publicKey = parseLmsPublicKey(fromHex(set.publicKey));
        assert.equal(toHex(publicKey.root), set.root);
        assert.equal(publicKey.lms.typecode, set.lmsType);
        assert.equal(publicKey.lmots.typecode, set.lmotsType);
        for (const s of set.signatures) {
          assert.equal(parseLmsSignature(fromHex(s.signature), publicKey).q, s.q);
          assert.equal(lmsVerify(publicKey, fromHex(s.message), fromHex(s.signature)), true);
        }
      }
    });
  });
});
