// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {IDeviceAttestation} from "../interfaces/IDeviceAttestation.sol";
import {IDeviceFeed} from "../interfaces/IDeviceFeed.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {IDeviceStaking} from "../interfaces/IDeviceStaking.sol";
import {IFraudProofs} from "../interfaces/IFraudProofs.sol";
import {DeviceMessageLib} from "../libraries/DeviceMessageLib.sol";
import {DeviceId} from "../types/DeviceId.sol";
import {Reading} from "../types/Messages.sol";

/// @title DeviceFeed
/// @notice A median feed of trusted, staked member devices, read like a Chainlink aggregator.
/// @dev Gas layout: an accepted reading writes one storage slot, the member's own (value, timestamp,
/// sequence); the feed's state slot is only read. The median and the round id are computed on read over
/// the members' slots (a fixed array, so n + 1 storage reads). The deviation breaker compares a reading
/// with the same device's previous one (in the slot the submit reads anyway), never with another sensor's
/// value: two sensors of one quantity differ by their calibration, one sensor's jump is the signal.
contract DeviceFeed is IDeviceFeed, Ownable2Step {
    /// @notice The most member devices a feed has (bounds the median's loop and sort).
    uint256 public constant MAX_MEMBERS = 32;
    uint256 private constant BPS = 10_000;

    /// @dev The feed's state. One storage slot, written only by the owner, a guardian or a trip.
    struct State {
        TripReason tripped;
        uint8 memberCount;
        /// @dev When a guardian last reset the feed: older readings are no deviation reference.
        uint40 resetAt;
        /// @dev The sequences of removed members, so the round id never decreases (see roundId()).
        uint80 retiredRounds;
    }

    /// @dev index is the member's position + 1 (0: not a member); `sequence` is the highest sequence the
    /// device used, kept here while it is not a member so a re-added device never reuses one. `invited`:
    /// the owner asked the device to join and its operator has not answered. `leaveAt`: the operator asked
    /// to leave; the device stays a member until then (0: not leaving).
    struct Membership {
        uint8 index;
        uint64 sequence;
        bool invited;
        uint40 leaveAt;
    }

    /// @dev The DeviceRegistry, which is also the attestation contract.
    IDeviceRegistry private immutable REGISTRY;
    IDeviceStaking private immutable STAKING;
    /// @dev The registry's EIP-712 domain read at deployment, and the chain id it was built for: devices sign
    /// under the registry's domain, which names the chain; after a fork (a new chain id) `_domainSeparator`
    /// asks the registry again, so old-chain signatures stop counting.
    bytes32 private immutable CACHED_DOMAIN_SEPARATOR;
    uint256 private immutable CACHED_CHAIN_ID;
    uint8 private immutable QUORUM;
    uint8 private immutable DECIMALS;
    uint16 private immutable MAX_DEVIATION_BPS;
    uint32 private immutable MAX_READING_AGE;
    uint32 private immutable MIN_INTERVAL;
    uint32 private immutable MAX_ATTESTATION_AGE;
    uint96 private immutable MIN_STAKE;
    int128 private immutable MIN_VALUE;
    int128 private immutable MAX_VALUE;

    string private _description;
    State private _state;
    Slot[MAX_MEMBERS] private _slots;
    DeviceId[MAX_MEMBERS] private _memberIds;
    mapping(DeviceId id => Membership) private _membership;
    mapping(address account => bool) private _guardians;

    /// @notice Binds the feed to a registry and a staking contract with a fixed configuration.
    /// @param registry The DeviceRegistry (both IDeviceRegistry and IDeviceAttestation).
    /// @param staking The staking contract whose slashable stake counts.
    /// @param cfg The configuration (see IDeviceFeed.Config).
    /// @param initialOwner Who adds members and guardians.
    constructor(
        address registry,
        IDeviceStaking staking,
        Config memory cfg,
        address initialOwner
    ) Ownable(initialOwner) {
        if (registry == address(0) || address(staking) == address(0)) revert DeviceFeedZeroAddress();
        if (
            cfg.quorum == 0 ||
            cfg.quorum > MAX_MEMBERS ||
            cfg.maxReadingAge == 0 ||
            cfg.maxAttestationAge == 0 ||
            cfg.minValue > cfg.maxValue
        ) revert DeviceFeedInvalidConfig();
        // A reading counts until it is maxReadingAge old; an equivocation on it must stay provable that long.
        address proofs = staking.proofs();
        if (proofs == address(0)) revert DeviceFeedZeroAddress();
        uint256 window = IFraudProofs(proofs).evidenceWindow();
        if (cfg.maxReadingAge > window) revert DeviceFeedReadingOutlivesEvidence(cfg.maxReadingAge, window);
        REGISTRY = IDeviceRegistry(registry);
        STAKING = staking;
        CACHED_DOMAIN_SEPARATOR = IDeviceRegistry(registry).DOMAIN_SEPARATOR();
        CACHED_CHAIN_ID = block.chainid;
        QUORUM = cfg.quorum;
        DECIMALS = cfg.decimals;
        MAX_DEVIATION_BPS = cfg.maxDeviationBps;
        MAX_READING_AGE = cfg.maxReadingAge;
        MIN_INTERVAL = cfg.minInterval;
        MAX_ATTESTATION_AGE = cfg.maxAttestationAge;
        MIN_STAKE = cfg.minStake;
        MIN_VALUE = cfg.minValue;
        MAX_VALUE = cfg.maxValue;
        _description = cfg.description;
    }

    // ================================================================ owner and guardians

    /// @inheritdoc IDeviceFeed
    function addMember(DeviceId deviceId) external onlyOwner {
        Membership storage m = _membership[deviceId];
        if (m.index != 0) revert DeviceFeedAlreadyMember(deviceId);
        // A device joins only with its operator's consent: an owner who operates it consents by adding it.
        if (REGISTRY.operatorOf(deviceId) == msg.sender) {
            _join(deviceId, m);
        } else {
            m.invited = true;
            emit MemberInvited(deviceId);
        }
    }

    /// @inheritdoc IDeviceFeed
    function join(DeviceId deviceId) external {
        _requireOperator(deviceId);
        Membership storage m = _membership[deviceId];
        if (m.index != 0) revert DeviceFeedAlreadyMember(deviceId);
        if (!m.invited) revert DeviceFeedNotInvited(deviceId);
        _join(deviceId, m);
    }

    /// @inheritdoc IDeviceFeed
    function requestLeave(DeviceId deviceId) external {
        _requireOperator(deviceId);
        Membership storage m = _membership[deviceId];
        if (m.index == 0) revert DeviceFeedNotMember(deviceId);
        // As long as stake takes to unbond: integrators and coverage relying on the member keep it that long.
        uint40 leaveAt = uint40(block.timestamp + STAKING.params().unbondingPeriod);
        m.leaveAt = leaveAt;
        emit MemberLeaving(deviceId, leaveAt);
    }

    /// @inheritdoc IDeviceFeed
    function completeLeave(DeviceId deviceId) external {
        Membership storage m = _membership[deviceId];
        if (m.index == 0) revert DeviceFeedNotMember(deviceId);
        uint40 leaveAt = m.leaveAt;
        if (leaveAt == 0 || block.timestamp < leaveAt) revert DeviceFeedNotYetLeaving(deviceId, leaveAt);
        _remove(deviceId);
    }

    /// @inheritdoc IDeviceFeed
    function removeMember(DeviceId deviceId) external onlyOwner {
        Membership storage m = _membership[deviceId];
        if (m.index == 0) {
            if (!m.invited) revert DeviceFeedNotMember(deviceId);
            m.invited = false; // withdraws an unanswered invitation
            emit MemberRemoved(deviceId);
            return;
        }
        _remove(deviceId);
    }

    /// @dev Takes a member out (swap-and-pop), remembering its sequence.
    function _remove(DeviceId deviceId) private {
        uint8 index = _membership[deviceId].index;
        uint8 last = _state.memberCount - 1;
        uint64 sequence = _slots[index - 1].sequence;
        if (index - 1 != last) {
            // Swap-and-pop keeps the members' slots contiguous, so reads loop over memberCount slots.
            DeviceId moved = _memberIds[last];
            _slots[index - 1] = _slots[last];
            _memberIds[index - 1] = moved;
            _membership[moved].index = index;
        }
        delete _slots[last];
        _memberIds[last] = DeviceId.wrap(0);
        _membership[deviceId] = Membership({index: 0, sequence: sequence, invited: false, leaveAt: 0});
        State memory st = _state;
        st.memberCount = last;
        // Wraps only after 2^16 removals of members that used the largest sequence: never in practice.
        unchecked {
            st.retiredRounds += uint80(sequence);
        }
        _state = st;
        emit MemberRemoved(deviceId);
    }

    /// @inheritdoc IDeviceFeed
    function setGuardian(address guardian, bool enabled) external onlyOwner {
        if (guardian == address(0)) revert DeviceFeedZeroAddress();
        _guardians[guardian] = enabled;
        emit GuardianSet(guardian, enabled);
    }

    /// @inheritdoc IDeviceFeed
    function reset() external {
        if (msg.sender != owner() && !_guardians[msg.sender]) revert DeviceFeedNotGuardian(msg.sender);
        if (_state.tripped == TripReason.None) revert DeviceFeedNotTripped();
        _state.tripped = TripReason.None;
        _state.resetAt = uint40(block.timestamp);
        emit FeedReset(msg.sender);
    }

    // ================================================================ submissions

    /// @inheritdoc IDeviceFeed
    function submit(
        Reading calldata reading,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) external returns (bool accepted) {
        _requireArmed();
        Rejection rejection;
        (rejection, accepted) = _process(reading, key, signature);
        if (rejection != Rejection.None) revert DeviceFeedRejected(reading.deviceId, reading.sequence, rejection);
    }

    /// @inheritdoc IDeviceFeed
    function submitMany(SignedReading[] calldata readings) external returns (uint256 accepted) {
        _requireArmed();
        for (uint256 i; i < readings.length; ++i) {
            SignedReading calldata r = readings[i];
            (Rejection rejection, bool ok) = _process(r.reading, r.key, r.signature);
            if (rejection != Rejection.None) {
                emit ReadingRejected(r.reading.deviceId, r.reading.sequence, rejection);
            } else if (ok) {
                ++accepted;
            } else {
                break; // tripped: nothing more counts until a guardian resets
            }
        }
    }

    /// @inheritdoc IDeviceFeed
    function evict(DeviceId deviceId) external {
        uint8 index = _membership[deviceId].index;
        if (index == 0) revert DeviceFeedNotMember(deviceId);
        if (_eligible(deviceId)) revert DeviceFeedStillEligible(deviceId);
        Slot storage s = _slots[index - 1];
        s.value = 0;
        s.timestamp = 0;
        emit ReadingEvicted(deviceId);
    }

    // ================================================================ reads

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        (roundId, answer, startedAt, updatedAt) = _median(MAX_READING_AGE);
        answeredInRound = roundId;
    }

    /// @inheritdoc AggregatorV3Interface
    /// @dev Only the latest round is answered (see IDeviceFeed).
    function getRoundData(
        uint80 roundId_
    )
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        (roundId, answer, startedAt, updatedAt) = _median(MAX_READING_AGE);
        if (roundId_ != roundId) revert DeviceFeedRoundNotAvailable(roundId_, roundId);
        answeredInRound = roundId;
    }

    /// @inheritdoc IDeviceFeed
    function readFresh(uint256 maxAge) external view returns (int256 answer, uint256 updatedAt) {
        (, answer, , updatedAt) = _median(maxAge < MAX_READING_AGE ? maxAge : MAX_READING_AGE);
    }

    /// @inheritdoc IDeviceFeed
    function costOfCorruption() external view returns (uint256 cost) {
        (cost, ) = corruption();
    }

    /// @inheritdoc IDeviceFeed
    function corruption() public view returns (uint256 cost, uint256 operators) {
        uint256 n = _state.memberCount;
        if (n == 0) return (0, 0);
        // Group the members by operator: one operator controls all its devices.
        address[] memory ops = new address[](n);
        uint256[] memory counts = new uint256[](n);
        uint256[] memory stakes = new uint256[](n);
        uint256 groups;
        for (uint256 i; i < n; ++i) {
            DeviceId id = _memberIds[i];
            address op = REGISTRY.operatorOf(id);
            uint256 g;
            while (g < groups && ops[g] != op) ++g;
            if (g == groups) {
                ops[g] = op;
                ++groups;
            }
            ++counts[g];
            stakes[g] += STAKING.activeOf(id);
        }
        // A set controls the median when it holds more than half the members: ceil((n + 1) / 2) of them.
        uint256 needed = (n + 2) / 2;
        // Cheapest set of operators holding >= needed members: a knapsack over at most 32 groups.
        uint256[] memory best = new uint256[](needed + 1);
        for (uint256 c = 1; c <= needed; ++c) best[c] = type(uint256).max;
        for (uint256 g; g < groups; ++g) {
            for (uint256 c = needed + 1; c > 0;) {
                --c;
                if (best[c] == type(uint256).max) continue;
                uint256 to = c + counts[g] > needed ? needed : c + counts[g];
                uint256 total = best[c] + stakes[g];
                if (total < best[to]) best[to] = total;
            }
        }
        cost = best[needed];
        // Fewest operators that control it: the largest groups first.
        uint256 covered;
        while (covered < needed) {
            uint256 top;
            for (uint256 g = 1; g < groups; ++g) if (counts[g] > counts[top]) top = g;
            covered += counts[top];
            counts[top] = 0;
            ++operators;
        }
    }

    /// @inheritdoc AggregatorV3Interface
    function decimals() external view returns (uint8) {
        return DECIMALS;
    }

    /// @inheritdoc AggregatorV3Interface
    function description() external view returns (string memory) {
        return _description;
    }

    /// @inheritdoc AggregatorV3Interface
    function version() external pure returns (uint256) {
        return 1;
    }

    /// @inheritdoc IDeviceFeed
    function feedId() public view returns (bytes32) {
        return bytes32(uint256(uint160(address(this))));
    }

    /// @inheritdoc IDeviceFeed
    function config() external view returns (Config memory) {
        return
            Config({
                quorum: QUORUM,
                decimals: DECIMALS,
                maxDeviationBps: MAX_DEVIATION_BPS,
                maxReadingAge: MAX_READING_AGE,
                minInterval: MIN_INTERVAL,
                maxAttestationAge: MAX_ATTESTATION_AGE,
                minStake: MIN_STAKE,
                minValue: MIN_VALUE,
                maxValue: MAX_VALUE,
                description: _description
            });
    }

    /// @inheritdoc IDeviceFeed
    function members() external view returns (DeviceId[] memory ids) {
        uint256 n = _state.memberCount;
        ids = new DeviceId[](n);
        for (uint256 i; i < n; ++i) ids[i] = _memberIds[i];
    }

    /// @inheritdoc IDeviceFeed
    function slotOf(DeviceId deviceId) external view returns (Slot memory) {
        uint8 index = _membership[deviceId].index;
        if (index == 0) revert DeviceFeedNotMember(deviceId);
        return _slots[index - 1];
    }

    /// @inheritdoc IDeviceFeed
    function sequenceOf(DeviceId deviceId) external view returns (uint64) {
        Membership memory m = _membership[deviceId];
        return m.index == 0 ? m.sequence : _slots[m.index - 1].sequence;
    }

    /// @inheritdoc IDeviceFeed
    function tripReason() external view returns (TripReason) {
        return _state.tripped;
    }

    /// @inheritdoc IDeviceFeed
    function isGuardian(address account) external view returns (bool) {
        return account == owner() || _guardians[account];
    }

    // ================================================================ internals

    function _requireArmed() private view {
        TripReason tripped = _state.tripped;
        if (tripped != TripReason.None) revert DeviceFeedTripped(tripped);
    }

    /// @dev Checks one reading and, if it passes, stores it (or trips the feed). Returns the rejection
    /// (None if it passed) and whether it was accepted (false with None: it tripped the feed).
    function _process(
        Reading calldata r,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) private returns (Rejection rejection, bool accepted) {
        uint256 index;
        (rejection, index) = _check(r, key, signature);
        if (rejection == Rejection.None) accepted = _store(r, _slots[index]);
    }

    /// @dev Cheap checks first; the three external calls (signature, trust, stake) last. Returns the
    /// member's slot index when the reading passes.
    function _check(
        Reading calldata r,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) private view returns (Rejection, uint256) {
        if (r.feedId != feedId()) return (Rejection.WrongFeed, 0);
        DeviceId deviceId = r.deviceId;
        uint256 index = _membership[deviceId].index;
        if (index == 0) return (Rejection.NotMember, 0);
        --index;
        Slot memory previous = _slots[index];
        if (r.sequence <= previous.sequence) return (Rejection.SequenceNotIncreasing, 0);
        if (r.timestamp > block.timestamp) return (Rejection.FutureTimestamp, 0);
        // A reading older than the device's previous one is as useless as a stale one.
        if (block.timestamp - r.timestamp >= MAX_READING_AGE || r.timestamp < previous.timestamp) {
            return (Rejection.Stale, 0);
        }
        if (r.value < MIN_VALUE || r.value > MAX_VALUE) return (Rejection.OutOfBounds, 0);
        bytes32 digest = MessageHashUtils.toTypedDataHash(_domainSeparator(), DeviceMessageLib.hashReadingCalldata(r));
        if (!REGISTRY.isValidDeviceSignature(deviceId, digest, key, signature)) {
            return (Rejection.InvalidSignature, 0);
        }
        if (!IDeviceAttestation(address(REGISTRY)).isTrusted(deviceId, MAX_ATTESTATION_AGE)) {
            return (Rejection.Untrusted, 0);
        }
        if (STAKING.activeOf(deviceId) < MIN_STAKE) return (Rejection.Unstaked, 0);
        return (Rejection.None, index);
    }

    /// @dev Stores a checked reading, or records the trip it causes. Returns whether it was accepted.
    function _store(Reading calldata r, Slot storage s) private returns (bool) {
        // In bounds (checked), so it fits in int128; timestamps are not in the future, so they fit in uint40.
        int128 value = int128(r.value);
        TripReason trip = _breaker(s, r.timestamp, value);
        if (trip != TripReason.None) {
            s.sequence = r.sequence; // used: the same reading cannot trip the feed again after a reset
            _state.tripped = trip;
            emit FeedTripped(trip, r.deviceId, r.sequence, r.value);
            return false;
        }
        s.value = value;
        s.timestamp = uint40(r.timestamp);
        s.sequence = r.sequence;
        emit ReadingAccepted(r.deviceId, r.sequence, r.value);
        return true;
    }

    /// @dev TooFrequent: the device's previous reading is less than minInterval older. Deviation: the
    /// value moved more than maxDeviationBps from the device's previous reading, when that one is fresh,
    /// non-zero (bps of 0 is undefined) and newer than the last reset (a guardian who resets accepts the
    /// new level).
    function _breaker(Slot storage s, uint64 timestamp, int128 value) private view returns (TripReason) {
        uint40 previousAt = s.timestamp;
        if (previousAt == 0) return TripReason.None;
        if (timestamp < uint256(previousAt) + MIN_INTERVAL) return TripReason.TooFrequent;
        if (MAX_DEVIATION_BPS == 0 || block.timestamp - previousAt >= MAX_READING_AGE) return TripReason.None;
        int256 ref = s.value;
        if (ref == 0 || previousAt <= _state.resetAt) return TripReason.None;
        int256 diff = int256(value) - ref;
        uint256 absDiff = diff < 0 ? uint256(-diff) : uint256(diff);
        uint256 absRef = ref < 0 ? uint256(-ref) : uint256(ref);
        // Both factors are below 2^129 and 2^16: no overflow.
        if (absDiff * BPS > absRef * MAX_DEVIATION_BPS) return TripReason.Deviation;
        return TripReason.None;
    }

    /// @dev Trusted now and enough active stake (stake pending withdrawal counts for nothing).
    function _eligible(DeviceId deviceId) private view returns (bool) {
        return
            IDeviceAttestation(address(REGISTRY)).isTrusted(deviceId, MAX_ATTESTATION_AGE) &&
            STAKING.activeOf(deviceId) >= MIN_STAKE;
    }

    /// @dev Makes an invited (or self-operated) device a member.
    function _join(DeviceId deviceId, Membership storage m) private {
        uint8 count = _state.memberCount;
        if (count == MAX_MEMBERS) revert DeviceFeedTooManyMembers(MAX_MEMBERS);
        uint64 sequence = m.sequence;
        _slots[count] = Slot({value: 0, timestamp: 0, sequence: sequence});
        _memberIds[count] = deviceId;
        m.index = count + 1;
        m.invited = false;
        m.leaveAt = 0;
        _state.memberCount = count + 1;
        emit MemberAdded(deviceId);
    }

    function _requireOperator(DeviceId deviceId) private view {
        if (REGISTRY.operatorOf(deviceId) != msg.sender) revert DeviceFeedNotOperator(deviceId, msg.sender);
    }

    /// @dev The median of the member readings younger than `maxAge`, with the oldest and newest of their
    /// timestamps. Reverts if tripped or below quorum.
    function _median(
        uint256 maxAge
    ) private view returns (uint80 roundId, int256 answer, uint256 oldest, uint256 newest) {
        State memory st = _state;
        if (st.tripped != TripReason.None) revert DeviceFeedTripped(st.tripped);
        uint256 n = st.memberCount;
        int256[] memory values = new int256[](n);
        uint256 fresh;
        uint256 rounds = st.retiredRounds;
        oldest = type(uint256).max;
        for (uint256 i; i < n; ++i) {
            Slot memory s = _slots[i];
            rounds += s.sequence;
            // Stored timestamps are never in the future (checked on submit), so no underflow.
            if (s.timestamp == 0 || block.timestamp - s.timestamp >= maxAge) continue;
            if (s.timestamp < oldest) oldest = s.timestamp;
            if (s.timestamp > newest) newest = s.timestamp;
            // Insertion sort into values[0..fresh], ascending (n <= 32).
            int256 v = s.value;
            uint256 j = fresh;
            while (j > 0 && values[j - 1] > v) {
                values[j] = values[j - 1];
                --j;
            }
            values[j] = v;
            ++fresh;
        }
        if (fresh < QUORUM || fresh == 0) revert DeviceFeedNoQuorum(fresh, QUORUM);
        uint256 mid = fresh / 2;
        // int128 values: the sum cannot overflow int256; division rounds toward zero, between the two.
        answer = fresh % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
        // At most 32 uint64 sequences plus a uint80: the sum fits in uint80 unless retiredRounds is near
        // its wrap (see removeMember); truncation then keeps the feed readable.
        roundId = uint80(rounds);
    }

    /// @dev The registry's domain for this chain: the cached one while the chain id is the one it was built for
    /// (OpenZeppelin's EIP712 does the same), the registry's rebuilt one after a fork.
    function _domainSeparator() private view returns (bytes32) {
        return block.chainid == CACHED_CHAIN_ID ? CACHED_DOMAIN_SEPARATOR : REGISTRY.DOMAIN_SEPARATOR();
    }
}
