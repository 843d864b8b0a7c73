import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { p256 } from "@noble/curves/nist.js";
import { decode, encode, Tag } from "cbor2";
import { buildPsaToken } from "../../src/device/psa-token.js";
import { encodeLoose } from "../support/cbor-loose.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import {
  CURVE_ORDER,
  ES256_PROTECTED_HEADER,
  PSA_PROFILE,
  coseSign1ToBeSigned,
  encodePsaClaims,
  fromHex,
  measureImages,
  psaInstanceId,
  psaMeasurement,
  sha256Hex,
  toHex,
  type Hex,
  type PsaClaims,
  type PsaSoftwareComponent,
} from "../../src/protocol/index.js";
import {
  PSA_TOKEN_PROBLEMS,
  PsaTokenError,
  appraisePsaToken,
  parsePsaToken,
  type PsaTokenAppraisal,
  type PsaTokenProblem,
} from "../../src/verify/psa-token.js";

const bytes32 = (byte: string): Hex => `0x${byte.repeat(32)}`;
const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
/**
 * cbor2 encodes a Buffer as a map ({type, data}), and decodes byte strings as Buffers when given a Buffer:
 * everything a test encodes goes through here, byte strings as plain Uint8Arrays.
 */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [plain(k), plain(v)]));
  if (value instanceof Tag) return new Tag(value.tag, plain(value.contents));
  return value;
}
const cde = (value: unknown): Uint8Array => encode(plain(value), { cde: true });

const store = SoftwareKeyStore.generate("p256");
const other = SoftwareKeyStore.generate("p256");
const NONCE = bytes32("a5");
const IMPLEMENTATION_ID = bytes32("07");
const SIGNER = bytes32("51");
/** A three-stage boot: bootloader, PSA RoT (TF-M), application. */
const IMAGES = [
  Buffer.from("bootloader 3.1.0"),
  Buffer.from("tf-m 2.1.0"),
  Buffer.from("app 1.4.2"),
];
const TYPES = ["BL", "PRoT", "App"];
const COMPONENTS: PsaSoftwareComponent[] = IMAGES.map((image, i) => ({
  measurementType: TYPES[i],
  measurementValue: sha256Hex(image),
  version: "1.0.0",
  signerId: SIGNER,
}));
/** What the maker publishes for this release: one bytes32, as for any measured boot. */
const RELEASE = measureImages(IMAGES).measurement;

function claims(change: Partial<PsaClaims> = {}): PsaClaims {
  return {
    nonce: NONCE,
    instanceId: psaInstanceId(store.publicKey),
    clientId: -1,
    securityLifecycle: 0x3000,
    implementationId: IMPLEMENTATION_ID,
    bootSeed: bytes32("5e"),
    softwareComponents: COMPONENTS,
    ...change,
  };
}

/** Everything an honest verifier holds for this device and release. */
const honest = (): PsaTokenAppraisal => ({
  publicKey: store.deviceKey.key,
  nonce: NONCE,
  implementationId: IMPLEMENTATION_ID,
  instanceId: psaInstanceId(store.publicKey),
  referenceValues: new Map(COMPONENTS.map((c) => [c.measurementValue, { signerId: c.signerId }])),
  referenceMeasurement: RELEASE,
});

/** The problem appraising `token` names (with the honest appraisal, changed), or "accepted". */
function problemOf(
  token: Uint8Array,
  change: Partial<PsaTokenAppraisal> = {},
): PsaTokenProblem | "accepted" {
  try {
    appraisePsaToken(token, { ...honest(), ...change });
    return "accepted";
  } catch (err: unknown) {
    if (err instanceof PsaTokenError) return err.problem;
    throw err;
  }
}

const token = (change: Partial<PsaClaims> = {}): Promise<Uint8Array> =>
  buildPsaToken(claims(change), store);

/**
 * A COSE_Sign1 around `payload` that the device really signed, parts as given: a token whose only fault
 * is the one a test puts in.
 */
async function signed(
  payload: Uint8Array,
  parts: { protectedHeader?: Uint8Array; unprotected?: Map<unknown, unknown>; tag?: number } = {},
): Promise<Uint8Array> {
  const protectedHeader = parts.protectedHeader ?? ES256_PROTECTED_HEADER;
  const signature = fromHex(
    await store.signCoseSign1(coseSign1ToBeSigned(protectedHeader, payload)),
  );
  return cde(
    new Tag(parts.tag ?? 18, [protectedHeader, parts.unprotected ?? new Map(), payload, signature]),
  );
}

/** The honest claims as a CBOR map, to change and encode again. */
function claimsMap(): Map<unknown, unknown> {
  return decode<Map<unknown, unknown>>(encodePsaClaims(claims()), { preferMap: true });
}

/** A payload with one claim set to `value` (removed when undefined), deterministically encoded. */
function payloadWith(key: number, value: unknown): Uint8Array {
  const m = claimsMap();
  if (value === undefined) m.delete(key);
  else m.set(key, value);
  return cde(m);
}

/** `bytes` with the first occurrence of hex `from` replaced by `to`. */
function replaced(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const hex = hexOf(bytes);
  const at = hex.indexOf(from);
  assert.ok(at >= 0 && at % 2 === 0, `${from} is in the bytes`);
  return fromHex(`0x${hex.slice(0, at)}${to}${hex.slice(at + from.length)}`);
}

/** The token with its signature's s replaced by n - s (the same signature, the other half). */
function flipS(t: Uint8Array): Uint8Array {
  const s = BigInt(toHex(t.subarray(t.length - 32)));
  const flipped = fromHex(`0x${(CURVE_ORDER.p256 - s).toString(16).padStart(64, "0")}`);
  return Buffer.concat([t.subarray(0, t.length - 32), flipped]);
}

/** The COSE_Sign1 array of a token, without its tag. */
const partsOf = (t: Uint8Array): unknown[] => decode<unknown[]>(t.subarray(1), { preferMap: true });

/** The token with its signature replaced (r‖s, any length). */
function withSignature(t: Uint8Array, signature: Uint8Array): Uint8Array {
  const [p, u, payload] = partsOf(t);
  return cde(new Tag(18, [p, u, payload, signature]));
}

/**
 * A token the device really signed, every part encoded loosely: the payload's claims and the headers'
 * maps re-encoded with `form` and `order`, the Sig_structure (deterministic, RFC 9052 §9) over the
 * protected bytes as written.
 */
async function looseToken(
  form: () => number,
  order: <T>(entries: T[]) => T[] = (e) => e,
  headers: { protected?: Map<unknown, unknown>; unprotected?: Map<unknown, unknown> } = {},
): Promise<Uint8Array> {
  const payload = encodeLoose(claimsMap(), form, order);
  const protectedHeader = encodeLoose(headers.protected ?? new Map([[1, -7]]), form, order);
  const signature = fromHex(
    await store.signCoseSign1(coseSign1ToBeSigned(protectedHeader, payload)),
  );
  return encodeLoose(
    new Tag(18, [protectedHeader, headers.unprotected ?? new Map(), payload, signature]),
    form,
    order,
  );
}

type Case = readonly [what: string, problem: () => Promise<PsaTokenProblem | "accepted">];

/**
 * Tokens each rule refuses. The record's type lists every problem, so a problem added to
 * PSA_TOKEN_PROBLEMS without a test here does not compile.
 */
const CASES: Record<PsaTokenProblem, readonly Case[]> = {
  Malformed: [
    [
      "a break where the unprotected header should be",
      async () => {
        const t = await token();
        assert.equal(t[6], 0xa0);
        return problemOf(Buffer.concat([t.subarray(0, 6), Buffer.of(0xff), t.subarray(7)]));
      },
    ],
    [
      "a reserved initial byte (additional information 28)",
      () => Promise.resolve(problemOf(Buffer.of(0xfc))),
    ],
    [
      "a text string that is not UTF-8 (a measurement type)",
      async () =>
        // "BL" → 0xc3 0x28, an invalid two-byte sequence
        problemOf(await signed(replaced(encodePsaClaims(claims()), "62424c", "62c328"))),
    ],
    [
      "nesting deeper than any token needs",
      async () => {
        let deep: unknown = [];
        for (let i = 0; i < 10; i++) deep = [deep];
        return problemOf(await signed(payloadWith(2400, deep)));
      },
    ],
  ],
  Truncated: [
    [
      "a token cut one byte short",
      async () => {
        const t = await token();
        return problemOf(t.subarray(0, t.length - 1));
      },
    ],
    [
      "a payload length that runs past the end",
      async () => {
        const t = await token();
        assert.equal(hexOf(t.subarray(7, 8)), "59");
        return problemOf(Buffer.concat([t.subarray(0, 8), Buffer.of(0xff, 0xff), t.subarray(10)]));
      },
    ],
    ["an empty token", () => Promise.resolve(problemOf(new Uint8Array(0)))],
  ],
  TrailingBytes: [
    ["a byte after the token", async () => problemOf(Buffer.concat([await token(), Buffer.of(0)]))],
    [
      "a byte after the claims map, inside the signed payload",
      async () => problemOf(await signed(Buffer.concat([encodePsaClaims(claims()), Buffer.of(0)]))),
    ],
  ],
  IndefiniteLength: [
    [
      "the COSE array as an indefinite-length array",
      async () => {
        const t = await token();
        assert.equal(t[1], 0x84);
        return problemOf(Buffer.concat([Buffer.of(0xd2, 0x9f), t.subarray(2), Buffer.of(0xff)]));
      },
    ],
    [
      "the nonce as an indefinite-length byte string",
      async () => {
        const chunked = `5f5810${"a5".repeat(16)}5810${"a5".repeat(16)}ff`;
        const payload = replaced(
          encodePsaClaims(claims()),
          `0a5820${"a5".repeat(32)}`,
          `0a${chunked}`,
        );
        return problemOf(await signed(payload));
      },
    ],
  ],
  DuplicateKey: [
    [
      "alg twice in the protected map, once in a longer form (01 and 18 01)",
      async () =>
        problemOf(
          await signed(encodePsaClaims(claims()), { protectedHeader: fromHex("0xa20126180126") }),
        ),
    ],
    [
      "the nonce's key twice, once in a longer form (0a and 18 0a)",
      async () => {
        const payload = encodePsaClaims(claims());
        const twice = Buffer.concat([
          Buffer.of(0xa9),
          payload.subarray(1),
          fromHex(`0x180a5820${"a5".repeat(32)}`),
        ]);
        return problemOf(await signed(twice));
      },
    ],
    [
      "the nonce claim twice",
      async () => {
        const payload = encodePsaClaims(claims());
        assert.equal(payload[0], 0xa8, "eight claims");
        const twice = Buffer.concat([
          Buffer.of(0xa9),
          payload.subarray(1),
          fromHex(`0x0a5820${"a5".repeat(32)}`),
        ]);
        return problemOf(await signed(twice));
      },
    ],
    [
      "a component with its measurement value twice",
      async () => {
        const m = claimsMap();
        const payload = cde(m);
        const value = COMPONENTS[0]?.measurementValue.slice(2) ?? "";
        const doubled = replaced(
          payload,
          `a40162424c025820${value}`,
          `a50162424c025820${value}025820${value}`,
        );
        return problemOf(await signed(doubled));
      },
    ],
  ],
  UnexpectedItem: [
    [
      "a detached payload (nil): no token item is a simple value",
      async () => {
        const [p, u, , s] = partsOf(await token());
        return problemOf(cde(new Tag(18, [p, u, null, s])));
      },
    ],
    [
      "the client id -1 as a half-precision float (f9 bc 00)",
      async () =>
        problemOf(await signed(replaced(encodePsaClaims(claims()), "19095a20", "19095af9bc00"))),
    ],
    [
      "a component's version as true",
      async () =>
        problemOf(await signed(replaced(encodePsaClaims(claims()), "65312e302e30", "f5"))),
    ],
  ],
  NotCoseSign1: [
    [
      "tag 17 (COSE_Mac0) instead of 18",
      async () => problemOf(await signed(encodePsaClaims(claims()), { tag: 17 })),
    ],
    ["an untagged COSE_Sign1", async () => problemOf((await token()).subarray(1))],
    [
      "a three-item array",
      async () => {
        const [p, u, payload] = partsOf(await token());
        return problemOf(cde(new Tag(18, [p, u, payload])));
      },
    ],
  ],
  UnsupportedAlgorithm: [
    [
      "ES384 (-35)",
      async () =>
        problemOf(
          await signed(encodePsaClaims(claims()), { protectedHeader: cde(new Map([[1, -35]])) }),
        ),
    ],
    [
      "no alg at all (an empty protected header)",
      async () =>
        problemOf(await signed(encodePsaClaims(claims()), { protectedHeader: new Uint8Array(0) })),
    ],
  ],
  CriticalHeader: [
    [
      "a protected crit naming a header the verifier does not know",
      async () => {
        const protectedHeader = cde(
          new Map<number, unknown>([
            [1, -7],
            [2, [99]],
            [99, 1],
          ]),
        );
        return problemOf(await signed(encodePsaClaims(claims()), { protectedHeader }));
      },
    ],
  ],
  DuplicateHeader: [
    [
      "a kid in both buckets",
      async () =>
        problemOf(
          await signed(encodePsaClaims(claims()), {
            protectedHeader: fromHex("0xa201260443696b31"),
            unprotected: new Map([[4, Buffer.from("ik2")]]),
          }),
        ),
    ],
    [
      "alg in the unprotected bucket as well",
      async () =>
        problemOf(await signed(encodePsaClaims(claims()), { unprotected: new Map([[1, -7]]) })),
    ],
  ],
  UnexpectedHeader: [
    [
      "a header label in text",
      async () =>
        problemOf(
          await signed(encodePsaClaims(claims()), {
            unprotected: new Map([["kid", Buffer.from("iak")]]),
          }),
        ),
    ],
    [
      "a header label above 127",
      async () =>
        problemOf(
          await signed(encodePsaClaims(claims()), {
            unprotected: new Map([[128, 1]]),
          }),
        ),
    ],
    [
      "a map as a header's value",
      async () =>
        problemOf(
          await signed(encodePsaClaims(claims()), {
            unprotected: new Map([[4, new Map()]]),
          }),
        ),
    ],
  ],
  MissingClaim: [
    ["no implementation id", async () => problemOf(await signed(payloadWith(2396, undefined)))],
    ["no profile", async () => problemOf(await signed(payloadWith(265, undefined)))],
    ["no software components", async () => problemOf(await signed(payloadWith(2399, undefined)))],
  ],
  UnknownClaim: [
    [
      "a claim key RFC 9783 does not define (2401)",
      async () => problemOf(await signed(payloadWith(2401, 1))),
    ],
    [
      "the legacy PSA_IOT_PROFILE_1 profile key (-75000)",
      async () => problemOf(await signed(payloadWith(-75000, "PSA_IOT_PROFILE_1"))),
    ],
  ],
  BadClaim: [
    ["a 31-byte nonce", async () => problemOf(await signed(payloadWith(10, new Uint8Array(31))))],
    ["a nonce as text", async () => problemOf(await signed(payloadWith(10, "a5".repeat(32))))],
    ["a client id of 0", async () => problemOf(await signed(payloadWith(2394, 0)))],
    [
      "a lifecycle in no RFC 9783 state (0x7000)",
      async () => problemOf(await signed(payloadWith(2395, 0x7000))),
    ],
    [
      "an instance id that is not a UEID of type RAND",
      async () =>
        problemOf(await signed(payloadWith(256, Buffer.concat([Buffer.of(2), Buffer.alloc(32)])))),
    ],
    [
      "a 7-byte boot seed",
      async () => problemOf(await signed(payloadWith(2397, new Uint8Array(7)))),
    ],
    [
      "a certification reference that is not EAN-13+5",
      async () => problemOf(await signed(payloadWith(2398, "1234567890123"))),
    ],
    [
      "a payload that is not a map",
      async () => problemOf(await signed(cde([new Uint8Array(32), 1]))),
    ],
  ],
  BadSoftwareComponent: [
    [
      "components that are not an array",
      async () => problemOf(await signed(payloadWith(2399, new Map()))),
    ],
    ["no components", async () => problemOf(await signed(payloadWith(2399, [])))],
    [
      "a component without its signer id",
      async () =>
        problemOf(
          await signed(
            payloadWith(2399, [new Map([[2, fromHex(COMPONENTS[0]?.measurementValue ?? "0x")]])]),
          ),
        ),
    ],
    [
      "a component with key 3 (unassigned)",
      async () =>
        problemOf(
          await signed(
            payloadWith(2399, [
              new Map<number, unknown>([
                [2, new Uint8Array(32)],
                [3, 1],
                [5, new Uint8Array(32)],
              ]),
            ]),
          ),
        ),
    ],
    [
      "a 20-byte (SHA-1) measurement value",
      async () =>
        problemOf(
          await signed(
            payloadWith(2399, [
              new Map([
                [2, new Uint8Array(20)],
                [5, new Uint8Array(32)],
              ]),
            ]),
          ),
        ),
    ],
  ],
  WrongProfile: [
    [
      "the PSA 2.0.0 draft profile",
      async () => problemOf(await signed(payloadWith(265, "http://arm.com/psa/2.0.0"))),
    ],
  ],
  MalformedSignature: [
    [
      "a 63-byte signature",
      async () => problemOf(withSignature(await token(), new Uint8Array(63))),
    ],
    [
      "r = 0",
      async () => {
        const t = await token();
        return problemOf(
          withSignature(t, Buffer.concat([Buffer.alloc(32), t.subarray(t.length - 32)])),
        );
      },
    ],
  ],
  HighS: [
    ["the honest signature with s replaced by n - s", async () => problemOf(flipS(await token()))],
  ],
  BadKey: [
    [
      "a key that is not on P-256",
      async () => problemOf(await token(), { publicKey: `0x${"01".repeat(64)}` }),
    ],
    [
      "an uncompressed key with its 0x04 prefix (65 bytes)",
      async () => problemOf(await token(), { publicKey: toHex(store.publicKey) }),
    ],
  ],
  BadSignature: [
    [
      "another device's key",
      async () => problemOf(await token(), { publicKey: other.deviceKey.key }),
    ],
    [
      "a token signed by another device",
      async () => problemOf(await buildPsaToken(claims(), other)),
    ],
    [
      "an honest signature over other claims",
      async () => {
        const t = await token();
        const forged = replaced(t, `5820${"a5".repeat(32)}`, `5820${"a6".repeat(32)}`);
        return problemOf(forged, { nonce: bytes32("a6") });
      },
    ],
  ],
  WrongNonce: [
    [
      "a nonce that is not the freshness value",
      async () => problemOf(await token({ nonce: bytes32("a6") })),
    ],
    ["a 48-byte nonce", async () => problemOf(await token({ nonce: `0x${"a5".repeat(48)}` }))],
  ],
  UntrustedLifecycle: [
    [
      "PSA RoT provisioning (0x2000)",
      async () => problemOf(await token({ securityLifecycle: 0x2000 })),
    ],
    [
      "recoverable PSA RoT debug (0x5001)",
      async () => problemOf(await token({ securityLifecycle: 0x5001 })),
    ],
    ["decommissioned (0x6000)", async () => problemOf(await token({ securityLifecycle: 0x6000 }))],
    [
      "non-PSA-RoT debug (0x4000) when the verifier trusts SECURED only",
      async () => problemOf(await token({ securityLifecycle: 0x4000 }), { securedOnly: true }),
    ],
  ],
  WrongImplementationId: [
    [
      "another PSA RoT's implementation id",
      async () => problemOf(await token({ implementationId: bytes32("08") })),
    ],
  ],
  WrongInstanceId: [
    [
      "another device's instance id",
      async () => problemOf(await token({ instanceId: psaInstanceId(other.publicKey) })),
    ],
  ],
  UnknownComponent: [
    [
      "an application the maker never released",
      async () => {
        const rogue = COMPONENTS.map((c, i) =>
          i === 2 ? { ...c, measurementValue: sha256Hex(Buffer.from("rogue")) } : c,
        );
        return problemOf(await token({ softwareComponents: rogue }), {
          referenceMeasurement: undefined,
        });
      },
    ],
    [
      "a known image signed by another authority",
      async () => {
        const resigned = COMPONENTS.map((c, i) =>
          i === 0 ? { ...c, signerId: bytes32("99") } : c,
        );
        return problemOf(await token({ softwareComponents: resigned }));
      },
    ],
    [
      "a component the callback refuses",
      async () => problemOf(await token(), { referenceValues: (c) => c.measurementType !== "App" }),
    ],
  ],
  MeasurementMismatch: [
    [
      "components in another order than the release's boot order",
      async () => {
        const swapped = [COMPONENTS[1], COMPONENTS[0], COMPONENTS[2]] as PsaSoftwareComponent[];
        return problemOf(await token({ softwareComponents: swapped }));
      },
    ],
    [
      "a release the registry does not hold",
      async () =>
        problemOf(await token(), {
          referenceMeasurement: measureImages([Buffer.from("old release")]).measurement,
        }),
    ],
    [
      "a component measured with SHA-512 (no DeviceTrust measurement)",
      async () => {
        const c: PsaSoftwareComponent = {
          measurementValue: `0x${"ab".repeat(64)}`,
          signerId: SIGNER,
        };
        return problemOf(await token({ softwareComponents: [c] }), { referenceValues: undefined });
      },
    ],
  ],
};

describe("PSA attestation tokens (RFC 9783)", function () {
  describe("appraisePsaToken", function () {
    it("accepts an honest token and gives its claims and measurement: the release's measured-boot digest", async function () {
      const appraised = appraisePsaToken(await token(), honest());
      assert.deepEqual(appraised.claims, claims());
      assert.equal(appraised.measurement, RELEASE);
    });

    it("trusts non-PSA-RoT debug (0x4000..0x40ff) and any SECURED sub-state, as RFC 9783 says", async function () {
      for (const securityLifecycle of [0x3000, 0x30ff, 0x4000, 0x40ff]) {
        assert.equal(problemOf(await token({ securityLifecycle })), "accepted");
      }
      assert.equal(
        problemOf(await token({ securityLifecycle: 0x30ff }), { securedOnly: true }),
        "accepted",
      );
    });

    it("accepts reference values written in upper-case hex, and a callback that knows the components", async function () {
      const upper = new Map(
        COMPONENTS.map((c): [Hex, object] => [
          `0x${c.measurementValue.slice(2).toUpperCase()}`,
          {},
        ]),
      );
      assert.equal(problemOf(await token(), { referenceValues: upper }), "accepted");
      const known = new Set(COMPONENTS.map((c) => c.measurementValue));
      assert.equal(
        problemOf(await token(), { referenceValues: (c) => known.has(c.measurementValue) }),
        "accepted",
      );
    });

    it("checks only what it is given: no ids, references or measurement", async function () {
      const appraised = appraisePsaToken(await token({ implementationId: bytes32("09") }), {
        publicKey: store.deviceKey.key,
        nonce: NONCE,
      });
      assert.equal(appraised.claims.implementationId, bytes32("09"));
    });

    it("gives no measurement for components measured with SHA-384", async function () {
      const c: PsaSoftwareComponent = {
        measurementValue: `0x${"ab".repeat(48)}`,
        signerId: SIGNER,
      };
      const appraised = appraisePsaToken(await token({ softwareComponents: [c] }), {
        publicKey: store.deviceKey.key,
        nonce: NONCE,
      });
      assert.equal(appraised.measurement, null);
    });

    it("takes the freshness value as 32 bytes only (the caller's mistake is not the token's)", function () {
      assert.throws(
        () => appraisePsaToken(new Uint8Array(0), { ...honest(), nonce: `0x${"a5".repeat(31)}` }),
        (err: unknown) => !(err instanceof PsaTokenError) && String(err).includes("32 bytes"),
      );
    });
  });

  describe("every rule, by its problem", function () {
    for (const problem of PSA_TOKEN_PROBLEMS) {
      describe(problem, function () {
        for (const [what, run] of CASES[problem]) {
          it(`refuses ${what}`, async function () {
            assert.equal(await run(), problem);
          });
        }
      });
    }
  });

  describe("variations RFC 9783 §5 lets an attester emit", function () {
    const shortest = () => 0;
    const reversed = <T>(entries: T[]): T[] => [...entries].reverse();

    it("accepts every head in its longest form, and claims and header labels in reverse order", async function () {
      for (const form of [() => 4, () => 2, () => 1]) {
        for (const order of [undefined, reversed]) {
          const t = await looseToken(form, order);
          const appraised = appraisePsaToken(t, honest());
          assert.deepEqual(appraised.claims, claims());
          assert.equal(appraised.measurement, RELEASE);
        }
      }
    });

    it("accepts a kid and a content type beside alg, and a kid and an x5chain in the unprotected bucket", async function () {
      for (const headers of [
        {
          protected: new Map<number, unknown>([
            [1, -7],
            [4, Buffer.from("iak")],
          ]),
        },
        {
          protected: new Map<number, unknown>([
            [1, -7],
            [3, 61],
          ]),
        },
        {
          unprotected: new Map<number, unknown>([
            [4, Buffer.from("iak")],
            [33, [Buffer.from("cert 1"), Buffer.from("cert 2")]],
          ]),
        },
      ]) {
        assert.equal(problemOf(await looseToken(shortest, undefined, headers)), "accepted");
      }
    });

    it("accepts 50 random encodings of the honest claims, each the same claims and measurement", async function () {
      let x = 0x9783;
      const random = () => {
        x = (x * 1103515245 + 12345) % 2 ** 31;
        return x;
      };
      const shuffled = <T>(entries: T[]): T[] =>
        entries
          .map((e) => [random(), e] as const)
          .sort((a, b) => a[0] - b[0])
          .map(([, e]) => e);
      for (let i = 0; i < 50; i++) {
        const t = await looseToken(random, shuffled);
        const appraised = appraisePsaToken(t, honest());
        assert.deepEqual(appraised.claims, claims());
        assert.equal(appraised.measurement, RELEASE);
      }
    });

    it("signs and verifies over the deterministic Sig_structure, whatever the token's own encoding", async function () {
      const t = await looseToken(() => 4);
      const parsed = parsePsaToken(t);
      assert.equal(
        toHex(parsed.toBeSigned),
        toHex(
          coseSign1ToBeSigned(
            encodeLoose(new Map([[1, -7]]), () => 4),
            parsed.payload,
          ),
        ),
      );
      // The builder's deterministic token of the same claims signs a different Sig_structure (its own
      // protected bytes), so it is a different signature: both verify.
      assert.equal(problemOf(await token()), "accepted");
    });
  });

  describe("parsePsaToken", function () {
    it("reads the token the builder made, every optional claim included", async function () {
      const full = claims({
        certificationReference: "1234567890123-12345",
        verificationServiceIndicator: "https://verifier.example",
        softwareComponents: [
          { ...COMPONENTS[0], measurementDescription: "sha-256" } as PsaSoftwareComponent,
        ],
      });
      const parsed = parsePsaToken(await buildPsaToken(full, store));
      assert.deepEqual(parsed.claims, full);
      assert.equal(toHex(parsed.payload), toHex(encodePsaClaims(full)));
    });

    it("refuses every single-byte change of a real token, by parsing or by signature", async function () {
      this.timeout(120_000);
      const t = await token();
      const c = claims();
      // Inside the contents of a byte or text string (ids, nonce, measurements, profile, versions,
      // signature) a change is other signed bytes, or not UTF-8: ten values a byte there (each bit
      // flipped, 0x00, 0xff). Every other byte (heads, lengths, keys, integers) could make the token
      // another shape: all 255 other values there.
      const texts = [
        PSA_PROFILE,
        ...c.softwareComponents.flatMap((x) => [x.measurementType, x.version]),
      ];
      const leaves = [c.nonce, c.instanceId, c.implementationId, c.bootSeed ?? "0x"]
        .concat(c.softwareComponents.flatMap((x) => [x.measurementValue, x.signerId]))
        .map((h) => h.slice(2))
        .concat(texts.map((text) => Buffer.from(text ?? "", "utf8").toString("hex")));
      const inLeaf = new Array<boolean>(t.length).fill(false);
      const hex = hexOf(t);
      for (const leaf of [...leaves, hex.slice(-128)]) {
        for (let at = hex.indexOf(leaf); at >= 0; at = hex.indexOf(leaf, at + 2)) {
          if (at % 2 === 0) inLeaf.fill(true, at / 2, at / 2 + leaf.length / 2);
        }
      }
      let byParse = 0;
      let bySignature = 0;
      const mutated = Buffer.from(t);
      for (let i = 0; i < t.length; i++) {
        const original = t[i] ?? 0;
        const values = inLeaf[i]
          ? [0x00, 0xff, ...[0, 1, 2, 3, 4, 5, 6, 7].map((bit) => original ^ (1 << bit))]
          : Array.from({ length: 256 }, (_, v) => v);
        for (const value of new Set(values)) {
          if (value === original) continue;
          mutated[i] = value;
          const problem = problemOf(mutated);
          assert.notEqual(problem, "accepted", `byte ${String(i)} set to 0x${value.toString(16)}`);
          if (problem === "BadSignature" || problem === "HighS") bySignature++;
          else byParse++;
        }
        mutated[i] = original;
      }
      // Nine 32-byte values (nonce, implementation id, boot seed, three measurements, three signer ids),
      // the 33-byte instance id, the signature, the profile, the texts.
      const leafBytes =
        9 * 32 + 33 + 64 + PSA_PROFILE.length + "BLPRoTApp".length + 3 * "1.0.0".length;
      assert.equal(inLeaf.filter(Boolean).length, leafBytes, "every leaf found, nothing else");
      assert.ok(byParse > 0 && bySignature > 0);
    });
  });

  describe("the fixture for the on-chain decoder (test/fixtures/psa/token.json)", function () {
    interface Fixture {
      token: Hex;
      nonce: Hex;
      measurement: Hex;
      claims: PsaClaims;
      payload: Hex;
      toBeSigned: Hex;
      messageHash: Hex;
      signature: { r: Hex; s: Hex };
      layout: Record<string, [number, number]>;
    }
    const file = JSON.parse(readFileSync("test/fixtures/psa/token.json", "utf8")) as Fixture & {
      privateKey: Hex;
      publicKey: Hex;
      releaseImages: string[];
      variants: Record<"minimal" | "full", Fixture>;
    };
    const all: [string, Fixture][] = [["typical", file], ...Object.entries(file.variants)];

    it("holds the key pair, and the typical token measures the release's images", function () {
      const uncompressed = p256.getPublicKey(fromHex(file.privateKey), false);
      assert.equal(toHex(uncompressed.subarray(1)), file.publicKey);
      const images = file.releaseImages.map((image) => Buffer.from(image, "utf8"));
      assert.equal(file.measurement, measureImages(images).measurement);
    });

    for (const [name, f] of all) {
      it(`${name}: appraises with its key, nonce and measurement, and every field says what the token holds`, function () {
        const token = fromHex(f.token);
        const appraised = appraisePsaToken(token, {
          publicKey: file.publicKey,
          nonce: f.nonce,
          instanceId: psaInstanceId(fromHex(file.publicKey)),
          referenceMeasurement: f.measurement,
        });
        assert.deepEqual(appraised.claims, f.claims);
        assert.equal(toHex(appraised.payload), f.payload);
        assert.equal(toHex(appraised.toBeSigned), f.toBeSigned);
        assert.equal(
          toHex(createHash("sha256").update(appraised.toBeSigned).digest()),
          f.messageHash,
        );
        assert.equal(appraised.signature, `0x${f.signature.r.slice(2)}${f.signature.s.slice(2)}`);
        for (const [field, [offset, length]] of Object.entries(f.layout)) {
          const at = toHex(token.subarray(offset, offset + length));
          const want =
            field === "payload"
              ? f.payload
              : field === "signature"
                ? appraised.signature
                : field === "profile"
                  ? toHex(Buffer.from(PSA_PROFILE, "utf8"))
                  : field.startsWith("softwareComponents[")
                    ? f.claims.softwareComponents[Number(field.slice(19, field.indexOf("]")))]
                        ?.measurementValue
                    : (f.claims as unknown as Record<string, Hex>)[field];
          assert.equal(at, want, `layout of ${field}`);
        }
      });

      it(`${name}: its signature is the deterministic one (RFC 6979, low-s), so regenerating changes nothing`, function () {
        const again = p256.sign(fromHex(f.toBeSigned), fromHex(file.privateKey), {
          prehash: true,
          lowS: true,
        });
        assert.equal(toHex(again), `0x${f.signature.r.slice(2)}${f.signature.s.slice(2)}`);
      });
    }
  });

  describe("psaMeasurement", function () {
    it("folds the measurement values as measured boot does: the release's digest", function () {
      assert.equal(psaMeasurement(COMPONENTS), measureImages(IMAGES).measurement);
      assert.equal(
        psaMeasurement(COMPONENTS.slice(0, 1)),
        measureImages(IMAGES.slice(0, 1)).measurement,
      );
    });

    it("commits to order and to every value", function () {
      const reordered = [COMPONENTS[2], COMPONENTS[1], COMPONENTS[0]] as PsaSoftwareComponent[];
      assert.notEqual(psaMeasurement(reordered), RELEASE);
      assert.notEqual(psaMeasurement(COMPONENTS.slice(0, 2)), RELEASE);
    });

    it("needs SHA-256 measurement values and at least one component", function () {
      assert.throws(() => psaMeasurement([]), /at least one/);
      assert.throws(
        () => psaMeasurement([{ measurementValue: `0x${"00".repeat(48)}` }]),
        /32 bytes/,
      );
    });
  });
});
