// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IDeviceStaking} from "../contracts/interfaces/IDeviceStaking.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {AllocationFixture, MockStakeBacker} from "./StakingAllocation.t.sol";

/// @notice Fuzzes every amount of allocation, deallocation, withdrawal of allocated stake, the slash's
/// distribution and the bounty-versus-ceiling checks; each property has a concrete twin with fixed values.
contract StakingAllocationFuzzTest is AllocationFixture {
    /// @dev Three of these still fit the uint96 stake record (~7.9e28).
    uint256 internal constant MAX_AMOUNT = 1e28;

    // ================================================================ allocate

    /// @dev A second allocation succeeds exactly when it fits in the active stake the first left
    /// unallocated (pending stake never counts); the views add up either way.
    function _checkAllocate(uint256 staked, uint256 requested, uint256 first, uint256 second) internal {
        _stake(staked);
        if (requested != 0) _request(requested);
        uint256 active = staked - requested;
        _allocate(backerA, _scope(), first);
        uint256 unallocated = active - first;
        if (second > unallocated) {
            vm.expectRevert(
                abi.encodeWithSelector(IDeviceStaking.StakingStakeAllocated.selector, id, unallocated, second)
            );
            _allocate(backerB, FEED, second);
            assertEq(staking.allocatedOf(id), first);
            assertEq(staking.allocationsOf(id).length, 1);
            return;
        }
        vm.expectEmit(address(staking));
        emit IDeviceStaking.Allocated(id, address(backerB), FEED, second, second);
        _allocate(backerB, FEED, second);
        assertEq(staking.allocatedOf(id), first + second);
        assertEq(staking.allocationOf(id, address(backerA), _scope()), first);
        assertEq(staking.allocationOf(id, address(backerB), FEED), second);
        assertEq(staking.stakeOf(id).allocations, 2);
        assertLe(staking.allocatedOf(id), staking.activeOf(id));
        // Allocation moves no tokens and leaves active and pending stake as they were.
        assertEq(staking.activeOf(id), active);
        assertEq(staking.slashableOf(id), staked);
        assertEq(token.balanceOf(address(staking)), staked);
    }

    function testFuzz_allocate_OnlyUnallocatedActiveStake(
        uint256 staked,
        uint256 requested,
        uint256 first,
        uint256 second
    ) public {
        staked = bound(staked, MIN, MAX_AMOUNT);
        // No request, or one that leaves at least the minimum active (something must stay to allocate).
        requested = bound(requested, 0, staked - MIN);
        uint256 active = staked - requested;
        first = bound(first, 1, active);
        // Around the edge half the time.
        if (second % 2 == 0) second = bound(second, active - first, active - first + 1);
        second = bound(second, 1, MAX_AMOUNT);
        _checkAllocate(staked, requested, first, second);
    }

    function test_allocate_OnlyUnallocatedActiveStake_Concrete() public {
        _checkAllocate(1_000e18, 300e18, 500e18, 200e18 + 1);
    }

    function test_allocate_OnlyUnallocatedActiveStake_ConcreteExact() public {
        _checkAllocate(1_000e18, 300e18, 500e18, 200e18);
    }

    // ================================================================ deallocate

    /// @dev A deallocation succeeds exactly when it takes at most the allocation and leaves at least what
    /// the backer requires; taking all of it removes the allocation from the list.
    function _checkDeallocate(uint256 allocation, uint256 required, uint256 amount) internal {
        _stake(allocation < MIN ? MIN : allocation);
        _allocate(backerA, FEED, allocation);
        backerA.setRequiredAllocation(id, FEED, required);
        if (amount > allocation) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IDeviceStaking.StakingInsufficientAllocation.selector,
                    id,
                    address(backerA),
                    FEED,
                    allocation
                )
            );
            _deallocate(backerA, FEED, amount);
            assertEq(staking.allocatedOf(id), allocation);
            return;
        }
        uint256 remaining = allocation - amount;
        if (remaining < required) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IDeviceStaking.StakingAllocationInUse.selector,
                    id,
                    address(backerA),
                    FEED,
                    remaining,
                    required
                )
            );
            _deallocate(backerA, FEED, amount);
            assertEq(staking.allocatedOf(id), allocation);
            return;
        }
        vm.expectEmit(address(staking));
        emit IDeviceStaking.Deallocated(id, address(backerA), FEED, amount, remaining);
        _deallocate(backerA, FEED, amount);
        assertEq(staking.allocationOf(id, address(backerA), FEED), remaining);
        assertEq(staking.allocatedOf(id), remaining);
        assertEq(staking.allocationsOf(id).length, remaining == 0 ? 0 : 1);
        assertEq(staking.stakeOf(id).allocations, remaining == 0 ? 0 : 1);
    }

    function testFuzz_deallocate_KeepsRequiredAllocation(uint256 allocation, uint256 required, uint256 amount) public {
        allocation = bound(allocation, 1, MAX_AMOUNT);
        required = bound(required, 0, allocation);
        amount = bound(amount, 1, allocation + 1);
        // Around the edge half the time.
        if (required % 2 == 0) amount = bound(amount, allocation - required, allocation - required + 1);
        if (amount == 0) amount = 1;
        _checkDeallocate(allocation, required, amount);
    }

    function test_deallocate_KeepsRequiredAllocation_Concrete() public {
        _checkDeallocate(500e18, 300e18, 200e18 + 1);
    }

    function test_deallocate_KeepsRequiredAllocation_ConcreteAll() public {
        _checkDeallocate(500e18, 0, 500e18);
    }

    function test_deallocate_KeepsRequiredAllocation_ConcreteTooMuch() public {
        _checkDeallocate(500e18, 0, 500e18 + 1);
    }

    // ================================================================ requestWithdrawal

    /// @dev A withdrawal request never takes allocated stake: it reverts whenever it asks for more than the
    /// unallocated active stake, and otherwise leaves the allocations whole and covered by active stake.
    function _checkRequestAllocated(uint256 staked, uint256 allocated, uint256 amount) internal {
        _stake(staked);
        _allocate(backerA, _scope(), allocated);
        uint256 unallocated = staked - allocated;
        uint256 remaining = staked - amount;
        if (amount > unallocated) {
            vm.expectRevert(
                abi.encodeWithSelector(IDeviceStaking.StakingStakeAllocated.selector, id, unallocated, amount)
            );
        } else if (remaining < MIN) {
            // remaining >= allocated > 0, so the request cannot be a full exit.
            vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingBelowMinimum.selector, id, remaining, MIN));
        }
        _request(amount);
        assertEq(staking.allocatedOf(id), allocated);
        assertLe(staking.allocatedOf(id), staking.activeOf(id));
        if (amount > unallocated || remaining < MIN) {
            assertEq(staking.activeOf(id), staked);
            return;
        }
        assertEq(staking.activeOf(id), remaining);
        assertEq(staking.stakeOf(id).pending, amount);
    }

    function testFuzz_requestWithdrawal_NeverTakesAllocatedStake(
        uint256 staked,
        uint256 allocated,
        uint256 amount
    ) public {
        staked = bound(staked, MIN, MAX_AMOUNT);
        allocated = bound(allocated, 1, staked);
        amount = bound(amount, 1, staked);
        // Around the edge half the time.
        if (amount % 2 == 0 && allocated < staked) amount = bound(amount, staked - allocated, staked - allocated + 1);
        _checkRequestAllocated(staked, allocated, amount);
    }

    function test_requestWithdrawal_NeverTakesAllocatedStake_Concrete() public {
        _checkRequestAllocated(1_000e18, 700e18, 300e18 + 1);
    }

    function test_requestWithdrawal_NeverTakesAllocatedStake_ConcreteExact() public {
        _checkRequestAllocated(1_000e18, 700e18, 300e18);
    }

    // ================================================================ slash

    struct SlashCase {
        uint16 bps;
        uint256 staked;
        uint256 requested;
        uint256[3] allocations;
        bool recipientIsBacker;
    }

    /// @dev A slash pays floor(slashed * b) to the beneficiary, floor(allocation * (1 - b)) to each
    /// allocation's backer (told after its tokens arrived), the rest to the loss recipient (told with scope
    /// 0 when it is an approved backer and the rest is not zero), pays out exactly what it took, and clears
    /// every allocation.
    function _checkSlash(SlashCase memory c) internal {
        backerA.setCoverFactorCeilingBps(0);
        backerB.setCoverFactorCeilingBps(0);
        MockStakeBacker recipient = new MockStakeBacker(IERC20(address(token)), 0);
        _redeploy(c.bps, address(recipient));
        if (c.recipientIsBacker) _approve(address(recipient));

        _stake(c.staked);
        MockStakeBacker[3] memory backers = [backerA, backerB, backerA];
        bytes32[3] memory scopes = [_scope(), FEED, FEED];
        for (uint256 i; i < 3; ++i) {
            if (c.allocations[i] != 0) _allocate(backers[i], scopes[i], c.allocations[i]);
        }
        if (c.requested != 0) _request(c.requested);

        uint256 bounty = (c.staked * c.bps) / BPS;
        uint256[3] memory shares;
        uint256 paid = bounty;
        for (uint256 i; i < 3; ++i) {
            shares[i] = (c.allocations[i] * (BPS - c.bps)) / BPS;
            paid += shares[i];
        }
        uint256 loss = c.staked - paid;

        vm.expectEmit(address(staking));
        emit IDeviceStaking.Slashed(id, prover, INCIDENT, bounty, loss);
        assertEq(_slash(), c.staked, "slashed");

        assertEq(token.balanceOf(prover), bounty, "bounty");
        assertEq(token.balanceOf(address(backerA)), shares[0] + shares[2], "backer A");
        assertEq(token.balanceOf(address(backerB)), shares[1], "backer B");
        assertEq(token.balanceOf(address(recipient)), loss, "loss recipient");
        assertEq(token.balanceOf(address(staking)), 0, "nothing left behind");
        assertEq(
            token.balanceOf(prover) +
                token.balanceOf(address(backerA)) +
                token.balanceOf(address(backerB)) +
                token.balanceOf(address(recipient)),
            c.staked,
            "conservation"
        );
        _checkSlashCalls(c, shares, loss, recipient);
        assertEq(staking.allocatedOf(id), 0, "allocated cleared");
        assertEq(staking.allocationsOf(id).length, 0, "list cleared");
        assertEq(staking.stakeOf(id).allocations, 0, "count cleared");
        for (uint256 i; i < 3; ++i) assertEq(staking.allocationOf(id, address(backers[i]), scopes[i]), 0);
    }

    /// @dev Every allocation's backer was called once, in list order, with its share already received.
    function _checkSlashCalls(
        SlashCase memory c,
        uint256[3] memory shares,
        uint256 loss,
        MockStakeBacker recipient
    ) internal view {
        uint256 callsA;
        uint256 receivedA;
        if (c.allocations[0] != 0) {
            receivedA += shares[0];
            _assertSlashCall(backerA, callsA, _scope(), shares[0], receivedA);
            ++callsA;
        }
        if (c.allocations[2] != 0) {
            receivedA += shares[2];
            _assertSlashCall(backerA, callsA, FEED, shares[2], receivedA);
            ++callsA;
        }
        assertEq(backerA.slashCallCount(), callsA, "calls to A");
        if (c.allocations[1] != 0) _assertSlashCall(backerB, 0, FEED, shares[1], shares[1]);
        assertEq(backerB.slashCallCount(), c.allocations[1] != 0 ? 1 : 0, "calls to B");
        bool told = c.recipientIsBacker && loss != 0;
        assertEq(recipient.slashCallCount(), told ? 1 : 0, "calls to the loss recipient");
        if (told) {
            MockStakeBacker.SlashCall memory r = recipient.slashCall(0);
            assertEq(r.scope, bytes32(0));
            assertEq(r.recovery, loss);
            assertEq(r.balanceAtCall, loss);
            assertEq(DeviceId.unwrap(r.deviceId), DeviceId.unwrap(id));
        }
    }

    function testFuzz_slash_PaysBountyBackersAndRest(
        uint16 bps,
        uint256 staked,
        uint256 requested,
        uint256[3] memory allocations,
        bool recipientIsBacker
    ) public {
        SlashCase memory c;
        c.bps = uint16(bound(bps, 0, BPS - 1));
        c.staked = bound(staked, MIN, MAX_AMOUNT);
        uint256 left = c.staked;
        for (uint256 i; i < 3; ++i) {
            // Zero (no allocation) one time in four.
            c.allocations[i] = allocations[i] % 4 == 0 || left == 0 ? 0 : bound(allocations[i], 1, left);
            left -= c.allocations[i];
        }
        // Pending stake from the unallocated part: a request that leaves at least the minimum active, or a
        // full exit (possible only when nothing is allocated) one time in two.
        c.requested = bound(requested, 0, left < c.staked - MIN ? left : c.staked - MIN);
        if (left == c.staked && requested % 2 == 1) c.requested = c.staked;
        c.recipientIsBacker = recipientIsBacker;
        _checkSlash(c);
    }

    function test_slash_PaysBountyBackersAndRest_Concrete() public {
        _checkSlash(
            SlashCase({
                bps: 1_234,
                staked: 1_000e18 + 7,
                requested: 99e18,
                allocations: [uint256(300e18 + 3), 1, 200e18 + 1],
                recipientIsBacker: true
            })
        );
    }

    function test_slash_PaysBountyBackersAndRest_ConcreteAllAllocated() public {
        _checkSlash(
            SlashCase({
                bps: 9_999,
                staked: MIN,
                requested: 0,
                allocations: [uint256(50e18), 25e18, 25e18],
                recipientIsBacker: true
            })
        );
    }

    // ================================================================ setBacker

    /// @dev Approval succeeds exactly when the backer's ceiling plus the bounty in force and the scheduled
    /// one (if any) stays below 100%; the error names the higher bounty.
    function _checkApproval(uint16 bounty, bool schedule, uint16 scheduled, uint256 ceiling) internal {
        backerA.setCoverFactorCeilingBps(0);
        backerB.setCoverFactorCeilingBps(0);
        _redeploy(bounty, lossRecipient);
        uint256 highest = bounty;
        if (schedule) {
            vm.prank(gov);
            staking.scheduleParams(_params(scheduled, lossRecipient));
            if (scheduled > highest) highest = scheduled;
        }
        MockStakeBacker c = new MockStakeBacker(IERC20(address(token)), ceiling);
        if (highest + ceiling >= BPS) {
            vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingBountyTooHigh.selector, highest, ceiling));
        }
        _approve(address(c));
        assertEq(staking.isBacker(address(c)), highest + ceiling < BPS);
    }

    function testFuzz_setBacker_BountyPlusCeilingBelowMax(
        uint16 bounty,
        bool schedule,
        uint16 scheduled,
        uint256 ceiling
    ) public {
        bounty = uint16(bound(bounty, 0, BPS - 1));
        scheduled = uint16(bound(scheduled, 0, BPS - 1));
        ceiling = bound(ceiling, 0, 2 * BPS);
        // Around the edge half the time.
        uint256 highest = schedule && scheduled > bounty ? scheduled : bounty;
        if (ceiling % 2 == 0) ceiling = bound(ceiling, BPS - highest - 1, BPS - highest);
        _checkApproval(bounty, schedule, scheduled, ceiling);
    }

    function test_setBacker_BountyPlusCeilingBelowMax_Concrete() public {
        _checkApproval(1_000, true, 3_000, 7_000);
    }

    function test_setBacker_BountyPlusCeilingBelowMax_ConcreteInForce() public {
        _checkApproval(3_000, true, 1_000, 6_999);
    }

    // ================================================================ scheduleParams

    /// @dev A bounty is scheduled exactly when it stays below 100% minus every listed backer's ceiling;
    /// the error names the first backer (in listing order) it fails against.
    function _checkScheduleBounty(uint256 ceilingA, uint256 ceilingB, uint16 bounty) internal {
        backerA.setCoverFactorCeilingBps(ceilingA);
        backerB.setCoverFactorCeilingBps(ceilingB);
        bool ok = bounty + ceilingA < BPS && bounty + ceilingB < BPS;
        if (bounty + ceilingA >= BPS) {
            vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingBountyTooHigh.selector, bounty, ceilingA));
        } else if (bounty + ceilingB >= BPS) {
            vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingBountyTooHigh.selector, bounty, ceilingB));
        }
        vm.prank(gov);
        staking.scheduleParams(_params(bounty, lossRecipient));
        (IDeviceStaking.Params memory pending, uint64 effectiveAt) = staking.pendingParams();
        assertEq(effectiveAt != 0, ok);
        if (ok) assertEq(pending.bountyBps, bounty);
    }

    function testFuzz_scheduleParams_BountyBelowEveryCeiling(uint256 ceilingA, uint256 ceilingB, uint16 bounty) public {
        ceilingA = bound(ceilingA, 0, BPS);
        ceilingB = bound(ceilingB, 0, BPS);
        bounty = uint16(bound(bounty, 0, BPS));
        _checkScheduleBounty(ceilingA, ceilingB, bounty);
    }

    function test_scheduleParams_BountyBelowEveryCeiling_Concrete() public {
        _checkScheduleBounty(5_000, 8_000, 2_000);
    }

    function test_scheduleParams_BountyBelowEveryCeiling_ConcreteOk() public {
        _checkScheduleBounty(5_000, 8_000, 1_999);
    }
}
