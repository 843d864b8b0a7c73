import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import {
  DeviceTrustError,
  InvalidInputError,
  LmsParseError,
  LmsPrivateKey,
  encodeLmsPublicKey,
  isHex,
  lmotsByName,
  lmsByName,
  parseLmsPublicKey,
  toHex,
  type Hex,
  type LmotsName,
  type LmotsParams,
  type LmsName,
  type LmsParams,
  type LmsPublicKey,
} from "../protocol/index.js";
import { removeInterruptedWrites, writeFileDurably } from "./fsync.js";
import {
  DEFAULT_SCRYPT,
  KeyFileError,
  isRecord,
  openSecret,
  parseSealedSecret,
  readKeyFileJson,
  sealSecret,
  type ScryptParams,
  type SealedSecret,
} from "./key-file-crypto.js";
import { LmsKeyExhaustedError, LmsStateError } from "./lms-signer-errors.js";

/**
 * A stateful LMS signer: a maker's firmware-manifest key, a device's post-quantum recovery key. An LMS
 * key is 2^h one-time keys, and a one-time key that signs two messages lets anyone forge; so the signer
 * keeps, beside its key file, a state file holding the next unused leaf, and never releases a signature
 * before the state says its leaf is used:
 *
 * - write-ahead: `sign` writes the new state (next = q + 1, or q + `reserve`) to a temporary file,
 *   fsyncs it, renames it over the state file and fsyncs the folder (fsync.ts writeFileDurably); only
 *   then does it sign with leaf q. A crash (SIGKILL, power loss) at any point leaves the state at or past
 *   every leaf that may have signed: at worst a leaf is skipped, never used twice. `reserve` > 1 writes
 *   the state once per `reserve` signatures and skips up to reserve - 1 leaves at a crash;
 * - one signer per state: a lock file beside it (O_EXCL, holding the process id) refuses a second process;
 *   a lock left by a dead process is taken over (two processes starting in the very same instant after a
 *   crash could both take it over: run one signer per key);
 * - the state file carries the key's public key and a checksum: a truncated, edited or foreign state
 *   refuses to open (LmsStateError "corrupt" / "wrong-key"), and a missing one too ("missing": the signer
 *   never guesses that a key is fresh);
 * - backups: a state file restored from a backup is older than the leaves signed since, and signing from
 *   it reuses them. The signer catches it two ways. With a `watermark` path (a second record of the same
 *   counter, best on another volume: the device's signing-record folder, a mounted secure store), every
 *   reservation is written to the state and then to the watermark, and `open` refuses a state behind the
 *   watermark ("rolled-back"). While open, each reservation first re-reads the state file and refuses if
 *   it is not what the signer last wrote (a restore under a running signer). What no local record can
 *   catch is both files restored together (a whole-disk image): before signing with a key restored that
 *   way, find the highest q it published (each signature carries its q: firmware manifests on chain, a
 *   transparency log) and open with `skipTo` past it. Back up the key file alone, never the state.
 */

/** The key file (version 1): the parameter sets and public key in the clear, the SEED encrypted. */
export interface LmsKeyFile {
  readonly version: 1;
  readonly kind: "devicetrust-lms-key";
  readonly lms: LmsName;
  readonly lmots: LmotsName;
  /** The LMS public key, RFC 8554 §5.3: u32str(type) ‖ u32str(otstype) ‖ I ‖ T[1]. */
  readonly publicKey: Hex;
  /** SEED, scrypt + AES-256-GCM, bound to the public key (key-file-crypto.ts). */
  readonly crypto: SealedSecret;
}

/** Where a signer's files are. */
export interface LmsSignerPaths {
  /** The key file (mode 0600). */
  readonly key: string;
  /** The state file; `${key}.state` by default. Its lock is `${state}.lock`. */
  readonly state?: string | undefined;
  /** The watermark: a second record of the state, checked against it (see the module comment). */
  readonly watermark?: string | undefined;
}

/** LmsSignerPaths with the state file's default filled in. */
export interface LmsResolvedPaths {
  readonly key: string;
  readonly state: string;
  readonly watermark: string | undefined;
}

export interface LmsCreateOptions {
  readonly lms: LmsParams;
  readonly lmots: LmotsParams;
  /** SEED and I; random when omitted (give them only to re-create a known key, as tests do). */
  readonly seed?: Uint8Array | undefined;
  readonly identifier?: Uint8Array | undefined;
  /** scrypt cost for the key file (default DEFAULT_SCRYPT). */
  readonly scrypt?: ScryptParams | undefined;
  readonly reserve?: number | undefined;
  readonly cachedLevels?: number | undefined;
}

export interface LmsOpenOptions {
  /** Leaves reserved per state write (default 1): fewer fsyncs, up to reserve - 1 leaves lost at a crash. */
  readonly reserve?: number | undefined;
  /** Tree levels kept in memory (LmsPrivateKey's cachedLevels). */
  readonly cachedLevels?: number | undefined;
  /**
   * Start at this leaf at least (never lower than the state): after restoring a backup, one past the
   * highest q the key is known to have published, or the watermark's next leaf that a "rolled-back"
   * refusal names. The leaves skipped are never used.
   */
  readonly skipTo?: number | undefined;
  /** Write the watermark from the state when it does not exist yet (first use of a watermark path). */
  readonly createWatermark?: boolean | undefined;
}

/** What a key file says in the clear (LmsStatefulSigner.info). */
export interface LmsKeyInfo {
  readonly lms: LmsName;
  readonly lmots: LmotsName;
  /** RFC 8554 §5.3 public key, lower-case hex. */
  readonly publicKey: Hex;
}

export interface LmsStatefulSignOptions {
  /** Randomizers to try (LmsSignOptions.attempts): LMS_ON_CHAIN_ATTEMPTS for a signature verified on chain. */
  readonly attempts?: number | undefined;
}

/** One signature: its leaf and its bytes (RFC 8554 §5.4). */
export interface LmsSigned {
  readonly q: number;
  readonly signature: Uint8Array;
}

const STATE_KIND = "devicetrust-lms-state";
const WATERMARK_KIND = "devicetrust-lms-watermark";
type RecordKind = typeof STATE_KIND | typeof WATERMARK_KIND;

/** The additional data the SEED is encrypted under: the public key (parameter sets, I, root). */
function aadOf(publicKey: Hex): string {
  return `devicetrust-lms-key:${publicKey}`;
}

function checksumOf(kind: RecordKind, publicKey: Hex, next: number): Hex {
  return toHex(
    createHash("sha256")
      .update(JSON.stringify([kind, 1, publicKey, next]))
      .digest(),
  );
}

function recordText(kind: RecordKind, publicKey: Hex, next: number): string {
  const record = { kind, version: 1, publicKey, next, checksum: checksumOf(kind, publicKey, next) };
  return `${JSON.stringify(record)}\n`;
}

function recordName(kind: RecordKind): string {
  return kind === STATE_KIND ? "LMS state file" : "LMS watermark";
}

/** The next leaf a state or watermark record holds; LmsStateError unless it is a sound record of `publicKey`. */
function readRecord(
  path: string,
  kind: RecordKind,
  publicKey: Hex,
  leaves: number,
): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err: unknown) {
    if (isRecord(err) && err.code === "ENOENT") return undefined;
    throw new LmsStateError(path, "corrupt", `cannot read the ${recordName(kind)} ${path}`, {
      cause: err,
    });
  }
  const corrupt = (what: string): never => {
    throw new LmsStateError(
      path,
      "corrupt",
      `the ${recordName(kind)} ${path} is corrupt (${what}): the signer will not guess which leaves were used. Find out the highest q this key published, then restore the record (or open with skipTo past it)`,
    );
  };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return corrupt("not JSON");
  }
  if (!isRecord(value) || value.kind !== kind || value.version !== 1) {
    return corrupt(`not a ${kind} record of version 1`);
  }
  const { next, checksum } = value;
  if (!isHex(value.publicKey) || !isHex(checksum, 32)) return corrupt("a field is not hex");
  if (typeof next !== "number" || !Number.isSafeInteger(next) || next < 0 || next > leaves) {
    return corrupt(
      `next leaf ${JSON.stringify(next)} is not a whole number from 0 to ${String(leaves)}`,
    );
  }
  if (checksum.toLowerCase() !== checksumOf(kind, value.publicKey.toLowerCase() as Hex, next)) {
    return corrupt("its checksum does not match its content");
  }
  if (value.publicKey.toLowerCase() !== publicKey) {
    throw new LmsStateError(
      path,
      "wrong-key",
      `the ${recordName(kind)} ${path} is the record of LMS key ${value.publicKey}, not of ${publicKey}: give each key its own state and watermark`,
    );
  }
  return next;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err: unknown) {
    // EPERM: the process exists, under another user.
    return isRecord(err) && err.code === "EPERM";
  }
}

/** Takes the lock file `path` for this process; LmsStateError "locked" while another live process holds it. */
function lock(path: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      try {
        writeSync(fd, `${String(process.pid)}\n`);
      } finally {
        closeSync(fd);
      }
      return;
    } catch (err: unknown) {
      if (!(isRecord(err) && err.code === "EEXIST")) throw err;
    }
    let holder = Number.NaN;
    try {
      holder = Number.parseInt(readFileSync(path, "utf8"), 10);
    } catch {
      // Removed meanwhile: try again.
    }
    if (Number.isSafeInteger(holder) && holder > 0 && isAlive(holder)) {
      throw new LmsStateError(
        path,
        "locked",
        `the LMS state is in use by process ${String(holder)} (lock ${path}): run one signer per key. If that process is not a signer (its id was reused after a reboot), delete the lock`,
      );
    }
    // A lock left by a process that died (a crash or SIGKILL): take it over.
    rmSync(path, { force: true });
  }
  throw new LmsStateError(path, "locked", `cannot take the LMS state lock ${path}: try again`);
}

function paramsOf(file: LmsKeyFile, where: string): { lms: LmsParams; lmots: LmotsParams } {
  const lms = lmsByName(file.lms);
  const lmots = lmotsByName(file.lmots);
  if (lms === undefined || lmots === undefined) {
    throw new KeyFileError(`${where} names unknown LMS parameter sets ${file.lms}/${file.lmots}`);
  }
  return { lms, lmots };
}

/** Checks the shape of an LMS key file before anything is decrypted. */
function parseKeyFile(value: unknown, where: string): LmsKeyFile {
  const bad = (what: string) =>
    new KeyFileError(`${where} is not a DeviceTrust LMS key file (version 1): ${what}`);
  if (!isRecord(value) || value.kind !== "devicetrust-lms-key" || value.version !== 1) {
    throw bad("kind/version");
  }
  if (typeof value.lms !== "string" || typeof value.lmots !== "string") throw bad("parameter sets");
  parseSealedSecret(value.crypto, bad);
  if (!isHex(value.publicKey)) throw bad("publicKey is not 0x-prefixed hex of whole bytes");
  const file = value as unknown as LmsKeyFile;
  const { lms, lmots } = paramsOf(file, where);
  let key: LmsPublicKey;
  try {
    key = parseLmsPublicKey(Buffer.from(file.publicKey.slice(2), "hex"), "its public key");
  } catch (err: unknown) {
    if (err instanceof LmsParseError) throw bad(err.message);
    throw err;
  }
  if (key.lms !== lms || key.lmots !== lmots)
    throw bad("its public key is of other parameter sets");
  return file;
}

/** LmsStateError "exists" when a key, state or watermark file is where create would write one. */
function refuseExisting(p: LmsResolvedPaths): void {
  for (const path of [p.key, p.state, p.watermark]) {
    if (path !== undefined && existsSync(path)) {
      throw new LmsStateError(
        path,
        "exists",
        `${path} exists: an LMS key and its state are never overwritten (signing from a fresh state with an old key reuses its one-time keys). Choose other paths`,
      );
    }
  }
}

function reserveOf(value: number | undefined): number {
  const reserve = value ?? 1;
  if (!Number.isSafeInteger(reserve) || reserve < 1) {
    throw new InvalidInputError(
      `reserve must be a whole number of at least 1, not ${String(reserve)}`,
    );
  }
  return reserve;
}

export class LmsStatefulSigner {
  readonly publicKey: LmsPublicKey;
  /** The public key's bytes as hex (RFC 8554 §5.3), as the key file and the records name it. */
  readonly publicKeyHex: Hex;
  readonly paths: LmsResolvedPaths;
  readonly #key: LmsPrivateKey;
  readonly #lock: string;
  readonly #reserve: number;
  /** The next leaf to sign with. */
  #next: number;
  /** The state on disk: every leaf below it may have signed. */
  #reserved: number;
  #open = true;

  private constructor(key: LmsPrivateKey, paths: LmsResolvedPaths, next: number, reserve: number) {
    this.#key = key;
    this.publicKey = key.publicKey;
    this.publicKeyHex = toHex(encodeLmsPublicKey(key.publicKey));
    this.paths = paths;
    this.#lock = `${paths.state}.lock`;
    this.#next = next;
    this.#reserved = next;
    this.#reserve = reserve;
  }

  static #paths(paths: LmsSignerPaths): LmsResolvedPaths {
    return {
      key: paths.key,
      state: paths.state ?? `${paths.key}.state`,
      watermark: paths.watermark,
    };
  }

  /**
   * Generates a key and writes its key file (SEED encrypted under `password`), then its state (and
   * watermark) at leaf 0, each durably; returns the signer, open. Refuses (LmsStateError "exists") when
   * any of the files exists: a key in use is never overwritten.
   */
  static async create(
    paths: LmsSignerPaths,
    password: string,
    options: LmsCreateOptions,
  ): Promise<LmsStatefulSigner> {
    if (password.length === 0) {
      throw new InvalidInputError("an empty password would leave the key readable: choose one");
    }
    const p = LmsStatefulSigner.#paths(paths);
    refuseExisting(p);
    const reserve = reserveOf(options.reserve);
    const key = LmsPrivateKey.fromSeed({
      lms: options.lms,
      lmots: options.lmots,
      seed: options.seed ?? randomBytes(options.lmots.n),
      identifier: options.identifier ?? randomBytes(16),
      cachedLevels: options.cachedLevels,
    });
    const publicKey = toHex(encodeLmsPublicKey(key.publicKey));
    const seed = key.exportSeed();
    const file: LmsKeyFile = {
      version: 1,
      kind: "devicetrust-lms-key",
      lms: key.lms.name,
      lmots: key.lmots.name,
      publicKey,
      crypto: await sealSecret(seed, password, aadOf(publicKey), options.scrypt ?? DEFAULT_SCRYPT),
    };
    seed.fill(0);
    for (const path of [p.key, p.state, p.watermark]) {
      if (path !== undefined) mkdirSync(dirname(path), { recursive: true });
    }
    lock(`${p.state}.lock`);
    try {
      // Again under the lock: another create may have written them since the first check.
      refuseExisting(p);
      // The key first: a crash before the state leaves a key that never signed and refuses to open
      // ("missing"), never a state that a later key could be paired with.
      writeFileDurably(p.key, `${JSON.stringify(file, null, 2)}\n`);
      writeFileDurably(p.state, recordText(STATE_KIND, publicKey, 0));
      if (p.watermark !== undefined) {
        writeFileDurably(p.watermark, recordText(WATERMARK_KIND, publicKey, 0));
      }
    } catch (err: unknown) {
      rmSync(`${p.state}.lock`, { force: true });
      throw err;
    }
    return new LmsStatefulSigner(key, p, 0, reserve);
  }

  /**
   * Opens a signer: decrypts the key file (KeyFileError on a wrong password or a damaged file), computes
   * the key's tree, takes the state's lock and reads the state, checked against the watermark when one
   * is given (LmsStateError: "missing", "corrupt", "wrong-key", "rolled-back", "locked").
   */
  static async open(
    paths: LmsSignerPaths,
    password: string,
    options: LmsOpenOptions = {},
  ): Promise<LmsStatefulSigner> {
    const p = LmsStatefulSigner.#paths(paths);
    const reserve = reserveOf(options.reserve);
    const file = parseKeyFile(
      await readKeyFileJson(p.key, "create one with LmsStatefulSigner.create"),
      p.key,
    );
    const { lms, lmots } = paramsOf(file, p.key);
    const seed = await openSecret(
      file.crypto,
      password,
      aadOf(file.publicKey.toLowerCase() as Hex),
      p.key,
    );
    const identifier = Buffer.from(file.publicKey.slice(2 + 16, 2 + 48), "hex");
    const key = LmsPrivateKey.fromSeed({
      lms,
      lmots,
      seed,
      identifier,
      cachedLevels: options.cachedLevels,
    });
    seed.fill(0);
    const publicKey = toHex(encodeLmsPublicKey(key.publicKey));
    if (publicKey !== file.publicKey.toLowerCase()) {
      key.destroy();
      throw new KeyFileError(`${p.key} is inconsistent: its public key is not its SEED's`);
    }
    const lockPath = `${p.state}.lock`;
    lock(lockPath);
    try {
      const next = LmsStatefulSigner.#recover(p, publicKey, key.leaves, options);
      return new LmsStatefulSigner(key, p, next, reserve);
    } catch (err: unknown) {
      rmSync(lockPath, { force: true });
      key.destroy();
      throw err;
    }
  }

  /**
   * A key file's parameter sets and public key, read without its password (the SEED stays sealed): what
   * a device commits to, or a maker registers. KeyFileError when it is not an LMS key file.
   */
  static async info(path: string): Promise<LmsKeyInfo> {
    const file = parseKeyFile(
      await readKeyFileJson(path, "create one with LmsStatefulSigner.create"),
      path,
    );
    return { lms: file.lms, lmots: file.lmots, publicKey: file.publicKey.toLowerCase() as Hex };
  }

  /** Reads and checks the state (and watermark); the next leaf, written back where it moved. */
  static #recover(
    p: LmsResolvedPaths,
    publicKey: Hex,
    leaves: number,
    options: LmsOpenOptions,
  ): number {
    const state = readRecord(p.state, STATE_KIND, publicKey, leaves);
    if (state === undefined) {
      throw new LmsStateError(
        p.state,
        "missing",
        `the LMS state file ${p.state} does not exist: without it the signer cannot know which leaves were used. Restore it, or open with skipTo past the highest q the key published (if the key never signed, its creation was interrupted: create another)`,
      );
    }
    let next = state;
    if (p.watermark !== undefined) {
      const watermark = readRecord(p.watermark, WATERMARK_KIND, publicKey, leaves);
      if (watermark === undefined && options.createWatermark !== true) {
        throw new LmsStateError(
          p.watermark,
          "missing",
          `the LMS watermark ${p.watermark} does not exist: restore it, or open with createWatermark if this key never had one`,
        );
      }
      if (watermark !== undefined && watermark > state) {
        if (options.skipTo === undefined || options.skipTo < watermark) {
          throw new LmsStateError(
            p.state,
            "rolled-back",
            `the LMS state file ${p.state} is at leaf ${String(state)}, behind its watermark ${p.watermark} at leaf ${String(watermark)}: it was restored from a backup, and signing from it would reuse one-time keys. Open with skipTo: ${String(watermark)} (or past the highest q the key published)`,
          );
        }
      }
      next = Math.max(next, watermark ?? 0);
    }
    if (options.skipTo !== undefined) {
      if (!Number.isSafeInteger(options.skipTo) || options.skipTo < 0 || options.skipTo > leaves) {
        throw new InvalidInputError(
          `skipTo must be a leaf from 0 to ${String(leaves)}, not ${String(options.skipTo)}`,
        );
      }
      next = Math.max(next, options.skipTo);
    }
    removeInterruptedWrites(p.state);
    if (next !== state) writeFileDurably(p.state, recordText(STATE_KIND, publicKey, next));
    if (p.watermark !== undefined) {
      removeInterruptedWrites(p.watermark);
      // A watermark behind the state (a crash between the two writes) catches up.
      writeFileDurably(p.watermark, recordText(WATERMARK_KIND, publicKey, next));
    }
    return next;
  }

  /** 2^h: the signatures the key makes in all. */
  get leaves(): number {
    return this.#key.leaves;
  }

  /** The leaf the next signature uses. */
  get next(): number {
    return this.#next;
  }

  /** Signatures left (leaves reserved and lost at a crash are not counted back). */
  get remaining(): number {
    return this.leaves - this.#next;
  }

  /**
   * Signs `message` with the next leaf: the state on disk moves past the leaf (durably) before the
   * leaf signs. Throws LmsKeyExhaustedError once every leaf is used, LmsStateError when the state file
   * is no longer what this signer wrote.
   */
  sign(message: Uint8Array, options: LmsStatefulSignOptions = {}): LmsSigned {
    if (!this.#open) {
      throw new DeviceTrustError("KEY_CLOSED", "this LMS signer was closed: open it again to sign");
    }
    const attempts = options.attempts ?? 1;
    // Checked before a leaf is reserved: a refusal spends none.
    if (!Number.isSafeInteger(attempts) || attempts < 1 || attempts > 2 ** 24) {
      throw new InvalidInputError(
        `attempts must be a whole number from 1 to 2^24, not ${String(attempts)}`,
      );
    }
    const q = this.#next;
    if (q >= this.leaves) throw new LmsKeyExhaustedError(this.publicKeyHex, this.leaves);
    if (q >= this.#reserved) this.#reserveThrough(q);
    this.#next = q + 1;
    return { q, signature: this.#key.sign(q, message, { attempts }) };
  }

  /** Moves the state (then the watermark) past leaf q, durably, after checking it is still ours. */
  #reserveThrough(q: number): void {
    const { state, watermark } = this.paths;
    const onDisk = readRecord(state, STATE_KIND, this.publicKeyHex, this.leaves);
    if (onDisk !== this.#reserved) {
      throw new LmsStateError(
        state,
        "rolled-back",
        `the LMS state file ${state} says leaf ${String(onDisk)}, and this signer wrote ${String(this.#reserved)}: it was replaced while the signer held it (a backup restored?). Nothing was signed; find out which leaves were used before opening it again`,
      );
    }
    const end = Math.min(this.leaves, q + this.#reserve);
    writeFileDurably(state, recordText(STATE_KIND, this.publicKeyHex, end));
    if (watermark !== undefined) {
      writeFileDurably(watermark, recordText(WATERMARK_KIND, this.publicKeyHex, end));
    }
    this.#reserved = end;
  }

  /** Forgets the SEED and releases the lock; signing afterwards throws. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#key.destroy();
    rmSync(this.#lock, { force: true });
  }
}
