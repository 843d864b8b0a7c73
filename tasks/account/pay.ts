import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { payFromAccount } from "../../src/client/index.js";
import { InvalidInputError, asHex } from "../../src/protocol/index.js";
import { connect, progress, run } from "../common.js";
import { accountRoute, amountArg, assetArg, assetInfo, type RouteArgs } from "./connect.js";

interface Args extends RouteArgs {
  asset: string;
  to: string;
  amount: string;
}

export default async function accountPay(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const asset = assetArg(args.asset);
    if (args.to === "") throw new InvalidInputError("name the recipient: --to <address>");
    const to = asHex(args.to, "--to", 20);
    const chain = await connect(hre, args);
    const info = await assetInfo(chain, asset);
    const amount = amountArg(args.amount, info, args, "--amount");
    const { account, route, close } = await accountRoute(hre, chain, args);
    try {
      progress(`paying ${args.amount} ${info.symbol} to ${to} from ${account}`);
      return await payFromAccount({ account, token: asset, to, amount }, route);
    } finally {
      await close();
    }
  });
}
