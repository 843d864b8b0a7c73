import assert from "node:assert/strict";
import { Wallet, parseEther } from "ethers";
import {
  BundlerClient,
  accountAddress,
  accountSalt,
  buildAccountSetup,
  createAccountData,
  entryPointAt,
  erc20Transfer,
  fundOperator,
  paymasterState,
  registerSponsoredAccount,
  sendAccountOperation,
  setOperatorBudget,
  type AccountOperationResult,
  type AccountSetup,
  type PackedUserOperation,
} from "../../src/client/index.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import type { Hex } from "../../src/protocol/index.js";
import {
  checkValidationOn,
  deployAccountSystemOn,
  startBundlerChain,
  type BundlerChain,
} from "../support/bundler.js";
import { formatViolations, type ValidationReport } from "../support/erc7562.js";
import {
  registerAndAttest,
  type AccountSystem,
  type PaymasterDeployment,
} from "../../src/client/account-local.js";

describe("DevicePaymaster through a real bundler (alto on hardhat node)", function () {
  this.timeout(180_000);
  let chain: BundlerChain;
  let client: BundlerClient;
  let system: AccountSystem & PaymasterDeployment;
  const store = SoftwareKeyStore.generate("p256");
  let deviceId: Hex;
  let setup: AccountSetup;
  let account: Hex;
  const operator = Wallet.createRandom();
  const seller = Wallet.createRandom().address as Hex;
  const salt = accountSalt("sponsored-charger-1");
  const reports: ValidationReport[] = [];

  before(async function () {
    chain = await startBundlerChain();
    client = new BundlerClient(chain.bundlerUrl, chain.entryPoint);
    system = await deployAccountSystemOn(chain);
    deviceId = await registerAndAttest(system, store);
    // The accounts' operator: a fresh key, funded by #0.
    await (
      await chain.funder.sendTransaction({ to: operator.address, value: parseEther("2") })
    ).wait();
  });

  after(async function () {
    await chain.stop();
  });

  /** The ERC-7562 rules of the operation's validation (account and paymaster), before it is sent. */
  async function check(packed: PackedUserOperation): Promise<void> {
    const report = await checkValidationOn(chain, packed);
    reports.push(report);
    console.log(
      `      (ERC-7562: ${report.entities.join(" + ")} validated; staked ${JSON.stringify(report.context.staked)}; violations: ${formatViolations(report)})`,
    );
  }

  async function pay(amount: bigint, withInitCode: boolean): Promise<AccountOperationResult> {
    return sendAccountOperation({
      account,
      batch: [erc20Transfer(system.tokenAddress, seller, amount)],
      signers: { verifier: system.verifier, devices: [{ deviceId, store }] },
      provider: chain.provider,
      bundler: client,
      entryPoint: chain.entryPoint,
      sponsor: { paymaster: system.paymasterAddress },
      ...(withInitCode
        ? {
            initCode: {
              factory: system.factoryAddress,
              factoryData: createAccountData(setup, salt),
            },
          }
        : {}),
      onSigned: (_op, packed) => check(packed),
    });
  }

  async function native(): Promise<{ balance: bigint; deposit: bigint }> {
    return {
      balance: await chain.provider.getBalance(account),
      deposit: (await entryPointAt(chain.entryPoint, chain.provider).getFunction("balanceOf")(
        account,
      )) as bigint,
    };
  }

  it("deploys an account that holds no native coin and pays its counterparty, the operator's paymaster balance paying the gas", async function () {
    setup = buildAccountSetup({
      verifier: system.verifier,
      devices: [deviceId],
      operator: operator.address,
      tokens: [{ token: system.tokenAddress, periodCap: parseEther("1000") }],
      counterparties: [{ token: system.tokenAddress, counterparty: seller }],
    });
    account = await accountAddress(system.factory, setup, salt);
    await (await system.token.mint(account, parseEther("100"))).wait();
    const asOperator = operator.connect(chain.provider);
    await registerSponsoredAccount(system.paymasterAddress, asOperator, setup, salt);
    await setOperatorBudget(system.paymasterAddress, asOperator, {
      cap: parseEther("0.5"),
      period: 86_400n,
    });
    await fundOperator(system.paymasterAddress, asOperator, operator.address, parseEther("1"));
    assert.deepEqual(await native(), { balance: 0n, deposit: 0n });

    const first = await pay(parseEther("10"), true);
    assert.equal(first.via, "bundler");
    assert.equal(first.deployed, true);
    const second = await pay(parseEther("5"), false);
    assert.equal(second.deployed, false);
    assert.equal(await system.token.balanceOf(seller), parseEther("15"));
    assert.deepEqual(await native(), { balance: 0n, deposit: 0n });

    const charges = [first, second].map((r) => r.sponsored?.charged ?? 0n);
    assert.ok(charges.every((c) => c > 0n));
    const state = await paymasterState(chain.provider, system.paymasterAddress, {
      operator: operator.address,
    });
    const total = (charges[0] ?? 0n) + (charges[1] ?? 0n);
    assert.ok(state.operator?.budget !== undefined);
    assert.equal(state.operator.funds, parseEther("1") - total);
    assert.equal(state.operator.budget.spent, total);
    console.log(
      `      (sponsored: ${first.actualGasUsed} gas with initCode, ${second.actualGasUsed} without; the operator was charged ${charges.join(" and ")} wei)`,
    );
  });

  it("finds no ERC-7562 violation in the validation of the account (unstaked) and the paymaster (staked)", function () {
    assert.equal(
      reports.length,
      2,
      "the checker ran on the first (initCode) and the second operation",
    );
    assert.deepEqual(
      reports.map((r) => r.entities),
      [
        ["factory", "account", "paymaster"],
        ["account", "paymaster"],
      ],
    );
    for (const report of reports) {
      assert.equal(formatViolations(report), "none");
      assert.equal(report.context.staked.paymaster, true);
      assert.equal(report.context.staked.account, false);
      // The paymaster writes its own storage (budgets, balances): what its stake allows (STO-031).
      assert.ok(
        report.storage.some(
          (s) => s.entity === "paymaster" && s.write && s.contract === system.paymasterAddress,
        ),
      );
    }
  });
});
