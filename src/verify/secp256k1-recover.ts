import { createRequire } from "node:module";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { DeviceTrustError } from "../protocol/index.js";

/**
 * Where secp256k1 public-key recovery runs:
 * - "libsecp256k1": Bitcoin Core's C library through the `secp256k1` npm package's native addon (an
 *   optional dependency, shipped prebuilt for linux-x64, darwin-arm64 and win32-x64). It is the library
 *   behind geth's ecrecover precompile, ~20x faster than the JavaScript one.
 * - "noble": @noble/curves in JavaScript, when the addon cannot load (another platform, no compiler).
 *
 * OpenSSL (node:crypto) is no option for secp256k1: node:crypto has no way to verify ECDSA over a
 * given 32-byte digest (every algorithm, null included, hashes the data first: a device signs the
 * EIP-712 digest itself), and its secp256k1 arithmetic is generic code, ~5x slower than its P-256.
 */
export type Secp256k1Backend = "libsecp256k1" | "noble";

export interface Secp256k1Recoverer {
  readonly backend: Secp256k1Backend;
  /**
   * The contract's ecrecover: writes the uncompressed public key (0x04 ‖ x ‖ y, 65 bytes) that
   * `ecrecover(digest, 27 + recovery, r, s)` recovers into `out` and returns true; false where
   * ecrecover returns no address (no curve point has x = r, or the result is the point at infinity).
   * `signature` is r ‖ s (64 bytes), r and s already checked to be in [1, n-1]; `digest` is 32 bytes.
   */
  recover(signature: Uint8Array, recovery: 0 | 1, digest: Uint8Array, out: Uint8Array): boolean;
}

/** The part of the `secp256k1` package's API used here (its native build, `secp256k1/bindings`). */
interface NativeSecp256k1 {
  ecdsaRecover(
    sig: Uint8Array,
    recid: number,
    msg32: Uint8Array,
    compressed: boolean,
    output: Uint8Array,
  ): Uint8Array;
}

function isNative(value: unknown): value is NativeSecp256k1 {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { ecdsaRecover?: unknown }).ecdsaRecover === "function"
  );
}

let native: NativeSecp256k1 | null | undefined;

/**
 * The native addon, loaded once; null when it cannot load. `secp256k1/bindings` is the native build
 * alone: the package's main entry silently falls back to `elliptic` in JavaScript, slower than noble.
 */
function loadNative(): NativeSecp256k1 | null {
  if (native === undefined) {
    try {
      const lib: unknown = createRequire(import.meta.url)("secp256k1/bindings");
      native = isNative(lib) ? lib : null;
    } catch {
      native = null;
    }
  }
  return native;
}

const libsecp256k1 = (lib: NativeSecp256k1): Secp256k1Recoverer => ({
  backend: "libsecp256k1",
  recover(signature, recovery, digest, out) {
    try {
      lib.ecdsaRecover(signature, recovery, digest, false, out);
      return true;
    } catch {
      // The library's only failures past our range checks: no point with x = r, or infinity.
      return false;
    }
  },
});

const noble: Secp256k1Recoverer = {
  backend: "noble",
  recover(signature, recovery, digest, out) {
    try {
      const point = secp256k1.Signature.fromBytes(signature, "compact")
        .addRecoveryBit(recovery)
        .recoverPublicKey(digest);
      out.set(point.toBytes(false));
      return true;
    } catch {
      return false;
    }
  },
};

/**
 * A recoverer on `prefer`red backend: "auto" (the default) takes libsecp256k1 when its addon loads
 * and noble otherwise; "libsecp256k1" throws when the addon cannot load; "noble" is always there.
 */
export function secp256k1Recoverer(prefer: "auto" | Secp256k1Backend = "auto"): Secp256k1Recoverer {
  if (prefer === "noble") return noble;
  const lib = loadNative();
  if (lib !== null) return libsecp256k1(lib);
  if (prefer === "libsecp256k1") {
    throw new DeviceTrustError(
      "SECP256K1_NATIVE_UNAVAILABLE",
      "the secp256k1 native addon did not load: reinstall node_modules (npm ci) on a platform the `secp256k1` package ships a build for, or let the verifier fall back to noble",
    );
  }
  return noble;
}

/** Whether the native libsecp256k1 addon loads here (what "auto" picks). */
export function hasNativeSecp256k1(): boolean {
  return loadNative() !== null;
}
