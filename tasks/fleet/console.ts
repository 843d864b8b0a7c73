import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { runConsole, type ConsoleAddresses, type HexString } from "../../src/console/index.js";
import { InvalidInputError, asHex } from "../../src/protocol/index.js";
import { connect, optionalContract, progress, run, type Chain, type ChainArgs } from "../common.js";

interface Args extends ChainArgs {
  port: number;
  host: string;
  staking: string;
  proofs: string;
  pool: string;
  factory: string;
  accountFactory: string;
  feeds: string;
  maxAge: number;
  fromBlock: number;
  confirmations: number;
  pollMs: number;
  gateway: string;
  watchtower: string;
}

/**
 * `fleet console`: serves the fleet console (a read-only web page) on loopback from the deployed system,
 * until SIGINT/SIGTERM. Named under `fleet`, not `console`: Hardhat's own `console` task (a REPL) keeps
 * its name. The address goes to stdout at once (--json: one JSON line); progress to stderr.
 */
export default async function fleetConsole(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    if (args.host !== "127.0.0.1" && args.host !== "localhost" && args.host !== "::1") {
      progress(
        `serving on ${args.host}: the console is read-only, but anyone who reaches it sees the fleet`,
      );
    }
    if (args.confirmations < 0) {
      throw new InvalidInputError("--confirmations must be 0 or more blocks");
    }
    if (args.maxAge <= 0)
      throw new InvalidInputError("--max-age must be a positive number of seconds");
    const chain = await connect(hre, args);
    const optional = async (
      contract: Parameters<typeof optionalContract>[1],
      option: string,
      explicit: string,
    ) => {
      const address = await optionalContract(chain, contract, option, explicit);
      if (address === undefined) progress(`no ${contract} found (${option}): its views stay empty`);
      return address;
    };
    const addresses: ConsoleAddresses = {
      registry: chain.registryAddress,
      staking: await optional("DeviceStaking", "--staking", args.staking),
      proofs: await optional("FraudProofs", "--proofs", args.proofs),
      pool: await optional("InsurancePool", "--pool", args.pool),
      feedFactory: await optional("DeviceFeedFactory", "--factory", args.factory),
      accountFactory:
        args.accountFactory === ""
          ? undefined
          : (asHex(args.accountFactory, "--account-factory", 20).toLowerCase() as HexString),
      feeds:
        args.feeds === ""
          ? []
          : args.feeds
              .split(",")
              .map((f) => asHex(f.trim(), "--feeds", 20).toLowerCase() as HexString),
    };
    const running = await runConsole({
      provider: chain.ethers.provider,
      addresses,
      port: args.port,
      host: args.host,
      maxAge: args.maxAge,
      fromBlock: args.fromBlock,
      confirmations: args.confirmations,
      pollMs: args.pollMs,
      gateway: args.gateway,
      watchtower: args.watchtower,
      log: progress,
    });
    process.stdout.write(
      args.json
        ? `${JSON.stringify({ url: running.url })}\n`
        : `DeviceTrust console: ${running.url}\n`,
    );
    progress("serving until Ctrl-C");
    await stopped();
    await running.stop();
    return summary(chain, running.index.events, running.index.block);
  });
}

function summary(chain: Chain, events: number, block: number) {
  return { registry: chain.registryAddress, events, block };
}

function stopped(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
}
