import { NATIVE_TOKEN } from "../payments/terms.js";
import { concat, getAddress, id, isHexString, type ContractRunner } from "ethers";
import { InvalidInputError, asHex, type Hex } from "../protocol/index.js";
import {
  DeviceAccountFactory__factory,
  type DeviceAccountFactory,
} from "../../types/ethers-contracts/index.js";

/**
 * The setup a DeviceAccount starts with (IDeviceAccount.Setup), its counterfactual address and the initCode
 * that deploys it with its first UserOperation. Signers are `verifier ‖ deviceId` for devices and the
 * operator's 20-byte address; the factory's CREATE2 salt commits to the whole setup.
 */

/** The native coin in token fields (IDeviceAccount: token address(0)). */
/** The native coin in a policy (token address(0)): the payment channels' NATIVE_TOKEN. */
export const NATIVE: Hex = NATIVE_TOKEN;

export interface AccountConfig {
  readonly operator: Hex;
  readonly highThreshold: bigint;
  readonly maxAttestationAge: bigint;
  readonly changeDelay: bigint;
  readonly velocityShareBps: bigint;
}

export interface TokenLimits {
  readonly periodCap: bigint;
  readonly perCallCap: bigint;
  readonly period: bigint;
  readonly velocityWindow: bigint;
}

export interface CounterpartyLimits {
  readonly periodCap: bigint;
  readonly perCallCap: bigint;
  readonly allowed: boolean;
}

/** IDeviceAccount.Setup with plain types (what createAccount and accountAddress take). */
export interface AccountSetup {
  readonly signers: readonly Hex[];
  readonly weights: readonly bigint[];
  readonly lowThreshold: bigint;
  readonly config: AccountConfig;
  readonly tokens: readonly { readonly token: Hex; readonly limits: TokenLimits }[];
  readonly counterparties: readonly {
    readonly token: Hex;
    readonly counterparty: Hex;
    readonly limits: CounterpartyLimits;
  }[];
}

/** Defaults of buildAccountSetup: a day's attestation age and change delay, a 50% velocity share. */
export const ACCOUNT_DEFAULTS = {
  deviceWeight: 1n,
  lowThreshold: 1n,
  maxAttestationAge: 86_400n,
  changeDelay: 86_400n,
  velocityShareBps: 5_000n,
  period: 86_400n,
  velocityWindow: 3_600n,
} as const;

export interface TokenPolicyInput {
  /** The ERC-20, or NATIVE (address(0)) for the native coin. */
  readonly token: string;
  readonly periodCap: bigint;
  /** Default: the period cap. */
  readonly perCallCap?: bigint | undefined;
  /** Seconds; default a day. */
  readonly period?: bigint | undefined;
  /** Seconds over which the velocity bucket drains; default an hour (0: breaker off for it). */
  readonly velocityWindow?: bigint | undefined;
}

export interface CounterpartyInput {
  readonly token: string;
  readonly counterparty: string;
  /** Default: the token's period cap. */
  readonly periodCap?: bigint | undefined;
  /** Default: the token's per-call cap. */
  readonly perCallCap?: bigint | undefined;
}

export interface AccountSetupInput {
  /** The DeviceSignerVerifier the account's implementation names (VERIFIER). */
  readonly verifier: string;
  /** The devices that sign, with their weight (default 1 each). */
  readonly devices: readonly (string | { readonly deviceId: string; readonly weight?: bigint })[];
  /** Cancels changes and unlocks the breaker by a direct call; also a signer unless operatorWeight is 0. */
  readonly operator: string;
  /** The operator's signer weight: default the high threshold (the owner's path); 0: not a signer. */
  readonly operatorWeight?: bigint | undefined;
  /** Default 1: one device pays inside the policy. */
  readonly lowThreshold?: bigint | undefined;
  /** Default: the devices' total weight (all devices, or the operator alone), and above the low threshold. */
  readonly highThreshold?: bigint | undefined;
  readonly maxAttestationAge?: bigint | undefined;
  readonly changeDelay?: bigint | undefined;
  readonly velocityShareBps?: bigint | undefined;
  readonly tokens?: readonly TokenPolicyInput[] | undefined;
  readonly counterparties?: readonly CounterpartyInput[] | undefined;
}

const UINT96_MAX = (1n << 96n) - 1n;
const UINT32_MAX = (1n << 32n) - 1n;

function address(value: string, what: string): Hex {
  return getAddress(asHex(value, what, 20)) as Hex;
}

function inRange(value: bigint, max: bigint, what: string): bigint {
  if (value < 0n || value > max) {
    throw new InvalidInputError(
      `${what} must be in [0, ${max.toString()}], got ${value.toString()}`,
    );
  }
  return value;
}

/** A device's ERC-7913 signer on an account: the verifier's address ‖ the 32-byte device id. */
export function deviceSigner(verifier: string, deviceId: string): Hex {
  return concat([
    address(verifier, "verifier"),
    asHex(deviceId, "device id", 32),
  ]).toLowerCase() as Hex;
}

/** The device id of a signer that is `verifier ‖ deviceId`, else undefined. */
export function deviceOfSigner(signer: string, verifier: string): Hex | undefined {
  if (signer.length !== 2 + 2 * 52) return undefined;
  if (signer.slice(0, 42).toLowerCase() !== verifier.toLowerCase()) return undefined;
  return `0x${signer.slice(42).toLowerCase()}`;
}

export function tokenLimits(input: TokenPolicyInput): TokenLimits {
  const periodCap = inRange(input.periodCap, UINT96_MAX, "periodCap");
  return {
    periodCap,
    perCallCap: inRange(input.perCallCap ?? periodCap, UINT96_MAX, "perCallCap"),
    period: inRange(input.period ?? ACCOUNT_DEFAULTS.period, UINT32_MAX, "period"),
    velocityWindow: inRange(
      input.velocityWindow ?? ACCOUNT_DEFAULTS.velocityWindow,
      UINT32_MAX,
      "velocityWindow",
    ),
  };
}

/**
 * An IDeviceAccount.Setup with sensible defaults: each device weight 1, the operator a signer weighing the
 * high threshold, low threshold 1 (one trusted device pays inside the policy), high threshold every device
 * (or the operator), a day's attestation age and change delay, a velocity breaker at half a token's period
 * cap per hour; counterparties take their token's caps unless given their own.
 */
export function buildAccountSetup(input: AccountSetupInput): AccountSetup {
  const verifier = address(input.verifier, "verifier");
  const operator = address(input.operator, "operator");
  if (input.devices.length === 0) {
    throw new InvalidInputError("an account needs at least one device: give its device id");
  }
  const devices = input.devices.map((d) =>
    typeof d === "string"
      ? { deviceId: d, weight: ACCOUNT_DEFAULTS.deviceWeight }
      : { deviceId: d.deviceId, weight: d.weight ?? ACCOUNT_DEFAULTS.deviceWeight },
  );
  const signers = devices.map((d) => deviceSigner(verifier, d.deviceId));
  if (new Set(signers).size !== signers.length) {
    throw new InvalidInputError("a device is listed twice: give each device once");
  }
  const weights = devices.map((d) => {
    if (d.weight <= 0n) throw new InvalidInputError(`device ${d.deviceId}: weights are positive`);
    return d.weight;
  });
  const deviceTotal = weights.reduce((a, b) => a + b, 0n);
  const low = input.lowThreshold ?? ACCOUNT_DEFAULTS.lowThreshold;
  // Above the low threshold always: a single device must not reach it (it would pay outside the policy).
  const high = input.highThreshold ?? (deviceTotal > low ? deviceTotal : low + 1n);
  const operatorWeight = input.operatorWeight ?? high;
  if (operatorWeight > 0n) {
    signers.push(operator.toLowerCase() as Hex);
    weights.push(operatorWeight);
  }
  const total = weights.reduce((a, b) => a + b, 0n);
  if (low <= 0n || low >= high || high > total || high > 0xffffn) {
    throw new InvalidInputError(
      `thresholds low ${low.toString()} / high ${high.toString()} with a total weight of ${total.toString()}: give 0 < low < high <= total weight (the high threshold above what pays inside the policy), high at most 65535`,
    );
  }
  const velocityShareBps = input.velocityShareBps ?? ACCOUNT_DEFAULTS.velocityShareBps;
  if (velocityShareBps < 0n || velocityShareBps > 10_000n) {
    throw new InvalidInputError("velocityShareBps must be in [0, 10000]");
  }
  const maxAttestationAge = input.maxAttestationAge ?? ACCOUNT_DEFAULTS.maxAttestationAge;
  if (maxAttestationAge <= 0n || maxAttestationAge > UINT32_MAX) {
    throw new InvalidInputError("maxAttestationAge must be a positive number of seconds (uint32)");
  }
  const changeDelay = inRange(
    input.changeDelay ?? ACCOUNT_DEFAULTS.changeDelay,
    (1n << 24n) - 1n,
    "changeDelay",
  );
  const tokens = (input.tokens ?? []).map((t) => ({
    token: address(t.token, "token"),
    limits: tokenLimits(t),
  }));
  const counterparties = (input.counterparties ?? []).map((c) => {
    const tokenAddress = address(c.token, "counterparty token");
    const limits = tokens.find((t) => t.token === tokenAddress)?.limits;
    if (limits === undefined) {
      throw new InvalidInputError(
        `counterparty ${c.counterparty} is for token ${tokenAddress}, which is not in the policy: add the token too`,
      );
    }
    return {
      token: tokenAddress,
      counterparty: address(c.counterparty, "counterparty"),
      limits: {
        periodCap: inRange(c.periodCap ?? limits.periodCap, UINT96_MAX, "periodCap"),
        perCallCap: inRange(c.perCallCap ?? limits.perCallCap, UINT96_MAX, "perCallCap"),
        allowed: true,
      },
    };
  });
  return {
    signers,
    weights,
    lowThreshold: low,
    config: { operator, highThreshold: high, maxAttestationAge, changeDelay, velocityShareBps },
    tokens,
    counterparties,
  };
}

/** The CREATE2 salt from a bytes32 or a label (hashed with keccak256). */
export function accountSalt(value: string): Hex {
  if (isHexString(value, 32)) return value.toLowerCase() as Hex;
  if (value === "") throw new InvalidInputError("the salt is empty: give a label or a bytes32");
  return id(value) as Hex;
}

/** The factory call that creates the account (the initCode's factoryData). */
export function createAccountData(setup: AccountSetup, salt: Hex): Hex {
  return DeviceAccountFactory__factory.createInterface().encodeFunctionData("createAccount", [
    setupStruct(setup),
    salt,
  ]) as Hex;
}

/** factory ‖ createAccount(setup, salt): deploys the account with its first UserOperation. */
export function accountInitCode(factory: string, setup: AccountSetup, salt: Hex): Hex {
  return concat([address(factory, "factory"), createAccountData(setup, salt)]) as Hex;
}

/** The setup as the contract's struct (ethers' encoding of IDeviceAccount.Setup). */
export function setupStruct(setup: AccountSetup) {
  return {
    signers: [...setup.signers],
    weights: [...setup.weights],
    lowThreshold: setup.lowThreshold,
    config: { ...setup.config },
    tokens: setup.tokens.map((t) => ({ token: t.token, limits: { ...t.limits } })),
    counterparties: setup.counterparties.map((c) => ({
      token: c.token,
      counterparty: c.counterparty,
      limits: { ...c.limits },
    })),
  };
}

export function accountFactoryAt(address: string, runner: ContractRunner): DeviceAccountFactory {
  return DeviceAccountFactory__factory.connect(address, runner);
}

/** The counterfactual address of (setup, salt), as the factory computes it. */
export async function accountAddress(
  factory: DeviceAccountFactory,
  setup: AccountSetup,
  salt: Hex,
): Promise<Hex> {
  return getAddress(await factory.accountAddress(setupStruct(setup), salt)) as Hex;
}

/** The JSON form of a setup (bigint as decimal strings), for account files. */
export function setupToJson(setup: AccountSetup): unknown {
  return JSON.parse(
    JSON.stringify(setup, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)),
  ) as unknown;
}

function big(value: unknown, what: string): bigint {
  if (typeof value !== "string" && typeof value !== "number") {
    throw new InvalidInputError(`${what} is not a number: ${JSON.stringify(value)}`);
  }
  return BigInt(value);
}

function obj(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidInputError(`${what} is not an object`);
  }
  return value as Record<string, unknown>;
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new InvalidInputError(`${what} is not a list`);
  return value;
}

/** A setup read back from setupToJson's form, checked field by field. */
export function setupFromJson(json: unknown): AccountSetup {
  const o = obj(json, "the account setup");
  const c = obj(o.config, "config");
  return {
    signers: list(o.signers, "signers").map((v) => asHex(String(v), "signer")),
    weights: list(o.weights, "weights").map((v) => big(v, "weight")),
    lowThreshold: big(o.lowThreshold, "lowThreshold"),
    config: {
      operator: address(String(c.operator), "config.operator"),
      highThreshold: big(c.highThreshold, "highThreshold"),
      maxAttestationAge: big(c.maxAttestationAge, "maxAttestationAge"),
      changeDelay: big(c.changeDelay, "changeDelay"),
      velocityShareBps: big(c.velocityShareBps, "velocityShareBps"),
    },
    tokens: list(o.tokens, "tokens").map((t) => {
      const r = obj(t, "token");
      const l = obj(r.limits, "token limits");
      return {
        token: address(String(r.token), "token"),
        limits: {
          periodCap: big(l.periodCap, "periodCap"),
          perCallCap: big(l.perCallCap, "perCallCap"),
          period: big(l.period, "period"),
          velocityWindow: big(l.velocityWindow, "velocityWindow"),
        },
      };
    }),
    counterparties: list(o.counterparties, "counterparties").map((t) => {
      const r = obj(t, "counterparty");
      const l = obj(r.limits, "counterparty limits");
      return {
        token: address(String(r.token), "token"),
        counterparty: address(String(r.counterparty), "counterparty"),
        limits: {
          periodCap: big(l.periodCap, "periodCap"),
          perCallCap: big(l.perCallCap, "perCallCap"),
          allowed: l.allowed === true,
        },
      };
    }),
  };
}
