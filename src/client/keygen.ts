import { access } from "node:fs/promises";
import {
  DeviceTrustError,
  InvalidInputError,
  deviceIdOf,
  toHex,
  type Curve,
  type Hex,
  type KeyType,
} from "../protocol/index.js";
import { DEFAULT_SCRYPT, SoftwareKeyStore } from "../device/software-key-store.js";
import { PASSWORD_ENV, PIN_ENV, secretFrom } from "./key-store-open.js";

/** A key file would overwrite another: the key in it may be a device's, or the one a device committed to. */
export class KeyFileExistsError extends DeviceTrustError {
  readonly path: string;

  constructor(path: string, options?: { cause?: unknown }) {
    super(
      "KEY_FILE_EXISTS",
      `${path} already exists: a key file is never overwritten (a device may be registered with, or committed to, the key in it). Choose another --out, or move that file away first`,
      options,
    );
    this.name = "KeyFileExistsError";
    this.path = path;
  }
}

export type KeygenOptions =
  | {
      readonly curve: Curve;
      readonly keystore: "file";
      readonly out: string;
      readonly password?: string | undefined;
      /** scrypt cost; the default is Ethereum keystores' (N = 2^17). Tests lower it. */
      readonly scrypt?: { readonly N: number; readonly r: number; readonly p: number };
    }
  | {
      readonly curve: Curve;
      readonly keystore: "pkcs11";
      readonly module?: string | undefined;
      readonly token: string;
      readonly pin?: string | undefined;
      readonly label: string;
    };

export interface KeygenResult {
  readonly deviceId: Hex;
  readonly curve: Curve;
  readonly keyType: KeyType;
  /** The key as the registry stores it (secp256k1: address; P-256: x‖y). */
  readonly key: Hex;
  /** Uncompressed SEC1 public key. */
  readonly publicKey: Hex;
  readonly keystore: "file" | "pkcs11";
  /** The key file (software) or the token and label (PKCS#11) where the private key lives. */
  readonly location: string;
}

/**
 * Creates a device key: an encrypted software key file (refusing to overwrite one), or a
 * non-extractable key pair generated inside a PKCS#11 token.
 */
export async function keygen(
  options: KeygenOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<KeygenResult> {
  if (options.keystore === "file") {
    if (options.out === "")
      throw new InvalidInputError("--out is required: the path of the key file to create");
    const exists = await access(options.out).then(
      () => true,
      () => false,
    );
    if (exists) throw new KeyFileExistsError(options.out);
    const password = secretFrom(
      options.password,
      PASSWORD_ENV,
      "password for the new key file",
      "--password",
      env,
    );
    const store = SoftwareKeyStore.generate(options.curve);
    try {
      await store.save(options.out, password, options.scrypt ?? DEFAULT_SCRYPT);
      return describe(
        options.curve,
        store.deviceKey.keyType,
        store.deviceKey.key,
        store.publicKey,
        "file",
        options.out,
      );
    } finally {
      await store.close();
    }
  }
  if (options.token === "" || options.label === "") {
    throw new InvalidInputError(
      "--token and --label are required to generate a key on a PKCS#11 token",
    );
  }
  const { Pkcs11KeyStore } = await import("../device/pkcs11-key-store.js");
  const store = await Pkcs11KeyStore.generate({
    module: options.module,
    tokenLabel: options.token,
    pin: secretFrom(options.pin, PIN_ENV, "PKCS#11 user PIN", "--pin", env),
    label: options.label,
    curve: options.curve,
  });
  try {
    const k = store.deviceKey;
    return describe(
      options.curve,
      k.keyType,
      k.key,
      store.publicKey,
      "pkcs11",
      `token "${options.token}" label "${options.label}"`,
    );
  } finally {
    await store.close();
  }
}

function describe(
  curve: Curve,
  keyType: KeyType,
  key: Hex,
  publicKey: Uint8Array,
  keystore: "file" | "pkcs11",
  location: string,
): KeygenResult {
  return {
    deviceId: deviceIdOf({ keyType, key }),
    curve,
    keyType,
    key,
    publicKey: toHex(publicKey),
    keystore,
    location,
  };
}
