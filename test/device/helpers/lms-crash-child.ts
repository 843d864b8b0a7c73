import { randomBytes } from "node:crypto";
import { LmsStatefulSigner } from "../../../src/device/lms-signer.js";
import { toHex } from "../../../src/protocol/index.js";

/**
 * The signer process of the LMS crash test (lms-crash.test.ts spawns it; loaded by mocha it does
 * nothing: no describe(), and main runs only with LMS_CRASH_CHILD=1). It opens the signer of
 * LMS_KEY / LMS_STATE / LMS_WATERMARK with LMS_PASSWORD and signs in a loop until it is killed, printing
 * one line per signature on stdout (synchronous on a pipe): "<q> <message hex> <signature hex>", each
 * message random to this process, so that a leaf used twice would show two different messages.
 */
function main(): Promise<void> {
  const env = (name: string): string => {
    const v = process.env[name];
    if (v === undefined || v === "") throw new Error(`${name} is not set`);
    return v;
  };
  return LmsStatefulSigner.open(
    { key: env("LMS_KEY"), state: env("LMS_STATE"), watermark: env("LMS_WATERMARK") },
    env("LMS_PASSWORD"),
  ).then((signer) => {
    for (;;) {
      const message = randomBytes(16);
      const { q, signature } = signer.sign(message);
      process.stdout.write(`${String(q)} ${toHex(message)} ${toHex(signature)}\n`);
    }
  });
}

if (process.env.LMS_CRASH_CHILD === "1") await main();
