import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { getAddress } from "ethers";
import {
  checkSystemWiring,
  deployedSystemAddresses,
  SystemWiringError,
} from "../../src/client/index.js";
import { asHex, type Hex } from "../../src/protocol/index.js";
import { deploymentLookup, progress, run, type OutputArgs } from "../common.js";

interface Args extends OutputArgs {
  deploymentId: string;
  governance: string;
  deployer: string;
}

function optionalAddress(value: string, option: string): Hex | undefined {
  return value === "" ? undefined : (getAddress(asHex(value, option, 20)) as Hex);
}

/**
 * Reads a deployed system's wiring back from the chain (src/client/system-check.ts) and fails, listing
 * what is wrong, unless every fact holds.
 */
export default async function systemCheck(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const conn = await hre.network.getOrCreate();
    const lookup = await deploymentLookup(hre, conn, args.deploymentId);
    const addresses = await deployedSystemAddresses(lookup);
    progress(`checking the system of registry ${addresses.registry} on ${conn.networkName}`);
    const report = await checkSystemWiring(conn.ethers.provider, addresses, {
      governance: optionalAddress(args.governance, "--governance"),
      deployer: optionalAddress(args.deployer, "--deployer"),
    });
    if (!report.ok) {
      for (const c of report.checks) progress(`${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
      const failed = report.checks.filter((c) => !c.ok).map((c) => c.name);
      throw new SystemWiringError(
        `${String(failed.length)} of ${String(report.checks.length)} wiring checks failed: ${failed.join("; ")}`,
        report,
      );
    }
    return { ok: true, addresses, checks: report.checks };
  });
}
