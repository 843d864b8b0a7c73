import {
  createCipheriv,
  createECDH,
  createDecipheriv,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  scrypt as scryptCb,
  sign as nodeSign,
  type KeyObject,
  type ScryptOptions,
} from "node:crypto";
import { readFile, writeFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { SigningKey } from "ethers";
import {
  DeviceTrustError,
  InvalidInputError,
  checkCoseSign1Signing,
  deviceIdOf,
  deviceKeyFromPublicKey,
  encodeSignature,
  fromHex,
  isHex,
  parseHexBytes,
  normalizeLowS,
  toHex,
  KeyType,
  type Curve,
  type DeviceKey,
  type Hex,
} from "../protocol/index.js";
import type { KeyStore } from "./key-store.js";

/** The key file could not be opened: wrong password, corrupt file or unknown format. */
export class KeyFileError extends DeviceTrustError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("KEY_FILE", message, options);
    this.name = "KeyFileError";
  }
}

/** The encrypted key file format (version 1): scrypt-derived key, AES-256-GCM over the 32-byte scalar. */
export interface KeyFile {
  readonly version: 1;
  readonly kind: "devicetrust-key";
  readonly curve: Curve;
  readonly publicKey: Hex;
  readonly deviceKey: DeviceKey;
  /**
   * The device this key signs for: the id of the key it was generated as, or, after a rotation to it,
   * the device's id. Absent in files written before it was recorded. Outside the AAD, so recording it
   * needs no password: a hint to check against the registry's keyOwner, not a proof.
   */
  readonly deviceId?: Hex;
  readonly crypto: {
    readonly kdf: "scrypt";
    readonly kdfparams: {
      readonly N: number;
      readonly r: number;
      readonly p: number;
      readonly salt: Hex;
    };
    readonly cipher: "aes-256-gcm";
    readonly iv: Hex;
    readonly ciphertext: Hex;
    readonly tag: Hex;
  };
}

/** What a key file says in the clear: no password needed. */
export interface KeyFileInfo {
  readonly curve: Curve;
  readonly publicKey: Hex;
  readonly deviceKey: DeviceKey;
  /** Null in files written before the device id was recorded. */
  readonly deviceId: Hex | null;
}

/** scrypt cost: N = 2^17 (~130 ms, 128 MiB) as Ethereum keystores use; tests may lower it. */
export const DEFAULT_SCRYPT = { N: 1 << 17, r: 8, p: 1 } as const;

function scrypt(
  password: string,
  salt: Uint8Array,
  params: { N: number; r: number; p: number },
): Promise<Buffer> {
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

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

/** A key held in process memory and stored encrypted at rest. For development and devices without a secure element. */
export class SoftwareKeyStore implements KeyStore {
  readonly kind = "software" as const;
  readonly curve: Curve;
  readonly deviceKey: DeviceKey;
  readonly publicKey: Uint8Array;
  #secret: Uint8Array | undefined;
  #p256Key: KeyObject | undefined;
  #k1Key: SigningKey | undefined;

  private constructor(curve: Curve, secret: Uint8Array) {
    this.curve = curve;
    this.#secret = secret;
    if (curve === "p256") {
      const pub = SoftwareKeyStore.#p256Public(secret);
      this.publicKey = pub;
      this.#p256Key = createPrivateKey({
        key: {
          kty: "EC",
          crv: "P-256",
          d: b64url(secret),
          x: b64url(pub.subarray(1, 33)),
          y: b64url(pub.subarray(33)),
        },
        format: "jwk",
      });
    } else {
      this.#k1Key = new SigningKey(toHex(secret));
      this.publicKey = fromHex(this.#k1Key.publicKey as Hex);
    }
    this.deviceKey = deviceKeyFromPublicKey(curve, this.publicKey);
  }

  static #p256Public(secret: Uint8Array): Uint8Array {
    // A JWK private key needs x and y too: ECDH derives the public point from the scalar.
    const ecdh = createECDH("prime256v1");
    ecdh.setPrivateKey(Buffer.from(secret));
    return new Uint8Array(ecdh.getPublicKey());
  }

  /** A fresh random key on `curve`. */
  static generate(curve: Curve): SoftwareKeyStore {
    if (curve === "p256") {
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
      const jwk = privateKey.export({ format: "jwk" });
      if (jwk.d === undefined)
        throw new DeviceTrustError("KEYGEN", "node:crypto returned a P-256 key without its scalar");
      return new SoftwareKeyStore(curve, new Uint8Array(Buffer.from(jwk.d, "base64url")));
    }
    return new SoftwareKeyStore(curve, new Uint8Array(randomSecp256k1Scalar()));
  }

  /** A key from its 32-byte private scalar (hex). */
  static fromPrivateKey(curve: Curve, privateKey: string): SoftwareKeyStore {
    return new SoftwareKeyStore(curve, parseHexBytes(privateKey, "private key", { bytes: 32 }));
  }

  async signDigest(digest: Hex): Promise<Hex> {
    const d = parseHexBytes(digest, "digest", { bytes: 32 });
    if (this.#secret === undefined)
      throw new DeviceTrustError("KEY_CLOSED", "this key store was closed: open it again to sign");
    // ECDSA-P256-SHA256 over the 32-byte digest as the message.
    if (this.#p256Key !== undefined) return Promise.resolve(this.#p256Sign(this.#p256Key, d));
    if (this.#k1Key === undefined)
      throw new DeviceTrustError("KEY_CLOSED", "this key store was closed: open it again to sign");
    // ethers signs the digest as is (no prefix) and returns canonical low-s with v.
    const sig = this.#k1Key.sign(d);
    return Promise.resolve(
      encodeSignature(KeyType.Secp256k1, {
        r: BigInt(sig.r),
        s: BigInt(sig.s),
        recovery: sig.yParity,
      }),
    );
  }

  async signCoseSign1(toBeSigned: Uint8Array): Promise<Hex> {
    checkCoseSign1Signing(this.curve, toBeSigned);
    if (this.#p256Key === undefined)
      throw new DeviceTrustError("KEY_CLOSED", "this key store was closed: open it again to sign");
    return Promise.resolve(this.#p256Sign(this.#p256Key, toBeSigned));
  }

  /** ECDSA-P256-SHA256 over `message`; IEEE P1363 gives raw r‖s, returned low-s. */
  #p256Sign(key: KeyObject, message: Uint8Array): Hex {
    const raw = nodeSign("sha256", message, { key, dsaEncoding: "ieee-p1363" });
    const sig = normalizeLowS("p256", {
      r: BigInt(toHex(raw.subarray(0, 32))),
      s: BigInt(toHex(raw.subarray(32))),
    });
    return encodeSignature(KeyType.P256, sig);
  }

  /** Encrypts the key with `password` (scrypt + AES-256-GCM) and writes it to `path` with mode 0600. */
  async save(
    path: string,
    password: string,
    params: { N: number; r: number; p: number } = DEFAULT_SCRYPT,
    deviceId: Hex = deviceIdOf(this.deviceKey),
  ): Promise<KeyFile> {
    const secret = this.#requireSecret();
    if (password.length === 0)
      throw new InvalidInputError("an empty password would leave the key readable: choose one");
    const salt = randomBytes(32);
    const iv = randomBytes(12);
    const key = await scrypt(password, salt, params);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    cipher.setAAD(Buffer.from(`devicetrust-key:${this.curve}:${toHex(this.publicKey)}`));
    const ciphertext = Buffer.concat([cipher.update(secret), cipher.final()]);
    const file: KeyFile = {
      version: 1,
      kind: "devicetrust-key",
      curve: this.curve,
      publicKey: toHex(this.publicKey),
      deviceKey: this.deviceKey,
      deviceId,
      crypto: {
        kdf: "scrypt",
        kdfparams: { ...params, salt: toHex(salt) },
        cipher: "aes-256-gcm",
        iv: toHex(iv),
        ciphertext: toHex(ciphertext),
        tag: toHex(cipher.getAuthTag()),
      },
    };
    await writeKeyFile(path, file);
    return file;
  }

  /** Opens a key file written by `save`. Throws KeyFileError on a wrong password or a tampered file. */
  static async load(path: string, password: string): Promise<SoftwareKeyStore> {
    return SoftwareKeyStore.decrypt(await readKeyFileJson(path), password, path);
  }

  /** The curve, public key and recorded device id of a key file, without its password. */
  static async info(path: string): Promise<KeyFileInfo> {
    const file = parseKeyFile(await readKeyFileJson(path), path);
    const { curve, publicKey, deviceKey } = file;
    return { curve, publicKey, deviceKey, deviceId: file.deviceId ?? null };
  }

  /** Records `deviceId` in a key file (after a rotation to its key); the encrypted key is untouched. */
  static async recordDeviceId(path: string, deviceId: Hex): Promise<void> {
    const file = parseKeyFile(await readKeyFileJson(path), path);
    await writeKeyFile(path, { ...file, deviceId });
  }

  static async decrypt(
    value: unknown,
    password: string,
    where = "key file",
  ): Promise<SoftwareKeyStore> {
    const file = parseKeyFile(value, where);
    const key = await scrypt(password, fromHex(file.crypto.kdfparams.salt), file.crypto.kdfparams);
    let secret: Buffer;
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, fromHex(file.crypto.iv));
      decipher.setAAD(Buffer.from(`devicetrust-key:${file.curve}:${file.publicKey}`));
      decipher.setAuthTag(fromHex(file.crypto.tag));
      secret = Buffer.concat([decipher.update(fromHex(file.crypto.ciphertext)), decipher.final()]);
    } catch (cause) {
      throw new KeyFileError(`wrong password for ${where}, or the file was altered`, { cause });
    }
    const store = new SoftwareKeyStore(file.curve, new Uint8Array(secret));
    if (toHex(store.publicKey) !== file.publicKey.toLowerCase()) {
      throw new KeyFileError(
        `${where} is inconsistent: its public key does not match its private key`,
      );
    }
    return store;
  }

  /** The raw scalar, for tests and migrations only. */
  exportPrivateKey(): Hex {
    return toHex(this.#requireSecret());
  }

  #requireSecret(): Uint8Array {
    if (this.#secret === undefined)
      throw new DeviceTrustError("KEY_CLOSED", "this key store was closed: open it again");
    return this.#secret;
  }

  close(): Promise<void> {
    this.#secret?.fill(0);
    this.#secret = undefined;
    this.#p256Key = undefined;
    this.#k1Key = undefined;
    return Promise.resolve();
  }
}

async function readKeyFileJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as unknown;
  } catch (cause) {
    throw new KeyFileError(
      `cannot read key file ${path}: check the path (create one with device keygen)`,
      { cause },
    );
  }
}

async function writeKeyFile(path: string, file: KeyFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
}

function randomSecp256k1Scalar(): Buffer {
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  for (;;) {
    const b = randomBytes(32);
    const v = BigInt(`0x${b.toString("hex")}`);
    if (v > 0n && v < n) return b;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** Validates the shape of a parsed key file before anything is decrypted. */
function parseKeyFile(value: unknown, where: string): KeyFile {
  const bad = (what: string) =>
    new KeyFileError(`${where} is not a DeviceTrust key file (version 1): ${what}`);
  if (!isRecord(value) || value.kind !== "devicetrust-key" || value.version !== 1)
    throw bad("kind/version");
  if (value.curve !== "p256" && value.curve !== "secp256k1") throw bad("curve");
  const c = value.crypto;
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
  if (value.deviceId !== undefined && !isHex(value.deviceId, 32)) throw bad("deviceId");
  const hexFields = {
    publicKey: value.publicKey,
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
  return value as unknown as KeyFile;
}
