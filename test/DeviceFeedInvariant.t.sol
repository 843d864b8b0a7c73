// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {DeviceFeed} from "../contracts/feeds/DeviceFeed.sol";
import {IDeviceAttestation} from "../contracts/interfaces/IDeviceAttestation.sol";
import {IDeviceFeed} from "../contracts/interfaces/IDeviceFeed.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {DeviceMessageLib} from "../contracts/libraries/DeviceMessageLib.sol";
import {MockStaking} from "../contracts/mocks/MockStaking.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {Reading} from "../contracts/types/Messages.sol";
import {FeedFixture} from "./utils/FeedFixture.sol";
import {KeyHelpers, TestKey} from "./utils/RegistryFixture.sol";

/// @notice Drives a 7-device feed with readings drawn from small pools (sequences around the last one,
/// values up to 15% from 100, ages up to the freshness limit), sets active and pending stake, moves time
/// (past the attestation age too) and resets the breaker; changes membership as the owner (invite, remove),
/// the operator (join, request a leave) and anyone (complete a leave), and moves devices between the
/// fixture's operator and the feed owner. Predicts eligibility, keeps the set of operator consents and the
/// requested leave times, and counts violations.
/// @dev Bounded and never reverting: every call into the feed or the registry runs in try/catch. No function
/// here starts with "test".
contract DeviceFeedHandler is CommonBase, StdUtils, KeyHelpers {
    int256 internal constant BASE = 100e8;

    DeviceFeed private immutable FEED;
    MockStaking private immutable STAKING;
    IDeviceAttestation private immutable ATTESTATION;
    IDeviceRegistry private immutable REGISTRY;
    address private immutable OWNER;
    address private immutable OPERATOR;
    address private immutable STRANGER = address(0x5742A6E5);
    bytes32 private immutable DOMAIN;
    uint96 private immutable MIN_STAKE;
    uint32 private immutable MAX_ATTESTATION_AGE;
    uint32 private immutable MAX_READING_AGE;

    TestKey[] private _keys;
    DeviceId[] public ids;

    mapping(DeviceId id => mapping(uint64 sequence => bool)) private _used;
    /// @dev Must stay zero: a reading accepted from a device that was untrusted or unstaked.
    uint256 public ghostIneligibleAccepted;
    /// @dev Must stay zero: a sequence used twice by one device (accepted or tripping).
    uint256 public ghostSequenceReused;
    uint256 public ghostAccepted;
    uint256 public ghostTrips;

    /// @notice Devices whose operator consented to their current membership: it joined through `join` by its
    /// operator, or the owner who added it operated it. Cleared when the membership ends.
    mapping(DeviceId id => bool) public consented;
    /// @notice When a requested leave of the device may complete (0: none pending).
    mapping(DeviceId id => uint256) public leaveAt;
    /// @dev Invited and not yet joined: join and completeLeave prefer such devices, so that memberships
    /// actually change within a run.
    mapping(DeviceId id => bool) private _invited;
    /// @dev Must stay zero: a membership call that succeeded for a caller who may not make it (join or
    /// requestLeave by a non-operator), or a leave completed before its time.
    uint256 public ghostUnauthorized;
    uint256 public ghostEarlyLeaves;
    uint256 public ghostJoins;
    uint256 public ghostLeaves;

    /// @dev The fixture's devices are rebuilt here from the same seeds (see FeedFixture.setUp). All of them
    /// joined there through `join` by their operator, so each membership starts consented.
    constructor(DeviceFeed feed, MockStaking staking, address registry, bytes32 domain, address operator) {
        FEED = feed;
        STAKING = staking;
        ATTESTATION = IDeviceAttestation(registry);
        REGISTRY = IDeviceRegistry(registry);
        OWNER = feed.owner();
        OPERATOR = operator;
        DOMAIN = domain;
        IDeviceFeed.Config memory c = feed.config();
        MIN_STAKE = c.minStake;
        MAX_ATTESTATION_AGE = c.maxAttestationAge;
        MAX_READING_AGE = c.maxReadingAge;
        DeviceId[] memory members = feed.members();
        for (uint256 i; i < members.length; ++i) {
            TestKey memory k = _keyFor(i % 2 == 0, 0xFEED00 + i);
            _keys.push(k);
            ids.push(_id(k));
            consented[_id(k)] = true;
        }
    }

    function deviceCount() external view returns (uint256) {
        return ids.length;
    }

    function submit(uint256 deviceSeed, uint256 seqSeed, int256 valueSeed, uint256 ageSeed) external {
        uint256 d = bound(deviceSeed, 0, ids.length - 1);
        uint64 last = FEED.sequenceOf(ids[d]);
        Reading memory r = _reading(d, last, seqSeed, valueSeed, ageSeed);
        bytes memory sig = _sign(_keys[d], _typedDigest(DOMAIN, DeviceMessageLib.hashReading(r)));
        // Active stake only: stake pending withdrawal makes a device eligible for nothing.
        bool eligible =
            ATTESTATION.isTrusted(r.deviceId, MAX_ATTESTATION_AGE) && STAKING.activeOf(r.deviceId) >= MIN_STAKE;
        try FEED.submit(r, _deviceKey(_keys[d]), sig) returns (bool accepted) {
            _record(r, last, eligible, accepted);
        } catch {
            // Rejected or tripped: nothing was stored.
            return;
        }
    }

    /// @dev A reading of device `d` with a sequence around its last one (replays and gaps alike), a value
    /// up to 15% from BASE and an age up to the freshness limit.
    function _reading(
        uint256 d,
        uint64 last,
        uint256 seqSeed,
        int256 valueSeed,
        uint256 ageSeed
    ) private view returns (Reading memory) {
        return
            Reading({
                deviceId: ids[d],
                feedId: FEED.feedId(),
                sequence: uint64(bound(seqSeed, last == 0 ? 0 : last - 1, uint256(last) + 2)),
                timestamp: uint64(block.timestamp - bound(ageSeed, 0, MAX_READING_AGE)),
                value: bound(valueSeed, BASE - 15e8, BASE + 15e8)
            });
    }

    /// @dev Accepted or tripping: the sequence is used either way.
    function _record(Reading memory r, uint64 last, bool eligible, bool accepted) private {
        if (_used[r.deviceId][r.sequence] || r.sequence <= last) ++ghostSequenceReused;
        _used[r.deviceId][r.sequence] = true;
        if (!eligible) ++ghostIneligibleAccepted;
        if (accepted) ++ghostAccepted;
        else ++ghostTrips;
    }

    /// @dev Active stake around the minimum, plus up to ten times the minimum pending withdrawal (slashable
    /// but not active).
    function setStake(uint256 deviceSeed, uint256 activeSeed, uint256 pendingSeed) external {
        uint256 d = bound(deviceSeed, 0, ids.length - 1);
        uint256 active = bound(activeSeed, uint256(MIN_STAKE) - 1, uint256(MIN_STAKE) * 3);
        STAKING.setSlashable(ids[d], active + bound(pendingSeed, 0, uint256(MIN_STAKE) * 10));
        STAKING.setActive(ids[d], active);
    }

    // ------------------------------------------------------------------ membership

    function _isMember(DeviceId id) private view returns (bool) {
        DeviceId[] memory m = FEED.members();
        for (uint256 i; i < m.length; ++i) if (DeviceId.unwrap(m[i]) == DeviceId.unwrap(id)) return true;
        return false;
    }

    /// @dev The first device from the seed's on whose flag is set, else the seed's device.
    function _pick(uint256 seed, bool leaving) private view returns (DeviceId) {
        uint256 n = ids.length;
        uint256 start = bound(seed, 0, n - 1);
        for (uint256 k; k < n; ++k) {
            DeviceId id = ids[(start + k) % n];
            if (leaving ? leaveAt[id] != 0 : _invited[id]) return id;
        }
        return ids[start];
    }

    /// @dev The owner adds a device: a member at once only if the owner operates it.
    function addMember(uint256 deviceSeed) external {
        DeviceId id = ids[bound(deviceSeed, 0, ids.length - 1)];
        bool ownerOperates = REGISTRY.operatorOf(id) == OWNER;
        vm.prank(OWNER);
        try FEED.addMember(id) {
            if (ownerOperates && _isMember(id)) {
                consented[id] = true;
                ++ghostJoins;
            } else {
                _invited[id] = true;
            }
        } catch {
            return; // already a member, or full
        }
    }

    /// @dev The device's operator, or a stranger, accepts an invitation.
    function join(uint256 deviceSeed, bool byOperator) external {
        DeviceId id = _pick(deviceSeed, false);
        address op = REGISTRY.operatorOf(id);
        address caller = byOperator ? op : STRANGER;
        vm.prank(caller);
        try FEED.join(id) {
            _invited[id] = false;
            if (caller == op) {
                consented[id] = true;
                ++ghostJoins;
            } else {
                ++ghostUnauthorized;
            }
        } catch {
            return; // not invited, already a member, or not the operator
        }
    }

    /// @dev The device's operator, or a stranger, asks to leave.
    function requestLeave(uint256 deviceSeed, bool byOperator) external {
        DeviceId id = ids[bound(deviceSeed, 0, ids.length - 1)];
        address op = REGISTRY.operatorOf(id);
        address caller = byOperator ? op : STRANGER;
        uint256 at = block.timestamp + STAKING.params().unbondingPeriod;
        vm.prank(caller);
        try FEED.requestLeave(id) {
            if (caller != op) ++ghostUnauthorized;
            leaveAt[id] = at;
        } catch {
            return; // not a member, or not the operator
        }
    }

    /// @dev Anyone completes a leave.
    function completeLeave(uint256 deviceSeed) external {
        DeviceId id = _pick(deviceSeed, true);
        uint256 at = leaveAt[id];
        vm.prank(STRANGER);
        try FEED.completeLeave(id) {
            if (at == 0 || block.timestamp < at) ++ghostEarlyLeaves;
            _ended(id);
            ++ghostLeaves;
        } catch {
            return; // not a member, or not yet leaving
        }
    }

    /// @dev The owner removes a member or withdraws an invitation.
    function removeMember(uint256 deviceSeed) external {
        DeviceId id = ids[bound(deviceSeed, 0, ids.length - 1)];
        vm.prank(OWNER);
        try FEED.removeMember(id) {
            _ended(id);
        } catch {
            return; // neither a member nor invited
        }
    }

    function _ended(DeviceId id) private {
        consented[id] = false;
        leaveAt[id] = 0;
        _invited[id] = false;
    }

    /// @dev Moves a device between the fixture's operator and the feed owner (both steps of the transfer), so
    /// that addMember by an owner who operates the device is exercised too.
    function transferCustody(uint256 deviceSeed) external {
        DeviceId id = ids[bound(deviceSeed, 0, ids.length - 1)];
        address from = REGISTRY.operatorOf(id);
        address to = from == OWNER ? OPERATOR : OWNER;
        vm.prank(from);
        try REGISTRY.startCustodyTransfer(id, to) {
            vm.prank(to);
            try REGISTRY.acceptCustody(id) {
                return;
            } catch {
                return;
            }
        } catch {
            return; // not active
        }
    }

    function warp(uint256 secondsSeed) external {
        vm.warp(block.timestamp + bound(secondsSeed, 0, 4 days));
    }

    function reset() external {
        if (FEED.tripReason() != IDeviceFeed.TripReason.None) FEED.reset();
    }

    function evict(uint256 deviceSeed) external {
        uint256 d = bound(deviceSeed, 0, ids.length - 1);
        try FEED.evict(ids[d]) {
            return;
        } catch {
            return; // still eligible: nothing to evict
        }
    }
}

/// @notice Invariants of DeviceFeed under random submissions, stake changes, time and resets.
contract DeviceFeedInvariantTest is FeedFixture {
    DeviceFeedHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new DeviceFeedHandler(feed, staking, address(registry), domainSeparator, operator);
        for (uint256 i; i < DEVICES; ++i) assertEq(DeviceId.unwrap(handler.ids(i)), DeviceId.unwrap(ids[i]));
        vm.prank(feedOwner);
        feed.setGuardian(address(handler), true);
        // Leaves complete within a run's few days of warps.
        staking.setUnbondingPeriod(2 days);
        targetContract(address(handler));
        // The actions only, not the handler's getters.
        bytes4[] memory selectors = new bytes4[](11);
        selectors[0] = DeviceFeedHandler.submit.selector;
        selectors[1] = DeviceFeedHandler.setStake.selector;
        selectors[2] = DeviceFeedHandler.warp.selector;
        selectors[3] = DeviceFeedHandler.reset.selector;
        selectors[4] = DeviceFeedHandler.evict.selector;
        selectors[5] = DeviceFeedHandler.addMember.selector;
        selectors[6] = DeviceFeedHandler.join.selector;
        selectors[7] = DeviceFeedHandler.requestLeave.selector;
        selectors[8] = DeviceFeedHandler.completeLeave.selector;
        selectors[9] = DeviceFeedHandler.removeMember.selector;
        selectors[10] = DeviceFeedHandler.transferCustody.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @notice The handler's submissions are not vacuous: an honest fresh reading of an eligible device counts,
    /// and one of an unstaked device does not.
    function test_handler_SubmitCountsOnlyEligible() public {
        handler.submit(0, 1, 0, 0);
        assertEq(handler.ghostAccepted(), 1);
        assertEq(feed.sequenceOf(ids[0]), 1);
        handler.setStake(1, 0, 0);
        handler.submit(1, 1, 0, 0);
        assertEq(handler.ghostAccepted(), 1);
        assertEq(feed.sequenceOf(ids[1]), 0);
        // Plenty of stake pending withdrawal, one unit of active stake short: not eligible either.
        handler.setStake(2, 0, uint256(MIN_STAKE) * 10);
        assertGt(staking.slashableOf(ids[2]), MIN_STAKE);
        handler.submit(2, 1, 0, 0);
        assertEq(handler.ghostAccepted(), 1);
        assertEq(feed.sequenceOf(ids[2]), 0);
    }

    /// @notice The handler's membership actions are not vacuous: a leave waits out the unbonding period, a
    /// re-invited device becomes a member only when its operator joins, and an owner who operates a device
    /// adds it at once.
    function test_handler_MembershipActions() public {
        handler.requestLeave(0, false);
        assertEq(handler.leaveAt(ids[0]), 0, "a stranger cannot ask to leave");
        handler.requestLeave(0, true);
        assertEq(handler.leaveAt(ids[0]), block.timestamp + 2 days);
        handler.completeLeave(0);
        assertEq(feed.members().length, DEVICES, "not yet");
        vm.warp(block.timestamp + 2 days);
        handler.completeLeave(0);
        assertEq(handler.ghostLeaves(), 1);
        assertEq(feed.members().length, DEVICES - 1);
        assertFalse(handler.consented(ids[0]));
        handler.addMember(0);
        handler.join(0, false);
        assertEq(feed.members().length, DEVICES - 1, "invited only");
        handler.join(0, true);
        assertEq(feed.members().length, DEVICES);
        assertTrue(handler.consented(ids[0]));
        handler.removeMember(1);
        handler.transferCustody(1);
        assertEq(registry.operatorOf(ids[1]), feedOwner);
        handler.addMember(1);
        assertEq(feed.members().length, DEVICES, "the owner-operator adds at once");
        assertTrue(handler.consented(ids[1]));
        assertEq(handler.ghostUnauthorized(), 0);
        assertEq(handler.ghostEarlyLeaves(), 0);
    }

    /// @notice Whenever the feed answers, the answer lies between the lowest and highest fresh reading.
    function invariant_answerWithinFreshRange() public view {
        // readFresh(maxReadingAge) answers what latestRoundData answers (checked below) and decodes in fewer
        // stack slots inside a try.
        try feed.readFresh(MAX_READING_AGE) returns (int256 answer, uint256) {
            (, int256 latest, , , ) = feed.latestRoundData();
            assertEq(latest, answer);
            int256 lo = type(int256).max;
            int256 hi = type(int256).min;
            DeviceId[] memory members = feed.members();
            for (uint256 i; i < members.length; ++i) {
                IDeviceFeed.Slot memory s = feed.slotOf(members[i]);
                if (s.timestamp == 0 || block.timestamp - s.timestamp >= MAX_READING_AGE) continue;
                if (s.value < lo) lo = s.value;
                if (s.value > hi) hi = s.value;
            }
            assertGe(answer, lo);
            assertLe(answer, hi);
        } catch {
            // Tripped or below quorum: reverting instead of answering is the intended behaviour.
            return;
        }
    }

    /// @notice No reading from an untrusted or unstaked device is ever accepted.
    function invariant_noIneligibleReadingCounts() public view {
        assertEq(handler.ghostIneligibleAccepted(), 0);
    }

    /// @notice A device's sequence never repeats: every stored sequence was above the previous one.
    function invariant_sequenceNeverRepeats() public view {
        assertEq(handler.ghostSequenceReused(), 0);
    }

    /// @notice No device is a member without its operator's consent (it joined, or the owner operated it),
    /// and no one but the operator joins a device or asks it to leave.
    function invariant_everyMemberConsented() public view {
        DeviceId[] memory members = feed.members();
        for (uint256 i; i < members.length; ++i) assertTrue(handler.consented(members[i]), "member without consent");
        assertEq(handler.ghostUnauthorized(), 0);
    }

    /// @notice The cost of corrupting the feed never exceeds the active stake of all its members.
    function invariant_costWithinMembersActiveStake() public view {
        DeviceId[] memory members = feed.members();
        uint256 total;
        for (uint256 i; i < members.length; ++i) total += staking.activeOf(members[i]);
        (uint256 cost, uint256 operators) = feed.corruption();
        assertLe(cost, total);
        assertEq(feed.costOfCorruption(), cost);
        assertLe(operators, members.length);
        assertEq(operators == 0, members.length == 0);
    }

    /// @notice A member that asked to leave stays a member (its reading and stake count) until its leave time,
    /// and no leave completes earlier.
    function invariant_leavingMemberCountsUntilLeaveAt() public view {
        for (uint256 i; i < DEVICES; ++i) {
            uint256 at = handler.leaveAt(ids[i]);
            if (at == 0 || block.timestamp >= at) continue;
            bool member;
            DeviceId[] memory members = feed.members();
            for (uint256 j; j < members.length; ++j) {
                if (DeviceId.unwrap(members[j]) == DeviceId.unwrap(ids[i])) member = true;
            }
            assertTrue(member, "left before leaveAt");
            feed.slotOf(ids[i]);
        }
        assertEq(handler.ghostEarlyLeaves(), 0);
    }
}
