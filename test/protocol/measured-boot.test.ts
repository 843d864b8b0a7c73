import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  INITIAL_MEASUREMENT,
  ImageReadError,
  InvalidInputError,
  extendMeasurement,
  measure,
  measureDigests,
  measureImages,
  measurementMatches,
  parseImageList,
  sha256File,
  type Hex,
} from "../../src/protocol/index.js";

/** The chain computed independently: a TPM PCR extend with SHA-256, written out with node:crypto. */
function pcrExtend(images: readonly Buffer[]): Hex {
  let pcr = Buffer.alloc(32);
  for (const image of images) {
    const d = createHash("sha256").update(image).digest();
    pcr = createHash("sha256")
      .update(Buffer.concat([pcr, d]))
      .digest();
  }
  return `0x${pcr.toString("hex")}`;
}

const BOOTLOADER = Buffer.from("bootloader v1\n");
const KERNEL = Buffer.from("kernel 6.1 v1\n");
const APP = Buffer.from("meter app v1\n");

describe("protocol", function () {
  describe("measured boot", function () {
    it("matches a known answer: the PCR extend of 'abc' and then '' (sha256 test vectors)", function () {
      // sha256("abc") and sha256("") are FIPS 180-2 vectors; m1 and m2 were computed with coreutils,
      // independently of this code: (printf '%064d' 0; printf <digest>) | xxd -r -p | sha256sum.
      const abc = "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
      const empty = "0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
      const m = measureImages([Buffer.from("abc"), Buffer.alloc(0)]);
      assert.deepEqual(m.imageDigests, [abc, empty]);
      const first = m.steps[0];
      assert.ok(first !== undefined);
      assert.equal(first.before, INITIAL_MEASUREMENT);
      assert.equal(
        first.after,
        "0x589f9ffed4c477966bfb8d41f37895b08c69047df8f911d6f3b57fbe08faee8d",
      );
      assert.equal(first.after, pcrExtend([Buffer.from("abc")]));
      assert.equal(m.measurement, pcrExtend([Buffer.from("abc"), Buffer.alloc(0)]));
      assert.equal(
        m.measurement,
        "0xef6a5fdbba9e14e07fa74d23b7ae639d146ce41635cf3fe44315988c4cbd0caf",
      );
    });

    it("agrees with an independent node:crypto PCR extend for every prefix of a boot", function () {
      const images = [BOOTLOADER, KERNEL, APP];
      const m = measureImages(images);
      assert.equal(m.steps.length, 3);
      m.steps.forEach((step, i) => {
        assert.equal(step.after, pcrExtend(images.slice(0, i + 1)));
        assert.equal(step.before, i === 0 ? INITIAL_MEASUREMENT : pcrExtend(images.slice(0, i)));
      });
      assert.equal(m.measurement, pcrExtend(images));
      assert.equal(
        extendMeasurement(INITIAL_MEASUREMENT, m.imageDigests[0] ?? "0x"),
        m.steps[0]?.after,
      );
    });

    it("depends on the order of the images", function () {
      const a = measureImages([BOOTLOADER, KERNEL, APP]).measurement;
      const b = measureImages([KERNEL, BOOTLOADER, APP]).measurement;
      assert.notEqual(a, b);
      assert.equal(b, pcrExtend([KERNEL, BOOTLOADER, APP]));
    });

    it("changes when one byte of one image changes", function () {
      const patched = Buffer.from(KERNEL);
      patched[0] = (patched[0] ?? 0) ^ 1;
      assert.notEqual(
        measureImages([BOOTLOADER, KERNEL, APP]).measurement,
        measureImages([BOOTLOADER, patched, APP]).measurement,
      );
    });

    it("rejects an empty image list", async function () {
      assert.throws(() => measureImages([]), InvalidInputError);
      assert.throws(() => measureDigests([]), /at least one image/);
      await assert.rejects(measure([]), InvalidInputError);
      assert.throws(() => parseImageList(" , "), /--images is required/);
    });

    it("measures files (streamed) exactly as their bytes, and names the steps after them", async function () {
      const dir = await mkdtemp(join(tmpdir(), "devicetrust-boot-"));
      try {
        const big = Buffer.alloc(3 * 1024 * 1024 + 17, 0xa5); // several stream chunks
        const paths = [join(dir, "boot.bin"), join(dir, "kernel.img"), join(dir, "app.bin")];
        const contents = [BOOTLOADER, big, APP];
        for (const [i, p] of paths.entries()) await writeFile(p, contents[i] ?? Buffer.alloc(0));
        assert.equal(
          await sha256File(paths[1] ?? ""),
          `0x${createHash("sha256").update(big).digest("hex")}`,
        );
        const fromFiles = await measure(paths);
        assert.equal(fromFiles.measurement, pcrExtend(contents));
        assert.deepEqual(
          fromFiles.steps.map((s) => s.name),
          ["boot.bin", "kernel.img", "app.bin"],
        );
        const mixed = await measure([paths[0] ?? "", big, APP]);
        assert.equal(mixed.measurement, fromFiles.measurement);
        assert.deepEqual(parseImageList(paths.join(",")), paths);
        await assert.rejects(measure([join(dir, "missing.bin")]), ImageReadError);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it("checks that a measurement follows from its published image digests", function () {
      const m = measureImages([BOOTLOADER, KERNEL, APP]);
      assert.equal(measurementMatches(m.measurement, m.imageDigests), true);
      assert.equal(measurementMatches(m.measurement, [...m.imageDigests].reverse()), false);
      assert.equal(measurementMatches(m.measurement, []), false);
      assert.throws(() => measureDigests(["0x1234"]), /32 bytes/);
    });
  });
});
