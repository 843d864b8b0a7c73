import { existsSync } from "node:fs";
import type { Context } from "mocha";
import { MOSQUITTO } from "../../src/gateway/mosquitto.js";

/** Running Debian's Mosquitto in tests (src/gateway/mosquitto.ts). No describe() here. */

export {
  MOSQUITTO,
  MosquittoProcess,
  freePort,
  shippedConfig,
} from "../../src/gateway/mosquitto.js";

/**
 * Called from a `before` hook: skips the tests only when the Mosquitto binary is absent, printing why;
 * in CI (which installs it) fails instead, so they never pass by being skipped there.
 */
export function requireMosquitto(ctx: Context): void {
  if (existsSync(MOSQUITTO)) return;
  const ci = process.env.CI;
  if (ci !== undefined && ci !== "" && ci !== "false" && ci !== "0") {
    throw new Error(
      `${MOSQUITTO} is missing: install the mosquitto package (apt-get install mosquitto)`,
    );
  }
  console.warn(
    `      (pending: ${MOSQUITTO} is absent; apt-get install mosquitto to run these tests)`,
  );
  ctx.skip();
}
