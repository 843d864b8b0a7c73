import { parseEther } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  accountSalt,
  buildAccountSetup,
  createAccount,
  writeAccountFile,
} from "../../src/client/index.js";
import { InvalidInputError, asHex, type Hex } from "../../src/protocol/index.js";
import { connect, progress, run, type WeiArgs } from "../common.js";
import {
  amountArg,
  assetArg,
  assetInfo,
  connectFactory,
  type AccountChainArgs,
} from "./connect.js";

interface Args extends AccountChainArgs, WeiArgs {
  factory: string;
  devices: string;
  operator: string;
  operatorWeight: number;
  lowThreshold: number;
  highThreshold: number;
  maxAttestationAge: number;
  changeDelay: number;
  velocityShareBps: number;
  asset: string;
  periodCap: string;
  perCallCap: string;
  period: number;
  velocityWindow: number;
  counterparties: string;
  salt: string;
  deploy: boolean;
  fund: string;
}

function list(value: string): string[] {
  return value
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v !== "");
}

export default async function accountCreate(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const devices = list(args.devices).map((d) => asHex(d, "--devices", 32));
    if (devices.length === 0) {
      throw new InvalidInputError("name the account's devices: --devices <deviceId,deviceId,…>");
    }
    const chain = await connect(hre, args);
    const factory = await connectFactory(hre, chain, args.factory);
    let tokens: {
      token: Hex;
      periodCap: bigint;
      perCallCap: bigint;
      period: bigint;
      velocityWindow: bigint;
    }[] = [];
    const counterparties = list(args.counterparties);
    if (args.asset !== "") {
      const asset = assetArg(args.asset);
      const info = await assetInfo(chain, asset);
      const periodCap = amountArg(args.periodCap, info, args, "--period-cap");
      tokens = [
        {
          token: asset,
          periodCap,
          perCallCap:
            args.perCallCap === ""
              ? periodCap
              : amountArg(args.perCallCap, info, args, "--per-call-cap"),
          period: BigInt(args.period),
          velocityWindow: BigInt(args.velocityWindow),
        },
      ];
    } else if (counterparties.length > 0) {
      throw new InvalidInputError("--counterparties needs --asset: the token they may be paid in");
    }
    const setup = buildAccountSetup({
      verifier: factory.verifier,
      devices,
      operator: args.operator === "" ? chain.signer.address : args.operator,
      operatorWeight: args.operatorWeight < 0 ? undefined : BigInt(args.operatorWeight),
      lowThreshold: BigInt(args.lowThreshold),
      highThreshold: args.highThreshold <= 0 ? undefined : BigInt(args.highThreshold),
      maxAttestationAge: BigInt(args.maxAttestationAge),
      changeDelay: BigInt(args.changeDelay),
      velocityShareBps: BigInt(args.velocityShareBps),
      tokens,
      counterparties: counterparties.map((c) => ({
        token: tokens[0]?.token ?? "",
        counterparty: asHex(c, "--counterparties", 20),
      })),
    });
    const salt = accountSalt(args.salt);
    const created = await createAccount({
      factory: factory.address,
      setup,
      salt,
      provider: chain.ethers.provider,
      deployWith: args.deploy ? chain.signer : undefined,
    });
    const file = await writeAccountFile(args.accountsDir, {
      account: created.account,
      chainId: factory.chainId,
      factory: created.factory,
      salt,
      setup,
    });
    let funded: { amount: bigint; txHash: Hex } | null = null;
    if (args.fund !== "") {
      const amount = args.fund === "0" ? 0n : parseEther(args.fund);
      progress(`sending ${args.fund} native coin to ${created.account} (its UserOperations' gas)`);
      const tx = await chain.signer.sendTransaction({ to: created.account, value: amount });
      await tx.wait();
      funded = { amount, txHash: tx.hash as Hex };
    }
    progress(
      created.deployment === "factory"
        ? `deployed directly through the factory (createAccount): ${created.account}`
        : created.deployment === "first-user-operation"
          ? `counterfactual: ${created.account} deploys with its first UserOperation (initCode from ${file})`
          : `${created.account} exists already`,
    );
    return { ...created, accountFile: file, funded };
  });
}
