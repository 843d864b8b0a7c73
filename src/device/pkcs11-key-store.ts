import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import pkcs11js from "pkcs11js";
import type { Handle, PKCS11, Template } from "pkcs11js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import {
  DeviceTrustError,
  KeyType,
  checkCoseSign1Signing,
  deviceKeyFromPublicKey,
  encodeSignature,
  normalizeLowS,
  parseHexBytes,
  toHex,
  type Curve,
  type DeviceKey,
  type Hex,
} from "../protocol/index.js";
import type { KeyStore } from "./key-store.js";

/** Where Debian's softhsm2 package puts the module; override with DEVICETRUST_PKCS11_MODULE. */
export const DEFAULT_PKCS11_MODULE = "/usr/lib/softhsm/libsofthsm2.so";

/** The module to load: the explicit path, else $DEVICETRUST_PKCS11_MODULE, else SoftHSM2's. */
export function resolvePkcs11Module(modulePath?: string): string {
  if (modulePath !== undefined && modulePath !== "") return modulePath;
  const fromEnv = process.env.DEVICETRUST_PKCS11_MODULE;
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : DEFAULT_PKCS11_MODULE;
}

/** Whether the PKCS#11 module file exists (it may still fail to load if it is not a PKCS#11 library). */
export function pkcs11Available(modulePath?: string): boolean {
  return existsSync(resolvePkcs11Module(modulePath));
}

// ---------------------------------------------------------------------------------------------------
// Errors

export class Pkcs11ModuleNotFoundError extends DeviceTrustError {
  readonly modulePath: string;
  constructor(modulePath: string, options?: { cause?: unknown }) {
    super(
      "PKCS11_MODULE_NOT_FOUND",
      `cannot load the PKCS#11 module ${modulePath}: install SoftHSM2 (apt-get install softhsm2) or set ` +
        "DEVICETRUST_PKCS11_MODULE to your HSM's or secure element's PKCS#11 library",
      options,
    );
    this.name = "Pkcs11ModuleNotFoundError";
    this.modulePath = modulePath;
  }
}

export class Pkcs11TokenNotFoundError extends DeviceTrustError {
  readonly tokenLabel: string;
  readonly available: readonly string[];
  constructor(tokenLabel: string, available: readonly string[]) {
    const present =
      available.length === 0
        ? "no initialized token is present (create one: softhsm2-util --init-token --free --label <label>)"
        : `tokens present: ${available.map((l) => `"${l}"`).join(", ")}`;
    super("PKCS11_TOKEN_NOT_FOUND", `no PKCS#11 token labelled "${tokenLabel}": ${present}`);
    this.name = "Pkcs11TokenNotFoundError";
    this.tokenLabel = tokenLabel;
    this.available = available;
  }
}

export class Pkcs11PinError extends DeviceTrustError {
  constructor(tokenLabel: string, locked: boolean, options?: { cause?: unknown }) {
    super(
      locked ? "PKCS11_PIN_LOCKED" : "PKCS11_PIN_INCORRECT",
      locked
        ? `the user PIN of token "${tokenLabel}" is locked after too many wrong attempts: the security officer must reset it`
        : `wrong user PIN for token "${tokenLabel}": check the PIN (repeated failures lock the token)`,
      options,
    );
    this.name = "Pkcs11PinError";
  }
}

export class Pkcs11KeyNotFoundError extends DeviceTrustError {
  constructor(what: string, tokenLabel: string) {
    super(
      "PKCS11_KEY_NOT_FOUND",
      `no EC key pair with ${what} on token "${tokenLabel}": generate one with ` +
        `\`npx hardhat device keygen --keystore pkcs11\` (Pkcs11KeyStore.generate) or check the label`,
    );
    this.name = "Pkcs11KeyNotFoundError";
  }
}

export class Pkcs11KeyExistsError extends DeviceTrustError {
  constructor(label: string, tokenLabel: string) {
    super(
      "PKCS11_KEY_EXISTS",
      `token "${tokenLabel}" already holds a private key labelled "${label}": open it instead, or choose another label`,
    );
    this.name = "Pkcs11KeyExistsError";
  }
}

export class Pkcs11UnsupportedCurveError extends DeviceTrustError {
  constructor(detail: string) {
    super(
      "PKCS11_UNSUPPORTED_CURVE",
      `${detail}: DeviceTrust keys are P-256 (secp256r1) or secp256k1`,
    );
    this.name = "Pkcs11UnsupportedCurveError";
  }
}

/** Any other failure of the module, with the PKCS#11 return value's name (e.g. CKR_DEVICE_ERROR). */
export class Pkcs11OperationError extends DeviceTrustError {
  constructor(operation: string, cause: unknown) {
    super("PKCS11_OPERATION", `PKCS#11 ${operation} failed: ${ckrName(cause)}`, { cause });
    this.name = "Pkcs11OperationError";
  }
}

function ckrName(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function ckrCode(e: unknown): number | undefined {
  return e instanceof pkcs11js.Pkcs11Error ? e.code : undefined;
}

// ---------------------------------------------------------------------------------------------------
// Curves

/** DER of the named-curve OID, as CKA_EC_PARAMS holds it. */
const EC_PARAMS: Readonly<Record<Curve, string>> = {
  p256: "06082a8648ce3d030107", // 1.2.840.10045.3.1.7
  secp256k1: "06052b8104000a", // 1.3.132.0.10
};

function curveOfEcParams(params: Buffer): Curve {
  const hex = params.toString("hex");
  for (const curve of ["p256", "secp256k1"] as const) if (EC_PARAMS[curve] === hex) return curve;
  throw new Pkcs11UnsupportedCurveError(`the key's CKA_EC_PARAMS ${hex} name another curve`);
}

/** CKA_EC_POINT is a DER OCTET STRING around the uncompressed point; some modules return the bare point. */
export function parseEcPoint(value: Uint8Array): Uint8Array {
  if (value.length === 65 && value[0] === 0x04) return value;
  if (value[0] === 0x04) {
    let offset = 2;
    let length = value[1] ?? 0;
    if (length === 0x81) {
      length = value[2] ?? 0;
      offset = 3;
    }
    const point = value.subarray(offset, offset + length);
    if (length === 65 && point.length === 65 && point[0] === 0x04) return point;
  }
  throw new Pkcs11UnsupportedCurveError(
    `CKA_EC_POINT ${Buffer.from(value).toString("hex")} is not an uncompressed 256-bit point`,
  );
}

// ---------------------------------------------------------------------------------------------------
// Module sharing: C_Initialize/C_Finalize are per process, so stores on the same module share one
// loaded instance and the last one to close finalizes it.

interface LoadedModule {
  readonly path: string;
  readonly lib: PKCS11;
  refs: number;
  /**
   * A PKCS#11 login is per token and process, shared by all its sessions: count the sessions that rely
   * on it, and remember a hash of the PIN that logged in so a later open with another PIN still fails.
   */
  readonly logins: Map<string, { sessions: number; pinHash: string }>;
}

const modules = new Map<string, LoadedModule>();

function acquireModule(modulePath?: string): LoadedModule {
  const path = resolvePkcs11Module(modulePath);
  const existing = modules.get(path);
  if (existing !== undefined) {
    existing.refs += 1;
    return existing;
  }
  if (!existsSync(path)) throw new Pkcs11ModuleNotFoundError(path);
  const lib = new pkcs11js.PKCS11();
  try {
    lib.load(path);
  } catch (cause) {
    throw new Pkcs11ModuleNotFoundError(path, { cause });
  }
  try {
    lib.C_Initialize();
  } catch (cause) {
    // Another library in this process initialized the module: share it, never finalize it.
    if (ckrCode(cause) !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      lib.close();
      throw new Pkcs11OperationError(`C_Initialize of ${path}`, cause);
    }
  }
  const loaded: LoadedModule = { path, lib, refs: 1, logins: new Map() };
  modules.set(path, loaded);
  return loaded;
}

function releaseModule(m: LoadedModule): void {
  m.refs -= 1;
  if (m.refs > 0) return;
  modules.delete(m.path);
  try {
    m.lib.C_Finalize();
  } catch {
    // Finalizing a module someone else initialized fails harmlessly; unloading still happens.
  }
  m.lib.close();
}

function trimLabel(label: string): string {
  return label.replace(/[\s\0]+$/, "");
}

export interface Pkcs11TokenInfo {
  /** The slot id as a decimal string (slot ids are opaque 64-bit handles). */
  readonly slot: string;
  readonly label: string;
  readonly manufacturer: string;
  readonly model: string;
  readonly serialNumber: string;
  readonly initialized: boolean;
}

function tokensOf(lib: PKCS11): { slot: Handle; info: Pkcs11TokenInfo }[] {
  return lib.C_GetSlotList(true).map((slot) => {
    const t = lib.C_GetTokenInfo(slot);
    return {
      slot,
      info: {
        slot: slot.readBigUInt64LE(0).toString(),
        label: trimLabel(t.label),
        manufacturer: trimLabel(t.manufacturerID),
        model: trimLabel(t.model),
        serialNumber: trimLabel(t.serialNumber),
        initialized: (t.flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0,
      },
    };
  });
}

/** The tokens a module presents (for `device keygen --keystore pkcs11` and diagnostics). */
export function listPkcs11Tokens(modulePath?: string): Pkcs11TokenInfo[] {
  const m = acquireModule(modulePath);
  try {
    return tokensOf(m.lib).map((t) => t.info);
  } finally {
    releaseModule(m);
  }
}

/** An EC key pair found on a token. */
export interface Pkcs11KeyInfo {
  readonly label: string;
  readonly id: Hex;
  readonly curve: Curve;
  readonly deviceKey: DeviceKey;
}

// ---------------------------------------------------------------------------------------------------
// The key store

export interface Pkcs11OpenOptions {
  /** Path of the PKCS#11 library; default $DEVICETRUST_PKCS11_MODULE or SoftHSM2's. */
  readonly module?: string | undefined;
  readonly tokenLabel: string;
  readonly pin: string;
  /** The key pair's CKA_LABEL; give this or `id`. */
  readonly label?: string | undefined;
  /** The key pair's CKA_ID (hex). */
  readonly id?: Hex | undefined;
}

export interface Pkcs11GenerateOptions {
  readonly module?: string | undefined;
  readonly tokenLabel: string;
  readonly pin: string;
  readonly label: string;
  readonly curve: Curve;
}

interface Session {
  readonly module: LoadedModule;
  readonly handle: Handle;
  readonly slotKey: string;
  readonly tokenLabel: string;
  readonly mechanisms: readonly number[];
}

function pinHash(pin: string): string {
  return createHash("sha256").update(pin, "utf8").digest("hex");
}

function login(
  m: LoadedModule,
  handle: Handle,
  slotKey: string,
  tokenLabel: string,
  pin: string,
): void {
  const existing = m.logins.get(slotKey);
  if (existing !== undefined) {
    if (existing.pinHash !== pinHash(pin)) throw new Pkcs11PinError(tokenLabel, false);
    existing.sessions += 1;
    return;
  }
  try {
    m.lib.C_Login(handle, pkcs11js.CKU_USER, pin);
  } catch (cause) {
    const code = ckrCode(cause);
    if (code === pkcs11js.CKR_PIN_INCORRECT || code === pkcs11js.CKR_PIN_LEN_RANGE) {
      throw new Pkcs11PinError(tokenLabel, false, { cause });
    }
    if (code === pkcs11js.CKR_PIN_LOCKED) throw new Pkcs11PinError(tokenLabel, true, { cause });
    // Logged in by another library sharing the initialized module: use that login.
    if (code !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) {
      throw new Pkcs11OperationError(`C_Login on token "${tokenLabel}"`, cause);
    }
  }
  m.logins.set(slotKey, { sessions: 1, pinHash: pinHash(pin) });
}

function openSession(module: string | undefined, tokenLabel: string, pin: string): Session {
  const m = acquireModule(module);
  try {
    const tokens = tokensOf(m.lib);
    const token = tokens.find((t) => t.info.label === tokenLabel);
    if (token === undefined) {
      throw new Pkcs11TokenNotFoundError(
        tokenLabel,
        tokens.filter((t) => t.info.initialized).map((t) => t.info.label),
      );
    }
    const mechanisms = m.lib.C_GetMechanismList(token.slot);
    const handle = m.lib.C_OpenSession(
      token.slot,
      pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION,
    );
    try {
      login(m, handle, token.info.slot, tokenLabel, pin);
    } catch (e: unknown) {
      m.lib.C_CloseSession(handle);
      throw e;
    }
    return { module: m, handle, slotKey: token.info.slot, tokenLabel, mechanisms };
  } catch (e: unknown) {
    releaseModule(m);
    throw e;
  }
}

function closeSession(s: Session): void {
  const lib = s.module.lib;
  try {
    const entry = s.module.logins.get(s.slotKey);
    if (entry !== undefined) {
      entry.sessions -= 1;
      if (entry.sessions === 0) {
        s.module.logins.delete(s.slotKey);
        lib.C_Logout(s.handle);
      }
    }
  } catch {
    // Not logged in (any more): nothing to undo.
  }
  try {
    lib.C_CloseSession(s.handle);
  } finally {
    releaseModule(s.module);
  }
}

function findObjects(lib: PKCS11, session: Handle, template: Template): Handle[] {
  lib.C_FindObjectsInit(session, template);
  try {
    return lib.C_FindObjects(session, 64);
  } finally {
    lib.C_FindObjectsFinal(session);
  }
}

/**
 * A device key inside an HSM, secure element or TPM reached through PKCS#11. The private key never
 * leaves the token (CKA_SENSITIVE, not CKA_EXTRACTABLE); the token signs and this class turns its raw
 * r‖s into the canonical on-chain form (low-s; secp256k1 with v found by trial recovery).
 */
export class Pkcs11KeyStore implements KeyStore {
  readonly kind = "pkcs11" as const;
  readonly curve: Curve;
  readonly deviceKey: DeviceKey;
  readonly publicKey: Uint8Array;
  readonly label: string;
  readonly id: Hex;
  readonly tokenLabel: string;
  #session: Session | undefined;
  readonly #privateKey: Handle;
  /** P-256: whether the token hashes (CKM_ECDSA_SHA256) or we hash and use CKM_ECDSA. */
  readonly #hashOnToken: boolean;
  /** secp256k1: our public point, decoded once. */
  #k1Point: ReturnType<typeof secp256k1.Point.fromBytes> | undefined;
  /** One operation per session at a time: C_SignInit … C_Sign must not interleave. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    session: Session,
    privateKey: Handle,
    info: Pkcs11KeyInfo,
    publicKey: Uint8Array,
  ) {
    this.#session = session;
    this.#privateKey = privateKey;
    this.curve = info.curve;
    this.deviceKey = info.deviceKey;
    this.label = info.label;
    this.id = info.id;
    this.tokenLabel = session.tokenLabel;
    this.publicKey = publicKey;
    this.#hashOnToken =
      info.curve === "p256" && session.mechanisms.includes(pkcs11js.CKM_ECDSA_SHA256);
  }

  /** Opens the key pair labelled `label` (or with CKA_ID `id`) on the token labelled `tokenLabel`. */
  static async open(options: Pkcs11OpenOptions): Promise<Pkcs11KeyStore> {
    if (options.label === undefined && options.id === undefined) {
      throw new Pkcs11KeyNotFoundError("no label or id given (pass one)", options.tokenLabel);
    }
    // PKCS#11 login and object lookup are synchronous calls; the promise keeps open() and generate() alike.
    const session = openSession(options.module, options.tokenLabel, options.pin);
    try {
      return await Promise.resolve(Pkcs11KeyStore.#openIn(session, options.label, options.id));
    } catch (e: unknown) {
      closeSession(session);
      throw e;
    }
  }

  static #openIn(session: Session, label: string | undefined, id: Hex | undefined): Pkcs11KeyStore {
    const template: Template = [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
    ];
    if (label !== undefined) template.push({ type: pkcs11js.CKA_LABEL, value: label });
    if (id !== undefined)
      template.push({ type: pkcs11js.CKA_ID, value: Buffer.from(parseHexBytes(id, "CKA_ID")) });
    const what = [
      label === undefined ? undefined : `label "${label}"`,
      id === undefined ? undefined : `id ${id}`,
    ]
      .filter((w) => w !== undefined)
      .join(" and ");
    const found = findObjects(session.module.lib, session.handle, template);
    const privateKey = found[0];
    if (privateKey === undefined) throw new Pkcs11KeyNotFoundError(what, session.tokenLabel);
    if (found.length > 1) {
      throw new DeviceTrustError(
        "PKCS11_KEY_AMBIGUOUS",
        `${String(found.length)} private keys with ${what} on token "${session.tokenLabel}": select one by its id`,
      );
    }
    const { info, publicKey } = Pkcs11KeyStore.#describe(session, privateKey, what);
    return new Pkcs11KeyStore(session, privateKey, info, publicKey);
  }

  /**
   * Generates a new key pair on the token (CKA_TOKEN: it persists; the private key is sensitive, not
   * extractable and can only sign) and opens it. Refuses a label already in use.
   */
  static async generate(options: Pkcs11GenerateOptions): Promise<Pkcs11KeyStore> {
    const params = (EC_PARAMS as Partial<Record<string, string>>)[options.curve];
    if (params === undefined)
      throw new Pkcs11UnsupportedCurveError(`curve "${options.curve}" is not supported`);
    const session = openSession(options.module, options.tokenLabel, options.pin);
    try {
      const lib = session.module.lib;
      const existing = findObjects(lib, session.handle, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        { type: pkcs11js.CKA_LABEL, value: options.label },
      ]);
      if (existing.length > 0) throw new Pkcs11KeyExistsError(options.label, session.tokenLabel);
      const idBytes = randomBytes(16);
      const common: Template = [
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_LABEL, value: options.label },
        { type: pkcs11js.CKA_ID, value: idBytes },
      ];
      try {
        await lib.C_GenerateKeyPairAsync(
          session.handle,
          { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
          [
            ...common,
            { type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from(params, "hex") },
            { type: pkcs11js.CKA_VERIFY, value: true },
            { type: pkcs11js.CKA_PRIVATE, value: false },
          ],
          [
            ...common,
            { type: pkcs11js.CKA_PRIVATE, value: true },
            { type: pkcs11js.CKA_SENSITIVE, value: true },
            { type: pkcs11js.CKA_EXTRACTABLE, value: false },
            { type: pkcs11js.CKA_SIGN, value: true },
            { type: pkcs11js.CKA_DECRYPT, value: false },
            { type: pkcs11js.CKA_DERIVE, value: false },
          ],
        );
      } catch (cause) {
        if (ckrCode(cause) === pkcs11js.CKR_DOMAIN_PARAMS_INVALID) {
          throw new Pkcs11UnsupportedCurveError(
            `token "${session.tokenLabel}" cannot generate ${options.curve} keys`,
          );
        }
        throw new Pkcs11OperationError(`key generation on token "${session.tokenLabel}"`, cause);
      }
      return Pkcs11KeyStore.#openIn(session, undefined, toHex(idBytes));
    } catch (e: unknown) {
      closeSession(session);
      throw e;
    }
  }

  /** The EC key pairs on a token. */
  static listKeys(options: Omit<Pkcs11OpenOptions, "label" | "id">): Pkcs11KeyInfo[] {
    const session = openSession(options.module, options.tokenLabel, options.pin);
    try {
      const keys = findObjects(session.module.lib, session.handle, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
      ]);
      const out: Pkcs11KeyInfo[] = [];
      for (const key of keys) {
        try {
          out.push(Pkcs11KeyStore.#describe(session, key, "this private key").info);
        } catch (e: unknown) {
          // Keys on other curves or without a public half are not device keys: leave them out.
          if (!(e instanceof Pkcs11UnsupportedCurveError || e instanceof Pkcs11KeyNotFoundError))
            throw e;
        }
      }
      return out;
    } finally {
      closeSession(session);
    }
  }

  static #describe(
    session: Session,
    privateKey: Handle,
    what: string,
  ): { info: Pkcs11KeyInfo; publicKey: Uint8Array } {
    const lib = session.module.lib;
    const attrs = lib.C_GetAttributeValue(session.handle, privateKey, [
      { type: pkcs11js.CKA_LABEL },
      { type: pkcs11js.CKA_ID },
      { type: pkcs11js.CKA_EC_PARAMS },
    ]);
    const label = attrs[0]?.value.toString("utf8") ?? "";
    const idBytes = attrs[1]?.value ?? Buffer.alloc(0);
    const curve = curveOfEcParams(attrs[2]?.value ?? Buffer.alloc(0));
    // The public half: same CKA_ID (the PKCS#11 convention that binds a pair), else same label.
    const match: Template =
      idBytes.length > 0
        ? [{ type: pkcs11js.CKA_ID, value: idBytes }]
        : [{ type: pkcs11js.CKA_LABEL, value: label }];
    const pub = findObjects(lib, session.handle, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
      ...match,
    ])[0];
    if (pub === undefined)
      throw new Pkcs11KeyNotFoundError(
        `${what} (its public key object is missing)`,
        session.tokenLabel,
      );
    const point = lib.C_GetAttributeValue(session.handle, pub, [{ type: pkcs11js.CKA_EC_POINT }])[0]
      ?.value;
    if (point === undefined)
      throw new Pkcs11UnsupportedCurveError("the public key has no CKA_EC_POINT");
    const publicKey = new Uint8Array(parseEcPoint(new Uint8Array(point)));
    return {
      info: {
        label,
        id: toHex(idBytes),
        curve,
        deviceKey: deviceKeyFromPublicKey(curve, publicKey),
      },
      publicKey,
    };
  }

  signDigest(digest: Hex): Promise<Hex> {
    const d = Buffer.from(parseHexBytes(digest, "digest", { bytes: 32 }));
    const run = this.#queue.then(() => this.#sign(d));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async signCoseSign1(toBeSigned: Uint8Array): Promise<Hex> {
    checkCoseSign1Signing(this.curve, toBeSigned);
    const message = Buffer.from(toBeSigned);
    const run = this.#queue.then(() => this.#sign(message));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #sign(d: Buffer): Promise<Hex> {
    const session = this.#session;
    if (session === undefined) {
      throw new DeviceTrustError("KEY_CLOSED", "this key store was closed: open it again to sign");
    }
    const lib = session.module.lib;
    // P-256: ECDSA-P256-SHA256 over the message (a 32-byte digest, or a COSE Sig_structure).
    // secp256k1: ECDSA over the digest itself.
    const mechanism = this.#hashOnToken ? pkcs11js.CKM_ECDSA_SHA256 : pkcs11js.CKM_ECDSA;
    const input =
      this.curve === "p256" && !this.#hashOnToken ? createHash("sha256").update(d).digest() : d;
    let raw: Buffer;
    try {
      lib.C_SignInit(session.handle, { mechanism }, this.#privateKey);
      raw = await lib.C_SignAsync(session.handle, input, Buffer.alloc(128));
    } catch (cause) {
      throw new Pkcs11OperationError(
        `signing with key "${this.label}" on token "${this.tokenLabel}"`,
        cause,
      );
    }
    if (raw.length !== 64) {
      throw new Pkcs11OperationError(
        "signing",
        new Error(`expected a 64-byte r‖s, got ${String(raw.length)} bytes`),
      );
    }
    const r = BigInt(toHex(raw.subarray(0, 32)));
    const s = BigInt(toHex(raw.subarray(32)));
    if (this.curve === "p256")
      return encodeSignature(KeyType.P256, normalizeLowS("p256", { r, s }));
    const low = normalizeLowS("secp256k1", { r, s });
    return encodeSignature(KeyType.Secp256k1, {
      ...low,
      recovery: this.#recoveryId(toHex(d), low.r, low.s),
    });
  }

  /**
   * The token gives no recovery id. Recomputing R = (z·G + r·Q)/s with our own public key Q is ECDSA
   * verification, and R's y parity is the recovery id: two multiplications with precomputed tables,
   * several times cheaper than trial recovery (ethers' recoverPublicKey, ~1.5 attempts on average).
   */
  #recoveryId(digest: Hex, r: bigint, s: bigint): number {
    const Fn = secp256k1.Point.Fn;
    // A device signs many times with one key: a window table for Q, built once per store, halves the cost.
    const q = (this.#k1Point ??= secp256k1.Point.fromBytes(this.publicKey).precompute(8));
    const sInv = Fn.inv(s);
    const u1 = Fn.create(BigInt(digest) * sInv);
    const u2 = Fn.create(r * sInv);
    const R = secp256k1.Point.BASE.multiply(u1).add(q.multiply(u2)).toAffine();
    // R.x ≥ n (probability ~2^-128) would need recovery ids 2 or 3, which 65-byte Ethereum signatures lack.
    if (R.x !== r) {
      throw new Pkcs11OperationError(
        "signing",
        new Error(
          "the token's signature does not verify under its own public key: the token or key is faulty",
        ),
      );
    }
    return R.y % 2n === 0n ? 0 : 1;
  }

  /** Logs out, closes the session and, when no other store uses the module, finalizes it. */
  async close(): Promise<void> {
    await this.#queue;
    const session = this.#session;
    if (session === undefined) return;
    this.#session = undefined;
    closeSession(session);
  }
}
