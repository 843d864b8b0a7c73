import { AbiCoder, Interface, Result, concat, getAddress, keccak256 } from "ethers";
import { InvalidInputError, asHex, type Hex } from "../protocol/index.js";
import {
  DeviceAccount__factory,
  IDeviceAccountChanges__factory,
} from "../../types/ethers-contracts/index.js";
import type { AccountConfig, CounterpartyLimits, TokenLimits } from "./account-setup.js";

/**
 * What a DeviceAccount UserOperation does: an ERC-7821 batch of calls. Its callData is
 * `executeUserOp.selector ‖ mode ‖ abi.encode(Execution[])` with mode = 0x01 followed by 31 zero bytes
 * (ERC-7579 batch, revert on failure): the only callData the account validates. Builders for payments
 * (ERC-20 transfer and approve, native coin, any call) and for the account's own calls (propose, apply
 * and cancel a change, unlock), and the setter data a change carries.
 */

/** One call of a batch (ERC-7579 Execution). */
export interface Execution {
  readonly target: Hex;
  readonly value: bigint;
  readonly callData: Hex;
}

/** ERC-7579 batch mode, default execution type: 0x01 ‖ 31 zero bytes. */
export const BATCH_MODE: Hex = `0x01${"00".repeat(31)}`;

export const accountInterface = DeviceAccount__factory.createInterface();
/** The changes an account applies after its delay (IDeviceAccountChanges): a change's data is a call to one. */
export const changesInterface = IDeviceAccountChanges__factory.createInterface();
const erc20 = new Interface([
  "function transfer(address to, uint256 amount) returns (bool)",
  "function approve(address spender, uint256 amount) returns (bool)",
]);
const EXECUTION_ARRAY = ["tuple(address target, uint256 value, bytes callData)[]"];

function address(value: string, what: string): Hex {
  return getAddress(asHex(value, what, 20)) as Hex;
}

function positive(amount: bigint, what: string): bigint {
  if (amount < 0n) throw new InvalidInputError(`${what} must not be negative`);
  return amount;
}

/** ERC-7821's executionData for `batch` in BATCH_MODE: `abi.encode(Execution[])`. */
export function batchExecutionData(batch: readonly Execution[]): Hex {
  if (batch.length === 0) throw new InvalidInputError("a UserOperation needs at least one call");
  return AbiCoder.defaultAbiCoder().encode(EXECUTION_ARRAY, [
    batch.map((e) => [e.target, e.value, e.callData]),
  ]) as Hex;
}

/** The UserOperation callData for `batch`. */
export function accountCallData(batch: readonly Execution[]): Hex {
  const selector = accountInterface.getFunction("executeUserOp").selector;
  return concat([selector, BATCH_MODE, batchExecutionData(batch)]) as Hex;
}

/** The batch inside a UserOperation's callData (the inverse of accountCallData). */
export function decodeAccountCallData(callData: string): Execution[] {
  const selector = accountInterface.getFunction("executeUserOp").selector;
  if (!callData.toLowerCase().startsWith(selector) || callData.length < 2 + 72) {
    throw new InvalidInputError(
      "not a DeviceAccount UserOperation callData (executeUserOp ‖ mode)",
    );
  }
  const [batch] = AbiCoder.defaultAbiCoder().decode(EXECUTION_ARRAY, `0x${callData.slice(2 + 72)}`);
  return (batch as [string, bigint, string][]).map(([target, value, data]) => ({
    target: getAddress(target) as Hex,
    value,
    callData: data as Hex,
  }));
}

/** ERC-20 transfer(to, amount): spends `amount` to `to`. */
export function erc20Transfer(token: string, to: string, amount: bigint): Execution {
  return {
    target: address(token, "token"),
    value: 0n,
    callData: erc20.encodeFunctionData("transfer", [
      address(to, "recipient"),
      positive(amount, "amount"),
    ]) as Hex,
  };
}

/** ERC-20 approve(spender, amount): an allowance is spending power, and the policy counts it. */
export function erc20Approve(token: string, spender: string, amount: bigint): Execution {
  return {
    target: address(token, "token"),
    value: 0n,
    callData: erc20.encodeFunctionData("approve", [
      address(spender, "spender"),
      positive(amount, "amount"),
    ]) as Hex,
  };
}

/** A native-coin payment to `to`. */
export function nativePayment(to: string, amount: bigint): Execution {
  return { target: address(to, "recipient"), value: positive(amount, "amount"), callData: "0x" };
}

/** Any call (the low threshold allows it only to an allowed counterparty of the native coin). */
export function contractCall(target: string, callData: string, value = 0n): Execution {
  return {
    target: address(target, "target"),
    value: positive(value, "value"),
    callData: asHex(callData, "call data"),
  };
}

// ------------------------------------------------------------------ setter data (a change's payload)

export function setTokenLimitsData(token: string, limits: TokenLimits): Hex {
  return changesInterface.encodeFunctionData("setTokenLimits", [
    address(token, "token"),
    limits,
  ]) as Hex;
}

export function setCounterpartyLimitsData(
  token: string,
  counterparty: string,
  limits: CounterpartyLimits,
): Hex {
  return changesInterface.encodeFunctionData("setCounterpartyLimits", [
    address(token, "token"),
    address(counterparty, "counterparty"),
    limits,
  ]) as Hex;
}

export function setThresholdsData(low: bigint, high: bigint): Hex {
  return changesInterface.encodeFunctionData("setThresholds", [low, high]) as Hex;
}

export function setConfigData(config: AccountConfig): Hex {
  return changesInterface.encodeFunctionData("setConfig", [config]) as Hex;
}

export function addSignersData(signers: readonly string[]): Hex {
  return changesInterface.encodeFunctionData("addSigners", [[...signers]]) as Hex;
}

export function removeSignersData(signers: readonly string[]): Hex {
  return changesInterface.encodeFunctionData("removeSigners", [[...signers]]) as Hex;
}

export function setSignerWeightsData(signers: readonly string[], weights: readonly bigint[]): Hex {
  return changesInterface.encodeFunctionData("setSignerWeights", [
    [...signers],
    [...weights],
  ]) as Hex;
}

/** A change's id: keccak256 of its setter data (as proposeChange and pendingChange use it). */
export function changeId(data: string): Hex {
  return keccak256(asHex(data, "change data")) as Hex;
}

// ------------------------------------------------------------------ the account's own calls

/** proposeChange(data): schedules a setter call (high threshold). */
export function proposeChange(account: string, data: string): Execution {
  return contractCall(
    account,
    accountInterface.encodeFunctionData("proposeChange", [asHex(data, "change data")]),
  );
}

/** applyChange(data): runs a due change (anyone may also call it directly). */
export function applyChange(account: string, data: string): Execution {
  return contractCall(
    account,
    accountInterface.encodeFunctionData("applyChange", [asHex(data, "change data")]),
  );
}

/** cancelChange(id): drops a pending change (high threshold; the operator may call it directly). */
export function cancelChange(account: string, id: string): Execution {
  return contractCall(
    account,
    accountInterface.encodeFunctionData("cancelChange", [asHex(id, "change id", 32)]),
  );
}

/** unlock(): releases the velocity breaker (high threshold; the operator may call it directly). */
export function unlockAccount(account: string): Execution {
  return contractCall(account, accountInterface.encodeFunctionData("unlock"));
}

/** A change's setter data as a sentence: `setTokenLimits(0x…, {periodCap: …})`. */
export function describeChange(data: string): { readonly setter: string; readonly args: unknown } {
  const parsed = changesInterface.parseTransaction({ data });
  if (parsed === null) return { setter: "unknown", args: data };
  const args: Record<string, unknown> = {};
  parsed.fragment.inputs.forEach((input, i) => {
    args[input.name] = plainArg(parsed.args[i] as unknown);
  });
  return { setter: parsed.name, args };
}

/** ethers Results as plain objects (named tuples) and arrays. */
function plainArg(value: unknown): unknown {
  if (!(value instanceof Result)) return value;
  try {
    const named = value.toObject();
    if (Object.keys(named).length === value.length) {
      return Object.fromEntries(Object.entries(named).map(([k, v]) => [k, plainArg(v)]));
    }
  } catch {
    // An unnamed value (an array): take it as a list.
  }
  return value.toArray().map(plainArg);
}
