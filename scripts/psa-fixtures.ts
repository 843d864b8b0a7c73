/**
 * Writes test/fixtures/psa/token.json: Arm PSA attestation tokens (RFC 9783) from a fixed P-256 key, with
 * the key (x‖y), the freshness value, the expected DeviceTrust measurement, the signed bytes and the offset
 * of every value inside the token, for the Solidity decoder and its tests. Signatures are deterministic
 * (RFC 6979, low-s), so running this again changes no byte unless the token format changed.
 *
 *   "typical": the shape a DeviceTrust device sends (boot seed, three components with type and version);
 *   "minimal": only the mandatory claims, one component without type or version;
 *   "full":    every claim RFC 9783 defines, a component with a measurement description.
 *
 * Run with `npx hardhat run --no-compile scripts/psa-fixtures.ts` after changing the token format; commit
 * the result.
 */
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { p256 } from "@noble/curves/nist.js";
import { buildPsaToken } from "../src/device/psa-token.js";
import {
  PSA_PROFILE,
  coseSign1ToBeSigned,
  ES256_PROTECTED_HEADER,
  encodePsaClaims,
  measureImages,
  psaInstanceId,
  psaMeasurement,
  sha256Hex,
  toHex,
  type Hex,
  type PsaClaims,
  type PsaSoftwareComponent,
} from "../src/protocol/index.js";
import { appraisePsaToken } from "../src/verify/psa-token.js";

const OUT = "test/fixtures/psa/token.json";

/** A fixed test key: never a real device's. */
const PRIVATE_KEY: Hex = "0x5a1c3b7e9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c2e4b6d8f0a1c3e5b7d9f1a3c";

const label = (text: string): Hex => sha256Hex(Buffer.from(`devicetrust psa fixture: ${text}`));

const IMAGES = [
  Buffer.from("bootloader 3.1.0"),
  Buffer.from("tf-m 2.1.0"),
  Buffer.from("app 1.4.2"),
];

function componentsOf(signers: readonly Hex[]): PsaSoftwareComponent[] {
  return IMAGES.map((image, i) => ({
    measurementType: ["BL", "PRoT", "App"][i],
    measurementValue: sha256Hex(image),
    version: ["3.1.0", "2.1.0", "1.4.2"][i],
    signerId: signers[i] ?? "0x",
  }));
}

/** ES256 over the Sig_structure with RFC 6979 nonces: the same bytes every run. */
function deterministicSigner(secret: Uint8Array) {
  return (toBeSigned: Uint8Array): Promise<Uint8Array> =>
    Promise.resolve(p256.sign(toBeSigned, secret, { prehash: true, lowS: true }));
}

/** Offsets of `needle` in `haystack` (every occurrence). */
function offsetsOf(haystack: Uint8Array, needle: Uint8Array): number[] {
  const out: number[] = [];
  const buf = Buffer.from(haystack);
  for (let at = buf.indexOf(needle); at >= 0; at = buf.indexOf(needle, at + 1)) out.push(at);
  return out;
}

/** Where each value sits in the token: [offset, length], for a decoder that reads at fixed places. */
function layout(token: Uint8Array, claims: PsaClaims): Record<string, [number, number]> {
  const at = (value: Uint8Array, what: string): [number, number] => {
    const found = offsetsOf(token, value);
    if (found.length !== 1 || found[0] === undefined) {
      throw new Error(`${what} occurs ${String(found.length)} times in the token`);
    }
    return [found[0], value.length];
  };
  const hex = (h: Hex) => Buffer.from(h.slice(2), "hex");
  const entries: [string, [number, number]][] = [
    ["payload", at(encodePsaClaims(claims), "the payload")],
    ["nonce", at(hex(claims.nonce), "the nonce")],
    ["instanceId", at(hex(claims.instanceId), "the instance id")],
    ["profile", at(Buffer.from(PSA_PROFILE, "utf8"), "the profile")],
    ["implementationId", at(hex(claims.implementationId), "the implementation id")],
    ["signature", [token.length - 64, 64]],
  ];
  if (claims.bootSeed !== undefined)
    entries.push(["bootSeed", at(hex(claims.bootSeed), "the boot seed")]);
  claims.softwareComponents.forEach((c, i) => {
    entries.push([
      `softwareComponents[${String(i)}].measurementValue`,
      at(hex(c.measurementValue), "a measurement"),
    ]);
  });
  return Object.fromEntries(entries.sort((a, b) => a[1][0] - b[1][0]));
}

async function fixture(claims: PsaClaims, publicKey: Hex, secret: Uint8Array) {
  const token = await buildPsaToken(claims, deterministicSigner(secret));
  const appraised = appraisePsaToken(token, {
    publicKey,
    nonce: claims.nonce,
    implementationId: claims.implementationId,
    instanceId: claims.instanceId,
    referenceMeasurement: psaMeasurement(claims.softwareComponents),
  });
  const toBeSigned = coseSign1ToBeSigned(ES256_PROTECTED_HEADER, appraised.payload);
  const signature = appraised.signature;
  return {
    token: toHex(token),
    nonce: claims.nonce,
    measurement: appraised.measurement,
    claims,
    payload: toHex(appraised.payload),
    toBeSigned: toHex(toBeSigned),
    messageHash: toHex(createHash("sha256").update(toBeSigned).digest()),
    signature: { r: `0x${signature.slice(2, 66)}`, s: `0x${signature.slice(66)}` },
    layout: layout(token, claims),
  };
}

async function main(): Promise<void> {
  const secret = Buffer.from(PRIVATE_KEY.slice(2), "hex");
  const uncompressed = p256.getPublicKey(secret, false);
  const publicKey = toHex(uncompressed.subarray(1));
  const instanceId = psaInstanceId(uncompressed);
  const signers = [label("bootloader signer"), label("bootloader signer"), label("app signer")];

  const typical: PsaClaims = {
    nonce: label("challenge"),
    instanceId,
    clientId: -1,
    securityLifecycle: 0x3000,
    implementationId: label("implementation"),
    bootSeed: label("boot seed"),
    softwareComponents: componentsOf(signers),
  };
  const minimal: PsaClaims = {
    nonce: label("challenge 2"),
    instanceId,
    clientId: 1,
    securityLifecycle: 0x3000,
    implementationId: label("implementation"),
    softwareComponents: [
      { measurementValue: sha256Hex(Buffer.from("firmware 1.0.0")), signerId: label("app signer") },
    ],
  };
  const full: PsaClaims = {
    ...typical,
    nonce: label("challenge 3"),
    securityLifecycle: 0x30a5,
    certificationReference: "1234567890123-12345",
    verificationServiceIndicator: "https://verifier.devicetrust.example",
    softwareComponents: componentsOf(signers).map((c, i) =>
      i === 2 ? { ...c, measurementDescription: "sha-256" } : c,
    ),
  };

  const release = measureImages(IMAGES).measurement;
  const typicalFixture = await fixture(typical, publicKey, secret);
  if (typicalFixture.measurement !== release) {
    throw new Error("the typical token's measurement is not the release's measured-boot digest");
  }
  const out = {
    description:
      "Arm PSA attestation tokens (RFC 9783, COSE_Sign1 ES256, core deterministic CBOR) made by scripts/psa-fixtures.ts from a fixed test key. measurement = the measured-boot chain over the software components' measurement values in token order (psaMeasurement, src/protocol/psa-claims.ts); for `typical` it equals the release's measureImages(images).measurement. layout: [offset, length] of each value inside `token`.",
    profile: PSA_PROFILE,
    privateKey: PRIVATE_KEY,
    publicKey,
    releaseImages: IMAGES.map((image) => image.toString("utf8")),
    ...typicalFixture,
    variants: {
      minimal: await fixture(minimal, publicKey, secret),
      full: await fixture(full, publicKey, secret),
    },
  };
  await mkdir(dirname(OUT), { recursive: true });
  await writeFile(OUT, `${JSON.stringify(out, null, 2)}\n`);
  process.stderr.write(`wrote ${OUT}\n`);
}

await main();
