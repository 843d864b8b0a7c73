import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as signMessage,
  verify as verifyMessage,
  type KeyObject,
} from "node:crypto";
import { DeviceTrustError, InvalidInputError } from "./errors.js";
import { keccak256Buffer } from "./hash.js";
import { parseHexBytes, toHex, type Hex } from "./hex.js";

/**
 * The post-quantum keys a device commits to (PqKeyRecovery, contracts/interfaces/IPqKeyRecovery.sol):
 * scheme 1 is an LMS public key (RFC 8554, src/protocol/lms; verified on chain), scheme 2 an ML-DSA-44
 * public key (FIPS 204; verified off chain, src/verify/pq.ts, until the EVM has a precompile). What the
 * chain keeps is the commitment keccak256(uint8(scheme) ‖ public key). Either key signs the 32 bytes of an
 * EIP-712 digest as its message. ML-DSA-44 here is node:crypto's (OpenSSL 3.5): pure ML-DSA, the empty
 * context string, hedged signing; keys travel as their raw FIPS 204 encodings (a 1,312-byte public key, a
 * 32-byte seed for the private key) or as PEM (SPKI, PKCS#8), which OpenSSL's tools read and write too.
 */

export const PQ_SCHEMES = { lms: 1, "ml-dsa-44": 2 } as const;

export type PqSchemeName = keyof typeof PQ_SCHEMES;
/** A scheme's number, IPqKeyRecovery.PqScheme (0 is None: no commitment). */
export type PqScheme = (typeof PQ_SCHEMES)[PqSchemeName];

export const PQ_SCHEME_NAMES: readonly PqSchemeName[] = Object.keys(PQ_SCHEMES) as PqSchemeName[];

/** Bytes of ML-DSA-44's encodings (FIPS 204 Table 2; the seed is ξ of ML-DSA.KeyGen). */
export const ML_DSA_44_PUBLIC_KEY_BYTES = 1312;
export const ML_DSA_44_SIGNATURE_BYTES = 2420;
export const ML_DSA_44_SEED_BYTES = 32;

/** A scheme by its name as the CLI gives it (`lms`, `ml-dsa-44`, any case). */
export function parsePqScheme(value: string): PqSchemeName {
  const v = value.trim().toLowerCase();
  if (v === "lms" || v === "ml-dsa-44") return v;
  if (v === "mldsa44" || v === "ml_dsa_44") return "ml-dsa-44";
  throw new InvalidInputError(
    `unknown post-quantum scheme "${value}": use ${PQ_SCHEME_NAMES.join(" or ")}`,
  );
}

/** The name of scheme number `scheme` (1 or 2); InvalidInputError for 0 (None) or another number. */
export function pqSchemeName(scheme: number | bigint): PqSchemeName {
  const n = Number(scheme);
  const found = PQ_SCHEME_NAMES.find((name) => PQ_SCHEMES[name] === n);
  if (found === undefined) {
    throw new InvalidInputError(
      `post-quantum scheme ${String(scheme)} is not one DeviceTrust knows: 1 is LMS, 2 is ML-DSA-44`,
    );
  }
  return found;
}

function schemeNumber(scheme: PqSchemeName | number): PqScheme {
  return PQ_SCHEMES[typeof scheme === "number" ? pqSchemeName(scheme) : scheme];
}

function bytesOf(value: Uint8Array | Hex, what: string): Uint8Array {
  return value instanceof Uint8Array ? value : parseHexBytes(value, what);
}

/** keccak256(uint8(scheme) ‖ publicKey): what a device commits to (PqKeyRecovery.commitmentOf). */
export function pqKeyCommitment(scheme: PqSchemeName | number, publicKey: Uint8Array | Hex): Hex {
  const key = bytesOf(publicKey, "post-quantum public key");
  if (key.length === 0) {
    throw new InvalidInputError("the post-quantum public key is empty: give the key's bytes");
  }
  const packed = new Uint8Array(1 + key.length);
  packed[0] = schemeNumber(scheme);
  packed.set(key, 1);
  return toHex(keccak256Buffer(packed));
}

/** node:crypto has no ML-DSA here (Node before 24, or an OpenSSL before 3.5). */
export class PqUnavailableError extends DeviceTrustError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("PQ_UNAVAILABLE", message, options);
    this.name = "PqUnavailableError";
  }
}

let mlDsaProbe: unknown;

/** Throws PqUnavailableError once node:crypto turns out to lack ML-DSA-44 (probed once). */
function requireMlDsa(): void {
  if (mlDsaProbe === undefined) {
    try {
      generateKeyPairSync("ml-dsa-44");
      mlDsaProbe = true;
    } catch (err: unknown) {
      mlDsaProbe = err;
    }
  }
  if (mlDsaProbe !== true) {
    throw new PqUnavailableError(
      `ML-DSA-44 needs node:crypto with ML-DSA (Node.js 24 on OpenSSL 3.5); this is Node.js ${process.version} with OpenSSL ${process.versions.openssl}: run it with Node.js 24 (node_modules/.bin/node)`,
      { cause: mlDsaProbe },
    );
  }
}

export interface MlDsa44KeyPair {
  /** The raw FIPS 204 public key (1,312 bytes): what the device commits to. */
  readonly publicKey: Uint8Array;
  readonly privateKey: KeyObject;
}

export function generateMlDsa44KeyPair(): MlDsa44KeyPair {
  requireMlDsa();
  const { privateKey } = generateKeyPairSync("ml-dsa-44");
  return { publicKey: mlDsa44RawPublicKey(privateKey), privateKey };
}

function requireMlDsaKey(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== "ml-dsa-44") {
    throw new InvalidInputError(
      `the ${what} is ${key.asymmetricKeyType ?? `a ${key.type} key`}, not ML-DSA-44: give an ML-DSA-44 key`,
    );
  }
}

/** The raw 1,312-byte public key of an ML-DSA-44 key (public or private). */
export function mlDsa44RawPublicKey(key: KeyObject): Uint8Array {
  requireMlDsaKey(key, "key");
  const publicKey = key.type === "private" ? createPublicKey(key) : key;
  const { pub } = publicKey.export({ format: "jwk" });
  if (typeof pub !== "string") throw new InvalidInputError("the key exported no ML-DSA public key");
  return new Uint8Array(Buffer.from(pub, "base64url"));
}

/** The KeyObject of a raw ML-DSA-44 public key (1,312 bytes). */
export function mlDsa44PublicKey(raw: Uint8Array | Hex): KeyObject {
  requireMlDsa();
  const bytes = bytesOf(raw, "ML-DSA-44 public key");
  if (bytes.length !== ML_DSA_44_PUBLIC_KEY_BYTES) {
    throw new InvalidInputError(
      `an ML-DSA-44 public key is ${String(ML_DSA_44_PUBLIC_KEY_BYTES)} bytes, not ${String(bytes.length)}: give the raw FIPS 204 encoding (or its PEM)`,
    );
  }
  const pub = Buffer.from(bytes).toString("base64url");
  return createPublicKey({ key: { kty: "AKP", alg: "ML-DSA-44", pub }, format: "jwk" });
}

/**
 * The PKCS#8 header of an ML-DSA-44 private key given as its seed alone (the IETF LAMPS profile's
 * `seed [0] IMPLICIT OCTET STRING` form, which OpenSSL 3.5 reads): SEQUENCE { INTEGER 0, SEQUENCE { OID
 * 2.16.840.1.101.3.4.3.17 }, OCTET STRING { [0] 32 bytes } }, the seed to follow.
 */
const SEED_PKCS8_PREFIX = Buffer.from("3034020100300b060960864801650304031104228020", "hex");

/** The private key whose FIPS 204 seed ξ is `seed` (32 bytes): the whole key derives from it. */
export function mlDsa44PrivateKeyFromSeed(seed: Uint8Array | Hex): KeyObject {
  requireMlDsa();
  const bytes = bytesOf(seed, "ML-DSA-44 seed");
  if (bytes.length !== ML_DSA_44_SEED_BYTES) {
    throw new InvalidInputError(
      `an ML-DSA-44 seed is ${String(ML_DSA_44_SEED_BYTES)} bytes, not ${String(bytes.length)}`,
    );
  }
  return createPrivateKey({
    key: Buffer.concat([SEED_PKCS8_PREFIX, bytes]),
    format: "der",
    type: "pkcs8",
  });
}

/** The 32-byte seed of an ML-DSA-44 private key (clear it after use: it is the whole key). */
export function mlDsa44Seed(privateKey: KeyObject): Uint8Array {
  requireMlDsaKey(privateKey, "private key");
  if (privateKey.type !== "private") {
    throw new InvalidInputError("a public key has no seed: give the private key");
  }
  const { priv } = privateKey.export({ format: "jwk" });
  if (typeof priv !== "string") {
    throw new InvalidInputError(
      "this ML-DSA-44 private key carries no seed (only its expanded form): regenerate it, or keep it as PEM",
    );
  }
  return new Uint8Array(Buffer.from(priv, "base64url"));
}

/** ML-DSA-44 signature (2,420 bytes) of `message` (for DeviceTrust: the 32 bytes of an EIP-712 digest). */
export function mlDsa44Sign(privateKey: KeyObject, message: Uint8Array | Hex): Uint8Array {
  requireMlDsa();
  requireMlDsaKey(privateKey, "private key");
  return new Uint8Array(signMessage(null, bytesOf(message, "message"), privateKey));
}

/**
 * Whether `signature` is `publicKey`'s ML-DSA-44 signature of `message`. A signature of the wrong length or
 * that does not verify is false, never an exception; a malformed public key (the caller's configuration)
 * throws InvalidInputError.
 */
export function mlDsa44Verify(
  publicKey: Uint8Array | Hex | KeyObject,
  message: Uint8Array | Hex,
  signature: Uint8Array | Hex,
): boolean {
  const key = isKeyObject(publicKey) ? publicKey : mlDsa44PublicKey(publicKey);
  requireMlDsaKey(key, "public key");
  const sig = bytesOf(signature, "ML-DSA-44 signature");
  if (sig.length !== ML_DSA_44_SIGNATURE_BYTES) return false;
  return verifyMessage(null, bytesOf(message, "message"), key, sig);
}

function isKeyObject(value: unknown): value is KeyObject {
  return typeof value === "object" && value !== null && "asymmetricKeyType" in value;
}

/** An ML-DSA-44 key read from PEM: its raw public key, and the private key when the PEM held one. */
export interface MlDsa44Pem {
  readonly publicKey: Uint8Array;
  readonly privateKey: KeyObject | undefined;
}

/**
 * An ML-DSA-44 key from PEM text: a public key (SPKI, `BEGIN PUBLIC KEY`) or a private key (PKCS#8,
 * `BEGIN PRIVATE KEY`, or `BEGIN ENCRYPTED PRIVATE KEY` with `passphrase`), as `openssl genpkey -algorithm
 * ML-DSA-44` and mlDsa44PrivateKeyPem write them. InvalidInputError says what is wrong.
 */
export function parseMlDsa44Pem(pem: string, passphrase?: string): MlDsa44Pem {
  requireMlDsa();
  const isPrivate = /-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(pem);
  const encrypted = pem.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----");
  if (!isPrivate && !pem.includes("-----BEGIN PUBLIC KEY-----")) {
    throw new InvalidInputError(
      "not an ML-DSA-44 key in PEM: expected BEGIN PUBLIC KEY, BEGIN PRIVATE KEY or BEGIN ENCRYPTED PRIVATE KEY",
    );
  }
  if (encrypted && (passphrase === undefined || passphrase === "")) {
    throw new InvalidInputError(
      "the ML-DSA-44 private key is encrypted: give its password (--pq-password)",
    );
  }
  let key: KeyObject;
  try {
    key = isPrivate
      ? createPrivateKey(encrypted ? { key: pem, passphrase: passphrase ?? "" } : { key: pem })
      : createPublicKey(pem);
  } catch (cause) {
    throw new InvalidInputError(
      encrypted
        ? "cannot decrypt the ML-DSA-44 private key: wrong password, or a damaged file"
        : "cannot read the PEM key: it is damaged or of an algorithm node:crypto does not know",
      { cause },
    );
  }
  requireMlDsaKey(key, "PEM key");
  return { publicKey: mlDsa44RawPublicKey(key), privateKey: isPrivate ? key : undefined };
}

/** PKCS#8 PEM of an ML-DSA-44 private key; with `passphrase`, encrypted (AES-256-CBC, PBES2). */
export function mlDsa44PrivateKeyPem(privateKey: KeyObject, passphrase?: string): string {
  requireMlDsaKey(privateKey, "private key");
  if (passphrase === undefined || passphrase === "") {
    return privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  }
  return privateKey
    .export({ format: "pem", type: "pkcs8", cipher: "aes-256-cbc", passphrase })
    .toString();
}

/** SPKI PEM of an ML-DSA-44 public key (raw bytes or a KeyObject). */
export function mlDsa44PublicKeyPem(publicKey: Uint8Array | Hex | KeyObject): string {
  const key = isKeyObject(publicKey)
    ? publicKey.type === "private"
      ? createPublicKey(publicKey)
      : publicKey
    : mlDsa44PublicKey(publicKey);
  requireMlDsaKey(key, "public key");
  return key.export({ format: "pem", type: "spki" }).toString();
}
