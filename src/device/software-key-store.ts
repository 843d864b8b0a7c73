import {
  createECDH,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  sign as nodeSign,
  type KeyObject,
} from "node:crypto";
import { writeFile, mkdir } from "node:fs/promises";
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
import {
  DEFAULT_SCRYPT,
  KeyFileError,
  isRecord,
  openSecret,
  parseSealedSecret,
  readKeyFileJson as readJson,
  sealSecret,
  type SealedSecret,
} from "./key-file-crypto.js";
import type { KeyStore } from "./key-store.js";

export { DEFAULT_SCRYPT, KeyFileError };

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
  readonly crypto: SealedSecret;
}

/** What a key file says in the clear: no password needed. */
export interface KeyFileInfo {
  readonly curve: Curve;
  readonly publicKey: Hex;
  readonly deviceKey: DeviceKey;
  /** Null in files written before the device id was recorded. */
  readonly deviceId: Hex | null;
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
    const file: KeyFile = {
      version: 1,
      kind: "devicetrust-key",
      curve: this.curve,
      publicKey: toHex(this.publicKey),
      deviceKey: this.deviceKey,
      deviceId,
      crypto: await sealSecret(secret, password, aadOf(this.curve, toHex(this.publicKey)), params),
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
    const secret = await openSecret(
      file.crypto,
      password,
      aadOf(file.curve, file.publicKey),
      where,
    );
    const store = new SoftwareKeyStore(file.curve, secret);
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

/** The additional data a key file's secret is bound to: its curve and public key. */
function aadOf(curve: Curve, publicKey: Hex): string {
  return `devicetrust-key:${curve}:${publicKey}`;
}

function readKeyFileJson(path: string): Promise<unknown> {
  return readJson(path, "create one with device keygen");
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

/** Validates the shape of a parsed key file before anything is decrypted. */
function parseKeyFile(value: unknown, where: string): KeyFile {
  const bad = (what: string) =>
    new KeyFileError(`${where} is not a DeviceTrust key file (version 1): ${what}`);
  if (!isRecord(value) || value.kind !== "devicetrust-key" || value.version !== 1)
    throw bad("kind/version");
  if (value.curve !== "p256" && value.curve !== "secp256k1") throw bad("curve");
  parseSealedSecret(value.crypto, bad);
  if (value.deviceId !== undefined && !isHex(value.deviceId, 32)) throw bad("deviceId");
  if (!isHex(value.publicKey)) throw bad("publicKey is not 0x-prefixed hex of whole bytes");
  return value as unknown as KeyFile;
}
