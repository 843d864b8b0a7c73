import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  openKeyStore,
  registerDevice,
  type EndorsementProof,
  type Endorsement,
  type ManifestFile,
} from "../../src/client/index.js";
import { InvalidInputError, deviceIdOf, type Hex } from "../../src/protocol/index.js";
import {
  connect,
  keyStoreOptions,
  progress,
  readJson,
  run,
  type ChainArgs,
  type KeyArgs,
} from "../common.js";

interface Args extends ChainArgs, KeyArgs {
  operator: string;
  model: number;
  endorsement: string;
  manifest: string;
  deadline: number;
}

export default async function deviceRegister(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    if ((args.endorsement === "") === (args.manifest === "")) {
      throw new InvalidInputError(
        "give exactly one of --endorsement <file> (maker endorse) or --manifest <file> (maker batch)",
      );
    }
    const chain = await connect(hre, args);
    const keyStore = await openKeyStore(await keyStoreOptions(hre, args));
    try {
      const deviceId = deviceIdOf(keyStore.deviceKey);
      let endorsement: EndorsementProof;
      let model = args.model;
      if (args.endorsement !== "") {
        const e = (await readJson(args.endorsement, "endorsement")) as Endorsement;
        if (e.deviceId.toLowerCase() !== deviceId) {
          throw new InvalidInputError(
            `the endorsement is for device ${e.deviceId}, but the key is device ${deviceId}: use that device's endorsement`,
          );
        }
        if (model < 0) model = e.model;
        endorsement = { maker: e.maker, signature: e.signature };
      } else {
        const m = (await readJson(args.manifest, "manifest")) as ManifestFile;
        const entry = m.entries.find((x) => x.deviceId.toLowerCase() === deviceId);
        if (entry === undefined)
          throw new InvalidInputError(
            `device ${deviceId} is not in the manifest ${args.manifest}: use its batch's manifest`,
          );
        if (model < 0) model = entry.model;
        endorsement = { root: m.root, proof: entry.proof };
      }
      const latest = await chain.ethers.provider.getBlock("latest");
      const deadline =
        BigInt(latest?.timestamp ?? Math.floor(Date.now() / 1000)) + BigInt(args.deadline);
      const operator = (args.operator === "" ? chain.signer.address : args.operator) as Hex;
      progress(`registering device ${deviceId} for operator ${operator} (model ${String(model)})`);
      return await registerDevice({
        registry: chain.registry,
        device: keyStore,
        operator,
        deadline,
        model,
        endorsement,
      });
    } finally {
      await keyStore.close();
    }
  });
}
