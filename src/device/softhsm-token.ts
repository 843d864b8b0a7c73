import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { DeviceTrustError } from "../protocol/index.js";
import { pkcs11Available, resolvePkcs11Module } from "./pkcs11-key-store.js";

const execFileAsync = promisify(execFile);

/** A throw-away SoftHSM2 token: a secure element on the desk, for tests and the demo. */
export interface SoftHsmToken {
  readonly modulePath: string;
  readonly tokenLabel: string;
  readonly pin: string;
  readonly soPin: string;
  /** The folder holding the token and its softhsm2.conf. */
  readonly dir: string;
  readonly confPath: string;
  /** Deletes the token folder and restores SOFTHSM2_CONF. Close the key stores on it first. */
  cleanup(): Promise<void>;
}

export interface SoftHsmTokenOptions {
  readonly label?: string | undefined;
  readonly pin?: string | undefined;
  readonly soPin?: string | undefined;
  /** Default: $DEVICETRUST_PKCS11_MODULE, else Debian's /usr/lib/softhsm/libsofthsm2.so. */
  readonly modulePath?: string | undefined;
}

export class SoftHsmUnavailableError extends DeviceTrustError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super("SOFTHSM_UNAVAILABLE", `SoftHSM2 is not usable: ${reason}`, options);
    this.name = "SoftHsmUnavailableError";
  }
}

function findOnPath(command: string): string | undefined {
  const dirs = (process.env.PATH ?? "").split(delimiter).concat(["/usr/bin", "/usr/local/bin"]);
  for (const dir of dirs) {
    if (dir === "") continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this folder: try the next.
    }
  }
  return undefined;
}

/** Whether SoftHSM2 (module and softhsm2-util) is installed; `reason` says what is missing and how to fix it. */
export function softHsmStatus(modulePath?: string): {
  readonly available: boolean;
  readonly reason: string;
} {
  const module = resolvePkcs11Module(modulePath);
  if (!pkcs11Available(module)) {
    return {
      available: false,
      reason: `the PKCS#11 module ${module} is missing: apt-get install softhsm2 (or set DEVICETRUST_PKCS11_MODULE)`,
    };
  }
  if (findOnPath("softhsm2-util") === undefined) {
    return { available: false, reason: "softhsm2-util is not on PATH: apt-get install softhsm2" };
  }
  return { available: true, reason: `SoftHSM2 at ${module}` };
}

/**
 * Creates a fresh SoftHSM2 token in its own temporary folder and points SOFTHSM2_CONF at it. SoftHSM
 * reads its configuration and scans tokens at C_Initialize, so create the token while no PKCS#11 key
 * store on the module is open (a store opened afterwards initializes the module and sees the token).
 */
export async function createSoftHsmToken(options: SoftHsmTokenOptions = {}): Promise<SoftHsmToken> {
  const modulePath = resolvePkcs11Module(options.modulePath);
  const status = softHsmStatus(modulePath);
  if (!status.available) throw new SoftHsmUnavailableError(status.reason);
  const util = findOnPath("softhsm2-util") ?? "softhsm2-util";
  const tokenLabel =
    options.label ?? `devicetrust-${process.pid.toString()}-${Date.now().toString(36)}`;
  const pin = options.pin ?? "1234";
  const soPin = options.soPin ?? "12345678";
  const dir = await mkdtemp(join(tmpdir(), "devicetrust-softhsm-"));
  const confPath = join(dir, "softhsm2.conf");
  await mkdir(join(dir, "tokens"));
  await writeFile(
    confPath,
    `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`,
  );
  try {
    await execFileAsync(
      util,
      ["--init-token", "--free", "--label", tokenLabel, "--so-pin", soPin, "--pin", pin],
      { env: { ...process.env, SOFTHSM2_CONF: confPath } },
    );
  } catch (cause) {
    await rm(dir, { recursive: true, force: true });
    throw new SoftHsmUnavailableError(`softhsm2-util --init-token failed (${String(cause)})`, {
      cause,
    });
  }
  const previous = process.env.SOFTHSM2_CONF;
  // The module reads SOFTHSM2_CONF from this process's environment when it is initialized.
  process.env.SOFTHSM2_CONF = confPath;
  return {
    modulePath,
    tokenLabel,
    pin,
    soPin,
    dir,
    confPath,
    async cleanup(): Promise<void> {
      if (process.env.SOFTHSM2_CONF === confPath) {
        if (previous === undefined) delete process.env.SOFTHSM2_CONF;
        else process.env.SOFTHSM2_CONF = previous;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
