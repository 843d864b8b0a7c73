import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import type { NetworkConfig } from "hardhat/types/config";
import { formatUnits, getAddress } from "ethers";
import {
  LOCAL_CHAIN_ID,
  parseAmount,
  resolveDeployedAddress,
  tokenInfo,
} from "../../src/client/index.js";
import { InvalidInputError, asHex, type Hex } from "../../src/protocol/index.js";
import { MockERC20__factory } from "../../types/ethers-contracts/index.js";
import {
  deploymentLookup,
  progress,
  resolveSigner,
  run,
  type OutputArgs,
  type WeiArgs,
} from "../common.js";

interface Args extends OutputArgs, WeiArgs {
  token: string;
  to: string;
  amount: string;
  from: string;
  deploymentId: string;
}

/**
 * Refuses every chain but a local one (the in-process network, or a `hardhat node`): elsewhere the
 * collateral and the stablecoin are real tokens, and a mint would at best fail.
 */
export function requireLocalChain(
  networkName: string,
  config: NetworkConfig,
  chainId: bigint,
): void {
  if (config.type === "edr-simulated" || chainId === LOCAL_CHAIN_ID) return;
  throw new InvalidInputError(
    `token mint runs on local chains only (the in-process network, or a hardhat node, chain 31337): ` +
      `network "${networkName}" is chain ${chainId.toString()}, where tokens are real`,
  );
}

/** Mints the local deployment's mock token (MockERC20) to an account: a developer's faucet. */
export default async function tokenMint(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const conn = await hre.network.getOrCreate();
    const { chainId } = await conn.ethers.provider.getNetwork();
    requireLocalChain(conn.networkName, conn.networkConfig, chainId);
    const signer = await resolveSigner(conn.ethers, args.from);
    const token = await resolveDeployedAddress({
      ...(await deploymentLookup(hre, conn, args.deploymentId)),
      contract: "CollateralToken",
      option: "--token",
      explicit: args.token,
    });
    if ((await conn.ethers.provider.getCode(token)) === "0x") {
      throw new InvalidInputError(
        `no contract at ${token} on chain ${chainId.toString()}: check --token and --network`,
      );
    }
    const to = (args.to === "" ? signer.address : getAddress(asHex(args.to, "--to", 20))) as Hex;
    const info = await tokenInfo(token, conn.ethers.provider);
    const amount = parseAmount(args.amount, info, args.wei, "--amount");
    progress(`minting ${formatUnits(amount, info.decimals)} ${info.symbol} to ${to}`);
    const receipt = await (await MockERC20__factory.connect(token, signer).mint(to, amount)).wait();
    if (receipt?.status !== 1) throw new Error("the mint was not mined");
    return {
      token,
      to,
      amount,
      balance: await MockERC20__factory.connect(token, conn.ethers.provider).balanceOf(to),
      txHash: receipt.hash as Hex,
    };
  });
}
