import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { DeviceTrustError, asHex, type Hex } from "../protocol/index.js";

/** No registry address was given and no Ignition deployment of one exists for this chain. */
export class RegistryNotFoundError extends DeviceTrustError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("REGISTRY_NOT_FOUND", message, options);
    this.name = "RegistryNotFoundError";
  }
}

/**
 * The DeviceRegistry to talk to: `explicit` when given, else the address Ignition recorded for
 * `chainId` in `<ignitionDir>/deployments/chain-<chainId>/deployed_addresses.json` (the future whose id
 * ends in "#DeviceRegistry").
 */
export async function resolveRegistryAddress(options: {
  readonly explicit?: string | undefined;
  readonly chainId: bigint;
  readonly ignitionDir: string;
}): Promise<Hex> {
  if (options.explicit !== undefined && options.explicit !== "")
    return asHex(options.explicit, "--registry", 20);
  const file = join(
    options.ignitionDir,
    "deployments",
    `chain-${options.chainId.toString()}`,
    "deployed_addresses.json",
  );
  const howTo =
    "deploy one (npx hardhat ignition deploy deploy/modules/<module>.ts --network <network>) or pass --registry <address>";
  let addresses: Record<string, unknown>;
  try {
    addresses = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  } catch (cause) {
    throw new RegistryNotFoundError(
      `no DeviceRegistry deployment for chain ${options.chainId.toString()} (${file}): ${howTo}`,
      { cause },
    );
  }
  const entry = Object.entries(addresses).find(([futureId]) =>
    futureId.endsWith("#DeviceRegistry"),
  );
  if (entry === undefined || typeof entry[1] !== "string") {
    throw new RegistryNotFoundError(`${file} records no DeviceRegistry: ${howTo}`);
  }
  return asHex(entry[1], `DeviceRegistry address in ${file}`, 20);
}
