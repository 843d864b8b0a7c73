import assert from "node:assert/strict";
import { Wallet, parseEther, type ContractTransactionResponse } from "ethers";
import { network } from "hardhat";
import { packUserOperation, type UserOperation } from "../../src/client/user-operation.js";
import type { Hex } from "../../src/protocol/index.js";
import {
  deployEntryPointV08,
  deploySimpleAccountFactory,
  entryPointAt,
  type JsonRpcSend,
} from "../../src/client/entry-point-local.js";
import {
  analyzeValidationTrace,
  checkUserOperationValidation,
  formatViolations,
  type ValidationReport,
} from "../support/erc7562.js";
import {
  counterfactualAccount,
  executeCall,
  signUserOperation,
} from "../support/simple-account.js";

const { ethers, networkHelpers, provider } = await network.create();
const send: JsonRpcSend = (method, params) => provider.request({ method, params });

/** ValidationRulesAccount's probes (its signature's first byte). */
const Probe = { Nothing: 0, ForeignRead: 1, ForeignWrite: 2, AssociatedRead: 3, Timestamp: 4 };

const GAS = {
  callGasLimit: 100_000n,
  verificationGasLimit: 600_000n,
  preVerificationGas: 60_000n,
  maxFeePerGas: 3_000_000_000n,
  maxPriorityFeePerGas: 1_000_000_000n,
} as const;

async function fixture() {
  const [funder] = await ethers.getSigners();
  assert.ok(funder !== undefined);
  const entryPoint = await deployEntryPointV08(funder, send);
  const factory = await deploySimpleAccountFactory(funder, entryPoint);
  const token = await ethers.deployContract("MockERC20", ["Probe", "PRB"]);
  const probeAccount = await ethers.deployContract("ValidationRulesAccount", [
    entryPoint,
    await token.getAddress(),
  ]);
  await (
    await funder.sendTransaction({ to: await probeAccount.getAddress(), value: parseEther("1") })
  ).wait();
  const chainId = (await ethers.provider.getNetwork()).chainId;
  return {
    funder,
    bundler: funder.address as Hex,
    entryPoint,
    factory,
    token: (await token.getAddress()) as Hex,
    probeAccount: (await probeAccount.getAddress()) as Hex,
    chainId,
  };
}

function probeOperation(sender: Hex, probe: number): UserOperation {
  return {
    sender,
    nonce: 0n,
    callData: "0x",
    ...GAS,
    signature: `0x${probe.toString(16).padStart(2, "0")}`,
  };
}

async function check(
  op: UserOperation,
  f: Awaited<ReturnType<typeof fixture>>,
): Promise<ValidationReport> {
  return checkUserOperationValidation(send, packUserOperation(op), {
    entryPoint: f.entryPoint,
    bundler: f.bundler,
  });
}

function rules(report: ValidationReport): string[] {
  return report.violations.map((v) => `${v.rule} ${v.entity}`);
}

describe("ERC-7562 checker", function () {
  describe("checkUserOperationValidation", function () {
    it("passes SimpleAccount's first operation (factory deployment, ECDSA, prefund)", async function () {
      const f = await networkHelpers.loadFixture(fixture);
      const owner = Wallet.createRandom();
      const account = await counterfactualAccount(f.factory, owner.address);
      await (await f.funder.sendTransaction({ to: account.sender, value: parseEther("1") })).wait();
      const op = signUserOperation(
        { ...account, nonce: 0n, callData: executeCall(f.bundler, 1n), ...GAS, signature: "0x" },
        owner,
        f.entryPoint,
        f.chainId,
      );
      const report = await check(op, f);
      assert.equal(formatViolations(report), "none");
      assert.deepEqual(report.entities, ["factory", "account"]);
      // The proxy's implementation slot, Initializable's and the owner, in the new account (whose
      // address the checker learnt from CREATE2's result); the prefund lands in the EntryPoint.
      const contracts = new Set(report.storage.map((s) => s.contract));
      assert.deepEqual([...contracts], [account.sender, f.entryPoint]);
      assert.ok(report.storage.some((s) => s.entity === "factory" && s.write));
    });

    it("flags an unstaked account that reads another contract's storage (STO-033)", async function () {
      const f = await networkHelpers.loadFixture(fixture);
      const report = await check(probeOperation(f.probeAccount, Probe.ForeignRead), f);
      assert.deepEqual(rules(report), ["STO-033 account"]);
      assert.match(report.violations[0]?.message ?? "", new RegExp(f.token, "i"));
    });

    it("lets an account read storage associated with it in another contract (STO-021)", async function () {
      const f = await networkHelpers.loadFixture(fixture);
      const report = await check(probeOperation(f.probeAccount, Probe.AssociatedRead), f);
      assert.equal(formatViolations(report), "none");
      assert.ok(report.storage.some((s) => s.contract === f.token && !s.write));
    });

    it("flags a blocked opcode (OP-011 TIMESTAMP)", async function () {
      const f = await networkHelpers.loadFixture(fixture);
      const report = await check(probeOperation(f.probeAccount, Probe.Timestamp), f);
      assert.deepEqual(rules(report), ["OP-011 account"]);
      assert.match(report.violations[0]?.message ?? "", /TIMESTAMP/);
    });

    it("lets a staked account read any storage, but never write another contract's (STO-033)", async function () {
      const f = await networkHelpers.loadFixture(fixture);
      await networkHelpers.impersonateAccount(f.probeAccount);
      const asAccount = await ethers.getSigner(f.probeAccount);
      const stake = (await entryPointAt(asAccount, f.entryPoint).getFunction("addStake")(86_400, {
        value: parseEther("0.1"),
      })) as ContractTransactionResponse;
      await stake.wait();

      const read = await check(probeOperation(f.probeAccount, Probe.ForeignRead), f);
      assert.equal(formatViolations(read), "none");
      const write = await check(probeOperation(f.probeAccount, Probe.ForeignWrite), f);
      // mint writes the token's totalSupply and its balance of itself: neither is the account's.
      assert.deepEqual(rules(write), ["STO-033 account", "STO-033 account"]);
      assert.match(write.violations[0]?.message ?? "", /forbidden even when staked/);
    });

    it("refuses to judge an operation that handleOps rejects", async function () {
      const f = await networkHelpers.loadFixture(fixture);
      const owner = Wallet.createRandom();
      const account = await counterfactualAccount(f.factory, owner.address);
      // Not funded, so the account cannot pay its prefund: AA21.
      const op = signUserOperation(
        { ...account, nonce: 0n, callData: "0x", ...GAS, signature: "0x" },
        owner,
        f.entryPoint,
        f.chainId,
      );
      await assert.rejects(check(op, f), /AA21/);
    });
  });

  describe("analyzeValidationTrace", function () {
    const context = {
      entryPoint: "0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108",
      senderCreator: "0x449ED7C3e6Fee6a97311d4b55475DF59C44AdD33",
      sender: "0x1111111111111111111111111111111111111111",
      staked: {},
    } as const;
    const call = (to: string) => ({
      op: "CALL",
      depth: 1,
      stack: ["0x0", "0x0", "0x0", "0x0", "0x0", to, "0xffff"],
    });

    it("allows GAS right before a CALL and flags it otherwise (OP-012)", function () {
      const ok = analyzeValidationTrace(
        [call(context.sender), { op: "GAS", depth: 2 }, { op: "STATICCALL", depth: 2, stack: [] }],
        context,
      );
      assert.equal(formatViolations(ok), "none");
      const bad = analyzeValidationTrace(
        [call(context.sender), { op: "GAS", depth: 2 }, { op: "POP", depth: 2 }],
        context,
      );
      assert.deepEqual(rules(bad), ["OP-012 account"]);
    });

    it("flags a context returned by an unstaked paymaster (EREP-050), not by a staked one", function () {
      const paymaster: Hex = "0x2222222222222222222222222222222222222222";
      const words = (...w: bigint[]) => w.map((v) => v.toString(16).padStart(64, "0"));
      // validatePaymasterUserOp returns abi.encode(bytes context, uint256 validationData) from memory 0.
      const returning = (context: bigint[]) => [
        call(paymaster),
        {
          op: "RETURN",
          depth: 2,
          stack: [`0x${(32 * (3 + Math.max(context.length - 1, 0))).toString(16)}`, "0x0"],
          memory: words(0x40n, 0n, ...context),
        },
      ];
      const withContext = returning([2n, 0xdeadn << 240n]); // a 2-byte context
      const empty = returning([0n]);
      const at = (staked: boolean) => ({ ...context, paymaster, staked: { paymaster: staked } });
      assert.deepEqual(rules(analyzeValidationTrace(withContext, at(false))), [
        "EREP-050 paymaster",
      ]);
      assert.equal(formatViolations(analyzeValidationTrace(withContext, at(true))), "none");
      assert.equal(formatViolations(analyzeValidationTrace(empty, at(false))), "none");
    });

    it("stops at the EntryPoint's BeforeExecution event", function () {
      const beforeExecution = "0xbb47ee3e183a558b1a2ff0874b079f3fc5478b7454eacf2bfc5af2ff5878f972";
      const report = analyzeValidationTrace(
        [
          call(context.sender),
          { op: "STOP", depth: 2 },
          { op: "LOG1", depth: 1, stack: [beforeExecution, "0x0", "0x0"] },
          call(context.sender),
          { op: "TIMESTAMP", depth: 2 },
        ],
        context,
      );
      assert.equal(formatViolations(report), "none");
    });
  });
});
