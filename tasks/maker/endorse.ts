import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { makerEndorse, toKeyType } from "../../src/client/index.js";
import { InvalidInputError, deviceIdOf, deviceKey } from "../../src/protocol/index.js";
import { connect, progress, readJson, run, writeJson, type ChainArgs } from "../common.js";

interface Args extends ChainArgs {
  deviceId: string;
  keyFile: string;
  model: number;
  out: string;
}

export default async function makerEndorseTask(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    if ((args.deviceId === "") === (args.keyFile === "")) {
      throw new InvalidInputError(
        "give exactly one of --device-id <id> or --key-file <file> (its public part is read, no password needed)",
      );
    }
    if (args.model < 0)
      throw new InvalidInputError("--model is required: the device model the maker vouches for");
    let id = args.deviceId;
    if (args.keyFile !== "") {
      const file = (await readJson(args.keyFile, "key file")) as {
        deviceKey?: { keyType?: unknown; key?: unknown };
      };
      const k = file.deviceKey;
      if (typeof k?.keyType !== "number" || typeof k.key !== "string") {
        throw new InvalidInputError(
          `${args.keyFile} holds no deviceKey: pass a DeviceTrust key file (device keygen)`,
        );
      }
      id = deviceIdOf(deviceKey(toKeyType(k.keyType), k.key));
    }
    const chain = await connect(hre, args);
    const endorsement = await makerEndorse(chain.registry, chain.signer, id, args.model);
    if (args.out !== "") {
      await writeJson(args.out, endorsement);
      progress(
        `endorsement written to ${args.out}: give it to the operator (device register --endorsement ${args.out})`,
      );
    }
    return endorsement;
  });
}
