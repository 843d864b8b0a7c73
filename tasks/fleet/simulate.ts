import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { DeviceSigner } from "../../src/device/device-signer.js";
import {
  deviceIdOfKey,
  feedAt,
  feedIdOf,
  openKeyStore,
  registryDomain,
} from "../../src/client/index.js";
import { simulateFleet } from "../../src/gateway/index.js";
import { InvalidInputError, parseCurve, type Curve, type Hex } from "../../src/protocol/index.js";
import { connect, progress, run, secret } from "../common.js";
import type { ChainArgs } from "../common.js";
import { PASSWORD_ENV } from "../../src/client/index.js";
import { feedAddressArg } from "../feed/connect.js";

interface Args extends ChainArgs {
  broker: string;
  feed: string;
  devices: number;
  curve: string;
  keyFiles: string;
  password: string;
  rounds: number;
  rate: number;
  batchSize: number;
  connections: number;
  value: bigint;
  step: bigint;
  clone: number;
  outOfBounds: number;
  outOfBoundsValue: bigint;
  burst: number;
  burstReadings: number;
  burstJumpBps: number;
}

/**
 * Simulates a device fleet against a broker: fresh devices (--devices, --curve) or registered ones
 * (--key-files, resuming after their last sequence in the feed). Readings are dated by the chain's
 * clock, so a feed on this network accepts them. Prints the counts.
 */
export default async function fleetSimulate(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const feedAddress = feedAddressArg(args.feed);
    const feedId = feedIdOf(feedAddress);
    const chain = await connect(hre, args);
    const domain = await registryDomain(chain.registry);
    const curve: Curve | "both" = args.curve === "both" ? "both" : parseCurve(args.curve);
    const files = args.keyFiles.split(",").filter((f) => f.trim() !== "");
    let signers: DeviceSigner[] | undefined;
    let firstSequence: ((deviceId: Hex) => bigint) | undefined;
    if (files.length > 0) {
      const password = await secret(
        hre,
        args.password,
        PASSWORD_ENV,
        "key file password",
        "--password",
      );
      signers = [];
      const sequences = new Map<Hex, bigint>();
      const isFeed = (await chain.ethers.provider.getCode(feedAddress)) !== "0x";
      for (const path of files) {
        const store = await openKeyStore({ keystore: "file", path: path.trim(), password });
        const deviceId = await deviceIdOfKey(chain.registry, store);
        signers.push(new DeviceSigner(store, domain, deviceId));
        const used = isFeed ? await feedAt(feedAddress, chain.signer).sequenceOf(deviceId) : 0n;
        sequences.set(deviceId, used + 1n);
      }
      firstSequence = (id) => sequences.get(id) ?? 1n;
    } else if (args.devices < 1) {
      throw new InvalidInputError("--devices must be at least 1 (or give --key-files)");
    }
    const latest = await chain.ethers.provider.getBlock("latest");
    if (latest === null) throw new InvalidInputError("the node returned no latest block");
    const base = BigInt(latest.timestamp);
    const started = Date.now();
    progress(
      `fleet: ${String(signers?.length ?? args.devices)} devices → ${args.broker}, feed ${feedId}`,
    );
    return simulateFleet({
      brokerUrl: args.broker,
      feedId,
      ...(signers === undefined ? { count: args.devices, curve, domain } : { signers }),
      ...(firstSequence === undefined ? {} : { firstSequence }),
      clock: () => base + BigInt(Math.floor((Date.now() - started) / 1000)),
      value: (device) => args.value + BigInt(device) * args.step,
      connections: args.connections,
      rounds: args.rounds,
      rate: args.rate,
      batchSize: args.batchSize,
      clones: args.clone,
      outOfBounds: args.outOfBounds,
      outOfBoundsValue: args.outOfBoundsValue,
      bursts: args.burst,
      burstReadings: args.burstReadings,
      burstJumpBps: args.burstJumpBps,
    });
  });
}
