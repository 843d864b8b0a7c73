import assert from "node:assert/strict";
import {
  collateralTokenAt,
  inWords,
  requestWithdrawal,
  stakeDeposit,
  stakeShow,
  stakingAt,
  stakingToken,
  withdraw,
} from "../../src/client/index.js";
import { InvalidInputError } from "../../src/protocol/index.js";
import { FeeOnTransferToken__factory } from "../../types/ethers-contracts/index.js";
import { ethers, networkHelpers, registeredDevice, rejectsWith } from "./fixture.js";
import { BOUNTY_BPS, MIN_STAKE, UNBONDING, stakingFixture } from "./staking-fixture.js";

describe("client", function () {
  describe("stakeDeposit", function () {
    it("approves, stakes and reports the amount credited from the Staked event", async function () {
      const f = await networkHelpers.loadFixture(stakingFixture);
      const { deviceId } = await registeredDevice(f);
      const before = await f.tokenAsOperator.balanceOf(f.operator.address);
      const first = await stakeDeposit({
        staking: f.stakingAsOperator,
        token: f.tokenAsOperator,
        deviceId,
        amount: 5_000n,
      });
      assert.equal(first.credited, 5_000n);
      assert.equal(first.active, 5_000n);
      assert.notEqual(first.approveTxHash, null);
      assert.equal(await f.tokenAsOperator.balanceOf(f.operator.address), before - 5_000n);
      // An allowance that already covers the top-up: no second approval.
      await (await f.tokenAsOperator.approve(f.stakingAddress, 10_000n)).wait();
      const topUp = await stakeDeposit({
        staking: f.stakingAsOperator,
        token: f.tokenAsOperator,
        deviceId,
        amount: 2_000n,
      });
      assert.equal(topUp.approveTxHash, null);
      assert.equal(topUp.active, 7_000n);
      assert.equal(await stakingToken(f.stakingAsOperator), f.tokenAddress);
    });

    it("credits only what a fee-on-transfer token delivers", async function () {
      const f = await networkHelpers.loadFixture(stakingFixture);
      const { deviceId } = await registeredDevice(f);
      const fee = await ethers.deployContract("FeeOnTransferToken", [100n]); // 1%
      const feeAddress = await fee.getAddress();
      await (
        await FeeOnTransferToken__factory.connect(feeAddress, f.operator).mint(
          f.operator.address,
          100_000n,
        )
      ).wait();
      const staking = await ethers.deployContract("DeviceStaking", [
        f.address,
        feeAddress,
        f.governance.address,
        {
          minStake: MIN_STAKE,
          unbondingPeriod: UNBONDING,
          bountyBps: BOUNTY_BPS,
          lossRecipient: f.lossRecipient.address,
        },
      ]);
      const result = await stakeDeposit({
        staking: stakingAt(await staking.getAddress(), f.operator),
        token: collateralTokenAt(feeAddress, f.operator),
        deviceId,
        amount: 10_000n,
      });
      assert.equal(result.requested, 10_000n);
      assert.equal(result.credited, 9_900n);
    });

    it("reverts when the stake stays below the minimum, decoded", async function () {
      const f = await networkHelpers.loadFixture(stakingFixture);
      const { deviceId } = await registeredDevice(f);
      const err = await rejectsWith(
        stakeDeposit({
          staking: f.stakingAsOperator,
          token: f.tokenAsOperator,
          deviceId,
          amount: MIN_STAKE - 1n,
        }),
        "StakingBelowMinimum",
      );
      assert.deepEqual(err.args.slice(1), [MIN_STAKE - 1n, MIN_STAKE]);
      assert.match(err.message, /below the minimum 1000: stake at least the minimum/);
    });

    it("reverts when the sender is not the device's operator, decoded", async function () {
      const f = await networkHelpers.loadFixture(stakingFixture);
      const { deviceId } = await registeredDevice(f);
      const err = await rejectsWith(
        stakeDeposit({
          staking: f.stakingAsOther,
          token: f.tokenAsOther,
          deviceId,
          amount: MIN_STAKE,
        }),
        "StakingNotOperator",
      );
      assert.match(err.message, /is not the operator of device .*current operator's account/);
    });

    it("rejects a zero amount before sending", async function () {
      const f = await networkHelpers.loadFixture(stakingFixture);
      const { deviceId } = await registeredDevice(f);
      await assert.rejects(
        stakeDeposit({
          staking: f.stakingAsOperator,
          token: f.tokenAsOperator,
          deviceId,
          amount: 0n,
        }),
        InvalidInputError,
      );
    });
  });

  describe("requestWithdrawal and withdraw", function () {
    it("unlocks after the unbonding period and pays the operator back", async function () {
      const f = await networkHelpers.loadFixture(stakingFixture);
      const { deviceId } = await registeredDevice(f);
      await stakeDeposit({
        staking: f.stakingAsOperator,
        token: f.tokenAsOperator,
        deviceId,
        amount: 5_000n,
      });
      const request = await requestWithdrawal(f.stakingAsOperator, deviceId, 3_000n);
      assert.equal(request.pending, 3_000n);
      assert.equal(request.unlockAt, BigInt(await networkHelpers.time.latest()) + UNBONDING);
      assert.match(request.unlocks, /^in 7d \(/);
      const early = await rejectsWith(
        withdraw(f.stakingAsOperator, deviceId),
        "StakingStillUnbonding",
      );
      assert.match(early.message, /wait until then and withdraw again$/);
      // Still slashable while pending.
      const shown = await stakeShow(f.stakingAsOperator, deviceId);
      assert.equal(shown.active, 2_000n);
      assert.equal(shown.pending, 3_000n);
      assert.equal(shown.slashable, 5_000n);

      await networkHelpers.time.increaseTo(request.unlockAt);
      const before = await f.tokenAsOperator.balanceOf(f.operator.address);
      const paid = await withdraw(f.stakingAsOperator, deviceId);
      assert.equal(paid.amount, 3_000n);
      assert.equal(await f.tokenAsOperator.balanceOf(f.operator.address), before + 3_000n);
      const after = await stakeShow(f.stakingAsOperator, deviceId);
      assert.equal(after.pending, 0n);
      assert.equal(after.unlocks, "no withdrawal pending");
    });

    it("reverts when more than the active stake is asked, or nothing is pending", async function () {
      const f = await networkHelpers.loadFixture(stakingFixture);
      const { deviceId } = await registeredDevice(f);
      await stakeDeposit({
        staking: f.stakingAsOperator,
        token: f.tokenAsOperator,
        deviceId,
        amount: 2_000n,
      });
      const err = await rejectsWith(
        requestWithdrawal(f.stakingAsOperator, deviceId, 2_001n),
        "StakingInsufficientStake",
      );
      assert.deepEqual(err.args.slice(1), [2_000n, 2_001n]);
      await rejectsWith(withdraw(f.stakingAsOperator, deviceId), "StakingNoWithdrawal");
    });
  });

  describe("stakeShow", function () {
    it("shows the parameters in force and none scheduled", async function () {
      const f = await networkHelpers.loadFixture(stakingFixture);
      const { deviceId } = await registeredDevice(f);
      const view = await stakeShow(f.stakingAsOperator, deviceId);
      assert.equal(view.active, 0n);
      assert.equal(view.slashable, 0n);
      assert.deepEqual(view.params, {
        minStake: MIN_STAKE,
        unbondingPeriod: UNBONDING,
        bountyBps: Number(BOUNTY_BPS),
        lossRecipient: f.lossRecipient.address.toLowerCase(),
      });
      assert.equal(view.pendingParams, null);
    });
  });

  describe("inWords", function () {
    it("says when a withdrawal unlocks", function () {
      assert.equal(inWords(0n, 100n), "no withdrawal pending");
      assert.match(inWords(100n, 200n), /^unlocked since 1970-01-01T00:01:40/);
      assert.match(inWords(100n + 86_400n + 3_661n, 100n), /^in 1d 1h 1m 1s \(/);
      assert.match(inWords(130n, 100n), /^in 30s \(/);
    });
  });
});
