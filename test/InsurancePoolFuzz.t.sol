// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IFraudProofs} from "../contracts/interfaces/IFraudProofs.sol";
import {IInsurancePool} from "../contracts/interfaces/IInsurancePool.sol";
import {MockIncidents} from "../contracts/mocks/MockIncidents.sol";
import {InsuranceFixture, IPoolUnderTest} from "./utils/InsuranceFixture.sol";

/// @notice Fuzz tests of the pool over every amount and time (deposits, coverage amount and term, claim
/// times, donations, slashes booked in the proof's transaction), each with a concrete twin.
contract InsurancePoolFuzzTest is InsuranceFixture {
    uint256 internal constant MAX_AMOUNT = 1e30;
    address internal insurer2 = makeAddr("insurer2");

    // ------------------------------------------------------------------ deposits and withdrawals

    /// @notice A deposit mints the previewed shares and, redeemed after the cooldown with nothing earned or
    /// paid meanwhile, returns at most what was put in and at most 1 wei less.
    function testFuzz_deposit_RoundTripNeverGains(uint256 amount) public {
        amount = bound(amount, 1, MAX_AMOUNT);
        _checkRoundTrip(amount);
    }

    /// @notice Concrete twin of testFuzz_deposit_RoundTripNeverGains.
    function test_deposit_RoundTripNeverGains_Concrete() public {
        _checkRoundTrip(1_234.5e18);
    }

    /// @notice Once a policy's premium has fully streamed in (the first midnight after its end), a new
    /// insurer's round trip still never gains.
    function testFuzz_deposit_RoundTripAfterPremiumsNeverGains(uint256 cover, uint256 term, uint256 amount) public {
        cover = bound(cover, 1, 200e18);
        term = bound(term, MIN_TERM, MAX_TERM);
        amount = bound(amount, 1, MAX_AMOUNT);
        _buyDevice(p256Id, cover, term);
        vm.warp(block.timestamp + WAITING_PERIOD + term + 1 days);
        _checkRoundTrip(amount);
    }

    /// @notice Concrete twin of testFuzz_deposit_RoundTripAfterPremiumsNeverGains.
    function test_deposit_RoundTripAfterPremiumsNeverGains_Concrete() public {
        _buyDevice(p256Id, 133e18, 200 days);
        vm.warp(block.timestamp + WAITING_PERIOD + 201 days);
        _checkRoundTrip(7e18 + 3);
    }

    /// @notice Whatever the capital, the coverage it locks and the share of the position requested,
    /// redeeming maxRedeem and then withdrawing maxWithdraw never revert and never take locked capital.
    function testFuzz_redeem_MaxNeverRevertsNorTakesLocked(uint256 capital, uint256 locked, uint256 part) public {
        capital = bound(capital, 500e18, 1e24);
        locked = bound(locked, 1, 200e18);
        part = bound(part, 1, 10_000);
        _checkMaxExits(capital, locked, part);
    }

    /// @notice Concrete twins of testFuzz_redeem_MaxNeverRevertsNorTakesLocked: a pool 80% locked, all
    /// requested; and a large pool, a third requested.
    function test_redeem_MaxNeverRevertsNorTakesLocked_Concrete() public {
        _checkMaxExits(500e18, 200e18, 10_000);
        _checkMaxExits(1e24, 123e18, 3_333);
    }

    /// @notice A donation of any size changes neither totalAssets nor what a share redeems for.
    function testFuzz_donation_ChangesNoShareValue(uint256 donation, uint256 cover) public {
        donation = bound(donation, 1, MAX_AMOUNT);
        cover = bound(cover, 0, 200e18);
        if (cover != 0) _buyDevice(p256Id, cover, 30 days);
        _checkDonation(donation);
    }

    /// @notice Concrete twin of testFuzz_donation_ChangesNoShareValue.
    function test_donation_ChangesNoShareValue_Concrete() public {
        _buyDevice(p256Id, 150e18, 30 days);
        _checkDonation(1e27);
    }

    // ------------------------------------------------------------------ coverage

    /// @notice For any amount within capacity, term and attestation age, the premium is the formula of
    /// IInsurancePool computed independently here (each rate term rounded up, at least minPremiumBps), quote
    /// agrees with it, and the sale streams it (unearned, not yet in totalAssets).
    function testFuzz_buyCoverage_PremiumIsTheFormula(uint256 amount, uint256 term, uint256 age) public {
        amount = bound(amount, 1, 200e18);
        term = bound(term, MIN_TERM, MAX_TERM);
        age = bound(age, 0, MAX_ATTESTATION_AGE);
        _checkPremium(amount, term, age);
    }

    /// @notice Concrete twin of testFuzz_buyCoverage_PremiumIsTheFormula (0.390821917808219181 from the unit
    /// test's worked example).
    function test_buyCoverage_PremiumIsTheFormula_Concrete() public {
        assertEq(_checkPremium(100e18, 30 days, 15 days), 390821917808219181);
    }

    /// @notice A second policy fits exactly when both together stay within the device's capacity.
    function testFuzz_buyCoverage_CapacityBound(uint256 first, uint256 second) public {
        first = bound(first, 1, 200e18);
        second = bound(second, 1, 400e18);
        _checkCapacity(first, second);
    }

    /// @notice Concrete twins of testFuzz_buyCoverage_CapacityBound: exactly full, and one wei over.
    function test_buyCoverage_CapacityBound_Concrete() public {
        _checkCapacity(80e18, 120e18);
        _checkCapacity(100e18, 100e18 + 1);
    }

    // ------------------------------------------------------------------ claims

    /// @notice A real equivocation signed `delay` seconds after the purchase pays the whole amount exactly
    /// when its time falls inside [sale + waitingPeriod, end]; otherwise the claim reverts with the times.
    function testFuzz_claim_PaysOnlyInsideTerm(uint256 amount, uint256 term, uint256 delay) public {
        amount = bound(amount, 1, 200e18);
        term = bound(term, MIN_TERM, 60 days);
        delay = bound(delay, 0, WAITING_PERIOD + term + 10 days);
        _checkClaimTime(amount, term, delay);
    }

    /// @notice Concrete twins of testFuzz_claim_PaysOnlyInsideTerm: a second before the start, the start,
    /// the last second, and one after.
    function test_claim_PaysOnlyInsideTerm_Concrete() public {
        uint256[4] memory delays = [
            uint256(WAITING_PERIOD - 1),
            WAITING_PERIOD,
            WAITING_PERIOD + 7 days,
            WAITING_PERIOD + 7 days + 1
        ];
        for (uint256 i; i < 4; ++i) {
            uint256 snapshot = vm.snapshotState();
            _checkClaimTime(100e18, 7 days, delays[i]);
            vm.revertToState(snapshot);
        }
    }

    /// @notice Any sequence of incidents of any kinds pays the best rate seen so far: each claim tops the
    /// policy up to amount * payoutBps of its kind, never more in total than the amount.
    function testFuzz_claim_PayoutsNeverExceedAmount(uint256 amount, uint256 seed) public {
        amount = bound(amount, 1, 200e18);
        _checkPayouts(amount, seed);
    }

    /// @notice Concrete twin of testFuzz_claim_PayoutsNeverExceedAmount.
    function test_claim_PayoutsNeverExceedAmount_Concrete() public {
        _checkPayouts(100e18, 42);
    }

    /// @notice An incident time anywhere around the term is accepted exactly inside [start, end].
    function testFuzz_claim_IncidentTime(uint256 term, uint256 offset) public {
        term = bound(term, MIN_TERM, MAX_TERM);
        offset = bound(offset, 0, term + 2 days);
        _checkIncidentTime(term, offset);
    }

    /// @notice Concrete twins of testFuzz_claim_IncidentTime: a day before the start, the start, the end and
    /// a second after the end.
    function test_claim_IncidentTime_Concrete() public {
        _checkIncidentTime(10 days, 0);
        _checkIncidentTime(10 days, 1 days);
        _checkIncidentTime(10 days, 11 days);
        _checkIncidentTime(10 days, 11 days + 1);
    }

    // ------------------------------------------------------------------ booking in the proof's transaction

    /// @notice A slash reported with a device exposure `cover` and a recovery: the whole exposure becomes a
    /// liability, totalAssets drops only by what the recovery does not cover, and the surplus vests.
    function testFuzz_onStakeSlashed_BooksLiabilityAndRecovery(uint256 cover, uint256 recovery) public {
        cover = bound(cover, 0, 200e18);
        recovery = bound(recovery, 0, 1e24);
        _checkBooking(cover, recovery);
    }

    /// @notice Concrete twins of testFuzz_onStakeSlashed_BooksLiabilityAndRecovery: a recovery above, equal
    /// to and below the exposure, and none.
    function test_onStakeSlashed_BooksLiabilityAndRecovery_Concrete() public {
        _checkBooking(100e18, 360e18);
        _checkBooking(100e18, 100e18);
        _checkBooking(100e18, 40e18);
        _checkBooking(100e18, 0);
    }

    // ------------------------------------------------------------------ checks

    function _checkRoundTrip(uint256 amount) internal {
        uint256 expected = pool.previewDeposit(amount);
        uint256 shares = _deposit(pool, insurer2, amount);
        assertEq(shares, expected, "deposit mints the preview");
        vm.prank(insurer2);
        pool.requestWithdrawal(shares);
        vm.warp(block.timestamp + COOLDOWN);
        uint256 previewed = pool.previewRedeem(shares);
        vm.prank(insurer2);
        uint256 out = pool.redeem(shares, insurer2, insurer2);
        assertEq(out, previewed, "redeem pays the preview");
        assertLe(out, amount, "never more than was put in");
        assertGe(out + 1, amount, "at most 1 wei of rounding");
    }

    /// @dev A fresh pool with `capital`, 2 * `locked` of coverage, `part` (bps) of the shares requested.
    function _checkMaxExits(uint256 capital, uint256 locked, uint256 part) internal {
        uint256 snapshot = vm.snapshotState();
        IPoolUnderTest p = _deployPool(IERC20(address(usd)), proofs);
        _approveBacker(p);
        _stakeAndAllocate(p, p256Id, deviceTarget, DEVICE_ALLOCATION);
        _stakeAndAllocate(p, secpId, _target(secpId), DEVICE_ALLOCATION);
        uint256 shares = _deposit(p, insurer2, capital);
        vm.prank(buyer);
        usd.approve(address(p), type(uint256).max);
        _buy(p, IInsurancePool.TargetKind.Device, deviceTarget, locked, 30 days);
        _buy(p, IInsurancePool.TargetKind.Device, _target(secpId), locked, 30 days);
        uint256 requested = Math.max(1, (shares * part) / 10_000);
        vm.prank(insurer2);
        p.requestWithdrawal(requested);
        vm.warp(block.timestamp + COOLDOWN);

        uint256 maxShares = p.maxRedeem(insurer2);
        assertLe(maxShares, requested);
        uint256 previewed = p.previewRedeem(maxShares);
        vm.prank(insurer2);
        assertEq(p.redeem(maxShares, insurer2, insurer2), previewed, "redeem pays the preview");
        assertGe(p.freeCapital() + p.lockedCapital(), p.lockedCapital(), "locked capital stays");
        if (p.withdrawalRequest(insurer2).shares != 0) {
            uint256 maxAssets = p.maxWithdraw(insurer2);
            assertLe(maxAssets, p.freeCapital());
            uint256 burnt = p.previewWithdraw(maxAssets);
            vm.prank(insurer2);
            assertEq(p.withdraw(maxAssets, insurer2, insurer2), burnt, "withdraw burns the preview");
        }
        assertGe(p.totalAssets(), p.lockedCapital(), "locked capital stays (no liability)");
        assertLe(p.totalAssets() + p.unearned(), usd.balanceOf(address(p)), "never books more than it holds");
        vm.revertToState(snapshot);
    }

    function _checkDonation(uint256 donation) internal {
        uint256 shares = pool.balanceOf(insurer);
        uint256 assetsBefore = pool.totalAssets();
        uint256 valueBefore = pool.previewRedeem(shares);
        usd.mint(address(pool), donation);
        assertEq(pool.totalAssets(), assetsBefore);
        assertEq(pool.previewRedeem(shares), valueBefore);
        assertEq(pool.convertToShares(1e18), pool.previewDeposit(1e18));
    }

    function _checkPremium(uint256 amount, uint256 term, uint256 age) internal returns (uint256 premium) {
        vm.warp(registry.evidenceOf(p256Id).timestamp + age);
        uint256 assets = pool.totalAssets();
        uint256 capacity = (DEVICE_ALLOCATION * COVER_FACTOR_BPS) / 10_000;
        // Each rate term integrated over the purchase (nothing locked or covered before it) and rounded up alone.
        uint256 perYear = 10_000 * 365 days;
        uint256 expected =
            Math.mulDiv(amount * term, BASE_RATE_BPS, perYear, Math.Rounding.Ceil) +
                Math.mulDiv(amount * term, UTILIZATION_RATE_BPS * amount, 2 * assets * perYear, Math.Rounding.Ceil) +
                Math.mulDiv(amount * term, CAPACITY_RATE_BPS * amount, 2 * capacity * perYear, Math.Rounding.Ceil) +
                Math.mulDiv(
                    amount * term,
                    ATTESTATION_RATE_BPS * age,
                    MAX_ATTESTATION_AGE * perYear,
                    Math.Rounding.Ceil
                );
        expected = Math.max(expected, Math.ceilDiv(amount * MIN_PREMIUM_BPS, 10_000));
        assertEq(pool.quote(IInsurancePool.TargetKind.Device, deviceTarget, amount, term), expected, "quote");
        uint256 buyerBefore = usd.balanceOf(buyer);
        (, premium) = _buyDevice(p256Id, amount, term);
        assertEq(premium, expected, "premium");
        assertEq(usd.balanceOf(buyer), buyerBefore - premium);
        assertEq(pool.totalAssets(), assets, "streamed, not earned at the sale");
        assertEq(pool.unearned(), premium);
        assertEq(pool.lockedCapital(), amount);
        assertEq(pool.targetState(deviceTarget).covered, amount);
    }

    function _checkCapacity(uint256 first, uint256 second) internal {
        uint256 snapshot = vm.snapshotState();
        uint256 capacity = (DEVICE_ALLOCATION * COVER_FACTOR_BPS) / 10_000;
        _buyDevice(p256Id, first, 30 days);
        if (first + second <= capacity) {
            _buyDevice(p256Id, second, 30 days);
            assertEq(pool.targetState(deviceTarget).covered, first + second);
        } else {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IInsurancePool.InsuranceCapacityExceeded.selector,
                    deviceTarget,
                    p256Id,
                    first + second,
                    capacity
                )
            );
            _buyDevice(p256Id, second, 30 days);
        }
        vm.revertToState(snapshot);
    }

    function _checkClaimTime(uint256 amount, uint256 term, uint256 delay) internal {
        uint40 start = uint40(block.timestamp + WAITING_PERIOD);
        uint40 end = start + uint40(term);
        _buyDevice(p256Id, amount, term);
        vm.warp(block.timestamp + delay);
        bytes32 incident = _equivocate(p256, p256Id, 11);
        if (block.timestamp >= start && block.timestamp <= end) {
            assertEq(pool.claim(deviceTarget, 0, incident, _noMembers()), amount);
            assertEq(usd.balanceOf(insured), amount);
            assertEq(pool.lockedCapital(), 0);
        } else {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IInsurancePool.InsuranceIncidentOutsideTerm.selector,
                    uint64(block.timestamp),
                    start,
                    end
                )
            );
            pool.claim(deviceTarget, 0, incident, _noMembers());
            vm.warp(uint256(end) + CLAIM_WINDOW + 1);
            pool.release(deviceTarget, 0, _noMembers());
            assertEq(pool.lockedCapital(), 0, "release unlocks it all");
            assertEq(pool.liabilities(), 0, "and the liability the slash reserved");
        }
    }

    function _checkPayouts(uint256 amount, uint256 seed) internal {
        (IPoolUnderTest p, MockIncidents incidents) = _mockPool();
        _buy(p, IInsurancePool.TargetKind.Device, deviceTarget, amount, 30 days);
        uint256 start = block.timestamp + WAITING_PERIOD;
        uint16[5] memory bps = _payouts();
        uint256 paid;
        for (uint256 i; i < 6; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            IFraudProofs.IncidentKind kind = IFraudProofs.IncidentKind(1 + (r % 4));
            bytes32 id = bytes32(r);
            incidents.setIncident(id, p256Id, kind, uint64(start + ((r >> 8) % 30 days)), 0);
            uint256 entitled = (amount * bps[uint8(kind)]) / 10_000;
            uint256 expected = entitled > paid ? Math.min(entitled - paid, amount - paid) : 0;
            if (expected == 0) {
                vm.expectRevert(
                    abi.encodeWithSelector(IInsurancePool.InsurancePolicyExhausted.selector, deviceTarget, 0)
                );
                p.claim(deviceTarget, 0, id, _noMembers());
                continue;
            }
            assertEq(p.claim(deviceTarget, 0, id, _noMembers()), expected);
            paid += expected;
            vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsurancePolicyExhausted.selector, deviceTarget, 0));
            p.claim(deviceTarget, 0, id, _noMembers());
        }
        assertLe(paid, amount);
        assertEq(p.policy(deviceTarget, 0).paid, paid);
        assertEq(usd.balanceOf(insured), paid);
        assertEq(p.lockedCapital(), amount - paid);
    }

    function _checkIncidentTime(uint256 term, uint256 offset) internal {
        uint256 snapshot = vm.snapshotState();
        (IPoolUnderTest p, MockIncidents incidents) = _mockPool();
        vm.warp(block.timestamp + 1 days);
        uint40 start = uint40(block.timestamp + WAITING_PERIOD);
        uint40 end = uint40(start + term);
        _buy(p, IInsurancePool.TargetKind.Device, deviceTarget, 100e18, term);
        uint64 time = uint64(start - 1 days + offset);
        incidents.setIncident(keccak256("t"), p256Id, IFraudProofs.IncidentKind.Equivocation, time, 0);
        if (time >= start && time <= end) {
            assertEq(p.claim(deviceTarget, 0, keccak256("t"), _noMembers()), 100e18);
        } else {
            vm.expectRevert(
                abi.encodeWithSelector(IInsurancePool.InsuranceIncidentOutsideTerm.selector, time, start, end)
            );
            p.claim(deviceTarget, 0, keccak256("t"), _noMembers());
        }
        vm.revertToState(snapshot);
    }

    /// @dev Staking's side of a slash, simulated: `recovery` arrives, then the pool is told.
    function _checkBooking(uint256 cover, uint256 recovery) internal {
        uint256 snapshot = vm.snapshotState();
        (IPoolUnderTest p, ) = _mockPool();
        if (cover != 0) _buy(p, IInsurancePool.TargetKind.Device, deviceTarget, cover, 30 days);
        uint256 assetsBefore = p.totalAssets();
        uint256 unearnedBefore = p.unearned();
        usd.mint(address(p), recovery);
        uint256 booked = Math.min(cover, recovery);
        vm.expectEmit(address(p));
        emit IInsurancePool.LossBooked(p256Id, deviceTarget, keccak256("slash"), cover, recovery, recovery - booked);
        vm.prank(address(deviceStaking));
        p.onStakeSlashed(p256Id, deviceTarget, keccak256("slash"), recovery);
        assertEq(p.liabilities(), cover, "the whole exposure is a liability");
        (uint256 exposure, uint256 reserved) = p.exposureOf(p256Id, deviceTarget);
        assertEq(reserved, exposure);
        assertEq(p.totalAssets(), assetsBefore - (cover - booked), "drops only by the uncovered part");
        assertEq(p.unearned(), unearnedBefore + recovery - booked, "the surplus vests");
        assertEq(p.targetState(deviceTarget).incidentAt, block.timestamp);
        assertLe(p.totalAssets() + p.unearned(), usd.balanceOf(address(p)), "never books more than it holds");
        vm.revertToState(snapshot);
    }
}
