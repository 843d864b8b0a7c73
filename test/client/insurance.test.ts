import assert from "node:assert/strict";
import { ZeroAddress, zeroPadValue } from "ethers";
import { benchInsurance } from "../../src/bench/insurance.js";
import {
  EXPLAINED_ERRORS,
  changeStatus,
  collateralTokenAt,
  equivocationProof,
  poolAt,
  proofsAt,
  registryAt,
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
  poolBookRecovery,
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
import { chainTime, deployFeedSystem } from "./feed-fixture.js";
import { ethers, networkHelpers, rejectsWith } from "./fixture.js";
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

/** Governance makes the pool the staking contract's loss recipient (scheduled, applied after the delay). */
async function makePoolLossRecipient(f: InsuranceFixture) {
  const staking = stakingAt(f.system.staking, f.governance);
  const params = await staking.params();
  await send(() =>
    staking.scheduleParams({
      minStake: params.minStake,
      unbondingPeriod: params.unbondingPeriod,
      bountyBps: params.bountyBps,
      lossRecipient: f.system.pool,
    }),
  );
  await networkHelpers.time.increase(params.unbondingPeriod + DAY + 1n);
  await send(() => staking.applyParams());
  assert.equal((await staking.params()).lossRecipient.toLowerCase(), f.system.pool);
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
        assert.match(request.unlocks, /^in 3d \(/);
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
        const out = await poolWithdraw(pool);
        // Everything but the locked coverage leaves: the deposit plus the premium, minus the coverage.
        const expected = CAPITAL / 2n + bought.premium - COVER;
        assert.ok(out.assets <= expected && expected - out.assets <= 1n, String(out.assets));
        assert.ok(out.remainingShares > 0n);
        assert.equal(await pool.freeCapital(), expected - out.assets);
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
        assert.equal(view.totalAssets, CAPITAL / 2n + bought.premium);
        assert.equal(view.lockedCapital, COVER);
        assert.equal(view.freeCapital, view.totalAssets - COVER);
        assert.equal(view.utilizationBps, Number((COVER * 10_000n) / view.totalAssets));
        assert.ok(view.assetsPerShare > 10n ** 18n, "premiums raise the share price");
        assert.equal(view.params.cooldown, COOLDOWN);
        assert.deepEqual(view.payoutBps, {
          Equivocation: 10_000,
          BatchEquivocation: 10_000,
          OutOfBounds: 5_000,
          RevokedFirmware: 5_000,
        });
        assert.ok(view.account !== null);
        assert.equal(view.account.shares, await f.poolAs(f.insurer).balanceOf(f.insurer.address));
        assert.equal(view.account.unlocks, "no withdrawal pending");
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
        assert.deepEqual(over.args.slice(1), [STAKE / 2n + 1n, STAKE / 2n]);
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
        assert.equal(view.policyCount, 2);
        assert.equal(view.incidentAt, null);
        assert.equal(view.buyable, "yes");
        assert.deepEqual(
          view.policies.map((p) => [p.serial, p.status]),
          [
            [0, "active"],
            [1, "active"],
          ],
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
        assert.equal(r.beneficiary, f.beneficiary.address.toLowerCase());
        assert.equal(r.payout, COVER); // equivocation pays 100% of the amount
        assert.equal(r.paid, COVER);
        assert.equal(r.remaining, 0n);
        assert.equal((await token.balanceOf(f.beneficiary.address)) - before, COVER);

        const again = await rejectsWith(
          coverClaim(f.poolAs(f.watcher), f.target, bought.serial, incident),
          "InsuranceAlreadyClaimed",
        );
        assert.match(again.message, /each incident pays each policy once$/);
        const view = await coverShow(f.poolAs(f.watcher), f.target);
        assert.notEqual(view.incidentAt, null);
        // The slash suspended the device (reason 1); reinstated, it is still refused: the pool knows the incident.
        assert.match(view.buyable, /^no: InsuranceTargetNotInsurable\(0x[0-9a-f]{64}, 1\): /);
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
        const window = await pool.CLAIM_WINDOW();
        assert.equal(window, 7n * DAY);
        const releasableAfter = bought.end + window;
        const early = await rejectsWith(
          coverRelease(pool, f.target, bought.serial),
          "InsurancePolicyActive",
        );
        assert.deepEqual(early.args, [f.target.target, 0n, releasableAfter]);
        assert.match(
          early.message,
          /becomes releasable in 8d 1s \(.*\): its term ends .* and claims stay open 7d after it; run cover release again then$/,
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
        await networkHelpers.time.increaseTo(bought.end + (await pool.CLAIM_WINDOW()));
        const r = await coverRelease(pool, f.target, bought.serial);
        assert.equal(r.unlocked, 0n); // equivocation paid the whole coverage
        assert.equal(r.lockedCapital, 0n);
      });
    });

    describe("poolBookRecovery", function () {
      it("books the pool's share of an incident's slash once, and refuses it twice", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const pool = f.poolAs(f.watcher);
        await makePoolLossRecipient(f);
        const incident = await f.equivocate();
        const [recorded, stakingParams, before] = await Promise.all([
          proofsAt(f.system.proofs, f.watcher).incident(incident),
          stakingAt(f.system.staking, f.watcher).params(),
          pool.totalAssets(),
        ]);
        assert.ok(recorded.slashed > 0n);
        const r = await poolBookRecovery(pool, incident);
        assert.equal(r.incident, incident);
        assert.equal(
          r.amount,
          recorded.slashed - (recorded.slashed * stakingParams.bountyBps) / 10_000n,
        );
        assert.equal(r.totalAssets, before + r.amount);
        const again = await rejectsWith(
          poolBookRecovery(pool, incident),
          "InsuranceRecoveryBooked",
        );
        assert.match(again.message, /each incident is booked once$/);
        await rejectsWith(
          poolBookRecovery(pool, `0x${"ab".repeat(32)}`),
          "InsuranceUnknownIncident",
        );
        await assert.rejects(poolBookRecovery(pool, " "), /name the incident: --incident <id>/);
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
        assert.equal(safe.secure, true);
        assert.match(safe.verdict, /^secure: corrupting this device costs 2\.5 DTC more/);
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
      });
    });

    describe("coverage on a feed", function () {
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

      it("sells coverage on a feed by its cost of corruption and pays on a member's equivocation", async function () {
        const { s, pool, token } = await networkHelpers.loadFixture(feedPool);
        const target = parseTarget({ feed: s.feedId });
        assert.equal(target.id, s.feedAddress.toLowerCase());
        const cost = await s.feed.costOfCorruption();
        const capacity = (cost * DEFAULT_POOL_PARAMS.coverFactorBps) / 10_000n;
        assert.ok(capacity > 1n);
        const options = { pool, token, target, amount: capacity / 2n, term: 30n * DAY };
        await rejectsWith(
          coverBuy({ ...options, beneficiary: s.operator.address }),
          "InsuranceOperatorBeneficiary",
        );
        const bought = await coverBuy({ ...options, beneficiary: s.watcher.address });
        const report = await securityReport(pool, target, 0n);
        assert.deepEqual([report.costOfCorruption, report.coverageInForce], [cost, capacity / 2n]);
        const view = await coverShow(pool, target);
        assert.deepEqual([view.kind, view.capacity, view.policyCount], ["feed", capacity, 1]);

        const liar = s.devices[0];
        assert.ok(liar !== undefined);
        const clone = new DeviceSigner(
          SoftwareKeyStore.fromPrivateKey(liar.curve, liar.store.exportPrivateKey()),
          s.domain,
        );
        const reading = { feedId: s.feedId, sequence: 1n, timestamp: await chainTime(ethers) };
        const proof = await submitProof(
          proofsAt(s.proofsAddress, s.watcher),
          equivocationProof(
            await liar.signer.signReading({ ...reading, value: 20n * 10n ** 8n }),
            await clone.signReading({ ...reading, value: 99n * 10n ** 8n }),
          ),
          s.watcher.address,
        );
        const claim = await coverClaim(pool, target, bought.serial, proof.incident);
        assert.equal(claim.payout, capacity / 2n);
        assert.equal(claim.beneficiary, s.watcher.address.toLowerCase());
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
      it("measures a deposit, a first policy and a claim payout from receipts, the same on every run", async function () {
        const f = await networkHelpers.loadFixture(insuranceFixture);
        const gas = await benchInsurance(f.system);
        process.stderr.write(`      insurance gas: ${JSON.stringify(gas)}\n`);
        for (const [key, value] of Object.entries(gas)) {
          assert.ok(Number.isSafeInteger(value) && value > 21_000 && value < 1_000_000, key);
        }
        // Fresh accounts and a fresh device each run: a second run measures first-time operations again
        // (up to calldata: random addresses and ids differ in their zero bytes, 12 gas each).
        const again = await benchInsurance(f.system);
        for (const [key, value] of Object.entries(gas)) {
          const other = again[key as keyof typeof again];
          assert.ok(
            Math.abs(other - value) <= 12 * 64,
            `${key}: ${String(value)} then ${String(other)}`,
          );
        }
      });
    });
  });
});
