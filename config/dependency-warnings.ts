import type { HardhatPlugin } from "hardhat/types/plugins";

/**
 * Compiler warnings about code in npm packages (forge-std's deprecated memory-safe comments, 257 of them
 * with solc 0.8.37) are not ours to fix: this plugin drops them from what a build prints. Errors, and every
 * warning about the project's own files, pass untouched; whether a build succeeds is not affected.
 */
const dependencyWarnings: HardhatPlugin = {
  id: "devicetrust:dependency-warnings",
  hookHandlers: { solidity: () => import("./dependency-warnings-hook.js") },
};

export default dependencyWarnings;
