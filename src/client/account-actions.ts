import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { getAddress, type Provider, type Signer } from "ethers";
import { DeviceTrustError, InvalidInputError, asHex, type Hex } from "../protocol/index.js";
import { DeviceAccount__factory } from "../../types/ethers-contracts/index.js";
import type { BundlerClient } from "./bundler-client.js";
import {
  changeId,
  erc20Transfer,
  nativePayment,
  proposeChange,
  setCounterpartyLimitsData,
  setTokenLimitsData,
  type Execution,
} from "./account-calls.js";
import {
  NATIVE,
  accountAddress,
  accountFactoryAt,
  createAccountData,
  setupFromJson,
  setupStruct,
  setupToJson,
  tokenLimits,
  type AccountSetup,
  type TokenPolicyInput,
} from "./account-setup.js";
import type { AccountSigners } from "./account-signature.js";
import {
  sendAccountOperation,
  type AccountOperationResult,
  type GasOverrides,
} from "./account-send.js";
import { accountState, deviceAccountAt } from "./account-state.js";
import type { SponsorOptions } from "./paymaster.js";
import { decodeAccountError } from "./account-errors.js";
import { send, type TxResult } from "./transaction.js";

/**
 * What the account tasks do, as functions of their dependencies: create an account (counterfactually,
 * or deployed through the factory), keep its setup in an account file (the first UserOperation needs it
 * for initCode), pay from it, propose a policy change, apply the due ones, unlock, cancel.
 */

/** What an account file holds: enough to deploy the account with its first UserOperation. */
export interface AccountFile {
  readonly account: Hex;
  readonly chainId: bigint;
  readonly factory: Hex;
  readonly salt: Hex;
  readonly setup: AccountSetup;
}

/** `<dir>/chain-<id>/<account>.json`. */
export function accountFilePath(dir: string, chainId: bigint, account: string): string {
  return join(dir, `chain-${chainId.toString()}`, `${getAddress(account)}.json`);
}

export async function writeAccountFile(dir: string, file: AccountFile): Promise<string> {
  const path = accountFilePath(dir, file.chainId, file.account);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(
    path,
    `${JSON.stringify(
      {
        account: file.account,
        chainId: file.chainId.toString(),
        factory: file.factory,
        salt: file.salt,
        setup: setupToJson(file.setup),
      },
      null,
      2,
    )}\n`,
  );
  return path;
}

/** The account file of `account` on `chainId`, or undefined if there is none. */
export async function readAccountFile(
  dir: string,
  chainId: bigint,
  account: string,
): Promise<AccountFile | undefined> {
  const path = accountFilePath(dir, chainId, account);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return undefined;
  }
  const json = JSON.parse(text) as Record<string, unknown>;
  return {
    account: getAddress(String(json.account)) as Hex,
    chainId: BigInt(String(json.chainId)),
    factory: getAddress(String(json.factory)) as Hex,
    salt: asHex(String(json.salt), "salt", 32),
    setup: setupFromJson(json.setup),
  };
}

export interface CreateAccountOptions {
  readonly factory: string;
  readonly setup: AccountSetup;
  readonly salt: Hex;
  /** Deploy now through the factory (createAccount from this wallet); else at the first UserOperation. */
  readonly deployWith?: Signer | undefined;
  readonly provider: Provider;
}

export interface CreateAccountResult {
  readonly account: Hex;
  readonly factory: Hex;
  readonly salt: Hex;
  /** "factory": deployed now; "first-user-operation": deploys with its first UserOperation (initCode). */
  readonly deployment: "factory" | "first-user-operation" | "already-deployed";
  readonly txHash: Hex | null;
  readonly gasUsed: bigint | null;
  readonly signers: number;
  readonly lowThreshold: bigint;
  readonly highThreshold: bigint;
}

/** The account's address for (setup, salt), deployed through the factory when `deployWith` is given. */
export async function createAccount(options: CreateAccountOptions): Promise<CreateAccountResult> {
  const factory = accountFactoryAt(options.factory, options.deployWith ?? options.provider);
  const account = await accountAddress(factory, options.setup, options.salt);
  const summary = {
    account,
    factory: getAddress(options.factory) as Hex,
    salt: options.salt,
    signers: options.setup.signers.length,
    lowThreshold: options.setup.lowThreshold,
    highThreshold: options.setup.config.highThreshold,
  };
  if ((await options.provider.getCode(account)) !== "0x") {
    return { ...summary, deployment: "already-deployed", txHash: null, gasUsed: null };
  }
  if (options.deployWith === undefined) {
    return { ...summary, deployment: "first-user-operation", txHash: null, gasUsed: null };
  }
  let tx: TxResult;
  try {
    tx = await send(() => factory.createAccount(setupStruct(options.setup), options.salt));
  } catch (err: unknown) {
    throw decodeAccountError(err) ?? err;
  }
  return { ...summary, deployment: "factory", txHash: tx.txHash, gasUsed: tx.gasUsed };
}

/** How a UserOperation leaves: the signers, and a bundler or a wallet for handleOps. */
export interface OperationRoute {
  readonly provider: Provider;
  readonly signers: AccountSigners;
  readonly bundler?: BundlerClient | undefined;
  readonly wallet?: Signer | undefined;
  readonly gas?: GasOverrides | undefined;
  /** Gas paid by a DevicePaymaster that sponsors the account. */
  readonly sponsor?: SponsorOptions | undefined;
  readonly onProgress?: ((message: string) => void) | undefined;
  /** The account file, for the first UserOperation of an account not deployed yet. */
  readonly accountFile?: AccountFile | undefined;
}

/** The EntryPoint of the account's implementation (read through the factory before it exists). */
export async function accountEntryPoint(
  provider: Provider,
  account: string,
  factory?: string,
): Promise<Hex> {
  if ((await provider.getCode(account)) !== "0x") {
    return getAddress(await deviceAccountAt(account, provider).entryPoint()) as Hex;
  }
  if (factory === undefined) {
    throw new InvalidInputError(
      `account ${account} is not deployed and no account file names its factory: create it with account create`,
    );
  }
  const implementation = await accountFactoryAt(factory, provider).IMPLEMENTATION();
  return getAddress(
    await DeviceAccount__factory.connect(implementation, provider).entryPoint(),
  ) as Hex;
}

/** Sends `batch` from `account` along `route`. */
export async function sendFromAccount(
  account: string,
  batch: readonly Execution[],
  route: OperationRoute,
): Promise<AccountOperationResult> {
  const file = route.accountFile;
  const entryPoint = await accountEntryPoint(route.provider, account, file?.factory);
  return sendAccountOperation({
    account,
    batch,
    signers: route.signers,
    provider: route.provider,
    entryPoint,
    ...(file === undefined
      ? {}
      : {
          initCode: {
            factory: file.factory,
            factoryData: createAccountData(file.setup, file.salt),
          },
        }),
    bundler: route.bundler,
    wallet: route.wallet,
    gas: route.gas,
    sponsor: route.sponsor,
    onProgress: route.onProgress,
  });
}

export interface PayOptions {
  readonly account: string;
  /** The ERC-20, or NATIVE for the native coin. */
  readonly token: string;
  readonly to: string;
  /** In the token's smallest units. */
  readonly amount: bigint;
}

/** Pays `amount` of `token` (or the native coin) to `to` from the account, in one UserOperation. */
export async function payFromAccount(
  options: PayOptions,
  route: OperationRoute,
): Promise<AccountOperationResult> {
  if (options.amount <= 0n) throw new InvalidInputError("the amount must be positive");
  const native = getAddress(options.token) === NATIVE;
  const call = native
    ? nativePayment(options.to, options.amount)
    : erc20Transfer(options.token, options.to, options.amount);
  return sendFromAccount(options.account, [call], route);
}

export interface PolicyChangeOptions {
  readonly account: string;
  readonly token: string;
  /** A counterparty's limits for the token; else the token's own limits. */
  readonly counterparty?: string | undefined;
  /** Remove the token (or the counterparty) from the policy. */
  readonly remove?: boolean | undefined;
  readonly limits?: Omit<TokenPolicyInput, "token"> | undefined;
}

/** The setter data of a token or counterparty limit change. */
export function policyChangeData(options: PolicyChangeOptions): Hex {
  const remove = options.remove === true;
  if (!remove && options.limits === undefined) {
    throw new InvalidInputError("give the new limits (--period-cap, --per-call-cap) or --remove");
  }
  if (options.counterparty !== undefined && options.counterparty !== "") {
    return setCounterpartyLimitsData(
      options.token,
      options.counterparty,
      remove || options.limits === undefined
        ? { periodCap: 0n, perCallCap: 0n, allowed: false }
        : {
            periodCap: options.limits.periodCap,
            perCallCap: options.limits.perCallCap ?? options.limits.periodCap,
            allowed: true,
          },
    );
  }
  return setTokenLimitsData(
    options.token,
    remove || options.limits === undefined
      ? { periodCap: 0n, perCallCap: 0n, period: 0n, velocityWindow: 0n }
      : tokenLimits({ token: options.token, ...options.limits }),
  );
}

export interface ProposeResult extends AccountOperationResult {
  readonly changeId: Hex;
  readonly changeData: Hex;
  readonly eta: bigint;
}

/** Proposes a policy change through a UserOperation (its signers must reach the high threshold). */
export async function proposePolicyChange(
  options: PolicyChangeOptions,
  route: OperationRoute,
): Promise<ProposeResult> {
  const data = policyChangeData(options);
  const result = await sendFromAccount(
    options.account,
    [proposeChange(options.account, data)],
    route,
  );
  const id = changeId(data);
  const eta = await deviceAccountAt(options.account, route.provider).pendingChange(id);
  return { ...result, changeId: id, changeData: data, eta };
}

export interface AppliedChange extends TxResult {
  readonly id: Hex;
  readonly setter: string;
}

/** Applies every pending change whose delay is over, each by a direct applyChange from `wallet`. */
export async function applyDueChanges(
  provider: Provider,
  account: string,
  wallet: Signer,
): Promise<{ readonly applied: readonly AppliedChange[]; readonly notDue: number }> {
  const state = await accountState(provider, account);
  const due = state.pendingChanges.filter((c) => c.due);
  if (due.length === 0) {
    const next = state.pendingChanges.map((c) => c.eta).sort((a, b) => (a < b ? -1 : 1))[0];
    throw new DeviceTrustError(
      "NO_DUE_CHANGE",
      next === undefined
        ? `account ${state.account} has no pending change: propose one first (account policy)`
        : `no pending change of account ${state.account} is due yet: the next may be applied from ${next.toString()} (${new Date(Number(next) * 1000).toISOString()})`,
    );
  }
  const contract = deviceAccountAt(account, provider).connect(wallet);
  const applied: AppliedChange[] = [];
  for (const change of due) {
    try {
      const tx = await send(() => contract.applyChange(change.data));
      applied.push({
        id: change.id,
        setter: change.setter,
        txHash: tx.txHash,
        blockNumber: tx.blockNumber,
        gasUsed: tx.gasUsed,
      });
    } catch (err: unknown) {
      throw decodeAccountError(err) ?? err;
    }
  }
  return { applied, notDue: state.pendingChanges.length - due.length };
}

/** A direct call of the operator: unlock() the breaker, or cancelChange(id). */
export async function operatorCall(
  provider: Provider,
  account: string,
  wallet: Signer,
  call: { readonly unlock: true } | { readonly cancel: string },
): Promise<TxResult & { readonly action: string }> {
  const contract = deviceAccountAt(account, provider).connect(wallet);
  try {
    const action = "unlock" in call ? "unlock" : `cancel ${asHex(call.cancel, "change id", 32)}`;
    const { txHash, blockNumber, gasUsed } = await send(() =>
      "unlock" in call ? contract.unlock() : contract.cancelChange(call.cancel),
    );
    return { action, txHash, blockNumber, gasUsed };
  } catch (err: unknown) {
    throw decodeAccountError(err) ?? err;
  }
}
