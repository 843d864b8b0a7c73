import assert from "node:assert/strict";
import hre from "hardhat";
import type { InsuranceFixture } from "../client/insurance-fixture.js";
import { deployInsurance } from "../client/insurance-fixture.js";
import { runTask } from "./run-task.js";

/** Accounts of deployInsurance: 2 operator, 3 and 4 insurers, 5 integrator, 6 beneficiary. */
const OPERATOR = 2;
const INSURER = 3;
const INSURER2 = 4;
const INTEGRATOR = 5;

describe("tasks: pool, cover, security", function () {
  let f: InsuranceFixture;
  let chain: (from: number, json?: boolean) => Record<string, unknown>;

  before(async function () {
    f = await deployInsurance(await hre.network.getOrCreate());
    chain = (from, json = false) => ({
      registry: f.system.registry,
      pool: f.system.pool,
      from: String(from),
      json,
    });
  });

  it("pool deposit takes decimal units (or --wei base units); pool show prints them", async function () {
    const deposit = await runTask(["pool", "deposit"], { ...chain(INSURER2), amount: "10.5" });
    assert.equal(deposit.result.success, true, deposit.stderr);
    assert.match(deposit.stdout, /^assets: +10\.5 DTC$/m);
    assert.match(deposit.stdout, /^shares: +10\.\d+ dtINS$/m);
    assert.match(deposit.stderr, /approving and depositing 10\.5 DTC/);

    const raw = await runTask(["pool", "deposit"], {
      ...chain(INSURER2, true),
      amount: "1000000",
      wei: true,
    });
    assert.equal(raw.result.success, true, raw.stderr);
    assert.equal((JSON.parse(raw.stdout) as { assets: string }).assets, "1000000");

    const show = await runTask(["pool", "show"], chain(INSURER2));
    assert.equal(show.result.success, true, show.stderr);
    assert.match(show.stdout, /^totalAssets: +60\.500000000001 DTC$/m);
    assert.match(show.stdout, /^lockedCapital: +0 DTC$/m);
    assert.match(show.stdout, /^params\.cooldown: +777600$/m);
    assert.match(show.stdout, /^params\.waitingPeriod: +3600$/m);
    assert.match(show.stdout, /^params\.claimWindow: +691200$/m);
    assert.match(show.stdout, /^params\.withdrawalWindow: +172800$/m);
    assert.match(show.stdout, /^params\.recoveryVesting: +604800$/m);
    assert.match(show.stdout, /^params\.minPremiumBps: +10$/m);
    assert.match(show.stdout, /^unearned: +0 DTC$/m);
    assert.match(show.stdout, /^liabilities: +0 DTC$/m);
    assert.match(show.stdout, /^account\.request: +no withdrawal request$/m);
    assert.match(show.stdout, /^payoutBps\.Equivocation: +10000$/m);
    assert.match(show.stdout, /^account\.value: +10\.\d+ DTC$/m);

    const json = await runTask(["pool", "show"], chain(INSURER2, true));
    const view = JSON.parse(json.stdout) as { totalAssets: string; asset: { decimals: number } };
    assert.equal(view.totalAssets, (605n * 10n ** 17n + 1_000_000n).toString());
    assert.equal(view.asset.decimals, 18);
  });

  it("stake deallocate and allocate move the device's stake between the pool and unallocated", async function () {
    const args = {
      ...chain(OPERATOR),
      staking: f.system.staking,
      device: f.device.deviceId,
      amount: "1",
    };
    const out = await runTask(["stake", "deallocate"], args);
    assert.equal(out.result.success, true, out.stderr);
    assert.match(out.stdout, /^scopeKind: +device$/m);
    assert.match(out.stdout, /^allocation: +9 DTC$/m);
    assert.match(out.stdout, /^unallocated: +1 DTC$/m);
    assert.match(
      out.stderr,
      /deallocating 1 DTC of 0x[0-9a-f]{64}'s stake from pool 0x[0-9a-f]{40} for the device itself/,
    );
    const over = await runTask(["stake", "allocate"], { ...args, amount: "2" });
    assert.equal(over.result.success, false);
    assert.match(
      over.stderr,
      /^Error StakingStakeAllocated: .*deallocate first \(stake deallocate\)/m,
    );
    const back = await runTask(["stake", "allocate"], { ...args, json: true });
    assert.equal(back.result.success, true, back.stderr);
    const json = JSON.parse(back.stdout) as {
      allocation: string;
      unallocated: string;
      scope: string;
    };
    assert.deepEqual(
      [json.allocation, json.unallocated, json.scope],
      [(10n ** 19n).toString(), "0", f.device.deviceId],
    );
    const show = await runTask(["stake", "show"], {
      registry: f.system.registry,
      from: String(OPERATOR),
      json: false,
      staking: f.system.staking,
      deviceId: f.device.deviceId,
    });
    assert.equal(show.result.success, true, show.stderr);
    assert.match(show.stdout, /^allocated: +10 DTC$/m);
    assert.match(show.stdout, new RegExp(`^allocations\\[0\\]\\.backer: +${f.system.pool}$`, "m"));
    assert.match(show.stdout, /^allocations\[0\]\.scopeKind: +device$/m);
    const nobody = await runTask(["stake", "allocate"], { ...args, device: "" });
    assert.match(nobody.stderr, /^Error INVALID_INPUT: name the device: --device <device id>$/m);
  });

  it("stake approve-backer is governance's: it approves the pool, and refuses anyone else", async function () {
    const approved = await runTask(["stake", "approve-backer"], {
      ...chain(0, true),
      staking: f.system.staking,
    });
    assert.equal(approved.result.success, true, approved.stderr);
    const json = JSON.parse(approved.stdout) as {
      backer: string;
      approved: boolean;
      backers: string[];
    };
    assert.deepEqual(
      [json.backer, json.approved, json.backers],
      [f.system.pool, true, [f.system.pool]],
    );
    const refused = await runTask(["stake", "approve-backer"], {
      ...chain(OPERATOR),
      staking: f.system.staking,
    });
    assert.equal(refused.result.success, false);
    assert.match(refused.stderr, /^Error AccessControlUnauthorizedAccount: /m);
  });

  it("cover buy quotes and buys; cover show and security report describe the device", async function () {
    const beneficiary = f.beneficiary.address;
    const refused = await runTask(["cover", "buy"], {
      ...chain(INTEGRATOR, true),
      device: f.device.deviceId,
      amount: "2.5",
      beneficiary: f.operator.address,
    });
    assert.equal(refused.result.success, false);
    assert.match(
      refused.stderr,
      /^Error InsuranceOperatorBeneficiary: .*name another --beneficiary$/m,
    );
    const error = JSON.parse(refused.stdout) as { error: { code: string } };
    assert.equal(error.error.code, "InsuranceOperatorBeneficiary");

    const bought = await runTask(["cover", "buy"], {
      ...chain(INTEGRATOR),
      device: f.device.deviceId,
      amount: "2.5",
      term: "30d",
      beneficiary,
    });
    assert.equal(bought.result.success, true, bought.stderr);
    assert.match(bought.stdout, /^serial: +0$/m);
    assert.match(bought.stdout, /^amount: +2\.5 DTC$/m);
    assert.match(bought.stdout, /^premium: +0\.\d+ DTC$/m);
    assert.match(bought.stderr, /quoting 2\.5 DTC of coverage on device 0x[0-9a-f]{64} for 30d/);

    const show = await runTask(["cover", "show"], {
      ...chain(INTEGRATOR),
      device: f.device.deviceId,
    });
    assert.equal(show.result.success, true, show.stderr);
    assert.match(show.stdout, /^covered: +2\.5 DTC$/m);
    assert.match(show.stdout, /^capacity: +5 DTC$/m);
    assert.match(show.stdout, /^available: +2\.5 DTC$/m);
    assert.match(show.stdout, /^backing\[0\]\.allocation: +10 DTC$/m);
    assert.match(show.stdout, /^buyable: +yes$/m);
    // Sold just now: coverage starts after the pool's waiting period.
    assert.match(show.stdout, /^policies\[0\]\.status: +waiting$/m);
    assert.match(show.stdout, new RegExp(`^policies\\[0\\]\\.beneficiary: +${beneficiary}$`, "im"));

    const report = await runTask(["security", "report"], {
      ...chain(0),
      device: f.device.deviceId,
      valueAtRisk: "5",
    });
    assert.equal(report.result.success, true, report.stderr);
    assert.match(report.stdout, /^costOfCorruption: +10 DTC$/m);
    assert.match(report.stdout, /^coverageInForce: +2\.5 DTC$/m);
    assert.match(report.stdout, /^margin: +2\.5 DTC$/m);
    assert.match(report.stdout, /^operatorsToControl: +1$/m);
    assert.match(report.stdout, /^secure: +true$/m);
    assert.match(report.stdout, /^scope: +secure covers provable faults only /m);
    assert.match(report.stdout, /^verdict: +secure: corrupting this device costs 2\.5 DTC more/m);

    const unsafe = await runTask(["security", "report"], {
      ...chain(0, true),
      device: f.device.deviceId,
      valueAtRisk: "10",
    });
    const parsed = JSON.parse(unsafe.stdout) as { margin: string; secure: boolean };
    assert.deepEqual([parsed.margin, parsed.secure], ["-2500000000000000000", false]);
  });

  it("cover release refuses a policy before its term plus the claim window, saying when", async function () {
    const short = await runTask(["cover", "buy"], {
      ...chain(INTEGRATOR),
      device: f.device.deviceId,
      amount: "1",
      term: "1d",
      beneficiary: f.beneficiary.address,
    });
    assert.equal(short.result.success, true, short.stderr);
    assert.match(short.stdout, /^serial: +1$/m);
    const early = await runTask(["cover", "release"], {
      ...chain(INTEGRATOR),
      device: f.device.deviceId,
      serial: 1,
    });
    assert.equal(early.result.success, false);
    assert.match(
      early.stderr,
      /^Error InsurancePolicyActive: .*becomes releasable in 9d 1h 1s \(.*\): .*claims stay open 8d after it; run cover release again then$/m,
    );
  });

  it("cover claim pays the beneficiary for an equivocation the proofs contract recorded", async function () {
    const incident = await f.equivocate();
    const claim = await runTask(["cover", "claim"], {
      ...chain(INTEGRATOR),
      device: f.device.deviceId,
      serial: 0,
      incident,
    });
    assert.equal(claim.result.success, true, claim.stderr);
    assert.match(claim.stdout, /^payout: +2\.5 DTC$/m);
    assert.match(claim.stdout, /^remaining: +0 DTC$/m);
    const again = await runTask(["cover", "claim"], {
      ...chain(INTEGRATOR),
      device: f.device.deviceId,
      serial: 0,
      incident,
    });
    assert.equal(again.result.success, false);
    assert.match(again.stderr, /^Error InsurancePolicyExhausted: /m);
    // The proof's transaction booked the device's whole exposure (policies 0 and 1) as a liability;
    // the claim paid policy 0's part, policy 1 (1 DTC) may still claim the rest.
    const show = await runTask(["pool", "show"], chain(INSURER, true));
    assert.equal(
      (JSON.parse(show.stdout) as { liabilities: string }).liabilities,
      (10n ** 18n).toString(),
    );
  });

  it("pool request-withdrawal escrows shares; pool withdraw explains the cooldown", async function () {
    const request = await runTask(["pool", "request-withdrawal"], {
      ...chain(INSURER),
      shares: "all",
    });
    assert.equal(request.result.success, true, request.stderr);
    assert.match(request.stdout, /^unlocks: +in 9d \(/m);
    assert.match(request.stdout, /^expiresAt: +\d{4}-\d\d-\d\dT/m);
    assert.match(request.stdout, /^request: +cooling down: redeemable from .* until /m);
    assert.match(request.stdout, /^requestedShares: +\d+(\.\d+)? dtINS$/m);
    const early = await runTask(["pool", "withdraw"], chain(INSURER));
    assert.equal(early.result.success, false);
    assert.match(early.stderr, /^Error InsuranceCooldown: .*wait until then and withdraw again$/m);
    const none = await runTask(["pool", "withdraw"], chain(OPERATOR));
    assert.match(none.stderr, /^Error InsuranceNoWithdrawalRequest: /m);
  });

  it("refuses malformed amounts, terms and targets with a sentence", async function () {
    const cases: [string[], Record<string, unknown>, RegExp][] = [
      [["pool", "deposit"], { amount: "1,5" }, /--amount "1,5" is not an amount of DTC/],
      [["pool", "deposit"], { amount: "1.5", wei: true }, /base units \(--wei\): drop --wei/],
      [["pool", "deposit"], { amount: "1.5x" }, /add --wei to give base units/],
      [["cover", "buy"], { amount: "1", device: f.device.deviceId, term: "1y" }, /--term "1y"/],
      [["cover", "show"], {}, /name exactly one target/],
    ];
    for (const [id, args, message] of cases) {
      const out = await runTask(id, { ...chain(INSURER2), ...args });
      assert.equal(out.result.success, false, id.join(" "));
      assert.match(out.stderr, /^Error INVALID_INPUT: /m);
      assert.match(out.stderr, message);
    }
  });

  it("pool cancel-withdrawal returns the escrowed shares, and says when there is no request", async function () {
    const cancelled = await runTask(["pool", "cancel-withdrawal"], chain(INSURER));
    assert.equal(cancelled.result.success, true, cancelled.stderr);
    assert.match(cancelled.stdout, /^shares: +\d+(\.\d+)? dtINS$/m);
    assert.match(cancelled.stdout, /^value: +\d+(\.\d+)? DTC$/m);
    assert.match(cancelled.stderr, /cancelling the withdrawal request of 0x/);
    const none = await runTask(["pool", "cancel-withdrawal"], chain(INSURER, true));
    assert.equal(none.result.success, false);
    assert.match(
      none.stderr,
      /^Error InsuranceNoWithdrawalRequest: .*request one first \(pool request-withdrawal\)/m,
    );
    const error = JSON.parse(none.stdout) as { error: { code: string } };
    assert.equal(error.error.code, "InsuranceNoWithdrawalRequest");

    const request = await runTask(["pool", "request-withdrawal"], {
      ...chain(INSURER),
      shares: "1",
    });
    assert.equal(request.result.success, true, request.stderr);
    const json = await runTask(["pool", "cancel-withdrawal"], chain(INSURER, true));
    assert.equal(json.result.success, true, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { shares: string }).shares, (10n ** 24n).toString());
  });

  it("pool withdraw says when a request expired; pool show says so too", async function () {
    const { networkHelpers } = await hre.network.getOrCreate();
    const request = await runTask(["pool", "request-withdrawal"], {
      ...chain(INSURER2, true),
      shares: "1",
    });
    assert.equal(request.result.success, true, request.stderr);
    const { expiresAt } = JSON.parse(request.stdout) as { expiresAt: string };
    await networkHelpers.time.increaseTo(BigInt(expiresAt));
    const expired = await runTask(["pool", "withdraw"], chain(INSURER2));
    assert.equal(expired.result.success, false);
    assert.match(
      expired.stderr,
      /^Error InsuranceRequestExpired: .*its window to redeem passed; cancel it \(pool cancel-withdrawal\) and request again$/m,
    );
    const show = await runTask(["pool", "show"], chain(INSURER2));
    assert.match(
      show.stdout,
      /^account\.request: +expired at .*: the request can no longer be redeemed; cancel it/m,
    );
    const cancelled = await runTask(["pool", "cancel-withdrawal"], chain(INSURER2));
    assert.equal(cancelled.result.success, true, cancelled.stderr);
  });

  it("cover release unlocks what a policy left unpaid after its term plus the claim window", async function () {
    const { networkHelpers } = await hre.network.getOrCreate();
    await networkHelpers.time.increase(8n * 86_400n + 1n);
    const released = await runTask(["cover", "release"], {
      ...chain(INTEGRATOR),
      device: f.device.deviceId,
      serial: 1,
    });
    assert.equal(released.result.success, true, released.stderr);
    assert.match(released.stdout, /^unlocked: +1 DTC$/m);
    await networkHelpers.time.increase(30n * 86_400n);
    const exhausted = await runTask(["cover", "release"], {
      ...chain(INTEGRATOR, true),
      device: f.device.deviceId,
      serial: 0,
    });
    assert.equal(exhausted.result.success, true, exhausted.stderr);
    const out = JSON.parse(exhausted.stdout) as { unlocked: string; lockedCapital: string };
    assert.deepEqual([out.unlocked, out.lockedCapital], ["0", "0"]); // the claim paid it all
    const again = await runTask(["cover", "release"], {
      ...chain(INTEGRATOR),
      device: f.device.deviceId,
      serial: 0,
    });
    assert.match(again.stderr, /^Error InsurancePolicyReleased: /m);
  });
});
