import { closeSync, existsSync, fsyncSync, openSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import {
  InvalidInputError,
  generateMlDsa44KeyPair,
  mlDsa44PrivateKeyPem,
  pqKeyCommitment,
  toHex,
  type Hex,
  type PqSchemeName,
} from "../protocol/index.js";
import { fsyncFolder } from "../device/fsync.js";
import type { ScryptParams } from "../device/key-file-crypto.js";
import { KeyFileExistsError } from "./keygen.js";
import { lmsKeygen, type LmsKeygenResult } from "./lms-keys.js";

/**
 * A device's post-quantum key file, for its way back (device commit-pq-key, recover-key, replace-pq-key):
 * an LMS key file and its state, exactly as maker lms-keygen makes them (lmsKeygen), or an ML-DSA-44
 * private key as PKCS#8 PEM, encrypted under a password (PBES2, AES-256-CBC) unless asked not to, which
 * readMlDsa44PrivateKey and `openssl pkey` read. Neither ever overwrites a file.
 */

export interface PqKeygenOptions {
  readonly scheme: PqSchemeName;
  /** The key file to create (LMS: its state is `${out}.state`). Neither may exist. */
  readonly out: string;
  /**
   * LMS: seals the key file's SEED (required). ML-DSA-44: encrypts the PEM; undefined or "" writes it in
   * the clear, as `openssl genpkey` does (for a device that keeps its keys in a secure store of its own).
   */
  readonly password?: string | undefined;
  /** LMS parameter sets by RFC name (lmsKeygen's defaults when omitted); not for ML-DSA-44. */
  readonly lms?: string | undefined;
  readonly lmots?: string | undefined;
  /** scrypt cost of an LMS key file (default DEFAULT_SCRYPT); tests lower it. */
  readonly scrypt?: ScryptParams | undefined;
}

export interface MlDsa44KeygenResult {
  readonly scheme: "ml-dsa-44";
  readonly keyFile: string;
  /** Whether the PEM is encrypted (ENCRYPTED PRIVATE KEY) under the password. */
  readonly encrypted: boolean;
  /** The raw FIPS 204 public key (1,312 bytes): what the device commits to. */
  readonly publicKey: Hex;
  /** keccak256(uint8(2) ‖ public key), as PqKeyRecovery keeps a device's commitment. */
  readonly commitment: Hex;
}

export type PqKeygenResult = ({ readonly scheme: "lms" } & LmsKeygenResult) | MlDsa44KeygenResult;

/** Creates a post-quantum key file of `scheme` at `out`; refuses to overwrite one. */
export async function pqKeygen(options: PqKeygenOptions): Promise<PqKeygenResult> {
  const { scheme, out, password } = options;
  if (out === "") throw new InvalidInputError("--out is required: the key file to create");
  if (scheme === "lms") {
    if (password === undefined || password === "") {
      throw new InvalidInputError(
        "an LMS key file is always encrypted: give its password (--password)",
      );
    }
    // lmsKeygen refuses too (its state file's own error): say it as every key file does.
    for (const path of [out, `${out}.state`]) {
      if (existsSync(path)) throw new KeyFileExistsError(path);
    }
    const made = await lmsKeygen({
      out,
      password,
      lms: options.lms,
      lmots: options.lmots,
      scrypt: options.scrypt,
    });
    return { scheme, ...made };
  }
  if (options.lms !== undefined || options.lmots !== undefined) {
    throw new InvalidInputError(
      "--lms and --lmots choose an LMS key's parameter sets: drop them for --scheme ml-dsa-44",
    );
  }
  const encrypted = password !== undefined && password !== "";
  const pair = generateMlDsa44KeyPair();
  writeNewFile(out, mlDsa44PrivateKeyPem(pair.privateKey, encrypted ? password : undefined));
  return {
    scheme,
    keyFile: out,
    encrypted,
    publicKey: toHex(pair.publicKey),
    commitment: pqKeyCommitment(scheme, pair.publicKey),
  };
}

/**
 * Writes `data` to a file that must not exist yet (O_EXCL, mode 0600), durably: the file and its folder
 * entry are fsynced, so a key that a device may commit to is on disk before its public key is printed.
 */
function writeNewFile(path: string, data: string): void {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (err: unknown) {
    if (err instanceof Error && "code" in err && err.code === "EEXIST") {
      throw new KeyFileExistsError(path, { cause: err });
    }
    throw new InvalidInputError(
      `cannot create ${path}: check that its folder exists and is writable`,
      {
        cause: err,
      },
    );
  }
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } catch (err: unknown) {
    closeSync(fd);
    // The file is ours (just created): a partial key must not block the next attempt.
    rmSync(path, { force: true });
    throw err;
  }
  closeSync(fd);
  fsyncFolder(dirname(path));
}
