import { getAddress, id, type Provider } from "ethers";
import { DeviceTrustError, type Hex } from "../protocol/index.js";
import {
  DeviceFeedFactory__factory,
  DeviceRegistry__factory,
  DeviceStaking__factory,
  FirmwareSignatures__factory,
  FraudProofs__factory,
  InsurancePool__factory,
  PqKeyRecovery__factory,
  PsaAttestation__factory,
  TpmAttestation__factory,
} from "../../types/ethers-contracts/index.js";
import { resolveDeployedAddress, type DeploymentLookup } from "./deployment.js";

/** The contracts of one DeviceTrust system, as the system deployment wires them. */
export interface SystemAddresses {
  readonly registry: Hex;
  readonly collateral: Hex;
  readonly staking: Hex;
  readonly proofs: Hex;
  readonly feedFactory: Hex;
  /** Checked for code only: it keeps its registry private (device roots are signed under its domain). */
  readonly readingAnchor: Hex;
  readonly pool: Hex;
  /** The TPM 2.0 quote appraiser. */
  readonly tpmAttestation: Hex;
  /** Post-quantum key recovery (holds the registry's KEY_RECOVERY_ROLE). */
  readonly pqKeyRecovery: Hex;
  /** Makers' LMS signatures of firmware reference values (no role). */
  readonly firmwareSignatures: Hex;
  /** The Arm PSA attestation token appraiser. */
  readonly psaAttestation: Hex;
}

/** Who should (and should no longer) hold the system's roles. */
export interface SystemRoles {
  /** The governance the deployment handed over to: must hold every admin role. */
  readonly governance?: Hex | undefined;
  /** The deploying account: after a handover it must hold no role. */
  readonly deployer?: Hex | undefined;
}

/** One fact about the wiring, read from the chain. */
export interface WiringCheck {
  readonly name: string;
  readonly ok: boolean;
  /** What was read (and, when wrong, what was expected). */
  readonly detail: string;
}

export interface SystemCheckReport {
  readonly ok: boolean;
  readonly checks: readonly WiringCheck[];
}

/** Some fact of a system's wiring on chain is not what the deployment must leave. */
export class SystemWiringError extends DeviceTrustError {
  constructor(
    message: string,
    readonly report: SystemCheckReport,
  ) {
    super("SYSTEM_WIRING", message);
    this.name = "SystemWiringError";
  }
}

/** The Ignition future names of the system's contracts (deploy/modules/DeviceTrust.ts). */
const FUTURES: Record<keyof SystemAddresses, string> = {
  registry: "DeviceRegistry",
  collateral: "CollateralToken",
  staking: "DeviceStaking",
  proofs: "FraudProofs",
  feedFactory: "DeviceFeedFactory",
  readingAnchor: "ReadingAnchor",
  pool: "InsurancePool",
  tpmAttestation: "TpmAttestation",
  pqKeyRecovery: "PqKeyRecovery",
  firmwareSignatures: "FirmwareSignatures",
  psaAttestation: "PsaAttestation",
};

/** A system's addresses (checksummed) from its Ignition deployment (deployed_addresses.json). */
export async function deployedSystemAddresses(lookup: DeploymentLookup): Promise<SystemAddresses> {
  const entries = await Promise.all(
    (Object.keys(FUTURES) as (keyof SystemAddresses)[]).map(
      async (key) =>
        [
          key,
          getAddress(
            await resolveDeployedAddress({ ...lookup, contract: FUTURES[key], option: `--${key}` }),
          ) as Hex,
        ] as const,
    ),
  );
  return Object.fromEntries(entries) as unknown as SystemAddresses;
}

const DEFAULT_ADMIN_ROLE = `0x${"00".repeat(32)}`;
const GOVERNOR_ROLE = id("GOVERNOR_ROLE");
const APPRAISER_ROLE = id("APPRAISER_ROLE");
const SUSPENDER_ROLE = id("SUSPENDER_ROLE");
const KEY_RECOVERY_ROLE = id("KEY_RECOVERY_ROLE");
const BPS = 10_000n;

/**
 * Reads a system's wiring back from the chain: every contract exists; the registry, staking, proofs, feed
 * factory and pool point at each other and at one collateral token; staking may suspend devices in the
 * registry, uses the proofs contract, approves the pool as a backer and sends it the rest of every slash;
 * the evidence window is shorter than unbonding and than the pool's claim window and cooldown; the pool's
 * cover factor ceiling plus the bounty stays below 100%; governance holds the admin roles and a deployer
 * that handed over holds none. Never throws for a wrong fact: each is a failed check in the report.
 */
export async function checkSystemWiring(
  provider: Provider,
  addresses: SystemAddresses,
  roles: SystemRoles = {},
): Promise<SystemCheckReport> {
  const checks: WiringCheck[] = [];
  const same = (a: string, b: string): boolean => getAddress(a) === getAddress(b);
  const expectAddress = (name: string, actual: string, expected: string): void => {
    checks.push({
      name,
      ok: same(actual, expected),
      detail: same(actual, expected) ? actual : `${actual}, expected ${expected}`,
    });
  };
  const expectTrue = (name: string, ok: boolean, detail: string): void => {
    checks.push({ name, ok, detail });
  };

  for (const [key, address] of Object.entries(addresses) as [keyof SystemAddresses, Hex][]) {
    const code = await provider.getCode(address);
    expectTrue(`${FUTURES[key]} has code`, code !== "0x", address);
  }
  if (checks.some((c) => !c.ok)) return { ok: false, checks };

  const registry = DeviceRegistry__factory.connect(addresses.registry, provider);
  const staking = DeviceStaking__factory.connect(addresses.staking, provider);
  const proofs = FraudProofs__factory.connect(addresses.proofs, provider);
  const factory = DeviceFeedFactory__factory.connect(addresses.feedFactory, provider);
  const pool = InsurancePool__factory.connect(addresses.pool, provider);

  expectAddress("staking.REGISTRY is the registry", await staking.REGISTRY(), addresses.registry);
  expectAddress("staking.TOKEN is the collateral", await staking.TOKEN(), addresses.collateral);
  expectAddress("staking.proofs is FraudProofs", await staking.proofs(), addresses.proofs);
  const params = await staking.params();
  expectAddress("staking loss recipient is the pool", params.lossRecipient, addresses.pool);
  expectTrue(
    "staking approves the pool as a backer",
    await staking.isBacker(addresses.pool),
    addresses.pool,
  );
  expectTrue(
    "staking may suspend devices (SUSPENDER_ROLE)",
    await registry.hasRole(SUSPENDER_ROLE, addresses.staking),
    addresses.staking,
  );
  const tpm = TpmAttestation__factory.connect(addresses.tpmAttestation, provider);
  expectAddress(
    "TpmAttestation's registry is the registry",
    await tpm.registry(),
    addresses.registry,
  );
  expectTrue(
    "TpmAttestation may record evidence (APPRAISER_ROLE)",
    await registry.hasRole(APPRAISER_ROLE, addresses.tpmAttestation),
    addresses.tpmAttestation,
  );
  const recovery = PqKeyRecovery__factory.connect(addresses.pqKeyRecovery, provider);
  expectAddress(
    "PqKeyRecovery's registry is the registry",
    await recovery.registry(),
    addresses.registry,
  );
  expectTrue(
    "PqKeyRecovery may recover device keys (KEY_RECOVERY_ROLE)",
    await registry.hasRole(KEY_RECOVERY_ROLE, addresses.pqKeyRecovery),
    addresses.pqKeyRecovery,
  );
  const firmwareSignatures = FirmwareSignatures__factory.connect(
    addresses.firmwareSignatures,
    provider,
  );
  expectAddress(
    "FirmwareSignatures's registry is the registry",
    await firmwareSignatures.registry(),
    addresses.registry,
  );
  const psa = PsaAttestation__factory.connect(addresses.psaAttestation, provider);
  expectAddress(
    "PsaAttestation's registry is the registry",
    await psa.registry(),
    addresses.registry,
  );
  expectTrue(
    "PsaAttestation may record evidence (APPRAISER_ROLE)",
    await registry.hasRole(APPRAISER_ROLE, addresses.psaAttestation),
    addresses.psaAttestation,
  );
  const window = await proofs.evidenceWindow();
  expectTrue(
    "evidence window shorter than unbonding",
    window < params.unbondingPeriod,
    `${window.toString()} s < ${params.unbondingPeriod.toString()} s`,
  );
  expectAddress("factory.REGISTRY is the registry", await factory.REGISTRY(), addresses.registry);
  expectAddress("factory.STAKING is staking", await factory.STAKING(), addresses.staking);
  expectAddress("pool asset is the collateral", await pool.asset(), addresses.collateral);
  expectAddress("pool.REGISTRY is the registry", await pool.REGISTRY(), addresses.registry);
  expectAddress("pool.STAKING is staking", await pool.STAKING(), addresses.staking);
  expectAddress("pool.PROOFS is FraudProofs", await pool.PROOFS(), addresses.proofs);
  expectAddress(
    "pool.FEED_FACTORY is the factory",
    await pool.FEED_FACTORY(),
    addresses.feedFactory,
  );
  const poolParams = await pool.params();
  expectTrue(
    "pool claim window and cooldown outlast the evidence window",
    poolParams.claimWindow > window && poolParams.cooldown > window,
    `claim ${poolParams.claimWindow.toString()} s, cooldown ${poolParams.cooldown.toString()} s, evidence ${window.toString()} s`,
  );
  const ceiling = await pool.coverFactorCeilingBps();
  expectTrue(
    "cover factor ceiling plus bounty below 100%",
    ceiling + params.bountyBps < BPS,
    `${ceiling.toString()} + ${params.bountyBps.toString()} bps`,
  );

  const { governance, deployer } = roles;
  /** Every admin role of the system: governance holds each, a deployer that handed over none. */
  const adminRoles = [
    ["registry admin", registry, DEFAULT_ADMIN_ROLE],
    ["registry governor", registry, GOVERNOR_ROLE],
    ["staking admin", staking, DEFAULT_ADMIN_ROLE],
    ["pool admin", pool, DEFAULT_ADMIN_ROLE],
  ] as const;
  for (const [what, contract, role] of adminRoles) {
    if (governance !== undefined) {
      expectTrue(`governance is ${what}`, await contract.hasRole(role, governance), governance);
    }
    if (deployer !== undefined && (governance === undefined || !same(deployer, governance))) {
      const held = await contract.hasRole(role, deployer);
      expectTrue(`deployer is no longer ${what}`, !held, deployer);
    }
  }
  return { ok: checks.every((c) => c.ok), checks };
}

/** checkSystemWiring, throwing SystemWiringError (with the report) when a check fails. */
export async function requireSystemWiring(
  provider: Provider,
  addresses: SystemAddresses,
  roles: SystemRoles = {},
): Promise<SystemCheckReport> {
  const report = await checkSystemWiring(provider, addresses, roles);
  const failed = report.checks.filter((c) => !c.ok);
  if (failed.length > 0) {
    throw new SystemWiringError(
      `the system's wiring is not as deployed: ${failed.map((c) => `${c.name} (${c.detail})`).join("; ")}`,
      report,
    );
  }
  return report;
}
