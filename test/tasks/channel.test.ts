import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import hre from "hardhat";
import { parseEther } from "ethers";
import type { NetworkHelpers } from "@nomicfoundation/hardhat-network-helpers/types";
import { writeAccountFile } from "../../src/client/index.js";
import {
  channelBuyerAccount,
  deployAccountSystem,
  deployPaymentChannel,
  fund,
  registerAndAttest,
  type AccountSystem,
} from "../../src/client/account-local.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import type { Hex } from "../../src/protocol/index.js";
import { runTask } from "./run-task.js";

const PASSWORD = "correct horse";
/** Hardhat's account #8: the charger's operator, the seller. */
const SELLER_INDEX = 8;

describe("tasks: channel", function () {
  this.timeout(120_000);
  let helpers: NetworkHelpers;
  let system: AccountSystem;
  let channels: Hex;
  let dir: string;
  let keyFile: string;
  let account: Hex;
  let seller: Hex;
  let channel: Hex;

  before(async function () {
    const conn = await hre.network.getOrCreate();
    helpers = conn.networkHelpers;
    const signers = await conn.ethers.getSigners();
    seller = (signers[SELLER_INDEX]?.address ?? "") as Hex;
    system = await deployAccountSystem({
      deployer: signers[0] as never,
      maker: signers[6] as never,
      deviceOperator: signers[7] as never,
      send: (method, params) => conn.ethers.provider.send(method, params),
    });
    channels = await deployPaymentChannel(system.deployer, system.registryAddress);
    dir = await mkdtemp(join(tmpdir(), "devicetrust-channel-tasks-"));
    const vehicle = SoftwareKeyStore.generate("p256");
    const deviceId = await registerAndAttest(system, vehicle);
    keyFile = join(dir, "vehicle.json");
    await vehicle.save(keyFile, PASSWORD, { N: 1024, r: 8, p: 1 });
    await vehicle.close();
    const buyer = await channelBuyerAccount(system, {
      channels,
      deviceId,
      salt: "vehicle-tasks",
      tokenCap: parseEther("1000"),
      nativeCap: 0n,
    });
    account = buyer.account;
    await writeAccountFile(join(dir, "accounts"), buyer.accountFile);
    await fund(system, account, parseEther("100"), parseEther("1"));
  });

  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  const base = (from = 5) => ({
    registry: system.registryAddress,
    channels,
    from: String(from),
    json: true,
  });
  /** The voucher tasks' options: the chain's, and the folder of both sides' voucher records. */
  const withVouchers = (from = 5) => ({ ...base(from), vouchersDir: join(dir, "vouchers") });
  const buyer = () => ({
    ...base(5),
    accountsDir: join(dir, "accounts"),
    account,
    keyFile,
    password: PASSWORD,
  });
  const voucher = (amount: string, out: string) =>
    runTask(["channel", "voucher"], {
      ...base(),
      keyFile,
      password: PASSWORD,
      channel,
      amount,
      out,
    });
  const accept = (file: string) =>
    runTask(["channel", "voucher"], { ...withVouchers(SELLER_INDEX), accept: file });
  const open = (expiry: number) =>
    runTask(["channel", "open"], {
      ...buyer(),
      seller,
      asset: system.tokenAddress,
      deposit: "10",
      price: "0.4",
      expiry,
    });

  it("channel open opens from the device account (its first UserOperation) and prints the channel", async function () {
    const out = await open(3_600);
    assert.equal(out.result.success, true, out.stderr);
    const json = JSON.parse(out.stdout) as {
      channel: Hex;
      terms: Record<string, string>;
      deposit: string;
      expiry: string;
      deployed: boolean;
      via: string;
      txHash: string;
    };
    assert.match(json.channel, /^0x[0-9a-f]{64}$/);
    assert.deepEqual(
      [
        json.terms.buyer,
        json.terms.seller,
        json.terms.token,
        json.terms.pricePerUnit,
        json.terms.nonce,
      ],
      [account, seller, system.tokenAddress, parseEther("0.4").toString(), "0"],
    );
    assert.equal(json.deposit, parseEther("10").toString());
    assert.deepEqual([json.deployed, json.via], [true, "handleOps"]);
    assert.match(out.stderr, /PaymentChannel 0x/);
    channel = json.channel;
  });

  it("channel voucher signs for the running total and writes the file; --accept stores it at the seller; lower ones are refused on both sides", async function () {
    const first = join(dir, "v1.json");
    const signed = await voucher("1.2", first);
    assert.equal(signed.result.success, true, signed.stderr);
    const v = JSON.parse(signed.stdout) as Record<string, unknown>;
    assert.deepEqual(
      [v.kind, v.channel, v.cumulativeAmount, v.file],
      ["devicetrust-voucher", channel, parseEther("1.2").toString(), first],
    );
    assert.ok(String(v.record).endsWith(".sqlite"));
    const accepted = await accept(first);
    assert.equal(accepted.result.success, true, accepted.stderr);
    const a = JSON.parse(accepted.stdout) as Record<string, string>;
    assert.deepEqual(
      [a.cumulativeAmount, a.increment],
      [parseEther("1.2").toString(), a.cumulativeAmount],
    );

    const second = join(dir, "v2.json");
    assert.equal((await voucher("4", second)).result.success, true);
    assert.equal((await accept(second)).result.success, true);

    const lower = await voucher("3", join(dir, "v3.json"));
    assert.equal(lower.result.error?.code, "VOUCHER_REGRESSION");
    assert.match(lower.stderr, /Sign the running total, at least/);
    // A new task run opens the seller's store anew: it still holds 4 and refuses the replayed 1.2.
    const replay = await accept(first);
    assert.equal(replay.result.error?.code, "VOUCHER_NOT_NEWER");
    const over = join(dir, "v20.json");
    assert.equal((await voucher("20", over)).result.success, true);
    const refused = await accept(over);
    assert.equal(refused.result.error?.code, "VOUCHER_EXCEEDS_DEPOSIT");
    assert.match(refused.stderr, /stop delivering until the buyer tops up/);
  });

  it("channel show prints the open channel (JSON and human)", async function () {
    const out = await runTask(["channel", "show"], { ...base(), channel });
    assert.equal(out.result.success, true, out.stderr);
    const s = JSON.parse(out.stdout) as Record<string, unknown>;
    assert.deepEqual(
      [s.status, s.deposit, s.checkpointed, s.settlement],
      ["open", parseEther("10").toString(), "0", null],
    );
    const human = await runTask(["channel", "show"], { ...base(), json: false, channel });
    assert.match(human.stdout, /status: +open/);
  });

  it("channel close pays the seller exactly its latest voucher and returns the rest; a second close has nothing to present", async function () {
    const before = await system.token.balanceOf(account);
    const out = await runTask(["channel", "close"], { ...withVouchers(SELLER_INDEX), channel });
    assert.equal(out.result.success, true, out.stderr);
    const json = JSON.parse(out.stdout) as { voucher: string; settlement: Record<string, unknown> };
    assert.equal(json.voucher, parseEther("4").toString());
    assert.deepEqual(
      [
        json.settlement.kind,
        json.settlement.paidToSeller,
        json.settlement.refundedToBuyer,
        json.settlement.voucherCounted,
      ],
      ["closed", parseEther("4").toString(), parseEther("6").toString(), true],
    );
    assert.equal(await system.token.balanceOf(seller), parseEther("4"));
    assert.equal(await system.token.balanceOf(account), before + parseEther("6"));
    const again = await runTask(["channel", "close"], { ...withVouchers(SELLER_INDEX), channel });
    assert.equal(again.result.success, false);
    assert.match(again.stderr, /holds no voucher for channel .*channel voucher --accept/);
    const shown = JSON.parse(
      (await runTask(["channel", "show"], { ...base(), channel })).stdout,
    ) as { status: string };
    assert.equal(shown.status, "settled");
  });

  it("channel reclaim is refused (decoded) before expiry and returns the deposit after it", async function () {
    const opened = await open(600);
    assert.equal(opened.result.success, true, opened.stderr);
    const id = (JSON.parse(opened.stdout) as { channel: Hex }).channel;
    const early = await runTask(["channel", "reclaim"], { ...buyer(), channel: id });
    assert.equal(early.result.error?.code, "ChannelNotExpired");
    assert.match(early.stderr, /reclaim from then on/);
    const json = JSON.parse(early.stdout) as { error: { args: string[] } };
    assert.equal(json.error.args.length, 2);

    await helpers.time.increase(600);
    const late = await runTask(["channel", "close"], {
      ...withVouchers(SELLER_INDEX),
      channel: id,
    });
    assert.equal(late.result.success, false, "the seller accepted no voucher on it");
    const out = await runTask(["channel", "reclaim"], { ...buyer(), channel: id });
    assert.equal(out.result.success, true, out.stderr);
    const r = JSON.parse(out.stdout) as { settlement: Record<string, unknown> };
    assert.deepEqual(
      [r.settlement.kind, r.settlement.paidToSeller, r.settlement.refundedToBuyer],
      ["reclaimed", "0", parseEther("10").toString()],
    );
  });

  it("channel open without a seller says what to do", async function () {
    const out = await runTask(["channel", "open"], {
      ...buyer(),
      asset: system.tokenAddress,
      deposit: "1",
    });
    assert.equal(out.result.success, false);
    assert.match(out.stderr, /name the seller: --seller <address>/);
  });
});
