import { Interface, type BaseWallet, type Contract } from "ethers";
import {
  packUserOperation,
  userOperationHash,
  type PackedUserOperation,
  type UserOperation,
} from "../../src/client/user-operation.js";
import type { Hex } from "../../src/protocol/index.js";
import { accountAbstractionArtifact } from "../../src/client/entry-point-local.js";

/**
 * UserOperations for the v0.8 sample SimpleAccount (owner-signed, ECDSA over the raw EIP-712
 * userOpHash). No describe() here: mocha loads this file and finds no tests.
 */

const simpleAccount = new Interface(accountAbstractionArtifact("SimpleAccount").abi);

/** SimpleAccount.execute(to, value, data): the call phase of an operation. */
export function executeCall(to: string, value: bigint, data: Hex = "0x"): Hex {
  return simpleAccount.encodeFunctionData("execute", [to, value, data]) as Hex;
}

/** The counterfactual address and the factory call that deploys it. */
export async function counterfactualAccount(
  factory: Contract,
  owner: string,
  salt = 0n,
): Promise<{ sender: Hex; factory: Hex; factoryData: Hex }> {
  // getFunction: Contract.getAddress() is the factory's own address, not SimpleAccountFactory's.
  const sender = (await factory.getFunction("getAddress")(owner, salt)) as Hex;
  return {
    sender,
    factory: (await factory.getAddress()) as Hex,
    factoryData: factory.interface.encodeFunctionData("createAccount", [owner, salt]) as Hex,
  };
}

/** `op` signed by `owner` for `entryPoint` on `chainId` (the signature field is replaced). */
export function signUserOperation(
  op: UserOperation,
  owner: BaseWallet,
  entryPoint: Hex,
  chainId: bigint,
): UserOperation {
  const hash = userOperationHash(op, entryPoint, chainId);
  return { ...op, signature: owner.signingKey.sign(hash).serialized as Hex };
}

/** The packed operation and the EntryPoint's own hash of it (to cross-check userOperationHash). */
export async function entryPointHash(
  entryPoint: Contract,
  op: UserOperation,
): Promise<{ packed: PackedUserOperation; hash: Hex }> {
  const packed = packUserOperation(op);
  const hash = (await entryPoint.getFunction("getUserOpHash")([
    packed.sender,
    packed.nonce,
    packed.initCode,
    packed.callData,
    packed.accountGasLimits,
    packed.preVerificationGas,
    packed.gasFees,
    packed.paymasterAndData,
    packed.signature,
  ])) as Hex;
  return { packed, hash };
}
