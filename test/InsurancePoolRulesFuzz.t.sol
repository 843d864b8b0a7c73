// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IDeviceStaking} from "../contracts/interfaces/IDeviceStaking.sol";
import {IFraudProofs} from "../contracts/interfaces/IFraudProofs.sol";
import {IInsurancePool} from "../contracts/interfaces/IInsurancePool.sol";
import {MockIncidents} from "../contracts/mocks/MockIncidents.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {InsuranceFixture, IPoolUnderTest} from "./utils/InsuranceFixture.sol";

/// @notice Fuzz tests of the economic model's rules (pricing in pieces, withdrawal limits, rounding, feed
/// shares, streams, vesting, allocation locks, evidence timing), each with a concrete twin.
contract InsurancePoolRulesFuzzTest is InsuranceFixture {
    address internal insurer2 = makeAddr("insurer2");

    // ------------------------------------------------------------------ pricing

    /// @notice Buying an amount in N pieces in one block costs at least buying it at once and at most N wei
    /// more per rate term (four terms, each rounded up once per purchase; terms long enough that the
    /// minimum premium never binds).
    function testFuzz_buyCoverage_PiecesCostAtLeastWhole(uint256 amount, uint256 n, uint256 term) public {
        n = bound(n, 1, 8);
        amount = bound(amount, n, 200e18);
        term = bound(term, 30 days, MAX_TERM);
        _checkPieces(amount, n, term);
    }

    /// @notice Concrete twin of testFuzz_buyCoverage_PiecesCostAtLeastWhole.
    function test_buyCoverage_PiecesCostAtLeastWhole_Concrete() public {
        _checkPieces(199e18 + 7, 7, 123 days);
    }

    // ------------------------------------------------------------------ withdrawals and rounding

    /// @notice Whatever the time since the request (before, inside or after its window) and the coverage
    /// locked, redeem(maxRedeem(owner)) never reverts and pays its preview; withdraw(maxWithdraw) neither.
    function testFuzz_redeem_MaxRedeemNeverReverts(uint256 elapsed, uint256 cover, uint256 part) public {
        elapsed = bound(elapsed, 0, COOLDOWN + WITHDRAWAL_WINDOW + 3 days);
        cover = bound(cover, 0, 200e18);
        part = bound(part, 1, 10_000);
        _checkMaxRedeem(elapsed, cover, part);
    }

    /// @notice Concrete twins of testFuzz_redeem_MaxRedeemNeverReverts: in the cooldown, at the unlock, at the
    /// last second of the window, at expiry.
    function test_redeem_MaxRedeemNeverReverts_Concrete() public {
        uint256[4] memory times = [
            uint256(COOLDOWN - 1),
            COOLDOWN,
            COOLDOWN + WITHDRAWAL_WINDOW - 1,
            COOLDOWN + WITHDRAWAL_WINDOW
        ];
        for (uint256 i; i < 4; ++i) _checkMaxRedeem(times[i], 150e18, 10_000);
    }

    /// @notice At any share price the previews round in the vault's favour (what enters is rounded up, what
    /// leaves down), deposit and mint do what they preview, and maxDeposit is accepted.
    function testFuzz_previews_RoundInVaultsFavour(uint256 assets, uint256 elapsed) public {
        assets = bound(assets, 1, 1e30);
        elapsed = bound(elapsed, 0, 40 days);
        _checkRounding(assets, elapsed);
    }

    /// @notice Concrete twin of testFuzz_previews_RoundInVaultsFavour.
    function test_previews_RoundInVaultsFavour_Concrete() public {
        _checkRounding(1e18 + 1, 9 days + 7);
    }

    // ------------------------------------------------------------------ feeds

    /// @notice One member's incident of any kind pays ceil(amount / k) times the kind's rate (k = 2 of 2).
    function testFuzz_claim_FeedMemberPaysShareTimesRate(uint256 amount, uint256 kind) public {
        amount = bound(amount, 1, 400e18);
        kind = bound(kind, 1, 4);
        _checkFeedShare(amount, IFraudProofs.IncidentKind(kind));
    }

    /// @notice Concrete twins of testFuzz_claim_FeedMemberPaysShareTimesRate: an odd amount, both rates.
    function test_claim_FeedMemberPaysShareTimesRate_Concrete() public {
        _checkFeedShare(301, IFraudProofs.IncidentKind.RevokedFirmware);
        _checkFeedShare(400e18, IFraudProofs.IncidentKind.Equivocation);
    }

    // ------------------------------------------------------------------ streams

    /// @notice A premium streams linearly until the first midnight after the term: at any time the earned part
    /// is premium * elapsed / duration within 1 wei, earned + unearned is the premium, and all is earned then.
    function testFuzz_premium_StreamsLinearly(uint256 amount, uint256 term, uint256 elapsed) public {
        amount = bound(amount, 1, 200e18);
        term = bound(term, MIN_TERM, MAX_TERM);
        elapsed = bound(elapsed, 0, term + 2 days);
        _checkStream(amount, term, elapsed);
    }

    /// @notice Concrete twin of testFuzz_premium_StreamsLinearly.
    function test_premium_StreamsLinearly_Concrete() public {
        _checkStream(100e18, 30 days, 15 days);
    }

    /// @notice A recovery beyond the liability is earned linearly over recoveryVesting (to a midnight).
    function testFuzz_onStakeSlashed_SurplusVestsLinearly(uint256 recovery, uint256 elapsed) public {
        recovery = bound(recovery, 1, 1e24);
        elapsed = bound(elapsed, 0, RECOVERY_VESTING + 2 days);
        _checkVesting(recovery, elapsed);
    }

    /// @notice Concrete twin of testFuzz_onStakeSlashed_SurplusVestsLinearly.
    function test_onStakeSlashed_SurplusVestsLinearly_Concrete() public {
        _checkVesting(900e18, 3 days + 5);
    }

    /// @notice A deposit made at any time before a sale gets nothing of the premiums earned before it: right
    /// after the sale its shares are worth the deposit, rounded down by at most 1 wei.
    function testFuzz_deposit_BeforeSaleGetsNoEarlierPremium(uint256 elapsed, uint256 amount) public {
        elapsed = bound(elapsed, 0, 25 days);
        amount = bound(amount, 1e12, 1e27);
        _checkLateDeposit(elapsed, amount);
    }

    /// @notice Concrete twin of testFuzz_deposit_BeforeSaleGetsNoEarlierPremium.
    function test_deposit_BeforeSaleGetsNoEarlierPremium_Concrete() public {
        _checkLateDeposit(17 days, 12_345e18);
    }

    // ------------------------------------------------------------------ allocations and timing

    /// @notice Deallocating succeeds exactly when what remains covers requiredAllocation = ceil(exposure /
    /// ceiling); otherwise staking reverts with StakingAllocationInUse.
    function testFuzz_deallocate_OnlyAboveRequired(uint256 cover, uint256 amount) public {
        cover = bound(cover, 1, 200e18);
        amount = bound(amount, 1, DEVICE_ALLOCATION);
        _checkDeallocate(cover, amount);
    }

    /// @notice Concrete twins of testFuzz_deallocate_OnlyAboveRequired: exactly the free part, one wei more.
    function test_deallocate_OnlyAboveRequired_Concrete() public {
        _checkDeallocate(150e18, 100e18);
        _checkDeallocate(150e18, 100e18 + 1);
    }

    /// @notice Evidence signed at any time before the coverage starts (before the sale, or during the waiting
    /// period) pays nothing, though proven during the term.
    function testFuzz_claim_EvidenceBeforeStartNeverPays(uint256 signedBefore) public {
        signedBefore = bound(signedBefore, 1, 12 hours);
        _checkEarlyEvidence(signedBefore);
    }

    /// @notice Concrete twins of testFuzz_claim_EvidenceBeforeStartNeverPays: a second before the start, and
    /// before the sale.
    function test_claim_EvidenceBeforeStartNeverPays_Concrete() public {
        _checkEarlyEvidence(1);
        _checkEarlyEvidence(WAITING_PERIOD + 1);
    }

    // ------------------------------------------------------------------ checks

    function _checkPieces(uint256 amount, uint256 n, uint256 term) internal {
        uint256 whole = pool.quote(IInsurancePool.TargetKind.Device, deviceTarget, amount, term);
        uint256 sum;
        for (uint256 i; i < n; ++i) {
            uint256 piece = i == n - 1 ? amount - (amount / n) * (n - 1) : amount / n;
            (, uint256 premium) = _buyDevice(p256Id, piece, term);
            sum += premium;
        }
        assertGe(sum, whole, "pieces never cheaper");
        assertLe(sum, whole + 4 * n, "at most a wei per rate term and piece more");
    }

    function _checkMaxRedeem(uint256 elapsed, uint256 cover, uint256 part) internal {
        uint256 snapshot = vm.snapshotState();
        if (cover != 0) _buyDevice(p256Id, cover, 30 days);
        uint256 shares = pool.balanceOf(insurer);
        vm.prank(insurer);
        pool.requestWithdrawal(Math.max(1, (shares * part) / 10_000));
        vm.warp(block.timestamp + elapsed);
        uint256 maxShares = pool.maxRedeem(insurer);
        uint256 previewed = pool.previewRedeem(maxShares);
        uint256 before = usd.balanceOf(insurer);
        vm.prank(insurer);
        assertEq(pool.redeem(maxShares, insurer, insurer), previewed, "redeem(maxRedeem) pays its preview");
        assertEq(usd.balanceOf(insurer), before + previewed);
        uint256 maxAssets = pool.maxWithdraw(insurer);
        vm.prank(insurer);
        pool.withdraw(maxAssets, insurer, insurer);
        assertLe(pool.lockedCapital(), pool.totalAssets() + pool.liabilities(), "locked capital stays");
        vm.revertToState(snapshot);
    }

    function _checkRounding(uint256 assets, uint256 elapsed) internal {
        _buyDevice(p256Id, 133e18, 30 days);
        _buyDevice(secpId, 77e18, 20 days);
        vm.warp(block.timestamp + elapsed);
        uint256 shares = pool.previewDeposit(assets);
        assertLe(shares, pool.previewWithdraw(assets), "deposit mints no more than withdraw burns");
        assertGe(pool.previewMint(shares), pool.previewRedeem(shares), "mint costs no less than redeem pays");
        assertLe(pool.previewRedeem(shares), assets, "a deposit is worth at most itself");
        assertEq(_deposit(pool, insurer2, assets), shares, "deposit mints its preview");
        uint256 cost = pool.previewMint(shares + 1);
        usd.mint(insurer2, cost);
        vm.startPrank(insurer2);
        usd.approve(address(pool), cost);
        assertEq(pool.mint(shares + 1, insurer2), cost, "mint pulls its preview");
        uint256 max = pool.maxDeposit(insurer2);
        vm.stopPrank();
        _deposit(pool, insurer2, max);
        assertEq(pool.maxDeposit(insurer2), 0, "full after maxDeposit");
    }

    function _checkFeedShare(uint256 amount, IFraudProofs.IncidentKind kind) internal {
        uint256 snapshot = vm.snapshotState();
        (IPoolUnderTest p, MockIncidents incidents) = _mockPool();
        _stakeAndAllocate(p, p256Id, feedTarget, FEED_ALLOCATION);
        _stakeAndAllocate(p, secpId, feedTarget, FEED_ALLOCATION);
        _buy(p, IInsurancePool.TargetKind.Feed, feedTarget, amount, 30 days);
        uint256 share = Math.ceilDiv(amount, 2);
        (uint256 exposure, ) = p.exposureOf(secpId, feedTarget);
        assertEq(exposure, share);
        incidents.setIncident(keccak256("m"), secpId, kind, uint64(block.timestamp + WAITING_PERIOD), 0);
        DeviceId[] memory members = feed.members();
        uint256 expected = Math.min((share * _payouts()[uint8(kind)]) / 10_000, amount);
        if (expected == 0) {
            vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsurancePolicyExhausted.selector, feedTarget, 0));
            p.claim(feedTarget, 0, keccak256("m"), members);
        } else {
            assertEq(p.claim(feedTarget, 0, keccak256("m"), members), expected);
            (exposure, ) = p.exposureOf(secpId, feedTarget);
            assertEq(exposure, share - expected, "the payout leaves the member's exposure");
        }
        vm.revertToState(snapshot);
    }

    function _checkStream(uint256 amount, uint256 term, uint256 elapsed) internal {
        (, uint256 premium) = _buyDevice(p256Id, amount, term);
        uint256 streamEnd = Math.ceilDiv(block.timestamp + WAITING_PERIOD + term, 1 days) * 1 days;
        uint256 duration = streamEnd - block.timestamp;
        vm.warp(block.timestamp + elapsed);
        uint256 earned = pool.totalAssets() - CAPITAL;
        assertEq(earned + pool.unearned(), premium, "earned plus unearned is the premium");
        assertApproxEqAbs(earned, (premium * Math.min(elapsed, duration)) / duration, 1, "linear");
        vm.warp(streamEnd);
        assertEq(pool.totalAssets(), CAPITAL + premium, "all earned at the first midnight after the end");
    }

    function _checkVesting(uint256 recovery, uint256 elapsed) internal {
        (IPoolUnderTest p, ) = _mockPool();
        _buy(p, IInsurancePool.TargetKind.Device, deviceTarget, 50e18, 30 days);
        uint256 premium = p.unearned();
        usd.mint(address(p), 50e18 + recovery);
        vm.prank(address(deviceStaking));
        p.onStakeSlashed(p256Id, deviceTarget, keccak256("s"), 50e18 + recovery);
        uint256 assetsAtProof = p.totalAssets();
        uint256 duration = Math.ceilDiv(block.timestamp + RECOVERY_VESTING, 1 days) * 1 days - block.timestamp;
        uint256 premiumDuration =
            Math.ceilDiv(block.timestamp + WAITING_PERIOD + 30 days, 1 days) * 1 days - block.timestamp;
        vm.warp(block.timestamp + elapsed);
        uint256 expected =
            (recovery * Math.min(elapsed, duration)) / duration +
                (premium * Math.min(elapsed, premiumDuration)) / premiumDuration;
        assertApproxEqAbs(p.totalAssets() - assetsAtProof, expected, 2, "the surplus vests linearly");
    }

    function _checkLateDeposit(uint256 elapsed, uint256 amount) internal {
        _buyDevice(secpId, 200e18, 365 days);
        vm.warp(block.timestamp + elapsed);
        uint256 shares = _deposit(pool, insurer2, amount);
        _buyDevice(p256Id, 200e18, 365 days);
        uint256 value = pool.previewRedeem(shares);
        assertLe(value, amount, "nothing earned before the deposit");
        assertGe(value + 1, amount);
    }

    function _checkDeallocate(uint256 cover, uint256 amount) internal {
        uint256 snapshot = vm.snapshotState();
        _buyDevice(p256Id, cover, 30 days);
        uint256 required = Math.ceilDiv(cover * 10_000, COVER_FACTOR_BPS);
        assertEq(pool.requiredAllocation(p256Id, deviceTarget), required);
        uint256 remaining = DEVICE_ALLOCATION - amount;
        if (remaining < required) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IDeviceStaking.StakingAllocationInUse.selector,
                    p256Id,
                    address(pool),
                    deviceTarget,
                    remaining,
                    required
                )
            );
        }
        vm.prank(operator);
        deviceStaking.deallocate(p256Id, address(pool), deviceTarget, amount);
        if (remaining >= required) {
            assertEq(deviceStaking.allocationOf(p256Id, address(pool), deviceTarget), remaining);
        }
        vm.revertToState(snapshot);
    }

    function _checkEarlyEvidence(uint256 signedBefore) internal {
        uint256 snapshot = vm.snapshotState();
        uint40 start = uint40(block.timestamp + WAITING_PERIOD);
        _buyDevice(p256Id, 100e18, 30 days);
        vm.warp(start + 1 hours);
        bytes32 incident = _equivocateAt(p256, p256Id, 9, start - signedBefore);
        vm.expectRevert(
            abi.encodeWithSelector(
                IInsurancePool.InsuranceIncidentOutsideTerm.selector,
                uint64(start - signedBefore),
                start,
                start + 30 days
            )
        );
        pool.claim(deviceTarget, 0, incident, _noMembers());
        vm.revertToState(snapshot);
    }
}
