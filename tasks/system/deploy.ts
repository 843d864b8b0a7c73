import { join } from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  LOCAL_CHAIN_ID,
  checkDeployParameters,
  deployedSystemAddresses,
  parseDeployParameters,
  requireSystemWiring,
  type SystemAddresses,
} from "../../src/client/index.js";
import { InvalidInputError, type Hex } from "../../src/protocol/index.js";
import {
  deploymentLookup,
  progress,
  readText,
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
    const text = await readText(path, "parameter file");
    let file;
    try {
      file = parseDeployParameters(text);
    } catch (cause: unknown) {
      throw new InvalidInputError(
        `cannot read parameter file ${path}: check the path and that it holds JSON`,
        { cause },
      );
    }
    const { governance, collateral, notes } = await checkDeployParameters(file, {
      path,
      deployer: deployer.address as Hex,
      local,
      provider: conn.ethers.provider,
    });
    for (const note of notes) progress(`note: ${note}`);
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
