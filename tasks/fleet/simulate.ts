import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { DeviceSigner } from "../../src/device/device-signer.js";
import { SigningRecordBehindError } from "../../src/device/signing-record-errors.js";
import { SigningRecord, signingRecordPath } from "../../src/device/signing-record.js";
import {
  checkKeyFileDeviceId,
  deviceIdOfKey,
  passwordsFromFile,
  feedAt,
  feedCall,
  feedIdOf,
  openKeyStore,
  parseDecimal,
  registryDomain,
} from "../../src/client/index.js";
import { checkHonestValues, simulateFleet, type FleetWait } from "../../src/gateway/index.js";
import { InvalidInputError, parseCurve, type Curve, type Hex } from "../../src/protocol/index.js";
import { connect, progress, readText, run, secret } from "../common.js";
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
  passwordFile: string;
  signingRecords: string;
  rounds: number;
  rate: number;
  batchSize: number;
  connections: number;
  /** Signed decimals in the feed's units (its decimals): " -40.5", "21.5". */
  value: string;
  /** "": 0.01, or the feed's smallest step if that is coarser. */
  step: string;
  clone: number;
  outOfBounds: number;
  /** "": the simulator's own (10^30 base units, beyond any sensor). */
  outOfBoundsValue: string;
  burst: number;
  burstReadings: number;
  burstJumpBps: number;
}

/** One password per key file: from --password-file, else --password (or its fallbacks) for all. */
async function keyFilePasswords(
  hre: HardhatRuntimeEnvironment,
  args: Pick<Args, "password" | "passwordFile">,
  files: readonly string[],
): Promise<string[]> {
  if (args.passwordFile !== "" && args.password !== "") {
    throw new InvalidInputError("give either --password or --password-file, not both");
  }
  if (args.passwordFile !== "") {
    const text = await readText(args.passwordFile, "password file");
    return passwordsFromFile(text, files, `password file ${args.passwordFile}`);
  }
  const password = await secret(
    hre,
    args.password,
    PASSWORD_ENV,
    "key file password",
    "--password",
  );
  return files.map(() => password);
}

/** Decimals assumed for a feed address that holds no contract: feed create's default. */
const UNKNOWN_FEED_DECIMALS = 8;

/** --value, --step and --out-of-bounds-value as the feed's integers (scaled by its decimals). */
function fleetValues(
  args: Pick<Args, "value" | "step" | "outOfBoundsValue">,
  decimals: number,
): { value: bigint; step: bigint; outOfBoundsValue: bigint | undefined } {
  return {
    value: parseDecimal(args.value, decimals, "--value"),
    step:
      args.step.trim() === ""
        ? 10n ** BigInt(Math.max(decimals - 2, 0))
        : parseDecimal(args.step, decimals, "--step"),
    outOfBoundsValue:
      args.outOfBoundsValue.trim() === ""
        ? undefined
        : parseDecimal(args.outOfBoundsValue, decimals, "--out-of-bounds-value"),
  };
}

/**
 * Simulates a device fleet against a broker: fresh devices (--devices, --curve) or registered ones
 * (--key-files). A registered device signs through its signing record, kept under --signing-records
 * (<chainId>-<registry>/<deviceId>.sqlite): its readings are numbered from the record (the highest
 * sequence it ever signed + 1), never from the feed, so a run after one whose readings the feed refused
 * moves on instead of signing other readings with the same sequences. The feed is only asked whether
 * it holds a sequence the record does not know (a missing or stale record): then nothing is signed
 * (SigningRecordBehindError). Fresh devices keep their records in memory: their keys die with the run.
 * A --clone is a second device with the same key and its own empty record. Readings are dated by
 * the chain's clock: the latest block's time at the start plus the wall-clock time since, so it
 * advances even on a local chain that mines only on transactions. Honest readings keep the feed's
 * minInterval (read from the feed): a round that comes sooner waits for it, and says so on stderr,
 * so the feed never quarantines an honest simulated device; the injections do not wait. Prints the
 * counts.
 */
export default async function fleetSimulate(args: Args, hre: HardhatRuntimeEnvironment) {
  const records: SigningRecord[] = [];
  return run(args, async () => {
    const feedAddress = feedAddressArg(args.feed);
    const feedId = feedIdOf(feedAddress);
    const chain = await connect(hre, args);
    const domain = await registryDomain(chain.registry);
    const curve: Curve | "both" = args.curve === "both" ? "both" : parseCurve(args.curve);
    const files = args.keyFiles
      .split(",")
      .map((f) => f.trim())
      .filter((f) => f !== "");
    let signers: DeviceSigner[] | undefined;
    let previousTimestamp: ((deviceId: Hex) => bigint | undefined) | undefined;
    // No contract at the address (a gateway without a chain feed): nothing to keep, nothing to resume.
    const feed =
      (await chain.ethers.provider.getCode(feedAddress)) === "0x"
        ? undefined
        : feedAt(feedAddress, chain.signer);
    const config = feed === undefined ? undefined : await feedCall(() => feed.config());
    const minInterval = config?.minInterval ?? 0n;
    const decimals = config === undefined ? UNKNOWN_FEED_DECIMALS : Number(config.decimals);
    const values = fleetValues(args, decimals);
    if (config !== undefined && args.rounds > 0) {
      const count = files.length > 0 ? files.length : Math.max(args.devices, 1);
      checkHonestValues(values.value, values.step, count, {
        minValue: config.minValue,
        maxValue: config.maxValue,
        decimals,
      });
    }
    if (feed === undefined) {
      progress(
        `fleet: no contract at the feed address ${feedAddress}: readings are not paced, values are read with ${String(decimals)} decimals`,
      );
    }
    if (files.length > 0) {
      const passwords = await keyFilePasswords(hre, args, files);
      signers = [];
      const timestamps = new Map<Hex, bigint>();
      const members = new Set((await feed?.members())?.map((id) => id.toLowerCase()));
      progress(`fleet: signing records under ${args.signingRecords}`);
      for (const [i, path] of files.entries()) {
        const store = await openKeyStore({ keystore: "file", path, password: passwords[i] });
        const deviceId = await checkKeyFileDeviceId(
          path,
          await deviceIdOfKey(chain.registry, store),
        );
        const record = SigningRecord.open(
          signingRecordPath(args.signingRecords, { domain, deviceId }),
          { domain, deviceId },
        );
        records.push(record);
        signers.push(new DeviceSigner(store, domain, deviceId, record));
        // The chain only checks the record: a sequence the feed took and the record never saw means
        // the record is not this device's whole history, and the next one could conflict.
        const onChain = feed === undefined ? 0n : await feed.sequenceOf(deviceId);
        const next = record.nextSequence(feedId);
        if (onChain >= next) {
          throw new SigningRecordBehindError(record.path, deviceId, feedId, onChain, next - 1n);
        }
        // A member's latest reading (0: none yet) is where its minInterval runs from.
        if (feed !== undefined && members.has(deviceId.toLowerCase())) {
          const { timestamp } = await feed.slotOf(deviceId);
          if (timestamp !== 0n) timestamps.set(deviceId, timestamp);
        }
      }
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
      ...(previousTimestamp === undefined ? {} : { previousTimestamp }),
      clock: () => base + BigInt(Math.floor((Date.now() - started) / 1000)),
      minInterval,
      onWait,
      value: (device) => values.value + BigInt(device) * values.step,
      connections: args.connections,
      rounds: args.rounds,
      rate: args.rate,
      batchSize: args.batchSize,
      clones: args.clone,
      outOfBounds: args.outOfBounds,
      ...(values.outOfBoundsValue === undefined
        ? {}
        : { outOfBoundsValue: values.outOfBoundsValue }),
      bursts: args.burst,
      burstReadings: args.burstReadings,
      burstJumpBps: args.burstJumpBps,
    });
  }).finally(() => {
    for (const r of records) r.close();
  });
}
