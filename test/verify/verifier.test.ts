import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import type { Hex } from "../../src/protocol/index.js";
import { LruCache } from "../../src/verify/lru.js";
import { PublicKeyCache } from "../../src/verify/public-key-cache.js";
import { hasNativeSecp256k1 } from "../../src/verify/secp256k1-recover.js";
import { checkDeviceSignature } from "../../src/verify/signature.js";
import { SignatureVerifier } from "../../src/verify/verifier.js";
import { referenceCheck } from "./reference-verifier.js";
import { mutations, newDevice, offCurve, randomDigest, type Vector } from "./vectors.js";

const hex = (bytes: Uint8Array): Hex => `0x${Buffer.from(bytes).toString("hex")}`;

/** Every verifier configuration that must agree with the old verifier. */
function verifiers(): { readonly name: string; readonly verifier: SignatureVerifier }[] {
  const backends = hasNativeSecp256k1()
    ? (["libsecp256k1", "noble"] as const)
    : (["noble"] as const);
  return backends.flatMap((backend) => [
    { name: `${backend}, cached`, verifier: new SignatureVerifier({ secp256k1Backend: backend }) },
    {
      name: `${backend}, no cache`,
      verifier: new SignatureVerifier({ secp256k1Backend: backend, secp256k1Keys: 0, p256Keys: 0 }),
    },
    {
      name: `${backend}, 1-key caches`,
      verifier: new SignatureVerifier({ secp256k1Backend: backend, secp256k1Keys: 1, p256Keys: 1 }),
    },
  ]);
}

function assertSameVerdicts(vectors: readonly Vector[]): void {
  const all = verifiers();
  for (const v of vectors) {
    const expected = referenceCheck(v.key, v.digest, v.signature);
    for (const { name, verifier } of all) {
      assert.equal(verifier.check(v.key, v.digest, v.signature), expected, `${v.what}: ${name}`);
    }
    assert.equal(checkDeviceSignature(v.key, v.digest, v.signature), expected, v.what);
  }
}

describe("SignatureVerifier", () => {
  it("runs secp256k1 on libsecp256k1 where its addon loads", function () {
    if (!hasNativeSecp256k1()) this.skip();
    assert.equal(new SignatureVerifier().secp256k1Backend, "libsecp256k1");
  });

  describe("check", () => {
    for (const curve of ["secp256k1", "p256"] as const) {
      it(`${curve}: gives the old verifier's verdict on valid, wrong-key, other-signer and malformed vectors`, () => {
        const device = newDevice(curve);
        const other = newDevice(curve);
        const d = randomDigest();
        const sig = device.sign(d);
        const digest = hex(d);
        const n = curve === "secp256k1" ? 65 : 64;
        const vectors: Vector[] = [
          { what: "valid", key: device.key, digest, signature: sig },
          { what: "wrong key", key: other.key, digest, signature: sig },
          { what: "valid again (cached)", key: device.key, digest, signature: sig },
          { what: "another device's signature", key: device.key, digest, signature: other.sign(d) },
          { what: "malformed signature", key: device.key, digest, signature: `${sig}zz` as Hex },
          { what: "odd digest", key: device.key, digest: `${digest}0` as Hex, signature: sig },
          {
            what: "short signature",
            key: device.key,
            digest,
            signature: sig.slice(0, 2 * n) as Hex,
          },
        ];
        assertSameVerdicts(vectors);
        assert.deepEqual(
          vectors.map((v) => referenceCheck(v.key, v.digest, v.signature)),
          [
            "valid",
            "wrong-signer",
            "valid",
            "wrong-signer",
            "malformed",
            "malformed",
            "bad-signature-length",
          ],
        );
      });
    }

    it("secp256k1: rejects the flipped-v twin of a valid signature, before and after the key is cached", () => {
      const device = newDevice("secp256k1");
      const d = randomDigest();
      const sig = device.sign(d);
      const v = Number.parseInt(sig.slice(130), 16);
      const flipped = `${sig.slice(0, 130)}${(55 - v).toString(16)}` as Hex;
      for (const { name, verifier } of verifiers()) {
        assert.equal(verifier.check(device.key, hex(d), flipped), "wrong-signer", `${name}: cold`);
        assert.equal(verifier.check(device.key, hex(d), sig), "valid", name);
        assert.equal(
          verifier.check(device.key, hex(d), flipped),
          "wrong-signer",
          `${name}: cached`,
        );
      }
      assert.equal(referenceCheck(device.key, hex(d), flipped), "wrong-signer");
    });

    it("secp256k1: rejects v outside {27, 28} and the high-s twin", () => {
      const device = newDevice("secp256k1");
      const d = randomDigest();
      const sig = device.sign(d);
      const vectors: Vector[] = [0, 1, 26, 29, 255].map((v) => ({
        what: `v = ${String(v)}`,
        key: device.key,
        digest: hex(d),
        signature: `${sig.slice(0, 130)}${v.toString(16).padStart(2, "0")}` as Hex,
      }));
      assertSameVerdicts(vectors);
      for (const v of vectors) assert.equal(referenceCheck(v.key, v.digest, v.signature), "bad-v");
      const twin = mutations(device, device, 1, 400).filter((m) => m.what.includes("high-s twin"));
      assert.ok(twin.length > 0);
      assertSameVerdicts(twin);
      for (const m of twin) assert.equal(referenceCheck(m.key, m.digest, m.signature), "high-s");
    });

    it("P-256: judges the key before the signature, as the contract", () => {
      const device = newDevice("p256");
      const key = offCurve(device);
      const d = hex(randomDigest());
      const vectors: Vector[] = [
        { what: "off curve", key, digest: d, signature: device.sign(randomDigest()) },
        { what: "off curve, malformed signature", key, digest: d, signature: "0xzz" },
        { what: "off curve, short signature", key, digest: d, signature: "0x1234" },
      ];
      assertSameVerdicts(vectors);
      for (const v of vectors)
        assert.equal(referenceCheck(v.key, v.digest, v.signature), "not-on-curve");
    });

    it("gives the old verifier's verdict on 1,200 seeded random mutations of valid signatures", () => {
      const seed = randomInt(2 ** 31);
      const vectors: Vector[] = [];
      for (const curve of ["secp256k1", "p256"] as const) {
        const devices = Array.from({ length: 4 }, () => newDevice(curve));
        for (const [i, device] of devices.entries()) {
          vectors.push(
            ...mutations(device, devices[(i + 1) % devices.length] ?? device, seed + i, 150),
          );
        }
      }
      // Every verdict but unreachable "valid"-looking garbage shows up, so the fuzz covers each branch.
      const seen = new Set(vectors.map((v) => referenceCheck(v.key, v.digest, v.signature)));
      for (const verdict of [
        "valid",
        "malformed",
        "unsupported-key-type",
        "bad-key-length",
        "bad-signature-length",
        "out-of-range",
        "high-s",
        "bad-v",
        "wrong-signer",
      ] as const) {
        assert.ok(seen.has(verdict), `seed ${String(seed)}: no ${verdict} vector`);
      }
      assertSameVerdicts(vectors);
    });
  });

  describe("secp256k1 key cache", () => {
    it("keeps at most its capacity of devices, drops the least recently used, and re-learns it", () => {
      const verifier = new SignatureVerifier({ secp256k1Keys: 2 });
      const devices = Array.from({ length: 3 }, () => newDevice("secp256k1"));
      const d = randomDigest();
      const sigs = devices.map((device) => device.sign(d));
      const check = (i: number, j = i): string =>
        verifier.check(devices[i]?.key ?? devices[0]!.key, hex(d), sigs[j] ?? "0x");
      assert.equal(check(0), "valid");
      assert.equal(check(1), "valid");
      assert.equal(verifier.cachedKeys.secp256k1, 2);
      assert.equal(check(0), "valid"); // 0 is now the most recent: 2 evicts 1
      assert.equal(check(2), "valid");
      assert.equal(verifier.cachedKeys.secp256k1, 2);
      // Whatever is cached, another device's signature never passes, and evicted keys come back.
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 3; i++) {
          for (let j = 0; j < 3; j++) assert.equal(check(i, j), i === j ? "valid" : "wrong-signer");
        }
      }
      assert.equal(verifier.cachedKeys.secp256k1, 2);
    });

    it("does not cache a key that failed to match its address", () => {
      const verifier = new SignatureVerifier();
      const [a, b] = [newDevice("secp256k1"), newDevice("secp256k1")];
      const d = randomDigest();
      assert.equal(verifier.check(a.key, hex(d), b.sign(d)), "wrong-signer");
      assert.equal(verifier.cachedKeys.secp256k1, 0);
      assert.equal(verifier.check(a.key, hex(d), a.sign(d)), "valid");
      assert.equal(verifier.cachedKeys.secp256k1, 1);
      assert.equal(verifier.check(a.key, hex(d), b.sign(d)), "wrong-signer");
    });
  });
});

describe("LruCache", () => {
  it("evicts the least recently used entry and returns it", () => {
    const lru = new LruCache<string, number>(2);
    assert.equal(lru.set("a", 1), undefined);
    assert.equal(lru.set("b", 2), undefined);
    assert.equal(lru.get("a"), 1);
    assert.deepEqual(lru.set("c", 3), { key: "b", value: 2 });
    assert.deepEqual([...lru.keys()], ["a", "c"]);
    assert.equal(lru.set("a", 10), undefined); // an update evicts nothing
    assert.deepEqual(lru.set("d", 4), { key: "c", value: 3 });
    assert.deepEqual([...lru.keys()], ["a", "d"]);
    assert.equal(lru.size, 2);
  });

  it("refuses a capacity below 1", () => {
    assert.throws(() => new LruCache(0), { code: "INVALID_INPUT" });
  });
});

describe("PublicKeyCache", () => {
  it("matches only the cached bytes, reuses evicted slots, and grows its slab", () => {
    const cache = new PublicKeyCache(3000, 4);
    const keyOf = (i: number): Uint8Array => Uint8Array.of(0, i & 0xff, (i >> 8) & 0xff, 7, 9);
    for (let i = 0; i < 5000; i++) cache.set(`id${String(i)}`, keyOf(i), 1);
    assert.equal(cache.size, 3000);
    for (let i = 0; i < 5000; i++) {
      const id = `id${String(i)}`;
      assert.equal(cache.matches(id, keyOf(i), 1), i < 2000 ? undefined : true, id);
      if (i >= 2000) assert.equal(cache.matches(id, keyOf(i + 1), 1), false, id);
    }
    assert.equal(cache.matches("id4999", Uint8Array.of(1, 2, 3, 4), 0), false);
    cache.set("id4999", Uint8Array.of(1, 2, 3, 4), 0);
    assert.equal(cache.matches("id4999", Uint8Array.of(1, 2, 3, 4), 0), true);
  });
});
