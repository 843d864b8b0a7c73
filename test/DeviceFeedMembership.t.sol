// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Vm} from "forge-std/Vm.sol";
import {IDeviceFeed} from "../contracts/interfaces/IDeviceFeed.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {Reading} from "../contracts/types/Messages.sol";
import {FeedFixture} from "./utils/FeedFixture.sol";

/// @notice Unit and fuzz tests of DeviceFeed membership with the operator's consent: invitations, join,
/// requested leaves that wait out the staking unbonding period, and sequences remembered across re-joins.
contract DeviceFeedMembershipTest is FeedFixture {
    int256 internal constant BASE = 100e8;
    uint64 internal constant UNBONDING = 14 days;

    /// @dev A device the feed owner operates and one the fixture's `operator` operates, neither a member.
    DeviceId internal ownDevice;
    DeviceId internal invitee;

    function setUp() public override {
        super.setUp();
        ownDevice = _registerTo(_secpKey(0xC0A5E1), feedOwner);
        invitee = _registerTo(_secpKey(0xC0A5E2), operator);
    }

    function _invite(DeviceId id) internal {
        vm.prank(feedOwner);
        feed.addMember(id);
    }

    function _isMember(DeviceId id) internal view returns (bool) {
        DeviceId[] memory m = feed.members();
        for (uint256 i; i < m.length; ++i) if (DeviceId.unwrap(m[i]) == DeviceId.unwrap(id)) return true;
        return false;
    }

    /// @dev The operator of fixture device `device` asks to leave; returns the time it may leave.
    function _requestLeave(uint256 device) internal returns (uint40 leaveAt) {
        leaveAt = uint40(block.timestamp + staking.params().unbondingPeriod);
        vm.prank(operator);
        feed.requestLeave(ids[device]);
    }

    function _expectNotYetLeaving(DeviceId id, uint40 leaveAt) internal {
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotYetLeaving.selector, id, leaveAt));
    }

    /// @dev Builds and signs first, so the expected revert applies to submit itself.
    function _submitRejected(uint256 device, uint64 sequence, IDeviceFeed.Rejection reason) internal {
        Reading memory r = _reading(device, sequence, BASE);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(keys[device]);
        bytes memory sig = _signReading(keys[device], r);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedRejected.selector, ids[device], sequence, reason));
        feed.submit(r, key, sig);
    }

    // ------------------------------------------------------------------ addMember

    /// @notice An owner who operates the device consents by adding it: it is a member at once.
    function test_addMember_JoinsAtOnceWhenOwnerOperates() public {
        vm.expectEmit(address(feed));
        emit IDeviceFeed.MemberAdded(ownDevice);
        vm.prank(feedOwner);
        feed.addMember(ownDevice);
        assertTrue(_isMember(ownDevice));
        assertEq(feed.members().length, DEVICES + 1);
        assertEq(feed.slotOf(ownDevice).sequence, 0);
    }

    /// @notice An owner who does not operate the device only invites it: no membership until the operator joins.
    function test_addMember_InvitesWhenOwnerDoesNotOperate() public {
        vm.recordLogs();
        _invite(invitee);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "MemberInvited only, no MemberAdded");
        assertEq(logs[0].emitter, address(feed));
        assertEq(logs[0].topics[0], IDeviceFeed.MemberInvited.selector);
        assertEq(logs[0].topics[1], DeviceId.unwrap(invitee));
        assertFalse(_isMember(invitee));
        assertEq(feed.members().length, DEVICES);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotMember.selector, invitee));
        feed.slotOf(invitee);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotMember.selector, invitee));
        feed.evict(invitee);
    }

    /// @notice An invited device's readings do not count: it is rejected as no member.
    function test_addMember_InvitedDeviceCannotSubmit() public {
        vm.prank(feedOwner);
        feed.removeMember(ids[0]);
        _invite(ids[0]);
        _submitRejected(0, 1, IDeviceFeed.Rejection.NotMember);
        vm.prank(operator);
        feed.join(ids[0]);
        assertTrue(_submit(0, 1, BASE), "counts once its operator joined");
    }

    function test_addMember_RevertWhen_NotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, operator));
        vm.prank(operator);
        feed.addMember(invitee);
    }

    // ------------------------------------------------------------------ join

    function test_join_MakesInvitedDeviceMember() public {
        _invite(invitee);
        vm.expectEmit(address(feed));
        emit IDeviceFeed.MemberAdded(invitee);
        vm.prank(operator);
        feed.join(invitee);
        assertTrue(_isMember(invitee));
        assertEq(feed.members().length, DEVICES + 1);
    }

    function test_join_RevertWhen_NotOperator() public {
        _invite(invitee);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotOperator.selector, invitee, stranger));
        vm.prank(stranger);
        feed.join(invitee);
        // The feed owner is not the operator either: it cannot consent for the device.
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotOperator.selector, invitee, feedOwner));
        vm.prank(feedOwner);
        feed.join(invitee);
        assertFalse(_isMember(invitee));
    }

    function test_join_RevertWhen_NotInvited() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotInvited.selector, invitee));
        vm.prank(operator);
        feed.join(invitee);
    }

    function test_join_RevertWhen_AlreadyMember() public {
        _invite(invitee);
        vm.prank(operator);
        feed.join(invitee);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedAlreadyMember.selector, invitee));
        vm.prank(operator);
        feed.join(invitee);
    }

    /// @notice Consent belongs to whoever operates the device when it joins: after a custody transfer the
    /// new operator accepts the invitation, the previous one no longer can.
    function test_join_ByOperatorAfterCustodyTransfer() public {
        _invite(invitee);
        _transferCustody(invitee, newOperator);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotOperator.selector, invitee, operator));
        vm.prank(operator);
        feed.join(invitee);
        vm.prank(newOperator);
        feed.join(invitee);
        assertTrue(_isMember(invitee));
    }

    // ------------------------------------------------------------------ removeMember

    function test_removeMember_WithdrawsInvitation() public {
        _invite(invitee);
        vm.expectEmit(address(feed));
        emit IDeviceFeed.MemberRemoved(invitee);
        vm.prank(feedOwner);
        feed.removeMember(invitee);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotInvited.selector, invitee));
        vm.prank(operator);
        feed.join(invitee);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotMember.selector, invitee));
        vm.prank(feedOwner);
        feed.removeMember(invitee);
    }

    /// @notice The owner may still take a leaving member out at once.
    function test_removeMember_RemovesLeavingMemberAtOnce() public {
        _requestLeave(2);
        vm.prank(feedOwner);
        feed.removeMember(ids[2]);
        assertFalse(_isMember(ids[2]));
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotMember.selector, ids[2]));
        feed.completeLeave(ids[2]);
    }

    // ------------------------------------------------------------------ requestLeave

    function test_requestLeave_EmitsLeaveAtAfterUnbondingPeriod() public {
        staking.setUnbondingPeriod(3 days);
        vm.expectEmit(address(feed));
        emit IDeviceFeed.MemberLeaving(ids[1], uint40(block.timestamp + 3 days));
        vm.prank(operator);
        feed.requestLeave(ids[1]);
        assertTrue(_isMember(ids[1]), "still a member");
    }

    function test_requestLeave_RevertWhen_NotOperator() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotOperator.selector, ids[0], stranger));
        vm.prank(stranger);
        feed.requestLeave(ids[0]);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotOperator.selector, ids[0], feedOwner));
        vm.prank(feedOwner);
        feed.requestLeave(ids[0]);
    }

    function test_requestLeave_RevertWhen_NotMember() public {
        _invite(invitee);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotMember.selector, invitee));
        vm.prank(operator);
        feed.requestLeave(invitee);
    }

    /// @notice A leaving member keeps counting (in the median and the cost of corruption) until leaveAt,
    /// and is taken out by anyone from then on.
    function test_requestLeave_MemberCountsUntilLeaveAt() public {
        for (uint256 i; i < DEVICES; ++i) assertTrue(_submit(i, 1, BASE + int256(i)));
        uint256 costBefore = feed.costOfCorruption();
        uint40 leaveAt = _requestLeave(6);

        vm.warp(leaveAt - 1);
        assertTrue(_isMember(ids[6]));
        assertEq(feed.costOfCorruption(), costBefore, "its stake still counts");
        // Devices 3..6 answer; device 6's reading moves the median: it still counts.
        IDeviceFeed.SignedReading[] memory batch = new IDeviceFeed.SignedReading[](DEVICES - 3);
        for (uint256 i = 3; i < DEVICES; ++i) batch[i - 3] = _signed(_reading(i, 2, BASE + int256(i)), i);
        assertEq(feed.submitMany(batch), DEVICES - 3);
        (int256 answer, ) = feed.readFresh(MAX_READING_AGE);
        assertEq(answer, BASE + 4, "median of BASE + {3, 4, 5, 6}: (4 + 5) / 2");
        _expectNotYetLeaving(ids[6], leaveAt);
        feed.completeLeave(ids[6]);

        vm.warp(leaveAt);
        vm.expectEmit(address(feed));
        emit IDeviceFeed.MemberRemoved(ids[6]);
        vm.prank(stranger);
        feed.completeLeave(ids[6]);
        assertFalse(_isMember(ids[6]));
        assertEq(feed.members().length, DEVICES - 1);
        assertEq(feed.costOfCorruption(), costBefore - (MIN_STAKE + 6e18), "one operator: all stake minus device 6");
        // Three fresh readings left: a heartbeat later, no quorum, no new round.
        uint256 round = feed.latestRound();
        vm.warp(block.timestamp + HEARTBEAT);
        assertTrue(_submit(3, 3, BASE + 3));
        assertEq(feed.latestRound(), round);
    }

    // ------------------------------------------------------------------ completeLeave

    function test_completeLeave_RevertWhen_NotLeaving() public {
        _expectNotYetLeaving(ids[0], 0);
        feed.completeLeave(ids[0]);
    }

    function test_completeLeave_RevertWhen_NotMember() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotMember.selector, invitee));
        feed.completeLeave(invitee);
    }

    /// @notice A device that left and is invited back never reuses a sequence.
    function test_completeLeave_RemembersSequenceAcrossRejoin() public {
        assertTrue(_submit(0, 5, BASE));
        uint40 leaveAt = _requestLeave(0);
        vm.warp(leaveAt);
        feed.completeLeave(ids[0]);
        assertEq(feed.sequenceOf(ids[0]), 5);
        _inviteAndJoin(ids[0]);
        assertEq(feed.sequenceOf(ids[0]), 5);
        assertEq(feed.slotOf(ids[0]).timestamp, 0, "no reading carried over");
        _submitRejected(0, 5, IDeviceFeed.Rejection.SequenceNotIncreasing);
        assertTrue(_submit(0, 6, BASE));
    }

    /// @notice A member that left can be invited again; its new membership is not leaving.
    function test_completeLeave_LeftMemberCanBeReinvited() public {
        uint40 leaveAt = _requestLeave(3);
        vm.warp(leaveAt + 1 days);
        feed.completeLeave(ids[3]);
        vm.expectEmit(address(feed));
        emit IDeviceFeed.MemberInvited(ids[3]);
        _invite(ids[3]);
        assertFalse(_isMember(ids[3]), "invited, not yet a member");
        vm.prank(operator);
        feed.join(ids[3]);
        assertTrue(_isMember(ids[3]));
        _expectNotYetLeaving(ids[3], 0);
        feed.completeLeave(ids[3]);
    }

    // ------------------------------------------------------------------ fuzz

    /// @notice completeLeave succeeds exactly from now + the unbonding period on, whatever the period.
    function testFuzz_completeLeave_OnlyFromLeaveAt(uint64 period, uint256 wait) public {
        period = uint64(bound(period, 0, 365 days));
        wait = bound(wait, 0, uint256(period) + 2 days);
        staking.setUnbondingPeriod(period);
        uint40 leaveAt = _requestLeave(4);
        assertEq(leaveAt, block.timestamp + period);
        vm.warp(block.timestamp + wait);
        if (wait < period) {
            _expectNotYetLeaving(ids[4], leaveAt);
            feed.completeLeave(ids[4]);
            assertTrue(_isMember(ids[4]));
        } else {
            feed.completeLeave(ids[4]);
            assertFalse(_isMember(ids[4]));
        }
    }

    /// @notice Concrete twin: one second before and exactly at leaveAt.
    function test_completeLeave_AtLeaveAt() public {
        uint256 snapshot = vm.snapshotState();
        testFuzz_completeLeave_OnlyFromLeaveAt(UNBONDING, UNBONDING - 1);
        vm.revertToState(snapshot);
        testFuzz_completeLeave_OnlyFromLeaveAt(UNBONDING, UNBONDING);
    }

    /// @notice Only the device's operator can accept an invitation, whoever else calls.
    function testFuzz_join_OnlyByOperator(address caller) public {
        _invite(invitee);
        if (caller != operator) {
            vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotOperator.selector, invitee, caller));
        }
        vm.prank(caller);
        feed.join(invitee);
        assertEq(_isMember(invitee), caller == operator);
    }

    /// @notice Concrete twin: the feed owner cannot, the operator can.
    function test_join_OwnerCannotOperatorCan() public {
        uint256 snapshot = vm.snapshotState();
        testFuzz_join_OnlyByOperator(feedOwner);
        vm.revertToState(snapshot);
        testFuzz_join_OnlyByOperator(operator);
    }

    /// @notice After leaving and re-joining, a device's readings are accepted only above the highest
    /// sequence it ever used in the feed.
    function testFuzz_completeLeave_SequenceNeverReused(uint64 used, uint64 next) public {
        used = uint64(bound(used, 1, type(uint64).max - 1));
        assertTrue(_submit(1, used, BASE));
        uint40 leaveAt = _requestLeave(1);
        vm.warp(leaveAt);
        feed.completeLeave(ids[1]);
        _inviteAndJoin(ids[1]);
        if (next <= used) _submitRejected(1, next, IDeviceFeed.Rejection.SequenceNotIncreasing);
        else assertTrue(_submit(1, next, BASE));
        assertEq(feed.sequenceOf(ids[1]), next <= used ? used : next);
    }

    /// @notice Concrete twin: the used sequence is refused after re-joining, the next one counts.
    function test_completeLeave_SequenceAfterRejoin() public {
        uint256 snapshot = vm.snapshotState();
        testFuzz_completeLeave_SequenceNeverReused(7, 7);
        vm.revertToState(snapshot);
        testFuzz_completeLeave_SequenceNeverReused(7, 8);
    }
}
