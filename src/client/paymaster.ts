import {
  dataSlice,
  getAddress,
  toBeHex,
  type ContractRunner,
  type Log,
  type Provider,
  type Signer,
} from "ethers";
import { InvalidInputError, type Hex } from "../protocol/index.js";
import {
  DevicePaymaster__factory,
  type DevicePaymaster,
} from "../../types/ethers-contracts/index.js";
import { setupStruct, type AccountSetup } from "./account-setup.js";
import {
  SponsorshipRefusedError,
  decodePaymasterError,
  explainSponsorshipRefusal,
  sponsorshipRefusalName,
  type SponsorshipRefusal,
} from "./paymaster-errors.js";
import { send, type TxResult } from "./transaction.js";
import {
  packPaymasterAndData,
  packUserOperation,
  type PackedUserOperation,
  type UserOperation,
} from "./user-operation.js";

/**
 * Gas sponsored by a DevicePaymaster: the paymaster fields of a UserOperation (paymasterData is the
 * `uint48 at` the contract reads: the time the operation is meant to land, which picks the budget window),
 * the paymaster's verdict before signing (previewSponsorship, an eth_call of the contract's own view of its
 * validation), the charge read back from a mined operation, and the operator's actions as plain
 * transactions. A sponsored account needs no EntryPoint deposit and no native coin.
 */

/**
 * Paymaster gas limits for a sponsored DeviceAccount operation. Validation reads the account's config and
 * signer weights and, per device signer, the registry's trust horizon: measured on EDR (osaka, cold) at
 * ~60k for one device signer and ~85k for three, so twice that. postOp settles the reservation: 40,000 is
 * the most that costs no unused-gas penalty (the EntryPoint charges 10% of unused postOp gas past 40,000)
 * and is above the contract's MIN_POST_OP_GAS (30,000).
 */
export const PAYMASTER_GAS = {
  verificationBase: 100_000n,
  verificationPerSigner: 25_000n,
  postOp: 40_000n,
} as const;

const UINT48_MAX = (1n << 48n) - 1n;

export function paymasterAt(address: string, runner: ContractRunner): DevicePaymaster {
  return DevicePaymaster__factory.connect(address, runner);
}

/** What a sponsored operation carries for the paymaster. */
export interface Sponsorship {
  readonly paymaster: string;
  /** When the operation is meant to land (unix seconds): its budget windows are the ones holding `at`. */
  readonly at: bigint;
  readonly verificationGasLimit: bigint;
  readonly postOpGasLimit: bigint;
}

/** DevicePaymaster's paymasterData: `uint48 at`. */
export function sponsorshipData(at: bigint): Hex {
  if (at < 0n || at > UINT48_MAX) {
    throw new InvalidInputError(`at must be unix seconds within 48 bits, got ${at.toString()}`);
  }
  return toBeHex(at, 6) as Hex;
}

/** The UserOperation fields of a sponsorship (packUserOperation turns them into paymasterAndData). */
export function sponsoredFields(
  s: Sponsorship,
): Required<
  Pick<
    UserOperation,
    "paymaster" | "paymasterVerificationGasLimit" | "paymasterPostOpGasLimit" | "paymasterData"
  >
> {
  return {
    paymaster: getAddress(s.paymaster) as Hex,
    paymasterVerificationGasLimit: s.verificationGasLimit,
    paymasterPostOpGasLimit: s.postOpGasLimit,
    paymasterData: sponsorshipData(s.at),
  };
}

/** paymaster ‖ verification gas ‖ postOp gas ‖ uint48 at, as EntryPoint v0.8 packs it. */
export function paymasterAndData(s: Sponsorship): Hex {
  return packPaymasterAndData(sponsoredFields(s));
}

/** How the caller wants an operation sponsored; the rest is defaulted (see sponsorshipFor). */
export interface SponsorOptions {
  readonly paymaster: string;
  /** Default: the latest block's timestamp. */
  readonly at?: bigint | undefined;
  /** Default: PAYMASTER_GAS per signer. */
  readonly verificationGasLimit?: bigint | undefined;
  readonly postOpGasLimit?: bigint | undefined;
}

/** The sponsorship of an operation with `signerCount` signers, `at` defaulting to the latest block's time. */
export async function sponsorshipFor(
  options: SponsorOptions,
  provider: Provider,
  signerCount: number,
): Promise<Sponsorship> {
  const at = options.at ?? BigInt((await provider.getBlock("latest"))?.timestamp ?? 0);
  return {
    paymaster: options.paymaster,
    at,
    verificationGasLimit:
      options.verificationGasLimit ??
      PAYMASTER_GAS.verificationBase + PAYMASTER_GAS.verificationPerSigner * BigInt(signerCount),
    postOpGasLimit: options.postOpGasLimit ?? PAYMASTER_GAS.postOp,
  };
}

/** previewSponsorship's answer, with the refusal named and explained. */
export interface SponsorshipPreview {
  readonly paymaster: Hex;
  readonly account: Hex;
  readonly sponsored: boolean;
  readonly refusal: SponsorshipRefusal;
  /** What the refusal means and what to do ("the paymaster sponsors it" when sponsored). */
  readonly explanation: string;
  /** The validity range validation would return (validAfter is exclusive in EntryPoint v0.8). */
  readonly validAfter: bigint;
  readonly validUntil: bigint;
  /** The operation's maximum cost, reserved from the operator's balance and budgets in validation. */
  readonly maxCost: bigint;
}

function packed(op: UserOperation | PackedUserOperation): PackedUserOperation {
  return "initCode" in op ? op : packUserOperation(op);
}

/**
 * Whether the operation's paymaster (a DevicePaymaster) would sponsor it now, and if not why: the contract
 * runs every check of its validation (the account's sponsor and operator, the signers' trust, the budgets,
 * the balance) and the clock. The signature need not be valid yet, only of the right shape (the signers
 * and their keys): a dummy one previews an operation before it is signed.
 */
export async function previewSponsorship(
  runner: ContractRunner,
  op: UserOperation | PackedUserOperation,
): Promise<SponsorshipPreview> {
  const p = packed(op);
  if (p.paymasterAndData.length < 2 + 52 * 2) {
    throw new InvalidInputError("the operation names no paymaster: add sponsoredFields() first");
  }
  const paymaster = getAddress(dataSlice(p.paymasterAndData, 0, 20)) as Hex;
  const [refusalValue, validAfter, validUntil, maxCost] = await paymasterAt(
    paymaster,
    runner,
  ).previewSponsorship(p);
  const refusal = sponsorshipRefusalName(refusalValue);
  return {
    paymaster,
    account: getAddress(p.sender) as Hex,
    sponsored: refusal === "None",
    refusal,
    explanation: explainSponsorshipRefusal(refusal),
    validAfter,
    validUntil,
    maxCost,
  };
}

/** Throws SponsorshipRefusedError unless the preview says the operation is sponsored. */
export function requireSponsored(preview: SponsorshipPreview): void {
  if (!preview.sponsored) throw new SponsorshipRefusedError(preview);
}

/**
 * Previews an operation's sponsorship and throws SponsorshipRefusedError if refused. An account not
 * deployed yet cannot be previewed (the paymaster reads its config, which exists only once the operation's
 * initCode ran): its first operation learns the verdict in validation (AA34 when refused); false then.
 */
export async function checkSponsorship(
  provider: Provider,
  op: UserOperation,
  progress: (message: string) => void = () => undefined,
): Promise<boolean> {
  if ((await provider.getCode(op.sender)) === "0x") {
    progress(
      "the account has no code yet: the paymaster decides in validation (AA34 if it refuses)",
    );
    return false;
  }
  progress(`asking paymaster ${String(op.paymaster)} whether it sponsors the operation`);
  requireSponsored(await previewSponsorship(provider, op));
  return true;
}

/** What the paymaster charged for a mined operation (its UserOperationSponsored event). */
export interface SponsoredCharge {
  readonly paymaster: Hex;
  readonly operator: Hex;
  /** Taken from the operator's balance and budgets. */
  readonly charged: bigint;
  /** Given back of the reservation. */
  readonly released: bigint;
}

const PAYMASTER_INTERFACE = DevicePaymaster__factory.createInterface();
const SPONSORED_TOPIC = PAYMASTER_INTERFACE.getEvent("UserOperationSponsored").topicHash;

/** The paymaster's charge for `userOpHash` in the bundle transaction's logs (undefined if none). */
export function sponsoredCharge(
  logs: readonly Log[],
  paymaster: string,
  userOpHash: string,
): SponsoredCharge | undefined {
  const log = logs.find(
    (l) =>
      l.address.toLowerCase() === paymaster.toLowerCase() &&
      l.topics[0] === SPONSORED_TOPIC &&
      l.topics[1]?.toLowerCase() === userOpHash.toLowerCase(),
  );
  const parsed = log === undefined ? null : PAYMASTER_INTERFACE.parseLog(log);
  if (parsed === null) return undefined;
  return {
    paymaster: getAddress(paymaster) as Hex,
    operator: getAddress(String(parsed.args.operator)) as Hex,
    charged: parsed.args.charged as bigint,
    released: parsed.args.released as bigint,
  };
}

// ------------------------------------------------------------------ operator and owner actions

async function transact(
  paymaster: string,
  wallet: Signer,
  call: (contract: DevicePaymaster) => ReturnType<DevicePaymaster["fund"]>,
): Promise<TxResult> {
  try {
    const { txHash, blockNumber, gasUsed } = await send(() => call(paymasterAt(paymaster, wallet)));
    return { txHash, blockNumber, gasUsed };
  } catch (err: unknown) {
    throw decodePaymasterError(err) ?? err;
  }
}

/** A gas budget: at most `cap` wei per fixed window of `period` seconds. */
export interface BudgetInput {
  readonly cap: bigint;
  readonly period: bigint;
}

/** The operator (`wallet`) sponsors the factory's account for (setup, salt), deployed or not. */
export function registerSponsoredAccount(
  paymaster: string,
  wallet: Signer,
  setup: AccountSetup,
  salt: Hex,
): Promise<TxResult> {
  return transact(paymaster, wallet, (c) => c.registerAccount(setupStruct(setup), salt));
}

/** The operator stops sponsoring `account`. */
export function unregisterSponsoredAccount(
  paymaster: string,
  wallet: Signer,
  account: string,
): Promise<TxResult> {
  return transact(paymaster, wallet, (c) => c.unregisterAccount(account));
}

/** Sets the operator's (`wallet`'s) budget for all its accounts; nothing is sponsored before. */
export function setOperatorBudget(
  paymaster: string,
  wallet: Signer,
  budget: BudgetInput,
): Promise<TxResult> {
  return transact(paymaster, wallet, (c) => c.setOperatorBudget(budget.cap, budget.period));
}

/** Sets one account's own budget (null removes it: the operator's budget alone applies). */
export function setAccountBudget(
  paymaster: string,
  wallet: Signer,
  account: string,
  budget: BudgetInput | null,
): Promise<TxResult> {
  const { cap, period } = budget ?? { cap: 0n, period: 0n };
  return transact(paymaster, wallet, (c) => c.setAccountBudget(account, cap, period));
}

/** Adds `amount` wei to `operator`'s balance (deposited in the EntryPoint); anyone may fund. */
export function fundOperator(
  paymaster: string,
  wallet: Signer,
  operator: string,
  amount: bigint,
): Promise<TxResult> {
  return transact(paymaster, wallet, (c) => c.fund(operator, { value: amount }));
}

/** The operator (`wallet`) withdraws `amount` wei of its balance to `to`. */
export function withdrawOperatorFunds(
  paymaster: string,
  wallet: Signer,
  to: string,
  amount: bigint,
): Promise<TxResult> {
  return transact(paymaster, wallet, (c) => c.withdraw(to, amount));
}

/** The owner stakes `amount` wei in the EntryPoint for the paymaster (bundlers require a stake). */
export function stakePaymaster(
  paymaster: string,
  owner: Signer,
  amount: bigint,
  unstakeDelaySec: bigint,
): Promise<TxResult> {
  return transact(paymaster, owner, (c) => c.addStake(unstakeDelaySec, { value: amount }));
}
