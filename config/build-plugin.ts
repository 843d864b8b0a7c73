import type { HardhatPlugin } from "hardhat/types/plugins";

/**
 * How the project builds, beyond the compiler settings (config/build-plugin-hooks.ts):
 * - compiler warnings about code in npm packages (forge-std's deprecated memory-safe comments, 257 of
 *   them with solc 0.8.37) are not ours to fix: they are dropped from what a build prints; errors, and
 *   every warning about the project's own files, pass untouched, and success is not affected;
 * - compilation jobs run one per core (Hardhat runs one fewer than the cores, a single job on a 2-core
 *   machine): a job is a solc child process, and the main process only waits for it.
 */
const buildPlugin: HardhatPlugin = {
  id: "devicetrust:build",
  hookHandlers: { solidity: () => import("./build-plugin-hooks.js") },
};

export default buildPlugin;
