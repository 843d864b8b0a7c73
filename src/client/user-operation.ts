import {
  TypedDataEncoder,
  concat,
  dataLength,
  dataSlice,
  getAddress,
  isHexString,
  toBeHex,
  toQuantity,
  type TypedDataDomain,
  type TypedDataField,
} from "ethers";
import { InvalidInputError, type Hex } from "../protocol/index.js";

/**
 * ERC-4337 v0.8 UserOperations as the EntryPoint and the bundlers see them: the packed struct the
 * EntryPoint takes (PackedUserOperation), the unpacked form of the bundler RPC (ERC-7769), and the
 * EIP-712 hash the account signs. Pure: no network.
 */

/**
 * EntryPoint v0.8's address on every chain: the npm artifact (@account-abstraction/contracts 0.8.0)
 * deployed by CREATE2 through the deterministic deployer with ENTRY_POINT_V08_SALT. Bundlers tell v0.8
 * from v0.7 by this address (alto 0.0.20 by its `0x433708` prefix), so a local chain must use it too.
 */
export const ENTRY_POINT_V08: Hex = "0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108";
export const ENTRY_POINT_V08_SALT: Hex =
  "0x0a59dbff790c23c976a548690c27297883cc66b4c67024f9117b0238995e35e9";

/** A UserOperation as the bundler RPC carries it (ERC-7769), with numbers as bigint. */
export interface UserOperation {
  readonly sender: Hex;
  readonly nonce: bigint;
  /** With factoryData: deploys `sender` in the first operation (absent once it exists). */
  readonly factory?: Hex;
  readonly factoryData?: Hex;
  readonly callData: Hex;
  readonly callGasLimit: bigint;
  readonly verificationGasLimit: bigint;
  readonly preVerificationGas: bigint;
  readonly maxFeePerGas: bigint;
  readonly maxPriorityFeePerGas: bigint;
  readonly paymaster?: Hex;
  readonly paymasterVerificationGasLimit?: bigint;
  readonly paymasterPostOpGasLimit?: bigint;
  readonly paymasterData?: Hex;
  readonly signature: Hex;
}

/** The struct EntryPoint v0.8's handleOps and getUserOpHash take (PackedUserOperation.sol). */
export interface PackedUserOperation {
  readonly sender: Hex;
  readonly nonce: bigint;
  /** factory (20 bytes) ‖ factoryData, or 0x. */
  readonly initCode: Hex;
  readonly callData: Hex;
  /** verificationGasLimit (16 bytes) ‖ callGasLimit (16 bytes). */
  readonly accountGasLimits: Hex;
  readonly preVerificationGas: bigint;
  /** maxPriorityFeePerGas (16 bytes) ‖ maxFeePerGas (16 bytes). */
  readonly gasFees: Hex;
  /** paymaster (20) ‖ verification gas (16) ‖ postOp gas (16) ‖ paymasterData, or 0x. */
  readonly paymasterAndData: Hex;
  readonly signature: Hex;
}

const UINT128_MAX = (1n << 128n) - 1n;

function uint128(value: bigint, field: string): Hex {
  if (value < 0n || value > UINT128_MAX) {
    throw new InvalidInputError(`${field} must fit in 128 bits, got ${value}`);
  }
  return toBeHex(value, 16) as Hex;
}

function hex(value: string): Hex {
  return value as Hex;
}

function address(value: string, field: string): Hex {
  try {
    return getAddress(value) as Hex;
  } catch (err: unknown) {
    throw new InvalidInputError(`${field} is not an address: ${value}`, { cause: err });
  }
}

/** Packs the RPC form into the EntryPoint's struct (gas limits and fees two to a word). */
export function packUserOperation(op: UserOperation): PackedUserOperation {
  if (op.factory === undefined && op.factoryData !== undefined) {
    throw new InvalidInputError("factoryData without factory: give both or neither");
  }
  const initCode =
    op.factory === undefined
      ? "0x"
      : concat([address(op.factory, "factory"), op.factoryData ?? "0x"]);
  return {
    sender: address(op.sender, "sender"),
    nonce: op.nonce,
    initCode: hex(initCode),
    callData: op.callData,
    accountGasLimits: hex(
      concat([
        uint128(op.verificationGasLimit, "verificationGasLimit"),
        uint128(op.callGasLimit, "callGasLimit"),
      ]),
    ),
    preVerificationGas: op.preVerificationGas,
    gasFees: hex(
      concat([
        uint128(op.maxPriorityFeePerGas, "maxPriorityFeePerGas"),
        uint128(op.maxFeePerGas, "maxFeePerGas"),
      ]),
    ),
    paymasterAndData: packPaymasterAndData(op),
    signature: op.signature,
  };
}

/** paymaster (20) ‖ verification gas (16) ‖ postOp gas (16) ‖ paymasterData, or 0x without a paymaster. */
export function packPaymasterAndData(
  op: Pick<
    UserOperation,
    "paymaster" | "paymasterVerificationGasLimit" | "paymasterPostOpGasLimit" | "paymasterData"
  >,
): Hex {
  if (op.paymaster === undefined) return "0x";
  return hex(
    concat([
      address(op.paymaster, "paymaster"),
      uint128(op.paymasterVerificationGasLimit ?? 0n, "paymasterVerificationGasLimit"),
      uint128(op.paymasterPostOpGasLimit ?? 0n, "paymasterPostOpGasLimit"),
      op.paymasterData ?? "0x",
    ]),
  );
}

function word128(data: Hex, offset: number): bigint {
  return BigInt(dataSlice(data, offset, offset + 16));
}

/** The packed operation as the tuple ethers encodes for handleOps / getUserOpHash (field order of the struct). */
export function packedUserOperationTuple(op: PackedUserOperation): unknown[] {
  return [
    op.sender,
    op.nonce,
    op.initCode,
    op.callData,
    op.accountGasLimits,
    op.preVerificationGas,
    op.gasFees,
    op.paymasterAndData,
    op.signature,
  ];
}

/** The RPC form of a packed operation (the inverse of packUserOperation). */
export function unpackUserOperation(packed: PackedUserOperation): UserOperation {
  if (dataLength(packed.accountGasLimits) !== 32 || dataLength(packed.gasFees) !== 32) {
    throw new InvalidInputError("accountGasLimits and gasFees must be 32 bytes each");
  }
  const initCodeLength = dataLength(packed.initCode);
  if (initCodeLength !== 0 && initCodeLength < 20) {
    throw new InvalidInputError(`initCode of ${initCodeLength} bytes: at least 20 (the factory)`);
  }
  const pmLength = dataLength(packed.paymasterAndData);
  if (pmLength !== 0 && pmLength < 52) {
    throw new InvalidInputError(
      `paymasterAndData of ${pmLength} bytes: at least 52 (paymaster and two gas limits)`,
    );
  }
  return {
    sender: address(packed.sender, "sender"),
    nonce: packed.nonce,
    ...(initCodeLength === 0
      ? {}
      : {
          factory: address(dataSlice(packed.initCode, 0, 20), "factory"),
          factoryData: hex(dataSlice(packed.initCode, 20)),
        }),
    callData: packed.callData,
    verificationGasLimit: word128(packed.accountGasLimits, 0),
    callGasLimit: word128(packed.accountGasLimits, 16),
    preVerificationGas: packed.preVerificationGas,
    maxPriorityFeePerGas: word128(packed.gasFees, 0),
    maxFeePerGas: word128(packed.gasFees, 16),
    ...(pmLength === 0
      ? {}
      : {
          paymaster: address(dataSlice(packed.paymasterAndData, 0, 20), "paymaster"),
          paymasterVerificationGasLimit: word128(packed.paymasterAndData, 20),
          paymasterPostOpGasLimit: word128(packed.paymasterAndData, 36),
          paymasterData: hex(dataSlice(packed.paymasterAndData, 52)),
        }),
    signature: packed.signature,
  };
}

/** The EIP-712 type EntryPoint v0.8 hashes (UserOperationLib.PACKED_USEROP_TYPEHASH); no signature. */
export const USER_OPERATION_TYPES: Record<string, TypedDataField[]> = {
  PackedUserOperation: [
    { name: "sender", type: "address" },
    { name: "nonce", type: "uint256" },
    { name: "initCode", type: "bytes" },
    { name: "callData", type: "bytes" },
    { name: "accountGasLimits", type: "bytes32" },
    { name: "preVerificationGas", type: "uint256" },
    { name: "gasFees", type: "bytes32" },
    { name: "paymasterAndData", type: "bytes" },
  ],
};

/** EntryPoint v0.8's EIP-712 domain: name "ERC4337", version "1". */
export function userOperationDomain(entryPoint: Hex, chainId: bigint): TypedDataDomain {
  return { name: "ERC4337", version: "1", chainId, verifyingContract: entryPoint };
}

function packed(op: UserOperation | PackedUserOperation): PackedUserOperation {
  return "initCode" in op ? op : packUserOperation(op);
}

/**
 * The EIP-712 typed data of an operation, for eth_signTypedData_v4 (a wallet signs exactly what
 * userOperationHash returns). The signature field is not part of it.
 */
export function userOperationTypedData(
  op: UserOperation | PackedUserOperation,
  entryPoint: Hex,
  chainId: bigint,
): {
  domain: TypedDataDomain;
  types: Record<string, TypedDataField[]>;
  message: Record<string, unknown>;
} {
  const p = packed(op);
  return {
    domain: userOperationDomain(entryPoint, chainId),
    types: USER_OPERATION_TYPES,
    message: {
      sender: p.sender,
      nonce: p.nonce,
      initCode: p.initCode,
      callData: p.callData,
      accountGasLimits: p.accountGasLimits,
      preVerificationGas: p.preVerificationGas,
      gasFees: p.gasFees,
      paymasterAndData: p.paymasterAndData,
    },
  };
}

/**
 * The userOpHash EntryPoint v0.8 passes to validateUserOp (its getUserOpHash): the EIP-712 digest of
 * the packed operation under userOperationDomain. EIP-7702 operations (initCode starting 0x7702) hash
 * the delegate's address instead of initCode and are not supported here.
 */
export function userOperationHash(
  op: UserOperation | PackedUserOperation,
  entryPoint: Hex,
  chainId: bigint,
): Hex {
  const p = packed(op);
  if (p.initCode.toLowerCase().startsWith("0x7702")) {
    throw new InvalidInputError(
      "an EIP-7702 UserOperation (initCode 0x7702…) hashes its delegate: ask EntryPoint.getUserOpHash",
    );
  }
  const { domain, types, message } = userOperationTypedData(p, entryPoint, chainId);
  return TypedDataEncoder.hash(domain, types, message) as Hex;
}

/**
 * A signature that parses as a secp256k1 signature (r, low s, v) but signs nothing: what an
 * ECDSA account needs in eth_estimateUserOperationGas, whose simulation must reach the signature check
 * without reverting (OpenZeppelin's ECDSA reverts on a malformed or high-s signature).
 */
export const DUMMY_ECDSA_SIGNATURE: Hex =
  "0xfffffffffffffffffffffffffffffff0000000000000000000000000000000007aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1c";

// ---------------------------------------------------------------------------------------------
// JSON-RPC shapes (ERC-7769). Quantities are minimal hex ("0x0", "0x1f"); data is 0x-hex.

/** A UserOperation as JSON for eth_sendUserOperation / eth_estimateUserOperationGas. */
export interface RpcUserOperation {
  sender: Hex;
  nonce: Hex;
  factory?: Hex;
  factoryData?: Hex;
  callData: Hex;
  callGasLimit: Hex;
  verificationGasLimit: Hex;
  preVerificationGas: Hex;
  maxFeePerGas: Hex;
  maxPriorityFeePerGas: Hex;
  paymaster?: Hex;
  paymasterVerificationGasLimit?: Hex;
  paymasterPostOpGasLimit?: Hex;
  paymasterData?: Hex;
  signature: Hex;
}

function quantity(value: bigint): Hex {
  return toQuantity(value) as Hex;
}

/** The JSON a bundler takes; optional fields are left out when absent (alto accepts null too). */
export function toRpcUserOperation(op: UserOperation): RpcUserOperation {
  return {
    sender: op.sender,
    nonce: quantity(op.nonce),
    ...(op.factory === undefined
      ? {}
      : { factory: op.factory, factoryData: op.factoryData ?? "0x" }),
    callData: op.callData,
    callGasLimit: quantity(op.callGasLimit),
    verificationGasLimit: quantity(op.verificationGasLimit),
    preVerificationGas: quantity(op.preVerificationGas),
    maxFeePerGas: quantity(op.maxFeePerGas),
    maxPriorityFeePerGas: quantity(op.maxPriorityFeePerGas),
    ...(op.paymaster === undefined
      ? {}
      : {
          paymaster: op.paymaster,
          paymasterVerificationGasLimit: quantity(op.paymasterVerificationGasLimit ?? 0n),
          paymasterPostOpGasLimit: quantity(op.paymasterPostOpGasLimit ?? 0n),
          paymasterData: op.paymasterData ?? "0x",
        }),
    signature: op.signature,
  };
}

function record(json: unknown, what: string): Record<string, unknown> {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new InvalidInputError(`${what} is not a JSON object: ${JSON.stringify(json)}`);
  }
  return json as Record<string, unknown>;
}

function parseQuantity(value: unknown, field: string): bigint {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]+$/.test(value)) {
    throw new InvalidInputError(`${field} is not a hex quantity: ${JSON.stringify(value)}`);
  }
  return BigInt(value);
}

function parseData(value: unknown, field: string): Hex {
  if (typeof value !== "string" || !isHexString(value) || value.length % 2 !== 0) {
    throw new InvalidInputError(`${field} is not 0x-hex data: ${JSON.stringify(value)}`);
  }
  return value;
}

function parseAddress(value: unknown, field: string): Hex {
  return address(parseData(value, field), field);
}

/** null and absent are the same to a bundler. */
function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/** A UserOperation from bundler JSON (eth_getUserOperationByHash), checked field by field. */
export function fromRpcUserOperation(json: unknown): UserOperation {
  const o = record(json, "the UserOperation");
  const optional = <T>(key: string, parse: (v: unknown, f: string) => T): Record<string, T> =>
    present(o[key]) ? { [key]: parse(o[key], key) } : {};
  return {
    sender: parseAddress(o.sender, "sender"),
    nonce: parseQuantity(o.nonce, "nonce"),
    ...optional("factory", parseAddress),
    ...optional("factoryData", parseData),
    callData: parseData(o.callData, "callData"),
    callGasLimit: parseQuantity(o.callGasLimit, "callGasLimit"),
    verificationGasLimit: parseQuantity(o.verificationGasLimit, "verificationGasLimit"),
    preVerificationGas: parseQuantity(o.preVerificationGas, "preVerificationGas"),
    maxFeePerGas: parseQuantity(o.maxFeePerGas, "maxFeePerGas"),
    maxPriorityFeePerGas: parseQuantity(o.maxPriorityFeePerGas, "maxPriorityFeePerGas"),
    ...optional("paymaster", parseAddress),
    ...optional("paymasterVerificationGasLimit", parseQuantity),
    ...optional("paymasterPostOpGasLimit", parseQuantity),
    ...optional("paymasterData", parseData),
    signature: parseData(o.signature, "signature"),
  };
}

/** eth_estimateUserOperationGas's answer. */
export interface UserOperationGasEstimate {
  readonly preVerificationGas: bigint;
  readonly verificationGasLimit: bigint;
  readonly callGasLimit: bigint;
  readonly paymasterVerificationGasLimit?: bigint;
  readonly paymasterPostOpGasLimit?: bigint;
}

export function parseGasEstimate(json: unknown): UserOperationGasEstimate {
  const o = record(json, "the gas estimate");
  return {
    preVerificationGas: parseQuantity(o.preVerificationGas, "preVerificationGas"),
    verificationGasLimit: parseQuantity(o.verificationGasLimit, "verificationGasLimit"),
    callGasLimit: parseQuantity(o.callGasLimit, "callGasLimit"),
    ...(present(o.paymasterVerificationGasLimit)
      ? {
          paymasterVerificationGasLimit: parseQuantity(
            o.paymasterVerificationGasLimit,
            "paymasterVerificationGasLimit",
          ),
        }
      : {}),
    ...(present(o.paymasterPostOpGasLimit)
      ? {
          paymasterPostOpGasLimit: parseQuantity(
            o.paymasterPostOpGasLimit,
            "paymasterPostOpGasLimit",
          ),
        }
      : {}),
  };
}

/** A log of the bundle transaction that belongs to the operation. */
export interface UserOperationLog {
  readonly address: Hex;
  readonly topics: readonly Hex[];
  readonly data: Hex;
}

/** eth_getUserOperationReceipt's answer (null until the operation is mined). */
export interface UserOperationReceipt {
  readonly userOpHash: Hex;
  readonly entryPoint: Hex;
  readonly sender: Hex;
  readonly nonce: bigint;
  readonly paymaster?: Hex;
  readonly actualGasCost: bigint;
  readonly actualGasUsed: bigint;
  /** False when the call phase reverted (the operation still paid for its gas). */
  readonly success: boolean;
  /** The call phase's revert data when success is false. */
  readonly reason?: Hex;
  readonly logs: readonly UserOperationLog[];
  readonly transactionHash: Hex;
  readonly blockNumber: bigint;
}

function parseLog(json: unknown, i: number): UserOperationLog {
  const o = record(json, `log ${i}`);
  if (!Array.isArray(o.topics)) throw new InvalidInputError(`log ${i} has no topics array`);
  return {
    address: parseAddress(o.address, `log ${i} address`),
    topics: o.topics.map((t, j) => parseData(t, `log ${i} topic ${j}`)),
    data: parseData(o.data, `log ${i} data`),
  };
}

export function parseUserOperationReceipt(json: unknown): UserOperationReceipt {
  const o = record(json, "the UserOperation receipt");
  const receipt = record(o.receipt, "the receipt's transaction receipt");
  if (typeof o.success !== "boolean") {
    throw new InvalidInputError(`success is not a boolean: ${JSON.stringify(o.success)}`);
  }
  if (!Array.isArray(o.logs)) throw new InvalidInputError("the receipt has no logs array");
  const userOpHash = parseData(o.userOpHash, "userOpHash");
  if (dataLength(userOpHash) !== 32) throw new InvalidInputError("userOpHash is not 32 bytes");
  return {
    userOpHash,
    entryPoint: parseAddress(o.entryPoint, "entryPoint"),
    sender: parseAddress(o.sender, "sender"),
    nonce: parseQuantity(o.nonce, "nonce"),
    ...(present(o.paymaster) ? { paymaster: parseAddress(o.paymaster, "paymaster") } : {}),
    actualGasCost: parseQuantity(o.actualGasCost, "actualGasCost"),
    actualGasUsed: parseQuantity(o.actualGasUsed, "actualGasUsed"),
    success: o.success,
    ...(present(o.reason) ? { reason: parseData(o.reason, "reason") } : {}),
    logs: o.logs.map(parseLog),
    transactionHash: parseData(receipt.transactionHash, "receipt.transactionHash"),
    blockNumber: parseQuantity(receipt.blockNumber, "receipt.blockNumber"),
  };
}
