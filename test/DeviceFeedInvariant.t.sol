// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {DeviceFeed} from "../contracts/feeds/DeviceFeed.sol";
import {IDeviceAttestation} from "../contracts/interfaces/IDeviceAttestation.sol";
import {IDeviceFeed} from "../contracts/interfaces/IDeviceFeed.sol";
import {DeviceMessageLib} from "../contracts/libraries/DeviceMessageLib.sol";
import {MockStaking} from "../contracts/mocks/MockStaking.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {Reading} from "../contracts/types/Messages.sol";
import {FeedFixture} from "./utils/FeedFixture.sol";
import {KeyHelpers, TestKey} from "./utils/RegistryFixture.sol";

/// @notice Drives a 7-device feed with readings drawn from small pools (sequences around the last one,
/// values up to 15% from 100, ages up to the freshness limit), switches stake on and off, moves time
/// (past the attestation age too) and resets the breaker. Predicts eligibility and counts violations.
/// @dev Bounded and never reverting: every submit runs in try/catch. No function here starts with "test".
contract DeviceFeedHandler is CommonBase, StdUtils, KeyHelpers {
    int256 internal constant BASE = 100e8;

    DeviceFeed private immutable FEED;
    MockStaking private immutable STAKING;
    IDeviceAttestation private immutable ATTESTATION;
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

    /// @dev The fixture's devices are rebuilt here from the same seeds (see FeedFixture.setUp).
    constructor(DeviceFeed feed, MockStaking staking, address registry, bytes32 domain) {
        FEED = feed;
        STAKING = staking;
        ATTESTATION = IDeviceAttestation(registry);
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
        bool eligible =
            ATTESTATION.isTrusted(r.deviceId, MAX_ATTESTATION_AGE) && STAKING.slashableOf(r.deviceId) >= MIN_STAKE;
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

    function setStake(uint256 deviceSeed, bool staked) external {
        uint256 d = bound(deviceSeed, 0, ids.length - 1);
        STAKING.setSlashable(ids[d], staked ? MIN_STAKE : MIN_STAKE - 1);
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
        handler = new DeviceFeedHandler(feed, staking, address(registry), domainSeparator);
        for (uint256 i; i < DEVICES; ++i) assertEq(DeviceId.unwrap(handler.ids(i)), DeviceId.unwrap(ids[i]));
        vm.prank(feedOwner);
        feed.setGuardian(address(handler), true);
        targetContract(address(handler));
    }

    /// @notice The handler's submissions are not vacuous: an honest fresh reading of an eligible device counts,
    /// and one of an unstaked device does not.
    function test_handler_SubmitCountsOnlyEligible() public {
        handler.submit(0, 1, 0, 0);
        assertEq(handler.ghostAccepted(), 1);
        assertEq(feed.sequenceOf(ids[0]), 1);
        handler.setStake(1, false);
        handler.submit(1, 1, 0, 0);
        assertEq(handler.ghostAccepted(), 1);
        assertEq(feed.sequenceOf(ids[1]), 0);
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
            for (uint256 i; i < DEVICES; ++i) {
                IDeviceFeed.Slot memory s = feed.slotOf(ids[i]);
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
}
