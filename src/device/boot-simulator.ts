import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import {
  DeviceTrustError,
  InvalidInputError,
  asHex,
  measure,
  type Hex,
  type MeasuredBoot,
} from "../protocol/index.js";
import type { DeviceSigner, Signed } from "./device-signer.js";

/**
 * A device's boot, simulated with real files: each stage (bootloader, kernel, application) is measured
 * into the chain before it "runs", as a TPM-backed measured boot extends a PCR, and a monotonic boot
 * counter (a TPM NV counter on real hardware) lives in a small state file. Evidence is signed by the
 * device's key store through a DeviceSigner, so a software key and a PKCS#11 key work alike.
 */

/** The boot-counter file is unreadable, corrupt or belongs to another device. */
export class BootStateError extends DeviceTrustError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("BOOT_STATE", message, options);
    this.name = "BootStateError";
  }
}

/** Evidence was asked for before the device booted. */
export class NotBootedError extends DeviceTrustError {
  constructor() {
    super("NOT_BOOTED", "the device has not booted: call boot() before attest()");
    this.name = "NotBootedError";
  }
}

/** What the state file holds (version 1). */
export interface BootState {
  readonly kind: "devicetrust-boot-state";
  readonly version: 1;
  readonly deviceId: Hex;
  /** Boots so far; the latest boot's counter. Never decreases. */
  readonly bootCount: string;
  readonly lastMeasurement: Hex | null;
}

export interface BootRecord extends MeasuredBoot {
  /** This boot's counter value (1 on the first boot). */
  readonly bootCount: bigint;
}

export interface BootSimulatorOptions {
  readonly signer: DeviceSigner;
  /** Image files in boot order: bootloader, kernel, application. */
  readonly images: readonly string[];
  /** Where the monotonic boot counter persists. */
  readonly stateFile: string;
}

export class BootSimulator {
  readonly signer: DeviceSigner;
  readonly images: readonly string[];
  readonly stateFile: string;
  #current: BootRecord | undefined;

  constructor(options: BootSimulatorOptions) {
    if (options.images.length === 0) {
      throw new InvalidInputError(
        "a device boots at least one image: give the bootloader, kernel and application files in boot order",
      );
    }
    this.signer = options.signer;
    this.images = [...options.images];
    this.stateFile = options.stateFile;
  }

  /** The current boot, or undefined before boot(). */
  get current(): BootRecord | undefined {
    return this.#current;
  }

  /** The boot counter as persisted (0 before the first boot). */
  async bootCount(): Promise<bigint> {
    return BigInt((await this.#readState())?.bootCount ?? "0");
  }

  /**
   * Boots: measures every image in order and increments the persisted boot counter. The counter is
   * written (atomically: temporary file, then rename) before the measurement is used, so a crash after
   * a boot never lets the counter repeat.
   */
  async boot(): Promise<BootRecord> {
    const measured = await measure(this.images);
    const previous = await this.#readState();
    const bootCount = BigInt(previous?.bootCount ?? "0") + 1n;
    await this.#writeState({
      kind: "devicetrust-boot-state",
      version: 1,
      deviceId: this.signer.deviceId,
      bootCount: bootCount.toString(),
      lastMeasurement: measured.measurement,
    });
    this.#current = { ...measured, bootCount };
    return this.#current;
  }

  /**
   * Signs evidence of the current boot for `challenge` (a recent block hash or an issued nonce) at
   * `timestamp` (unix seconds; the device's clock).
   */
  async attest(challenge: string, timestamp: bigint): Promise<Signed<"Attestation">> {
    const boot = this.#current;
    if (boot === undefined) throw new NotBootedError();
    return this.signer.signAttestation({
      measurement: boot.measurement,
      challenge: asHex(challenge, "challenge", 32),
      timestamp,
      bootCount: boot.bootCount,
    });
  }

  async #readState(): Promise<BootState | undefined> {
    let text: string;
    try {
      text = await readFile(this.stateFile, "utf8");
    } catch (cause: unknown) {
      if ((cause as { code?: unknown }).code === "ENOENT") return undefined;
      throw new BootStateError(`cannot read boot state ${this.stateFile}: check its permissions`, {
        cause,
      });
    }
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch (cause) {
      throw new BootStateError(
        `boot state ${this.stateFile} is corrupt: restore it (resetting the counter would make the chain reject this device's evidence)`,
        { cause },
      );
    }
    const state = value as Partial<BootState> | null;
    if (
      state === null ||
      typeof state !== "object" ||
      state.kind !== "devicetrust-boot-state" ||
      state.version !== 1 ||
      typeof state.bootCount !== "string" ||
      !/^\d+$/.test(state.bootCount) ||
      typeof state.deviceId !== "string"
    ) {
      throw new BootStateError(
        `${this.stateFile} is not a DeviceTrust boot state (version 1): give the file boot() wrote`,
      );
    }
    if (state.deviceId.toLowerCase() !== this.signer.deviceId.toLowerCase()) {
      throw new BootStateError(
        `boot state ${this.stateFile} belongs to device ${state.deviceId}, not ${this.signer.deviceId}: give each device its own state file`,
      );
    }
    return state as BootState;
  }

  async #writeState(state: BootState): Promise<void> {
    await mkdir(dirname(this.stateFile), { recursive: true });
    const tmp = `${this.stateFile}.${String(process.pid)}.tmp`;
    await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, this.stateFile);
  }
}
