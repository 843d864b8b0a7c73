import { DeviceTrustError, type Hex } from "../protocol/index.js";
import {
  DeviceAccountFactory__factory,
  DeviceAccount__factory,
} from "../../types/ethers-contracts/index.js";
import {
  ContractError,
  contractError,
  decodeContractError,
  decodeWithSentences,
  findRevertData,
  s,
  type ErrorSentences,
} from "./decode-error.js";
import { decodeChannelRevertData } from "./channel-errors.js";

/**
 * Sentences for the custom errors of DeviceAccount (with the OpenZeppelin account errors it can raise) and
 * DeviceAccountFactory, and the typed errors of a UserOperation that was mined but did not do what it was
 * signed for: refused by the account (UserOperationRefusedError) or reverted inside it
 * (UserOperationRevertedError). decode-error.ts covers the registry, staking, proofs and tokens.
 */

function token(address: unknown): string {
  return /^0x0{40}$/i.test(String(address)) ? "the native coin" : `token ${s(address)}`;
}

function at(seconds: unknown): string {
  const n = Number(seconds);
  return Number.isSafeInteger(n)
    ? `${s(seconds)} (${new Date(n * 1000).toISOString()})`
    : s(seconds);
}

const EXPLAIN: ErrorSentences = {
  AccountOnlySelf: (a) =>
    `${s(a[0])} is not the account itself: propose changes through a UserOperation signed by the high threshold (account policy)`,
  AccountOnlyOperator: (a) =>
    `${s(a[0])} is neither the account's operator nor the account: cancel or unlock from the operator's address (--from), or by a UserOperation with the high threshold`,
  PolicyTripped: (a) =>
    `the batch tripped the velocity breaker on ${s(a[0])} (its bucket would hold ${s(a[1])}, above ${s(a[2])}): the account locked; the operator unlocks it (account policy --unlock)`,
  AccountNeedsHighThreshold: (a) =>
    `the operation's trusted signers weigh ${s(a[0])}, below the high threshold ${s(a[1])} that calls to the account itself need: sign with the operator's key (--operator-key) or enough devices`,
  AccountTokenNotInPolicy: (a) =>
    `${token(a[0])} is not in the account's spending policy: the low threshold cannot move it; add it with account policy (high threshold, after the delay) or sign with the high threshold`,
  AccountTokenCallNotAllowed: (a) =>
    `the low threshold may only call transfer or approve on ${token(a[0])}, not selector ${s(a[1])}: sign with the high threshold for anything else`,
  AccountCounterpartyNotAllowed: (a) =>
    `${s(a[1])} is not an allowed counterparty for ${token(a[0])}: the low threshold pays only allow-listed counterparties; allow it with account policy --counterparty (high threshold, after the delay)`,
  AccountPerCallCapExceeded: (a) =>
    `one call would move ${s(a[1])} of ${token(a[0])}, above its per-call cap ${s(a[2])}: pay at most the cap per call, or sign with the high threshold`,
  AccountCounterpartyPerCallCapExceeded: (a) =>
    `one call would move ${s(a[2])} of ${token(a[0])} to ${s(a[1])}, above that counterparty's per-call cap ${s(a[3])}: pay at most the cap per call`,
  AccountPeriodCapExceeded: (a) =>
    `${s(a[1])} of ${token(a[0])} was spent this period; ${s(a[2])} more is above the period cap ${s(a[3])}: wait for the next period (account show says when) or sign with the high threshold`,
  AccountCounterpartyPeriodCapExceeded: (a) =>
    `${s(a[2])} of ${token(a[0])} went to ${s(a[1])} this period; ${s(a[3])} more is above its period cap ${s(a[4])}: wait for the next period (account show says when)`,
  AccountSelfCallNotAllowed: (a) =>
    `a UserOperation may call the account itself only to propose, cancel or apply a change or to unlock, not selector ${s(a[0])}: setters go through account policy and its delay`,
  AccountUnknownChange: (a) =>
    `no pending change ${s(a[0])}: it was applied or cancelled, or never proposed (account show lists the pending ones)`,
  AccountChangeNotReady: (a) =>
    `change ${s(a[0])} may be applied from ${at(a[1])}, not at ${at(a[2])}: wait out the delay, then apply it`,
  AccountInvalidThresholds: (a) =>
    `thresholds low ${s(a[0])} / high ${s(a[1])} with a total weight of ${s(a[2])} are invalid: give 0 < low <= high <= total weight (high at most 65535)`,
  AccountInvalidLimits: (a) =>
    `the limits of ${token(a[0])} are invalid: a period of 0 (or not allowed) removes it and must come with zero caps`,
  AccountInvalidConfig: () =>
    "the account settings are invalid: maxAttestationAge must be positive and velocityShareBps at most 10000",
  AccountInvalidDeviceSigner: (a) =>
    `signer ${s(a[0])} names the account's verifier but is not verifier ‖ 32-byte device id: build device signers with deviceSigner()`,
  AccountDeviceNotTrusted: (a) =>
    `device ${s(a[0])} is not trusted now with its current key (inactive, stale attestation, bad firmware or an incident): attest it (device attest), then sync it again`,
  AccountUnauthorized: (a) =>
    `${s(a[0])} is not the EntryPoint: the account executes only UserOperations the EntryPoint hands it`,
  MultiSignerERC7913AlreadyExists: (a) => `signer ${s(a[0])} is already a signer of the account`,
  MultiSignerERC7913NonexistentSigner: (a) => `signer ${s(a[0])} is not a signer of the account`,
  MultiSignerERC7913InvalidSigner: (a) =>
    `signer ${s(a[0])} is malformed: an address (20 bytes) or verifier ‖ key (more than 20 bytes)`,
  MultiSignerERC7913UnreachableThreshold: (a) =>
    `the signers weigh ${s(a[0])} in total, below the threshold ${s(a[1])}: add weight or lower the threshold`,
  MultiSignerERC7913WeightedInvalidWeight: (a) =>
    `weight ${s(a[1])} of signer ${s(a[0])} is invalid: weights are positive`,
  MultiSignerERC7913WeightedMismatchedLength: () =>
    "the signers and weights lists differ in length: give one weight per signer",
  MultiSignerERC7913ZeroThreshold: () => "the low threshold is zero: give at least 1",
  InvalidInitialization: () =>
    "the account is already initialized (or this is the implementation): nothing to do",
  ERC7579DecodingError: () => "the batch does not decode: build callData with accountCallData()",
  ERC7579UnsupportedExecType: (a) =>
    `execution type ${s(a[0])} is not supported: use the default (revert on failure)`,
  UnsupportedExecutionMode: () =>
    "the execution mode is not an ERC-7821 batch: build callData with accountCallData()",
  FailedCall: () => "a call of the batch reverted without a reason: check its target and data",
  DeviceAccountFactoryInvalidImplementation: () =>
    "the factory needs a DeviceAccount implementation: deploy it with its address",
  FailedDeployment: () =>
    "the clone could not be deployed: the factory ran out of gas or the address is taken",
};

/** The custom-error names explained above. */
export const EXPLAINED_ACCOUNT_ERRORS: readonly string[] = Object.keys(EXPLAIN);

const INTERFACES = [
  DeviceAccount__factory.createInterface(),
  DeviceAccountFactory__factory.createInterface(),
];

/** The ContractError of an account or factory custom error `name` with `args`. */
export function accountContractError(
  name: string,
  args: readonly unknown[],
  cause?: unknown,
): ContractError {
  return contractError(name, args, cause, EXPLAIN);
}

/**
 * Revert data of an account or factory custom error, decoded; else of a contract a batch calls (the payment
 * channels) or of the registry, staking, proofs or a token (channel-errors.ts falls back to decode-error.ts).
 */
export function decodeAccountRevertData(data: string, cause?: unknown): ContractError | undefined {
  return (
    decodeWithSentences(data, INTERFACES, EXPLAIN, cause) ?? decodeChannelRevertData(data, cause)
  );
}

/** The decoded contract error inside `err` (account errors first, then decode-error.ts's). */
export function decodeAccountError(err: unknown): ContractError | undefined {
  if (err instanceof ContractError) return err;
  const data = findRevertData(err);
  if (data === undefined) return decodeContractError(err);
  return decodeAccountRevertData(data, err);
}

/** Where a mined UserOperation landed. */
export interface MinedOperation {
  readonly userOpHash: Hex;
  readonly sender: Hex;
  readonly nonce: bigint;
  readonly txHash: Hex;
  readonly via: "bundler" | "handleOps";
}

/** IDeviceAccount.Refusal, by value. */
export const REFUSAL_NAMES = ["None", "Untrusted", "Locked"] as const;
export type RefusalName = (typeof REFUSAL_NAMES)[number];

export function refusalName(reason: bigint | number): RefusalName {
  const name = REFUSAL_NAMES[Number(reason)];
  return name ?? "None";
}

const REFUSAL_HELP: Readonly<Record<RefusalName, string>> = {
  None: "the account gave no reason",
  Untrusted:
    "the trusted weight of its signers is below the low threshold: a signing device is not trusted now (stale attestation, bad firmware, suspended, rotated key or an incident); account show says which and why; attest it again (device attest), or sign with the operator",
  Locked:
    "the velocity breaker is locked (or this operation tripped it): the operator unlocks it (account policy --unlock) or the high threshold signs",
};

/**
 * The account refused a mined UserOperation (event UserOperationRefused): its nonce and gas are spent and
 * nothing moved. Not an EVM revert, so the EntryPoint reports success: only the account's event tells.
 */
export class UserOperationRefusedError extends DeviceTrustError {
  readonly reason: RefusalName;
  readonly trustedWeight: bigint;
  readonly operation: MinedOperation;
  /** Devices the account marked distrusted in this operation, with the end of their cooldown. */
  readonly distrusted: readonly { readonly deviceId: Hex; readonly until: bigint }[];
  /** Set when this operation tripped the velocity breaker. */
  readonly tripped:
    { readonly token: Hex; readonly level: bigint; readonly capacity: bigint } | undefined;

  constructor(details: {
    reason: RefusalName;
    trustedWeight: bigint;
    operation: MinedOperation;
    distrusted: readonly { deviceId: Hex; until: bigint }[];
    tripped?: { token: Hex; level: bigint; capacity: bigint };
  }) {
    const { reason, trustedWeight, operation } = details;
    const devices =
      details.distrusted.length === 0
        ? ""
        : ` (distrusted: ${details.distrusted.map((d) => `${d.deviceId} until ${at(d.until)}`).join(", ")})`;
    const trip =
      details.tripped === undefined
        ? ""
        : ` (tripped on ${token(details.tripped.token)}: level ${s(details.tripped.level)} over capacity ${s(details.tripped.capacity)})`;
    super(
      reason === "Locked" ? "USER_OPERATION_REFUSED_LOCKED" : "USER_OPERATION_REFUSED_UNTRUSTED",
      `UserOperation ${operation.userOpHash} was mined (tx ${operation.txHash}) but refused by account ${operation.sender}: ${reason}, trusted weight ${s(trustedWeight)}${devices}${trip} — ${REFUSAL_HELP[reason]}`,
    );
    this.name = "UserOperationRefusedError";
    this.reason = reason;
    this.trustedWeight = trustedWeight;
    this.operation = operation;
    this.distrusted = details.distrusted;
    this.tripped = details.tripped;
  }
}

/**
 * A UserOperation whose execution reverted inside the account: mined (EntryPoint event
 * UserOperationRevertReason; its nonce and gas are spent), or already in the bundler's simulation
 * (eth_estimateUserOperationGas: nothing was sent). `code` is the custom error's name when it decodes (e.g.
 * "AccountCounterpartyNotAllowed", with `args`), "USER_OPERATION_REVERTED" otherwise.
 */
export class UserOperationRevertedError extends ContractError {
  readonly stage: "execution" | "simulation";
  /** The mined operation (stage "execution"); undefined when the simulation refused it. */
  readonly operation: MinedOperation | undefined;
  readonly revertData: Hex;

  constructor(
    at:
      | { readonly stage: "execution"; readonly operation: MinedOperation }
      | { readonly stage: "simulation"; readonly sender: Hex },
    revertData: Hex,
    options?: { cause?: unknown },
  ) {
    const decoded = revertData.length < 10 ? undefined : decodeAccountRevertData(revertData);
    const where =
      at.stage === "execution"
        ? `UserOperation ${at.operation.userOpHash} was mined (tx ${at.operation.txHash}) but reverted in account ${at.operation.sender}`
        : `the bundler's simulation of the UserOperation reverted in account ${at.sender} (nothing was sent)`;
    super(
      decoded?.code ?? "USER_OPERATION_REVERTED",
      decoded?.args ?? [],
      decoded === undefined
        ? `${where} with ${revertData === "0x" ? "no reason" : `undecoded data ${revertData}`}: check the batch's targets and data`
        : `${where}: ${decoded.message}`,
      options,
    );
    this.name = "UserOperationRevertedError";
    this.stage = at.stage;
    this.operation = at.stage === "execution" ? at.operation : undefined;
    this.revertData = revertData;
  }
}

/** EntryPoint codes of FailedOp, with what to do. */
const AA_HELP: Readonly<Record<string, string>> = {
  AA10: "the account exists already: send without initCode",
  AA13: "the factory failed or ran out of gas: check the setup, raise verificationGasLimit",
  AA14: "the factory deployed another address: the setup or salt differs from the one the address was computed with",
  AA21: "the account cannot pay the prefund: send it native coin",
  AA22: "a signing device is in its distrust cooldown (validAfter): wait, or sign with other signers",
  AA23: "the account's validateUserOp reverted",
  AA24: "the signature does not validate: each signer must be a signer of the account, sign this userOpHash, and reach the low threshold (devices by their current key as the account knows it: sync a rotated device)",
  AA25: "wrong nonce: read EntryPoint.getNonce(account, 0)",
  AA26: "validation used more than verificationGasLimit: raise it",
  AA30: "no paymaster contract at the address in paymasterAndData: check the paymaster address",
  AA31: "the paymaster's EntryPoint deposit cannot pay this operation's maximum cost: fund the paymaster",
  AA32: "the paymaster's validity range excludes now (validAfter/validUntil): rebuild the operation with `at` = now",
  AA33: "the paymaster's validation reverted",
  AA34: "the paymaster refused to sponsor the operation: previewSponsorship (paymaster show) says why",
  AA36: "the paymaster's validation used more than paymasterVerificationGasLimit: raise it",
  AA95: "handleOps ran out of gas: raise the transaction's gas limit",
};

/** EntryPoint.handleOps reverted with FailedOp: the operation never ran. */
export class UserOperationFailedError extends DeviceTrustError {
  readonly entryPointCode: string | undefined;

  constructor(reason: string, options?: { cause?: unknown }) {
    const aa = /\bAA\d\d\b/.exec(reason)?.[0];
    const help = aa === undefined ? undefined : AA_HELP[aa];
    super(
      "USER_OPERATION_FAILED",
      `the EntryPoint rejected the UserOperation: ${reason}${help === undefined ? "" : ` — ${help}`}`,
      options,
    );
    this.name = "UserOperationFailedError";
    this.entryPointCode = aa;
  }
}
