import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { basename } from "node:path";
import { DeviceTrustError, InvalidInputError } from "./errors.js";
import { asHex, parseHexBytes, type Hex } from "./hex.js";

/**
 * The measured-boot chain, exactly a TPM 2.0 PCR extend with SHA-256:
 *   m_0 = 32 zero bytes,  m_i = sha256(m_{i-1} ‖ sha256(image_i)),  measurement = m_n.
 * Each boot stage measures the next one before running it, so the final digest commits to every image
 * and to their order. A maker computes it from the release images (`firmware publish`), a device from
 * what it booted (src/device/boot-simulator.ts): both run this code, so they agree by construction.
 */

/** m_0: a PCR's value after reset. */
export const INITIAL_MEASUREMENT: Hex = `0x${"00".repeat(32)}`;

/** One stage of the chain: the image's digest and the register value after extending it. */
export interface MeasurementStep {
  /** The file the image came from, or `image #i` for bytes. */
  readonly name: string;
  readonly imageDigest: Hex;
  /** m_{i-1} */
  readonly before: Hex;
  /** m_i = sha256(before ‖ imageDigest) */
  readonly after: Hex;
}

export interface MeasuredBoot {
  /** m_n: what the maker publishes and the device signs. */
  readonly measurement: Hex;
  /** sha256 of each image, in boot order (published beside the measurement). */
  readonly imageDigests: readonly Hex[];
  readonly steps: readonly MeasurementStep[];
}

/** An image file could not be read. */
export class ImageReadError extends DeviceTrustError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("IMAGE_READ", message, options);
    this.name = "ImageReadError";
  }
}

/** sha256 of `bytes`, as hex. */
export function sha256Hex(bytes: Uint8Array): Hex {
  return `0x${createHash("sha256").update(bytes).digest("hex")}`;
}

/** One PCR extend: sha256(register ‖ imageDigest). */
export function extendMeasurement(register: Hex, imageDigest: Hex): Hex {
  const r = parseHexBytes(register, "measurement register", { bytes: 32 });
  const d = parseHexBytes(imageDigest, "image digest", { bytes: 32 });
  return `0x${createHash("sha256").update(r).update(d).digest("hex")}`;
}

/**
 * The chain over image digests already computed (sha256 of each image, in boot order): what a verifier
 * uses to check that a published measurement follows from its published image digests.
 */
export function measureDigests(
  imageDigests: readonly string[],
  names: readonly string[] = [],
): MeasuredBoot {
  if (imageDigests.length === 0) {
    throw new InvalidInputError(
      "a measured boot needs at least one image (bootloader, kernel, application, in boot order)",
    );
  }
  const steps: MeasurementStep[] = [];
  let register = INITIAL_MEASUREMENT;
  imageDigests.forEach((value, i) => {
    const imageDigest = asHex(value, `image digest #${String(i + 1)}`, 32);
    const after = extendMeasurement(register, imageDigest);
    steps.push({
      name: names[i] ?? `image #${String(i + 1)}`,
      imageDigest,
      before: register,
      after,
    });
    register = after;
  });
  return { measurement: register, imageDigests: steps.map((s) => s.imageDigest), steps };
}

/** The chain over images given as bytes, in boot order. */
export function measureImages(
  images: readonly Uint8Array[],
  names?: readonly string[],
): MeasuredBoot {
  return measureDigests(images.map(sha256Hex), names);
}

/** sha256 of a file, streamed (firmware images may be large). */
export async function sha256File(path: string): Promise<Hex> {
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (cause) {
    throw new ImageReadError(`cannot read image ${path}: check the path and its permissions`, {
      cause,
    });
  }
  return `0x${hash.digest("hex")}`;
}

/**
 * The chain over images given as bytes or file paths (mixed allowed), in boot order: bootloader first,
 * then the kernel, then the application.
 */
export async function measure(images: readonly (Uint8Array | string)[]): Promise<MeasuredBoot> {
  const digests: Hex[] = [];
  const names: string[] = [];
  for (const [i, image] of images.entries()) {
    if (typeof image === "string") {
      if (image === "") throw new InvalidInputError(`image #${String(i + 1)} has an empty path`);
      digests.push(await sha256File(image));
      names.push(basename(image));
    } else {
      digests.push(sha256Hex(image));
      names.push(`image #${String(i + 1)}`);
    }
  }
  return measureDigests(digests, names);
}

/** A comma-separated list of image paths (`--images boot.bin,kernel.img,app.bin`), in boot order. */
export function parseImageList(value: string): string[] {
  const paths = value
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  if (paths.length === 0) {
    throw new InvalidInputError(
      "--images is required: the firmware image files in boot order, comma-separated (bootloader,kernel,application)",
    );
  }
  return paths;
}

/** Whether `measurement` is what `imageDigests` extend to. */
export function measurementMatches(measurement: string, imageDigests: readonly string[]): boolean {
  if (imageDigests.length === 0) return false;
  return measureDigests(imageDigests).measurement === asHex(measurement, "measurement", 32);
}
