// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IDeviceAttestation} from "../contracts/interfaces/IDeviceAttestation.sol";
import {IDeviceStaking} from "../contracts/interfaces/IDeviceStaking.sol";
import {IFraudProofs} from "../contracts/interfaces/IFraudProofs.sol";
import {IInsurancePool} from "../contracts/interfaces/IInsurancePool.sol";
import {MockIncidents} from "../contracts/mocks/MockIncidents.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {InsuranceFixture, IPoolUnderTest} from "./utils/InsuranceFixture.sol";
import {TestKey} from "./utils/RegistryFixture.sol";

/// @notice The rules of the economic model, concretely: capacity from allocations only, feed policies on a
/// member snapshot, coverage timing, booking in the proof's transaction, streamed premiums, integrated
/// pricing, withdrawal windows and parameter bounds.
contract InsurancePoolRulesTest is InsuranceFixture {
    address internal insurer2 = makeAddr("insurer2");

    // ------------------------------------------------------------------ capacity from allocations

    /// @notice Staked but unallocated stake gives no capacity (reason 4), nor does an allocation for another
    /// scope (the feed).
    function test_buyCoverage_RevertWhen_StakeNotAllocatedToTheScope() public {
        (, DeviceId id) = _newDevice(SECP_PK_2);
        _expectNotInsurable(_target(id), 4);
        _buyDevice(id, 1e18, 30 days);
        _allocate(pool, id, feedTarget, 400e18);
        _expectNotInsurable(_target(id), 4);
        _buyDevice(id, 1e18, 30 days);
        assertEq(pool.securityReport(IInsurancePool.TargetKind.Device, _target(id), 0).costOfCorruption, STAKE);
    }

    /// @notice Stake pending withdrawal backs nothing: only the allocation counts, with the device's own
    /// arguments in the error.
    function test_buyCoverage_RevertWhen_OnlyPendingStakeBeyondAllocation() public {
        (, DeviceId id) = _newDevice(SECP_PK_2);
        vm.prank(operator);
        deviceStaking.requestWithdrawal(id, 500e18);
        _allocate(pool, id, _target(id), 100e18);
        vm.expectRevert(
            abi.encodeWithSelector(IInsurancePool.InsuranceCapacityExceeded.selector, _target(id), id, 51e18, 50e18)
        );
        _buyDevice(id, 51e18, 30 days);
        _buyDevice(id, 50e18, 30 days);
    }

    /// @notice A feed sale needs every member's allocation for the feed to carry its share: 401 on two members
    /// is a share of 200.5 against 200 of capacity.
    function test_buyCoverage_Feed_RevertWhen_MemberCapacityExceeded() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IInsurancePool.InsuranceCapacityExceeded.selector,
                feedTarget,
                p256Id,
                200.5e18,
                200e18
            )
        );
        _buyFeed(401e18, 30 days);
        _buyFeed(400e18, 30 days);
    }

    /// @notice A member without an allocation for the feed makes the feed uninsurable (capacity 0).
    function test_buyCoverage_Feed_RevertWhen_MemberWithoutAllocation() public {
        (TestKey memory k, DeviceId id) = _newDevice(SECP_PK_2);
        _addMember(id);
        _submitToFeed(k, id, 1, 20e8);
        vm.expectRevert(
            abi.encodeWithSelector(IInsurancePool.InsuranceCapacityExceeded.selector, feedTarget, id, 50e18, 0)
        );
        _buyFeed(100e18, 30 days);
    }

    /// @notice A member that is untrusted (reason 2), suspended (1) or has a known incident (3) makes the feed
    /// uninsurable, named in the error.
    function test_buyCoverage_Feed_RevertWhen_MemberNotInsurable() public {
        uint256 snapshot = vm.snapshotState();
        // Untrusted while the feed still answers (a quorum of fresh readings needs both members).
        vm.mockCall(
            address(registry),
            abi.encodeCall(IDeviceAttestation.isTrusted, (secpId, MAX_ATTESTATION_AGE)),
            abi.encode(false)
        );
        _expectMemberNotInsurable(secpId, 2);
        _buyFeed(1e18, 30 days);
        vm.clearMockedCalls();
        vm.revertToState(snapshot);

        vm.prank(suspender);
        registry.suspend(secpId, "maintenance");
        _expectMemberNotInsurable(secpId, 1);
        _buyFeed(1e18, 30 days);
        vm.revertToState(snapshot);

        (IPoolUnderTest p, MockIncidents incidents) = _mockPool();
        _buy(p, IInsurancePool.TargetKind.Device, _target(secpId), 10e18, 30 days);
        incidents.setIncident(keccak256("i"), secpId, IFraudProofs.IncidentKind.Equivocation, _start(), 0);
        p.claim(_target(secpId), 0, keccak256("i"), _noMembers());
        _stakeAndAllocate(p, p256Id, feedTarget, FEED_ALLOCATION);
        _stakeAndAllocate(p, secpId, feedTarget, FEED_ALLOCATION);
        vm.expectRevert(
            abi.encodeWithSelector(IInsurancePool.InsuranceMemberNotInsurable.selector, feedTarget, secpId, 3)
        );
        _buy(p, IInsurancePool.TargetKind.Feed, feedTarget, 1e18, 30 days);
    }

    /// @notice While coverage is live its allocation cannot leave (requiredAllocation = exposure / ceiling);
    /// once the policy is released, all of it can.
    function test_deallocate_BlockedWhileCoverageLive() public {
        _buyDevice(p256Id, 100e18, 1 days);
        assertEq(pool.requiredAllocation(p256Id, deviceTarget), 200e18);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeviceStaking.StakingAllocationInUse.selector,
                p256Id,
                address(pool),
                deviceTarget,
                200e18 - 1,
                200e18
            )
        );
        vm.prank(operator);
        deviceStaking.deallocate(p256Id, address(pool), deviceTarget, 200e18 + 1);
        vm.prank(operator);
        deviceStaking.deallocate(p256Id, address(pool), deviceTarget, 200e18);

        vm.warp(_start() + 1 days + CLAIM_WINDOW + 1);
        pool.release(deviceTarget, 0, _noMembers());
        assertEq(pool.requiredAllocation(p256Id, deviceTarget), 0);
        vm.prank(operator);
        deviceStaking.deallocate(p256Id, address(pool), deviceTarget, 200e18);
        assertEq(deviceStaking.allocationOf(p256Id, address(pool), deviceTarget), 0);
    }

    /// @notice A feed policy requires each member's share of its allocation for the feed, rounded up.
    function test_requiredAllocation_FeedShare() public {
        _buyFeed(3, 30 days);
        assertEq(pool.requiredAllocation(p256Id, feedTarget), 4, "share ceil(3 / 2) = 2, over 50%");
        assertEq(pool.requiredAllocation(secpId, feedTarget), 4);
        assertEq(pool.requiredAllocation(p256Id, deviceTarget), 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeviceStaking.StakingAllocationInUse.selector,
                secpId,
                address(pool),
                feedTarget,
                3,
                4
            )
        );
        vm.prank(operator);
        deviceStaking.deallocate(secpId, address(pool), feedTarget, FEED_ALLOCATION - 3);
    }

    // ------------------------------------------------------------------ feed policies

    /// @notice A feed sale snapshots the members (CoverageMembers) and stores their hash; each member's
    /// exposure grows by the share ceil(amount / k).
    function test_buyCoverage_Feed_SnapshotsMembers() public {
        DeviceId[] memory members = feed.members();
        vm.expectEmit(address(pool));
        emit IInsurancePool.CoverageMembers(feedTarget, 0, members);
        _buyFeed(301, 30 days);
        assertEq(pool.policy(feedTarget, 0).members, keccak256(abi.encode(members)));
        (uint256 exposure, ) = pool.exposureOf(p256Id, feedTarget);
        assertEq(exposure, 151);
        (exposure, ) = pool.exposureOf(secpId, feedTarget);
        assertEq(exposure, 151);
    }

    /// @notice With three members (k = 2) one member's out-of-bounds incident pays share * 50%, its
    /// equivocation tops it up to the share, and a second member (a median-controlling pair) pays the rest.
    function test_claim_Feed_ShareTimesPayoutRate() public {
        (IPoolUnderTest p, MockIncidents incidents) = _mockFeedPool();
        (TestKey memory k, DeviceId third) = _newDevice(P256_PK_2);
        _addMember(third);
        _submitToFeed(k, third, 1, 20e8);
        _stakeAndAllocate(p, third, feedTarget, FEED_ALLOCATION);
        _buy(p, IInsurancePool.TargetKind.Feed, feedTarget, 301e18, 30 days);
        DeviceId[] memory members = feed.members();
        assertEq(members.length, 3);
        uint256 share = 150.5e18;
        incidents.setIncident(bytes32(uint256(1)), p256Id, IFraudProofs.IncidentKind.OutOfBounds, _start(), 0);
        incidents.setIncident(bytes32(uint256(2)), p256Id, IFraudProofs.IncidentKind.Equivocation, _start(), 0);
        incidents.setIncident(bytes32(uint256(3)), third, IFraudProofs.IncidentKind.Equivocation, _start(), 0);
        assertEq(p.claim(feedTarget, 0, bytes32(uint256(1)), members), share / 2);
        assertEq(p.claim(feedTarget, 0, bytes32(uint256(2)), members), share / 2);
        assertEq(p.paidFor(feedTarget, 0, p256Id), share);
        assertEq(p.claim(feedTarget, 0, bytes32(uint256(3)), members), 301e18 - share, "capped at the amount");
        assertEq(p.policy(feedTarget, 0).paid, 301e18);
        assertEq(p.lockedCapital(), 0);
    }

    /// @notice A member that joined after the sale is not covered by it; naming the new member list is a
    /// mismatch with the snapshot.
    function test_claim_Feed_RevertWhen_MemberJoinedAfterSale() public {
        (IPoolUnderTest p, MockIncidents incidents) = _mockFeedPool();
        _buy(p, IInsurancePool.TargetKind.Feed, feedTarget, 100e18, 30 days);
        DeviceId[] memory snapshot = feed.members();
        (, DeviceId late) = _newDevice(P256_PK_2);
        _addMember(late);
        incidents.setIncident(keccak256("late"), late, IFraudProofs.IncidentKind.Equivocation, _start(), 0);
        vm.expectRevert(
            abi.encodeWithSelector(IInsurancePool.InsuranceIncidentNotCovered.selector, feedTarget, keccak256("late"))
        );
        p.claim(feedTarget, 0, keccak256("late"), snapshot);
        DeviceId[] memory current = feed.members();
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceMembersMismatch.selector, feedTarget, 0));
        p.claim(feedTarget, 0, keccak256("late"), current);
    }

    /// @notice A claim or release naming anything but the snapshot (reordered, shortened, empty) is refused.
    function test_claimAndRelease_Feed_RevertWhen_MembersMismatch() public {
        _buyFeed(100e18, 1 days);
        DeviceId[] memory members = feed.members();
        _waitForCoverage();
        bytes32 incident = _equivocate(secp, secpId, 2);
        DeviceId[] memory reordered = new DeviceId[](2);
        (reordered[0], reordered[1]) = (members[1], members[0]);
        DeviceId[] memory shortened = new DeviceId[](1);
        shortened[0] = secpId;
        DeviceId[][3] memory wrong = [reordered, shortened, _noMembers()];
        for (uint256 i; i < 3; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceMembersMismatch.selector, feedTarget, 0));
            pool.claim(feedTarget, 0, incident, wrong[i]);
        }
        vm.warp(_start() + 1 days + CLAIM_WINDOW + 1);
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceMembersMismatch.selector, feedTarget, 0));
        pool.release(feedTarget, 0, reordered);
        pool.release(feedTarget, 0, members);
        (uint256 exposure, ) = pool.exposureOf(p256Id, feedTarget);
        assertEq(exposure, 0, "release frees every member's share");
        assertEq(pool.requiredAllocation(p256Id, feedTarget), 0);
    }

    // ------------------------------------------------------------------ timing

    /// @notice Evidence dated before the sale, or inside the waiting period, pays nothing even when proven
    /// during the term: the incident's time is the evidence's.
    function test_claim_RevertWhen_EvidenceBeforeStart() public {
        uint256 sale = block.timestamp;
        _buyDevice(p256Id, 100e18, 30 days);
        _buyDevice(secpId, 100e18, 30 days);
        vm.warp(_startAt(sale) + 1 hours);
        bytes32 beforeSale = _equivocateAt(p256, p256Id, 5, sale - 1);
        bytes32 waiting = _equivocateAt(secp, secpId, 5, _startAt(sale) - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IInsurancePool.InsuranceIncidentOutsideTerm.selector,
                uint64(sale - 1),
                _startAt(sale),
                _startAt(sale) + 30 days
            )
        );
        pool.claim(deviceTarget, 0, beforeSale, _noMembers());
        vm.expectRevert(
            abi.encodeWithSelector(
                IInsurancePool.InsuranceIncidentOutsideTerm.selector,
                uint64(_startAt(sale) - 1),
                _startAt(sale),
                _startAt(sale) + 30 days
            )
        );
        pool.claim(_target(secpId), 0, waiting, _noMembers());
    }

    /// @notice In the block of a proof a policy bought first does not pay (its coverage has not started), and
    /// one bought after is refused (the incident is known).
    function test_buyCoverage_InTheProofsBlockNeverPays() public {
        _buyDevice(p256Id, 100e18, 30 days);
        bytes32 incident = _equivocate(p256, p256Id, 5);
        vm.expectRevert(
            abi.encodeWithSelector(
                IInsurancePool.InsuranceIncidentOutsideTerm.selector,
                uint64(block.timestamp),
                _start(),
                _start() + 30 days
            )
        );
        pool.claim(deviceTarget, 0, incident, _noMembers());
        _expectNotInsurable(deviceTarget, 3);
        _buyDevice(p256Id, 1e18, 30 days);
        vm.expectRevert(
            abi.encodeWithSelector(IInsurancePool.InsuranceMemberNotInsurable.selector, feedTarget, p256Id, 3)
        );
        _buyFeed(1e18, 30 days);
    }

    // ------------------------------------------------------------------ booking in the proof's transaction

    /// @notice The proof's transaction books the covered device's liability (its whole exposure) and the
    /// recovery against it: totalAssets does not drop, liabilities() is the exposure, the surplus vests.
    function test_onStakeSlashed_ProofBooksLiabilityWithoutDrop() public {
        _buyDevice(p256Id, 100e18, 30 days);
        _waitForCoverage();
        uint256 assetsBefore = pool.totalAssets();
        uint256 unearnedBefore = pool.unearned();
        _equivocate(p256, p256Id, 5);
        (uint256 exposure, uint256 reserved) = pool.exposureOf(p256Id, deviceTarget);
        assertEq(pool.liabilities(), exposure);
        assertEq(reserved, 100e18);
        assertEq(pool.totalAssets(), assetsBefore, "no drop: the recovery covers the liability");
        // 360 per allocation and 180 unallocated arrived; 100 of it paid for the liability at once.
        assertEq(pool.unearned(), unearnedBefore + 900e18 - 100e18);
    }

    /// @notice A recovery beyond the liability vests over recoveryVesting (to the first midnight after it):
    /// half of it after half that time, within rounding, all of it at the end.
    function test_onStakeSlashed_SurplusVestsLinearly() public {
        (IPoolUnderTest p, ) = _mockPool();
        usd.mint(address(p), 1_000e18);
        vm.prank(address(deviceStaking));
        p.onStakeSlashed(p256Id, deviceTarget, keccak256("s"), 1_000e18);
        uint256 duration = Math.ceilDiv(block.timestamp + RECOVERY_VESTING, 1 days) * 1 days - block.timestamp;
        vm.warp(block.timestamp + duration / 2);
        assertApproxEqAbs(p.totalAssets(), CAPITAL + (1_000e18 * (duration / 2)) / duration, 1);
        vm.warp(block.timestamp + duration - duration / 2);
        assertEq(p.totalAssets(), CAPITAL + 1_000e18);
        assertEq(p.unearned(), 0);
    }

    /// @notice Stake no allocation holds goes to the pool as loss recipient (scope 0) and vests too.
    function test_onStakeSlashed_UnallocatedLossVests() public {
        (TestKey memory k, DeviceId id) = _newDevice(SECP_PK_2);
        bytes32 incident = _pairId(
            IFraudProofs.IncidentKind.Equivocation,
            _feedReading(id, 1, 1e8),
            _feedReading(id, 1, 2e8)
        );
        vm.expectEmit(address(pool));
        emit IInsurancePool.LossBooked(id, bytes32(0), incident, 0, 900e18, 900e18);
        _equivocate(k, id, 1);
        assertEq(pool.totalAssets(), CAPITAL);
        assertEq(pool.unearned(), 900e18);
        vm.warp(block.timestamp + RECOVERY_VESTING + 1 days);
        assertEq(pool.totalAssets(), CAPITAL + 900e18);
    }

    /// @notice A release that frees a reserve its policy never paid (the lie fell inside the waiting period)
    /// holds the gain back: totalAssets does not jump at the release, heldBack() is the freed reserve, and it
    /// reaches the insurers linearly over recoveryVesting.
    function test_release_FreedReserveIsHeldBackAndVests() public {
        uint256 sale = block.timestamp;
        _buyDevice(p256Id, 100e18, 30 days);
        _equivocateAt(p256, p256Id, 5, sale);
        assertEq(pool.liabilities(), 100e18, "the whole exposure is reserved");
        // Past the claim window and every stream (premium, recovery surplus), so only the held-back part moves.
        vm.warp(_startAt(sale) + 30 days + CLAIM_WINDOW + RECOVERY_VESTING + 2 days);
        uint256 before = pool.totalAssets();
        pool.release(deviceTarget, 0, _noMembers());
        assertEq(pool.liabilities(), 0);
        assertEq(pool.totalAssets(), before, "no jump at the release");
        assertEq(pool.heldBack(), 100e18);
        vm.warp(block.timestamp + RECOVERY_VESTING / 2);
        assertApproxEqAbs(pool.totalAssets(), before + 50e18, 1);
        assertApproxEqAbs(pool.heldBack(), 50e18, 1);
        vm.warp(block.timestamp + RECOVERY_VESTING);
        assertEq(pool.totalAssets(), before + 100e18);
        assertEq(pool.heldBack(), 0);
    }

    // ------------------------------------------------------------------ streamed premiums

    /// @notice A premium streams linearly from the sale to the first midnight at or after the end: half of it
    /// at half that time (within 1 wei), all of it then; unearned() is always the rest.
    function test_premium_StreamsOverTheTerm() public {
        (, uint256 premium) = _buyDevice(p256Id, 100e18, 30 days);
        uint256 streamEnd = Math.ceilDiv(_start() + 30 days, 1 days) * 1 days;
        uint256 duration = streamEnd - block.timestamp;
        vm.warp(block.timestamp + duration / 2);
        uint256 earned = pool.totalAssets() - CAPITAL;
        assertApproxEqAbs(earned, (premium * (duration / 2)) / duration, 1);
        assertEq(pool.unearned(), premium - earned);
        vm.warp(streamEnd - 1);
        assertLt(pool.totalAssets(), CAPITAL + premium);
        vm.warp(streamEnd);
        assertEq(pool.totalAssets(), CAPITAL + premium);
        assertEq(pool.unearned(), 0);
    }

    /// @notice A deposit right before a big sale gets nothing of the premiums earned before it: its shares
    /// are worth its deposit (rounded down) after the sale, then earn only from then on.
    function test_deposit_BeforeBigSaleGetsNoEarlierPremium() public {
        _buyDevice(secpId, 200e18, 365 days);
        vm.warp(block.timestamp + 20 days);
        _submitToFeed(p256, p256Id, 2, 20e8);
        _submitToFeed(secp, secpId, 2, 21e8);
        uint256 shares = _deposit(pool, insurer2, 50_000e18);
        _buyDevice(p256Id, 200e18, 365 days);
        _buyFeed(400e18, 365 days);
        uint256 value = pool.previewRedeem(shares);
        assertLe(value, 50_000e18);
        assertGe(value + 1, 50_000e18);
    }

    // ------------------------------------------------------------------ pricing

    /// @notice Below the floor the premium is minPremiumBps of the amount, rounded up; a wei of coverage pays
    /// one wei per rate term, each rounded up on its own (base, utilization, capacity, attestation age).
    function test_quote_MinPremiumFloor() public view {
        assertEq(pool.quote(IInsurancePool.TargetKind.Device, deviceTarget, 100e18, 1 days), 0.1e18);
        assertEq(pool.quote(IInsurancePool.TargetKind.Device, deviceTarget, 1, 1 days), 4);
    }

    /// @notice Buying 200 in four pieces in one block costs at least what it costs at once, at most 4 wei per
    /// piece more (each of the four rate terms rounds up once per purchase).
    function test_buyCoverage_PiecesCostAtLeastWhole() public {
        uint256 whole = pool.quote(IInsurancePool.TargetKind.Device, deviceTarget, 200e18, 90 days);
        uint256 sum;
        for (uint256 i; i < 4; ++i) {
            (, uint256 premium) = _buyDevice(p256Id, 50e18, 90 days);
            sum += premium;
        }
        assertGe(sum, whole);
        assertLe(sum, whole + 16);
    }

    // ------------------------------------------------------------------ withdrawals

    /// @notice A matured request is redeemable until expiresAt (exclusive); then redeem reverts, the max views
    /// say 0, and cancelling returns the shares.
    function test_redeem_RevertWhen_RequestExpired() public {
        vm.prank(insurer);
        pool.requestWithdrawal(1e24);
        uint40 expiresAt = uint40(block.timestamp + COOLDOWN + WITHDRAWAL_WINDOW);
        vm.warp(expiresAt - 1);
        assertEq(pool.maxRedeem(insurer), 1e24);
        vm.warp(expiresAt);
        assertEq(pool.maxRedeem(insurer), 0);
        assertEq(pool.maxWithdraw(insurer), 0);
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceRequestExpired.selector, insurer, expiresAt));
        vm.prank(insurer);
        pool.redeem(1, insurer, insurer);
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceRequestExpired.selector, insurer, expiresAt));
        vm.prank(insurer);
        pool.withdraw(1, insurer, insurer);
        uint256 balance = pool.balanceOf(insurer);
        vm.prank(insurer);
        pool.cancelWithdrawal();
        assertEq(pool.balanceOf(insurer), balance + 1e24);
    }

    /// @notice redeem(0) and withdraw(0) succeed for anyone, request or not, and move nothing.
    function test_redeemAndWithdraw_ZeroAlwaysSucceeds() public {
        vm.expectEmit(address(pool));
        emit IERC4626.Withdraw(stranger, stranger, insurer, 0, 0);
        vm.prank(stranger);
        assertEq(pool.redeem(0, stranger, insurer), 0);
        vm.prank(stranger);
        assertEq(pool.withdraw(0, stranger, stranger), 0);
        assertEq(pool.totalAssets(), CAPITAL);
        assertEq(usd.balanceOf(stranger), 0);
    }

    // ------------------------------------------------------------------ parameters

    /// @notice The cover factor plus the staking bounty must stay below 100%, with a scheduled higher bounty
    /// counted too; and staking refuses to schedule a bounty that breaks the pool's ceiling.
    function test_setParams_RevertWhen_CoverFactorPlusBountyTooHigh() public {
        IInsurancePool.PoolParams memory p = _poolParams();
        p.coverFactorBps = 9_000;
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceCoverFactorTooHigh.selector, 9_000, 1_000));
        vm.prank(poolGovernor);
        pool.setParams(p);
        p.coverFactorBps = 8_999;
        vm.prank(poolGovernor);
        pool.setParams(p);

        IDeviceStaking.Params memory s = deviceStaking.params();
        s.bountyBps = 1_001;
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingBountyTooHigh.selector, 1_001, 8_999));
        vm.prank(stakingGovernor);
        deviceStaking.scheduleParams(s);
    }

    /// @notice A scheduled staking bounty bounds the cover factor before it takes effect.
    function test_setParams_RevertWhen_ScheduledBountyTooHigh() public {
        IDeviceStaking.Params memory s = deviceStaking.params();
        s.bountyBps = 3_000;
        vm.prank(stakingGovernor);
        deviceStaking.scheduleParams(s);
        IInsurancePool.PoolParams memory p = _poolParams();
        p.coverFactorBps = 7_000;
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceCoverFactorTooHigh.selector, 7_000, 3_000));
        vm.prank(poolGovernor);
        pool.setParams(p);
    }

    /// @notice The claim window and the cooldown must outlast the evidence window (1 day).
    function test_setParams_RevertWhen_WindowTooShort() public {
        IInsurancePool.PoolParams memory p = _poolParams();
        p.claimWindow = uint32(WINDOW);
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceWindowTooShort.selector, WINDOW, WINDOW));
        vm.prank(poolGovernor);
        pool.setParams(p);
        p = _poolParams();
        p.cooldown = uint32(WINDOW);
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceWindowTooShort.selector, WINDOW, WINDOW));
        vm.prank(poolGovernor);
        pool.setParams(p);
        p.cooldown = uint32(WINDOW + 1);
        vm.prank(poolGovernor);
        pool.setParams(p);
    }

    /// @notice The cover factor ceiling only rises, and the required allocation divides by it.
    function test_setParams_CeilingNeverDecreases() public {
        IInsurancePool.PoolParams memory p = _poolParams();
        p.coverFactorBps = 8_000;
        vm.prank(poolGovernor);
        pool.setParams(p);
        assertEq(pool.coverFactorCeilingBps(), 8_000);
        p.coverFactorBps = 2_000;
        vm.prank(poolGovernor);
        pool.setParams(p);
        assertEq(pool.coverFactorCeilingBps(), 8_000);
        _buyDevice(p256Id, 80e18, 30 days);
        assertEq(pool.requiredAllocation(p256Id, deviceTarget), 100e18);
    }

    // ------------------------------------------------------------------ helpers

    /// @dev A device registered by `operator`, attested, staked with STAKE, allocated nowhere.
    function _newDevice(uint256 pk) internal returns (TestKey memory k, DeviceId id) {
        k = pk == P256_PK_2 ? _p256Key(pk) : _secpKey(pk);
        id = _register(k);
        _attest(k, MEASUREMENT_V1, 1);
        _stake(id, STAKE);
    }

    /// @dev A mock-incidents pool to which both feed members allocated FEED_ALLOCATION for the feed.
    function _mockFeedPool() internal returns (IPoolUnderTest p, MockIncidents incidents) {
        (p, incidents) = _mockPool();
        _stakeAndAllocate(p, p256Id, feedTarget, FEED_ALLOCATION);
        _stakeAndAllocate(p, secpId, feedTarget, FEED_ALLOCATION);
    }

    /// @dev When coverage sold now starts.
    function _start() internal view returns (uint40) {
        return _startAt(block.timestamp);
    }

    function _startAt(uint256 sale) internal pure returns (uint40) {
        return uint40(sale + WAITING_PERIOD);
    }

    function _expectNotInsurable(bytes32 target, uint8 reason) internal {
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceTargetNotInsurable.selector, target, reason));
    }

    function _expectMemberNotInsurable(DeviceId member, uint8 reason) internal {
        vm.expectRevert(
            abi.encodeWithSelector(IInsurancePool.InsuranceMemberNotInsurable.selector, feedTarget, member, reason)
        );
    }
}
