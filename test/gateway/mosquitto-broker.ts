import { existsSync } from "node:fs";
import type { Context } from "mocha";
import { MOSQUITTO } from "../../src/gateway/mosquitto.js";
import { requireTool } from "../support/require-tool.js";

/** Running Debian's Mosquitto in tests (src/gateway/mosquitto.ts). No describe() here. */

export {
  MOSQUITTO,
  MosquittoProcess,
  freePort,
  shippedConfig,
} from "../../src/gateway/mosquitto.js";

/** Called from a `before` hook: the tests need the Mosquitto binary (requireTool). */
export function requireMosquitto(ctx: Context): void {
  requireTool(
    ctx,
    existsSync(MOSQUITTO),
    `${MOSQUITTO} is missing: install the mosquitto package (apt-get install mosquitto)`,
  );
}
