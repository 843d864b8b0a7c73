import { execFile } from "node:child_process";
import { createPublicKey } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  DeviceTrustError,
  KeyType,
  checkCoseSign1Signing,
  deviceKeyFromPublicKey,
  encodeSignature,
  normalizeLowS,
  parseHexBytes,
  type DeviceKey,
  type Hex,
} from "../protocol/index.js";
import { parseTpmSignature } from "../verify/tpm-quote.js";
import type { KeyStore } from "./key-store.js";

const run = promisify(execFile);

/** A tpm2-tools command failed: the tool, its arguments and what it printed. */
export class TpmCommandError extends DeviceTrustError {
  constructor(tool: string, args: readonly string[], detail: string) {
    super(
      "TPM_COMMAND_FAILED",
      `${tool} ${args.join(" ")} failed: ${detail.trim()} (is the TPM reachable through TPM2TOOLS_TCTI, and tpm2-tools installed?)`,
    );
    this.name = "TpmCommandError";
  }
}

/** The persistent handle the device's Attestation Key lives at (owner hierarchy, TCG's AK range). */
export const AK_HANDLE = "0x81010002";
/** The PCR the device extends with each boot stage's SHA-256 (PCR 16: the debug PCR, resettable). */
export const BOOT_PCR = 16;

export interface TpmOptions {
  /** tpm2-tools' TCTI (e.g. "swtpm:host=127.0.0.1,port=2321", "device:/dev/tpmrm0"). */
  readonly tcti: string;
  /** Where the tools' files go (context, public key, quote); created if missing. */
  readonly workDir: string;
}

/** A quote as the TPM produced it, with the PCR values it covers (SHA-256 bank, selection order). */
export interface TpmQuoteOutput {
  /** TPMS_ATTEST, the signed bytes. */
  readonly attest: Uint8Array;
  /** TPMT_SIGNATURE (ECDSA P-256 with SHA-256; s as the TPM gave it). */
  readonly signature: Uint8Array;
  readonly pcrValues: readonly Hex[];
}

/**
 * A TPM 2.0 driven through tpm2-tools: the Attestation Key (an ECC P-256 restricted signing key under the
 * endorsement key, made persistent), PCR extends and reads, quotes over PCRs with a freshness value, and
 * signatures of device messages with the AK (a restricted key signs only digests the TPM hashed itself:
 * TPM2_Hash issues the ticket that lets TPM2_Sign accept them). Transient objects are flushed after every
 * command (no resource manager: the TPM would run out of object slots).
 */
export class Tpm {
  readonly #env: NodeJS.ProcessEnv;
  readonly #dir: string;

  constructor(options: TpmOptions) {
    this.#env = { ...process.env, TPM2TOOLS_TCTI: options.tcti };
    this.#dir = options.workDir;
  }

  async #tool(tool: string, args: readonly string[]): Promise<string> {
    await mkdir(this.#dir, { recursive: true });
    try {
      const { stdout } = await run(tool, args, { env: this.#env, cwd: this.#dir });
      return stdout;
    } catch (err: unknown) {
      const e = err as { stderr?: string; message?: string };
      throw new TpmCommandError(tool, args, e.stderr ?? e.message ?? String(err));
    } finally {
      await run("tpm2_flushcontext", ["-t"], { env: this.#env, cwd: this.#dir }).catch(
        () => undefined,
      );
    }
  }

  #file(name: string): string {
    return join(this.#dir, name);
  }

  /**
   * Creates the endorsement key and an Attestation Key under it, and makes the AK persistent at
   * AK_HANDLE (replacing one there). Returns the AK's public key (x‖y) and its TPM name.
   */
  async createAttestationKey(): Promise<{ publicKey: Uint8Array; name: Hex }> {
    await this.#tool("tpm2_createek", ["-c", "ek.ctx", "-G", "ecc", "-u", "ek.pub"]);
    await this.#tool("tpm2_createak", [
      ...["-C", "ek.ctx", "-c", "ak.ctx", "-G", "ecc", "-g", "sha256", "-s", "ecdsa"],
      ...["-u", "ak.pub", "-n", "ak.name", "-f", "pem"],
    ]);
    await this.#tool("tpm2_evictcontrol", ["-C", "o", "-c", AK_HANDLE]).catch(() => undefined);
    await this.#tool("tpm2_evictcontrol", ["-C", "o", "-c", "ak.ctx", AK_HANDLE]);
    const name: Hex = `0x${(await readFile(this.#file("ak.name"))).toString("hex")}`;
    return { publicKey: await this.attestationPublicKey(), name };
  }

  /** The persistent AK's public key, x‖y (64 bytes), read from the TPM (AK_HANDLE) as PEM. */
  async attestationPublicKey(): Promise<Uint8Array> {
    await this.#tool("tpm2_readpublic", ["-c", AK_HANDLE, "-f", "pem", "-o", "ak-read.pub"]);
    const jwk = createPublicKey(await readFile(this.#file("ak-read.pub"), "utf8")).export({
      format: "jwk",
    });
    if (jwk.crv !== "P-256" || jwk.x === undefined || jwk.y === undefined) {
      throw new DeviceTrustError("TPM_BAD_KEY", "the AK is not an ECC P-256 key");
    }
    return Buffer.concat([Buffer.from(jwk.x, "base64url"), Buffer.from(jwk.y, "base64url")]);
  }

  /** Extends PCR `index` (SHA-256 bank) with a 32-byte digest: PCR = SHA-256(PCR ‖ digest). */
  async extendPcr(index: number, digest: Hex): Promise<void> {
    parseHexBytes(digest, "PCR extend digest", { bytes: 32 });
    await this.#tool("tpm2_pcrextend", [`${String(index)}:sha256=${digest.slice(2)}`]);
  }

  /** Resets a resettable PCR (16 and 23) to zero: a boot starts from m_0 = 0. */
  async resetPcr(index: number): Promise<void> {
    await this.#tool("tpm2_pcrreset", [String(index)]);
  }

  /** The SHA-256 bank's values of the given PCRs, in ascending index order. */
  async readPcrs(indices: readonly number[]): Promise<Hex[]> {
    const sorted = [...indices].sort((a, b) => a - b);
    await this.#tool("tpm2_pcrread", [`sha256:${sorted.join(",")}`, "-o", "pcrs.bin"]);
    const raw = await readFile(this.#file("pcrs.bin"));
    if (raw.length !== 32 * sorted.length) {
      throw new DeviceTrustError(
        "TPM_BAD_OUTPUT",
        `tpm2_pcrread wrote ${String(raw.length)} bytes`,
      );
    }
    return sorted.map((_, i): Hex => `0x${raw.subarray(32 * i, 32 * i + 32).toString("hex")}`);
  }

  /** A quote by the AK over the SHA-256 bank's `pcrs`, carrying `extraData` (at most 64 bytes). */
  async quote(pcrs: readonly number[], extraData: Hex): Promise<TpmQuoteOutput> {
    const data = parseHexBytes(extraData, "extraData");
    if (data.length === 0 || data.length > 64) {
      throw new DeviceTrustError("TPM_BAD_INPUT", "extraData must be 1 to 64 bytes");
    }
    const sorted = [...pcrs].sort((a, b) => a - b);
    await rm(this.#file("quote.msg"), { force: true });
    await this.#tool("tpm2_quote", [
      ...["-c", AK_HANDLE, "-l", `sha256:${sorted.join(",")}`, "-q", extraData.slice(2)],
      ...["-m", "quote.msg", "-s", "quote.sig", "-g", "sha256"],
    ]);
    const [attest, signature] = await Promise.all([
      readFile(this.#file("quote.msg")),
      readFile(this.#file("quote.sig")),
    ]);
    return { attest, signature, pcrValues: await this.readPcrs(sorted) };
  }

  /**
   * Signs a 32-byte digest with the AK as the device's P-256 scheme does (ECDSA over SHA-256(digest)):
   * TPM2_Hash inside the TPM gives the ticket the restricted AK needs. Returns r and s as the TPM gave them.
   */
  async signDigest(digest: Hex): Promise<{ r: bigint; s: bigint }> {
    return this.signMessage(parseHexBytes(digest, "digest", { bytes: 32 }));
  }

  /**
   * Signs `message` with the AK: ECDSA over SHA-256(message), hashed by the TPM (TPM2_Hash, or a hash
   * sequence for long messages; the ticket says the message does not start with TPM_GENERATED_VALUE, so
   * it cannot pass for a quote). Returns r and s as the TPM gave them.
   */
  async signMessage(message: Uint8Array): Promise<{ r: bigint; s: bigint }> {
    await writeFile(this.#file("digest.bin"), message);
    await this.#tool("tpm2_hash", [
      ...["-C", "e", "-g", "sha256", "-t", "ticket.bin", "-o", "hash.bin", "digest.bin"],
    ]);
    await this.#tool("tpm2_sign", [
      ...["-c", AK_HANDLE, "-g", "sha256", "-t", "ticket.bin", "-o", "sign.sig", "hash.bin"],
      "-d",
    ]);
    return parseTpmSignature(await readFile(this.#file("sign.sig")));
  }
}

/**
 * A device key inside a TPM: the Attestation Key signs the device's messages (registration, attestation,
 * readings) with the P-256 scheme, low-s normalised as the chain requires. The key never leaves the TPM.
 */
export class TpmKeyStore implements KeyStore {
  readonly kind = "tpm" as const;
  readonly curve = "p256" as const;
  readonly deviceKey: DeviceKey;
  readonly publicKey: Uint8Array;
  #tpm: Tpm | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(tpm: Tpm, xy: Uint8Array) {
    this.#tpm = tpm;
    this.publicKey = Buffer.concat([Buffer.from([4]), xy]);
    this.deviceKey = deviceKeyFromPublicKey("p256", this.publicKey);
  }

  /** Opens the TPM's persistent AK (created with Tpm.createAttestationKey). */
  static async open(tpm: Tpm): Promise<TpmKeyStore> {
    return new TpmKeyStore(tpm, await tpm.attestationPublicKey());
  }

  /** The TPM behind the key: quotes and PCRs. */
  get tpm(): Tpm {
    if (this.#tpm === undefined) {
      throw new DeviceTrustError("KEY_CLOSED", "this key store was closed: open it again");
    }
    return this.#tpm;
  }

  signDigest(digest: Hex): Promise<Hex> {
    const tpm = this.tpm;
    return this.#run(() => tpm.signDigest(digest));
  }

  async signCoseSign1(toBeSigned: Uint8Array): Promise<Hex> {
    checkCoseSign1Signing(this.curve, toBeSigned);
    const tpm = this.tpm;
    const message = new Uint8Array(toBeSigned);
    return this.#run(() => tpm.signMessage(message));
  }

  /** One command sequence at a time (the tools share their work files); the result low-s r‖s. */
  #run(sign: () => Promise<{ r: bigint; s: bigint }>): Promise<Hex> {
    const next = this.#queue.then(async () => {
      const { r, s } = await sign();
      return encodeSignature(KeyType.P256, normalizeLowS("p256", { r, s }));
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  close(): Promise<void> {
    this.#tpm = undefined;
    return Promise.resolve();
  }
}
