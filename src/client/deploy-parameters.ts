import { ZeroAddress, getAddress, isAddress, type Provider } from "ethers";
import { InvalidInputError, type Hex } from "../protocol/index.js";
import { tokenInfo } from "./insurance.js";

/**
 * The deployment's parameter files (deploy/parameters/<network>.json, read by Ignition and by
 * `system deploy`): the defaults the modules fall back on, and the checks that refuse, before anything is
 * sent, a file the contracts would refuse half way or that would leave the system ungoverned.
 */

const DAY = 24n * 3600n;
const BPS = 10_000n;

/** IInsurancePool.PoolParams by default: the values a parameter file may override one by one. */
export const DEFAULT_POOL_PARAMS = {
  maxUtilizationBps: 8_000n,
  coverFactorBps: 5_000n,
  baseRateBps: 200n,
  utilizationRateBps: 1_000n,
  capacityRateBps: 1_000n,
  attestationRateBps: 500n,
  minPremiumBps: 10n,
  maxAttestationAge: DAY,
  minTerm: DAY,
  maxTerm: 365n * DAY,
  /** Longer than FraudProofs' evidence window (7 days by default), as the pool requires. */
  cooldown: 8n * DAY,
  withdrawalWindow: 2n * DAY,
  waitingPeriod: 3600n,
  /** Longer than the evidence window: a lie inside the term can still be proven and claimed. */
  claimWindow: 8n * DAY,
  recoveryVesting: 7n * DAY,
} as const;

/** DeviceStaking's and FraudProofs' parameters by default (deploy/modules/DeviceStaking.ts). */
export const DEFAULT_STAKING_PARAMS = {
  minStake: 10n ** 18n,
  unbondingPeriod: 14n * DAY,
  bountyBps: 1_000n,
  /** FraudProofs' evidence window: shorter than the unbonding period. */
  evidenceWindow: 7n * DAY,
} as const;

/** A parameter file as Ignition reads it: modules (and `$global`) to their parameters. */
export type DeployParameterFile = Readonly<
  Record<string, Readonly<Record<string, unknown>> | undefined>
>;

/** Parses a parameter file's text as Ignition does: a string "123n" is the bigint 123. */
export function parseDeployParameters(text: string): DeployParameterFile {
  const revive = (_key: string, value: unknown): unknown =>
    typeof value === "string" && /^\d+n$/.test(value) ? BigInt(value.slice(0, -1)) : value;
  const parsed = JSON.parse(text, revive) as unknown;
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidInputError(
      "a parameter file is a JSON object of modules ($global, DeviceStaking, …) to their parameters",
    );
  }
  return parsed as DeployParameterFile;
}

/** A parameter from its module or `$global`, else `fallback`. */
export function deployParameter(
  file: DeployParameterFile,
  module: string,
  name: string,
  fallback?: bigint,
): unknown {
  return file[module]?.[name] ?? file.$global?.[name] ?? fallback;
}

function bigintParameter(
  file: DeployParameterFile,
  module: string,
  name: string,
  fallback: bigint,
): bigint {
  const value = deployParameter(file, module, name, fallback);
  if (typeof value !== "bigint") {
    throw new InvalidInputError(
      `${module}.${name} must be an integer written "123n" in the parameter file (got ${JSON.stringify(value)})`,
    );
  }
  return value;
}

function addressParameter(
  file: DeployParameterFile,
  module: string,
  name: string,
  path: string,
): Hex {
  const value = deployParameter(file, module, name);
  if (typeof value !== "string" || !isAddress(value) || value === ZeroAddress) {
    throw new InvalidInputError(
      `set ${name} in ${path} (${module}.${name}) to a non-zero address (got ${JSON.stringify(value)})`,
    );
  }
  return getAddress(value) as Hex;
}

export interface DeployParameterContext {
  /** The file's path, for the messages. */
  readonly path: string;
  /** The deploying account: it hands every role to governance, so governance must be another. */
  readonly deployer: Hex;
  /** A local chain (31337): a mock collateral is deployed, no token is read. */
  readonly local: boolean;
  readonly provider: Provider;
}

export interface CheckedDeployParameters {
  readonly governance: Hex;
  /** The collateral token on a public chain; undefined on a local one (a mock is deployed). */
  readonly collateral:
    { readonly token: Hex; readonly symbol: string; readonly decimals: number } | undefined;
  /** What holds but deserves a look (governance without code: an EOA, not a multisig). */
  readonly notes: readonly string[];
}

/**
 * Refuses, before anything is sent, a parameter file the contracts would refuse half way or that would
 * leave the system ungoverned: the governance (the deployer hands every role over to it, so it must be
 * another address), the collateral token on a public chain (code and decimals), the evidence window against
 * unbonding and the pool's windows, the bounty against the pool's cover factor. Each refusal an
 * InvalidInputError naming the parameter and the file.
 */
export async function checkDeployParameters(
  file: DeployParameterFile,
  context: DeployParameterContext,
): Promise<CheckedDeployParameters> {
  const { path, local, provider } = context;
  const notes: string[] = [];
  const governance = addressParameter(file, "$global", "governance", path);
  if (governance === getAddress(context.deployer)) {
    throw new InvalidInputError(
      `governance ${governance} is the deploying account: the deployment hands every role to governance and ` +
        `the deployer renounces its own, which would leave the system ungoverned. Set $global.governance in ${path} ` +
        `to another address (a multisig)`,
    );
  }
  if (!local && (await provider.getCode(governance)) === "0x") {
    notes.push(
      `governance ${governance} has no code (an externally owned account, not a multisig)`,
    );
  }
  let collateral: CheckedDeployParameters["collateral"];
  if (!local) {
    const token = addressParameter(file, "DeviceStaking", "token", path);
    if ((await provider.getCode(token)) === "0x") {
      throw new InvalidInputError(
        `DeviceStaking.token ${token} in ${path} has no code on this chain`,
      );
    }
    const info = await tokenInfo(token, provider).catch((cause: unknown) => {
      throw new InvalidInputError(
        `DeviceStaking.token ${token} in ${path} does not answer symbol() and decimals(): is it an ERC-20?`,
        { cause },
      );
    });
    collateral = { token, symbol: info.symbol, decimals: info.decimals };
  }
  const s = DEFAULT_STAKING_PARAMS;
  const unbonding = bigintParameter(file, "DeviceStaking", "unbondingPeriod", s.unbondingPeriod);
  const window = bigintParameter(file, "DeviceStaking", "evidenceWindow", s.evidenceWindow);
  const bounty = bigintParameter(file, "DeviceStaking", "bountyBps", s.bountyBps);
  const p = DEFAULT_POOL_PARAMS;
  const claimWindow = bigintParameter(file, "InsurancePool", "claimWindow", p.claimWindow);
  const cooldown = bigintParameter(file, "InsurancePool", "cooldown", p.cooldown);
  const coverFactor = bigintParameter(file, "InsurancePool", "coverFactorBps", p.coverFactorBps);
  if (window >= unbonding) {
    throw new InvalidInputError(
      `DeviceStaking.evidenceWindow (${window.toString()} s) must be shorter than unbondingPeriod (${unbonding.toString()} s) in ${path}`,
    );
  }
  if (claimWindow <= window || cooldown <= window) {
    throw new InvalidInputError(
      `InsurancePool.claimWindow (${claimWindow.toString()} s) and cooldown (${cooldown.toString()} s) must outlast ` +
        `DeviceStaking.evidenceWindow (${window.toString()} s) in ${path}`,
    );
  }
  if (coverFactor + bounty >= BPS) {
    throw new InvalidInputError(
      `InsurancePool.coverFactorBps (${coverFactor.toString()}) plus DeviceStaking.bountyBps (${bounty.toString()}) ` +
        `must stay below 10000 in ${path}`,
    );
  }
  return { governance, collateral, notes };
}
