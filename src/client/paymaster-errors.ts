import { DeviceTrustError, type Hex } from "../protocol/index.js";
import { DevicePaymaster__factory } from "../../types/ethers-contracts/index.js";
import {
  ContractError,
  contractError,
  decodeContractError,
  findRevertData,
  s,
  type ErrorSentences,
} from "./decode-error.js";

/**
 * DevicePaymaster's refusals (IDevicePaymaster.Refusal: why validation returns SIG_VALIDATION_FAILED,
 * as previewSponsorship reports it) and its custom errors (operator and owner actions), in sentences
 * that say what to do.
 */

/** IDevicePaymaster.Refusal, by value. */
export const SPONSORSHIP_REFUSALS = [
  "None",
  "InvalidPaymasterData",
  "PostOpGasTooLow",
  "NotSponsored",
  "OperatorChanged",
  "InvalidSignature",
  "Untrusted",
  "OperatorBudgetExceeded",
  "AccountBudgetExceeded",
  "InsufficientFunds",
  "OutOfTimeRange",
] as const;
export type SponsorshipRefusal = (typeof SPONSORSHIP_REFUSALS)[number];

export function sponsorshipRefusalName(value: bigint | number): SponsorshipRefusal {
  const name = SPONSORSHIP_REFUSALS[Number(value)];
  if (name === undefined) {
    throw new DeviceTrustError(
      "UNKNOWN_SPONSORSHIP_REFUSAL",
      `the paymaster answered refusal ${String(value)}, which this client does not know: is it a DevicePaymaster of this version?`,
    );
  }
  return name;
}

const REFUSAL_HELP: Readonly<Record<SponsorshipRefusal, string>> = {
  None: "the paymaster sponsors it",
  InvalidPaymasterData:
    "paymasterData is not the `uint48 at` DevicePaymaster reads (or `at` lies beyond its budget windows): build it with sponsoredFields()",
  PostOpGasTooLow:
    "paymasterPostOpGasLimit is below the paymaster's MIN_POST_OP_GAS (30,000): give at least that",
  NotSponsored:
    "the account is not registered with the paymaster: its operator registers it (registerSponsoredAccount, or paymaster register)",
  OperatorChanged:
    "the account's operator changed since its sponsor registered it: the new operator registers it again",
  InvalidSignature:
    "the signature is not abi.encode(bytes[] signers, bytes[] signatures): sign with signAccountOperation",
  Untrusted:
    "its signers trusted now weigh less than the threshold the account applies (a device is stale, suspended, rotated or marked by an incident), so the account would refuse it at the operator's expense: attest the device again (device attest), or sign with other signers",
  OperatorBudgetExceeded:
    "the operator's budget has no room for the operation's maximum cost in this window, or no budget is set: the operator raises it (setOperatorBudget), or wait for the next window (paymaster show says when it starts)",
  AccountBudgetExceeded:
    "the account's own budget has no room for the operation's maximum cost in this window: its operator raises it (setAccountBudget), or wait for the next window",
  InsufficientFunds:
    "the operator's balance at the paymaster is below the operation's maximum cost: fund it (fundOperator, or paymaster fund)",
  OutOfTimeRange:
    "now is outside the range the paymaster would return: `at` names another budget window, or a signer's trust ends first: build the operation with `at` = now",
};

/** The sentence for a refusal: what it means and what to do. */
export function explainSponsorshipRefusal(refusal: SponsorshipRefusal): string {
  return REFUSAL_HELP[refusal];
}

/**
 * The paymaster will not sponsor the operation (previewSponsorship's answer, before anything was signed
 * or sent): `refusal` names the rule, the message says what to do. Nothing was spent.
 */
export class SponsorshipRefusedError extends DeviceTrustError {
  readonly refusal: SponsorshipRefusal;
  readonly paymaster: Hex;
  readonly account: Hex;
  /** The operation's maximum cost (what validation would reserve), in wei. */
  readonly maxCost: bigint;

  constructor(details: {
    refusal: SponsorshipRefusal;
    paymaster: Hex;
    account: Hex;
    maxCost: bigint;
  }) {
    super(
      "SPONSORSHIP_REFUSED",
      `paymaster ${details.paymaster} will not sponsor this UserOperation of account ${details.account} (maximum cost ${s(details.maxCost)} wei): ${details.refusal} — ${REFUSAL_HELP[details.refusal]}`,
    );
    this.name = "SponsorshipRefusedError";
    this.refusal = details.refusal;
    this.paymaster = details.paymaster;
    this.account = details.account;
    this.maxCost = details.maxCost;
  }
}

const EXPLAIN: ErrorSentences = {
  DevicePaymasterNotAccountOperator: (a) =>
    `account ${s(a[0])} is operated by ${s(a[1])}, not ${s(a[2])}: only an account's operator registers it (send from the operator's address)`,
  DevicePaymasterNotSponsor: (a) =>
    `${s(a[1])} does not sponsor account ${s(a[0])}: only the operator that registered it changes its budget or unregisters it`,
  DevicePaymasterInvalidBudget: (a) =>
    `a budget of cap ${s(a[0])} per ${s(a[1])} s is invalid: give a positive period (an account budget of period 0 needs cap 0: it removes the budget)`,
  DevicePaymasterInsufficientFunds: (a) =>
    `operator ${s(a[0])} has ${s(a[1])} wei at the paymaster, not ${s(a[2])}: withdraw at most its balance (paymaster show)`,
  DevicePaymasterInsufficientSurplus: (a) =>
    `the surplus is ${s(a[0])} wei, not ${s(a[1])}: the operators' balances are theirs, withdraw at most the surplus`,
  DevicePaymasterZeroAmount: () =>
    "a zero amount or the zero address: give a positive amount and a real address",
  DevicePaymasterInvalidSetup: () =>
    "the factory has no DeviceAccount implementation or entry point: deploy the paymaster over a DeviceAccountFactory",
  OwnableUnauthorizedAccount: (a) =>
    `${s(a[0])} is not the paymaster's owner: stake and surplus are the owner's (send from the owner)`,
};

/** The custom-error names explained above. */
export const EXPLAINED_PAYMASTER_ERRORS: readonly string[] = Object.keys(EXPLAIN);

const INTERFACE = DevicePaymaster__factory.createInterface();

/** A DevicePaymaster custom error inside `err`, in a sentence; else decode-error.ts's errors. */
export function decodePaymasterError(err: unknown): ContractError | undefined {
  if (err instanceof ContractError) return err;
  const data = findRevertData(err);
  if (data === undefined) return decodeContractError(err);
  let parsed;
  try {
    parsed = INTERFACE.parseError(data);
  } catch {
    parsed = null; // a known selector with malformed arguments
  }
  if (parsed === null || !(parsed.name in EXPLAIN)) return decodeContractError(err);
  return contractError(parsed.name, parsed.args.toArray(), err, EXPLAIN);
}
