import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import hre from "hardhat";
import { Wallet, parseEther } from "ethers";
import type { NetworkHelpers } from "@nomicfoundation/hardhat-network-helpers/types";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import type { Hex } from "../../src/protocol/index.js";
import {
  attestAgain,
  deployAccountSystem,
  registerAndAttest,
  type AccountSystem,
} from "../../src/client/account-local.js";
import { runTask } from "./run-task.js";

/** Hardhat's account #5 (mnemonic "test test … junk"): the accounts' operator, as --from and as a key. */
const OPERATOR_KEY = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba";
const PASSWORD = "correct horse";

describe("tasks: account", function () {
  this.timeout(120_000);
  let helpers: NetworkHelpers;
  let system: AccountSystem;
  let dir: string;
  let stores: SoftwareKeyStore[];
  let ids: Hex[];
  let keyFiles: string[];
  let account: Hex;
  const operator = new Wallet(OPERATOR_KEY);
  const seller = Wallet.createRandom().address as Hex;
  const stranger = Wallet.createRandom().address as Hex;

  before(async function () {
    const conn = await hre.network.getOrCreate();
    helpers = conn.networkHelpers;
    const signers = await conn.ethers.getSigners();
    assert.equal(signers[5]?.address, operator.address);
    system = await deployAccountSystem({
      deployer: signers[0] as never,
      maker: signers[6] as never,
      deviceOperator: signers[7] as never,
      send: (method, params) => conn.ethers.provider.send(method, params),
    });
    dir = await mkdtemp(join(tmpdir(), "devicetrust-account-tasks-"));
    stores = [SoftwareKeyStore.generate("p256"), SoftwareKeyStore.generate("p256")];
    ids = [];
    keyFiles = [];
    for (const [i, store] of stores.entries()) {
      ids.push(await registerAndAttest(system, store));
      const file = join(dir, `device-${String(i)}.json`);
      await store.save(file, PASSWORD, { N: 1024, r: 8, p: 1 });
      keyFiles.push(file);
    }
  });

  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  const base = (from = 5, json = true) => ({
    registry: system.registryAddress,
    from: String(from),
    json,
    accountsDir: join(dir, "accounts"),
  });
  const device = (i: number) => ({ keyFile: keyFiles[i] ?? "", password: PASSWORD });

  it("account create prints the counterfactual address, writes the account file and funds it", async function () {
    const out = await runTask(["account", "create"], {
      ...base(),
      factory: system.factoryAddress,
      devices: ids.join(","),
      asset: system.tokenAddress,
      periodCap: "1000",
      perCallCap: "400",
      counterparties: seller,
      salt: "charger-1",
      fund: "1",
    });
    assert.equal(out.result.success, true, out.stderr);
    const json = JSON.parse(out.stdout) as {
      account: Hex;
      deployment: string;
      accountFile: string;
      signers: number;
      highThreshold: string;
    };
    assert.equal(json.deployment, "first-user-operation");
    assert.match(out.stderr, /deploys with its first UserOperation/);
    assert.equal(json.signers, 3);
    assert.equal(json.highThreshold, "2");
    assert.ok(existsSync(json.accountFile));
    assert.equal(await system.provider.getCode(json.account), "0x");
    assert.equal(await system.provider.getBalance(json.account), parseEther("1"));
    account = json.account;
    await (await system.token.mint(account, parseEther("5000"))).wait();
  });

  it("account pay deploys the account with its first UserOperation (handleOps from --from) and pays", async function () {
    const out = await runTask(["account", "pay"], {
      ...base(),
      ...device(0),
      account,
      asset: system.tokenAddress,
      to: seller,
      amount: "12.5",
    });
    assert.equal(out.result.success, true, out.stderr);
    const json = JSON.parse(out.stdout) as {
      via: string;
      deployed: boolean;
      spends: { amount: string }[];
    };
    assert.equal(json.via, "handleOps");
    assert.equal(json.deployed, true);
    assert.equal(json.spends[0]?.amount, parseEther("12.5").toString());
    assert.equal(await system.token.balanceOf(seller), parseEther("12.5"));
    assert.notEqual(await system.provider.getCode(account), "0x");
  });

  it("account pay to a stranger fails with the account's decoded error", async function () {
    const out = await runTask(["account", "pay"], {
      ...base(),
      ...device(1),
      account,
      asset: system.tokenAddress,
      to: stranger,
      amount: "1",
    });
    assert.equal(out.result.success, false);
    assert.equal(out.result.error?.code, "AccountCounterpartyNotAllowed");
    assert.match(
      out.stderr,
      /is not an allowed counterparty for token .*account policy --counterparty/,
    );
    const json = JSON.parse(out.stdout) as { error: { args: string[] } };
    assert.deepEqual(json.error.args, [system.tokenAddress, stranger]);
  });

  it("account show prints signers, thresholds, policy, spending and trust", async function () {
    const out = await runTask(["account", "show"], { ...base(), account });
    assert.equal(out.result.success, true, out.stderr);
    const s = JSON.parse(out.stdout) as {
      signers: { kind: string; trusted?: boolean; verdict?: string }[];
      lowThreshold: string;
      highThreshold: string;
      trustedWeight: string;
      frozen: boolean;
      locked: boolean;
      policy: {
        tokens: { token: string; spentThisPeriod: string }[];
        counterparties: { counterparty: string; spentThisPeriod: string }[];
      };
      pendingChanges: unknown[];
      config: { operator: string };
    };
    assert.deepEqual(
      s.signers.map((x) => [x.kind, x.trusted ?? null, x.verdict ?? null]),
      [
        ["device", true, "Trusted"],
        ["device", true, "Trusted"],
        ["address", null, null],
      ],
    );
    assert.deepEqual([s.lowThreshold, s.highThreshold, s.trustedWeight], ["1", "2", "2"]);
    assert.deepEqual([s.frozen, s.locked], [false, false]);
    assert.equal(s.config.operator, operator.address);
    assert.equal(s.policy.tokens[0]?.spentThisPeriod, parseEther("12.5").toString());
    assert.equal(s.policy.counterparties[0]?.counterparty, seller);
    assert.deepEqual(s.pendingChanges, []);
    const human = await runTask(["account", "show"], { ...base(5, false), account });
    assert.match(human.stdout, /why: +devices can pay/);
  });

  it("account policy proposes a counterparty (operator key), refuses --apply before the delay, applies after it", async function () {
    const proposed = await runTask(["account", "policy"], {
      ...base(),
      account,
      operatorKey: OPERATOR_KEY,
      asset: system.tokenAddress,
      counterparty: stranger,
      periodCap: "50",
      perCallCap: "5",
    });
    assert.equal(proposed.result.success, true, proposed.stderr);
    const p = JSON.parse(proposed.stdout) as { changeId: Hex; eta: string; spends: unknown[] };
    assert.deepEqual(p.spends, [], "a proposal spends nothing");
    const shown = JSON.parse(
      (await runTask(["account", "show"], { ...base(), account })).stdout,
    ) as { pendingChanges: { id: string; setter: string; due: boolean }[] };
    assert.deepEqual(
      shown.pendingChanges.map((c) => [c.id, c.setter, c.due]),
      [[p.changeId, "setCounterpartyLimits", false]],
    );
    const early = await runTask(["account", "policy"], { ...base(), account, apply: true });
    assert.equal(early.result.error?.code, "NO_DUE_CHANGE");
    await helpers.time.increase(86_400);
    const applied = await runTask(["account", "policy"], { ...base(), account, apply: true });
    assert.equal(applied.result.success, true, applied.stderr);
    assert.equal((JSON.parse(applied.stdout) as { applied: unknown[] }).applied.length, 1);
  });

  it("account pay is refused (typed error) while the device's attestation is stale, and show says why the account is frozen", async function () {
    // A day went by: the devices' evidence is older than the account's maxAttestationAge.
    const out = await runTask(["account", "pay"], {
      ...base(),
      ...device(0),
      account,
      asset: system.tokenAddress,
      to: stranger,
      amount: "1",
    });
    assert.equal(out.result.success, false);
    assert.equal(out.result.error?.code, "USER_OPERATION_REFUSED_UNTRUSTED");
    assert.match(out.stderr, /refused by account .*Untrusted, trusted weight 0 \(distrusted: /);
    const s = JSON.parse((await runTask(["account", "show"], { ...base(), account })).stdout) as {
      frozen: boolean;
      why: string;
      signers: { verdict?: string; distrustedUntil?: string }[];
    };
    assert.equal(s.frozen, true);
    assert.match(s.why, /^frozen: .*Stale/);
    assert.notEqual(s.signers[0]?.distrustedUntil, "0");
  });

  it("account pay reaches the newly allowed counterparty once device 1 attested again", async function () {
    await attestAgain(system, stores[1] as SoftwareKeyStore, ids[1] as Hex, 1n);
    const out = await runTask(["account", "pay"], {
      ...base(),
      ...device(1),
      account,
      asset: system.tokenAddress,
      to: stranger,
      amount: "5",
    });
    assert.equal(out.result.success, true, out.stderr);
    assert.equal(await system.token.balanceOf(stranger), parseEther("5"));
  });

  it("account create --deploy deploys through the factory; policy --unlock runs from the operator", async function () {
    const out = await runTask(["account", "create"], {
      ...base(),
      factory: system.factoryAddress,
      devices: ids[0],
      salt: "charger-2",
      deploy: true,
    });
    assert.equal(out.result.success, true, out.stderr);
    const json = JSON.parse(out.stdout) as { account: Hex; deployment: string };
    assert.equal(json.deployment, "factory");
    assert.match(out.stderr, /deployed directly through the factory/);
    assert.notEqual(await system.provider.getCode(json.account), "0x");
    const unlocked = await runTask(["account", "policy"], {
      ...base(5),
      account: json.account,
      unlock: true,
    });
    assert.equal(unlocked.result.success, true, unlocked.stderr);
    const stranger_ = await runTask(["account", "policy"], {
      ...base(0),
      account: json.account,
      unlock: true,
    });
    assert.equal(stranger_.result.error?.code, "AccountOnlyOperator");
  });
});
