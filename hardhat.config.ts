import { createRequire } from "node:module";
import hardhatToolboxMochaEthers from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import { defineConfig } from "hardhat/config";
import { tasks } from "./tasks/index.js";

const require = createRequire(import.meta.url);

/** CI explores a fresh part of the input space each run; the seed is printed so a failure replays. */
const fuzzSeed = process.env.FUZZ_SEED;

export default defineConfig({
  plugins: [hardhatToolboxMochaEthers],
  tasks,
  solidity: {
    // soljson.js of the exactly pinned npm `solc` IS this version: Hardhat runs it as WASM offline.
    version: "0.8.37",
    path: require.resolve("solc/soljson.js"),
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "prague",
    },
  },
  paths: { ignition: "deploy" },
  networks: {
    // No P-256 precompile: OpenZeppelin's P256 falls back to its Solidity verifier.
    prague: { type: "edr-simulated", chainType: "l1", hardfork: "prague" },
    osaka: { type: "edr-simulated", chainType: "l1", hardfork: "osaka" },
  },
  test: {
    solidity: {
      // TypeScript-generated protocol vectors, read by test/ProtocolVectors.t.sol.
      fsPermissions: { readFile: ["./test/fixtures/vectors.json"] },
      fuzz: { runs: 256, ...(fuzzSeed === undefined ? {} : { seed: fuzzSeed }) },
      invariant: { runs: 64, depth: 32, failOnRevert: true },
    },
  },
});
