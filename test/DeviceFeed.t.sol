// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
// solhint-disable-next-line no-console
import {console} from "forge-std/console.sol";
import {DeviceFeed} from "../contracts/feeds/DeviceFeed.sol";
import {IDeviceFeed} from "../contracts/interfaces/IDeviceFeed.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {IDeviceStaking} from "../contracts/interfaces/IDeviceStaking.sol";
import {DeviceMessageLib} from "../contracts/libraries/DeviceMessageLib.sol";
import {MockStaking} from "../contracts/mocks/MockStaking.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {Reading} from "../contracts/types/Messages.sol";
import {FeedFixture} from "./utils/FeedFixture.sol";

/// @notice Unit tests of DeviceFeed: configuration, membership, every rejection, the breakers, the
/// median and the Chainlink views.
contract DeviceFeedTest is FeedFixture {
    int256 internal constant BASE = 100e8;

    /// @dev Every device submits BASE + i (sequence 1): answer BASE + 3.
    function _fillAll() internal {
        for (uint256 i; i < DEVICES; ++i) assertTrue(_submit(i, 1, BASE + int256(i)));
    }

    /// @dev Builds and signs first, so the expected revert applies to submit itself.
    function _submitRejected(uint256 device, uint64 sequence, int256 value, IDeviceFeed.Rejection reason) internal {
        Reading memory r = _reading(device, sequence, value);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(keys[device]);
        bytes memory sig = _signReading(keys[device], r);
        _expectRejected(device, sequence, reason);
        feed.submit(r, key, sig);
    }

    function _expectRejected(uint256 device, uint64 sequence, IDeviceFeed.Rejection reason) internal {
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedRejected.selector, ids[device], sequence, reason));
    }

    // ------------------------------------------------------------------ constructor and metadata

    function test_constructor_StoresConfig() public view {
        IDeviceFeed.Config memory c = feed.config();
        assertEq(c.quorum, QUORUM);
        assertEq(c.maxReadingAge, MAX_READING_AGE);
        assertEq(c.minInterval, MIN_INTERVAL);
        assertEq(c.minStake, MIN_STAKE);
        assertEq(c.minValue, MIN_VALUE);
        assertEq(c.maxValue, MAX_VALUE);
        assertEq(c.maxDeviationBps, MAX_DEVIATION_BPS);
        assertEq(c.maxAttestationAge, MAX_ATTESTATION_AGE);
        assertEq(feed.decimals(), 8);
        assertEq(feed.description(), "Temperature, Hall 3 (C, 8 decimals)");
        assertEq(feed.version(), 1);
        assertEq(feed.feedId(), bytes32(uint256(uint160(address(feed)))));
        assertEq(feed.owner(), feedOwner);
        assertEq(feed.members().length, DEVICES);
        assertTrue(feed.isGuardian(feedOwner));
        assertTrue(feed.isGuardian(guardian));
        assertFalse(feed.isGuardian(stranger));
    }

    function test_constructor_RevertWhen_InvalidConfig() public {
        IDeviceStaking s = IDeviceStaking(address(staking));
        IDeviceFeed.Config memory c = _config();
        c.quorum = 0;
        vm.expectRevert(IDeviceFeed.DeviceFeedInvalidConfig.selector);
        new DeviceFeed(address(registry), s, c, feedOwner);
        c = _config();
        c.quorum = 33;
        vm.expectRevert(IDeviceFeed.DeviceFeedInvalidConfig.selector);
        new DeviceFeed(address(registry), s, c, feedOwner);
        c = _config();
        c.maxReadingAge = 0;
        vm.expectRevert(IDeviceFeed.DeviceFeedInvalidConfig.selector);
        new DeviceFeed(address(registry), s, c, feedOwner);
        c = _config();
        c.maxAttestationAge = 0;
        vm.expectRevert(IDeviceFeed.DeviceFeedInvalidConfig.selector);
        new DeviceFeed(address(registry), s, c, feedOwner);
        c = _config();
        c.minValue = c.maxValue + 1;
        vm.expectRevert(IDeviceFeed.DeviceFeedInvalidConfig.selector);
        new DeviceFeed(address(registry), s, c, feedOwner);
    }

    function test_constructor_RevertWhen_ZeroAddress() public {
        vm.expectRevert(IDeviceFeed.DeviceFeedZeroAddress.selector);
        new DeviceFeed(address(registry), IDeviceStaking(address(0)), _config(), feedOwner);
        vm.expectRevert(IDeviceFeed.DeviceFeedZeroAddress.selector);
        new DeviceFeed(address(0), IDeviceStaking(address(staking)), _config(), feedOwner);
    }

    /// @notice Without a proofs contract no evidence window bounds the readings: the feed is refused.
    function test_constructor_RevertWhen_NoProofs() public {
        vm.mockCall(address(staking), abi.encodeCall(MockStaking.proofs, ()), abi.encode(address(0)));
        vm.expectRevert(IDeviceFeed.DeviceFeedZeroAddress.selector);
        new DeviceFeed(address(registry), IDeviceStaking(address(staking)), _config(), feedOwner);
    }

    /// @notice A reading may not count longer than an equivocation on it stays provable.
    function test_constructor_RevertWhen_ReadingOutlivesEvidence() public {
        staking.setEvidenceWindow(MAX_READING_AGE - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeviceFeed.DeviceFeedReadingOutlivesEvidence.selector,
                MAX_READING_AGE,
                MAX_READING_AGE - 1
            )
        );
        new DeviceFeed(address(registry), IDeviceStaking(address(staking)), _config(), feedOwner);
    }

    function test_constructor_AcceptsReadingAgeEqualToEvidenceWindow() public {
        staking.setEvidenceWindow(MAX_READING_AGE);
        DeviceFeed created = new DeviceFeed(address(registry), IDeviceStaking(address(staking)), _config(), feedOwner);
        assertEq(created.config().maxReadingAge, MAX_READING_AGE);
    }

    /// @notice The window is read from the contract staking names as its proofs, not from staking itself.
    function test_constructor_ReadsWindowOfStakingsProofs() public {
        MockStaking proofs = new MockStaking();
        proofs.setEvidenceWindow(MAX_READING_AGE - 1);
        staking.setProofs(address(proofs));
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeviceFeed.DeviceFeedReadingOutlivesEvidence.selector,
                MAX_READING_AGE,
                MAX_READING_AGE - 1
            )
        );
        new DeviceFeed(address(registry), IDeviceStaking(address(staking)), _config(), feedOwner);
        proofs.setEvidenceWindow(MAX_READING_AGE);
        new DeviceFeed(address(registry), IDeviceStaking(address(staking)), _config(), feedOwner);
    }

    // ------------------------------------------------------------------ membership

    function test_addMember_RevertWhen_NotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        feed.addMember(DeviceId.wrap(bytes32(uint256(1))));
    }

    function test_addMember_RevertWhen_AlreadyMember() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedAlreadyMember.selector, ids[0]));
        vm.prank(feedOwner);
        feed.addMember(ids[0]);
    }

    /// @dev The 33rd device is owned by the feed owner, so addMember tries to make it a member at once.
    function test_addMember_RevertWhen_TooManyMembers() public {
        for (uint256 i = DEVICES; i < 32; ++i) {
            DeviceId id = _registerTo(_secpKey(0xD0D000 + i), feedOwner);
            vm.prank(feedOwner);
            feed.addMember(id);
        }
        assertEq(feed.members().length, 32);
        DeviceId extra = _registerTo(_secpKey(0xD0D000 + 99), feedOwner);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedTooManyMembers.selector, 32));
        vm.prank(feedOwner);
        feed.addMember(extra);
        assertEq(feed.members().length, 32);
    }

    /// @dev An invitation is no membership: the limit is checked when the operator joins.
    function test_join_RevertWhen_TooManyMembers() public {
        for (uint256 i = DEVICES; i < 32; ++i) {
            DeviceId id = _registerTo(_secpKey(0xD0D000 + i), feedOwner);
            vm.prank(feedOwner);
            feed.addMember(id);
        }
        DeviceId extra = _registerTo(_secpKey(0xD0D000 + 99), operator);
        vm.prank(feedOwner);
        feed.addMember(extra);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedTooManyMembers.selector, 32));
        vm.prank(operator);
        feed.join(extra);
    }

    function test_join_EmitsAndSlotStartsEmpty() public {
        DeviceId id = _registerTo(_secpKey(0xD0D042), operator);
        vm.prank(feedOwner);
        feed.addMember(id);
        vm.expectEmit(address(feed));
        emit IDeviceFeed.MemberAdded(id);
        vm.prank(operator);
        feed.join(id);
        assertEq(feed.slotOf(id).timestamp, 0);
        assertEq(feed.slotOf(id).sequence, 0);
        assertEq(feed.members().length, DEVICES + 1);
    }

    function test_removeMember_SwapsLastAndForgetsReading() public {
        _fillAll();
        vm.expectEmit(address(feed));
        emit IDeviceFeed.MemberRemoved(ids[1]);
        vm.prank(feedOwner);
        feed.removeMember(ids[1]);
        DeviceId[] memory m = feed.members();
        assertEq(m.length, DEVICES - 1);
        assertEq(DeviceId.unwrap(m[1]), DeviceId.unwrap(ids[DEVICES - 1]), "last moved into the gap");
        assertEq(feed.slotOf(ids[DEVICES - 1]).value, BASE + int256(DEVICES - 1), "moved slot kept its reading");
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotMember.selector, ids[1]));
        feed.slotOf(ids[1]);
        // Members 0,2,3,4,5,6: values BASE + {0,2,3,4,5,6}: median (3 + 4) / 2 rounds toward zero.
        (, int256 answer, , , ) = feed.latestRoundData();
        assertEq(answer, BASE + 3);
    }

    function test_removeMember_SequenceSurvivesReAdd() public {
        _fillAll();
        vm.prank(feedOwner);
        feed.removeMember(ids[0]);
        assertEq(feed.sequenceOf(ids[0]), 1);
        _inviteAndJoin(ids[0]);
        assertEq(feed.sequenceOf(ids[0]), 1);
        vm.warp(block.timestamp + MIN_INTERVAL);
        _submitRejected(0, 1, BASE, IDeviceFeed.Rejection.SequenceNotIncreasing);
    }

    function test_removeMember_RevertWhen_NotMember() public {
        DeviceId id = DeviceId.wrap(bytes32(uint256(42)));
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotMember.selector, id));
        vm.prank(feedOwner);
        feed.removeMember(id);
    }

    function test_removeMember_RevertWhen_NotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        feed.removeMember(ids[0]);
    }

    function test_setGuardian_GrantsAndRevokes() public {
        vm.expectEmit(address(feed));
        emit IDeviceFeed.GuardianSet(stranger, true);
        vm.prank(feedOwner);
        feed.setGuardian(stranger, true);
        assertTrue(feed.isGuardian(stranger));
        vm.prank(feedOwner);
        feed.setGuardian(stranger, false);
        assertFalse(feed.isGuardian(stranger));
    }

    function test_setGuardian_RevertWhen_ZeroAddressOrNotOwner() public {
        vm.expectRevert(IDeviceFeed.DeviceFeedZeroAddress.selector);
        vm.prank(feedOwner);
        feed.setGuardian(address(0), true);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        feed.setGuardian(stranger, true);
    }

    // ------------------------------------------------------------------ submit

    function test_submit_AcceptsBothCurves() public {
        Reading memory r = _reading(0, 1, BASE);
        vm.expectEmit(address(feed));
        emit IDeviceFeed.ReadingAccepted(ids[0], 1, BASE);
        assertTrue(feed.submit(r, _deviceKey(keys[0]), _signReading(keys[0], r)));
        assertTrue(_submit(1, 7, BASE + 1), "secp256k1");
        IDeviceFeed.Slot memory s = feed.slotOf(ids[1]);
        assertEq(s.value, BASE + 1);
        assertEq(s.sequence, 7);
        assertEq(s.timestamp, block.timestamp);
    }

    /// @notice After a fork (a new chain id, the same state) a reading signed for the old chain is refused and
    /// one signed under the registry's domain for the new chain is accepted.
    function test_submit_AfterForkOnlyTheNewChainsSignaturesCount() public {
        Reading memory r = _reading(0, 1, BASE);
        bytes memory oldChain = _signReading(keys[0], r);
        vm.chainId(block.chainid + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeviceFeed.DeviceFeedRejected.selector,
                ids[0],
                uint64(1),
                IDeviceFeed.Rejection.InvalidSignature
            )
        );
        feed.submit(r, _deviceKey(keys[0]), oldChain);
        domainSeparator = registry.DOMAIN_SEPARATOR();
        assertTrue(feed.submit(r, _deviceKey(keys[0]), _signReading(keys[0], r)));
    }

    function test_submit_RevertWhen_WrongFeed() public {
        Reading memory r = _reading(0, 1, BASE);
        r.feedId = bytes32(uint256(1));
        bytes memory sig = _signReading(keys[0], r);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(keys[0]);
        _expectRejected(0, 1, IDeviceFeed.Rejection.WrongFeed);
        feed.submit(r, key, sig);
    }

    function test_submit_RevertWhen_NotMember() public {
        vm.prank(feedOwner);
        feed.removeMember(ids[0]);
        _submitRejected(0, 1, BASE, IDeviceFeed.Rejection.NotMember);
    }

    function test_submit_RevertWhen_InvalidSignature() public {
        Reading memory r = _reading(0, 1, BASE);
        bytes memory sig = _signReading(keys[0], r);
        r.value = BASE + 1;
        IDeviceRegistry.DeviceKey memory key = _deviceKey(keys[0]);
        _expectRejected(0, 1, IDeviceFeed.Rejection.InvalidSignature);
        feed.submit(r, key, sig);
    }

    function test_submit_RevertWhen_OtherDevicesKey() public {
        Reading memory r = _reading(0, 1, BASE);
        bytes memory sig = _signReading(keys[2], r);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(keys[2]);
        _expectRejected(0, 1, IDeviceFeed.Rejection.InvalidSignature);
        feed.submit(r, key, sig);
    }

    function test_submit_RevertWhen_Untrusted() public {
        _revokeFirmware(firmwareId);
        _submitRejected(0, 1, BASE, IDeviceFeed.Rejection.Untrusted);
    }

    function test_submit_RevertWhen_AttestationTooOld() public {
        vm.warp(block.timestamp + MAX_ATTESTATION_AGE + 1);
        _submitRejected(3, 1, BASE, IDeviceFeed.Rejection.Untrusted);
    }

    function test_submit_RevertWhen_Unstaked() public {
        staking.setSlashable(ids[0], MIN_STAKE - 1);
        _submitRejected(0, 1, BASE, IDeviceFeed.Rejection.Unstaked);
    }

    /// @notice Stake pending withdrawal is still slashable but makes the device eligible for nothing.
    function test_submit_RevertWhen_StakePendingWithdrawal() public {
        staking.setSlashable(ids[0], uint256(MIN_STAKE) * 10);
        staking.setActive(ids[0], MIN_STAKE - 1);
        _submitRejected(0, 1, BASE, IDeviceFeed.Rejection.Unstaked);
        staking.setActive(ids[0], MIN_STAKE);
        assertTrue(_submit(0, 1, BASE), "exactly the minimum active stake counts");
    }

    function test_submit_RevertWhen_SequenceNotIncreasing() public {
        _submit(0, 5, BASE);
        vm.warp(block.timestamp + MIN_INTERVAL);
        _submitRejected(0, 5, BASE, IDeviceFeed.Rejection.SequenceNotIncreasing);
        _submitRejected(0, 4, BASE, IDeviceFeed.Rejection.SequenceNotIncreasing);
    }

    function test_submit_RevertWhen_Stale() public {
        Reading memory r = _reading(0, 1, BASE);
        r.timestamp = uint64(block.timestamp - MAX_READING_AGE);
        bytes memory sig = _signReading(keys[0], r);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(keys[0]);
        _expectRejected(0, 1, IDeviceFeed.Rejection.Stale);
        feed.submit(r, key, sig);
    }

    function test_submit_RevertWhen_OlderThanPrevious() public {
        _submit(0, 1, BASE);
        Reading memory r = _reading(0, 2, BASE);
        --r.timestamp;
        bytes memory sig = _signReading(keys[0], r);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(keys[0]);
        _expectRejected(0, 2, IDeviceFeed.Rejection.Stale);
        feed.submit(r, key, sig);
    }

    function test_submit_RevertWhen_FutureTimestamp() public {
        Reading memory r = _reading(0, 1, BASE);
        r.timestamp = uint64(block.timestamp + 1);
        bytes memory sig = _signReading(keys[0], r);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(keys[0]);
        _expectRejected(0, 1, IDeviceFeed.Rejection.FutureTimestamp);
        feed.submit(r, key, sig);
    }

    function test_submit_RevertWhen_OutOfBounds() public {
        _submitRejected(0, 1, int256(MAX_VALUE) + 1, IDeviceFeed.Rejection.OutOfBounds);
        _submitRejected(0, 1, int256(MIN_VALUE) - 1, IDeviceFeed.Rejection.OutOfBounds);
        assertTrue(_submit(0, 1, MIN_VALUE), "bounds are inclusive");
    }

    // ------------------------------------------------------------------ breakers

    function test_submit_TripsWhen_TooFrequent() public {
        _submit(0, 1, BASE);
        vm.warp(block.timestamp + MIN_INTERVAL - 1);
        vm.expectEmit(address(feed));
        emit IDeviceFeed.FeedTripped(IDeviceFeed.TripReason.TooFrequent, ids[0], 2, BASE);
        assertFalse(_submit(0, 2, BASE));
        assertEq(uint8(feed.tripReason()), uint8(IDeviceFeed.TripReason.TooFrequent));
        assertEq(feed.sequenceOf(ids[0]), 2, "the tripping reading's sequence is used");
        assertEq(feed.slotOf(ids[0]).timestamp, block.timestamp - MIN_INTERVAL + 1, "it does not count");
    }

    function test_submit_TripsWhen_Deviation() public {
        _submit(0, 1, BASE);
        vm.warp(block.timestamp + MIN_INTERVAL);
        assertTrue(_submit(0, 2, BASE + BASE / 10), "exactly 10% from the device's previous reading is allowed");
        int256 ref = BASE + BASE / 10;
        int256 jump = ref + (ref * int256(uint256(MAX_DEVIATION_BPS))) / 10_000 + 1;
        vm.warp(block.timestamp + MIN_INTERVAL);
        vm.expectEmit(address(feed));
        emit IDeviceFeed.FeedTripped(IDeviceFeed.TripReason.Deviation, ids[0], 3, jump);
        assertFalse(_submit(0, 3, jump));
        assertEq(uint8(feed.tripReason()), uint8(IDeviceFeed.TripReason.Deviation));
        assertEq(feed.slotOf(ids[0]).value, ref, "the tripping value does not count");
    }

    /// @notice Two sensors of one quantity differ by their calibration: another device's level is no
    /// deviation reference.
    function test_submit_NoDeviationAcrossDevices() public {
        assertTrue(_submit(0, 1, BASE));
        assertTrue(_submit(1, 1, BASE * 2));
        assertTrue(_submit(2, 1, BASE / 2));
        assertEq(uint8(feed.tripReason()), 0);
    }

    function test_submit_NoDeviationCheckAgainstStaleReference() public {
        _submit(0, 1, BASE);
        vm.warp(block.timestamp + MAX_READING_AGE);
        assertTrue(_submit(0, 2, BASE * 3));
    }

    function test_submit_NoDeviationCheckAgainstZeroReference() public {
        _submit(0, 1, 0);
        vm.warp(block.timestamp + MIN_INTERVAL);
        assertTrue(_submit(0, 2, BASE));
    }

    function test_submit_RevertWhen_Tripped() public {
        _submit(0, 1, BASE);
        vm.warp(block.timestamp + 1);
        _submit(0, 2, BASE);
        Reading memory r = _reading(1, 1, BASE);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(keys[1]);
        bytes memory sig = _signReading(keys[1], r);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceFeed.DeviceFeedTripped.selector, IDeviceFeed.TripReason.TooFrequent)
        );
        feed.submit(r, key, sig);
    }

    function test_latestRoundData_RevertWhen_Tripped() public {
        _fillAll();
        vm.warp(block.timestamp + 1);
        _submit(0, 2, BASE);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceFeed.DeviceFeedTripped.selector, IDeviceFeed.TripReason.TooFrequent)
        );
        feed.latestRoundData();
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceFeed.DeviceFeedTripped.selector, IDeviceFeed.TripReason.TooFrequent)
        );
        feed.readFresh(MAX_READING_AGE);
    }

    function test_reset_ByGuardianRearms() public {
        _fillAll();
        vm.warp(block.timestamp + 1);
        _submit(0, 2, BASE);
        vm.expectEmit(address(feed));
        emit IDeviceFeed.FeedReset(guardian);
        vm.prank(guardian);
        feed.reset();
        assertEq(uint8(feed.tripReason()), 0);
        (, int256 answer, , , ) = feed.latestRoundData();
        assertEq(answer, BASE + 3);
        // Readings from before the reset are no deviation reference: the guardian accepted the new level.
        vm.warp(block.timestamp + MIN_INTERVAL);
        assertTrue(_submit(0, 3, BASE * 2));
        // The new reading is the reference again.
        vm.warp(block.timestamp + MIN_INTERVAL);
        assertFalse(_submit(0, 4, BASE * 4));
        assertEq(uint8(feed.tripReason()), uint8(IDeviceFeed.TripReason.Deviation));
    }

    function test_reset_ByOwner() public {
        _submit(0, 1, BASE);
        _submit(0, 2, BASE);
        vm.prank(feedOwner);
        feed.reset();
        assertEq(uint8(feed.tripReason()), 0);
    }

    function test_reset_RevertWhen_NotGuardian() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotGuardian.selector, stranger));
        vm.prank(stranger);
        feed.reset();
    }

    function test_reset_RevertWhen_NotTripped() public {
        vm.expectRevert(IDeviceFeed.DeviceFeedNotTripped.selector);
        vm.prank(guardian);
        feed.reset();
    }

    // ------------------------------------------------------------------ submitMany

    function test_submitMany_SkipsRejectedAndCountsAccepted() public {
        IDeviceFeed.SignedReading[] memory batch = new IDeviceFeed.SignedReading[](3);
        batch[0] = _signed(_reading(0, 1, BASE), 0);
        batch[1] = _signed(_reading(1, 1, int256(MAX_VALUE) + 1), 1);
        batch[2] = _signed(_reading(2, 1, BASE + 1), 2);
        vm.expectEmit(address(feed));
        emit IDeviceFeed.ReadingRejected(ids[1], 1, IDeviceFeed.Rejection.OutOfBounds);
        assertEq(feed.submitMany(batch), 2);
        assertEq(feed.sequenceOf(ids[1]), 0);
        assertEq(feed.sequenceOf(ids[2]), 1);
    }

    function test_submitMany_StopsAtTrip() public {
        IDeviceFeed.SignedReading[] memory batch = new IDeviceFeed.SignedReading[](3);
        batch[0] = _signed(_reading(0, 1, BASE), 0);
        batch[1] = _signed(_reading(0, 2, BASE), 0);
        batch[2] = _signed(_reading(2, 1, BASE), 2);
        assertEq(feed.submitMany(batch), 1);
        assertEq(feed.sequenceOf(ids[2]), 0, "nothing after the trip");
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceFeed.DeviceFeedTripped.selector, IDeviceFeed.TripReason.TooFrequent)
        );
        feed.submitMany(batch);
    }

    // ------------------------------------------------------------------ reads

    function test_latestRoundData_MedianOfFresh() public {
        uint256 t0 = block.timestamp;
        _submit(4, 1, BASE);
        vm.warp(t0 + 5);
        _submit(2, 1, BASE + 9);
        _submit(0, 1, BASE - 2);
        _submit(6, 1, BASE + 1);
        (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredIn) = feed
            .latestRoundData();
        assertEq(roundId, 4);
        assertEq(answer, BASE, "(BASE + BASE) / 2 of {-2, 0, 1, 9}: (0 + 1) / 2 = 0");
        assertEq(startedAt, t0);
        assertEq(updatedAt, t0 + 5);
        assertEq(answeredIn, 4);
        _submit(1, 1, BASE + 5);
        (, answer, , , ) = feed.latestRoundData();
        assertEq(answer, BASE + 1, "odd count: the middle value");
    }

    function test_latestRoundData_RevertWhen_NoQuorum() public {
        _submit(0, 1, BASE);
        _submit(1, 1, BASE);
        _submit(2, 1, BASE);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNoQuorum.selector, 3, QUORUM));
        feed.latestRoundData();
    }

    function test_latestRoundData_RevertWhen_ReadingsExpired() public {
        _fillAll();
        vm.warp(block.timestamp + MAX_READING_AGE);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNoQuorum.selector, 0, QUORUM));
        feed.latestRoundData();
    }

    function test_getRoundData_LatestOnly() public {
        _fillAll();
        (uint80 roundId, int256 answer, , , ) = feed.getRoundData(7);
        assertEq(roundId, 7);
        assertEq(answer, BASE + 3);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedRoundNotAvailable.selector, 6, 7));
        feed.getRoundData(6);
    }

    /// @notice The round id is the members' summed sequences: each accepted reading raises it by its
    /// sequence step, and removing a member never lowers it.
    function test_roundId_GrowsPerReadingAndNeverDecreases() public {
        _fillAll();
        (uint80 round, , , , ) = feed.latestRoundData();
        assertEq(round, DEVICES, "seven first readings");
        vm.warp(block.timestamp + MIN_INTERVAL);
        _submit(3, 5, BASE);
        (uint80 next, , , , ) = feed.latestRoundData();
        assertEq(next, round + 4, "sequence 1 -> 5");
        vm.prank(feedOwner);
        feed.removeMember(ids[3]);
        (uint80 afterRemoval, , , , ) = feed.latestRoundData();
        assertEq(afterRemoval, next, "a removed member's sequences stay counted");
        _inviteAndJoin(ids[3]);
        (uint80 afterReAdd, , , , ) = feed.latestRoundData();
        assertGe(afterReAdd, afterRemoval);
    }

    function test_readFresh_OnlyYoungerThanMaxAge() public {
        for (uint256 i; i < 4; ++i) _submit(i, 1, BASE + int256(i));
        vm.warp(block.timestamp + 60);
        for (uint256 i = 4; i < DEVICES; ++i) _submit(i, 1, BASE + int256(i));
        (int256 answer, uint256 updatedAt) = feed.readFresh(MAX_READING_AGE * 10);
        assertEq(answer, BASE + 3);
        assertEq(updatedAt, block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNoQuorum.selector, 3, QUORUM));
        feed.readFresh(60);
    }

    /// @notice With one operator per device, the cheapest four of seven control the median.
    function test_costOfCorruption_CheapestMajority() public {
        _separateOperators();
        // Stakes MIN_STAKE + i: the cheapest 4 of 7 are i = 0..3.
        assertEq(feed.costOfCorruption(), 4 * uint256(MIN_STAKE) + 6e18);
        staking.setSlashable(ids[6], 1);
        assertEq(feed.costOfCorruption(), 3 * uint256(MIN_STAKE) + 3e18 + 1);
    }

    function test_costOfCorruption_EvenAndEmpty() public {
        _separateOperators();
        vm.startPrank(feedOwner);
        feed.removeMember(ids[6]);
        // Six members: four are needed (three only tie).
        assertEq(feed.costOfCorruption(), 4 * uint256(MIN_STAKE) + 6e18);
        for (uint256 i; i < 6; ++i) feed.removeMember(ids[i]);
        vm.stopPrank();
        assertEq(feed.costOfCorruption(), 0);
        (uint256 cost, uint256 operators) = feed.corruption();
        assertEq(cost, 0);
        assertEq(operators, 0);
    }

    /// @notice The fixture's seven devices share one operator: corrupting the feed takes that operator's
    /// whole active stake, and it alone controls the median.
    function test_costOfCorruption_OneOperatorStakesAll() public view {
        (uint256 cost, uint256 operators) = feed.corruption();
        assertEq(cost, 7 * uint256(MIN_STAKE) + 21e18);
        assertEq(operators, 1);
        assertEq(feed.costOfCorruption(), cost);
    }

    /// @notice Stake pending withdrawal may unlock before a proof lands: only active stake is counted.
    function test_costOfCorruption_CountsActiveStakeOnly() public {
        _separateOperators();
        for (uint256 i; i < DEVICES; ++i) staking.setActive(ids[i], 10e18 + i * 1e18);
        // Slashable stakes are MIN_STAKE + i, active ones 10e18 + i: the cheapest four active, i = 0..3.
        assertEq(feed.costOfCorruption(), 46e18);
    }

    // ------------------------------------------------------------------ evict

    function test_evict_ClearsUnstakedReading() public {
        _fillAll();
        staking.setSlashable(ids[6], 0);
        vm.expectEmit(address(feed));
        emit IDeviceFeed.ReadingEvicted(ids[6]);
        vm.prank(stranger);
        feed.evict(ids[6]);
        assertEq(feed.slotOf(ids[6]).timestamp, 0);
        assertEq(feed.sequenceOf(ids[6]), 1, "the sequence stays");
        (, int256 answer, , , ) = feed.latestRoundData();
        assertEq(answer, BASE + 2, "median of BASE + 0..5: (2 + 3) / 2");
    }

    /// @notice A member whose stake is pending withdrawal is evictable although its slashable stake is high.
    function test_evict_ClearsReadingWhenStakePendingWithdrawal() public {
        _fillAll();
        staking.setSlashable(ids[6], uint256(MIN_STAKE) * 10);
        staking.setActive(ids[6], MIN_STAKE - 1);
        vm.expectEmit(address(feed));
        emit IDeviceFeed.ReadingEvicted(ids[6]);
        vm.prank(stranger);
        feed.evict(ids[6]);
        assertEq(feed.slotOf(ids[6]).timestamp, 0);
    }

    function test_evict_ClearsUntrustedReading() public {
        _fillAll();
        _revokeFirmware(firmwareId);
        feed.evict(ids[0]);
        assertEq(feed.slotOf(ids[0]).timestamp, 0);
    }

    function test_evict_RevertWhen_StillEligible() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedStillEligible.selector, ids[0]));
        feed.evict(ids[0]);
    }

    function test_evict_RevertWhen_NotMember() public {
        DeviceId id = DeviceId.wrap(bytes32(uint256(42)));
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotMember.selector, id));
        feed.evict(id);
    }
}

/// @notice Gas of the hot paths in steady state: every member has submitted once (slots non-zero), and
/// each test is a new transaction, so the registry, staking and feed slots are cold as in production.
contract DeviceFeedGasTest is FeedFixture {
    function setUp() public override {
        super.setUp();
        for (uint256 i; i < DEVICES; ++i) _submit(i, 1, 100e8 + int256(i));
        vm.warp(block.timestamp + MIN_INTERVAL);
    }

    function test_gas_SubmitP256() public {
        Reading memory r = _reading(0, 2, 100e8);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(keys[0]);
        bytes memory sig = _signReading(keys[0], r);
        uint256 before = gasleft();
        bool accepted = feed.submit(r, key, sig);
        uint256 used = before - gasleft();
        assertTrue(accepted);
        // solhint-disable-next-line no-console
        console.log("gas: submit one P-256 reading into a 7-device feed (execution, cold)", used);
    }

    function test_gas_SubmitSecp256k1() public {
        Reading memory r = _reading(1, 2, 100e8);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(keys[1]);
        bytes memory sig = _signReading(keys[1], r);
        uint256 before = gasleft();
        feed.submit(r, key, sig);
        // solhint-disable-next-line no-console
        console.log("gas: submit one secp256k1 reading (execution, cold)", before - gasleft());
    }

    function test_gas_SubmitManySeven() public {
        IDeviceFeed.SignedReading[] memory batch = new IDeviceFeed.SignedReading[](DEVICES);
        for (uint256 i; i < DEVICES; ++i) batch[i] = _signed(_reading(i, 2, 100e8 + int256(i)), i);
        uint256 before = gasleft();
        uint256 accepted = feed.submitMany(batch);
        uint256 used = before - gasleft();
        assertEq(accepted, DEVICES);
        // solhint-disable-next-line no-console
        console.log("gas: submitMany of 7 readings (4 P-256, 3 secp256k1), per reading (execution)", used / DEVICES);
    }

    /// @notice The part of a P-256 submit spent outside the feed: signature, trust and stake checks, each
    /// measured from a cold start as the feed makes them.
    function test_gas_ExternalChecksOfOneP256Reading() public {
        Reading memory r = _reading(0, 2, 100e8);
        bytes32 digest = _typedDigest(domainSeparator, DeviceMessageLib.hashReading(r));
        IDeviceRegistry.DeviceKey memory key = _deviceKey(keys[0]);
        bytes memory sig = _signReading(keys[0], r);
        uint256 before = gasleft();
        assertTrue(registry.isValidDeviceSignature(ids[0], digest, key, sig));
        uint256 sigGas = before - gasleft();
        before = gasleft();
        assertTrue(registry.isTrusted(ids[0], MAX_ATTESTATION_AGE));
        uint256 trustGas = before - gasleft();
        before = gasleft();
        assertGe(staking.activeOf(ids[0]), MIN_STAKE);
        uint256 stakeGas = before - gasleft();
        // solhint-disable-next-line no-console
        console.log(
            "gas: isValidDeviceSignature P-256 / isTrusted (warm registry) / activeOf",
            sigGas,
            trustGas,
            stakeGas
        );
    }

    function test_gas_LatestRoundData() public {
        uint256 before = gasleft();
        (, int256 answer, , , ) = feed.latestRoundData();
        uint256 used = before - gasleft();
        assertEq(answer, 100e8 + 3);
        // solhint-disable-next-line no-console
        console.log("gas: latestRoundData, 7 fresh readings (call from a consumer, cold)", used);
        assertLe(used, 40_000);
    }
}
