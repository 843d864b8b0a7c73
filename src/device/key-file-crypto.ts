import {
  createCipheriv,
  createDecipheriv,
  randomBytes,
  scrypt as scryptCb,
  type ScryptOptions,
} from "node:crypto";
import { readFile } from "node:fs/promises";
import { DeviceTrustError, fromHex, isHex, toHex, type Hex } from "../protocol/index.js";

/**
 * How DeviceTrust keeps a secret at rest in a key file: scrypt derives a key from the password, and
 * AES-256-GCM encrypts the secret under it with additional data that names what the secret belongs to
 * (a tampered public key or kind fails decryption). The software key store (an ECDSA scalar) and the LMS
 * signer (a SEED) share it.
 */

/** The key file could not be opened: wrong password, corrupt file or unknown format. */
export class KeyFileError extends DeviceTrustError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("KEY_FILE", message, options);
    this.name = "KeyFileError";
  }
}

export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** scrypt cost: N = 2^17 (~130 ms, 128 MiB) as Ethereum keystores use; tests may lower it. */
export const DEFAULT_SCRYPT = { N: 1 << 17, r: 8, p: 1 } as const;

/** The `crypto` block of a key file. */
export interface SealedSecret {
  readonly kdf: "scrypt";
  readonly kdfparams: ScryptParams & { readonly salt: Hex };
  readonly cipher: "aes-256-gcm";
  readonly iv: Hex;
  readonly ciphertext: Hex;
  readonly tag: Hex;
}

function scrypt(password: string, salt: Uint8Array, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    maxmem: 256 * params.N * params.r + (1 << 20),
  };
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, 32, options, (err, key) => {
      if (err) reject(err);
      else resolve(key);
    });
  });
}

/** Encrypts `secret` under `password`, bound to `aad` (what the secret is the key of). */
export async function sealSecret(
  secret: Uint8Array,
  password: string,
  aad: string,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<SealedSecret> {
  const salt = randomBytes(32);
  const iv = randomBytes(12);
  const key = await scrypt(password, salt, params);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ciphertext = Buffer.concat([cipher.update(secret), cipher.final()]);
  return {
    kdf: "scrypt",
    kdfparams: { N: params.N, r: params.r, p: params.p, salt: toHex(salt) },
    cipher: "aes-256-gcm",
    iv: toHex(iv),
    ciphertext: toHex(ciphertext),
    tag: toHex(cipher.getAuthTag()),
  };
}

/** Decrypts what sealSecret sealed; KeyFileError on a wrong password, another `aad` or altered bytes. */
export async function openSecret(
  sealed: SealedSecret,
  password: string,
  aad: string,
  where: string,
): Promise<Uint8Array> {
  const key = await scrypt(password, fromHex(sealed.kdfparams.salt), sealed.kdfparams);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, fromHex(sealed.iv));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(fromHex(sealed.tag));
    return new Uint8Array(
      Buffer.concat([decipher.update(fromHex(sealed.ciphertext)), decipher.final()]),
    );
  } catch (cause) {
    throw new KeyFileError(`wrong password for ${where}, or the file was altered`, { cause });
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/**
 * Checks the shape of a key file's `crypto` block before anything is decrypted; `bad` makes the error
 * for a field that is wrong.
 */
export function parseSealedSecret(value: unknown, bad: (what: string) => Error): SealedSecret {
  const c = value;
  if (!isRecord(c) || c.kdf !== "scrypt" || c.cipher !== "aes-256-gcm") throw bad("cipher");
  const k = c.kdfparams;
  if (
    !isRecord(k) ||
    typeof k.N !== "number" ||
    typeof k.r !== "number" ||
    typeof k.p !== "number"
  ) {
    throw bad("kdf parameters");
  }
  const hexFields = {
    "crypto.kdfparams.salt": k.salt,
    "crypto.iv": c.iv,
    "crypto.ciphertext": c.ciphertext,
    "crypto.tag": c.tag,
  };
  for (const [name, field] of Object.entries(hexFields)) {
    // The one hex rule (src/protocol/hex.ts): an odd digit or a stray character is refused here,
    // before decryption, instead of being dropped by the decoder.
    if (!isHex(field)) throw bad(`${name} is not 0x-prefixed hex of whole bytes`);
  }
  return c as unknown as SealedSecret;
}

/** A key file's JSON; KeyFileError when it cannot be read or parsed. */
export async function readKeyFileJson(path: string, hint: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as unknown;
  } catch (cause) {
    throw new KeyFileError(`cannot read key file ${path}: check the path (${hint})`, { cause });
  }
}
