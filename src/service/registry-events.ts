import type { Logger } from "pino";
import type { Hex, KeyRotationListener } from "../protocol/index.js";
import { errorMessage } from "../protocol/index.js";

/** What can report the registry's events (the gateway's and the watchtower's directories). */
export interface RegistryEventSource {
  watchKeyRotations?(listener: KeyRotationListener): Promise<() => Promise<void>>;
  watchRegistrations?(listener: (deviceId: Hex) => void): Promise<() => Promise<void>>;
}

/** What a service does on each event, and what it falls back on when it cannot follow them. */
export interface RegistryEventHandlers {
  readonly onKeyRotated: KeyRotationListener;
  readonly onRegistered: (deviceId: Hex) => void;
  /** Said in the warning when KeyRotated cannot be followed (e.g. "rotations are learned within …"). */
  readonly keyRotationsFallback: string;
  /** Said in the warning when DeviceRegistered cannot be followed. */
  readonly registrationsFallback: string;
}

/**
 * Follows the registry's KeyRotated and DeviceRegistered events through `source`, each when it can.
 * Failing to subscribe is not fatal (the service falls back on its caches' expiry, which the warning
 * says); failing to unsubscribe is logged, never thrown (it runs on shutdown).
 */
export class RegistryEvents {
  private readonly source: RegistryEventSource;
  private readonly handlers: RegistryEventHandlers;
  private readonly log: Logger;
  private stops: (() => Promise<void>)[] | undefined;

  constructor(source: RegistryEventSource, handlers: RegistryEventHandlers, log: Logger) {
    this.source = source;
    this.handlers = handlers;
    this.log = log;
  }

  /** Subscribes (once; a second call does nothing). */
  async start(): Promise<void> {
    if (this.stops !== undefined) return;
    this.stops = [];
    const h = this.handlers;
    await this.follow(
      "KeyRotated",
      "key_rotations_unwatched",
      h.keyRotationsFallback,
      this.source.watchKeyRotations?.bind(this.source, (deviceId, kh) => {
        h.onKeyRotated(deviceId, kh);
      }),
    );
    await this.follow(
      "DeviceRegistered",
      "registrations_unwatched",
      h.registrationsFallback,
      this.source.watchRegistrations?.bind(this.source, (deviceId) => {
        h.onRegistered(deviceId);
      }),
    );
  }

  /** Unsubscribes from whatever start() followed. */
  async stop(): Promise<void> {
    const stops = this.stops ?? [];
    this.stops = undefined;
    for (const stop of stops) {
      try {
        await stop();
      } catch (err: unknown) {
        this.log.warn(
          { event: "unwatch_failed", err: errorMessage(err) },
          "registry event unsubscribe failed",
        );
      }
    }
  }

  private async follow(
    name: string,
    event: string,
    fallback: string,
    watch: (() => Promise<() => Promise<void>>) | undefined,
  ): Promise<void> {
    if (watch === undefined) return;
    try {
      this.stops?.push(await watch());
    } catch (err: unknown) {
      this.log.warn({ event, err: errorMessage(err) }, `cannot follow ${name} events: ${fallback}`);
    }
  }
}
