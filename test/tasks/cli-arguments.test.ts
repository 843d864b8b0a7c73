import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { NEGATIVE_HINT, parseDecimal } from "../../src/client/index.js";
import { InvalidInputError } from "../../src/protocol/index.js";

const exec = promisify(execFile);
const HARDHAT = join(process.cwd(), "node_modules", ".bin", "hardhat");

/** Runs the real command line (Hardhat's own argument parser), never failing: its output and exit code. */
async function cli(args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await exec(HARDHAT, args, { cwd: process.cwd() });
    return { code: 0, output: stdout + stderr };
  } catch (err: unknown) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describe("tasks: signed values on the command line", function () {
  this.timeout(60_000);

  describe("parseDecimal", function () {
    it("scales signed values, a leading space included", function () {
      assert.equal(parseDecimal(" -40.5", 2, "--min-value"), -4050n);
      assert.equal(parseDecimal("125", 8, "--max-value"), 125n * 10n ** 8n);
    });

    it("refuses a value that is not a number, and says how to write a negative one", function () {
      assert.throws(
        () => parseDecimal("-4o", 2, "--min-value"),
        (e: unknown) => e instanceof InvalidInputError && e.message.includes(NEGATIVE_HINT),
      );
    });
  });

  describe("hardhat's argument parser", function () {
    it("refuses --min-value -40 and --min-value=-40 (it reads -40 as grouped short options)", async function () {
      for (const form of [["--min-value", "-40"], ["--min-value=-40"]]) {
        const out = await cli(["feed", "create", ...form, "--max-value", "1"]);
        assert.notEqual(out.code, 0);
        assert.match(out.output, /HHE509/);
      }
    });

    it('takes --min-value " -40": the task reads it (and fails later, on --max-value)', async function () {
      const out = await cli(["feed", "create", "--min-value", " -40", "--max-value", "x"]);
      assert.notEqual(out.code, 0);
      assert.doesNotMatch(out.output, /HHE509|--min-value/);
      assert.match(out.output, /--max-value "x" is not a number/);
    });
  });
});
