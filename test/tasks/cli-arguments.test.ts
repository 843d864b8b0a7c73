import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import hre from "hardhat";
import { NEGATIVE_HINT, TooManyDecimalsError, parseDecimal } from "../../src/client/index.js";
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

    it("refuses more decimals than the feed holds with a TooManyDecimalsError that says what to do; trailing zeros pass", function () {
      assert.equal(parseDecimal("21.5", 2, "--value"), 2150n);
      assert.equal(parseDecimal(" -21.500", 2, "--value"), -2150n);
      assert.throws(
        () => parseDecimal(" -21.555", 2, "--value"),
        (e: unknown) =>
          e instanceof TooManyDecimalsError &&
          e.code === "INVALID_INPUT" &&
          e.given === 3 &&
          e.decimals === 2 &&
          e.message ===
            '--value " -21.555" has 3 decimals, the feed only 2: give it with at most 2 decimals (round it yourself; the feed holds values scaled by 10^2)',
      );
      assert.throws(() => parseDecimal("1.5", 0, "--step"), TooManyDecimalsError);
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

    it('takes fleet simulate --value " -40" and --out-of-bounds-value " -1000.5" (it fails later, on --feed)', async function () {
      const out = await cli([
        "fleet",
        "simulate",
        "--value",
        " -40",
        "--out-of-bounds-value",
        " -1000.5",
        "--feed",
        "x",
      ]);
      assert.notEqual(out.code, 0);
      assert.doesNotMatch(out.output, /HHE509|--value|--out-of-bounds-value/);
      assert.match(out.output, /--feed/);
    });
  });
});

describe("tasks: key-store options", function () {
  /** An option's declaration as --help shows it: name, help, type and default. */
  const declared = (id: string[], name: string) => {
    const option = hre.tasks.getTask(id).options.get(name);
    assert.ok(option !== undefined, `${id.join(" ")} has no --${name}`);
    return {
      name,
      description: option.description,
      type: option.type,
      default: option.defaultValue,
    };
  };
  const names = ["keyFile", "password", "module", "token", "pin", "label"];
  const signing = [
    ["device", "register"],
    ["device", "attest"],
    ["device", "rotate-key"],
    ["channel", "voucher"],
    ["channel", "open"],
    ["channel", "reclaim"],
    ["account", "policy"],
    ["account", "pay"],
  ];

  it("every task that opens a device key declares the same options, with the same help", function () {
    const reference = names.map((n) => declared(["device", "register"], n));
    assert.deepEqual(
      reference.map((o) => o.description),
      [
        "The device's key file (device keygen --keystore file)",
        "Key file password (else $DEVICETRUST_KEY_PASSWORD or hardhat-keystore)",
        "PKCS#11 library (default: $DEVICETRUST_PKCS11_MODULE or SoftHSM2)",
        "PKCS#11 token label",
        "PKCS#11 user PIN (else $DEVICETRUST_PKCS11_PIN or hardhat-keystore)",
        "PKCS#11 key label",
      ],
    );
    for (const id of signing) {
      const options = names.map((n) => declared(id, n));
      // rotate-key's --key-file is the current key: its help says so.
      const expected =
        id[1] === "rotate-key"
          ? reference.map((o) =>
              o.name === "keyFile" ? { ...o, description: "The device's current key file" } : o,
            )
          : reference;
      assert.deepEqual(options, expected, id.join(" "));
    }
  });

  it("device rotate-key declares the new key's options (its PKCS#11 library is --module)", function () {
    const task = hre.tasks.getTask(["device", "rotate-key"]);
    assert.deepEqual(
      ["newKeyFile", "newPassword", "newModule", "newToken", "newPin", "newLabel"].map(
        (n) => task.options.get(n)?.description,
      ),
      [
        "The new key file (device keygen)",
        "New key file password (else $DEVICETRUST_KEY_PASSWORD)",
        undefined,
        "PKCS#11 token of the new key",
        "PIN of the new key's token (else $DEVICETRUST_PKCS11_PIN)",
        "PKCS#11 label of the new key",
      ],
    );
  });
});
