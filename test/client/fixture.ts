import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { deviceIdOf, type Curve, type Hex } from "../../src/protocol/index.js";
import {
  ContractError,
  addMaker,
  makerEndorse,
  registerDevice,
  registryAt,
  type DeviceRegistry,
} from "../../src/client/index.js";

/**
 * The shared in-process chain of the client tests: a DeviceRegistry governed by account 0, a maker
 * (account 1), two operators (accounts 2 and 3). No describe() here: mocha loads this file and finds no tests.
 */
export const connection = await network.create();
export const { ethers, networkHelpers } = connection;

/** Low scrypt cost: tests need working key files, not slow ones. */
export const TEST_SCRYPT = { N: 1024, r: 8, p: 1 } as const;
export const MODEL = 7;

export async function deployFixture() {
  const [governance, makerAccount, operator, other] = await ethers.getSigners();
  if (
    governance === undefined ||
    makerAccount === undefined ||
    operator === undefined ||
    other === undefined
  ) {
    throw new Error("the in-process network must have at least 4 accounts");
  }
  const deployed = await ethers.deployContract("DeviceRegistry", [governance.address]);
  const address = await deployed.getAddress();
  const asGovernance = registryAt(address, governance);
  const added = await addMaker(asGovernance, makerAccount.address, "Acme Sensors");
  return {
    address: address.toLowerCase() as Hex,
    governance,
    makerAccount,
    operator,
    other,
    makerId: added.maker,
    asGovernance,
    asMaker: registryAt(address, makerAccount),
    asOperator: registryAt(address, operator),
    asOther: registryAt(address, other),
  };
}

export type Fixture = Awaited<ReturnType<typeof deployFixture>>;

export async function deadlineIn(seconds: number): Promise<bigint> {
  return BigInt(await networkHelpers.time.latest()) + BigInt(seconds);
}

/** Registers a fresh software device endorsed by the fixture's maker; returns its key store and id. */
export async function registeredDevice(f: Fixture, curve: Curve = "p256") {
  const store = SoftwareKeyStore.generate(curve);
  const endorsement = await makerEndorse(
    f.asMaker,
    f.makerAccount,
    deviceIdOf(store.deviceKey),
    MODEL,
  );
  const result = await registerDevice({
    registry: f.asOperator,
    device: store,
    operator: f.operator.address,
    deadline: await deadlineIn(3600),
    model: MODEL,
    endorsement,
  });
  return { store, deviceId: result.deviceId, result };
}

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "devicetrust-client-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export type { DeviceRegistry };

/** Awaits `promise` and asserts it fails with the ContractError of `code`; returns that error. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<ContractError> {
  try {
    await promise;
  } catch (err: unknown) {
    assert.ok(err instanceof ContractError, `not a ContractError: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}`);
}
