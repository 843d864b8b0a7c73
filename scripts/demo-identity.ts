/**
 * `npm run demo:identity`: DeviceTrust's identity and attestation layers in detail, on an in-process
 * chain, told as a story (`npm run demo` tells the whole system's story end to end).
 * A maker endorses a production batch of five devices (both curves; one key inside SoftHSM2 when it is
 * installed), an operator registers them with proof of key possession, rotates a key, hands one device to
 * another operator, retires one, and the registry refuses the retired key forever. Then the maker
 * publishes firmware 1.0.0 measured from real image files, the devices boot (measured boot of the same
 * files) and attest, answering a recent block hash or a nonce issued on chain; a vulnerability is found,
 * the maker revokes 1.0.0 and every device on it is untrusted in that very block; the maker publishes
 * 2.0.0, the devices update, re-attest and are trusted again. Then the operators stake collateral for
 * their devices; an attacker clones one device's software key and the clone signs another value for the
 * same reading; the watchtower (src/watchtower, in process) sees both, proves the equivocation on chain by
 * itself, and the device's stake is slashed (10% bounty to the watchtower; the rest, allocated to no
 * insurance pool here, to the staking contract's loss recipient: the insurance pool, as the deployment
 * wires it) and the device suspended in the same transaction. (`npm run demo` shows stake allocated to
 * the insurance pool.)
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import { pino } from "pino";
import { buildDeviceTrustModule } from "../deploy/modules/DeviceTrust.js";
import { formatTable } from "../src/bench/report.js";
import {
  addMaker,
  attestDevice,
  changeStatus,
  decodeContractError,
  deviceTrust,
  makerBatch,
  publishFirmware,
  registerDevice,
  revokeFirmware,
  rotateKey,
  statusName,
  transferCustody,
  type AttestResult,
  type ChallengeMode,
  type DeviceRegistry,
  INCIDENT_KINDS,
  collateralTokenAt,
  proofsAt,
  registryDomain,
  stakeDeposit,
  stakeShow,
  stakingAt,
} from "../src/client/index.js";
import { runWatchtower } from "../src/watchtower/index.js";
import { MockERC20__factory } from "../types/ethers-contracts/index.js";
import { formatUnits } from "ethers";
import { DeviceSigner, SoftwareKeyStore, type KeyStore } from "../src/device/index.js";
import { Pkcs11KeyStore } from "../src/device/pkcs11-key-store.js";
import {
  createSoftHsmToken,
  softHsmStatus,
  type SoftHsmToken,
} from "../src/device/softhsm-token.js";
import { deviceIdOf, keyHash, type Curve, type Hex } from "../src/protocol/index.js";
import { appraiseOnChain, trustVerdictName } from "../src/verify/appraise.js";
import { checkDeviceSignature } from "../src/verify/signature.js";
import { gas, out, say, short, step } from "./story.js";
const MODEL = 4201; // the maker's model number for this sensor
const FEED_ID: Hex = `0x${"0a".repeat(32)}`;
/** How recent a device's evidence must be for the relying party (trustReport's maxAge). */
const MAX_AGE = 3600n;
/** Each device's bond: 100 DTC (18 decimals). */
const STAKE = 100n * 10n ** 18n;
const units = (v: bigint): string => `${formatUnits(v, 18)} DTC`;

interface DemoDevice {
  readonly name: string;
  readonly curve: Curve;
  readonly storeName: string;
  keyStore: KeyStore;
  readonly deviceId: Hex;
  gas: bigint;
  /** Gas of this device's attestations (and issued challenges). */
  attestGas: bigint;
  /** The firmware version of its latest accepted evidence. */
  firmware: string;
  lastEvidence?: AttestResult;
}

const started = Date.now();
const conn = await network.create();
const { ethers, ignition, networkHelpers } = conn;
const [governance, maker, operatorA, operatorB, , watchtowerAccount] = await ethers.getSigners();
if (
  governance === undefined ||
  maker === undefined ||
  operatorA === undefined ||
  operatorB === undefined ||
  watchtowerAccount === undefined
) {
  throw new Error("the in-process network has fewer than six accounts");
}
const names = new Map<string, string>([
  [operatorA.address.toLowerCase(), "operator A"],
  [operatorB.address.toLowerCase(), "operator B"],
]);

out(
  "DeviceTrust demo — hardware-anchored device identity and remote attestation on an in-process chain",
);

step(
  "Deploy the system: DeviceRegistry, collateral, DeviceStaking, FraudProofs (Ignition module deploy/modules/DeviceTrust.ts)",
);
// The deployer governs here (no handover) over a mock collateral; the pool is the loss recipient.
const { deviceRegistry, collateralToken, deviceStaking, fraudProofs, insurancePool } =
  await ignition.deploy(buildDeviceTrustModule({ collateral: "mock", handover: false }), {
    parameters: { DeviceStaking: { minStake: STAKE, bountyBps: 1000n } },
  });
const lossRecipient = await insurancePool.getAddress();
const registry = deviceRegistry as unknown as DeviceRegistry;
const { chainId } = await ethers.provider.getNetwork();
say(`registry ${await registry.getAddress()} on chain ${String(chainId)} (${conn.networkName})`);
say(`governance ${governance.address} holds the admin and governor roles`);

step("Governance adds a device maker");
const added = await addMaker(registry.connect(governance), maker.address, "Acme Secure Elements");
say(
  `maker #${String(added.maker)} "Acme Secure Elements", endorsing key ${maker.address} (gas ${gas(added.gasUsed)})`,
);

step("The maker produces a batch of 5 devices, each with its own key pair");
let hsm: SoftHsmToken | undefined;
let imageDir: string | undefined;
const devices: DemoDevice[] = [];
const hsmStatus = softHsmStatus();
const softwareDevice = (name: string, curve: Curve): DemoDevice => {
  const keyStore = SoftwareKeyStore.generate(curve);
  return {
    name,
    curve,
    storeName: "software",
    keyStore,
    deviceId: deviceIdOf(keyStore.deviceKey),
    gas: 0n,
    attestGas: 0n,
    firmware: "-",
  };
};

try {
  if (hsmStatus.available) {
    hsm = await createSoftHsmToken({ label: "demo-factory" });
    const keyStore = await Pkcs11KeyStore.generate({
      module: hsm.modulePath,
      tokenLabel: hsm.tokenLabel,
      pin: hsm.pin,
      label: "sensor-1",
      curve: "p256",
    });
    devices.push({
      name: "sensor-1",
      curve: "p256",
      storeName: "SoftHSM2 (PKCS#11)",
      keyStore,
      deviceId: deviceIdOf(keyStore.deviceKey),
      gas: 0n,
      attestGas: 0n,
      firmware: "-",
    });
    say(
      `sensor-1: P-256 key generated inside SoftHSM2 token "${hsm.tokenLabel}" (non-extractable; it only signs)`,
    );
  } else {
    devices.push(softwareDevice("sensor-1", "p256"));
    say(`note: no HSM for sensor-1 (${hsmStatus.reason}); it gets a software P-256 key instead`);
  }
  devices.push(softwareDevice("sensor-2", "p256"));
  devices.push(softwareDevice("sensor-3", "p256"));
  devices.push(softwareDevice("meter-4", "secp256k1"));
  devices.push(softwareDevice("meter-5", "secp256k1"));
  for (const d of devices.slice(hsmStatus.available ? 1 : 0)) {
    say(
      `${d.name}: ${d.curve === "p256" ? "P-256 (secure-element curve)" : "secp256k1 (Ethereum curve)"} key in a software key store`,
    );
  }
  for (const d of devices)
    say(
      `${d.name} → device id ${short(d.deviceId)} (keccak256 of key type and public key; fixed for life)`,
    );

  step("The maker publishes the batch's key manifest: one Merkle root vouches for all 5");
  const manifest = makerBatch(devices.map((d) => ({ deviceId: d.deviceId, model: MODEL })));
  const published = await (
    await registry
      .connect(maker)
      .publishBatch(manifest.root, manifest.size, "ipfs://acme/batch-2024-06")
  ).wait();
  say(
    `root ${short(manifest.root)} for ${String(manifest.size)} devices of model ${String(MODEL)} (gas ${gas(published?.gasUsed ?? 0n)})`,
  );

  step(
    "Operator A registers all 5: each device signs its binding to operator A (proof of possession)",
  );
  const deadline = BigInt(await networkHelpers.time.latest()) + 3600n;
  for (const d of devices) {
    const entry = manifest.entries.find((e) => e.deviceId === d.deviceId);
    if (entry === undefined) throw new Error(`${d.name} is missing from the manifest`);
    const r = await registerDevice({
      registry: registry.connect(operatorA),
      device: d.keyStore,
      operator: operatorA.address,
      deadline,
      model: MODEL,
      endorsement: { root: manifest.root, proof: entry.proof },
    });
    d.gas += r.gasUsed;
    say(
      `${d.name} registered by ${r.method} with a ${String(entry.proof.length)}-node proof (gas ${gas(r.gasUsed)})`,
    );
  }

  const [s1, s2, s3, m4, m5] = devices;
  if (
    s1 === undefined ||
    s2 === undefined ||
    s3 === undefined ||
    m4 === undefined ||
    m5 === undefined
  )
    throw new Error("five devices expected");

  step(`${s1.name} signs a reading; the chain and an off-chain verifier both accept it`);
  const domain = { chainId, verifyingContract: (await registry.getAddress()).toLowerCase() as Hex };
  const reading = await new DeviceSigner(s1.keyStore, domain, s1.deviceId).signReading({
    feedId: FEED_ID,
    sequence: 1n,
    timestamp: BigInt(await networkHelpers.time.latest()),
    value: 2_150n, // 21.50 °C
  });
  const onChain = await registry.isValidDeviceSignature(
    s1.deviceId,
    reading.digest,
    reading.key,
    reading.signature,
  );
  const offChain = checkDeviceSignature(reading.key, reading.digest, reading.signature);
  say(`registry.isValidDeviceSignature → ${String(onChain)}; src/verify (OpenSSL) → ${offChain}`);
  if (!onChain || offChain !== "valid")
    throw new Error("the reading's signature should verify on and off chain");

  step(
    `Operator A rotates ${s2.name}'s key: the old key authorizes, the new key proves possession`,
  );
  const next = SoftwareKeyStore.generate("p256");
  const rotated = await rotateKey({
    registry: registry.connect(operatorA),
    current: s2.keyStore,
    next,
    deadline,
    deviceId: s2.deviceId,
  });
  const oldKey = s2.keyStore;
  s2.keyStore = next;
  s2.gas += rotated.gasUsed;
  say(
    `key ${short(rotated.oldKeyHash)} → ${short(rotated.newKeyHash)}; the device id stays ${short(s2.deviceId)} (gas ${gas(rotated.gasUsed)})`,
  );

  step(`Operator A hands ${m4.name} to operator B in two steps`);
  const started1 = await transferCustody(
    registry.connect(operatorA),
    m4.deviceId,
    "start",
    operatorB.address,
  );
  say(
    `operator A names operator B (${operatorB.address}) as the next operator (gas ${gas(started1.gasUsed)})`,
  );
  const accepted = await transferCustody(registry.connect(operatorB), m4.deviceId, "accept");
  say(
    `operator B accepts: ${m4.name} is now operated by operator B (gas ${gas(accepted.gasUsed)})`,
  );
  m4.gas += started1.gasUsed + accepted.gasUsed;

  step(`Operator A decommissions ${m5.name}`);
  const retired = await changeStatus(registry.connect(operatorA), m5.deviceId, "decommission");
  m5.gas += retired.gasUsed;
  say(`${m5.name} is ${retired.status}: a final state (gas ${gas(retired.gasUsed)})`);

  step(`Someone tries to register ${m5.name}'s key again, as a new device`);
  try {
    await registerDevice({
      registry: registry.connect(operatorB),
      device: m5.keyStore,
      operator: operatorB.address,
      deadline,
      model: MODEL,
      endorsement: {
        root: manifest.root,
        proof: manifest.entries.find((e) => e.deviceId === m5.deviceId)?.proof ?? [],
      },
    });
    throw new Error("the registry accepted a retired key: this must never happen");
  } catch (err: unknown) {
    const decoded = decodeContractError(err);
    if (decoded?.code !== "DeviceRegistryKeyTaken") throw err;
    say(`refused: ${decoded.message}`);
  }
  const m5Owner = await registry.keyOwner(keyHash(m5.keyStore.deviceKey));
  const oldKeyOwner = await registry.keyOwner(keyHash(oldKey.deviceKey));
  say(`keyOwner(${m5.name}'s key) = ${short(m5Owner)} (${m5.name}, forever)`);
  say(
    `keyOwner(${s2.name}'s rotated-out key) = ${short(oldKeyOwner)} (${s2.name}): no other device can take it either`,
  );
  await oldKey.close();

  // ---------------------------------------------------------------- attestation

  out();
  out("Remote attestation — the maker vouches for firmware, devices prove what they booted");
  imageDir = await mkdtemp(join(tmpdir(), "devicetrust-demo-"));
  const dir = imageDir;
  const writeImage = async (name: string, label: string, size: number): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, Buffer.concat([Buffer.from(`${label}\n`), randomBytes(size)]));
    return path;
  };
  const bootloader = await writeImage("bootloader.bin", "acme bootloader 2.3", 16 * 1024);
  const kernel = await writeImage("kernel.img", "acme rtos kernel 5.4", 256 * 1024);
  const appV1 = await writeImage("app-1.0.0.bin", "sensor application 1.0.0", 64 * 1024);
  const v1Images = [bootloader, kernel, appV1];
  const operatorOf = (d: DemoDevice) => (d === m4 ? operatorB : operatorA);
  const live = devices.filter((d) => d !== m5);

  step(
    `The maker measures release 1.0.0 (bootloader, kernel, application files) and publishes the measurement`,
  );
  say(`images written to ${dir}`);
  const fw1 = await publishFirmware({
    registry: registry.connect(maker),
    model: MODEL,
    version: "1.0.0",
    images: v1Images,
    uri: "ipfs://acme/firmware/4201/1.0.0",
  });
  for (const [i, st] of fw1.steps.entries()) {
    say(
      `m${String(i + 1)} = sha256(m${String(i)} ‖ sha256(${st.name} = ${short(st.imageDigest)})) = ${short(st.after)}`,
    );
  }
  say(
    `firmware #${String(fw1.firmwareId)}: model ${String(MODEL)} version 1.0.0, measurement ${short(fw1.measurement)}, Good (gas ${gas(fw1.gasUsed)})`,
  );

  const bootStateOf = (d: DemoDevice) => join(dir, `${d.name}.boot-state.json`);
  const attest = async (
    d: DemoDevice,
    images: readonly string[],
    version: string,
    challenge: ChallengeMode,
  ): Promise<void> => {
    const r = await attestDevice({
      registry: registry.connect(operatorOf(d)),
      device: d.keyStore,
      deviceId: d.deviceId,
      images,
      bootState: bootStateOf(d),
      challenge,
    });
    d.attestGas += r.gasUsed + (r.challengeGasUsed ?? 0n);
    d.firmware = version;
    d.lastEvidence = r;
    const fresh =
      r.challengeMode === "block"
        ? `hash of block ${String(r.challengeBlock)}`
        : `nonce ${short(r.challenge)} issued by ${names.get(operatorOf(d).address.toLowerCase()) ?? "its operator"} (gas ${gas(r.challengeGasUsed ?? 0n)})`;
    say(
      `${d.name.padEnd(8)} boot #${String(r.bootCount)} measured ${short(r.measurement)}; signed with its ${d.storeName} key, ` +
        `challenge = ${fresh} → accepted on firmware #${String(r.firmwareId)} (gas ${gas(r.gasUsed)})`,
    );
  };
  const verdicts = async (blockTag?: number): Promise<Map<DemoDevice, string>> => {
    const m = new Map<DemoDevice, string>();
    for (const d of devices) {
      const r = await registry.trustReport(
        d.deviceId,
        MAX_AGE,
        blockTag === undefined ? {} : { blockTag },
      );
      m.set(d, trustVerdictName(r.verdict));
    }
    return m;
  };

  step(
    "Each device boots — measuring bootloader, kernel and application before running them — and attests",
  );
  say(
    "evidence = {deviceId, measurement, challenge, timestamp, bootCount}, EIP-712-signed by the device's registered key",
  );
  for (const d of live) await attest(d, v1Images, "1.0.0", d === s3 ? "nonce" : "block");
  say(`${m5.name} is decommissioned: it can no longer attest, and is never trusted`);
  const trusted1 = await verdicts();
  for (const d of devices) {
    const view = await deviceTrust(registry, d.deviceId, MAX_AGE);
    say(
      `${d.name.padEnd(8)} trustReport → ${view.verdict}${view.firmwareVersion === null ? "" : ` (firmware ${view.firmwareVersion}, boot #${String(view.bootCount)})`}`,
    );
    if (view.verdict !== trusted1.get(d)) throw new Error("deviceTrust disagrees with trustReport");
    if ((d === m5) === view.trusted)
      throw new Error(`${d.name}: unexpected verdict ${view.verdict}`);
  }

  step("A vulnerability is found in application 1.0.0: the maker revokes firmware 1.0.0");
  const revoked = await revokeFirmware(registry.connect(maker), { id: fw1.firmwareId });
  say(
    `firmware #${String(fw1.firmwareId)} is ${revoked.status} in block ${String(revoked.blockNumber)}: one transaction, no loop over devices (gas ${gas(revoked.gasUsed)})`,
  );
  const before = await verdicts(revoked.blockNumber - 1);
  const after = await verdicts(revoked.blockNumber);
  for (const d of live) {
    const evidence = d.lastEvidence?.evidence;
    const offChain = await appraiseOnChain(registry, { evidence, maxAge: MAX_AGE });
    say(
      `${d.name.padEnd(8)} block ${String(revoked.blockNumber - 1)}: ${before.get(d) ?? "?"} → block ${String(revoked.blockNumber)}: ${after.get(d) ?? "?"}` +
        ` · off-chain verifier (src/verify): ${offChain.verdict}`,
    );
    if (after.get(d) !== "FirmwareRevoked" || offChain.verdict !== "FirmwareRevoked")
      throw new Error(`${d.name} should be untrusted on revoked firmware`);
  }

  step("The maker publishes 2.0.0 (a fixed application; bootloader and kernel unchanged)");
  const appV2 = await writeImage("app-2.0.0.bin", "sensor application 2.0.0", 64 * 1024);
  const v2Images = [bootloader, kernel, appV2];
  const fw2 = await publishFirmware({
    registry: registry.connect(maker),
    model: MODEL,
    version: "2.0.0",
    images: v2Images,
    uri: "ipfs://acme/firmware/4201/2.0.0",
  });
  say(
    `application digest ${short(fw1.imageDigests[2] ?? "")} → ${short(fw2.imageDigests[2] ?? "")}, measurement ${short(fw1.measurement)} → ${short(fw2.measurement)}`,
  );
  say(`firmware #${String(fw2.firmwareId)}: version 2.0.0, Good (gas ${gas(fw2.gasUsed)})`);

  step(`${m4.name} tries to re-attest before updating: still booting 1.0.0`);
  try {
    await attest(m4, v1Images, "1.0.0", "block");
    throw new Error("the registry accepted evidence of revoked firmware: this must never happen");
  } catch (err: unknown) {
    const decoded = decodeContractError(err);
    if (decoded?.code !== "AttestationFirmwareNotTrusted") throw err;
    say(`refused: ${decoded.message}`);
    say(`(that boot still advanced ${m4.name}'s boot counter: a counter never goes back)`);
  }

  step("The devices install 2.0.0, reboot and attest again");
  for (const d of live) await attest(d, v2Images, "2.0.0", d === s3 ? "nonce" : "block");
  const final = await verdicts();
  for (const d of live) {
    say(`${d.name.padEnd(8)} trustReport → ${final.get(d) ?? "?"} (firmware 2.0.0)`);
    if (final.get(d) !== "Trusted") throw new Error(`${d.name} should be trusted on 2.0.0`);
  }

  step("Summary");
  const rows: string[][] = [];
  for (const d of devices) {
    const info = await registry.deviceInfo(d.deviceId);
    rows.push([
      d.name,
      d.curve === "p256" ? "P-256" : "secp256k1",
      d.storeName,
      statusName(info.status),
      names.get(info.operator.toLowerCase()) ?? info.operator,
      d.firmware,
      final.get(d) ?? "?",
      gas(d.gas),
      gas(d.attestGas),
    ]);
  }
  out();
  out(
    formatTable(
      [
        "device",
        "curve",
        "key store",
        "status",
        "operator",
        "firmware",
        "verdict",
        "identity gas",
        "attestation gas",
      ],
      rows,
    ),
  );
  out();
  out(
    `identity gas = registration plus the device's later identity transactions; attestation gas = its attestations ` +
      `(two boots, plus issued nonces for ${s3.name}). Verdicts: trustReport with maxAge ${MAX_AGE.toString()} s. ` +
      `Finished in ${((Date.now() - started) / 1000).toFixed(1)} s.`,
  );

  // ---------------------------------------------------------------- staking, fraud proofs, watchtower
  step("Operators stake collateral for their devices (stake deposit: approve, then stake)");
  const tokenAddress = await collateralToken.getAddress();
  const mockToken = MockERC20__factory.connect(tokenAddress, governance);
  const stakingAddress = await deviceStaking.getAddress();
  const proofsAddress = await fraudProofs.getAddress();
  const stakerOf = async (d: DemoDevice) =>
    (await registry.deviceInfo(d.deviceId)).operator.toLowerCase() ===
    operatorA.address.toLowerCase()
      ? operatorA
      : operatorB;
  for (const op of [operatorA, operatorB]) {
    await (await mockToken.mint(op.address, 10n * STAKE * BigInt(live.length))).wait();
  }
  const params = await stakingAt(stakingAddress, governance).params();
  say(
    `collateral ${tokenAddress} (MockERC20 "DTC"); minimum stake ${units(params.minStake)}, unbonding ${String(Number(params.unbondingPeriod) / 86_400)} days, bounty ${String(Number(params.bountyBps) / 100)}% to the prover, the rest (stake allocated to no insurance pool) to the loss recipient ${short(lossRecipient)}`,
  );
  for (const d of live) {
    const op = await stakerOf(d);
    const r = await stakeDeposit({
      staking: stakingAt(stakingAddress, op),
      token: collateralTokenAt(tokenAddress, op),
      deviceId: d.deviceId,
      amount: STAKE,
    });
    say(
      `${names.get(op.address.toLowerCase()) ?? op.address} staked ${units(r.credited)} for ${d.name} (stake gas ${gas(r.gasUsed)})`,
    );
  }
  const cost = await stakingAt(stakingAddress, governance).costOfCorruption(
    live.map((d) => d.deviceId),
  );
  say(`cost of corrupting all ${String(live.length)} live devices: ${units(cost)} slashed`);

  const victim = live.find((d) => d.keyStore instanceof SoftwareKeyStore);
  if (victim === undefined || !(victim.keyStore instanceof SoftwareKeyStore)) {
    throw new Error("no live device with a software key to clone");
  }
  const victimOperator = await stakerOf(victim);
  step(`An attacker extracts ${victim.name}'s software key and clones it`);
  const cloneStore = SoftwareKeyStore.fromPrivateKey(
    victim.curve,
    victim.keyStore.exportPrivateKey(),
  );
  const wtDomain = await registryDomain(registry);
  const genuine = new DeviceSigner(victim.keyStore, wtDomain, victim.deviceId);
  const clone = new DeviceSigner(cloneStore, wtDomain, victim.deviceId);
  const now = BigInt(await networkHelpers.time.latest());
  const cloned = { feedId: FEED_ID, sequence: 1001n, timestamp: now, value: 21_450n };
  const honest = await genuine.signReading(cloned);
  const forged = await clone.signReading({ ...cloned, value: 35_000n });
  await cloneStore.close();
  say(`${victim.name} signs reading #1001 = 21.450 °C; the clone signs reading #1001 = 35.000 °C`);
  say("both signatures are valid for the device's key: only one of them can be honest");

  const balances = async (token: string): Promise<Map<string, bigint>> => {
    const t = collateralTokenAt(token, governance);
    const m = new Map<string, bigint>();
    for (const a of [
      victimOperator.address,
      watchtowerAccount.address,
      lossRecipient,
      stakingAddress,
    ]) {
      m.set(a.toLowerCase(), await t.balanceOf(a));
    }
    return m;
  };
  const balBefore = await balances(tokenAddress);
  const stakeBefore = await stakeShow(stakingAt(stakingAddress, governance), victim.deviceId);
  step("The watchtower (src/watchtower, in process) watches the feed and proves the equivocation");
  const wtDir = await mkdtemp(join(tmpdir(), "devicetrust-watchtower-"));
  try {
    // The device's reading first; the clone's, for the same sequence, arrives 50 ms later.
    async function* feed() {
      yield {
        reading: honest.message,
        key: honest.key,
        signature: honest.signature,
        origin: "device",
      };
      await new Promise((resolve) => setTimeout(resolve, 50));
      yield {
        reading: forged.message,
        key: forged.key,
        signature: forged.signature,
        origin: "clone",
      };
    }
    const running = await runWatchtower({
      registry: await registry.getAddress(),
      proofs: proofsAddress,
      signer: watchtowerAccount,
      beneficiary: watchtowerAccount.address,
      source: feed(),
      dbPath: join(wtDir, "evidence.sqlite"),
      http: false,
      handleSignals: false,
      logger: pino({ name: "watchtower", level: "warn" }, pino.destination(2)),
    });
    await running.watchtower.drained();
    const proven = running.watchtower.evidence.proofs();
    await running.watchtower.stop();
    const proof = proven[0];
    if (proof?.status !== "submitted" || proof.incident === null) {
      throw new Error(`the watchtower did not prove the equivocation: ${JSON.stringify(proven)}`);
    }
    const incident = await proofsAt(proofsAddress, governance).incident(proof.incident);
    const receipt = await ethers.provider.getTransactionReceipt(proof.txHash ?? "");
    say(
      `the watchtower stored reading #1001, saw a second one with other contents, and sent proveEquivocation itself`,
    );
    say(
      `incident ${short(proof.incident)}: ${INCIDENT_KINDS[Number(incident.kind)] ?? "?"}, slashed ${units(incident.slashed)} (gas ${gas(receipt?.gasUsed ?? 0n)})`,
    );
  } finally {
    await rm(wtDir, { recursive: true, force: true });
  }

  step("The consequences, on chain in the same transaction");
  const balAfter = await balances(tokenAddress);
  const stakeAfter = await stakeShow(stakingAt(stakingAddress, governance), victim.deviceId);
  const info = await registry.deviceInfo(victim.deviceId);
  say(
    `${victim.name}: stake ${units(stakeBefore.slashable)} → ${units(stakeAfter.slashable)}; status ${statusName(info.status)} (automatic lockdown)`,
  );
  const rowsB: string[][] = [];
  for (const [who, address] of [
    [names.get(victimOperator.address.toLowerCase()) ?? "operator", victimOperator.address],
    ["watchtower (beneficiary)", watchtowerAccount.address],
    ["loss recipient (InsurancePool)", lossRecipient],
    ["DeviceStaking", stakingAddress],
  ] as const) {
    const b = balBefore.get(address.toLowerCase()) ?? 0n;
    const a = balAfter.get(address.toLowerCase()) ?? 0n;
    rowsB.push([who, units(b), units(a), `${a >= b ? "+" : "-"}${units(a >= b ? a - b : b - a)}`]);
  }
  out();
  out(formatTable(["account", "DTC before", "DTC after", "change"], rowsB));
  out();
  out(
    `Lying cost ${names.get(victimOperator.address.toLowerCase()) ?? "the operator"} the device's whole stake: ` +
      `${String(Number(params.bountyBps) / 100)}% paid the watchtower that proved it; the rest, allocated to no insurance pool, went to the loss recipient. ` +
      `Finished in ${((Date.now() - started) / 1000).toFixed(1)} s.`,
  );
} finally {
  for (const d of devices) await d.keyStore.close();
  await hsm?.cleanup();
  if (imageDir !== undefined) await rm(imageDir, { recursive: true, force: true });
  await conn.close();
}
