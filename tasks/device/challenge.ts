import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { fetchChallenge } from "../../src/client/index.js";
import { asHex } from "../../src/protocol/index.js";
import { connect, run, type ChainArgs } from "../common.js";

interface Args extends ChainArgs {
  deviceId: string;
}

/** Issues a single-use nonce for the device's next evidence (a PSA token must carry one). */
export default async function deviceChallenge(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const deviceId = asHex(args.deviceId, "--device-id", 32);
    const chain = await connect(hre, args);
    const issued = await fetchChallenge(chain.registry, deviceId, "nonce");
    return {
      deviceId,
      challenge: issued.challenge,
      issuedAt: issued.timestamp,
      gasUsed: issued.gasUsed,
    };
  });
}
