import { readFile } from "node:fs/promises";
import type { KeyObject } from "node:crypto";
import {
  InvalidInputError,
  ML_DSA_44_PUBLIC_KEY_BYTES,
  isHex,
  parseHexBytes,
  parseMlDsa44Pem,
  toHex,
  type Hex,
  type PqSchemeName,
} from "../protocol/index.js";
import { LmsStatefulSigner } from "../device/lms-signer.js";

/**
 * The post-quantum key files the CLI names with --pq-key: an LMS key file (maker lms-keygen; its public key
 * is in the clear), or an ML-DSA-44 key as PEM (SPKI public key, PKCS#8 private key, encrypted or not, as
 * OpenSSL 3.5's `openssl genpkey -algorithm ML-DSA-44` writes it), or its raw public key as 0x-hex text or
 * 1,312 raw bytes.
 */

/** A key file's password, or a function that finds it (asked only for an encrypted key). */
export type PasswordSource = string | (() => Promise<string>) | undefined;

async function passwordFor(text: string, password: PasswordSource): Promise<string | undefined> {
  if (!text.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----")) return undefined;
  return typeof password === "function" ? password() : password;
}

async function readBytes(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new InvalidInputError(`cannot read ${what} ${path}: check the path`, { cause });
  }
}

/**
 * The public key of a post-quantum key file, for a commitment: an LMS key file's public key (no password
 * needed), or an ML-DSA-44 public key (PEM, hex or raw; a private key PEM works too, with its password when
 * encrypted).
 */
export async function readPqPublicKey(
  scheme: PqSchemeName,
  path: string,
  password?: PasswordSource,
): Promise<Hex> {
  if (path === "") throw new InvalidInputError("--pq-key is required: the post-quantum key file");
  if (scheme === "lms") return (await LmsStatefulSigner.info(path)).publicKey;
  const bytes = await readBytes(path, "the ML-DSA-44 key file");
  const text = bytes.toString("utf8").trim();
  if (text.startsWith("-----BEGIN")) {
    return toHex(parseMlDsa44Pem(text, await passwordFor(text, password)).publicKey);
  }
  if (isHex(text)) {
    return toHex(
      parseHexBytes(text, `the ML-DSA-44 public key in ${path}`, {
        bytes: ML_DSA_44_PUBLIC_KEY_BYTES,
      }),
    );
  }
  if (bytes.length === ML_DSA_44_PUBLIC_KEY_BYTES) return toHex(bytes);
  throw new InvalidInputError(
    `${path} is not an ML-DSA-44 key: give a PEM key, its 1,312-byte public key as 0x-hex, or those raw bytes (an LMS key file goes with --scheme lms)`,
  );
}

/** An ML-DSA-44 private key from a PKCS#8 PEM file (encrypted ones with `password`). */
export async function readMlDsa44PrivateKey(
  path: string,
  password?: PasswordSource,
): Promise<{ readonly publicKey: Hex; readonly privateKey: KeyObject }> {
  if (path === "") throw new InvalidInputError("--pq-key is required: the ML-DSA-44 private key");
  const text = (await readBytes(path, "the ML-DSA-44 key file")).toString("utf8").trim();
  if (!/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(text)) {
    throw new InvalidInputError(
      `${path} holds no ML-DSA-44 private key (PKCS#8 PEM): a public key cannot sign; give the private key file`,
    );
  }
  const key = parseMlDsa44Pem(text, await passwordFor(text, password));
  if (key.privateKey === undefined) {
    throw new InvalidInputError(`${path} holds no private key: give the private key file`);
  }
  return { publicKey: toHex(key.publicKey), privateKey: key.privateKey };
}
