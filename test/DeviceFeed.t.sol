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
import {DeviceStatus} from "../contracts/types/DeviceStatus.sol";
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

    /// @dev A second feed with `c` whose members are the fixture's devices (invited, joined by `operator`).
    function _feedWithFixtureMembers(IDeviceFeed.Config memory c) internal returns (DeviceFeed f) {
        f = new DeviceFeed(address(registry), IDeviceStaking(address(staking)), c, feedOwner);
        for (uint256 i; i < DEVICES; ++i) {
            vm.prank(feedOwner);
            f.addMember(ids[i]);
            vm.prank(operator);
            f.join(ids[i]);
        }
    }

    function _submitTo(DeviceFeed f, uint256 device, uint64 sequence, int256 value) internal returns (bool) {
        Reading memory r = _reading(device, sequence, value);
        r.feedId = f.feedId();
        return f.submit(r, _deviceKey(keys[device]), _signReading(keys[device], r));
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
        assertEq(feed.version(), 2);
        assertEq(c.maxSpreadBps, MAX_SPREAD_BPS);
        assertEq(c.deviationThresholdBps, DEVIATION_THRESHOLD_BPS);
        assertEq(c.heartbeat, HEARTBEAT);
        assertEq(c.quarantinePeriod, QUARANTINE_PERIOD);
        assertEq(c.maxQuarantines, MAX_QUARANTINES);
        assertFalse(c.lockdown);
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
        c.maxQuarantines = 0;
        vm.expectRevert(IDeviceFeed.DeviceFeedInvalidConfig.selector);
        new DeviceFeed(address(registry), s, c, feedOwner);
        c = _config();
        c.quarantinePeriod = c.maxReadingAge - 1;
        vm.expectRevert(IDeviceFeed.DeviceFeedInvalidConfig.selector);
        new DeviceFeed(address(registry), s, c, feedOwner);
        c = _config();
        c.heartbeat = c.maxReadingAge + 1;
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
        // The next round: members 0,2,3,4,5,6 at BASE + {0,2,3,4,5,6}: median (3 + 4) / 2 rounds toward zero.
        vm.warp(block.timestamp + HEARTBEAT);
        _submit(0, 2, BASE);
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

    // ------------------------------------------------------------------ quarantine: a member's own anomaly

    function _expectQuarantined(uint256 device, IDeviceFeed.Anomaly anomaly, uint64 sequence, int256 value) internal {
        vm.expectEmit(address(feed));
        emit IDeviceFeed.MemberQuarantined(ids[device], anomaly, sequence, value, false);
    }

    function _assertQuarantined(uint256 device, IDeviceFeed.Anomaly anomaly) internal view {
        IDeviceFeed.Quarantine memory q = feed.quarantineOf(ids[device]);
        assertEq(uint8(q.anomaly), uint8(anomaly), "anomaly");
        assertEq(q.since, block.timestamp, "since");
        assertTrue(feed.slotOf(ids[device]).excluded, "its reading no longer counts");
    }

    function test_submit_QuarantinesWhen_TooFrequent() public {
        _submit(0, 1, BASE);
        vm.warp(block.timestamp + MIN_INTERVAL - 1);
        _expectQuarantined(0, IDeviceFeed.Anomaly.TooFrequent, 2, BASE);
        assertFalse(_submit(0, 2, BASE));
        _assertQuarantined(0, IDeviceFeed.Anomaly.TooFrequent);
        assertEq(feed.sequenceOf(ids[0]), 2, "the anomalous reading's sequence is used");
        assertEq(feed.quarantinedCount(), 1);
        assertEq(uint8(feed.tripReason()), 0, "one member's anomaly does not trip the feed");
        vm.warp(block.timestamp + MIN_INTERVAL);
        _submitRejected(0, 3, BASE, IDeviceFeed.Rejection.Quarantined);
    }

    function test_submit_QuarantinesWhen_Jump() public {
        _submit(0, 1, BASE);
        vm.warp(block.timestamp + MIN_INTERVAL);
        assertTrue(_submit(0, 2, BASE + BASE / 10), "exactly 10% from the device's previous reading is allowed");
        int256 ref = BASE + BASE / 10;
        int256 jump = ref + (ref * int256(uint256(MAX_DEVIATION_BPS))) / 10_000 + 1;
        vm.warp(block.timestamp + MIN_INTERVAL);
        _expectQuarantined(0, IDeviceFeed.Anomaly.Jump, 3, jump);
        assertFalse(_submit(0, 3, jump));
        _assertQuarantined(0, IDeviceFeed.Anomaly.Jump);
    }

    /// @notice Silence, then a value far from the committed answer: the member has no recent reading of its
    /// own to jump from, the committed answer is the reference.
    function test_submit_QuarantinesWhen_FarFromAnswer() public {
        for (uint256 i; i < QUORUM; ++i) _submit(i, 1, BASE);
        assertEq(feed.latestRound(), 1);
        int256 far = BASE + (BASE * int256(uint256(MAX_SPREAD_BPS))) / 10_000 + 1;
        assertTrue(_submit(4, 1, far - 1), "exactly maxSpreadBps away is allowed");
        _expectQuarantined(5, IDeviceFeed.Anomaly.Spread, 1, far);
        assertFalse(_submit(5, 1, far));
        _assertQuarantined(5, IDeviceFeed.Anomaly.Spread);
    }

    function test_submit_NoSpreadCheckAgainstExpiredRound() public {
        for (uint256 i; i < QUORUM; ++i) _submit(i, 1, BASE);
        vm.warp(block.timestamp + MAX_READING_AGE);
        assertTrue(_submit(5, 1, BASE * 2));
    }

    /// @notice Two sensors of one quantity differ by their calibration: before a round, another device's
    /// level is no reference.
    function test_submit_NoJumpAcrossDevices() public {
        assertTrue(_submit(0, 1, BASE));
        assertTrue(_submit(1, 1, BASE * 2));
        assertTrue(_submit(2, 1, BASE / 2));
        assertEq(feed.quarantinedCount(), 0);
    }

    function test_submit_NoJumpCheckAgainstStaleReference() public {
        _submit(0, 1, BASE);
        vm.warp(block.timestamp + MAX_READING_AGE);
        assertTrue(_submit(0, 2, BASE * 3));
    }

    function test_submit_NoJumpCheckAgainstZeroReference() public {
        _submit(0, 1, 0);
        vm.warp(block.timestamp + MIN_INTERVAL);
        assertTrue(_submit(0, 2, BASE));
    }

    /// @notice Issue 11's attack: one member reporting too fast after every reset halted the whole feed. Now
    /// it quarantines itself once, its later readings are refused, and the others keep committing rounds.
    function test_quarantine_HostileMemberCannotHaltTheFeed() public {
        _fillAll();
        vm.warp(block.timestamp + MIN_INTERVAL - 1);
        assertFalse(_submit(6, 2, BASE));
        for (uint64 k; k < 20; ++k) {
            vm.warp(block.timestamp + HEARTBEAT);
            _submitRejected(6, 3 + k, BASE * 3, IDeviceFeed.Rejection.Quarantined);
            uint256 before = feed.latestRound();
            assertTrue(_submit(k % 6, 2 + k, BASE + int256(uint256(k % 6))));
            assertEq(feed.latestRound(), before + 1, "a round a heartbeat");
        }
        assertEq(uint8(feed.tripReason()), 0);
        (, , , uint256 updatedAt, ) = feed.latestRoundData();
        assertEq(updatedAt, block.timestamp);
    }

    function test_quarantine_LocksDownWhenEnabled() public {
        IDeviceFeed.Config memory c = _config();
        c.lockdown = true;
        DeviceFeed locking = _feedWithFixtureMembers(c);
        bytes32 role = registry.SUSPENDER_ROLE();
        vm.prank(governor);
        registry.grantRole(role, address(locking));
        _submitTo(locking, 0, 1, BASE);
        vm.warp(block.timestamp + 1);
        vm.expectEmit(address(locking));
        emit IDeviceFeed.MemberQuarantined(ids[0], IDeviceFeed.Anomaly.TooFrequent, 2, BASE, true);
        assertFalse(_submitTo(locking, 0, 2, BASE));
        assertEq(uint8(registry.deviceInfo(ids[0]).status), uint8(DeviceStatus.Suspended));
    }

    function test_quarantine_WithoutSuspenderRoleStandsAlone() public {
        IDeviceFeed.Config memory c = _config();
        c.lockdown = true;
        DeviceFeed locking = _feedWithFixtureMembers(c);
        _submitTo(locking, 0, 1, BASE);
        vm.warp(block.timestamp + 1);
        vm.expectEmit(address(locking));
        emit IDeviceFeed.MemberQuarantined(ids[0], IDeviceFeed.Anomaly.TooFrequent, 2, BASE, false);
        assertFalse(_submitTo(locking, 0, 2, BASE));
        assertEq(uint8(registry.deviceInfo(ids[0]).status), uint8(DeviceStatus.Active));
    }

    function test_removeMember_ClearsQuarantine() public {
        _submit(0, 1, BASE);
        vm.warp(block.timestamp + 1);
        _submit(0, 2, BASE);
        vm.prank(feedOwner);
        feed.removeMember(ids[0]);
        assertEq(feed.quarantinedCount(), 0);
        assertEq(feed.quarantineOf(ids[0]).since, 0);
        _inviteAndJoin(ids[0]);
        vm.warp(block.timestamp + MIN_INTERVAL);
        assertTrue(_submit(0, 3, BASE));
    }

    // ------------------------------------------------------------------ readmission

    function _quarantineDevice0() internal returns (uint256 since) {
        _submit(0, 1, BASE);
        vm.warp(block.timestamp + 1);
        assertFalse(_submit(0, 2, BASE));
        since = block.timestamp;
    }

    function test_readmit_AfterCoolOffAndReattestation_ByAnyone() public {
        uint256 since = _quarantineDevice0();
        vm.warp(since + QUARANTINE_PERIOD);
        _attest(keys[0], MEASUREMENT_V1, 2);
        vm.expectEmit(address(feed));
        emit IDeviceFeed.MemberReadmitted(ids[0], stranger);
        vm.prank(stranger);
        feed.readmit(ids[0]);
        assertEq(feed.quarantineOf(ids[0]).since, 0);
        assertEq(feed.quarantinedCount(), 0);
        assertTrue(_submit(0, 3, BASE), "its readings count again");
    }

    function test_readmit_RevertWhen_CoolingOff() public {
        uint256 since = _quarantineDevice0();
        _attest(keys[0], MEASUREMENT_V1, 2);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceFeed.DeviceFeedCoolingOff.selector, ids[0], since + QUARANTINE_PERIOD)
        );
        vm.prank(stranger);
        feed.readmit(ids[0]);
    }

    function test_readmit_RevertWhen_NotReattested() public {
        uint256 since = _quarantineDevice0();
        vm.warp(since + QUARANTINE_PERIOD);
        uint64 attestedAt = registry.trustReport(ids[0], MAX_ATTESTATION_AGE).attestedAt;
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotReattested.selector, ids[0], attestedAt, since)
        );
        feed.readmit(ids[0]);
        // A guardian too needs the re-attestation.
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotReattested.selector, ids[0], attestedAt, since)
        );
        vm.prank(guardian);
        feed.readmit(ids[0]);
    }

    function test_readmit_ByGuardianBeforeCoolOff() public {
        _quarantineDevice0();
        vm.warp(block.timestamp + 1);
        _attest(keys[0], MEASUREMENT_V1, 2);
        vm.prank(guardian);
        feed.readmit(ids[0]);
        assertEq(feed.quarantinedCount(), 0);
    }

    function test_readmit_RevertWhen_NotQuarantinedOrNotMember() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotQuarantined.selector, ids[0]));
        feed.readmit(ids[0]);
        DeviceId id = DeviceId.wrap(bytes32(uint256(42)));
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotMember.selector, id));
        feed.readmit(id);
    }

    // ------------------------------------------------------------------ feed-wide breaker: aggregate anomalies

    function test_breaker_TripsWhen_ManyQuarantinesInAWindow() public {
        for (uint256 i; i < MAX_QUARANTINES + 1; ++i) _submit(i, 1, BASE);
        vm.warp(block.timestamp + 1);
        for (uint256 i; i < MAX_QUARANTINES; ++i) assertFalse(_submit(i, 2, BASE));
        assertEq(uint8(feed.tripReason()), 0, "maxQuarantines are tolerated");
        vm.expectEmit(address(feed));
        emit IDeviceFeed.FeedTripped(IDeviceFeed.TripReason.Quarantines, int256(uint256(MAX_QUARANTINES) + 1));
        assertFalse(_submit(MAX_QUARANTINES, 2, BASE));
        assertEq(uint8(feed.tripReason()), uint8(IDeviceFeed.TripReason.Quarantines));
    }

    function test_breaker_QuarantineWindowRestarts() public {
        for (uint256 i; i < MAX_QUARANTINES + 1; ++i) _submit(i, 1, BASE);
        vm.warp(block.timestamp + 1);
        for (uint256 i; i < MAX_QUARANTINES; ++i) assertFalse(_submit(i, 2, BASE));
        vm.warp(block.timestamp + MAX_READING_AGE);
        _submit(MAX_QUARANTINES, 2, BASE);
        vm.warp(block.timestamp + 1);
        assertFalse(_submit(MAX_QUARANTINES, 3, BASE));
        assertEq(uint8(feed.tripReason()), 0, "a new window");
    }

    function test_breaker_TripsWhen_QuorumLost() public {
        vm.startPrank(feedOwner);
        for (uint256 i = QUORUM; i < DEVICES; ++i) feed.removeMember(ids[i]);
        vm.stopPrank();
        _submit(0, 1, BASE);
        vm.warp(block.timestamp + 1);
        vm.expectEmit(address(feed));
        emit IDeviceFeed.FeedTripped(IDeviceFeed.TripReason.QuorumLost, 1);
        assertFalse(_submit(0, 2, BASE));
    }

    /// @dev Round 1 of devices 0..3 at BASE, with devices 0..2's readings about to expire; then devices
    /// 4..6 report `level` (none has a reading of its own to jump from): device 6's makes the median jump.
    function _moveMedianTo(int256 level) internal {
        _almostMoveMedianTo(level);
        _submit(6, 1, level);
    }

    function _almostMoveMedianTo(int256 level) internal returns (uint256 t) {
        t = block.timestamp;
        for (uint256 i; i < 3; ++i) _submit(i, 1, BASE);
        vm.warp(t + MAX_READING_AGE - 10);
        _submit(3, 1, BASE);
        assertEq(feed.latestRound(), 1);
        vm.warp(t + MAX_READING_AGE);
        _submit(4, 1, level);
        _submit(5, 1, level);
    }

    function test_breaker_TripsWhen_MedianJumps() public {
        int256 level = BASE + (BASE * 15) / 100;
        _almostMoveMedianTo(level);
        vm.expectEmit(address(feed));
        emit IDeviceFeed.FeedTripped(IDeviceFeed.TripReason.MedianJump, level);
        _submit(6, 1, level);
        assertEq(uint8(feed.tripReason()), uint8(IDeviceFeed.TripReason.MedianJump));
        assertEq(feed.latestRound(), 1, "the jumped median is not committed");
        (, int256 answer, , , ) = feed.latestRoundData();
        assertEq(answer, BASE, "consumers keep the last good round");
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceFeed.DeviceFeedTripped.selector, IDeviceFeed.TripReason.MedianJump)
        );
        feed.readFresh(MAX_READING_AGE);
    }

    function test_breaker_TrippedFeedTakesReadingsButCommitsNothing() public {
        _moveMedianTo(BASE + (BASE * 15) / 100);
        vm.warp(block.timestamp + HEARTBEAT);
        assertTrue(_submit(3, 2, BASE));
        assertEq(feed.latestRound(), 1);
        assertEq(feed.sequenceOf(ids[3]), 2);
    }

    /// @notice While tripped, the last answer is in question: members reporting the level the median moved
    /// to are not quarantined for being far from it.
    function test_breaker_NoSpreadQuarantineWhileTripped() public {
        int256 level = BASE + (BASE * 30) / 100;
        _almostMoveMedianTo(BASE + (BASE * 15) / 100);
        _submit(6, 1, BASE + (BASE * 15) / 100);
        assertEq(uint8(feed.tripReason()), uint8(IDeviceFeed.TripReason.MedianJump));
        vm.warp(block.timestamp + MIN_INTERVAL);
        assertTrue(_submit(1, 2, level), "30% from the last answer, no own fresh reading: accepted");
        assertEq(feed.quarantinedCount(), 0);
    }

    /// @notice One member is quarantined at most once per window (the cool-off is at least the window), and
    /// the breaker tolerates one: quarantine, readmission and quarantine again never trip the feed.
    function test_breaker_OneMemberNeverTripsTheFeed() public {
        _fillAll();
        for (uint64 k; k < 5; ++k) {
            vm.warp(block.timestamp + MIN_INTERVAL);
            _submit(6, 2 + 2 * k, BASE + 6);
            vm.warp(block.timestamp + 1);
            assertFalse(_submit(6, 3 + 2 * k, BASE + 6), "too frequent");
            assertEq(uint8(feed.tripReason()), 0);
            vm.warp(block.timestamp + QUARANTINE_PERIOD);
            _attest(keys[6], MEASUREMENT_V1, 2 + k);
            feed.readmit(ids[6]);
        }
    }

    function test_reset_AcceptsTheNewLevel() public {
        int256 level = BASE + (BASE * 15) / 100;
        _moveMedianTo(level);
        vm.expectEmit(address(feed));
        emit IDeviceFeed.FeedReset(guardian);
        vm.prank(guardian);
        feed.reset();
        assertEq(uint8(feed.tripReason()), 0);
        vm.warp(block.timestamp + MIN_INTERVAL);
        assertTrue(_submit(0, 2, level), "no spread check against the round before the reset");
        assertEq(feed.latestRound(), 2);
        (, int256 answer, , , ) = feed.latestRoundData();
        assertEq(answer, level);
    }

    function test_reset_ByOwner() public {
        _moveMedianTo(BASE * 2);
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

    function test_submitMany_QuarantineDoesNotStopTheOthers() public {
        IDeviceFeed.SignedReading[] memory batch = new IDeviceFeed.SignedReading[](3);
        batch[0] = _signed(_reading(0, 1, BASE), 0);
        batch[1] = _signed(_reading(0, 2, BASE), 0);
        batch[2] = _signed(_reading(2, 1, BASE), 2);
        assertEq(feed.submitMany(batch), 2);
        assertEq(uint8(feed.quarantineOf(ids[0]).anomaly), uint8(IDeviceFeed.Anomaly.TooFrequent));
        assertEq(feed.sequenceOf(ids[2]), 1, "readings after the quarantine still count");
    }

    function test_submitMany_CommitsOneRound() public {
        IDeviceFeed.SignedReading[] memory batch = new IDeviceFeed.SignedReading[](DEVICES);
        for (uint256 i; i < DEVICES; ++i) batch[i] = _signed(_reading(i, 1, BASE + int256(i)), i);
        vm.expectEmit(address(feed));
        emit IDeviceFeed.AnswerUpdated(BASE + 3, 1, block.timestamp);
        assertEq(feed.submitMany(batch), DEVICES);
        assertEq(feed.latestRound(), 1);
        IDeviceFeed.Round memory r = feed.roundAt(1);
        assertEq(r.readings, DEVICES);
    }

    // ------------------------------------------------------------------ rounds and reads

    function test_round_FirstCommitsAtQuorum() public {
        uint256 t0 = block.timestamp;
        _submit(4, 1, BASE);
        vm.warp(t0 + 5);
        _submit(2, 1, BASE + 9);
        _submit(0, 1, BASE - 2);
        vm.expectRevert(IDeviceFeed.DeviceFeedNoRound.selector);
        feed.latestRoundData();
        vm.expectEmit(address(feed));
        emit IDeviceFeed.AnswerUpdated(BASE, 1, t0 + 5);
        _submit(6, 1, BASE + 1);
        (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredIn) = feed
            .latestRoundData();
        assertEq(roundId, 1);
        assertEq(answer, BASE, "{-2, 0, 1, 9}: (0 + 1) / 2 = 0");
        assertEq(startedAt, t0, "the oldest reading in the round");
        assertEq(updatedAt, t0 + 5, "the commit time");
        assertEq(answeredIn, roundId);
        assertEq(feed.roundAt(1).readings, 4);
    }

    function test_round_SmallMoveWaitsForHeartbeat() public {
        _fillAll();
        (, int256 first, , , ) = feed.latestRoundData();
        vm.warp(block.timestamp + MIN_INTERVAL);
        assertTrue(_submit(0, 2, BASE + 5));
        assertEq(feed.latestRound(), 1, "the median moved less than deviationThresholdBps");
        vm.warp(block.timestamp + HEARTBEAT);
        assertTrue(_submit(1, 2, BASE + 1));
        assertEq(feed.latestRound(), 2, "the heartbeat commits");
        (, int256 second, , uint256 updatedAt, ) = feed.latestRoundData();
        assertEq(updatedAt, block.timestamp);
        assertGe(second, first);
    }

    function test_round_DeviationCommitsBeforeHeartbeat() public {
        _fillAll();
        vm.warp(block.timestamp + MIN_INTERVAL);
        int256 up = BASE + BASE / 100; // 1%: more than the 0.5% threshold, within every bound
        IDeviceFeed.SignedReading[] memory batch = new IDeviceFeed.SignedReading[](DEVICES);
        for (uint256 i; i < DEVICES; ++i) batch[i] = _signed(_reading(i, 2, up), i);
        feed.submitMany(batch);
        assertEq(feed.latestRound(), 2);
        (, int256 answer, , , ) = feed.latestRoundData();
        assertEq(answer, up);
    }

    function test_round_IdsIncreaseByOne() public {
        _fillAll();
        for (uint64 k = 2; k < 7; ++k) {
            vm.warp(block.timestamp + HEARTBEAT);
            _submit(0, k, BASE);
            assertEq(feed.latestRound(), k);
        }
    }

    /// @notice A committed round never changes: not as time passes, not as its readings expire, not after
    /// later rounds, not when its members leave.
    function test_getRoundData_AnyRoundNeverChanges() public {
        _fillAll();
        (uint80 id1, int256 a1, uint256 s1, uint256 u1, uint80 in1) = feed.getRoundData(1);
        vm.warp(block.timestamp + HEARTBEAT);
        _submit(0, 2, BASE + 4);
        vm.warp(block.timestamp + MAX_READING_AGE * 3);
        vm.prank(feedOwner);
        feed.removeMember(ids[1]);
        (uint80 id1b, int256 a1b, uint256 s1b, uint256 u1b, uint80 in1b) = feed.getRoundData(1);
        assertEq(id1b, id1);
        assertEq(a1b, a1);
        assertEq(s1b, s1);
        assertEq(u1b, u1);
        assertEq(in1b, in1);
        (uint80 id2, , , , ) = feed.getRoundData(2);
        assertEq(id2, 2);
        (uint80 latest, , , uint256 updatedAt, ) = feed.latestRoundData();
        assertEq(latest, 2);
        assertLt(updatedAt, block.timestamp - MAX_READING_AGE, "the consumer sees the age in updatedAt");
    }

    function test_getRoundData_RevertWhen_NotCommitted() public {
        _fillAll();
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedRoundNotAvailable.selector, 0, 1));
        feed.getRoundData(0);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedRoundNotAvailable.selector, 2, 1));
        feed.getRoundData(2);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedRoundNotAvailable.selector, 2, 1));
        feed.roundAt(2);
    }

    /// @notice Issue 11's attack: members silent until the honest readings expire. Fewer than a quorum of
    /// fresh readings commit nothing, so the minority cannot answer alone; and a value far from the last
    /// fresh answer quarantines its member.
    function test_round_SilentMinorityCannotAnswerAlone() public {
        for (uint256 i; i < QUORUM; ++i) _submit(i, 1, BASE);
        vm.warp(block.timestamp + MAX_READING_AGE - 1);
        int256 far = BASE * 2;
        assertFalse(_submit(4, 1, far), "far from the fresh answer: quarantined");
        vm.warp(block.timestamp + 1);
        assertTrue(_submit(5, 1, far));
        assertTrue(_submit(6, 1, far));
        assertEq(feed.latestRound(), 1, "two fresh readings are no quorum");
        (, int256 answer, , , ) = feed.latestRoundData();
        assertEq(answer, BASE);
    }

    function test_readFresh_StrictOnTheOldestReading() public {
        for (uint256 i; i < 3; ++i) _submit(i, 1, BASE + int256(i));
        uint256 oldest = block.timestamp;
        vm.warp(oldest + 60);
        _submit(3, 1, BASE + 3);
        (int256 answer, uint256 updatedAt) = feed.readFresh(MAX_READING_AGE * 10);
        assertEq(answer, BASE + 1);
        assertEq(updatedAt, block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedStale.selector, 1, oldest, 60));
        feed.readFresh(60);
    }

    function test_readFresh_RevertWhen_NoRound() public {
        vm.expectRevert(IDeviceFeed.DeviceFeedNoRound.selector);
        feed.readFresh(MAX_READING_AGE);
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
        IDeviceFeed.Slot memory slot = feed.slotOf(ids[6]);
        assertTrue(slot.excluded);
        assertEq(slot.value, BASE + 6, "the reading stays the member's reference");
        assertEq(feed.sequenceOf(ids[6]), 1, "the sequence stays");
        vm.warp(block.timestamp + HEARTBEAT);
        _submit(0, 2, BASE);
        (, int256 answer, , , ) = feed.latestRoundData();
        assertEq(answer, BASE + 2, "the next round: median of BASE + 0..5, (2 + 3) / 2");
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
        assertTrue(feed.slotOf(ids[6]).excluded);
    }

    function test_evict_ClearsUntrustedReading() public {
        _fillAll();
        _revokeFirmware(firmwareId);
        feed.evict(ids[0]);
        assertTrue(feed.slotOf(ids[0]).excluded);
    }

    /// @notice An accepted reading counts again after an eviction.
    function test_evict_NextReadingCountsAgain() public {
        _fillAll();
        staking.setActive(ids[6], 0);
        feed.evict(ids[6]);
        staking.setActive(ids[6], MIN_STAKE);
        vm.warp(block.timestamp + HEARTBEAT);
        assertTrue(_submit(6, 2, BASE + 6));
        assertFalse(feed.slotOf(ids[6]).excluded);
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
        vm.warp(block.timestamp + HEARTBEAT); // the batch commits a round
        IDeviceFeed.SignedReading[] memory batch = new IDeviceFeed.SignedReading[](DEVICES);
        for (uint256 i; i < DEVICES; ++i) batch[i] = _signed(_reading(i, 2, 100e8 + int256(i)), i);
        uint256 before = gasleft();
        uint256 accepted = feed.submitMany(batch);
        uint256 used = before - gasleft();
        assertEq(accepted, DEVICES);
        assertEq(feed.latestRound(), 2);
        // solhint-disable-next-line no-console
        console.log("gas: submitMany of 7 readings and a round, per reading (execution)", used / DEVICES);
    }

    function test_gas_SubmitManySevenNoRound() public {
        IDeviceFeed.SignedReading[] memory batch = new IDeviceFeed.SignedReading[](DEVICES);
        for (uint256 i; i < DEVICES; ++i) batch[i] = _signed(_reading(i, 2, 100e8 + int256(i)), i);
        uint256 before = gasleft();
        uint256 accepted = feed.submitMany(batch);
        uint256 used = before - gasleft();
        assertEq(accepted, DEVICES);
        assertEq(feed.latestRound(), 1);
        // solhint-disable-next-line no-console
        console.log("gas: submitMany of 7 readings, no round, per reading (execution)", used / DEVICES);
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
        assertEq(answer, 100e8 + 1);
        // solhint-disable-next-line no-console
        console.log("gas: latestRoundData (call from a consumer, cold)", used);
    }

    function test_gas_GetRoundData() public {
        uint256 before = gasleft();
        (, int256 answer, , , ) = feed.getRoundData(1);
        uint256 used = before - gasleft();
        assertEq(answer, 100e8 + 1);
        // solhint-disable-next-line no-console
        console.log("gas: getRoundData (call from a consumer, cold)", used);
    }
}
