// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IDeviceFeed} from "../../contracts/interfaces/IDeviceFeed.sol";
import {DeviceId} from "../../contracts/types/DeviceId.sol";

/// @title DeviceFeedGhost
/// @notice The ghost state DeviceFeed's invariant handlers share. Around every transaction a handler makes on
/// the feed (`before`, then `settle`) it records: each round as committed, with the readings it was taken over
/// (the members' slots that are fresh and not quarantined right after the committing call); each quarantine's
/// time; and each trip,
/// checked against its reason at the moment it happens (IDeviceFeed's rules: Quarantines needs more than
/// maxQuarantines quarantines within maxReadingAge, QuorumLost fewer unquarantined members than the quorum,
/// MedianJump a median more than maxDeviationBps from a fresh previous round).
/// @dev Handlers settle after each submission (one `submit` or one `submitMany`), so a call commits at most one
/// round and the quarantined count only grows during it (readmissions and removals are calls of their own):
/// its growth is the new quarantines.
contract DeviceFeedGhost {
    uint256 private constant BPS = 10_000;

    /// @notice A round as committed, and the readings it was computed from.
    struct Committed {
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
        /// @dev What the round says it was taken over (`roundAt(id).readings`).
        uint256 readings;
        /// @dev The fresh, unquarantined readings right after the commit: how many, lowest, highest, median
        /// and oldest time.
        uint256 fresh;
        int256 lo;
        int256 hi;
        int256 median;
        uint256 oldest;
        /// @dev The block time of the committing call.
        uint256 committedAt;
    }

    IDeviceFeed private immutable FEED;
    uint256 private immutable QUORUM;
    uint256 private immutable MAX_READING_AGE;
    uint256 private immutable MAX_QUARANTINES;
    uint256 private immutable MAX_DEVIATION_BPS;

    mapping(uint256 roundId => Committed) private _rounds;
    /// @notice Rounds recorded, 1..rounds (each one the latest + 1 when it appeared).
    uint256 public rounds;
    uint256[] private _quarantinedAt;
    uint256 private _roundBefore;
    uint256 private _quarantinedBefore;
    IDeviceFeed.TripReason private _tripBefore;

    /// @notice Must stay zero: a call that committed more than one round, or moved the latest id other than up.
    uint256 public roundsOutOfSequence;
    /// @notice Must stay zero: the feed tripped without its reason holding.
    uint256 public unjustifiedTrips;
    /// @notice Must stay zero: a quarantine left fewer unquarantined members than the quorum on an armed feed,
    /// and the feed did not trip.
    uint256 public missedTrips;
    /// @notice Trips seen, by reason (how often the breaker was exercised).
    mapping(IDeviceFeed.TripReason reason => uint256) public trips;

    constructor(IDeviceFeed feed) {
        FEED = feed;
        IDeviceFeed.Config memory c = feed.config();
        QUORUM = c.quorum;
        MAX_READING_AGE = c.maxReadingAge;
        MAX_QUARANTINES = c.maxQuarantines;
        MAX_DEVIATION_BPS = c.maxDeviationBps;
    }

    /// @notice Called before a handler action.
    function before() external {
        _roundBefore = FEED.latestRound();
        _quarantinedBefore = FEED.quarantinedCount();
        _tripBefore = FEED.tripReason();
    }

    /// @notice Called after a handler action: records what it committed, quarantined and tripped.
    function settle() external {
        uint256 quarantined = FEED.quarantinedCount();
        for (uint256 q = _quarantinedBefore; q < quarantined; ++q) _quarantinedAt.push(block.timestamp);
        uint256 latest = FEED.latestRound();
        if (latest == _roundBefore + 1) _record(latest);
        else if (latest != _roundBefore) ++roundsOutOfSequence;
        IDeviceFeed.TripReason reason = FEED.tripReason();
        if (_tripBefore != IDeviceFeed.TripReason.None || reason == IDeviceFeed.TripReason.None) {
            if (reason == IDeviceFeed.TripReason.None && quarantined > _quarantinedBefore && _belowQuorum()) {
                ++missedTrips;
            }
            return;
        }
        ++trips[reason];
        if (!_justified(reason, latest)) ++unjustifiedTrips;
    }

    /// @notice Round `roundId` as recorded when it was committed.
    function roundOf(uint256 roundId) external view returns (Committed memory) {
        return _rounds[roundId];
    }

    /// @notice Quarantines within the last `window` seconds (now included).
    function quarantinesWithin(uint256 window) public view returns (uint256 count) {
        // Bounded: one entry per quarantine, and a run makes at most one per action.
        for (uint256 i = _quarantinedAt.length; i > 0; --i) {
            if (block.timestamp - _quarantinedAt[i - 1] >= window) break;
            ++count;
        }
    }

    /// @notice The fresh, unquarantined readings now: how many, lowest, highest, median and oldest time.
    function freshReadings() public view returns (uint256 count, int256 lo, int256 hi, int256 median, uint256 oldest) {
        DeviceId[] memory members = FEED.members();
        int256[] memory values = new int256[](members.length);
        oldest = type(uint256).max;
        for (uint256 i; i < members.length; ++i) {
            IDeviceFeed.Slot memory s = FEED.slotOf(members[i]);
            if (s.timestamp == 0 || s.excluded || block.timestamp - s.timestamp >= MAX_READING_AGE) continue;
            if (FEED.quarantineOf(members[i]).since != 0) continue;
            if (s.timestamp < oldest) oldest = s.timestamp;
            // Insertion sort, ascending (at most 32 members).
            uint256 j = count;
            while (j > 0 && values[j - 1] > s.value) {
                values[j] = values[j - 1];
                --j;
            }
            values[j] = s.value;
            ++count;
        }
        if (count == 0) return (0, 0, 0, 0, 0);
        lo = values[0];
        hi = values[count - 1];
        median = count % 2 == 1 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2;
    }

    /// @notice Whether `value` lies more than `bps` basis points of |ref| from `ref` (IDeviceFeed's "more than
    /// X bps"; nothing is far from 0).
    function far(int256 value, int256 ref, uint256 bps) public pure returns (bool) {
        if (ref == 0) return false;
        uint256 diff = value > ref ? uint256(value - ref) : uint256(ref - value);
        uint256 absRef = ref < 0 ? uint256(-ref) : uint256(ref);
        return diff * BPS > absRef * bps;
    }

    function _record(uint256 roundId) private {
        IDeviceFeed.Round memory r = FEED.roundAt(roundId);
        Committed storage c = _rounds[roundId];
        (c.fresh, c.lo, c.hi, c.median, c.oldest) = freshReadings();
        c.answer = r.answer;
        c.startedAt = r.startedAt;
        c.updatedAt = r.updatedAt;
        c.readings = r.readings;
        c.committedAt = block.timestamp;
        rounds = roundId;
    }

    function _belowQuorum() private view returns (bool) {
        return FEED.members().length - FEED.quarantinedCount() < QUORUM;
    }

    /// @dev The contract's quarantine window starts at a quarantine and holds those after it until it is
    /// maxReadingAge old, so its count never exceeds the quarantines of the last maxReadingAge seconds.
    function _justified(IDeviceFeed.TripReason reason, uint256 latest) private view returns (bool) {
        if (reason == IDeviceFeed.TripReason.Quarantines) return quarantinesWithin(MAX_READING_AGE) > MAX_QUARANTINES;
        if (reason == IDeviceFeed.TripReason.QuorumLost) return _belowQuorum();
        // MedianJump: the refused median of the fresh readings, more than maxDeviationBps from the fresh
        // latest round (the round before a guardian's reset does not count, so this is necessary, not sufficient).
        if (latest == 0) return false;
        IDeviceFeed.Round memory r = FEED.roundAt(latest);
        if (block.timestamp - r.updatedAt >= MAX_READING_AGE) return false;
        (uint256 count, , , int256 median, ) = freshReadings();
        return count >= QUORUM && far(median, r.answer, MAX_DEVIATION_BPS);
    }
}
