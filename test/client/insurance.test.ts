import assert from "node:assert/strict";
import { ZeroAddress, zeroPadValue } from "ethers";
import { benchInsurance, passWaitingPeriod } from "../../src/bench/insurance.js";
import {
  EXPLAINED_ERRORS,
  changeStatus,
  collateralTokenAt,
  equivocationProof,
  poolAt,
  proofsAt,
  registryAt,
  requestInWords,
  requestWithdrawal,
  setBacker,
  stakeDeallocate,
  stakeShow,
  stakeAllocate,
  stakeAllocations,
  stakingAt,
  stakingToken,
  submitProof,
  coverBuy,
  coverClaim,
  coverQuote,
  coverRelease,
  coverShow,
  formatAmount,
  humanAmounts,
  parseAmount,
  parseDuration,
  parseTarget,
  policyMembers,
  poolCancelWithdrawal,
  poolDeposit,
  poolRequestWithdrawal,
  poolShow,
  poolWithdraw,
  securityReport,
  send,
  type AssetInfo,
} from "../../src/client/index.js";
import { InvalidInputError } from "../../src/protocol/index.js";
import {
  IInsurancePool__factory,
  InsurancePool__factory,
  MockERC20__factory,
} from "../../types/ethers-contracts/index.js";
import { DEFAULT_PAYOUT_BPS, DEFAULT_POOL_PARAMS } from "../../deploy/modules/InsurancePool.js";
import { DeviceSigner, SoftwareKeyStore } from "../../src/device/index.js";
import { chainTime, deployFeedSystem, type FeedDevice } from "./feed-fixture.js";
import { ethers, networkHelpers, rejectsWith } from "./fixture.js";
import { equivocate, equivocateProof } from "../../src/bench/insurance.js";
import {
  CAPITAL,
  COOLDOWN,
  STAKE,
  insuranceFixture,
  type InsuranceFixture,
} from "./insurance-fixture.js";

const DAY = 86_400n;
const ASSET: AssetInfo = { address: `0x${"11".repeat(20)}`, symbol: "DTC", decimals: 18 };
const SHARES: AssetInfo = { address: `0x${"22".repeat(20)}`, symbol: "dtINS", decimals: 24 };
/** Half the device's capacity (STAKE x coverFactorBps 50%). */
const COVER = STAKE / 4n;

/** The integrator buys `amount` of coverage on the fixture's device (30 days, paid to the beneficiary). */
async function buy(
  f: InsuranceFixture,
  amount = COVER,
  term = 30n * DAY,
  beneficiary: string = f.beneficiary.address,
) {
  return coverBuy({
    pool: f.poolAs(f.integrator),
    token: f.tokenAs(f.integrator),
    target: f.target,
    amount,
    term,
    beneficiary,
  });
}

describe("client", function () {
  describe("insurance pool", function () {
    describe("deploy/modules/InsurancePool", function () {
      it("deploys the pool over the system's token, registry, staking, proofs and feed factory", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const pool = InsurancePool__factory.connect(f.system.pool, f.governance);
        const staking = stakingAt(f.system.staking, f.governance);
        assert.equal((await pool.asset()).toLowerCase(), await stakingToken(staking));
        assert.equal((await pool.REGISTRY()).toLowerCase(), f.system.registry);
        assert.equal((await pool.STAKING()).toLowerCase(), f.system.staking);
        assert.equal((await pool.PROOFS()).toLowerCase(), f.system.proofs);
        assert.ok((await pool.FEED_FACTORY().then((a) => ethers.provider.getCode(a))) !== "0x");
        assert.equal(
          await pool.hasRole(await pool.DEFAULT_ADMIN_ROLE(), f.governance.address),
          true,
        );
        // The module's parameter overrides its default; the others keep DEFAULT_POOL_PARAMS.
        const params = await pool.params();
        assert.equal(params.cooldown, COOLDOWN);
        assert.equal(params.coverFactorBps, DEFAULT_POOL_PARAMS.coverFactorBps);
        assert.equal(await pool.payoutBps(3), DEFAULT_PAYOUT_BPS[3]);
      });
    });

    describe("poolDeposit", function () {
      it("approves the pool, deposits and mints shares worth the deposit", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const r = await poolDeposit({
          pool: f.poolAs(f.insurer2),
          token: f.tokenAs(f.insurer2),
          assets: 10n ** 19n,
        });
        assert.notEqual(r.approveTxHash, null);
        assert.equal(r.receiver, f.insurer2.address.toLowerCase());
        assert.equal(r.assets, 10n ** 19n);
        // Six decimals of offset: a share is a millionth of an asset unit at a price of 1.
        assert.ok(r.shares > 10n ** 25n - 10n ** 7n && r.shares <= 10n ** 25n, String(r.shares));
        assert.ok(r.value <= r.assets && r.assets - r.value <= 1n, String(r.value));
        assert.ok(r.gasUsed > 21_000n);
      });

      it("rejects a deposit of nothing before sending", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        await assert.rejects(
          poolDeposit({ pool: f.poolAs(f.insurer2), token: f.tokenAs(f.insurer2), assets: 0n }),
          InvalidInputError,
        );
      });
    });

    describe("poolRequestWithdrawal and poolWithdraw", function () {
      it("escrows shares, refuses before the cooldown, redeems after it", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const pool = f.poolAs(f.insurer);
        await rejectsWith(poolWithdraw(pool), "InsuranceNoWithdrawalRequest");
        const held = await pool.balanceOf(f.insurer.address);
        const request = await poolRequestWithdrawal(pool, "all");
        assert.equal(request.shares, held);
        assert.equal(request.requestedShares, held);
        assert.equal(request.value, CAPITAL / 2n);
        assert.match(request.unlocks, /^in 9d \(/);
        assert.equal(request.expiresAt, request.unlockAt + DEFAULT_POOL_PARAMS.withdrawalWindow);
        assert.match(request.request, /^cooling down: redeemable from .* until /);
        assert.equal(await pool.balanceOf(f.insurer.address), 0n);
        const early = await rejectsWith(poolWithdraw(pool), "InsuranceCooldown");
        assert.match(early.message, /wait until then and withdraw again$/);

        await networkHelpers.time.increase(COOLDOWN);
        const before = await f.tokenAs(f.insurer).balanceOf(f.insurer.address);
        const out = await poolWithdraw(pool);
        assert.equal(out.shares, held);
        assert.equal(out.assets, CAPITAL / 2n);
        assert.equal(out.remainingShares, 0n);
        assert.equal(
          (await f.tokenAs(f.insurer).balanceOf(f.insurer.address)) - before,
          CAPITAL / 2n,
        );
      });

      it("says when a matured request expired, and refuses it before sending", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const pool = f.poolAs(f.insurer);
        const request = await poolRequestWithdrawal(pool, "all");
        await networkHelpers.time.increaseTo(request.unlockAt);
        const open = await poolShow(pool, f.insurer.address);
        assert.match(open.account?.request ?? "", /^redeemable now, until /);
        await networkHelpers.time.increaseTo(request.expiresAt);
        const err = await rejectsWith(poolWithdraw(pool), "InsuranceRequestExpired");
        assert.deepEqual(err.args, [f.insurer.address.toLowerCase(), request.expiresAt]);
        assert.match(err.message, /cancel it \(pool cancel-withdrawal\) and request again$/);
        const view = await poolShow(pool, f.insurer.address);
        assert.ok(view.account !== null);
        assert.equal(view.account.expiresAt, request.expiresAt);
        assert.match(
          view.account.request,
          /^expired at .*: the request can no longer be redeemed; cancel it \(pool cancel-withdrawal\) and request again$/,
        );
        // The way out of an expired request: cancel it, and the shares are the insurer's again.
        const cancelled = await poolCancelWithdrawal(pool);
        assert.equal(cancelled.shares, request.shares);
        assert.equal(
          requestInWords({ shares: 0n, unlockAt: 0n, expiresAt: 0n }, 0n),
          "no withdrawal request",
        );
      });

      it("lets only capital no coverage locks leave, and says so", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const bought = await buy(f);
        const pool = f.poolAs(f.insurer);
        const held = await pool.balanceOf(f.insurer.address);
        await poolRequestWithdrawal(pool, held);
        await networkHelpers.time.increase(COOLDOWN);
        await rejectsWith(poolWithdraw(pool, { shares: held + 1n }), "InsuranceExceedsRequest");
        const locked = await rejectsWith(
          poolWithdraw(pool, { shares: held }),
          "InsuranceCapitalLocked",
        );
        assert.match(locked.message, /the rest backs coverage in force/);
        const free = await pool.freeCapital();
        const out = await poolWithdraw(pool);
        // Everything but the locked coverage leaves: the deposit plus the premium earned so far (it
        // streams over the term), minus the coverage.
        assert.ok(out.assets >= free, `${String(out.assets)} < ${String(free)}`);
        assert.ok(out.assets < CAPITAL / 2n + bought.premium - COVER, String(out.assets));
        assert.ok(out.remainingShares > 0n);
        assert.ok((await pool.freeCapital()) <= bought.premium);
      });
    });

    describe("poolShow", function () {
      it("shows capital, utilization, parameters, payouts and the insurer's position", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const bought = await buy(f);
        const view = await poolShow(f.poolAs(f.insurer), f.insurer.address);
        assert.equal(view.asset.symbol, "DTC");
        assert.equal(view.asset.decimals, 18);
        assert.deepEqual([view.shareToken.symbol, view.shareToken.decimals], ["dtINS", 24]);
        assert.equal(view.lockedCapital, COVER);
        assert.equal(view.freeCapital, view.totalAssets - COVER);
        assert.equal(view.utilizationBps, Number((COVER * 10_000n) / view.totalAssets));
        // Premiums stream into the assets over the term: none is earned yet.
        assert.equal(view.totalAssets, CAPITAL / 2n);
        assert.equal(view.unearned, bought.premium);
        assert.equal(view.liabilities, 0n);
        assert.equal(view.params.cooldown, COOLDOWN);
        assert.deepEqual(
          [
            view.params.minPremiumBps,
            view.params.withdrawalWindow,
            view.params.waitingPeriod,
            view.params.claimWindow,
            view.params.recoveryVesting,
          ],
          [10, 2n * DAY, 3600n, 8n * DAY, 7n * DAY],
        );
        assert.deepEqual(view.payoutBps, {
          Equivocation: 10_000,
          BatchEquivocation: 10_000,
          OutOfBounds: 5_000,
          RevokedFirmware: 5_000,
        });
        assert.ok(view.account !== null);
        assert.equal(view.account.shares, await f.poolAs(f.insurer).balanceOf(f.insurer.address));
        assert.equal(view.account.unlocks, "no withdrawal pending");
        assert.equal(view.account.request, "no withdrawal request");
        // The premium streams until the first midnight at or after the term's end (StreamLib): 30 days
        // and the waiting period, plus up to a day. (31 days failed when the test ran late in a UTC day.)
        await networkHelpers.time.increase(32n * DAY);
        const later = await poolShow(f.poolAs(f.insurer));
        assert.ok(later.assetsPerShare > 10n ** 18n, "earned premiums raise the share price");
        assert.equal(later.unearned, 0n);
        assert.equal(view.account.redeemableShares, 0n);
      });
    });

    describe("coverBuy", function () {
      it("quotes, approves the premium with slippage and buys the first policy", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const quoted = await coverQuote(f.poolAs(f.integrator), f.target, COVER, 30n * DAY);
        const r = await buy(f);
        assert.equal(r.serial, 0);
        assert.equal(r.kind, "device");
        assert.equal(r.target, f.device.deviceId);
        assert.equal(r.beneficiary, f.beneficiary.address.toLowerCase());
        assert.equal(r.amount, COVER);
        assert.equal(r.maxPremium, r.quoted + (r.quoted + 99n) / 100n);
        assert.ok(r.quoted >= quoted && r.premium >= r.quoted && r.premium <= r.maxPremium);
        assert.equal(r.end - r.start, 30n * DAY);
        assert.notEqual(r.approveTxHash, null);
        const second = await buy(f, COVER / 2n);
        assert.equal(second.serial, 1);
      });

      it("refuses the device's operator as beneficiary and coverage beyond the stake's capacity", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const own = await rejectsWith(
          buy(f, COVER, 30n * DAY, f.operator.address),
          "InsuranceOperatorBeneficiary",
        );
        assert.match(own.message, /name another --beneficiary$/);
        const over = await rejectsWith(buy(f, STAKE / 2n + 1n), "InsuranceCapacityExceeded");
        assert.deepEqual(over.args.slice(1), [f.device.deviceId, STAKE / 2n + 1n, STAKE / 2n]);
        // The hint comes from the allocation: allocation x cover factor - exposure.
        assert.match(
          over.message,
          /; at most 5 DTC more can be bought \(its allocation to the pool/,
        );
        await buy(f, COVER);
        const rest = await rejectsWith(buy(f, COVER + 1n), "InsuranceCapacityExceeded");
        assert.match(rest.message, /; at most 2\.5 DTC more can be bought/);
        await rejectsWith(buy(f, COVER, 400n * DAY), "InsuranceInvalidTerm");
        await rejectsWith(buy(f, COVER, 30n * DAY, ZeroAddress), "InsuranceZeroAddress");
      });

      it("explains a premium above the buyer's maximum", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        await (await f.tokenAs(f.integrator).approve(f.system.pool, COVER)).wait();
        const err = await rejectsWith(
          send(() =>
            f
              .poolAs(f.integrator)
              .buyCoverage(0, f.target.target, COVER, 30n * DAY, f.beneficiary.address, 0n),
          ),
          "InsurancePremiumTooHigh",
        );
        assert.match(err.message, /allow more --slippage$/);
      });
    });

    describe("coverShow", function () {
      it("shows coverage in force, capacity and each policy's status", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        await buy(f, COVER, DAY);
        await buy(f, COVER / 2n, 30n * DAY);
        const view = await coverShow(f.poolAs(f.integrator), f.target);
        assert.equal(view.covered, COVER + COVER / 2n);
        assert.equal(view.capacity, STAKE / 2n);
        assert.equal(view.available, STAKE / 2n - COVER - COVER / 2n);
        assert.deepEqual(view.backing, [
          {
            deviceId: f.device.deviceId,
            allocation: STAKE,
            capacity: STAKE / 2n,
            exposure: COVER + COVER / 2n,
            available: STAKE / 2n - COVER - COVER / 2n,
          },
        ]);
        assert.equal(view.policyCount, 2);
        assert.equal(view.incidentAt, null);
        assert.equal(view.buyable, "yes");
        // Coverage starts after the pool's waiting period.
        assert.deepEqual(
          view.policies.map((p) => [p.serial, p.status]),
          [
            [0, "waiting"],
            [1, "waiting"],
          ],
        );
        await passWaitingPeriod(f.system);
        const started = await coverShow(f.poolAs(f.integrator), f.target, 1);
        assert.deepEqual(
          started.policies.map((p) => [p.serial, p.status]),
          [[1, "active"]],
        );
        await networkHelpers.time.increase(2n * DAY);
        const later = await coverShow(f.poolAs(f.integrator), f.target, 0);
        assert.deepEqual(
          later.policies.map((p) => [p.serial, p.status]),
          [[0, "expired"]],
        );
        await rejectsWith(coverShow(f.poolAs(f.integrator), f.target, 2), "InsuranceUnknownPolicy");
      });
    });

    describe("coverClaim", function () {
      it("pays the beneficiary for an equivocation and stops selling coverage on the device", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const bought = await buy(f);
        const incident = await f.equivocate();
        const token = f.tokenAs(f.beneficiary);
        const before = await token.balanceOf(f.beneficiary.address);
        const r = await coverClaim(f.poolAs(f.watcher), f.target, bought.serial, incident);
        assert.equal(r.incident, incident);
        assert.equal(r.deviceId, f.device.deviceId);
        assert.deepEqual(r.members, []);
        assert.equal(r.beneficiary, f.beneficiary.address.toLowerCase());
        assert.equal(r.payout, COVER); // equivocation pays 100% of the amount
        assert.deepEqual([r.share, r.memberPaid, r.paid, r.remaining], [COVER, COVER, COVER, 0n]);
        assert.equal((await token.balanceOf(f.beneficiary.address)) - before, COVER);

        const again = await rejectsWith(
          coverClaim(f.poolAs(f.watcher), f.target, bought.serial, incident),
          "InsurancePolicyExhausted",
        );
        assert.match(again.message, /owes nothing more for this incident/);
        const view = await coverShow(f.poolAs(f.watcher), f.target);
        assert.notEqual(view.incidentAt, null);
        // The proof's transaction told the pool: it sells nothing more on the device (reason 3).
        assert.match(view.buyable, /^no: InsuranceTargetNotInsurable\(0x[0-9a-f]{64}, 3\): /);
        assert.equal(view.policies[0]?.status, "exhausted");
        await changeStatus(
          registryAt(f.system.registry, f.governance),
          f.device.deviceId,
          "reinstate",
        );
        const known = await rejectsWith(buy(f), "InsuranceTargetNotInsurable");
        assert.equal(known.args[1], 3n);
        assert.match(known.message, /the pool knows an incident on it/);
      });

      it("refuses an incident from before the coverage started (the waiting period)", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const bought = await buy(f);
        // Straight after the sale: the evidence is dated inside the waiting period.
        const incident = await equivocate(f.system, f.device, f.watcher);
        const err = await rejectsWith(
          coverClaim(f.poolAs(f.watcher), f.target, bought.serial, incident),
          "InsuranceIncidentOutsideTerm",
        );
        assert.equal(err.args[1], bought.start);
        assert.match(err.message, /it starts a waiting period after the sale/);
      });

      it("rejects an incident the proofs contract never recorded", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const bought = await buy(f);
        const err = await rejectsWith(
          coverClaim(f.poolAs(f.watcher), f.target, bought.serial, `0x${"ab".repeat(32)}`),
          "InsuranceUnknownIncident",
        );
        assert.match(err.message, /proof submit prints it/);
      });
    });

    describe("poolCancelWithdrawal", function () {
      it("returns the escrowed shares, and says so when there is no request", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const pool = f.poolAs(f.insurer);
        const none = await rejectsWith(poolCancelWithdrawal(pool), "InsuranceNoWithdrawalRequest");
        assert.match(none.message, /request one first \(pool request-withdrawal\)/);
        const held = await pool.balanceOf(f.insurer.address);
        await poolRequestWithdrawal(pool, held / 3n);
        await poolRequestWithdrawal(pool, held / 3n);
        const r = await poolCancelWithdrawal(pool);
        assert.equal(r.owner, f.insurer.address.toLowerCase());
        assert.equal(r.shares, 2n * (held / 3n));
        assert.equal(r.heldShares, held);
        assert.equal(r.value, await pool.convertToAssets(r.shares));
        assert.equal(await pool.balanceOf(f.insurer.address), held);
        assert.equal((await pool.withdrawalRequest(f.insurer.address)).shares, 0n);
        await rejectsWith(poolCancelWithdrawal(pool), "InsuranceNoWithdrawalRequest");
      });
    });

    describe("coverRelease", function () {
      it("unlocks the unpaid coverage only after the term plus the claim window", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const bought = await buy(f, COVER, DAY);
        const pool = f.poolAs(f.watcher);
        const window = (await pool.params()).claimWindow;
        assert.equal(window, 8n * DAY);
        const releasableAfter = bought.end + window;
        const early = await rejectsWith(
          coverRelease(pool, f.target, bought.serial),
          "InsurancePolicyActive",
        );
        assert.deepEqual(early.args, [f.target.target, 0n, releasableAfter]);
        assert.match(
          early.message,
          /becomes releasable in 9d 1h 1s \(.*\): its term ends .* and claims stay open 8d after it; run cover release again then$/,
        );
        await networkHelpers.time.increaseTo(releasableAfter - 1n);
        await rejectsWith(coverRelease(pool, f.target, bought.serial), "InsurancePolicyActive");
        await networkHelpers.time.increaseTo(releasableAfter);
        const r = await coverRelease(pool, f.target, bought.serial);
        assert.deepEqual([r.kind, r.target, r.serial], ["device", f.device.deviceId, 0]);
        assert.equal(r.unlocked, COVER);
        assert.equal(r.covered, 0n);
        assert.equal(r.lockedCapital, 0n);
        assert.equal(await pool.freeCapital(), await pool.totalAssets());
        assert.equal((await coverShow(pool, f.target)).policies[0]?.status, "released");
        const again = await rejectsWith(
          coverRelease(pool, f.target, bought.serial),
          "InsurancePolicyReleased",
        );
        assert.match(again.message, /it no longer pays$/);
        await rejectsWith(coverRelease(pool, f.target, 1), "InsuranceUnknownPolicy");
        await assert.rejects(coverRelease(pool, f.target, -1), InvalidInputError);
      });

      it("unlocks only what a claim left unpaid", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const bought = await buy(f, COVER, DAY);
        const incident = await f.equivocate();
        const pool = f.poolAs(f.watcher);
        await coverClaim(pool, f.target, bought.serial, incident);
        await networkHelpers.time.increaseTo(bought.end + (await pool.params()).claimWindow);
        const r = await coverRelease(pool, f.target, bought.serial);
        assert.equal(r.unlocked, 0n); // equivocation paid the whole coverage
        assert.equal(r.lockedCapital, 0n);
      });
    });

    describe("stakeAllocate, stakeDeallocate and stakeShow", function () {
      it("allocates active stake to the pool, shows it, and keeps what live coverage requires", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const staking = stakingAt(f.system.staking, f.operator);
        const options = { staking, deviceId: f.device.deviceId, backer: f.system.pool };
        // The fixture allocated the whole stake to the pool for the device itself.
        const shown = await stakeShow(staking, f.device.deviceId);
        assert.deepEqual(
          [shown.active, shown.pending, shown.allocated, shown.unallocated],
          [STAKE, 0n, STAKE, 0n],
        );
        assert.deepEqual(shown.allocations, [
          {
            backer: f.system.pool,
            scopeKind: "device",
            scope: f.device.deviceId,
            amount: STAKE,
            required: 0n,
          },
        ]);
        const over = await rejectsWith(
          stakeAllocate({ ...options, amount: 1n }),
          "StakingStakeAllocated",
        );
        assert.deepEqual(over.args.slice(1), [0n, 1n]);
        assert.match(over.message, /deallocate first \(stake deallocate\)/);
        const locked = await rejectsWith(
          requestWithdrawal(staking, f.device.deviceId, 1n),
          "StakingStakeAllocated",
        );
        assert.equal(locked.args[1], 0n);

        // Coverage of a quarter of the stake needs half of the allocation (cover factor 50%).
        await buy(f);
        const inUse = await rejectsWith(
          stakeDeallocate({ ...options, amount: STAKE / 2n + 1n }),
          "StakingAllocationInUse",
        );
        assert.deepEqual(inUse.args.slice(3), [STAKE / 2n - 1n, STAKE / 2n]);
        assert.match(
          inUse.message,
          /wait until the coverage is paid or released \(cover release\)$/,
        );
        const r = await stakeDeallocate({ ...options, amount: STAKE / 2n });
        assert.deepEqual(
          [r.scopeKind, r.scope, r.amount, r.allocation, r.unallocated, r.required],
          ["device", f.device.deviceId, STAKE / 2n, STAKE / 2n, STAKE / 2n, STAKE / 2n],
        );
        const back = await stakeAllocate({ ...options, amount: STAKE / 4n });
        assert.deepEqual([back.allocation, back.unallocated], [(3n * STAKE) / 4n, STAKE / 4n]);
        const again = await stakeShow(staking, f.device.deviceId);
        assert.deepEqual(
          again.allocations.map((a) => [a.amount, a.required]),
          [[(3n * STAKE) / 4n, STAKE / 2n]],
        );
        await assert.rejects(stakeAllocate({ ...options, amount: 0n }), InvalidInputError);
        const notBacker = await rejectsWith(
          stakeAllocate({ ...options, backer: f.system.staking, amount: 1n }),
          "StakingNotBacker",
        );
        assert.match(notBacker.message, /stake approve-backer/);
      });

      it("lets only governance approve a backer, and only one over the collateral", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        await rejectsWith(
          setBacker(stakingAt(f.system.staking, f.operator), f.system.pool),
          "AccessControlUnauthorizedAccount",
        );
        const governance = stakingAt(f.system.staking, f.governance);
        const off = await setBacker(governance, f.system.pool, false);
        assert.deepEqual([off.approved, off.backers], [false, [f.system.pool]]);
        const on = await setBacker(governance, f.system.pool);
        assert.equal(on.approved, true);
        const other = await ethers.deployContract("MockERC20", ["Other", "OTH"]);
        const vault = await ethers.deployContract("InsurancePool", [
          await other.getAddress(),
          f.system.registry,
          f.system.staking,
          f.system.proofs,
          await InsurancePool__factory.connect(f.system.pool, f.governance).FEED_FACTORY(),
          f.governance.address,
          DEFAULT_POOL_PARAMS,
          [...DEFAULT_PAYOUT_BPS],
        ]);
        const mismatch = await rejectsWith(
          setBacker(governance, await vault.getAddress()),
          "StakingBackerAssetMismatch",
        );
        assert.match(mismatch.message, /only a pool over the collateral token can be approved$/);
      });
    });

    describe("proofs book the loss in the pool", function () {
      it("reserves the exposure as a liability and books the recovery in the proof's transaction", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const bought = await buy(f);
        const pool = f.poolAs(f.watcher);
        await passWaitingPeriod(f.system);
        const before = await poolShow(pool);
        const proof = await equivocateProof(f.system, f.device, f.watcher);
        const bounty = (STAKE * 1_000n) / 10_000n;
        assert.equal(proof.bounty, bounty);
        assert.equal(
          proof.loss,
          0n,
          "the whole stake was allocated: nothing is left for the loss recipient",
        );
        assert.deepEqual(proof.backersPaid, [
          { backer: f.system.pool, scope: f.device.deviceId, amount: STAKE - bounty },
        ]);
        assert.deepEqual(proof.lossesBooked, [
          {
            pool: f.system.pool,
            scope: f.device.deviceId,
            liability: COVER,
            recovery: STAKE - bounty,
            vested: STAKE - bounty - COVER,
          },
        ]);
        const after = await poolShow(pool);
        assert.equal(after.liabilities, COVER);
        // The liability is booked against the recovery at once; the rest is earned over recoveryVesting.
        assert.ok(after.totalAssets >= before.totalAssets, "the recovery covers the liability");
        assert.ok(after.unearned >= STAKE - bounty - COVER);
        await coverClaim(pool, f.target, bought.serial, proof.incident);
        assert.equal((await poolShow(pool)).liabilities, 0n);
        assert.deepEqual(await policyMembers(pool, f.target, bought.serial), []);
      });
    });

    describe("securityReport", function () {
      it("weighs the stake against the value at risk plus the coverage in force", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        await buy(f);
        const pool = f.poolAs(f.integrator);
        const safe = await securityReport(pool, f.target, STAKE / 2n);
        assert.equal(safe.costOfCorruption, STAKE);
        assert.equal(safe.coverageInForce, COVER);
        assert.equal(safe.margin, STAKE - STAKE / 2n - COVER);
        assert.equal(safe.operatorsToControl, 1n);
        assert.equal(safe.secure, true);
        assert.match(safe.verdict, /^secure: corrupting this device costs 2\.5 DTC more/);
        assert.match(
          safe.scope,
          /^secure covers provable faults only .*is not provable and costs no stake$/,
        );
        const unsafe = await securityReport(pool, f.target, STAKE);
        assert.equal(unsafe.margin, -COVER);
        assert.equal(unsafe.secure, false);
        assert.match(
          unsafe.verdict,
          /^NOT secure: .* could earn up to 2\.5 DTC more than it costs/,
        );
      });

      it("reports a feed the factory did not create as not insurable", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const target = parseTarget({ feed: f.system.staking });
        const err = await rejectsWith(
          securityReport(f.poolAs(f.integrator), target, 0n),
          "InsuranceTargetNotInsurable",
        );
        assert.match(err.message, /not a feed of the pool's feed factory/);
        const shown = await rejectsWith(
          coverShow(f.poolAs(f.integrator), target),
          "InsuranceTargetNotInsurable",
        );
        assert.equal(shown.args[1], 5n);
      });
    });

    describe("coverage on a feed", function () {
      /** The feed's first member. */
      function first(s: { readonly devices: readonly FeedDevice[] }): FeedDevice {
        const d = s.devices[0];
        assert.ok(d !== undefined);
        return d;
      }

      /** A 5-device feed answering (every member submitted sequence 1) and a pool over its system. */
      async function feedPool() {
        const s = await deployFeedSystem(ethers, { devices: 5 });
        const now = await chainTime(ethers);
        const readings = await Promise.all(
          s.devices.map((d, i) =>
            d.signer.signReading({
              feedId: s.feedId,
              sequence: 1n,
              timestamp: now,
              value: (20n + BigInt(i)) * 10n ** 8n,
            }),
          ),
        );
        await (
          await s.feed
            .connect(s.watcher)
            .submitMany(
              readings.map((r) => ({ reading: r.message, key: r.key, signature: r.signature })),
            )
        ).wait();
        const deployed = await ethers.deployContract("InsurancePool", [
          s.tokenAddress,
          s.registryAddress,
          s.stakingAddress,
          s.proofsAddress,
          s.factoryAddress,
          s.governance.address,
          DEFAULT_POOL_PARAMS,
          [...DEFAULT_PAYOUT_BPS],
        ]);
        const address = await deployed.getAddress();
        const staking = stakingAt(s.stakingAddress, s.operator);
        // Not approved yet: the operator cannot allocate to it.
        const refused = await rejectsWith(
          stakeAllocate({
            staking,
            deviceId: first(s).deviceId,
            backer: address,
            feed: s.feedAddress,
            amount: 1n,
          }),
          "StakingNotBacker",
        );
        assert.match(refused.message, /stake approve-backer/);
        const approved = await setBacker(stakingAt(s.stakingAddress, s.governance), address);
        assert.deepEqual([approved.backer, approved.approved], [address.toLowerCase(), true]);
        assert.deepEqual(approved.backers, [address.toLowerCase()]);
        await (
          await MockERC20__factory.connect(s.tokenAddress, s.owner).mint(
            s.owner.address,
            2n * 10n ** 6n,
          )
        ).wait();
        await poolDeposit({
          pool: poolAt(address, s.owner),
          token: collateralTokenAt(s.tokenAddress, s.owner),
          assets: 10n ** 6n,
        });
        return {
          s,
          pool: poolAt(address, s.owner),
          token: collateralTokenAt(s.tokenAddress, s.owner),
        };
      }

      it("sells feed coverage against each member's allocation and pays one member's share of it", async function () {
        const { s, pool, token } = await networkHelpers.loadFixture(feedPool);
        const target = parseTarget({ feed: s.feedId });
        assert.equal(target.id, s.feedAddress.toLowerCase());
        const poolAddress = (await pool.getAddress()).toLowerCase();
        const options = { pool, token, target, amount: 600n, term: 30n * DAY };
        // No member allocated to the pool for the feed yet: the first member's capacity is 0.
        const unbacked = await rejectsWith(
          coverBuy({ ...options, beneficiary: s.watcher.address }),
          "InsuranceCapacityExceeded",
        );
        assert.deepEqual(unbacked.args.slice(1), [first(s).deviceId.toLowerCase(), 200n, 0n]);
        assert.match(unbacked.message, /at most 0 COL more can be bought/);
        const staking = stakingAt(s.stakingAddress, s.operator);
        for (const d of s.devices) {
          const stake = await staking.activeOf(d.deviceId);
          const r = await stakeAllocate({
            staking,
            deviceId: d.deviceId,
            backer: poolAddress,
            feed: s.feedAddress,
            amount: stake,
          });
          assert.deepEqual(
            [r.scopeKind, r.scope, r.allocation, r.unallocated],
            ["feed", s.feedId, stake, 0n],
          );
        }
        // 5 members, k = 3: the smallest member (1,000 staked, capacity 500) caps the feed at 1,500.
        const empty = await coverShow(pool, target);
        assert.deepEqual([empty.capacity, empty.available], [1_500n, 1_500n]);
        await rejectsWith(
          coverBuy({ ...options, beneficiary: s.operator.address }),
          "InsuranceOperatorBeneficiary",
        );
        const bought = await coverBuy({ ...options, beneficiary: s.watcher.address });
        const report = await securityReport(pool, target, 0n);
        const [cost, operators] = await s.feed.corruption();
        assert.deepEqual(
          [report.costOfCorruption, report.coverageInForce, report.operatorsToControl],
          [cost, 600n, operators],
        );
        // One operator runs every member: it controls the median alone, so the feed is not secure.
        assert.equal(operators, 1n);
        assert.equal(report.secure, false);
        assert.match(report.verdict, /^NOT secure: one operator controls this feed's median/);
        assert.match(report.scope, /reported by 1 colluding operator is not provable/);
        const view = await coverShow(pool, target);
        assert.deepEqual([view.kind, view.capacity, view.policyCount], ["feed", 1_500n, 1]);
        // Each member carries ceil(600 / 3) = 200 of it.
        assert.deepEqual(
          view.backing.map((b) => b.exposure),
          s.devices.map(() => 200n),
        );
        assert.equal(view.available, 3n * (500n - 200n));
        const allocations = await stakeAllocations(staking, first(s).deviceId);
        assert.deepEqual(allocations, [
          {
            backer: poolAddress,
            scopeKind: "feed",
            scope: s.feedId,
            amount: 1_000n,
            required: 400n,
          },
        ]);

        await networkHelpers.time.increase(3_600n);
        const liar = first(s);
        const clone = new DeviceSigner(
          SoftwareKeyStore.fromPrivateKey(liar.curve, liar.store.exportPrivateKey()),
          s.domain,
        );
        const reading = { feedId: s.feedId, sequence: 2n, timestamp: await chainTime(ethers) };
        const proof = await submitProof(
          proofsAt(s.proofsAddress, s.watcher),
          equivocationProof(
            await liar.signer.signReading({ ...reading, value: 20n * 10n ** 8n }),
            await clone.signReading({ ...reading, value: 99n * 10n ** 8n }),
          ),
          s.watcher.address,
        );
        assert.deepEqual(
          proof.lossesBooked.map((l) => [l.pool, l.scope, l.liability]),
          [[poolAddress, s.feedId, 200n]],
        );
        // The claim finds the policy's member snapshot in its CoverageMembers event.
        const members = s.devices.map((d) => d.deviceId.toLowerCase());
        assert.deepEqual(await policyMembers(pool, target, bought.serial), members);
        const claim = await coverClaim(pool, target, bought.serial, proof.incident);
        assert.deepEqual(claim.members, members);
        assert.equal(claim.deviceId, liar.deviceId.toLowerCase());
        // One proven member pays its share (1/k of the policy), not the whole policy.
        assert.deepEqual([claim.payout, claim.share, claim.memberPaid], [200n, 200n, 200n]);
        assert.equal(claim.remaining, 400n);
        assert.equal(claim.beneficiary, s.watcher.address.toLowerCase());
        await rejectsWith(
          coverClaim(pool, target, bought.serial, proof.incident),
          "InsurancePolicyExhausted",
        );
        const mismatch = await rejectsWith(
          send(() => pool.claim(target.target, bought.serial, proof.incident, [])),
          "InsuranceMembersMismatch",
        );
        assert.match(mismatch.message, /\(cover claim finds them itself\)$/);
      });
    });

    describe("amounts, terms and targets", function () {
      it("parses decimal units, base units with raw, and refuses the rest", function () {
        assert.equal(parseAmount("1000.5", ASSET, false, "--amount"), 1_000_500n * 10n ** 15n);
        assert.equal(parseAmount("1000", ASSET, true, "--amount"), 1000n);
        for (const [value, raw] of [
          ["1.5", true],
          ["abc", false],
          ["0", false],
          ["", false],
          ["1.0000000000000000001", false],
        ] as const) {
          assert.throws(() => parseAmount(value, ASSET, raw, "--amount"), InvalidInputError);
        }
        assert.equal(formatAmount(1_000_500n * 10n ** 15n, ASSET), "1000.5");
        assert.equal(formatAmount(2n * 10n ** 18n, ASSET), "2");
      });

      it("parses terms in seconds or with a unit", function () {
        assert.equal(parseDuration("3600"), 3600n);
        assert.equal(parseDuration("30d"), 30n * DAY);
        assert.equal(parseDuration("12h"), 12n * 3600n);
        assert.equal(parseDuration("2w"), 14n * DAY);
        for (const bad of ["", "0", "1y", "-1d", "1.5d"]) {
          assert.throws(() => parseDuration(bad), InvalidInputError);
        }
      });

      it("names a device by its id and a feed by its address, padded to bytes32", function () {
        const device = `0x${"ab".repeat(32)}` as const;
        const feed = `0x${"cd".repeat(20)}` as const;
        assert.deepEqual(parseTarget({ device }), {
          kind: "device",
          kindIndex: 0,
          target: device,
          id: device,
        });
        assert.deepEqual(parseTarget({ feed }), {
          kind: "feed",
          kindIndex: 1,
          target: zeroPadValue(feed, 32),
          id: feed,
        });
        assert.equal(
          parseTarget({ feed: zeroPadValue(feed, 32) }).id,
          feed,
          "a feed id names the feed too",
        );
        assert.throws(() => parseTarget({ device, feed }), InvalidInputError);
        assert.throws(() => parseTarget({}), InvalidInputError);
        assert.throws(() => parseTarget({ device: feed }), InvalidInputError);
      });

      it("shows amounts in units and times as dates for people, base units with raw", function () {
        const units = { asset: ASSET, shares: SHARES };
        const value = {
          premium: 15n * 10n ** 17n,
          margin: -(10n ** 18n),
          shares: 10n ** 24n,
          serial: 3,
          policies: [{ amount: 10n ** 18n, end: 86_400n, unlockAt: 0n }],
        };
        assert.deepEqual(humanAmounts(value, units), {
          premium: "1.5 DTC",
          margin: "-1 DTC",
          shares: "1 dtINS",
          serial: 3,
          policies: [{ amount: "1 DTC", end: "1970-01-02T00:00:00.000Z", unlockAt: 0n }],
        });
        assert.equal(humanAmounts(value, units, true), value);
      });
    });

    describe("decodeContractError", function () {
      it("explains every custom error of IInsurancePool and InsurancePool's ERC-4626 errors", function () {
        const names = [...IInsurancePool__factory.abi, ...InsurancePool__factory.abi]
          .filter((e) => e.type === "error")
          .map((e) => (e as { name: string }).name)
          .filter((n) => n.startsWith("Insurance") || n.startsWith("ERC4626"));
        assert.ok(names.length >= 27, String(names.length));
        for (const name of names) {
          assert.ok(EXPLAINED_ERRORS.includes(name), `${name} has no explanation`);
        }
      });
    });

    describe("benchInsurance", function () {
      it("measures allocations, a deposit, first policies, a backed proof and claims, alike on every run", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const gas = await benchInsurance(f.system);
        process.stderr.write(`      insurance gas: ${JSON.stringify(gas)}\n`);
        for (const [key, value] of Object.entries(gas)) {
          assert.ok(Number.isSafeInteger(value) && value > 21_000 && value < 1_000_000, key);
        }
        // Fresh accounts and devices each run, a day apart (so premium and recovery streams end on days of
        // their own): a second run measures first-time operations again, up to calldata (random ids differ
        // in their zero bytes, 12 gas each) and the day boundaries the pool's accrual walks since the first
        // run (a cold slot each). No cold path turns warm: within 3%.
        await networkHelpers.time.increase(DAY);
        const again = await benchInsurance(f.system);
        for (const [key, value] of Object.entries(gas)) {
          const other = again[key as keyof typeof again];
          assert.ok(
            Math.abs(other - value) <= Math.max(12 * 64, value * 0.03),
            `${key}: ${String(value)} then ${String(other)}`,
          );
        }
      });
    });
  });
});
