import {
  Contract,
  Interface,
  dataSlice,
  getAddress,
  type Log,
  type Provider,
  type Signer,
  type TransactionReceipt,
} from "ethers";
import { DeviceTrustError, InvalidInputError, type Hex } from "../protocol/index.js";
import { BundlerError, type BundlerClient } from "./bundler-client.js";
import {
  UserOperationFailedError,
  decodeAccountError,
  decodeAccountRevertData,
  UserOperationRefusedError,
  UserOperationRevertedError,
  refusalName,
  type MinedOperation,
} from "./account-errors.js";
import { accountCallData, accountInterface, type Execution } from "./account-calls.js";
import {
  dummyAccountSignature,
  signAccountOperation,
  type AccountSigners,
} from "./account-signature.js";
import {
  checkSponsorship,
  sponsoredCharge,
  sponsoredFields,
  sponsorshipFor,
  type SponsorOptions,
  type SponsoredCharge,
} from "./paymaster.js";
import {
  packedUserOperationTuple,
  ENTRY_POINT_V08,
  packUserOperation,
  userOperationHash,
  type PackedUserOperation,
  type UserOperation,
} from "./user-operation.js";

/**
 * Sends a DeviceAccount UserOperation and reads what happened to it. Through a bundler (ERC-4337's way:
 * gas estimated with a dummy multisignature of the right shape) or, without one, straight to
 * EntryPoint.handleOps from a wallet (fixed, generous gas limits). Once mined, the EntryPoint's events AND
 * the account's own decide: an operation the account refused (UserOperationRefused: Untrusted or Locked)
 * or that reverted inside it (UserOperationRevertReason, decoded) throws a typed error, never returns.
 */

/** The EntryPoint v0.8 functions, events and errors this client uses. */
export const ENTRY_POINT_ABI = [
  "function getNonce(address sender, uint192 key) view returns (uint256)",
  "function balanceOf(address account) view returns (uint256)",
  "function getDepositInfo(address account) view returns (tuple(uint256 deposit, bool staked, uint112 stake, uint32 unstakeDelaySec, uint48 withdrawTime) info)",
  "function depositTo(address account) payable",
  "function handleOps(tuple(address sender, uint256 nonce, bytes initCode, bytes callData, bytes32 accountGasLimits, uint256 preVerificationGas, bytes32 gasFees, bytes paymasterAndData, bytes signature)[] ops, address beneficiary)",
  "event BeforeExecution()",
  "event UserOperationEvent(bytes32 indexed userOpHash, address indexed sender, address indexed paymaster, uint256 nonce, bool success, uint256 actualGasCost, uint256 actualGasUsed)",
  "event UserOperationRevertReason(bytes32 indexed userOpHash, address indexed sender, uint256 nonce, bytes revertReason)",
  "event AccountDeployed(bytes32 indexed userOpHash, address indexed sender, address factory, address paymaster)",
  "error FailedOp(uint256 opIndex, string reason)",
  "error FailedOpWithRevert(uint256 opIndex, string reason, bytes inner)",
] as const;

export const entryPointInterface = new Interface(ENTRY_POINT_ABI);

export function entryPointAt(address: string, runner: Provider | Signer): Contract {
  return new Contract(address, ENTRY_POINT_ABI, runner);
}

/** Gas fields the caller may fix (the rest are estimated or defaulted). */
export interface GasOverrides {
  readonly callGasLimit?: bigint | undefined;
  readonly verificationGasLimit?: bigint | undefined;
  readonly preVerificationGas?: bigint | undefined;
  readonly maxFeePerGas?: bigint | undefined;
  readonly maxPriorityFeePerGas?: bigint | undefined;
}

export interface SendAccountOperationOptions {
  /** The account (its counterfactual address before it exists). */
  readonly account: string;
  readonly batch: readonly Execution[];
  readonly signers: AccountSigners;
  /** Reads the chain (nonce, code, receipts). */
  readonly provider: Provider;
  /** The EntryPoint the account's implementation names (default v0.8's canonical address). */
  readonly entryPoint?: string | undefined;
  /** factory ‖ factoryData that deploys the account: used only while the account has no code. */
  readonly initCode?: { readonly factory: string; readonly factoryData: string } | undefined;
  /** Through this bundler; else handleOps from `wallet`. */
  readonly bundler?: BundlerClient | undefined;
  /** Sends handleOps when there is no bundler (and receives the refund unless `beneficiary`). */
  readonly wallet?: Signer | undefined;
  readonly beneficiary?: string | undefined;
  readonly gas?: GasOverrides | undefined;
  /**
   * Gas paid by this DevicePaymaster (the account needs no deposit and no native coin). For a deployed
   * account the paymaster's verdict is read before signing: a refusal throws SponsorshipRefusedError and
   * nothing is sent (a first operation's comes with validation: AA34).
   */
  readonly sponsor?: SponsorOptions | undefined;
  /** The nonce key (default 0). */
  readonly nonceKey?: bigint | undefined;
  readonly receiptTimeoutMs?: number | undefined;
  readonly onProgress?: ((message: string) => void) | undefined;
  /** Called with the signed operation before it is sent (e.g. to check its validation's ERC-7562 rules). */
  readonly onSigned?:
    | ((op: UserOperation, packed: PackedUserOperation, userOpHash: Hex) => Promise<void> | void)
    | undefined;
}

/** One spend the policy recorded (event Spent). */
export interface AccountSpend {
  readonly token: Hex;
  readonly counterparty: Hex;
  readonly amount: bigint;
  readonly spentThisPeriod: bigint;
}

export interface AccountOperationResult {
  readonly via: "bundler" | "handleOps";
  readonly userOpHash: Hex;
  readonly sender: Hex;
  readonly nonce: bigint;
  /** Whether this operation deployed the account (initCode). */
  readonly deployed: boolean;
  readonly txHash: Hex;
  readonly blockNumber: number;
  readonly actualGasCost: bigint;
  readonly actualGasUsed: bigint;
  readonly spends: readonly AccountSpend[];
  /** What the paymaster charged its operator (sponsored operations; undefined if it logged no charge). */
  readonly sponsored?: SponsoredCharge | undefined;
  readonly gas: {
    readonly callGasLimit: bigint;
    readonly verificationGasLimit: bigint;
    readonly preVerificationGas: bigint;
    readonly maxFeePerGas: bigint;
    readonly maxPriorityFeePerGas: bigint;
  };
}

/**
 * Gas limits for handleOps without a bundler: validation per signer covers a P-256 verification in
 * Solidity (~250k on chains without the EIP-7951 precompile); creation covers a clone and its setup.
 */
export const HANDLE_OPS_GAS = {
  verificationBase: 150_000n,
  verificationPerSigner: 300_000n,
  creation: 1_000_000n,
  callBase: 200_000n,
  callPerExecution: 100_000n,
  preVerificationGas: 100_000n,
} as const;

function address(value: string): Hex {
  return getAddress(value) as Hex;
}

/** Builds, signs, sends and reads back one UserOperation of a DeviceAccount. */
export async function sendAccountOperation(
  options: SendAccountOperationOptions,
): Promise<AccountOperationResult> {
  const { provider, bundler, wallet, signers } = options;
  const progress = options.onProgress ?? (() => undefined);
  const sender = address(options.account);
  const entryPointAddress = address(options.entryPoint ?? bundler?.entryPoint ?? ENTRY_POINT_V08);
  if (bundler === undefined && wallet === undefined) {
    throw new InvalidInputError(
      "no way to send the UserOperation: give a bundler URL (--bundler) or a wallet that calls handleOps",
    );
  }
  const entryPoint = entryPointAt(entryPointAddress, provider);
  const { chainId } = await provider.getNetwork();
  const exists = (await provider.getCode(sender)) !== "0x";
  if (!exists && options.initCode === undefined) {
    throw new InvalidInputError(
      `account ${sender} has no code yet and no initCode was given: send its first operation with the setup it was created from (account create's file)`,
    );
  }
  const init = exists ? undefined : options.initCode;
  const nonce = (await entryPoint.getFunction("getNonce")(
    sender,
    options.nonceKey ?? 0n,
  )) as bigint;
  const callData = accountCallData(options.batch);
  const fees = await gasPrices(options, provider);
  const signerCount = (signers.devices ?? []).length + (signers.operator ? 1 : 0);
  const sponsorship =
    options.sponsor === undefined
      ? undefined
      : await sponsorshipFor(options.sponsor, provider, signerCount);
  const draft: UserOperation = {
    sender,
    nonce,
    ...(init === undefined
      ? {}
      : { factory: address(init.factory), factoryData: init.factoryData as Hex }),
    callData,
    callGasLimit: 0n,
    verificationGasLimit: 0n,
    preVerificationGas: 0n,
    ...fees,
    ...(sponsorship === undefined ? {} : sponsoredFields(sponsorship)),
    signature: dummyAccountSignature(signers),
  };
  let limits: Pick<UserOperation, "callGasLimit" | "verificationGasLimit" | "preVerificationGas">;
  const gas = options.gas ?? {};
  const fixed =
    gas.callGasLimit !== undefined &&
    gas.verificationGasLimit !== undefined &&
    gas.preVerificationGas !== undefined;
  if (bundler !== undefined && !fixed) {
    progress(`estimating gas through the bundler at ${bundler.url}`);
    const estimate = await bundler.estimateUserOperationGas(draft).catch((err: unknown) => {
      throw simulationRevert(err, sender) ?? err;
    });
    limits = {
      callGasLimit: estimate.callGasLimit,
      verificationGasLimit: estimate.verificationGasLimit,
      preVerificationGas: estimate.preVerificationGas,
    };
  } else {
    limits = {
      callGasLimit:
        HANDLE_OPS_GAS.callBase + HANDLE_OPS_GAS.callPerExecution * BigInt(options.batch.length),
      verificationGasLimit:
        HANDLE_OPS_GAS.verificationBase +
        HANDLE_OPS_GAS.verificationPerSigner * BigInt(signerCount) +
        (init === undefined ? 0n : HANDLE_OPS_GAS.creation),
      preVerificationGas: HANDLE_OPS_GAS.preVerificationGas,
    };
  }
  const unsigned: UserOperation = {
    ...draft,
    callGasLimit: gas.callGasLimit ?? limits.callGasLimit,
    verificationGasLimit: gas.verificationGasLimit ?? limits.verificationGasLimit,
    preVerificationGas: gas.preVerificationGas ?? limits.preVerificationGas,
  };
  if (sponsorship !== undefined) await checkSponsorship(provider, unsigned, progress);
  const userOpHash = userOperationHash(unsigned, entryPointAddress, chainId);
  progress(`signing UserOperation ${userOpHash} (nonce ${nonce.toString()})`);
  const op: UserOperation = {
    ...unsigned,
    signature: await signAccountOperation(userOpHash, signers),
  };
  const packed = packUserOperation(op);
  await options.onSigned?.(op, packed, userOpHash);

  let txHash: Hex;
  if (bundler !== undefined) {
    const sent = await bundler.sendUserOperation(op);
    if (sent.toLowerCase() !== userOpHash.toLowerCase()) {
      throw new DeviceTrustError(
        "USER_OPERATION_HASH_MISMATCH",
        `the bundler computed userOpHash ${sent}, not ${userOpHash}: is its EntryPoint ${entryPointAddress} on chain ${chainId.toString()}?`,
      );
    }
    progress(`sent to the bundler; waiting for the receipt`);
    const receipt = await bundler.waitForUserOperationReceipt(userOpHash, {
      timeoutMs: options.receiptTimeoutMs ?? 60_000,
    });
    txHash = receipt.transactionHash;
  } else {
    txHash = await handleOps(entryPointAddress, packed, wallet as Signer, options.beneficiary);
  }
  const receipt = await provider.getTransactionReceipt(txHash);
  if (receipt === null) {
    throw new DeviceTrustError(
      "TX_DROPPED",
      `the bundle transaction ${txHash} has no receipt: check the node and send again`,
    );
  }
  const operation: MinedOperation = {
    userOpHash,
    sender,
    nonce,
    txHash,
    via: bundler === undefined ? "handleOps" : "bundler",
  };
  const result = interpretReceipt(receipt, operation, entryPointAddress, {
    deployed: init !== undefined,
    gas: {
      callGasLimit: op.callGasLimit,
      verificationGasLimit: op.verificationGasLimit,
      preVerificationGas: op.preVerificationGas,
      maxFeePerGas: op.maxFeePerGas,
      maxPriorityFeePerGas: op.maxPriorityFeePerGas,
    },
  });
  if (sponsorship === undefined) return result;
  return { ...result, sponsored: sponsoredCharge(receipt.logs, sponsorship.paymaster, userOpHash) };
}

async function gasPrices(
  options: SendAccountOperationOptions,
  provider: Provider,
): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
  const gas = options.gas ?? {};
  if (gas.maxFeePerGas !== undefined && gas.maxPriorityFeePerGas !== undefined) {
    return { maxFeePerGas: gas.maxFeePerGas, maxPriorityFeePerGas: gas.maxPriorityFeePerGas };
  }
  let fees: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };
  if (options.bundler !== undefined) {
    fees = await options.bundler.userOperationGasPrice();
  } else {
    const data = await provider.getFeeData();
    const max = data.maxFeePerGas ?? data.gasPrice ?? 1_000_000_000n;
    fees = { maxFeePerGas: max, maxPriorityFeePerGas: data.maxPriorityFeePerGas ?? max };
  }
  return {
    maxFeePerGas: gas.maxFeePerGas ?? fees.maxFeePerGas,
    maxPriorityFeePerGas: gas.maxPriorityFeePerGas ?? fees.maxPriorityFeePerGas,
  };
}

async function handleOps(
  entryPoint: Hex,
  op: PackedUserOperation,
  wallet: Signer,
  beneficiary: string | undefined,
): Promise<Hex> {
  const contract = entryPointAt(entryPoint, wallet);
  const to = beneficiary ?? (await wallet.getAddress());
  const tuple = packedUserOperationTuple(op);
  try {
    const tx = (await contract.getFunction("handleOps")([tuple], to)) as {
      wait(): Promise<TransactionReceipt | null>;
      hash: string;
    };
    const receipt = await tx.wait();
    return (receipt?.hash ?? tx.hash) as Hex;
  } catch (err: unknown) {
    throw failedOp(err) ?? decodeAccountError(err) ?? err;
  }
}

/**
 * A bundler's "reverted during simulation" (-32521) as a UserOperationRevertedError with the account's
 * custom error decoded (alto puts the revert data in its message: "… with reason: 0x…").
 */
export function simulationRevert(
  err: unknown,
  sender: Hex,
): UserOperationRevertedError | undefined {
  if (!(err instanceof BundlerError) || err.code !== "BUNDLER_EXECUTION_REVERTED") return undefined;
  const data =
    typeof err.data === "string" && /^0x[0-9a-fA-F]{8,}$/.test(err.data)
      ? err.data
      : /reason:?\s*(0x[0-9a-fA-F]{8,})/.exec(err.message)?.[1];
  if (data === undefined) return undefined;
  return new UserOperationRevertedError({ stage: "simulation", sender }, data as Hex, {
    cause: err,
  });
}

/** FailedOp / FailedOpWithRevert inside an ethers error, as a UserOperationFailedError. */
export function failedOp(err: unknown): UserOperationFailedError | undefined {
  const data = revertData(err);
  if (data === undefined) return undefined;
  let parsed;
  try {
    parsed = entryPointInterface.parseError(data);
  } catch {
    return undefined;
  }
  if (parsed === null) return undefined;
  const reason = String(parsed.args[1]);
  if (parsed.name === "FailedOpWithRevert") {
    const inner = String(parsed.args[2]);
    const decoded = inner.length >= 10 ? decodeAccountRevertData(inner) : undefined;
    return new UserOperationFailedError(
      `${reason} (${decoded === undefined ? inner : decoded.message})`,
      { cause: err },
    );
  }
  return new UserOperationFailedError(reason, { cause: err });
}

function revertData(err: unknown, depth = 0): string | undefined {
  if (depth > 6 || err === null || typeof err !== "object") return undefined;
  const r = err as Record<string, unknown>;
  if (typeof r.data === "string" && r.data.startsWith("0x") && r.data.length >= 10) return r.data;
  for (const key of ["error", "info", "cause", "revert", "data"]) {
    const found = revertData(r[key], depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

function topicOf(name: string): string {
  const event = entryPointInterface.getEvent(name);
  if (event === null) throw new Error(`no event ${name}`);
  return event.topicHash;
}

const TOPICS = {
  beforeExecution: topicOf("BeforeExecution"),
  userOperationEvent: topicOf("UserOperationEvent"),
  revertReason: topicOf("UserOperationRevertReason"),
  refused: accountInterface.getEvent("UserOperationRefused").topicHash,
  distrusted: accountInterface.getEvent("DeviceSignerDistrusted").topicHash,
  tripped: accountInterface.getEvent("VelocityBreakerTripped").topicHash,
  spent: accountInterface.getEvent("Spent").topicHash,
};

function same(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * What a mined operation did, from the bundle transaction's logs: its own slice (after the previous
 * operation's UserOperationEvent, up to its own), the EntryPoint's verdict and the account's events.
 * Throws UserOperationRefusedError or UserOperationRevertedError when it did not run.
 */
export function interpretReceipt(
  receipt: Pick<TransactionReceipt, "logs" | "blockNumber">,
  operation: MinedOperation,
  entryPoint: string,
  extra: Pick<AccountOperationResult, "deployed" | "gas">,
): AccountOperationResult {
  const logs: readonly Log[] = receipt.logs;
  const end = logs.findIndex(
    (l) =>
      same(l.address, entryPoint) &&
      l.topics[0] === TOPICS.userOperationEvent &&
      same(l.topics[1] ?? "", operation.userOpHash),
  );
  if (end < 0) {
    throw new DeviceTrustError(
      "USER_OPERATION_NOT_FOUND",
      `transaction ${operation.txHash} holds no UserOperationEvent for ${operation.userOpHash}: it was not this operation's bundle`,
    );
  }
  let start = end - 1;
  while (
    start >= 0 &&
    !(
      same((logs[start] as Log).address, entryPoint) &&
      ((logs[start] as Log).topics[0] === TOPICS.userOperationEvent ||
        (logs[start] as Log).topics[0] === TOPICS.beforeExecution)
    )
  ) {
    start--;
  }
  const mine = logs.slice(start + 1, end);
  const opEvent = entryPointInterface.parseLog(logs[end] as Log);
  if (opEvent === null) throw new Error("unreadable UserOperationEvent");
  const fromAccount = (topic: string) =>
    mine.filter((l) => same(l.address, operation.sender) && l.topics[0] === topic);
  const parse = (l: Log) => {
    const p = accountInterface.parseLog(l);
    if (p === null) throw new Error(`unreadable account log ${l.topics[0] ?? ""}`);
    return p.args;
  };
  const distrusted = fromAccount(TOPICS.distrusted).map((l) => {
    const a = parse(l);
    return { deviceId: String(a.deviceId).toLowerCase() as Hex, until: a.until as bigint };
  });
  const refused = fromAccount(TOPICS.refused).find((l) =>
    same(l.topics[1] ?? "", operation.userOpHash),
  );
  if (refused !== undefined) {
    const a = parse(refused);
    const trip = fromAccount(TOPICS.tripped)[0];
    const t = trip === undefined ? undefined : parse(trip);
    throw new UserOperationRefusedError({
      reason: refusalName(a.reason as bigint),
      trustedWeight: a.trustedWeight as bigint,
      operation,
      distrusted,
      ...(t === undefined
        ? {}
        : {
            tripped: {
              token: address(String(t.token)),
              level: t.level as bigint,
              capacity: t.capacity as bigint,
            },
          }),
    });
  }
  const success = opEvent.args.success as boolean;
  if (!success) {
    const reverted = mine.find(
      (l) =>
        same(l.address, entryPoint) &&
        l.topics[0] === TOPICS.revertReason &&
        same(l.topics[1] ?? "", operation.userOpHash),
    );
    const reason = reverted === undefined ? undefined : entryPointInterface.parseLog(reverted);
    throw new UserOperationRevertedError(
      { stage: "execution", operation },
      (reason?.args.revertReason as Hex | undefined) ?? "0x",
    );
  }
  return {
    via: operation.via,
    userOpHash: operation.userOpHash,
    sender: operation.sender,
    nonce: operation.nonce,
    deployed: extra.deployed,
    txHash: operation.txHash,
    blockNumber: receipt.blockNumber,
    actualGasCost: opEvent.args.actualGasCost as bigint,
    actualGasUsed: opEvent.args.actualGasUsed as bigint,
    spends: fromAccount(TOPICS.spent).map((l) => {
      const a = parse(l);
      return {
        token: address(dataSlice(l.topics[1] ?? "0x", 12)),
        counterparty: address(dataSlice(l.topics[2] ?? "0x", 12)),
        amount: a.amount as bigint,
        spentThisPeriod: a.spentThisPeriod as bigint,
      };
    }),
    gas: extra.gas,
  };
}
