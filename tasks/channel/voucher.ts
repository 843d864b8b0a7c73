import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  acceptChannelVoucher,
  deviceIdOfKey,
  openKeyStore,
  requireChannelTerms,
  signChannelVoucher,
} from "../../src/client/index.js";
import { parseVoucherFile } from "../../src/payments/index.js";
import {
  connect,
  keyStoreOptions,
  progress,
  readJson,
  run,
  writeJson,
  type Chain,
  type KeyArgs,
  type WeiArgs,
} from "../common.js";
import { amountArg, assetInfo } from "../account/connect.js";
import {
  channelArg,
  connectChannels,
  openSellerStore,
  type ChannelArgs,
  type VoucherDirArgs,
} from "./connect.js";
import type { PaymentChannel } from "../../src/client/index.js";

interface Args extends ChannelArgs, KeyArgs, VoucherDirArgs, WeiArgs {
  channel: string;
  amount: string;
  out: string;
  accept: string;
}

/** The buyer's device signs a voucher (--channel, --amount); the seller checks and stores one (--accept). */
export default async function channelVoucher(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const chain = await connect(hre, args);
    const channels = await connectChannels(hre, chain, args);
    return args.accept === ""
      ? signVoucher(hre, chain, channels, args)
      : acceptVoucher(chain, channels, args);
  });
}

async function signVoucher(
  hre: HardhatRuntimeEnvironment,
  chain: Chain,
  channels: PaymentChannel,
  args: Args,
) {
  const channel = channelArg(args.channel);
  const terms = await requireChannelTerms(channels, channel);
  const amount = amountArg(args.amount, await assetInfo(chain, terms.token), args, "--amount");
  const keyStore = await openKeyStore(await keyStoreOptions(hre, args));
  try {
    const deviceId = await deviceIdOfKey(chain.registry, keyStore);
    progress(
      `device ${deviceId} signs a voucher for ${args.amount} in total on channel ${channel}`,
    );
    const signed = await signChannelVoucher({
      channels,
      keyStore,
      deviceId,
      channel,
      cumulativeAmount: amount,
      dir: args.vouchersDir,
    });
    if (args.out !== "") {
      await writeJson(args.out, signed.voucher);
      progress(`wrote ${args.out}: send it to the seller (channel voucher --accept ${args.out})`);
    }
    return { ...signed.voucher, record: signed.record, file: args.out === "" ? null : args.out };
  } finally {
    await keyStore.close();
  }
}

async function acceptVoucher(chain: Chain, channels: PaymentChannel, args: Args) {
  const voucher = parseVoucherFile(await readJson(args.accept, "voucher file"), args.accept);
  const store = await openSellerStore(chain, channels, args.vouchersDir);
  try {
    const accepted = await acceptChannelVoucher({ channels, store, voucher });
    progress(
      `accepted ${accepted.cumulativeAmount.toString()} on channel ${accepted.channel} (+${accepted.increment.toString()})`,
    );
    return accepted;
  } finally {
    store.close();
  }
}
