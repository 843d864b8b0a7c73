import { writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * Release images for the attestation tests. No describe() here: mocha loads this file and finds no tests.
 * The bootloader and kernel stay the same across versions; the application changes.
 */
export async function releaseImages(dir: string, version: string): Promise<string[]> {
  const files: [string, string][] = [
    ["bootloader.bin", "bootloader 2.0"],
    ["kernel.img", "kernel 6.1"],
    [`app-${version}.bin`, `meter application ${version}`],
  ];
  const paths: string[] = [];
  for (const [name, content] of files) {
    const p = join(dir, name);
    await writeFile(p, content);
    paths.push(p);
  }
  return paths;
}
