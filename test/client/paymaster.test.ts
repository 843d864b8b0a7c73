import assert from "node:assert/strict";
import { Wallet, parseEther, type ErrorFragment, type Signer } from "ethers";
import { network } from "hardhat";
import {
  ContractError,
  EXPLAINED_PAYMASTER_ERRORS,
  SponsorshipRefusedError,
  UserOperationFailedError,
  accountAddress,
  accountCallData,
  accountSalt,
  buildAccountSetup,
  createAccountData,
  dummyAccountSignature,
  entryPointAt,
  erc20Transfer,
  fundOperator,
  paymasterAndData,
  paymasterState,
  previewSponsorship,
  registerSponsoredAccount,
  sendAccountOperation,
  setAccountBudget,
  setOperatorBudget,
  sponsoredFields,
  sponsorshipData,
  withdrawOperatorFunds,
  type AccountOperationResult,
  type PackedUserOperation,
  type SponsorOptions,
  type UserOperation,
} from "../../src/client/index.js";
import {
  PAYMASTER_STAKE,
  deployAccountSystem,
  registerAndAttest,
} from "../../src/client/account-local.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { DevicePaymaster__factory } from "../../types/ethers-contracts/index.js";
import type { Hex } from "../../src/protocol/index.js";
import {
  checkUserOperationValidation,
  formatViolations,
  type ValidationReport,
} from "../support/erc7562.js";

const { ethers, networkHelpers } = await network.create();

const DAY = 86_400n;
const FUNDS = parseEther("1");
const BUDGET = { cap: parseEther("0.5"), period: DAY };
const seller = Wallet.createRandom().address as Hex;

async function fixture() {
  const [deployer, maker, deviceOperator, operator, outsider] = await ethers.getSigners();
  assert.ok(deployer && maker && deviceOperator && operator && outsider);
  const system = await deployAccountSystem({
    deployer,
    maker,
    deviceOperator,
    send: (method, params) => ethers.provider.send(method, params),
  });
  const store = SoftwareKeyStore.generate("p256");
  const deviceId = await registerAndAttest(system, store);
  const setup = buildAccountSetup({
    verifier: system.verifier,
    devices: [deviceId],
    operator: operator.address,
    tokens: [
      { token: system.tokenAddress, periodCap: parseEther("1000"), perCallCap: parseEther("400") },
    ],
    counterparties: [{ token: system.tokenAddress, counterparty: seller }],
  });
  const salt = accountSalt("sponsored-charger");
  const account = await accountAddress(system.factory, setup, salt);
  await (await system.token.mint(account, parseEther("1000"))).wait();
  const paymaster = system.paymasterAddress;
  const asOperator = operator as unknown as Signer;
  await registerSponsoredAccount(paymaster, asOperator, setup, salt);
  await setOperatorBudget(paymaster, asOperator, BUDGET);
  await fundOperator(paymaster, asOperator, operator.address, FUNDS);
  return {
    system,
    store,
    deviceId,
    setup,
    salt,
    account,
    paymaster,
    operator: asOperator,
    operatorAddress: operator.address as Hex,
    outsider: outsider as unknown as Signer,
    bundler: deployer as unknown as Signer,
    bundlerAddress: deployer.address as Hex,
  };
}

type Fixture = Awaited<ReturnType<typeof fixture>>;

/** A sponsored payment to the seller through handleOps, with the ERC-7562 report of its validation. */
async function pay(f: Fixture, amount: bigint, sponsor: Partial<SponsorOptions> = {}) {
  const reports: ValidationReport[] = [];
  const exists = (await ethers.provider.getCode(f.account)) !== "0x";
  const result = await sendAccountOperation({
    account: f.account,
    batch: [erc20Transfer(f.system.tokenAddress, seller, amount)],
    signers: { verifier: f.system.verifier, devices: [{ deviceId: f.deviceId, store: f.store }] },
    provider: ethers.provider,
    wallet: f.bundler,
    entryPoint: f.system.entryPoint,
    sponsor: { paymaster: f.paymaster, ...sponsor },
    ...(exists
      ? {}
      : {
          initCode: {
            factory: f.system.factoryAddress,
            factoryData: createAccountData(f.setup, f.salt),
          },
        }),
    onSigned: async (_op, packed: PackedUserOperation) => {
      const report = await checkUserOperationValidation(
        (method, params) => ethers.provider.send(method, params),
        packed,
        { entryPoint: f.system.entryPoint, bundler: f.bundlerAddress },
      );
      reports.push(report);
    },
  });
  return { result, reports };
}

async function native(f: Fixture): Promise<{ balance: bigint; deposit: bigint }> {
  const entryPoint = entryPointAt(f.system.entryPoint, ethers.provider);
  return {
    balance: await ethers.provider.getBalance(f.account),
    deposit: (await entryPoint.getFunction("balanceOf")(f.account)) as bigint,
  };
}

function charged(result: AccountOperationResult): bigint {
  assert.ok(result.sponsored !== undefined, "a sponsored operation reports its charge");
  return result.sponsored.charged;
}

describe("DevicePaymaster client", function () {
  this.timeout(120_000);

  describe("paymasterAndData", function () {
    it("packs paymaster ‖ verification gas ‖ postOp gas ‖ uint48 at, as the contract reads it", function () {
      const paymaster = "0x3333333333333333333333333333333333333333";
      const packed = paymasterAndData({
        paymaster,
        at: 0x0102030405n,
        verificationGasLimit: 300_000n,
        postOpGasLimit: 40_000n,
      });
      assert.equal(
        packed,
        `${paymaster}${(300_000).toString(16).padStart(32, "0")}${(40_000).toString(16).padStart(32, "0")}000102030405`,
      );
      assert.throws(() => sponsorshipData(1n << 48n), /48 bits/);
    });
  });

  describe("sendAccountOperation with a sponsor", function () {
    it("deploys the account and pays its counterparty with no native coin and no deposit; the operator's balance and budget pay", async function () {
      const f = await networkHelpers.loadFixture(fixture);
      assert.deepEqual(await native(f), { balance: 0n, deposit: 0n });

      const first = await pay(f, parseEther("10"));
      const second = await pay(f, parseEther("5"));
      assert.equal(first.result.deployed, true);
      assert.equal(second.result.deployed, false);
      assert.equal(await f.system.token.balanceOf(seller), parseEther("15"));
      assert.deepEqual(await native(f), { balance: 0n, deposit: 0n });

      // The operator pays at least what the EntryPoint took from the paymaster's deposit.
      const total = charged(first.result) + charged(second.result);
      assert.ok(charged(first.result) >= first.result.actualGasCost);
      assert.equal(first.result.sponsored?.operator, f.operatorAddress);
      const state = await paymasterState(ethers.provider, f.paymaster, {
        operator: f.operatorAddress,
        account: f.account,
      });
      assert.ok(state.operator?.budget !== undefined && state.account !== undefined);
      assert.equal(state.operator.funds, FUNDS - total);
      assert.equal(state.operator.budget.spent, total);
      assert.equal(state.operator.budget.remaining, BUDGET.cap - total);
      assert.equal(state.account.sponsor, f.operatorAddress);
      assert.equal(state.account.budget, undefined);
      assert.deepEqual(state.stake, {
        staked: true,
        amount: PAYMASTER_STAKE.amount,
        unstakeDelaySec: PAYMASTER_STAKE.unstakeDelaySec,
        withdrawTime: 0n,
      });
      assert.ok(state.deposit >= state.totalFunds);

      // ERC-7562: account (and factory) unstaked, the paymaster staked: no violation, first operation included.
      const reports = [...first.reports, ...second.reports];
      assert.deepEqual(
        reports.map((r) => r.entities),
        [
          ["factory", "account", "paymaster"],
          ["account", "paymaster"],
        ],
      );
      assert.deepEqual(reports.map(formatViolations), ["none", "none"]);
      assert.ok(reports.every((r) => r.context.staked.paymaster === true));
    });

    it("previews a deployed account's operation: sponsored within its budget window, or why not", async function () {
      const f = await networkHelpers.loadFixture(fixture);
      await pay(f, 1n);
      const at = BigInt((await ethers.provider.getBlock("latest"))?.timestamp ?? 0);
      const op: UserOperation = {
        sender: f.account,
        nonce: 1n,
        callData: accountCallData([erc20Transfer(f.system.tokenAddress, seller, 1n)]),
        callGasLimit: 100_000n,
        verificationGasLimit: 500_000n,
        preVerificationGas: 50_000n,
        maxFeePerGas: 1_000_000_000n,
        maxPriorityFeePerGas: 1_000_000_000n,
        ...sponsoredFields({
          paymaster: f.paymaster,
          at,
          verificationGasLimit: 200_000n,
          postOpGasLimit: 40_000n,
        }),
        // The shape of the real signature (the signers and their keys) is all the paymaster reads.
        signature: dummyAccountSignature({
          verifier: f.system.verifier,
          devices: [{ deviceId: f.deviceId, store: f.store }],
        }),
      };
      const preview = await previewSponsorship(ethers.provider, op);
      assert.equal(preview.sponsored, true, preview.explanation);
      assert.equal(preview.refusal, "None");
      assert.equal(preview.maxCost, 890_000n * 1_000_000_000n);
      assert.equal(
        preview.validAfter,
        (at / DAY) * DAY - 1n,
        "the budget window's start (exclusive)",
      );
      assert.ok(preview.validUntil <= (at / DAY + 1n) * DAY - 1n);

      const unsigned = await previewSponsorship(ethers.provider, { ...op, signature: "0x" });
      assert.equal(unsigned.refusal, "InvalidSignature");
      await assert.rejects(
        pay(f, 1n, { postOpGasLimit: 20_000n }),
        (err: unknown) =>
          err instanceof SponsorshipRefusedError && err.refusal === "PostOpGasTooLow",
      );
    });
  });

  describe("ERC-7562", function () {
    it("flags what only the stake allows when the same paymaster is unstaked", async function () {
      const f = await networkHelpers.loadFixture(fixture);
      const unstaked = await new DevicePaymaster__factory(f.operator).deploy(
        f.system.factoryAddress,
        f.operatorAddress,
      );
      const address = await unstaked.getAddress();
      await registerSponsoredAccount(address, f.operator, f.setup, f.salt);
      await setOperatorBudget(address, f.operator, BUDGET);
      await fundOperator(address, f.operator, f.operatorAddress, FUNDS);
      // handleOps does not ask for a stake: the operation runs, but a bundler would not take it.
      const { result, reports } = await pay(f, 1n, { paymaster: address });
      assert.equal(result.sponsored?.paymaster, address);
      const rules = new Set(reports[0]?.violations.map((v) => `${v.rule} ${v.entity}`));
      // A context for postOp, its own storage (budgets, balances), the registry's (trust), and the
      // sender's entries in its mappings while the sender is being created (first operation).
      assert.deepEqual([...rules].sort(), [
        "EREP-050 paymaster",
        "STO-022 paymaster",
        "STO-031 paymaster",
        "STO-033 paymaster",
      ]);
    });
  });

  describe("refusals", function () {
    it("refuses an operation over the operator's budget with a SponsorshipRefusedError, before signing", async function () {
      const f = await networkHelpers.loadFixture(fixture);
      await pay(f, 1n);
      const nonce = (await entryPointAt(f.system.entryPoint, ethers.provider).getFunction(
        "getNonce",
      )(f.account, 0n)) as bigint;
      await setOperatorBudget(f.paymaster, f.operator, { cap: 1_000n, period: DAY });
      await assert.rejects(pay(f, parseEther("1")), (err: unknown) => {
        assert.ok(err instanceof SponsorshipRefusedError, String(err));
        assert.equal(err.code, "SPONSORSHIP_REFUSED");
        assert.equal(err.refusal, "OperatorBudgetExceeded");
        assert.equal(err.account, f.account);
        assert.match(err.message, /the operator raises it \(setOperatorBudget\)/);
        return true;
      });
      const after = (await entryPointAt(f.system.entryPoint, ethers.provider).getFunction(
        "getNonce",
      )(f.account, 0n)) as bigint;
      assert.equal(after, nonce, "nothing was sent");
      assert.equal(await f.system.token.balanceOf(seller), 1n);
    });

    it("refuses an operation over the account's own budget", async function () {
      const f = await networkHelpers.loadFixture(fixture);
      await pay(f, 1n);
      await setAccountBudget(f.paymaster, f.operator, f.account, { cap: 1_000n, period: DAY });
      await assert.rejects(
        pay(f, 1n),
        (err: unknown) =>
          err instanceof SponsorshipRefusedError && err.refusal === "AccountBudgetExceeded",
      );
      // Without its own budget, the operator's applies again.
      await setAccountBudget(f.paymaster, f.operator, f.account, null);
      await pay(f, 1n);
    });

    it("does not sponsor an operation whose device the registry no longer trusts", async function () {
      const f = await networkHelpers.loadFixture(fixture);
      await pay(f, 1n);
      // Past the attestation's max age (a day): the device is stale.
      await networkHelpers.time.increase(2n * DAY + 60n);
      await assert.rejects(pay(f, 1n), (err: unknown) => {
        assert.ok(err instanceof SponsorshipRefusedError, String(err));
        assert.equal(err.refusal, "Untrusted");
        assert.match(err.message, /attest the device again/);
        return true;
      });
    });

    it("leaves an unregistered account's first operation to validation, which refuses it (AA34)", async function () {
      const f = await networkHelpers.loadFixture(fixture);
      const setup = f.setup;
      const salt = accountSalt("not-registered");
      const other = await accountAddress(f.system.factory, setup, salt);
      await assert.rejects(
        sendAccountOperation({
          account: other,
          batch: [erc20Transfer(f.system.tokenAddress, seller, 1n)],
          signers: {
            verifier: f.system.verifier,
            devices: [{ deviceId: f.deviceId, store: f.store }],
          },
          provider: ethers.provider,
          wallet: f.bundler,
          entryPoint: f.system.entryPoint,
          sponsor: { paymaster: f.paymaster },
          initCode: {
            factory: f.system.factoryAddress,
            factoryData: createAccountData(setup, salt),
          },
        }),
        (err: unknown) => {
          assert.ok(err instanceof UserOperationFailedError, String(err));
          assert.equal(err.entryPointCode, "AA34");
          assert.match(err.message, /the paymaster refused to sponsor/);
          return true;
        },
      );
    });
  });

  describe("errors", function () {
    it("explains every DevicePaymaster custom error", function () {
      const names = DevicePaymaster__factory.createInterface()
        .fragments.filter((f): f is ErrorFragment => f.type === "error")
        .map((f) => f.name);
      // OpenZeppelin internals no operator or owner call can meet: OwnableInvalidOwner (the constructor),
      // PaymasterUnauthorized (only the EntryPoint calls validation and postOp), OutOfRangeAccess
      // (Packing, which ERC4337Utils uses on the EntryPoint's checked fields).
      const internal = ["OwnableInvalidOwner", "PaymasterUnauthorized", "OutOfRangeAccess"];
      const unexplained = names.filter(
        (n) => !EXPLAINED_PAYMASTER_ERRORS.includes(n) && !internal.includes(n),
      );
      assert.deepEqual(unexplained, []);
    });
  });

  describe("operator actions", function () {
    it("decodes the paymaster's errors into sentences", async function () {
      const f = await networkHelpers.loadFixture(fixture);
      await assert.rejects(
        withdrawOperatorFunds(f.paymaster, f.operator, f.operatorAddress, FUNDS + 1n),
        (err: unknown) => {
          assert.ok(err instanceof ContractError);
          assert.equal(err.code, "DevicePaymasterInsufficientFunds");
          assert.match(err.message, /withdraw at most its balance/);
          return true;
        },
      );
      await assert.rejects(
        setAccountBudget(f.paymaster, f.outsider, f.account, BUDGET),
        (err: unknown) => err instanceof ContractError && err.code === "DevicePaymasterNotSponsor",
      );
      await assert.rejects(
        registerSponsoredAccount(f.paymaster, f.outsider, f.setup, f.salt),
        (err: unknown) =>
          err instanceof ContractError && err.code === "DevicePaymasterNotAccountOperator",
      );
      const before = await ethers.provider.getBalance(f.outsider);
      const tx = await withdrawOperatorFunds(
        f.paymaster,
        f.operator,
        await f.outsider.getAddress(),
        FUNDS,
      );
      assert.ok(tx.gasUsed > 0n);
      assert.equal(await ethers.provider.getBalance(f.outsider), before + FUNDS);
      const state = await paymasterState(ethers.provider, f.paymaster, {
        operator: f.operatorAddress,
      });
      assert.equal(state.operator?.funds, 0n);
    });
  });
});
