import type { Context } from "mocha";

/**
 * Called from a `before` hook of tests that drive a system tool (Mosquitto, SoftHSM2, Chromium…). They
 * must never pass by being skipped where the tool belongs: in CI (CI=true, which installs every tool)
 * the hook fails with `missing` (what to install); elsewhere the tests are reported pending, with the
 * reason printed. No describe() here: mocha loads this file but finds no tests in it.
 */
export function requireTool(ctx: Context, available: boolean, missing: string): void {
  if (available) return;
  const ci = process.env.CI;
  if (ci !== undefined && ci !== "" && ci !== "false" && ci !== "0") throw new Error(missing);
  console.warn(`      (pending: ${missing})`);
  ctx.skip();
}
