/**
 * `npm run demo`: DeviceTrust's identity layer on an in-process chain, told as a story. A maker endorses a
 * production batch of five devices (both curves; one key inside SoftHSM2 when it is installed), an
 * operator registers them with proof of key possession, rotates a key, hands one device to another
 * operator, retires one, and the registry refuses the retired key forever.
 */
import { network } from "hardhat";
import DeviceTrustModule from "../deploy/modules/DeviceTrust.js";
import { formatTable } from "../src/bench/report.js";
import {
  addMaker,
  changeStatus,
  decodeContractError,
  makerBatch,
  registerDevice,
  rotateKey,
  statusName,
  transferCustody,
  type DeviceRegistry,
} from "../src/client/index.js";
import { DeviceSigner, SoftwareKeyStore, type KeyStore } from "../src/device/index.js";
import { Pkcs11KeyStore } from "../src/device/pkcs11-key-store.js";
import {
  createSoftHsmToken,
  softHsmStatus,
  type SoftHsmToken,
} from "../src/device/softhsm-token.js";
import { deviceIdOf, keyHash, type Curve, type Hex } from "../src/protocol/index.js";
import { checkDeviceSignature } from "../src/verify/signature.js";

const MODEL = 4201; // the maker's model number for this sensor
const FEED_ID: Hex = `0x${"0a".repeat(32)}`;

interface DemoDevice {
  readonly name: string;
  readonly curve: Curve;
  readonly storeName: string;
  keyStore: KeyStore;
  readonly deviceId: Hex;
  gas: bigint;
}

const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};
let stepNo = 0;
const step = (title: string): void => {
  stepNo++;
  out();
  out(`${String(stepNo)}. ${title}`);
};
const say = (line: string): void => {
  out(`   ${line}`);
};
const short = (hex: string): string => `${hex.slice(0, 10)}…${hex.slice(-4)}`;
const gas = (g: bigint): string => Number(g).toLocaleString("en-US");

const started = Date.now();
const conn = await network.create();
const { ethers, ignition, networkHelpers } = conn;
const [governance, maker, operatorA, operatorB] = await ethers.getSigners();
if (
  governance === undefined ||
  maker === undefined ||
  operatorA === undefined ||
  operatorB === undefined
) {
  throw new Error("the in-process network has fewer than four accounts");
}
const names = new Map<string, string>([
  [operatorA.address.toLowerCase(), "operator A"],
  [operatorB.address.toLowerCase(), "operator B"],
]);

out("DeviceTrust demo — hardware-anchored device identity on an in-process chain");

step("Deploy the DeviceRegistry (Ignition module deploy/modules/DeviceTrust.ts)");
const { deviceRegistry } = await ignition.deploy(DeviceTrustModule);
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

  const [s1, s2, , m4, m5] = devices;
  if (s1 === undefined || s2 === undefined || m4 === undefined || m5 === undefined)
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

  step("Summary");
  const rows: string[][] = [];
  for (const d of devices) {
    const info = await registry.deviceInfo(d.deviceId);
    rows.push([
      d.name,
      short(d.deviceId),
      d.curve === "p256" ? "P-256" : "secp256k1",
      d.storeName,
      statusName(info.status),
      names.get(info.operator.toLowerCase()) ?? info.operator,
      gas(d.gas),
    ]);
  }
  out();
  out(formatTable(["device", "id", "curve", "key store", "status", "operator", "gas used"], rows));
  out();
  out(
    `gas used = registration plus this device's later transactions. Finished in ${((Date.now() - started) / 1000).toFixed(1)} s.`,
  );
} finally {
  for (const d of devices) await d.keyStore.close();
  await hsm?.cleanup();
  await conn.close();
}
