import type { ContractRunner } from "ethers";
import { InvalidInputError, asHex, type Domain, type Hex } from "../protocol/index.js";
import {
  DeviceRegistry__factory,
  type DeviceRegistry,
} from "../../types/ethers-contracts/index.js";

export type { DeviceRegistry };

/** The DeviceRegistry at `address`, sending transactions from (or reading through) `runner`. */
export function registryAt(address: string, runner: ContractRunner): DeviceRegistry {
  return DeviceRegistry__factory.connect(asHex(address, "registry address", 20), runner);
}

/** The registry's runner, for the contracts that send through it (the appraisers, recovery, signatures). */
export function registryRunner(registry: DeviceRegistry): ContractRunner {
  const runner = registry.runner;
  if (runner === null) {
    throw new InvalidInputError("the registry contract has no runner: connect it to a signer");
  }
  return runner;
}

/** The EIP-712 domain of `registry`: its chain id and address (every device message is bound to both). */
export async function registryDomain(registry: DeviceRegistry): Promise<Domain> {
  const provider = registry.runner?.provider;
  if (provider === undefined || provider === null) {
    throw new InvalidInputError(
      "the registry contract has no provider: connect it to a signer or provider with one",
    );
  }
  const [network, address] = await Promise.all([provider.getNetwork(), registry.getAddress()]);
  return { chainId: network.chainId, verifyingContract: address.toLowerCase() as Hex };
}
