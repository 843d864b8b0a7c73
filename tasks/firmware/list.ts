import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  firmwareSignaturesAt,
  listFirmware,
  resolveDeployedAddress,
} from "../../src/client/index.js";
import type { Hex } from "../../src/protocol/index.js";
import { connect, resolveContract, run, type Chain, type ChainArgs } from "../common.js";

interface Args extends ChainArgs {
  maker: number;
  model: number;
  fromBlock: number;
  firmwareSignatures: string;
}

/** FirmwareSignatures: --firmware-signatures, else the deployment's if it has one, else none. */
async function signaturesAddress(chain: Chain, explicit: string): Promise<Hex | undefined> {
  if (explicit !== "") {
    return resolveContract(chain, "FirmwareSignatures", "--firmware-signatures", explicit);
  }
  try {
    return await resolveDeployedAddress({
      ...chain.deployment,
      contract: "FirmwareSignatures",
      option: "--firmware-signatures",
    });
  } catch {
    return undefined; // no deployment with one: the list says nothing of PQ signatures
  }
}

export default async function firmwareList(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const chain = await connect(hre, args);
    const signatures = await signaturesAddress(chain, args.firmwareSignatures);
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
