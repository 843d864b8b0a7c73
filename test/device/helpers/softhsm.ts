import type { Context } from "mocha";
import { softHsmStatus } from "../../../src/device/softhsm-token.js";
import { requireTool } from "../../support/require-tool.js";

/** Called from a `before` hook of PKCS#11 tests: they need SoftHSM2 (requireTool). */
export function requireSoftHsm(ctx: Context): void {
  const status = softHsmStatus();
  requireTool(ctx, status.available, `PKCS#11 tests cannot run without SoftHSM2: ${status.reason}`);
}
