import { join } from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { ZeroAddress, getAddress, isAddress, type Provider } from "ethers";
import {
  LOCAL_CHAIN_ID,
  deployedSystemAddresses,
  requireSystemWiring,
  tokenInfo,
  type SystemAddresses,
} from "../../src/client/index.js";
import { InvalidInputError, type Hex } from "../../src/protocol/index.js";
import { DEFAULT_POOL_PARAMS } from "../../deploy/modules/InsurancePool.js";
import {
  deploymentLookup,
  progress,
  readJson,
  resolveSigner,
  run,
  type OutputArgs,
} from "../common.js";

interface Args extends OutputArgs {
  parameters: string;
  deploymentId: string;
  verify: boolean;
  yes: boolean;
}

const BPS = 10_000n;

type ParameterFile = Record<string, Record<string, unknown> | undefined>;

/** A parameter as Ignition reads it ("123n" is a bigint), from its module or `$global`, else `fallback`. */
function parameter(file: ParameterFile, module: string, name: string, fallback?: bigint): unknown {
  const value = file[module]?.[name] ?? file.$global?.[name];
  if (value === undefined) return fallback;
  if (typeof value === "string" && /^\d+n$/.test(value)) return BigInt(value.slice(0, -1));
  return value;
}

function bigintParameter(file: ParameterFile, module: string, name: string, fallback: bigint) {
  const value = parameter(file, module, name, fallback);
  if (typeof value !== "bigint") {
    throw new InvalidInputError(
      `${module}.${name} must be an integer written "123n" in the parameter file (got ${JSON.stringify(value)})`,
    );
  }
  return value;
}

function addressParameter(file: ParameterFile, module: string, name: string, path: string): Hex {
  const value = parameter(file, module, name);
  if (typeof value !== "string" || !isAddress(value) || value === ZeroAddress) {
    throw new InvalidInputError(
      `set ${name} in ${path} (${module === "$global" ? "$global" : module}.${name}) to a non-zero address ` +
        `(got ${JSON.stringify(value)})`,
    );
  }
  return getAddress(value) as Hex;
}

/**
 * Refuses, before anything is sent, a parameter file the contracts would refuse half way or that would
 * leave the system ungoverned: the governance (the deployer hands every role over to it, so it must be
 * another address), the collateral token on a public chain (code and decimals), the evidence window against
 * unbonding and the pool's windows, the bounty against the pool's cover factor.
 */
async function checkParameters(
  file: ParameterFile,
  path: string,
  deployer: Hex,
  local: boolean,
  provider: Provider,
) {
  const governance = addressParameter(file, "$global", "governance", path);
  if (governance === getAddress(deployer)) {
    throw new InvalidInputError(
      `governance ${governance} is the deploying account: the deployment hands every role to governance and ` +
        `the deployer renounces its own, which would leave the system ungoverned. Set $global.governance in ${path} ` +
        `to another address (a multisig)`,
    );
  }
  if (!local && (await provider.getCode(governance)) === "0x") {
    progress(
      `note: governance ${governance} has no code (an externally owned account, not a multisig)`,
    );
  }
  let collateral: { token: Hex; symbol: string; decimals: number } | undefined;
  if (!local) {
    const token = addressParameter(file, "DeviceStaking", "token", path);
    if ((await provider.getCode(token)) === "0x") {
      throw new InvalidInputError(
        `DeviceStaking.token ${token} in ${path} has no code on this chain`,
      );
    }
    const info = await tokenInfo(token, provider).catch((cause: unknown) => {
      throw new InvalidInputError(
        `DeviceStaking.token ${token} in ${path} does not answer symbol() and decimals(): is it an ERC-20?`,
        { cause },
      );
    });
    collateral = { token, symbol: info.symbol, decimals: info.decimals };
  }
  const unbonding = bigintParameter(file, "DeviceStaking", "unbondingPeriod", 14n * 86_400n);
  const window = bigintParameter(file, "DeviceStaking", "evidenceWindow", 7n * 86_400n);
  const bounty = bigintParameter(file, "DeviceStaking", "bountyBps", 1_000n);
  const claimWindow = bigintParameter(
    file,
    "InsurancePool",
    "claimWindow",
    DEFAULT_POOL_PARAMS.claimWindow,
  );
  const cooldown = bigintParameter(file, "InsurancePool", "cooldown", DEFAULT_POOL_PARAMS.cooldown);
  const coverFactor = bigintParameter(
    file,
    "InsurancePool",
    "coverFactorBps",
    DEFAULT_POOL_PARAMS.coverFactorBps,
  );
  if (window >= unbonding) {
    throw new InvalidInputError(
      `DeviceStaking.evidenceWindow (${window.toString()} s) must be shorter than unbondingPeriod (${unbonding.toString()} s) in ${path}`,
    );
  }
  if (claimWindow <= window || cooldown <= window) {
    throw new InvalidInputError(
      `InsurancePool.claimWindow (${claimWindow.toString()} s) and cooldown (${cooldown.toString()} s) must outlast ` +
        `DeviceStaking.evidenceWindow (${window.toString()} s) in ${path}`,
    );
  }
  if (coverFactor + bounty >= BPS) {
    throw new InvalidInputError(
      `InsurancePool.coverFactorBps (${coverFactor.toString()}) plus DeviceStaking.bountyBps (${bounty.toString()}) ` +
        `must stay below 10000 in ${path}`,
    );
  }
  return { governance, collateral };
}

/**
 * Deploys the whole system with Ignition (deploy/modules/DeviceTrust.ts on public chains, with the
 * collateral of the parameter file; deploy/modules/DeviceTrustLocal.ts with a mock collateral on a
 * `hardhat node`), parameters from deploy/parameters/<network>.json, then reads the wiring back from the
 * chain and fails unless it is whole. `--verify` then verifies every contract on the configured explorers
 * (Ignition's own verify). An interrupted deployment resumes when run again with the same deployment id.
 */
export default async function systemDeploy(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const conn = await hre.network.getOrCreate();
    const config = conn.networkConfig;
    // A fork too: Ignition keeps no journal for an in-process chain, and the fork's state ends with it.
    if (config.type === "edr-simulated") {
      throw new InvalidInputError(
        `network "${conn.networkName}" lives in this process and ends with it: deploy to a chain that outlives ` +
          "it (--network localhost with a running `npx hardhat node`, or sepolia, baseSepolia, evm)",
      );
    }
    const { chainId } = await conn.ethers.provider.getNetwork();
    const local = chainId === LOCAL_CHAIN_ID;
    const deployer = await resolveSigner(conn.ethers, "");
    const path =
      args.parameters === ""
        ? join(hre.config.paths.root, "deploy", "parameters", `${conn.networkName}.json`)
        : args.parameters;
    const file = (await readJson(path, "parameter file")) as ParameterFile;
    const { governance, collateral } = await checkParameters(
      file,
      path,
      deployer.address as Hex,
      local,
      conn.ethers.provider,
    );
    const moduleName = local ? "DeviceTrustLocal" : "DeviceTrust";
    progress(
      `deploying ${moduleName} to ${conn.networkName} (chain ${chainId.toString()}) from ${deployer.address}, ` +
        `governance ${governance}, collateral ${collateral === undefined ? "a mock token (local chain)" : `${collateral.symbol} ${collateral.token} (${collateral.decimals.toString()} decimals)`}, parameters ${path}`,
    );
    if (!local && !args.yes) {
      throw new InvalidInputError(
        `deploying to chain ${chainId.toString()} spends real gas and hands the system to ${governance}: ` +
          "check the line above, then run again with --yes",
      );
    }
    const ignitionModule = local
      ? (await import("../../deploy/modules/DeviceTrustLocal.js")).default
      : (await import("../../deploy/modules/DeviceTrust.js")).default;
    const deploymentId = args.deploymentId === "" ? undefined : args.deploymentId;
    await conn.ignition.deploy(ignitionModule, {
      parameters: path,
      ...(deploymentId === undefined ? {} : { deploymentId }),
      displayUi: !args.json,
    });
    const lookup = await deploymentLookup(hre, conn, args.deploymentId);
    const addresses: SystemAddresses = await deployedSystemAddresses(lookup);
    const report = await requireSystemWiring(conn.ethers.provider, addresses, {
      governance,
      deployer: deployer.address as Hex,
    });
    progress(`wiring checked on chain: ${String(report.checks.length)} facts hold`);
    if (args.verify) {
      progress("verifying the deployed contracts on the configured explorers");
      await hre.tasks.getTask(["ignition", "verify"]).run({
        deploymentId: deploymentId ?? `chain-${chainId.toString()}`,
      });
      if (process.exitCode !== undefined && process.exitCode !== 0) {
        throw new Error("verification failed for at least one contract (see above)");
      }
    }
    return {
      network: conn.networkName,
      chainId,
      deploymentId: deploymentId ?? `chain-${chainId.toString()}`,
      governance,
      deployer: deployer.address,
      addresses,
      checks: report.checks.length,
      verified: args.verify,
    };
  });
}
