import { p256 } from "@noble/curves/nist.js";
import {
  AbiCoder,
  concat,
  getBytes,
  keccak256,
  parseEther,
  type ContractTransactionResponse,
  type Signer,
} from "ethers";
import {
  BATCH_MODE,
  HANDLE_OPS_GAS,
  batchExecutionData,
  entryPointAt,
  erc20Transfer,
  packUserOperation,
  packedUserOperationTuple,
  userOperationHash,
  type Execution,
} from "../client/index.js";
import { fund, type AccountSystem } from "../client/account-local.js";
import type { Hex } from "../protocol/index.js";
import {
  PlainMultisigAccount__factory,
  PlainP256Verifier__factory,
} from "../../types/ethers-contracts/index.js";

const PAYMENT = parseEther("1");

/** The gasUsed of a sent transaction once mined. */
async function mined(sent: Promise<unknown>): Promise<bigint> {
  const receipt = await (sent as Promise<ContractTransactionResponse>).then((tx) => tx.wait());
  if (receipt === null) throw new Error("a baseline transaction was not mined");
  return receipt.gasUsed;
}

/**
 * The bench's baseline account (contracts/mocks/PlainMultisigAccount.sol): OpenZeppelin's Account, ERC-7821
 * and weighted ERC-7913 multisigner with `count` P-256 signers of weight 1 (OpenZeppelin's
 * ERC7913P256Verifier ‖ qx ‖ qy) and `threshold`, nothing else. `pay()` sends one UserOperation through
 * handleOps, signed by the first `threshold` signers, that transfers 1 token to `seller` and returns the
 * receipt's gasUsed, the way benchAccounts measures a DeviceAccount.
 */
export async function plainMultisigPayment(
  system: AccountSystem,
  bundler: Signer,
  seller: Hex,
  count = 1,
  threshold = 1,
): Promise<{ pay(): Promise<bigint> }> {
  const verifier = await new PlainP256Verifier__factory(system.deployer).deploy();
  await verifier.waitForDeployment();
  const verifierAddress = await verifier.getAddress();
  const keys = Array.from({ length: count }, () => {
    const secret = p256.utils.randomSecretKey();
    // Uncompressed point 0x04 ‖ qx ‖ qy: the signer is the verifier's address ‖ qx ‖ qy.
    return { secret, signer: concat([verifierAddress, p256.getPublicKey(secret, false).slice(1)]) };
  });
  // OpenZeppelin's multisigner wants the signers of a signature sorted by keccak256, ascending.
  const signing = keys
    .slice(0, threshold)
    .sort((a, b) => (BigInt(keccak256(a.signer)) < BigInt(keccak256(b.signer)) ? -1 : 1));
  const account = await new PlainMultisigAccount__factory(system.deployer).deploy(
    system.entryPoint,
    keys.map((k) => k.signer),
    keys.map(() => 1n),
    BigInt(threshold),
  );
  await account.waitForDeployment();
  const sender = (await account.getAddress()) as Hex;
  await fund(system, sender);
  const entryPoint = entryPointAt(system.entryPoint, system.deployer);
  await mined(entryPoint.getFunction("depositTo")(sender, { value: parseEther("1") }));
  const { chainId } = await system.provider.getNetwork();
  const coder = AbiCoder.defaultAbiCoder();

  const pay = async (): Promise<bigint> => {
    const batch: Execution[] = [erc20Transfer(system.tokenAddress, seller, PAYMENT)];
    const executionData = batchExecutionData(batch);
    const op = {
      sender,
      nonce: (await entryPoint.getFunction("getNonce")(sender, 0n)) as bigint,
      callData: account.interface.encodeFunctionData("execute", [BATCH_MODE, executionData]) as Hex,
      callGasLimit: HANDLE_OPS_GAS.callBase,
      verificationGasLimit: HANDLE_OPS_GAS.verificationBase + HANDLE_OPS_GAS.verificationPerSigner,
      preVerificationGas: HANDLE_OPS_GAS.preVerificationGas,
      maxFeePerGas: 2_000_000_000n,
      maxPriorityFeePerGas: 1_000_000_000n,
      signature: "0x" as Hex,
    };
    const hash = userOperationHash(op, system.entryPoint, chainId);
    const signature = coder.encode(
      ["bytes[]", "bytes[]"],
      [
        signing.map((k) => k.signer),
        signing.map((k) => p256.sign(getBytes(hash), k.secret, { prehash: false, lowS: true })),
      ],
    ) as Hex;
    const packed = packUserOperation({ ...op, signature });
    const handleOps = entryPoint.connect(bundler).getFunction("handleOps");
    const before = await system.token.balanceOf(seller);
    const gas = await mined(
      handleOps([packedUserOperationTuple(packed)], await bundler.getAddress()),
    );
    // handleOps does not revert when an operation's execution does: make sure this one paid.
    if ((await system.token.balanceOf(seller)) - before !== PAYMENT) {
      throw new Error(
        "the baseline account's operation did not pay: the bench would measure a failure",
      );
    }
    return gas;
  };
  return { pay };
}
