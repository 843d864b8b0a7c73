import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { firmwareSignaturesAt, listFirmware } from "../../src/client/index.js";
import { connect, optionalContract, run, type ChainArgs } from "../common.js";

interface Args extends ChainArgs {
  maker: number;
  model: number;
  fromBlock: number;
  firmwareSignatures: string;
}

export default async function firmwareList(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const chain = await connect(hre, args);
    // FirmwareSignatures: --firmware-signatures, else the deployment's; none: the list says nothing of PQ.
    const signatures = await optionalContract(
      chain,
      "FirmwareSignatures",
      "--firmware-signatures",
      args.firmwareSignatures,
    );
    const list = await listFirmware(chain.registry, {
      maker: args.maker > 0 ? args.maker : undefined,
      model: args.model >= 0 ? args.model : undefined,
      fromBlock: args.fromBlock,
      signatures:
        signatures === undefined ? undefined : firmwareSignaturesAt(signatures, chain.registry),
    });
    // The table shows one line per firmware; --json keeps the image digests.
    return args.json ? list : list.map(({ imageDigests: _digests, ...rest }) => rest);
  });
}
