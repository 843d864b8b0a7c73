// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceId} from "../types/DeviceId.sol";
import {Reading} from "../types/Messages.sol";
import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";
import {IDeviceRegistry} from "./IDeviceRegistry.sol";

/// @title IDeviceFeed
/// @notice A data feed answered by member devices, read like a Chainlink aggregator. Anyone relays the
/// members' signed readings; only readings of members that are trusted (attested within
/// `maxAttestationAge`), staked (`minStake` active) and not quarantined count.
///
/// Rounds are committed reports. A `submit` or `submitMany` that accepted a reading commits a round when
/// at least `quorum` members have readings younger than `maxReadingAge` (so all of them lie within
/// `maxReadingAge` of each other and of now) AND the last round is `heartbeat` old or the new median
/// moved more than `deviationThresholdBps` from it (Chainlink's heartbeat and deviation trigger). A round
/// stores its median, `startedAt` (its oldest reading), `updatedAt` (its commit time) and never changes;
/// round ids are 1, 2, 3... `getRoundData` answers any committed round, `latestRoundData` the latest one
/// with Chainlink's semantics (judge staleness from `updatedAt`; `answeredInRound == roundId`), and
/// `readFresh` is the strict variant that reverts.
///
/// Localized compromise: a member's own anomaly quarantines that member in this feed (its reading stops
/// counting, its readings are refused; if the owner enabled `lockdown` and the feed holds the registry's
/// SUSPENDER_ROLE, the device is suspended too): readings faster than `minInterval`, a jump of more than
/// `maxDeviationBps` from its own previous fresh reading, or a reading more than `maxSpreadBps` from the
/// last committed answer while that one is fresh and the feed is not tripped. The feed keeps answering
/// from the others. The feed-wide breaker trips only on aggregate anomalies: the median moving more than
/// `maxDeviationBps` from the previous round while that one is fresh, more than `maxQuarantines`
/// quarantines within `maxReadingAge` (a coordinated attack), or quarantines leaving fewer unquarantined
/// members than `quorum`. A tripped feed still takes readings but commits no round until a guardian resets
/// it; `latestRoundData` keeps answering the last round committed before the trip (its `updatedAt` ages),
/// `readFresh` reverts.
///
/// Readmission: anyone readmits a quarantined member once `quarantinePeriod` has passed since its
/// quarantine and the device has attested again since then and is trusted (permissionless, so a feed whose
/// guardian is away does not lose its honest members for good, while every quarantine costs an attacker a
/// re-attestation and the cool-off); a guardian may readmit a trusted device before the cool-off ends.
/// The reading's feed id is `feedId()`, the feed's address as bytes32.
interface IDeviceFeed is AggregatorV3Interface {
    /// @notice Fixed at creation.
    struct Config {
        /// @dev Fresh readings a round needs (1..MAX_MEMBERS).
        uint8 quorum;
        uint8 decimals;
        /// @dev Largest move, in basis points, of a member from its own previous fresh reading (more
        /// quarantines the member) and of the median from the previous fresh round (more trips the feed);
        /// 0: no check.
        uint16 maxDeviationBps;
        /// @dev Largest distance, in basis points, of a reading from the last committed answer while that one
        /// is fresh (more quarantines the member); 0: no check.
        uint16 maxSpreadBps;
        /// @dev A median more than this far (basis points) from the last round commits a new round before the
        /// heartbeat; 0: only the heartbeat commits.
        uint16 deviationThresholdBps;
        /// @dev Seconds after which an accepted reading commits a new round even if the median did not move
        /// (0: every transaction that accepted a reading commits one).
        uint32 heartbeat;
        /// @dev Seconds a reading stays fresh; older and future readings are rejected.
        uint32 maxReadingAge;
        /// @dev Seconds between two readings of one device (0: no minimum); faster quarantines the member.
        uint32 minInterval;
        /// @dev Seconds since the device's last attestation for it to count as trusted.
        uint32 maxAttestationAge;
        /// @dev Seconds a quarantined member waits (and must re-attest) before anyone may readmit it; at least
        /// maxReadingAge, so one member is quarantined at most once per quarantine window.
        uint32 quarantinePeriod;
        /// @dev Quarantines within maxReadingAge the feed tolerates (at least 1); one more trips it. One
        /// member alone therefore never trips the feed.
        uint8 maxQuarantines;
        /// @dev A quarantine also suspends the device in the registry (needs the feed to hold SUSPENDER_ROLE).
        bool lockdown;
        /// @dev Active stake a device needs in the staking contract.
        uint96 minStake;
        /// @dev Physical bounds of the quantity, inclusive.
        int128 minValue;
        int128 maxValue;
        string description;
    }

    /// @notice Why a reading was not accepted.
    enum Rejection {
        None,
        NotMember,
        WrongFeed,
        InvalidSignature,
        Untrusted,
        Unstaked,
        SequenceNotIncreasing,
        Stale,
        FutureTimestamp,
        OutOfBounds,
        Quarantined
    }

    /// @notice Why a member was quarantined (None: it is not).
    enum Anomaly {
        None,
        TooFrequent,
        Jump,
        Spread
    }

    /// @notice Why the feed tripped.
    enum TripReason {
        None,
        MedianJump,
        Quarantines,
        QuorumLost
    }

    /// @notice A member's latest reading. One storage slot. `excluded`: the reading no longer counts (it was
    /// evicted, or its member quarantined) but stays the member's reference for minInterval and jumps, so
    /// leaving the median for a moment never resets a member's own limits.
    struct Slot {
        int128 value;
        uint40 timestamp;
        uint64 sequence;
        bool excluded;
    }

    /// @notice A committed round. One storage slot.
    struct Round {
        int128 answer;
        /// @dev The oldest reading in the round.
        uint40 startedAt;
        /// @dev When the round was committed.
        uint40 updatedAt;
        /// @dev How many readings the median was taken over.
        uint8 readings;
    }

    /// @notice A member's quarantine: since when and why (both 0: not quarantined).
    struct Quarantine {
        uint40 since;
        Anomaly anomaly;
    }

    error DeviceFeedInvalidConfig();
    error DeviceFeedZeroAddress();
    error DeviceFeedNotGuardian(address caller);
    error DeviceFeedAlreadyMember(DeviceId deviceId);
    error DeviceFeedNotMember(DeviceId deviceId);
    error DeviceFeedTooManyMembers(uint256 max);
    error DeviceFeedRejected(DeviceId deviceId, uint64 sequence, Rejection reason);
    error DeviceFeedTripped(TripReason reason);
    error DeviceFeedNotTripped();
    /// @notice No round has been committed yet (Chainlink: "No data present").
    error DeviceFeedNoRound();
    error DeviceFeedRoundNotAvailable(uint80 roundId, uint80 latestRoundId);
    /// @notice readFresh: the latest round's oldest reading is older than asked.
    error DeviceFeedStale(uint80 roundId, uint256 startedAt, uint256 maxAge);
    error DeviceFeedStillEligible(DeviceId deviceId);
    error DeviceFeedNotOperator(DeviceId deviceId, address caller);
    error DeviceFeedNotInvited(DeviceId deviceId);
    error DeviceFeedNotYetLeaving(DeviceId deviceId, uint40 leaveAt);
    error DeviceFeedNotQuarantined(DeviceId deviceId);
    /// @notice readmit: the cool-off has not passed (`until`), and the caller is not a guardian.
    error DeviceFeedCoolingOff(DeviceId deviceId, uint256 until);
    /// @notice readmit: the device has not attested since its quarantine, or is not trusted now.
    error DeviceFeedNotReattested(DeviceId deviceId, uint256 attestedAt, uint256 quarantinedAt);
    /// @notice A reading would count longer than an equivocation on it stays provable.
    error DeviceFeedReadingOutlivesEvidence(uint256 maxReadingAge, uint256 evidenceWindow);

    /// @notice A device became a member (its operator consented).
    event MemberAdded(DeviceId indexed deviceId);
    /// @notice The owner invited a device; it becomes a member when its operator joins.
    event MemberInvited(DeviceId indexed deviceId);
    /// @notice The device's operator asked to leave; the device stays a member until `leaveAt`.
    event MemberLeaving(DeviceId indexed deviceId, uint40 leaveAt);
    /// @notice A member device left or was removed, or an invitation was withdrawn (its sequence is remembered).
    event MemberRemoved(DeviceId indexed deviceId);
    /// @notice The owner granted or revoked the guardian role of `guardian`.
    event GuardianSet(address indexed guardian, bool enabled);
    /// @notice A reading was accepted.
    event ReadingAccepted(DeviceId indexed deviceId, uint64 sequence, int256 value);
    /// @notice `submitMany` skipped a reading.
    event ReadingRejected(DeviceId indexed deviceId, uint64 sequence, Rejection reason);
    /// @notice Chainlink's event: round `roundId` was committed with answer `current` at `updatedAt`.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    /// @notice The member's reading `sequence` (value `value`) showed `anomaly`: the member is quarantined
    /// (its reading no longer counts); `lockedDown`: the device was suspended in the registry too.
    event MemberQuarantined(
        DeviceId indexed deviceId,
        Anomaly indexed anomaly,
        uint64 sequence,
        int256 value,
        bool lockedDown
    );
    /// @notice A quarantined member counts again (`by`: who readmitted it).
    event MemberReadmitted(DeviceId indexed deviceId, address indexed by);
    /// @notice The feed-wide breaker tripped: no round commits until a guardian resets. `value`: the median
    /// refused (MedianJump) or the quarantines counted (Quarantines, QuorumLost).
    event FeedTripped(TripReason indexed reason, int256 value);
    /// @notice A guardian re-armed the feed.
    event FeedReset(address indexed by);
    /// @notice Anyone removed the fresh reading of a member that is no longer trusted or staked.
    event ReadingEvicted(DeviceId indexed deviceId);

    /// @notice A signed reading as relayed: the reading, the device's current key and its signature.
    struct SignedReading {
        Reading reading;
        IDeviceRegistry.DeviceKey key;
        bytes signature;
    }

    /// @notice The owner adds a device: at once if the owner operates it, otherwise as an invitation its
    /// operator accepts with `join` (membership needs the operator's consent). At most MAX_MEMBERS.
    function addMember(DeviceId deviceId) external;

    /// @notice The operator of an invited device makes it a member.
    function join(DeviceId deviceId) external;

    /// @notice The operator asks to take its device out; it stays a member for the staking unbonding period
    /// (those relying on it keep it as long as its stake), then anyone completes it with `completeLeave`.
    function requestLeave(DeviceId deviceId) external;

    /// @notice Completes a requested leave once its time has come (anyone may call).
    function completeLeave(DeviceId deviceId) external;

    /// @notice The owner removes a member (its reading stops counting at once) or withdraws an invitation.
    function removeMember(DeviceId deviceId) external;

    /// @notice The owner grants (`enabled`) or revokes the guardian role.
    function setGuardian(address guardian, bool enabled) external;

    /// @notice Accepts one signed reading and commits a round if it brings one (see the contract notes), or
    /// reverts with DeviceFeedRejected. A reading that shows its member's anomaly quarantines the member:
    /// this is recorded (the reading does not count, its sequence is used) and returns false instead of
    /// reverting, so the quarantine persists.
    function submit(
        Reading calldata reading,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) external returns (bool accepted);

    /// @notice Submits several readings, then commits at most one round; rejected ones are skipped with a
    /// ReadingRejected event, anomalous ones quarantine their member. Returns how many were accepted.
    function submitMany(SignedReading[] calldata readings) external returns (uint256 accepted);

    /// @notice A guardian re-arms a tripped feed; the next round is not compared with the one before the
    /// trip (the guardian accepts the level the feed moved to).
    function reset() external;

    /// @notice Readmits a quarantined member: anyone, once its cool-off has passed and it has attested again
    /// since its quarantine; a guardian, once it has attested again, at any time.
    function readmit(DeviceId deviceId) external;

    /// @notice Anyone clears the fresh reading of a member that is no longer trusted or staked.
    function evict(DeviceId deviceId) external;

    /// @notice The latest round's answer and commit time, if the feed is not tripped and the round's oldest
    /// reading is younger than `maxAge` (capped at maxReadingAge); reverts otherwise.
    function readFresh(uint256 maxAge) external view returns (int256 answer, uint256 updatedAt);

    /// @notice The latest committed round id (0: none yet).
    function latestRound() external view returns (uint256);

    /// @notice A committed round as stored (reverts for an id that was not committed).
    function roundAt(uint256 roundId) external view returns (Round memory);

    /// @notice The active stake of the cheapest set of operators that controls the median (holds
    /// ceil((n + 1) / 2) of the n members), counted per operator since one operator controls all its devices.
    /// It is what proofs take if that set lies provably (equivocation, out of bounds); a false value inside
    /// the physical range reported by such a set is not provable, and costs no stake.
    function costOfCorruption() external view returns (uint256);

    /// @notice costOfCorruption and the fewest operators that together control the median (1: a single
    /// operator can move the median within range without any provable fault).
    function corruption() external view returns (uint256 cost, uint256 operators);

    /// @notice The id readings of this feed carry: the feed's address as bytes32.
    function feedId() external view returns (bytes32);

    /// @notice The configuration.
    function config() external view returns (Config memory);

    /// @notice The member devices.
    function members() external view returns (DeviceId[] memory);

    /// @notice A member's latest reading (reverts for a non-member).
    function slotOf(DeviceId deviceId) external view returns (Slot memory);

    /// @notice The highest sequence the device has used in this feed (0 if none).
    function sequenceOf(DeviceId deviceId) external view returns (uint64);

    /// @notice Why the feed is tripped (None when armed).
    function tripReason() external view returns (TripReason);

    /// @notice A member's quarantine (zeros: not quarantined).
    function quarantineOf(DeviceId deviceId) external view returns (Quarantine memory);

    /// @notice Members in quarantine.
    function quarantinedCount() external view returns (uint256);

    /// @notice Whether `account` may reset the feed and readmit members early.
    function isGuardian(address account) external view returns (bool);
}
