// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceId} from "../types/DeviceId.sol";
import {Reading} from "../types/Messages.sol";
import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";
import {IDeviceRegistry} from "./IDeviceRegistry.sol";

/// @title IDeviceFeed
/// @notice A data feed answered by member devices: anyone relays their signed readings; only readings of
/// members that are trusted (attested within `maxAttestationAge`), staked (`minStake` slashable) and
/// active count. The answer is the median of the fresh readings (newer than `maxReadingAge`) once a
/// quorum of members has one, computed when read and exposed through Chainlink's AggregatorV3Interface.
/// Circuit breakers: a reading that jumps more than `maxDeviationBps` from the same device's previous
/// fresh reading, or a device reporting faster than `minInterval`, trips the feed; a tripped feed reverts
/// on read and on submit until a guardian resets it (no self re-arming: a human looks at what tripped
/// it). After a reset, readings older than the reset are no deviation reference, so the feed accepts a
/// level change the guardian confirmed.
/// @dev Rounds: the round id is the sum of the members' sequences (plus those of removed members), so it
/// grows with every accepted reading and never decreases, without a counter written per reading. Only the
/// latest round is answered: `getRoundData` of any older round reverts with DeviceFeedRoundNotAvailable
/// (storing a median per round would cost a new slot per reading). The reading's feed id is `feedId()`,
/// the feed's address as bytes32.
interface IDeviceFeed is AggregatorV3Interface {
    /// @notice Fixed at creation.
    struct Config {
        /// @dev Fresh readings needed for an answer (1..MAX_MEMBERS).
        uint8 quorum;
        uint8 decimals;
        /// @dev Deviation from the device's previous reading that trips the feed, in basis points (0: no check).
        uint16 maxDeviationBps;
        /// @dev Seconds a reading stays fresh; older and future readings are rejected.
        uint32 maxReadingAge;
        /// @dev Seconds between two readings of one device (0: no minimum); faster trips the feed.
        uint32 minInterval;
        /// @dev Seconds since the device's last attestation for it to count as trusted.
        uint32 maxAttestationAge;
        /// @dev Slashable stake a device needs in the staking contract.
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
        OutOfBounds
    }

    /// @notice Why the feed tripped.
    enum TripReason {
        None,
        Deviation,
        TooFrequent
    }

    /// @notice A member's latest reading. One storage slot.
    struct Slot {
        int128 value;
        uint40 timestamp;
        uint64 sequence;
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
    error DeviceFeedNoQuorum(uint256 fresh, uint256 quorum);
    error DeviceFeedRoundNotAvailable(uint80 roundId, uint80 latestRoundId);
    error DeviceFeedStillEligible(DeviceId deviceId);
    error DeviceFeedNotOperator(DeviceId deviceId, address caller);
    error DeviceFeedNotInvited(DeviceId deviceId);
    error DeviceFeedNotYetLeaving(DeviceId deviceId, uint40 leaveAt);
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
    /// @notice A reading was accepted (it started a new round: see roundId in latestRoundData).
    event ReadingAccepted(DeviceId indexed deviceId, uint64 sequence, int256 value);
    /// @notice `submitMany` skipped a reading.
    event ReadingRejected(DeviceId indexed deviceId, uint64 sequence, Rejection reason);
    /// @notice The breaker tripped on `deviceId`'s reading; reads revert until a guardian resets.
    event FeedTripped(TripReason indexed reason, DeviceId indexed deviceId, uint64 sequence, int256 value);
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

    /// @notice Accepts one signed reading or reverts with DeviceFeedRejected. If the reading trips the
    /// breaker, the trip is recorded (the reading does not count, its sequence is used) and this returns
    /// false instead of reverting, so the trip persists. Reverts with DeviceFeedTripped on a tripped feed.
    function submit(
        Reading calldata reading,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) external returns (bool accepted);

    /// @notice Submits several readings; rejected ones are skipped with a ReadingRejected event, and
    /// processing stops at a trip. Returns how many were accepted.
    function submitMany(SignedReading[] calldata readings) external returns (uint256 accepted);

    /// @notice A guardian re-arms a tripped feed. The deviation reference is cleared: the next accepted
    /// reading sets it.
    function reset() external;

    /// @notice Anyone clears the fresh reading of a member that is no longer trusted or staked.
    function evict(DeviceId deviceId) external;

    /// @notice The median of the readings newer than `maxAge` (capped at maxReadingAge) and the time of
    /// the newest; reverts if tripped or fewer than a quorum are that fresh.
    function readFresh(uint256 maxAge) external view returns (int256 answer, uint256 updatedAt);

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

    /// @notice Whether `account` may reset the feed.
    function isGuardian(address account) external view returns (bool);
}
