import type { Logger } from "pino";
import type { Hex, KeyRotationListener } from "../protocol/index.js";

/** What can report the registry's KeyRotated events (the gateway's and the watchtower's directories). */
export interface KeyRotationSource {
  watchKeyRotations?(listener: KeyRotationListener): Promise<() => Promise<void>>;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Follows KeyRotated through `source` when it can, and returns how to stop (undefined: not followed).
 * Failing to subscribe is not fatal: the caller then learns a rotation when its key cache expires, which
 * the warning says.
 */
export async function followKeyRotations(
  source: KeyRotationSource,
  listener: KeyRotationListener,
  log: Logger,
  keyCacheTtlMs: number,
): Promise<(() => Promise<void>) | undefined> {
  const watch = source.watchKeyRotations?.bind(source);
  if (watch === undefined) return undefined;
  try {
    return await watch(listener);
  } catch (err: unknown) {
    log.warn(
      { event: "key_rotations_unwatched", err: message(err), keyCacheTtlMs },
      "cannot follow KeyRotated events: rotations are learned within keyCacheTtlMs",
    );
    return undefined;
  }
}

/** Stops following KeyRotated; a failed unsubscribe is logged, never thrown (it runs on shutdown). */
export async function stopFollowingKeyRotations(
  unwatch: (() => Promise<void>) | undefined,
  log: Logger,
): Promise<void> {
  try {
    await unwatch?.();
  } catch (err: unknown) {
    log.warn({ event: "unwatch_failed", err: message(err) }, "KeyRotated unsubscribe failed");
  }
}

/** What can report the registry's DeviceRegistered events (the gateway's and the watchtower's directories). */
export interface RegistrationSource {
  watchRegistrations?(listener: (deviceId: Hex) => void): Promise<() => Promise<void>>;
}

/**
 * Follows DeviceRegistered through `source` when it can, and returns how to stop (undefined: not
 * followed). Failing to subscribe is not fatal: `fallback` says in the warning what happens instead.
 */
export async function followRegistrations(
  source: RegistrationSource,
  listener: (deviceId: Hex) => void,
  log: Logger,
  fallback: string,
): Promise<(() => Promise<void>) | undefined> {
  const watch = source.watchRegistrations?.bind(source);
  if (watch === undefined) return undefined;
  try {
    return await watch(listener);
  } catch (err: unknown) {
    log.warn(
      { event: "registrations_unwatched", err: message(err) },
      `cannot follow DeviceRegistered events: ${fallback}`,
    );
    return undefined;
  }
}
