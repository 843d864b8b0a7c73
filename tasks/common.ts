import { readFile, writeFile } from "node:fs/promises";
import type { HardhatEthers, HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { configVariable } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import type { NetworkConnection } from "hardhat/types/network";
import type { Result } from "hardhat/types/utils";
import {
  MissingSecretError,
  RegistryNotFoundError,
  PASSWORD_ENV,
  PIN_ENV,
  explainError,
  formatHuman,
  formatJson,
  registryAt,
  requireDeviceTrustContract,
  resolveDeployedAddress,
  resolveRegistryAddress,
  type DeploymentLookup,
  type DeviceTrustContract,
  type DeviceRegistry,
  type KeyStoreOptions,
} from "../src/client/index.js";
import {
  InvalidInputError,
  parseHex,
  type DeviceTrustError,
  type Hex,
} from "../src/protocol/index.js";
import { ContractError } from "../src/client/decode-error.js";
import { LmsStatefulSigner } from "../src/device/lms-signer.js";

/**
 * What every task adapter shares: connecting, resolving the registry and the sending account, secrets,
 * output (human on stdout by default, --json for machines, progress on stderr) and turning any error
 * into a sentence and a non-zero exit code. Not a task itself.
 */

export interface OutputArgs {
  readonly json: boolean;
}

/** Amounts in the token's base units (--wei), not token units. */
export interface WeiArgs {
  readonly wei: boolean;
}

export interface ChainArgs extends OutputArgs {
  readonly registry: string;
  /** Ignition's --deployment-id of the deployment to read addresses from ("": chain-<id>). */
  readonly deploymentId: string;
  /** The sending account: an address, an index into the network's accounts, or "" for the first one. */
  readonly from: string;
}

export interface Chain {
  readonly ethers: HardhatEthers;
  readonly signer: HardhatEthersSigner;
  readonly registry: DeviceRegistry;
  readonly registryAddress: Hex;
  /** Where the contracts' addresses come from when no option gives them. */
  readonly deployment: DeploymentLookup;
}

export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

/**
 * Connects to the selected network (--network). getOrCreate, not create: scripts and tests that run several
 * tasks in one process on the in-process network must see one chain; on an HTTP network both are the same.
 */
export async function connect(hre: HardhatRuntimeEnvironment, args: ChainArgs): Promise<Chain> {
  const conn = await hre.network.getOrCreate();
  const { ethers } = conn;
  const signer = await resolveSigner(ethers, args.from);
  const deployment = await deploymentLookup(hre, conn, args.deploymentId);
  const registryAddress = await resolveRegistryAddress({ ...deployment, explicit: args.registry });
  await requireDeviceTrustContract(
    ethers.provider,
    registryAddress,
    "DeviceRegistry",
    "--registry",
  );
  progress(
    `network ${conn.networkName} (chain ${deployment.chainId.toString()}), registry ${registryAddress}, from ${signer.address}`,
  );
  return {
    ethers,
    signer,
    registry: registryAt(registryAddress, signer),
    registryAddress,
    deployment,
  };
}

/**
 * A DeviceTrust contract's address: `explicit` (the option's value) when given, else the chain's Ignition
 * deployment's; checked to be that contract on this chain (requireDeviceTrustContract).
 */
export async function resolveContract(
  chain: Chain,
  contract: DeviceTrustContract,
  option: string,
  explicit: string,
): Promise<Hex> {
  const address = await resolveDeployedAddress({ ...chain.deployment, contract, option, explicit });
  await requireDeviceTrustContract(chain.ethers.provider, address, contract, option);
  return address;
}

/**
 * resolveContract for a contract a task can do without: undefined when no option names it and the
 * deployment records none. An address given, or recorded, that is not that contract still fails.
 */
export async function optionalContract(
  chain: Chain,
  contract: DeviceTrustContract,
  option: string,
  explicit: string,
): Promise<Hex | undefined> {
  try {
    return await resolveContract(chain, contract, option, explicit);
  } catch (err: unknown) {
    if (explicit !== "" || !(err instanceof RegistryNotFoundError)) throw err;
    return undefined;
  }
}

/** Unix seconds `seconds` after the latest block (a signed message's deadline). */
export async function deadlineAfter(chain: Chain, seconds: number): Promise<bigint> {
  const latest = await chain.ethers.provider.getBlock("latest");
  return BigInt(latest?.timestamp ?? Math.floor(Date.now() / 1000)) + BigInt(seconds);
}

/**
 * Where the connected network's contract addresses come from when no option gives them: Ignition's
 * deployment folder (`deploymentId`, else chain-<id>), never read for an in-process network that forks
 * nothing (it starts empty on every run).
 */
export async function deploymentLookup(
  hre: HardhatRuntimeEnvironment,
  conn: Pick<NetworkConnection, "ethers" | "networkConfig">,
  deploymentId: string,
): Promise<DeploymentLookup> {
  const { chainId } = await conn.ethers.provider.getNetwork();
  const config = conn.networkConfig;
  return {
    chainId,
    ignitionDir: hre.config.paths.ignition,
    deploymentId,
    inProcess: config.type === "edr-simulated" && config.forking === undefined,
  };
}

/** The sending account: an address, an index into the network's accounts, or "" for the first. */
export async function resolveSigner(
  ethers: HardhatEthers,
  from: string,
): Promise<HardhatEthersSigner> {
  if (from.startsWith("0x")) return ethers.getSigner(parseHex(from, "--from", { bytes: 20 }));
  const signers = await ethers.getSigners();
  const index = from === "" ? 0 : Number(from);
  const signer = Number.isInteger(index) ? signers[index] : undefined;
  if (signer === undefined) {
    throw new InvalidInputError(
      signers.length === 0
        ? 'this network has no accounts: configure accounts for it (e.g. accounts: [configVariable("DEPLOYER_KEY")])'
        : `--from ${from} is neither an address nor an account index below ${String(signers.length)}`,
    );
  }
  return signer;
}

/** Opens a maker's LMS key file, its password from --password, $DEVICETRUST_KEY_PASSWORD or the keystore. */
export async function openLmsKey(
  hre: HardhatRuntimeEnvironment,
  keyFile: string,
  password: string,
): Promise<LmsStatefulSigner> {
  const pass = await secret(hre, password, PASSWORD_ENV, "LMS key file password", "--password");
  return LmsStatefulSigner.open({ key: keyFile }, pass);
}

/**
 * A secret from its option, else from the environment variable, else from hardhat-keystore under the same
 * name (`npx hardhat keystore set DEVICETRUST_KEY_PASSWORD`), through Hardhat's configuration-variable hooks.
 */
export async function secret(
  hre: HardhatRuntimeEnvironment,
  value: string,
  envName: string,
  what: string,
  option: string,
): Promise<string> {
  if (value !== "") return value;
  return hre.hooks.runHandlerChain(
    "configurationVariables",
    "fetchValue",
    [configVariable(envName)],
    async (_context, variable) => {
      const fromEnv = process.env[variable.name];
      if (fromEnv !== undefined && fromEnv !== "") return Promise.resolve(fromEnv);
      return Promise.reject(
        new MissingSecretError(
          `no ${what}: pass ${option}, set ${envName}, or store it with npx hardhat keystore set ${envName}`,
        ),
      );
    },
  );
}

export interface KeyArgs {
  readonly keyFile: string;
  readonly password: string;
  readonly module: string;
  readonly token: string;
  readonly pin: string;
  readonly label: string;
}

/** Key-store options from --key-file/--password or --token/--label/--pin/--module; secrets resolved. */
export async function keyStoreOptions(
  hre: HardhatRuntimeEnvironment,
  args: KeyArgs,
  prefix = "",
): Promise<KeyStoreOptions> {
  const opt = (name: string): string => `--${prefix}${name}`;
  if (args.keyFile !== "" && args.token !== "") {
    throw new InvalidInputError(
      `give either ${opt("key-file")} or ${opt("token")}/${opt("label")}, not both`,
    );
  }
  if (args.keyFile !== "") {
    const password = await secret(
      hre,
      args.password,
      PASSWORD_ENV,
      "key file password",
      opt("password"),
    );
    return { keystore: "file", path: args.keyFile, password };
  }
  if (args.token !== "") {
    const pin = await secret(hre, args.pin, PIN_ENV, "PKCS#11 user PIN", opt("pin"));
    return {
      keystore: "pkcs11",
      module: args.module === "" ? undefined : args.module,
      token: args.token,
      pin,
      label: args.label,
    };
  }
  throw new InvalidInputError(
    `name the device key: ${opt("key-file")} <file> or ${opt("token")} <token> ${opt("label")} <label>`,
  );
}

export async function readJson(path: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as unknown;
  } catch (cause) {
    throw new InvalidInputError(
      `cannot read ${what} ${path}: check the path and that it holds JSON`,
      { cause },
    );
  }
}

export async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (cause) {
    throw new InvalidInputError(`cannot read ${what} ${path}: check the path`, { cause });
  }
}

export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${formatJson(value)}\n`);
}

export function print(args: OutputArgs, value: unknown): void {
  process.stdout.write(`${args.json ? formatJson(value) : formatHuman(value)}\n`);
}

function printError(args: OutputArgs, error: DeviceTrustError): void {
  process.stderr.write(`Error ${error.code}: ${error.message}\n`);
  if (args.json) {
    const args_ = error instanceof ContractError ? error.args : undefined;
    process.stdout.write(
      `${formatJson({ error: { code: error.code, message: error.message, args: args_ } })}\n`,
    );
  }
}

/**
 * Runs a task body: prints its value (human or --json) and returns a successful Result, or prints the
 * error as a sentence and returns a failed Result (Hardhat then exits with code 1, without a stack trace).
 */
export async function run<T>(
  args: OutputArgs,
  body: () => Promise<T>,
): Promise<Result<T, DeviceTrustError>> {
  try {
    const value = await body();
    print(args, value);
    return { success: true, value };
  } catch (err: unknown) {
    const error = explainError(err);
    printError(args, error);
    return { success: false, error };
  }
}
