import assert from "node:assert/strict";
import {
  InvalidHexError,
  InvalidInputError,
  asHex,
  fromHex,
  isHex,
  parseHex,
  parseHexBytes,
  type HexProblem,
} from "../../src/protocol/index.js";

/** The InvalidHexError `f` throws (fails the test when it throws anything else or nothing). */
function hexError(f: () => unknown): InvalidHexError {
  try {
    f();
  } catch (err: unknown) {
    assert.ok(err instanceof InvalidHexError, `not an InvalidHexError: ${String(err)}`);
    return err;
  }
  assert.fail("expected an InvalidHexError");
}

describe("protocol: hex", function () {
  describe("parseHex", function () {
    it("returns strict hex lower-cased, upper-case digits included", function () {
      assert.equal(parseHex("0xABcd", "x"), "0xabcd");
      assert.equal(parseHex("0xABCDEF", "x", { bytes: 3 }), "0xabcdef");
      assert.equal(parseHex("0x", "x"), "0x");
      assert.equal(parseHex("0x", "x", { bytes: 0 }), "0x");
    });

    const cases: [string, unknown, HexProblem, RegExp][] = [
      ["extra characters after the digits", "0xabcd ", "non-hex", /" " at position 6/],
      ["a second value pasted in", "0xabcd,0x12", "non-hex", /"," at position 6/],
      ["a non-hex digit", "0xabzd", "non-hex", /"z" at position 4/],
      ["a non-hex digit in the first pair", "0xg0", "non-hex", /use only 0-9 and a-f/],
      ["an odd number of digits", "0xabc", "odd-length", /even number of digits, got 3/],
      ["a missing 0x", "abcd", "no-prefix", /without the 0x prefix: write it as 0xabcd/],
      ["an upper-case 0X", "0XABCD", "no-prefix", /write it as 0xABCD/],
      ["no hex at all", "hello", "no-prefix", /"hello", which is not hex/],
      ["leading white space", " 0xabcd", "no-prefix", /not hex/],
      ["the empty string", "", "no-prefix", /not hex/],
      ["a number", 1234, "not-a-string", /got a number: pass it as a string/],
      ["undefined", undefined, "not-a-string", /got nothing/],
    ];
    for (const [name, value, problem, message] of cases) {
      it(`refuses ${name} (${problem}) with InvalidHexError naming the field`, function () {
        const err = hexError(() => parseHex(value, "reading.signature"));
        assert.equal(err.problem, problem);
        assert.equal(err.field, "reading.signature");
        assert.equal(err.code, "INVALID_INPUT");
        assert.ok(err instanceof InvalidInputError);
        assert.match(err.message, /^reading\.signature must be 0x-prefixed hex/);
        assert.match(err.message, message);
        assert.equal(isHex(value), false);
      });
    }

    it("refuses the wrong length, saying both lengths", function () {
      const err = hexError(() => parseHex(`0x${"11".repeat(19)}`, "operator", { bytes: 20 }));
      assert.equal(err.problem, "wrong-length");
      assert.match(
        err.message,
        /^operator must be 20 bytes, got 19 \(40 hex digits after 0x, not 38\)/,
      );
      assert.equal(isHex(`0x${"11".repeat(19)}`, 20), false);
      assert.equal(isHex(`0x${"11".repeat(20)}`, 20), true);
    });

    it("quotes at most 80 characters of a huge value", function () {
      const err = hexError(() => parseHex(`0x${"ab".repeat(10_000)}!`, "payload"));
      assert.ok(err.message.length < 300, err.message);
      assert.match(err.message, /"!" at position 20002/);
    });
  });

  describe("parseHexBytes and fromHex", function () {
    it("decode every byte, upper-case digits included", function () {
      assert.deepEqual(parseHexBytes("0x00FFa0", "x"), new Uint8Array([0, 255, 160]));
      assert.deepEqual(parseHexBytes("0x00ff", "x", { bytes: 2 }), new Uint8Array([0, 255]));
      assert.deepEqual(fromHex("0x0102"), new Uint8Array([1, 2]));
    });

    it("never drop what Buffer.from(x, 'hex') would silently drop", function () {
      // Buffer.from stops at the first bad digit and ignores an odd last one: the bug class.
      assert.equal(Buffer.from("abzz", "hex").length, 1);
      assert.equal(Buffer.from("abc", "hex").length, 1);
      assert.equal(hexError(() => fromHex("0xabzz")).problem, "non-hex");
      assert.equal(hexError(() => fromHex("0xabc")).problem, "odd-length");
      assert.equal(hexError(() => parseHexBytes("0x0102 03", "x")).problem, "non-hex");
      assert.equal(
        hexError(() => parseHexBytes("0x0102", "digest", { bytes: 32 })).problem,
        "wrong-length",
      );
    });
  });

  describe("asHex", function () {
    it("is parseHex with the length as third argument", function () {
      assert.equal(asHex("0xAB", "x", 1), "0xab");
      assert.equal(hexError(() => asHex("0xabcd", "x", 3)).problem, "wrong-length");
      assert.equal(hexError(() => asHex("0xab\n", "x")).problem, "non-hex");
    });
  });
});
