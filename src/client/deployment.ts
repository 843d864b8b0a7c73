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
 * The chain id of Hardhat's in-process network and of `hardhat node`: local chains, where the system
 * deploys over a mock collateral (MockERC20 deploys there only) and mock tokens are a developer's to mint.
 */
export const LOCAL_CHAIN_ID = 31_337n;

/** Where a task looks for an Ignition deployment when no address is given. */
export interface DeploymentLookup {
  readonly chainId: bigint;
  /** hardhat.config.ts's paths.ignition. */
  readonly ignitionDir: string;
  /** Ignition's --deployment-id; "" (or absent) for its default, `chain-<chainId>`. */
  readonly deploymentId?: string | undefined;
  /**
   * The network lives in this process (edr-simulated, not forking): it starts empty on every run, so no
   * deployment folder can describe it (a `chain-31337` folder belongs to a `hardhat node`). Addresses
   * must then be given explicitly.
   */
  readonly inProcess?: boolean | undefined;
}

/**
 * A DeviceTrust contract's address: `explicit` when given, else the address Ignition recorded in
 * `<ignitionDir>/deployments/<deploymentId or chain-<chainId>>/deployed_addresses.json` (the future whose
 * id ends in `#<contract>`). Never read for an in-process network.
 */
export async function resolveDeployedAddress(
  options: DeploymentLookup & {
    readonly contract: string;
    /** The CLI option that gives the address (for the messages). */
    readonly option: string;
    readonly explicit?: string | undefined;
  },
): Promise<Hex> {
  const { contract, option } = options;
  if (options.explicit !== undefined && options.explicit !== "") {
    return asHex(options.explicit, option, 20);
  }
  const chain = options.chainId.toString();
  if (options.inProcess === true) {
    throw new RegistryNotFoundError(
      `no ${contract} address for the in-process network (chain ${chain}), which starts empty on every run: ` +
        `pass ${option} <address>, or use --network localhost with a running \`hardhat node\``,
    );
  }
  const folder =
    options.deploymentId === undefined || options.deploymentId === ""
      ? `chain-${chain}`
      : options.deploymentId;
  const file = join(options.ignitionDir, "deployments", folder, "deployed_addresses.json");
  const howTo = `deploy the system (npx hardhat ignition deploy deploy/modules/DeviceTrust.ts --network <network>) or pass ${option} <address>`;
  let addresses: Record<string, unknown>;
  try {
    addresses = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  } catch (cause) {
    throw new RegistryNotFoundError(
      `no ${contract} deployment ${folder === `chain-${chain}` ? `for chain ${chain}` : `"${folder}"`} (${file}): ${howTo}`,
      { cause },
    );
  }
  const entry = Object.entries(addresses).find(([futureId]) => futureId.endsWith(`#${contract}`));
  if (entry === undefined || typeof entry[1] !== "string") {
    throw new RegistryNotFoundError(`${file} records no ${contract}: ${howTo}`);
  }
  return asHex(entry[1], `${contract} address in ${file}`, 20);
}

/** The DeviceRegistry to talk to: resolveDeployedAddress for `DeviceRegistry` / `--registry`. */
export function resolveRegistryAddress(
  options: DeploymentLookup & { readonly explicit?: string | undefined },
): Promise<Hex> {
  return resolveDeployedAddress({ ...options, contract: "DeviceRegistry", option: "--registry" });
}
