import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { makerBatch, publishBatch, readBatchEntries } from "../../src/client/index.js";
import { InvalidInputError } from "../../src/protocol/index.js";
import { connect, progress, readJson, run, writeJson, type ChainArgs } from "../common.js";

interface Args extends ChainArgs {
  input: string;
  model: number;
  out: string;
  publish: boolean;
  uri: string;
}

export default async function makerBatchTask(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    if (args.input === "" || args.out === "") {
      throw new InvalidInputError("--input <devices.json> and --out <manifest.json> are required");
    }
    const entries = readBatchEntries(
      await readJson(args.input, "devices file"),
      args.model < 0 ? undefined : args.model,
    );
    const manifest = makerBatch(entries);
    await writeJson(args.out, manifest);
    progress(
      `manifest of ${String(manifest.size)} devices written to ${args.out} (root ${manifest.root})`,
    );
    const summary = { root: manifest.root, size: manifest.size, manifest: args.out };
    if (!args.publish) return { ...summary, published: false };
    const published = await publishBatch((await connect(hre, args)).registry, manifest, args.uri);
    return {
      ...summary,
      published: true,
      maker: published.maker,
      txHash: published.txHash,
      gasUsed: published.gasUsed,
    };
  });
}
