import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { applyDueChanges, operatorCall, proposePolicyChange } from "../../src/client/index.js";
import { InvalidInputError, asHex } from "../../src/protocol/index.js";
import { connect, progress, run } from "../common.js";
import {
  accountArg,
  accountRoute,
  amountArg,
  assetArg,
  assetInfo,
  type RouteArgs,
} from "./connect.js";

interface Args extends RouteArgs {
  asset: string;
  counterparty: string;
  periodCap: string;
  perCallCap: string;
  period: number;
  velocityWindow: number;
  remove: boolean;
  apply: boolean;
  unlock: boolean;
  cancel: string;
}

export default async function accountPolicy(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const chosen = [args.apply, args.unlock, args.cancel !== ""].filter(Boolean).length;
    if (chosen > 1) throw new InvalidInputError("give one of --apply, --unlock and --cancel");
    const chain = await connect(hre, args);
    const provider = chain.ethers.provider;
    if (args.apply) {
      const account = accountArg(args.account);
      progress(`applying the due changes of ${account} from ${chain.signer.address}`);
      return applyDueChanges(provider, account, chain.signer);
    }
    if (args.unlock || args.cancel !== "") {
      const account = accountArg(args.account);
      return operatorCall(
        provider,
        account,
        chain.signer,
        args.unlock ? { unlock: true } : { cancel: asHex(args.cancel, "--cancel", 32) },
      );
    }
    const token = assetArg(args.asset);
    const info = await assetInfo(chain, token);
    const limits = args.remove
      ? undefined
      : {
          periodCap: amountArg(args.periodCap, info, args, "--period-cap"),
          perCallCap:
            args.perCallCap === ""
              ? undefined
              : amountArg(args.perCallCap, info, args, "--per-call-cap"),
          period: BigInt(args.period),
          velocityWindow: BigInt(args.velocityWindow),
        };
    const { account, route, close } = await accountRoute(hre, chain, args, false);
    try {
      progress(
        `proposing ${args.remove ? "to remove" : "new limits for"} ${args.counterparty === "" ? info.symbol : `counterparty ${args.counterparty} of ${info.symbol}`} (high threshold; applies after the account's delay)`,
      );
      return await proposePolicyChange(
        {
          account,
          token,
          counterparty:
            args.counterparty === "" ? undefined : asHex(args.counterparty, "--counterparty", 20),
          remove: args.remove,
          limits,
        },
        route,
      );
    } finally {
      await close();
    }
  });
}
