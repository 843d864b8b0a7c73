import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { coverBuy, parseAmount, parseDuration } from "../../src/client/index.js";
import { progress, run } from "../common.js";
import { connectTarget, type TargetArgs } from "../pool/connect.js";

interface Args extends TargetArgs {
  amount: string;
  term: string;
  beneficiary: string;
  slippage: number;
}

export default async function coverBuyTask(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const term = parseDuration(args.term);
    const chain = await connectTarget(hre, args);
    const amount = parseAmount(args.amount, chain.units.asset, args.wei, "--amount");
    const beneficiary = args.beneficiary === "" ? chain.signer.address : args.beneficiary;
    progress(
      `quoting ${args.amount} ${chain.units.asset.symbol} of coverage on ${chain.target.kind} ${chain.target.id} for ${args.term}, paid to ${beneficiary}`,
    );
    return chain.output(
      await coverBuy({
        pool: chain.pool,
        token: chain.token,
        target: chain.target,
        amount,
        term,
        beneficiary,
        slippageBps: args.slippage,
      }),
    );
  });
}
