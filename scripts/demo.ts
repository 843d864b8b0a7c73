/**
 * `npm run demo`: the whole DeviceTrust story on an in-process chain, end to end, in under a minute.
 *
 * A maker endorses seven sensors (one key inside SoftHSM2 when it is installed) and publishes their
 * firmware; an operator registers them, they boot and attest, and the operator stakes for each. The
 * operator opens a temperature feed (it operates every sensor, so adding one is its consent: each joins
 * at once) and allocates each sensor's stake to the insurance pool for the feed; the sensors stream signed
 * readings over MQTT (an embedded broker) to the gateway, which verifies, persists and relays them to the
 * feed, mirroring every message to a watchtower. An integrator reads the feed as a Chainlink aggregator,
 * checks its security report and buys coverage from the insurance pool, which insurers fund. A hostile
 * sensor reporting too fast is quarantined while the feed keeps committing rounds from the others; it
 * attests again, waits out its cool-off and is readmitted. Once the policy's waiting period has passed, an
 * attacker clones one sensor's key and the clone publishes a conflicting reading: the watchtower, fed by
 * the gateway, proves the equivocation on chain; in that one transaction the stake is slashed, the sensor
 * locked down, the watchtower paid its bounty, and the rest of the stake paid to the pool, which books the
 * sensor's exposure as a liability and the recovery against it. The integrator's feed policy pays that
 * sensor's share. A closing table shows every party's balance before and after.
 * Then machine accounts (scripts/demo-accounts.ts): a vehicle's ERC-4337 DeviceAccount, created by its first
 * UserOperation, opens a payment channel to an EV charger inside its spending policy and pays per kWh with
 * vouchers its device signs; the charger's operator closes with the latest one. A clone of the vehicle's key
 * is refused by the allow-list, then trips the velocity breaker; its equivocation is proven on chain, the
 * vehicle slashed and suspended, and the account freezes for its key while the operator's still works.
 * UserOperations go through a real bundler (@pimlico/alto, reading the in-process chain through a loopback
 * JSON-RPC bridge), or to EntryPoint.handleOps from a wallet where alto cannot start (said in the output).
 * `npm run demo:identity` tells the identity and attestation layers in more detail.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatUnits, parseUnits } from "ethers";
import { network } from "hardhat";
import { pino } from "pino";
import { buildDeviceTrustModule } from "../deploy/modules/DeviceTrust.js";
import { formatTable } from "../src/bench/report.js";
import {
  INCIDENT_KINDS,
  addFeedDevices,
  addMaker,
  attestDevice,
  ANOMALY_NAMES,
  ContractError,
  collateralTokenAt,
  coverBuy,
  coverClaim,
  createFeed,
  memberShare,
  feedAt,
  feedFactoryAt,
  makerBatch,
  poolAt,
  parseTarget,
  poolDeposit,
  proofsAt,
  publishFirmware,
  readFeed,
  readFeedRound,
  readmitFeedMember,
  registerDevice,
  registryDomain,
  securityReport,
  stakeAllocate,
  stakeDeposit,
  stakingAt,
  statusName,
  tripReasonName,
  type DeviceRegistry,
} from "../src/client/index.js";
import { DeviceSigner, SoftwareKeyStore, type KeyStore } from "../src/device/index.js";
import { Pkcs11KeyStore } from "../src/device/pkcs11-key-store.js";
import {
  createSoftHsmToken,
  softHsmStatus,
  type SoftHsmToken,
} from "../src/device/softhsm-token.js";
import { Fleet } from "../src/gateway/index.js";
import { runGateway, type RunningGateway } from "../src/app/index.js";
import { runConsole, type RunningConsole } from "../src/console/index.js";
import { deviceIdOf, type Curve, type Hex } from "../src/protocol/index.js";
import { MockERC20__factory } from "../types/ethers-contracts/index.js";
import { machineAccountsChapter } from "./demo-accounts.js";
import { gas, out, say, short, step } from "./story.js";
const MODEL = 4201;
const DEVICES = 7;
/** Each sensor's bond and the token's unit: a dollar stablecoin with 18 decimals. */
const STAKE = parseUnits("100", 18);
const usd = (v: bigint): string => `${Number(formatUnits(v, 18)).toFixed(2)} USD`;
/** 21.50 °C in the feed's 8 decimals, each sensor's calibration offset, and a slow warming per round. */
const BASE_VALUE = 2_150_000_000n;
const valueOf = (device: number, round = 0): bigint =>
  BASE_VALUE + BigInt(device) * 1_000_000n + BigInt(round) * 1_000_000n;
/** The feed's heartbeat and a quarantined sensor's cool-off, in seconds. */
const HEARTBEAT = 60n;
const COOL_OFF = 3_600n;

const celsius = (v: bigint): string => `${(Number(v) / 1e8).toFixed(2)} °C`;

const started = Date.now();
const conn = await network.create();
const { ethers, ignition, networkHelpers } = conn;
const [
  governance,
  maker,
  operator,
  integrator,
  insurerA,
  insurerB,
  watcher,
  relayer,
  chargerOperator,
  handleOpsWallet,
] = await ethers.getSigners();
if (
  governance === undefined ||
  maker === undefined ||
  operator === undefined ||
  integrator === undefined ||
  insurerA === undefined ||
  insurerB === undefined ||
  watcher === undefined ||
  relayer === undefined ||
  chargerOperator === undefined ||
  handleOpsWallet === undefined
) {
  throw new Error("the in-process network has fewer than ten accounts");
}

interface Sensor {
  readonly name: string;
  readonly curve: Curve;
  readonly storeName: string;
  readonly keyStore: KeyStore;
  readonly deviceId: Hex;
}

out(
  "DeviceTrust demo — from a sensor's hardware key to an insurance payout, on an in-process chain",
);

let hsm: SoftHsmToken | undefined;
let workDir: string | undefined;
let gateway: RunningGateway | undefined;
let fleet: Fleet | undefined;
let fleetConsole: RunningConsole | undefined;
/** `npm run demo -- --serve` (scripts/demo-run.mjs sets it): keep the console open at the end. */
const SERVE = process.env.DEVICETRUST_DEMO_SERVE === "1";
const CONSOLE_PORT = 8547;
let stopServing: (() => void) | undefined;
const sensors: Sensor[] = [];
// Stopped by a signal (Ctrl-C, or a tool that stops the demo after its first line), `finally` never runs:
// the scratch folder and the SoftHSM token go here instead.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    // Serving at the end (--serve): Ctrl-C ends the wait, and `finally` cleans up.
    if (stopServing !== undefined) {
      stopServing();
      return;
    }
    for (const dir of [workDir, hsm?.dir])
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    process.exit(signal === "SIGINT" ? 130 : 143);
  });
}
try {
  workDir = await mkdtemp(join(tmpdir(), "devicetrust-demo-"));
  const dir = workDir;

  // ---------------------------------------------------------------- deployment
  step("Deploy the system with Ignition (deploy/modules/DeviceTrust.ts)");
  const deployed = await ignition.deploy(
    buildDeviceTrustModule({ collateral: "mock", handover: false }),
    {
      parameters: { DeviceStaking: { minStake: STAKE, bountyBps: 1000n } },
    },
  );
  const registry = deployed.deviceRegistry as unknown as DeviceRegistry;
  const registryAddress = await registry.getAddress();
  const tokenAddress = await deployed.collateralToken.getAddress();
  const stakingAddress = await deployed.deviceStaking.getAddress();
  const proofsAddress = await deployed.fraudProofs.getAddress();
  const factoryAddress = await deployed.deviceFeedFactory.getAddress();
  const anchorAddress = await deployed.readingAnchor.getAddress();
  const poolAddress = await deployed.insurancePool.getAddress();
  say(`DeviceRegistry ${registryAddress} (identity + attestation)`);
  say(`DeviceStaking ${stakingAddress}, FraudProofs ${proofsAddress}`);
  say(`DeviceFeedFactory ${factoryAddress}, ReadingAnchor ${anchorAddress}`);
  say(`InsurancePool ${poolAddress} (ERC-4626 over the stablecoin ${tokenAddress})`);

  const staking = stakingAt(stakingAddress, governance);
  if (!(await staking.isBacker(poolAddress))) throw new Error("the pool is not an approved backer");
  const poolParams = await poolAt(poolAddress, governance).params();
  const bountyBps = (await staking.params()).bountyBps;
  say(
    `governance approved the pool as a backer in staking: operators may allocate stake to it, and it sells ` +
      `coverage only against such allocations (cover factor ${String(Number(poolParams.coverFactorBps) / 100)}%, ` +
      `plus the ${String(Number(bountyBps) / 100)}% bounty: below 100%, so a lie always costs more than it can collect)`,
  );

  const token = MockERC20__factory.connect(tokenAddress, governance);
  for (const who of [operator, integrator, insurerA, insurerB]) {
    await (await token.mint(who.address, parseUnits("10000", 18))).wait();
  }
  say("the operator, the integrator and two insurers hold 10,000 USD each (a mock stablecoin)");
  /** What each party holds: its wallet, plus the operator's stake and the insurers' shares' value. */
  const holdings = async (): Promise<[string, bigint][]> => {
    const pool = poolAt(poolAddress, governance);
    const sharesValue = async (who: string): Promise<bigint> =>
      pool.convertToAssets(await pool.balanceOf(who));
    let staked = 0n;
    for (const s of sensors) staked += await staking.slashableOf(s.deviceId);
    return [
      ["operator (wallet + stake)", (await token.balanceOf(operator.address)) + staked],
      ["watchtower", await token.balanceOf(watcher.address)],
      ["integrator", await token.balanceOf(integrator.address)],
      [
        "insurer A (wallet + shares)",
        (await token.balanceOf(insurerA.address)) + (await sharesValue(insurerA.address)),
      ],
      [
        "insurer B (wallet + shares)",
        (await token.balanceOf(insurerB.address)) + (await sharesValue(insurerB.address)),
      ],
      ["pool (booked assets)", await pool.totalAssets()],
      ["pool (unearned: premium, recovery)", await pool.unearned()],
    ];
  };
  const before = await holdings();

  // ---------------------------------------------------------------- maker
  step(`A maker endorses ${String(DEVICES)} sensors and publishes their firmware`);
  const added = await addMaker(registry.connect(governance), maker.address, "Acme Sensors");
  say(`governance adds maker #${String(added.maker)} "Acme Sensors"`);
  const hsmStatus = softHsmStatus();
  if (hsmStatus.available) {
    hsm = await createSoftHsmToken({ label: "demo-factory" });
    const keyStore = await Pkcs11KeyStore.generate({
      module: hsm.modulePath,
      tokenLabel: hsm.tokenLabel,
      pin: hsm.pin,
      label: "sensor-1",
      curve: "p256",
    });
    sensors.push({
      name: "sensor-1",
      curve: "p256",
      storeName: "SoftHSM2",
      keyStore,
      deviceId: deviceIdOf(keyStore.deviceKey),
    });
  }
  while (sensors.length < DEVICES) {
    const curve: Curve = sensors.length % 2 === 0 ? "p256" : "secp256k1";
    const keyStore = SoftwareKeyStore.generate(curve);
    sensors.push({
      name: `sensor-${String(sensors.length + 1)}`,
      curve,
      storeName: "software",
      keyStore,
      deviceId: deviceIdOf(keyStore.deviceKey),
    });
  }
  say(
    `keys: ${sensors.map((s) => `${s.name} ${s.curve === "p256" ? "P-256" : "secp256k1"}${s.storeName === "SoftHSM2" ? " in SoftHSM2" : ""}`).join(", ")}` +
      (hsmStatus.available
        ? ""
        : ` (no SoftHSM2 here: ${hsmStatus.reason}; all keys are software)`),
  );
  const manifest = makerBatch(sensors.map((s) => ({ deviceId: s.deviceId, model: MODEL })));
  await (
    await registry.connect(maker).publishBatch(manifest.root, manifest.size, "ipfs://acme/batch-7")
  ).wait();
  say(`one Merkle root ${short(manifest.root)} vouches for all ${String(manifest.size)} keys`);
  const writeImage = async (name: string, size: number): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, Buffer.concat([Buffer.from(`${name}\n`), randomBytes(size)]));
    return path;
  };
  const images = [
    await writeImage("bootloader.bin", 16 * 1024),
    await writeImage("kernel.img", 128 * 1024),
    await writeImage("app-1.0.0.bin", 64 * 1024),
  ];
  const fw = await publishFirmware({
    registry: registry.connect(maker),
    model: MODEL,
    version: "1.0.0",
    images,
    uri: "ipfs://acme/firmware/4201/1.0.0",
  });
  say(`firmware 1.0.0 measured from bootloader, kernel and application: ${short(fw.measurement)}`);

  // ---------------------------------------------------------------- operator
  step(
    "The operator registers the sensors, they boot and attest, and the operator stakes for each",
  );
  const deadline = BigInt(await networkHelpers.time.latest()) + 3600n;
  for (const s of sensors) {
    const entry = manifest.entries.find((e) => e.deviceId === s.deviceId);
    if (entry === undefined) throw new Error(`${s.name} is missing from the manifest`);
    await registerDevice({
      registry: registry.connect(operator),
      device: s.keyStore,
      operator: operator.address,
      deadline,
      model: MODEL,
      endorsement: { root: manifest.root, proof: entry.proof },
    });
    const attested = await attestDevice({
      registry: registry.connect(operator),
      device: s.keyStore,
      deviceId: s.deviceId,
      images,
      bootState: join(dir, `${s.name}.boot.json`),
      challenge: "block",
    });
    await stakeDeposit({
      staking: stakingAt(stakingAddress, operator),
      token: collateralTokenAt(tokenAddress, operator),
      deviceId: s.deviceId,
      amount: STAKE,
    });
    say(
      `${s.name} ${short(s.deviceId)}: registered (proof of key possession), attested boot #${String(attested.bootCount)} on 1.0.0, staked ${usd(STAKE)}`,
    );
  }

  // ---------------------------------------------------------------- feed and gateway
  step("The operator opens a temperature feed of the 7 sensors");
  const created = await createFeed(feedFactoryAt(factoryAddress, operator), {
    quorum: 4,
    decimals: 8,
    maxDeviationBps: 500,
    maxSpreadBps: 1_000,
    deviationThresholdBps: 50,
    heartbeat: Number(HEARTBEAT),
    maxReadingAge: 600,
    minInterval: 10,
    maxAttestationAge: 24 * 3600,
    quarantinePeriod: Number(COOL_OFF),
    maxQuarantines: 2,
    lockdown: false,
    minStake: STAKE,
    minValue: -5_000_000_000n,
    maxValue: 15_000_000_000n,
    description: "Warehouse 7 temperature (°C)",
  });
  const feed = feedAt(created.feed, operator);
  const membership = await addFeedDevices(
    feed,
    sensors.map((s) => s.deviceId),
  );
  say(
    `feed ${created.feed}: rounds of the median of fresh readings (quorum 4, readings live 10 min), committed ` +
      `every minute or on a 0.5% move; a sensor faster than one reading per 10 s, jumping over 5% from its own ` +
      `last reading or lying over 10% from the answer is quarantined (the feed answers from the others), ` +
      `and a third quarantine within 10 min trips the whole feed`,
  );
  say(
    `membership needs each device's operator's consent (others are only invited, and join themselves): ` +
      membership.note,
  );
  for (const s of sensors) {
    await stakeAllocate({
      staking: stakingAt(stakingAddress, operator),
      deviceId: s.deviceId,
      backer: poolAddress,
      feed: created.feed,
      amount: STAKE,
    });
  }
  say(
    `the operator allocates each sensor's ${usd(STAKE)} stake to the pool for this feed: each sensor's ` +
      `exposure to the pool's feed policies may reach ${usd((STAKE * poolParams.coverFactorBps) / 10_000n)}, ` +
      `and the allocation cannot leave while coverage uses it`,
  );

  step(
    "The sensors stream signed readings over MQTT; the gateway verifies, persists and relays them",
  );
  let chainNow = BigInt(await networkHelpers.time.latest());
  const tick = async (seconds: bigint): Promise<void> => {
    await networkHelpers.time.increase(seconds);
    chainNow = BigInt(await networkHelpers.time.latest());
  };
  gateway = await runGateway({
    registry: registryAddress,
    proofs: proofsAddress,
    anchor: anchorAddress,
    signer: relayer,
    brokerPort: 0,
    dbPath: join(dir, "gateway.sqlite"),
    batchSize: 16,
    batchIntervalMs: 100,
    httpPort: 0,
    watchtower: {
      httpPort: 0,
      dbPath: join(dir, "watchtower.sqlite"),
      signer: watcher,
      beneficiary: watcher.address,
    },
    handleSignals: false,
    logger: pino({ level: "error" }, pino.destination(2)),
    // The demo moves the chain's clock ahead of this machine's (readings are dated by the chain);
    // a real gateway keeps the default 30 s.
    admission: { maxClockSkewMs: 30 * 86_400_000 },
  });
  say(`embedded MQTT broker ${gateway.brokerUrl}; gateway relaying from ${short(relayer.address)}`);
  const domain = await registryDomain(registry);
  fleet = await Fleet.create({
    brokerUrl: gateway.brokerUrl,
    feedId: created.feedId,
    signers: sensors.map((s) => new DeviceSigner(s.keyStore, domain, s.deviceId)),
    clock: () => chainNow,
    value: (device, round) => valueOf(device, round),
  });
  const streamed = fleet;
  /** Waits until the feed holds every sensor's latest sequence (a quarantined sensor's are refused). */
  const relayed = async (what: string): Promise<void> => {
    await streamed.flush();
    const want = streamed.devices.map((d) => streamed.nextSequence(d) - 1n);
    for (let i = 0; ; i++) {
      const have = await Promise.all(
        sensors.map(async (s, j) =>
          (await feed.quarantineOf(s.deviceId)).since === 0n
            ? feed.sequenceOf(s.deviceId)
            : (want[j] ?? 0n),
        ),
      );
      if (have.every((h, j) => h >= (want[j] ?? 0n))) return;
      if (i > 400) throw new Error(`the gateway did not relay ${what} in time`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  for (let round = 0; round < 3; round++) {
    await streamed.publishRound();
    await relayed(`round ${String(round + 1)}`);
    if (round < 2) await tick(30n);
  }
  say(
    `3 rounds × ${String(DEVICES)} readings published (QoS 1), each verified, persisted to SQLite before its ` +
      `acknowledgement, and relayed in submitMany transactions`,
  );
  /** "round N: 21.53 °C (median of 7 fresh readings)", as getRoundData stores it. */
  const roundLine = async (roundId?: bigint): Promise<string> => {
    const r = await readFeedRound(feed, roundId);
    return `round ${String(r.roundId)}: ${celsius(r.answer)} (median of ${String(r.readings)} fresh readings)`;
  };
  say(`latestRoundData → ${await roundLine()}`);

  // ---------------------------------------------------------------- integrator and insurers
  step("Insurer A opens the pool; the integrator reads the feed, checks it and buys coverage");
  const poolAs = (who: typeof insurerA) => poolAt(poolAddress, who);
  const tokenAs = (who: typeof insurerA) => collateralTokenAt(tokenAddress, who);
  const depositA = await poolDeposit({
    pool: poolAs(insurerA),
    token: tokenAs(insurerA),
    assets: parseUnits("1000", 18),
  });
  const shareDecimals = Number(await poolAt(poolAddress, governance).decimals());
  const shares = (v: bigint): string => Number(formatUnits(v, shareDecimals)).toFixed(2);
  say(`insurer A deposits ${usd(depositA.assets)} for ${shares(depositA.shares)} shares`);
  const target = parseTarget({ feed: created.feed });
  const valueAtRisk = parseUnits("150", 18);
  const report = await securityReport(poolAs(integrator), target, valueAtRisk);
  say(
    `integrator's lending market relies on the feed for ${usd(valueAtRisk)}: cost of corruption ${usd(report.costOfCorruption)} ` +
      `(the active stake of the cheapest operators holding 4 of the 7 sensors: here the one operator, all 7), ` +
      `${String(report.operatorsToControl)} operator${report.operatorsToControl === 1n ? "" : "s"} to control the median → ${report.secure ? "secure" : "NOT secure"}`,
  );
  say(`${report.verdict}; ${report.scope}`);
  say(
    "the integrator buys coverage anyway, against what is provable: a cloned key, an out-of-range value, revoked firmware",
  );
  const cover = await coverBuy({
    pool: poolAs(integrator),
    token: tokenAs(integrator),
    target,
    amount: parseUnits("150", 18),
    term: 30n * 86_400n,
    beneficiary: integrator.address,
  });
  const k = Math.floor(sensors.length / 2) + 1;
  const share = memberShare(cover.amount, sensors.length);
  say(
    `integrator buys ${usd(cover.amount)} of coverage on the feed for 30 days: premium ${usd(cover.premium)} (policy #${String(cover.serial)}, gas ${gas(cover.gasUsed)}); ` +
      `it covers incidents from ${new Date(Number(cover.start) * 1000).toISOString()}, after the pool's ${String(Number(poolParams.waitingPeriod) / 3600)} h waiting period`,
  );
  say(
    `the policy snapshots the ${String(sensors.length)} members: a median needs ${String(k)} of them, so each proven member pays its share, ` +
      `${usd(share)} (1/${String(k)} of the policy), and ${String(k)} proven members would pay all of it`,
  );
  const depositB = await poolDeposit({
    pool: poolAs(insurerB),
    token: tokenAs(insurerB),
    assets: parseUnits("500", 18),
  });
  say(
    `insurer B deposits ${usd(depositB.assets)} for ${shares(depositB.shares)} shares, at A's price: the premium is earned over the policy's term, ` +
      `so a deposit after the sale captures nothing earned before it`,
  );

  // ---------------------------------------------------------------- quarantine
  const hostileIndex = 3;
  const hostile = sensors[hostileIndex];
  if (hostile === undefined) throw new Error("no sensor-4");
  step(
    `${hostile.name} turns hostile and reports faster than allowed: the feed quarantines it, not the whole feed`,
  );
  await tick(30n);
  await streamed.publishRound();
  await relayed("a round");
  const lastBefore = await readFeed(feed);
  const beforeId = lastBefore.roundId ?? 0n;
  await streamed.injectBurst(hostileIndex, 3, 2_000);
  for (let i = 0; (await feed.quarantineOf(hostile.deviceId)).since === 0n; i++) {
    if (i > 400) throw new Error("the burst quarantined nobody");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const [quarantined] = await feed.queryFilter(feed.filters.MemberQuarantined(hostile.deviceId));
  if (quarantined === undefined) throw new Error("no MemberQuarantined event");
  const q = quarantined.args;
  say(
    `MemberQuarantined(${hostile.name}, ${ANOMALY_NAMES[Number(q.anomaly)] ?? "?"}, reading #${String(q.sequence)} = ${celsius(q.value)}): ` +
      `its reading does not count and its later ones are refused (Quarantined); the breaker stays armed ` +
      `(tripReason ${tripReasonName(await feed.tripReason())}): one sensor's anomaly is its own`,
  );
  await tick(HEARTBEAT);
  await streamed.publishRound();
  await relayed("a round without sensor-4");
  say(
    `the feed keeps committing rounds from the other ${String(DEVICES - 1)}: latestRoundData → ${await roundLine()}`,
  );
  const attested = await attestDevice({
    registry: registry.connect(operator),
    device: hostile.keyStore,
    deviceId: hostile.deviceId,
    images,
    bootState: join(dir, `${hostile.name}.boot.json`),
    challenge: "block",
  });
  say(
    `the operator checks ${hostile.name}, which boots again and attests (boot #${String(attested.bootCount)} on 1.0.0)`,
  );
  try {
    await readmitFeedMember(feedAt(created.feed, integrator), hostile.deviceId);
    throw new Error("a member was readmitted during its cool-off");
  } catch (err: unknown) {
    if (!(err instanceof ContractError)) throw err;
    say(`readmit at once → ${err.message}`);
  }
  await tick(COOL_OFF);
  const readmitted = await readmitFeedMember(feedAt(created.feed, integrator), hostile.deviceId);
  say(
    `${String(COOL_OFF / 3600n)} h later the integrator readmits it (anyone may, once the device attested again and the cool-off passed; gas ${gas(readmitted.gasUsed)})`,
  );
  await streamed.publishRound();
  await relayed("a round after the readmission");
  say(`latestRoundData → ${await roundLine()}: ${hostile.name} counts again`);
  const earlier = await readFeedRound(feed, beforeId);
  say(
    `getRoundData(${String(beforeId)}) → ${celsius(earlier.answer)}, committed ${new Date(Number(earlier.updatedAt) * 1000).toISOString()}, ` +
      `as read before the quarantine (${celsius(lastBefore.answer)}): a committed round never changes`,
  );

  // ---------------------------------------------------------------- the clone
  const victimIndex = sensors.findIndex((s) => s.keyStore instanceof SoftwareKeyStore);
  const victim = sensors[victimIndex];
  if (victim === undefined) throw new Error("no software sensor to clone");
  step(
    `An hour later, past the policy's waiting period, an attacker extracts ${victim.name}'s key; the clone publishes a conflicting reading`,
  );
  await tick(poolParams.waitingPeriod);
  if (chainNow <= cover.start) throw new Error("the waiting period has not passed");
  await streamed.publishRound();
  await relayed("a round after the waiting period");
  const { honest, clone } = await streamed.injectClone(victimIndex, 3_500_000_000n);
  say(
    `${victim.name} reading #${String(honest.reading.sequence)} = ${celsius(honest.reading.value)}; the clone's #${String(clone.reading.sequence)} = ${celsius(clone.reading.value)}: both validly signed, ` +
      `both dated ${new Date(Number(clone.reading.timestamp) * 1000).toISOString()}, inside the policy's term`,
  );

  step("The watchtower, fed by the gateway's stream, proves the equivocation on chain");
  const proofs = proofsAt(proofsAddress, governance);
  let incidentId: Hex | undefined;
  for (let i = 0; incidentId === undefined; i++) {
    const events = await proofs.queryFilter(
      proofs.filters.IncidentRecorded(undefined, victim.deviceId),
    );
    incidentId = events[0]?.args.incident as Hex | undefined;
    if (incidentId === undefined && i > 400) throw new Error("the watchtower proved nothing");
    if (incidentId === undefined) await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const incident = await proofs.incident(incidentId);
  const info = await registry.deviceInfo(victim.deviceId);
  say(
    `incident ${short(incidentId)}: ${INCIDENT_KINDS[Number(incident.kind)] ?? "?"}; slashed ${usd(incident.slashed)}; ${victim.name} is ${statusName(info.status)} (locked down)`,
  );
  await (await feed.evict(victim.deviceId)).wait();
  say(`anyone evicts ${victim.name}'s last reading from the feed: it no longer counts`);

  const poolReader = poolAt(poolAddress, governance);
  const [booked] = await poolReader.queryFilter(poolReader.filters.LossBooked(victim.deviceId));
  if (booked === undefined) throw new Error("the proof's transaction booked no loss in the pool");
  say(
    `in the proof's own transaction the pool, paid ${usd(booked.args.recovery)} as the allocation's backer (the stake less the bounty), ` +
      `reserved ${victim.name}'s exposure, ${usd(booked.args.liability)}, as a liability and booked the recovery against it; ` +
      `the other ${usd(booked.args.vested)} is earned over ${String(Number(poolParams.recoveryVesting) / 86_400)} days`,
  );

  step("The integrator's feed policy pays the proven sensor's share, automatically");
  const claim = await coverClaim(poolAs(watcher), target, cover.serial, incidentId);
  say(
    `claim (sent by the watchtower: anyone may; the member snapshot comes from the policy's CoverageMembers event) pays the integrator ` +
      `${usd(claim.payout)} on policy #${String(claim.serial)}: ${victim.name}'s share, 1/${String(k)} of the policy, ${usd(claim.remaining)} of it still covering the other members — no assessor, no vote (gas ${gas(claim.gasUsed)})`,
  );

  const after = new Map(await holdings());
  const rows: string[][] = [];
  for (const [name, b] of before) {
    const a = after.get(name) ?? 0n;
    rows.push([name, usd(b), usd(a), `${a >= b ? "+" : "-"}${usd(a >= b ? a - b : b - a)}`]);
  }
  out();
  out(formatTable(["party", "at the start", "at the end", "change"], rows));
  out();
  out(
    `The clone cost the operator ${victim.name}'s whole stake: ${String(Number(bountyBps) / 100)}% paid the watchtower that proved it, ` +
      `the rest went to the pool backing the sensor's allocation, which paid the integrator that sensor's share of the policy ` +
      `(${usd(claim.payout)}, 1/${String(k)}). The recovery beyond the payout and the premium stream into the insurers' assets ` +
      `(unearned for now), so their shares are worth less today than they will be.`,
  );

  const { accountFactory } = await machineAccountsChapter({
    provider: ethers.provider,
    send: (method, params) => conn.provider.request({ method, params }),
    governance,
    maker,
    chargerOperator,
    wallet: handleOpsWallet,
    watcher,
    registryAddress: registryAddress as Hex,
    tokenAddress: tokenAddress as Hex,
    stakingAddress: stakingAddress as Hex,
    proofsAddress: proofsAddress as Hex,
    stake: STAKE,
  });

  step("The fleet console: the whole story on one page");
  fleetConsole = await runConsole({
    provider: ethers.provider,
    addresses: {
      registry: registryAddress.toLowerCase() as Hex,
      staking: stakingAddress.toLowerCase() as Hex,
      proofs: proofsAddress.toLowerCase() as Hex,
      pool: poolAddress.toLowerCase() as Hex,
      feedFactory: factoryAddress.toLowerCase() as Hex,
      accountFactory: accountFactory.toLowerCase() as Hex,
    },
    port: SERVE ? CONSOLE_PORT : 0,
    ...(gateway.port === null ? {} : { gateway: `http://127.0.0.1:${String(gateway.port)}` }),
    ...(typeof gateway.watchtower?.port === "number"
      ? { watchtower: `http://127.0.0.1:${String(gateway.watchtower.port)}` }
      : {}),
    log: say,
  });
  say(
    `indexed ${String(fleetConsole.index.events)} events of ${String(fleetConsole.index.deviceOrder.length)} devices and ${String(fleetConsole.index.feeds.size)} feed${fleetConsole.index.feeds.size === 1 ? "" : "s"}, read-only, on loopback`,
  );
  out();
  out(`DeviceTrust console: ${fleetConsole.url}`);
  out(
    SERVE
      ? "Serving the console (and the chain, gateway and watchtower behind it) until Ctrl-C."
      : "It closes with the demo: `npm run demo -- --serve` keeps it open.",
  );
  out();
  out(`Finished in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  if (SERVE) {
    await new Promise<void>((resolve) => {
      stopServing = resolve;
    });
  }
} finally {
  await fleetConsole?.stop();
  await fleet?.close();
  await gateway?.stop();
  for (const s of sensors) await s.keyStore.close();
  await hsm?.cleanup();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
  await conn.close();
}
