/**
 * Writes test/fixtures/lms/h10w4.json: LMS keys from fixed seeds and their signatures
 * (buildLmsFixtures, src/protocol/lms/fixtures.ts), for the Solidity verifier's tests. Deterministic:
 * running it again gives the same file, which test/protocol/lms.test.ts checks.
 *
 * Run with `npm run lms:fixtures`; commit the result.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { buildLmsFixtures } from "../src/protocol/index.js";

const LMS_FIXTURES_PATH = "test/fixtures/lms/h10w4.json";

await mkdir(dirname(LMS_FIXTURES_PATH), { recursive: true });
await writeFile(LMS_FIXTURES_PATH, `${JSON.stringify(buildLmsFixtures(), null, 2)}\n`);
console.log(`wrote ${LMS_FIXTURES_PATH}`);
