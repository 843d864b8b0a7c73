import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { DeviceSigner } from "../../src/device/device-signer.js";
import {
  deviceIdOfKey,
  feedAt,
  feedCall,
  feedIdOf,
  openKeyStore,
  registryDomain,
} from "../../src/client/index.js";
import { simulateFleet, type FleetWait } from "../../src/gateway/index.js";
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
 * (--key-files, resuming after their last sequence and reading in the feed). Readings are dated by
 * the chain's clock: the latest block's time at the start plus the wall-clock time since, so it
 * advances even on a local chain that mines only on transactions. Honest readings keep the feed's
 * minInterval (read from the feed): a round that comes sooner waits for it, and says so on stderr,
 * so the feed never quarantines an honest simulated device; the injections do not wait. Prints the
 * counts.
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
    let previousTimestamp: ((deviceId: Hex) => bigint | undefined) | undefined;
    // No contract at the address (a gateway without a chain feed): nothing to keep, nothing to resume.
    const feed =
      (await chain.ethers.provider.getCode(feedAddress)) === "0x"
        ? undefined
        : feedAt(feedAddress, chain.signer);
    const minInterval = feed === undefined ? 0n : (await feedCall(() => feed.config())).minInterval;
    if (feed === undefined) {
      progress(`fleet: no contract at the feed address ${feedAddress}: readings are not paced`);
    }
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
      const timestamps = new Map<Hex, bigint>();
      const members = new Set((await feed?.members())?.map((id) => id.toLowerCase()));
      for (const path of files) {
        const store = await openKeyStore({ keystore: "file", path: path.trim(), password });
        const deviceId = await deviceIdOfKey(chain.registry, store);
        signers.push(new DeviceSigner(store, domain, deviceId));
        const used = feed === undefined ? 0n : await feed.sequenceOf(deviceId);
        sequences.set(deviceId, used + 1n);
        // A member's latest reading (0: none yet) is where its minInterval runs from.
        if (feed !== undefined && members.has(deviceId.toLowerCase())) {
          const { timestamp } = await feed.slotOf(deviceId);
          if (timestamp !== 0n) timestamps.set(deviceId, timestamp);
        }
      }
      firstSequence = (id) => sequences.get(id) ?? 1n;
      previousTimestamp = (id) => timestamps.get(id);
    } else if (args.devices < 1) {
      throw new InvalidInputError("--devices must be at least 1 (or give --key-files)");
    }
    const latest = await chain.ethers.provider.getBlock("latest");
    if (latest === null) throw new InvalidInputError("the node returned no latest block");
    const base = BigInt(latest.timestamp);
    const started = Date.now();
    progress(
      `fleet: ${String(signers?.length ?? args.devices)} devices → ${args.broker}, feed ${feedId}` +
        (minInterval > 0n ? `, ${minInterval.toString()} s between readings of a device` : ""),
    );
    // One line per round that waits (its first wait), not one per device.
    let waited: number | undefined | null = null;
    const onWait = (w: FleetWait) => {
      if (w.round === waited) return;
      waited = w.round;
      const which =
        w.round === undefined ? "the clone's honest reading" : `round ${String(w.round + 1)}`;
      progress(
        `fleet: ${which} waits for the feed's minInterval (${w.minInterval.toString()} s): device ${String(w.device)} is due at ${w.due.toString()}, the clock is at ${w.clock.toString()}`,
      );
    };
    return simulateFleet({
      brokerUrl: args.broker,
      feedId,
      ...(signers === undefined ? { count: args.devices, curve, domain } : { signers }),
      ...(firstSequence === undefined ? {} : { firstSequence }),
      ...(previousTimestamp === undefined ? {} : { previousTimestamp }),
      clock: () => base + BigInt(Math.floor((Date.now() - started) / 1000)),
      minInterval,
      onWait,
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
