import hre from "hardhat";
import type { KeyStore } from "../../src/device/key-store.js";
import { addMaker, makerEndorse, registerDevice, registryAt } from "../../src/client/index.js";
import { deviceIdOf, type Hex } from "../../src/protocol/index.js";

/**
 * The tasks' in-process chain (tasks connect with network.getOrCreate(): the same chain) with a
 * DeviceRegistry governed by account 0 and a maker (account 1); account 2 operates devices. No describe()
 * here: mocha loads this file and finds no tests.
 */
export async function taskRegistry(makerName: string) {
  const { ethers } = await hre.network.getOrCreate();
  const [first, second, third] = await ethers.getSigners();
  if (first === undefined || second === undefined || third === undefined)
    throw new Error("need 3 accounts");
  const [governance, maker, operator] = [first, second, third];
  const deployed = await ethers.deployContract("DeviceRegistry", [governance.address]);
  const registry = (await deployed.getAddress()).toLowerCase() as Hex;
  await addMaker(registryAt(registry, governance), maker.address, makerName);

  /** Deploys `contract` over the registry and grants it `role` (e.g. APPRAISER_ROLE); returns its address. */
  async function deployWithRole(contract: string, role?: string): Promise<Hex> {
    const address = (
      await (await ethers.deployContract(contract, [registry])).getAddress()
    ).toLowerCase() as Hex;
    if (role !== undefined) {
      await (await deployed.connect(governance).grantRole(role, address)).wait();
    }
    return address;
  }

  /** Registers `store`'s key to the operator as `model`, endorsed by the maker; returns the device id. */
  async function registerEndorsed(store: KeyStore, model: number): Promise<Hex> {
    const deviceId = deviceIdOf(store.deviceKey);
    const latest = await ethers.provider.getBlock("latest");
    await registerDevice({
      registry: registryAt(registry, operator),
      device: store,
      operator: operator.address,
      deadline: BigInt((latest?.timestamp ?? 0) + 600),
      model,
      endorsement: await makerEndorse(registryAt(registry, maker), maker, deviceId, model),
    });
    return deviceId;
  }

  return { ethers, registry, governance, maker, operator, deployWithRole, registerEndorsed };
}
