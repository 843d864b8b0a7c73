import { fileURLToPath } from "node:url";
import hardhatToolboxMochaEthers from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import { configVariable, defineConfig } from "hardhat/config";
import buildPlugin from "./config/build-plugin.js";
import { chooseSolc } from "./config/solc.js";
import { tasks } from "./tasks/index.js";

/** CI explores a fresh part of the input space each run; the seed is printed so a failure replays. */
const fuzzSeed = process.env.FUZZ_SEED;

/**
 * solc 0.8.37: native where Hardhat has or can fetch it, else soljson.js of the exactly pinned npm `solc`
 * (this very version) as WebAssembly, offline; decided once a day, the fallback said in one line
 * (config/solc.ts; DEVICETRUST_SOLC=native|wasm chooses).
 */
const solc = await chooseSolc("0.8.37", {
  cacheDir: fileURLToPath(new URL("./cache", import.meta.url)),
});
const SOLC = { version: solc.version, ...(solc.path === undefined ? {} : { path: solc.path }) };
/**
 * The IR pipeline, for the deployed contracts whose gas is paid per device message. The optimizer comes
 * first: Hardhat hashes the settings in key order into the build id, and the production profile merges
 * these over its own `optimizer`; in the same order both profiles make the same build.
 */
const IR = {
  ...SOLC,
  settings: { optimizer: { enabled: true, runs: 1000 }, viaIR: true, evmVersion: "prague" },
} as const;

const SOLIDITY_TESTS = {
  // TypeScript-generated protocol vectors (test/ProtocolVectors.t.sol), real TPM quotes
  // (test/TpmAttestation.t.sol) and TypeScript-built PSA tokens (test/PsaAttestation.t.sol).
  fsPermissions: {
    readFile: [
      "./test/fixtures/vectors.json",
      "./test/fixtures/tpm/quotes.json",
      // LMS keys and signatures of the TypeScript signer and RFC 9858's, read by test/LmsLib.t.sol.
      "./test/fixtures/lms/h10w4.json",
      "./test/fixtures/lms/rfc9858.json",
      "./test/fixtures/psa/token.json",
    ],
  },
  fuzz: { runs: 256, ...(fuzzSeed === undefined ? {} : { seed: fuzzSeed }) },
  invariant: { runs: 64, depth: 32, failOnRevert: true },
};

/** The contracts' build: the deployed roots whose gas is paid per device message use the IR pipeline. */
const CONTRACTS = {
  compilers: [
    { ...SOLC, settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "prague" } },
  ],
  overrides: {
    // The core holds identity and attestation in one contract (a trust check costs no external call):
    // the IR pipeline keeps it under the 24 KiB code limit (20.7 KiB) and cuts ~3.5k gas per
    // attestation. Only the deployed roots below use it, so the test suites still compile in seconds.
    "contracts/identity/DeviceRegistry.sol": IR,
    // Paid per reading and per batch by relayers: the IR build saves ~1.5k gas per reading.
    "contracts/feeds/DeviceFeed.sol": IR,
    "contracts/feeds/DeviceFeedFactory.sol": IR,
    "contracts/feeds/ReadingAnchor.sol": IR,
    // Paid per TPM quote and per PSA token by operators, per post-quantum recovery and per PQ-signed
    // release.
    "contracts/attestation/TpmAttestation.sol": IR,
    "contracts/attestation/PsaAttestation.sol": IR,
    "contracts/identity/PqKeyRecovery.sol": IR,
    "contracts/attestation/FirmwareSignatures.sol": IR,
    "contracts/insurance/InsurancePool.sol": IR,
    // Paid per channel by buyers and sellers (open, close).
    "contracts/accounts/PaymentChannel.sol": IR,
    // Paid per UserOperation by machine accounts. The account stack (OpenZeppelin's Account, ERC-7821,
    // weighted ERC-7913 multisigner, ERC-7739) and the policy fill the 24 KiB limit: 24,386 bytes at
    // runs 200 (runs 1 gives the same size; runs 1000 is 25,903, over it).
    "contracts/accounts/DeviceAccount.sol": {
      ...IR,
      settings: { ...IR.settings, optimizer: { enabled: true, runs: 200 } },
    },
    "contracts/accounts/DeviceAccountFactory.sol": IR,
    // The bench's baseline for DeviceAccount: OpenZeppelin's plain multisigner account, built alike.
    "contracts/mocks/PlainMultisigAccount.sol": {
      ...IR,
      settings: { ...IR.settings, optimizer: { enabled: true, runs: 200 } },
    },
  },
};

export default defineConfig({
  plugins: [hardhatToolboxMochaEthers, buildPlugin],
  tasks,
  solidity: {
    // One build for tests, scripts and deployments. The production profile (Ignition, hardhat-verify) is
    // the default one, explicitly: left implicit, Hardhat derives it with none of these settings (no IR,
    // no overrides: other bytecode than the tests measured, a registry over the code size limit) and
    // compiles it file by file. Stated alike, both profiles share one build: neither recompiles for the other.
    profiles: {
      default: CONTRACTS,
      production: { ...CONTRACTS, isolated: false, toolVersionsInBuildInfo: false },
    },
    // Solidity tests compile on their own (`hardhat test`): `hardhat run`, the demo and the tasks build
    // the contracts only (neither forge-std nor any test file).
    splitTestsCompilation: true,
  },
  paths: { ignition: "deploy" },
  networks: {
    // No P-256 precompile: OpenZeppelin's P256 falls back to its Solidity verifier.
    prague: { type: "edr-simulated", chainType: "l1", hardfork: "prague" },
    osaka: { type: "edr-simulated", chainType: "l1", hardfork: "osaka" },
    // Public chains: RPC URLs and deployer keys are configuration variables, read when the network is
    // used, from the encrypted keystore (`npx hardhat keystore set SEPOLIA_RPC_URL`) or the environment.
    // Nothing secret is in the repository.
    sepolia: {
      type: "http",
      chainType: "l1",
      chainId: 11_155_111,
      url: configVariable("SEPOLIA_RPC_URL"),
      accounts: [configVariable("SEPOLIA_DEPLOYER_KEY")],
    },
    baseSepolia: {
      type: "http",
      chainType: "op",
      chainId: 84_532,
      url: configVariable("BASE_SEPOLIA_RPC_URL"),
      accounts: [configVariable("BASE_SEPOLIA_DEPLOYER_KEY")],
    },
    fork: {
      type: "edr-simulated",
      chainType: "l1",
      forking: { url: configVariable("FORK_RPC_URL") },
    },
    // The template for any other EVM chain: its RPC URL and deployer key (`--network evm`); the chain id
    // comes from the node.
    evm: {
      type: "http",
      chainType: "l1",
      url: configVariable("EVM_RPC_URL"),
      accounts: [configVariable("EVM_DEPLOYER_KEY")],
    },
  },
  // A fork of another chain, in process (`--network fork`, FORK_RPC_URL: e.g. a `hardhat node` on
  // 127.0.0.1:8545 with the system deployed); time travel and transactions stay on the fork.
  chainDescriptors: {
    // A `hardhat node` (chain 31337) runs osaka from its genesis: with this history a fork of it can
    // execute at its historical blocks ("No known hardfork for execution on historical block" without).
    31337: {
      name: "Hardhat node",
      chainType: "l1",
      hardforkHistory: { osaka: { blockNumber: 0 } },
    },
  },
  // `ignition deploy --verify` and `hardhat verify`: Etherscan's key (one key serves its v2 API on every
  // chain it indexes); Blockscout and Sourcify need none.
  verify: { etherscan: { apiKey: configVariable("ETHERSCAN_API_KEY") } },
  test: {
    solidity: {
      profiles: {
        default: SOLIDITY_TESTS,
        // Every top-level call of a test is its own transaction (cold storage, fresh access lists): gas
        // figures as a chain would charge them (`hardhat test solidity --test-profile isolated`).
        isolated: { ...SOLIDITY_TESTS, isolate: true },
      },
    },
  },
});
