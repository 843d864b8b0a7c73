import type { Context } from "mocha";
import { softHsmStatus } from "../../../src/device/softhsm-token.js";

/**
 * Called from a `before` hook of PKCS#11 tests. Without SoftHSM2 the tests must not pass silently: in CI
 * (CI=true) the hook fails with what to install; elsewhere the tests are reported as pending, with the
 * reason printed. No describe() here: mocha loads this file but finds no tests in it.
 */
export function requireSoftHsm(ctx: Context): void {
  const status = softHsmStatus();
  if (status.available) return;
  const ci = process.env.CI;
  if (ci !== undefined && ci !== "" && ci !== "false" && ci !== "0") {
    throw new Error(`PKCS#11 tests cannot run in CI: ${status.reason}`);
  }
  console.warn(`      (pending: ${status.reason})`);
  ctx.skip();
}
