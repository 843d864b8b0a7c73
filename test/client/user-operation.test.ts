import assert from "node:assert/strict";
import { Signature, Wallet, recoverAddress } from "ethers";
import { network } from "hardhat";
import { InvalidInputError, type Hex } from "../../src/protocol/index.js";
import {
  ENTRY_POINT_V08,
  fromRpcUserOperation,
  packUserOperation,
  parseGasEstimate,
  parseUserOperationReceipt,
  toRpcUserOperation,
  unpackUserOperation,
  userOperationHash,
  userOperationTypedData,
  type UserOperation,
} from "../../src/client/user-operation.js";
import {
  deployEntryPointV08,
  entryPointAt,
  type JsonRpcSend,
} from "../../src/client/entry-point-local.js";
import { entryPointHash } from "../support/simple-account.js";

const { ethers, networkHelpers, provider } = await network.create();
const send: JsonRpcSend = (method, params) => provider.request({ method, params });

const SENDER: Hex = "0x1111111111111111111111111111111111111111";
const FACTORY: Hex = "0x2222222222222222222222222222222222222222";
const PAYMASTER: Hex = "0x3333333333333333333333333333333333333333";

const plain: UserOperation = {
  sender: SENDER,
  nonce: 5n,
  callData: "0xb61d27f6",
  callGasLimit: 100_000n,
  verificationGasLimit: 300_000n,
  preVerificationGas: 50_000n,
  maxFeePerGas: 3_000_000_000n,
  maxPriorityFeePerGas: 1_000_000_000n,
  signature: "0x",
};

const full: UserOperation = {
  ...plain,
  nonce: (7n << 64n) | 1n, // key 7, sequence 1
  factory: FACTORY,
  factoryData: "0x5fbfb9cf",
  paymaster: PAYMASTER,
  paymasterVerificationGasLimit: 40_000n,
  paymasterPostOpGasLimit: 20_000n,
  paymasterData: "0xdeadbeef",
  signature: "0x1234",
};

async function fixture() {
  const [funder] = await ethers.getSigners();
  assert.ok(funder !== undefined);
  await deployEntryPointV08(funder, send);
  const chainId = (await ethers.provider.getNetwork()).chainId;
  return { entryPoint: entryPointAt(funder), chainId };
}

describe("client", function () {
  describe("packUserOperation", function () {
    it("packs gas limits and fees two to a word, factory and paymaster before their data", function () {
      const p = packUserOperation(full);
      assert.equal(p.initCode, `${FACTORY}5fbfb9cf`);
      assert.equal(
        p.accountGasLimits,
        `0x${(300_000).toString(16).padStart(32, "0")}${(100_000).toString(16).padStart(32, "0")}`,
      );
      assert.equal(
        p.gasFees,
        `0x${(1e9).toString(16).padStart(32, "0")}${(3e9).toString(16).padStart(32, "0")}`,
      );
      assert.equal(
        p.paymasterAndData,
        `${PAYMASTER}${(40_000).toString(16).padStart(32, "0")}${(20_000).toString(16).padStart(32, "0")}deadbeef`,
      );
      assert.equal(packUserOperation(plain).initCode, "0x");
      assert.equal(packUserOperation(plain).paymasterAndData, "0x");
    });

    it("round-trips through unpackUserOperation", function () {
      assert.deepEqual(unpackUserOperation(packUserOperation(full)), full);
      assert.deepEqual(unpackUserOperation(packUserOperation(plain)), plain);
    });

    it("refuses a gas field over 128 bits and factoryData without a factory", function () {
      assert.throws(
        () => packUserOperation({ ...plain, callGasLimit: 1n << 128n }),
        InvalidInputError,
      );
      assert.throws(() => packUserOperation({ ...plain, factoryData: "0x01" }), /factoryData/);
      assert.throws(
        () => unpackUserOperation({ ...packUserOperation(plain), initCode: "0x1234" }),
        /at least 20/,
      );
    });
  });

  describe("userOperationHash", function () {
    it("is EntryPoint v0.8's getUserOpHash, with and without factory and paymaster", async function () {
      const { entryPoint, chainId } = await networkHelpers.loadFixture(fixture);
      for (const op of [plain, full]) {
        const { hash } = await entryPointHash(entryPoint, op);
        assert.equal(userOperationHash(op, ENTRY_POINT_V08, chainId), hash);
        assert.equal(userOperationHash(packUserOperation(op), ENTRY_POINT_V08, chainId), hash);
      }
    });

    it("changes with the chain, the EntryPoint and every signed field, not with the signature", function () {
      const hash = userOperationHash(full, ENTRY_POINT_V08, 31337n);
      assert.notEqual(userOperationHash(full, ENTRY_POINT_V08, 1n), hash);
      assert.notEqual(userOperationHash(full, FACTORY, 31337n), hash);
      assert.notEqual(
        userOperationHash({ ...full, callGasLimit: 1n }, ENTRY_POINT_V08, 31337n),
        hash,
      );
      assert.notEqual(
        userOperationHash({ ...full, paymasterData: "0x" }, ENTRY_POINT_V08, 31337n),
        hash,
      );
      assert.equal(
        userOperationHash({ ...full, signature: "0xff" }, ENTRY_POINT_V08, 31337n),
        hash,
      );
    });

    it("is what eth_signTypedData_v4 signs (userOperationTypedData)", async function () {
      const wallet = Wallet.createRandom();
      const { domain, types, message } = userOperationTypedData(full, ENTRY_POINT_V08, 31337n);
      const signature = await wallet.signTypedData(domain, types, message);
      const hash = userOperationHash(full, ENTRY_POINT_V08, 31337n);
      assert.equal(recoverAddress(hash, Signature.from(signature)), wallet.address);
    });

    it("refuses an EIP-7702 operation (its hash covers the delegate, not initCode)", function () {
      assert.throws(
        () =>
          userOperationHash(
            { ...packUserOperation(plain), initCode: "0x7702" },
            ENTRY_POINT_V08,
            1n,
          ),
        /EIP-7702/,
      );
    });
  });

  describe("toRpcUserOperation", function () {
    it("writes quantities as minimal hex and leaves absent parts out", function () {
      const rpc = toRpcUserOperation({ ...plain, nonce: 0n });
      assert.equal(rpc.nonce, "0x0");
      assert.equal(rpc.callGasLimit, "0x186a0");
      assert.equal(rpc.maxFeePerGas, "0xb2d05e00");
      assert.equal("factory" in rpc, false);
      assert.equal("paymaster" in rpc, false);
    });

    it("round-trips through fromRpcUserOperation, which takes null for absent", function () {
      assert.deepEqual(fromRpcUserOperation(toRpcUserOperation(full)), full);
      assert.deepEqual(
        fromRpcUserOperation({
          ...toRpcUserOperation(plain),
          factory: null,
          factoryData: null,
          paymaster: null,
        }),
        plain,
      );
    });

    it("fromRpcUserOperation names the bad field", function () {
      assert.throws(
        () => fromRpcUserOperation({ ...toRpcUserOperation(plain), nonce: 5 }),
        /nonce is not a hex quantity/,
      );
      assert.throws(
        () => fromRpcUserOperation({ ...toRpcUserOperation(plain), sender: "0x12" }),
        /sender is not an address/,
      );
    });
  });

  describe("parseGasEstimate and parseUserOperationReceipt", function () {
    it("read alto's answers", function () {
      // As alto 0.0.20 answered on a hardhat node.
      assert.deepEqual(
        parseGasEstimate({
          preVerificationGas: "0xbf6f",
          verificationGasLimit: "0x4644d",
          callGasLimit: "0xb233",
          paymasterVerificationGasLimit: "0x0",
          paymasterPostOpGasLimit: "0x0",
        }),
        {
          preVerificationGas: 0xbf6fn,
          verificationGasLimit: 0x4644dn,
          callGasLimit: 0xb233n,
          paymasterVerificationGasLimit: 0n,
          paymasterPostOpGasLimit: 0n,
        },
      );
      const hash = `0x${"ab".repeat(32)}`;
      const json = {
        userOpHash: hash,
        entryPoint: ENTRY_POINT_V08.toLowerCase(),
        sender: SENDER,
        nonce: "0x1",
        paymaster: "0x0000000000000000000000000000000000000000",
        actualGasCost: "0x2c0f3a0d5e00",
        actualGasUsed: "0x48a72",
        success: true,
        logs: [{ address: SENDER, topics: [hash], data: "0x" }],
        receipt: { transactionHash: hash, blockNumber: "0x9" },
      };
      const receipt = parseUserOperationReceipt(json);
      assert.equal(receipt.entryPoint, ENTRY_POINT_V08);
      assert.equal(receipt.nonce, 1n);
      assert.equal(receipt.actualGasUsed, 0x48a72n);
      assert.equal(receipt.blockNumber, 9n);
      assert.equal(receipt.logs.length, 1);
      assert.throws(() => parseUserOperationReceipt({ ...json, success: "yes" }), /success/);
    });
  });
});
