import { DeviceTrustError, InvalidInputError, type Hex } from "../protocol/index.js";
import type { KeyStore } from "../device/key-store.js";
import { KeyFileError, SoftwareKeyStore } from "../device/software-key-store.js";

/** Environment variables that carry secrets when no option does. */
export const PASSWORD_ENV = "DEVICETRUST_KEY_PASSWORD";
export const PIN_ENV = "DEVICETRUST_PKCS11_PIN";

/** A secret (password, PIN) that no option, environment variable or keystore supplied. */
export class MissingSecretError extends DeviceTrustError {
  constructor(message: string) {
    super("MISSING_SECRET", message);
    this.name = "MissingSecretError";
  }
}

export interface FileKeyStoreOptions {
  readonly keystore: "file";
  readonly path: string;
  /** Falls back to $DEVICETRUST_KEY_PASSWORD. */
  readonly password?: string | undefined;
}

export interface Pkcs11KeyStoreOptions {
  readonly keystore: "pkcs11";
  /** The PKCS#11 library; default $DEVICETRUST_PKCS11_MODULE or SoftHSM2's. */
  readonly module?: string | undefined;
  readonly token: string;
  /** Falls back to $DEVICETRUST_PKCS11_PIN. */
  readonly pin?: string | undefined;
  readonly label: string;
}

export type KeyStoreOptions = FileKeyStoreOptions | Pkcs11KeyStoreOptions;

/** The secret from the option, else from the environment variable; throws saying how to give it. */
export function secretFrom(
  value: string | undefined,
  envName: string,
  what: string,
  option: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (value !== undefined && value !== "") return value;
  const fromEnv = env[envName];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  throw new MissingSecretError(
    `no ${what}: pass ${option}, set ${envName}, or store it with npx hardhat keystore set ${envName}`,
  );
}

function required(value: string, option: string, why: string): string {
  if (value === "") throw new InvalidInputError(`${option} is required ${why}`);
  return value;
}

/**
 * Opens the device key a CLI names: a software key file (scrypt + AES-GCM) or a key pair on a PKCS#11
 * token (HSM, secure element). PKCS#11 support loads only when asked for.
 */
export async function openKeyStore(
  options: KeyStoreOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<KeyStore> {
  if (options.keystore === "file") {
    const path = required(options.path, "--key-file", "to open a software key");
    return SoftwareKeyStore.load(
      path,
      secretFrom(options.password, PASSWORD_ENV, "key file password", "--password", env),
    );
  }
  const { Pkcs11KeyStore } = await import("../device/pkcs11-key-store.js");
  return Pkcs11KeyStore.open({
    module: options.module,
    tokenLabel: required(options.token, "--token", "to open a PKCS#11 key"),
    pin: secretFrom(options.pin, PIN_ENV, "PKCS#11 user PIN", "--pin", env),
    label: required(options.label, "--label", "to open a PKCS#11 key"),
  });
}

/**
 * Checks the device id a key file records (files written before it was recorded say nothing) against the
 * one the registry holds the key for, and returns the registry's.
 */
export async function checkKeyFileDeviceId(path: string, registryDeviceId: Hex): Promise<Hex> {
  const { deviceId } = await SoftwareKeyStore.info(path);
  if (deviceId !== null && deviceId.toLowerCase() !== registryDeviceId.toLowerCase()) {
    throw new KeyFileError(
      `key file ${path} records device ${deviceId}, but the registry holds its key for device ${registryDeviceId}: use that device's key file`,
    );
  }
  return registryDeviceId;
}
