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
/// @notice A median feed of trusted, staked member devices with committed rounds, read like a Chainlink
/// aggregator (see IDeviceFeed for the rules).
/// @dev Gas layout: an accepted reading writes one storage slot, its member's own (value, timestamp,
/// sequence); the feed's hot state (trip, counts, latest round id, answer and time) is one slot read once
/// per transaction. A transaction commits at most one round: one new slot (the round) plus the state slot.
/// The median is computed only when a round may commit, over the members' slots (a fixed array). A
/// member's anomaly compares a reading with that device's previous one (in the slot the submit reads
/// anyway) or with the committed answer (in the state slot), never with another sensor's latest value:
/// two sensors of one quantity differ by their calibration, one sensor's jump is the signal.
contract DeviceFeed is IDeviceFeed, Ownable2Step {
    /// @notice The most member devices a feed has (bounds the median's loop and sort).
    uint256 public constant MAX_MEMBERS = 32;
    uint256 private constant BPS = 10_000;
    /// @dev The reason a quarantine gives the registry when it suspends the device (lockdown).
    bytes32 private constant LOCKDOWN_REASON = "feed quarantine";

    /// @dev The feed's hot state. One storage slot: read once per submission, written when it changes.
    struct State {
        TripReason tripped;
        uint8 memberCount;
        uint8 quarantined;
        uint56 roundId;
        /// @dev The latest round's answer and commit time (copied from it, so a submission reads one slot).
        int128 answer;
        uint40 updatedAt;
    }

    /// @dev The breaker's bookkeeping, read only when an anomaly or a trip is at stake.
    struct Breaker {
        /// @dev When the current quarantine window (maxReadingAge long) started, and its quarantines.
        uint40 windowStart;
        uint8 quarantines;
        /// @dev When a guardian last reset the feed: older readings and rounds are no reference.
        uint40 resetAt;
    }

    /// @dev index is the member's position + 1 (0: not a member); `sequence` is the highest sequence the
    /// device used, kept here while it is not a member so a re-added device never reuses one. `invited`:
    /// the owner asked the device to join and its operator has not answered. `leaveAt`: the operator asked
    /// to leave; the device stays a member until then (0: not leaving). `quarantinedAt`/`anomaly`: the
    /// member's quarantine (0/None: none).
    struct Membership {
        uint8 index;
        uint64 sequence;
        bool invited;
        uint40 leaveAt;
        uint40 quarantinedAt;
        Anomaly anomaly;
    }

    /// @dev One submission's working copy of the state and what it did.
    struct Batch {
        State st;
        bool dirty;
        /// @dev An accepted reading moved at least deviationThresholdBps from the latest answer.
        bool moved;
        uint256 accepted;
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
    uint16 private immutable MAX_SPREAD_BPS;
    uint16 private immutable DEVIATION_THRESHOLD_BPS;
    uint32 private immutable HEARTBEAT;
    uint32 private immutable MAX_READING_AGE;
    uint32 private immutable MIN_INTERVAL;
    uint32 private immutable MAX_ATTESTATION_AGE;
    uint32 private immutable QUARANTINE_PERIOD;
    uint8 private immutable MAX_QUARANTINES;
    bool private immutable LOCKDOWN;
    uint96 private immutable MIN_STAKE;
    int128 private immutable MIN_VALUE;
    int128 private immutable MAX_VALUE;

    string private _description;
    State private _state;
    Breaker private _breaker;
    Slot[MAX_MEMBERS] private _slots;
    DeviceId[MAX_MEMBERS] private _memberIds;
    mapping(DeviceId id => Membership) private _membership;
    mapping(address account => bool) private _guardians;
    mapping(uint256 roundId => Round) private _rounds;

    /// @notice Binds the feed to a registry and a staking contract with a fixed configuration.
    /// @param registry The DeviceRegistry (both IDeviceRegistry and IDeviceAttestation).
    /// @param staking The staking contract whose active stake counts.
    /// @param cfg The configuration (see IDeviceFeed.Config).
    /// @param initialOwner Who adds members and guardians.
    constructor(
        address registry,
        IDeviceStaking staking,
        Config memory cfg,
        address initialOwner
    ) Ownable(initialOwner) {
        if (registry == address(0) || address(staking) == address(0)) revert DeviceFeedZeroAddress();
        // A heartbeat longer than a reading's life would leave the latest round backed by expired readings.
        // One member is quarantined at most once per quarantine window (a cool-off at least as long as the
        // window) and the breaker tolerates at least one quarantine: a single member never trips the feed.
        if (
            cfg.quorum == 0 ||
            cfg.quorum > MAX_MEMBERS ||
            cfg.maxReadingAge == 0 ||
            cfg.heartbeat > cfg.maxReadingAge ||
            cfg.maxQuarantines == 0 ||
            cfg.quarantinePeriod < cfg.maxReadingAge ||
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
        MAX_SPREAD_BPS = cfg.maxSpreadBps;
        DEVIATION_THRESHOLD_BPS = cfg.deviationThresholdBps;
        HEARTBEAT = cfg.heartbeat;
        MAX_READING_AGE = cfg.maxReadingAge;
        MIN_INTERVAL = cfg.minInterval;
        MAX_ATTESTATION_AGE = cfg.maxAttestationAge;
        QUARANTINE_PERIOD = cfg.quarantinePeriod;
        MAX_QUARANTINES = cfg.maxQuarantines;
        LOCKDOWN = cfg.lockdown;
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
        Membership memory m = _membership[deviceId];
        uint8 index = m.index;
        State memory st = _state;
        uint8 last = st.memberCount - 1;
        uint64 sequence = _slots[index - 1].sequence;
        if (index - 1 != last) {
            // Swap-and-pop keeps the members' slots contiguous, so the median loops over memberCount slots.
            DeviceId moved = _memberIds[last];
            _slots[index - 1] = _slots[last];
            _memberIds[index - 1] = moved;
            _membership[moved].index = index;
        }
        delete _slots[last];
        _memberIds[last] = DeviceId.wrap(0);
        _membership[deviceId] = Membership({
            index: 0,
            sequence: sequence,
            invited: false,
            leaveAt: 0,
            quarantinedAt: 0,
            anomaly: Anomaly.None
        });
        st.memberCount = last;
        if (m.quarantinedAt != 0) --st.quarantined;
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
        _requireGuardian();
        if (_state.tripped == TripReason.None) revert DeviceFeedNotTripped();
        _state.tripped = TripReason.None;
        // A new quarantine window, and the rounds and readings before now are no reference any more.
        _breaker = Breaker({windowStart: uint40(block.timestamp), quarantines: 0, resetAt: uint40(block.timestamp)});
        emit FeedReset(msg.sender);
    }

    /// @inheritdoc IDeviceFeed
    function readmit(DeviceId deviceId) external {
        Membership storage m = _membership[deviceId];
        if (m.index == 0) revert DeviceFeedNotMember(deviceId);
        uint256 since = m.quarantinedAt;
        if (since == 0) revert DeviceFeedNotQuarantined(deviceId);
        uint256 until = since + QUARANTINE_PERIOD;
        if (block.timestamp < until && !isGuardian(msg.sender)) revert DeviceFeedCoolingOff(deviceId, until);
        IDeviceAttestation.TrustReport memory r = IDeviceAttestation(address(REGISTRY)).trustReport(
            deviceId,
            MAX_ATTESTATION_AGE
        );
        if (r.verdict != IDeviceAttestation.TrustVerdict.Trusted || r.attestedAt <= since) {
            revert DeviceFeedNotReattested(deviceId, r.attestedAt, since);
        }
        m.quarantinedAt = 0;
        m.anomaly = Anomaly.None;
        --_state.quarantined;
        emit MemberReadmitted(deviceId, msg.sender);
    }

    // ================================================================ submissions

    /// @inheritdoc IDeviceFeed
    function submit(
        Reading calldata reading,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) external returns (bool accepted) {
        Batch memory b;
        b.st = _state;
        Rejection rejection;
        (rejection, accepted) = _process(reading, key, signature, b);
        if (rejection != Rejection.None) revert DeviceFeedRejected(reading.deviceId, reading.sequence, rejection);
        _finish(b);
    }

    /// @inheritdoc IDeviceFeed
    function submitMany(SignedReading[] calldata readings) external returns (uint256) {
        Batch memory b;
        b.st = _state;
        for (uint256 i; i < readings.length; ++i) {
            SignedReading calldata r = readings[i];
            (Rejection rejection, ) = _process(r.reading, r.key, r.signature, b);
            if (rejection != Rejection.None) emit ReadingRejected(r.reading.deviceId, r.reading.sequence, rejection);
        }
        _finish(b);
        return b.accepted;
    }

    /// @inheritdoc IDeviceFeed
    function evict(DeviceId deviceId) external {
        uint8 index = _membership[deviceId].index;
        if (index == 0) revert DeviceFeedNotMember(deviceId);
        if (_eligible(deviceId)) revert DeviceFeedStillEligible(deviceId);
        // The reading stops counting but stays the member's reference (minInterval, jumps).
        _slots[index - 1].excluded = true;
        emit ReadingEvicted(deviceId);
    }

    // ================================================================ reads

    /// @inheritdoc AggregatorV3Interface
    /// @dev Reverts with DeviceFeedNoRound before the first round. Answers on a tripped feed too (the last
    /// round committed before the trip, whose updatedAt ages): consumers judge staleness from updatedAt.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        uint256 id = _state.roundId;
        if (id == 0) revert DeviceFeedNoRound();
        Round memory r = _rounds[id];
        return (uint80(id), r.answer, r.startedAt, r.updatedAt, uint80(id));
    }

    /// @inheritdoc AggregatorV3Interface
    /// @dev Any committed round, unchanged since its commit; reverts with DeviceFeedRoundNotAvailable for an id
    /// that was not committed (0 or above the latest).
    function getRoundData(
        uint80 roundId_
    )
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Round memory r = _rounds[roundId_];
        if (r.updatedAt == 0) revert DeviceFeedRoundNotAvailable(roundId_, _state.roundId);
        return (roundId_, r.answer, r.startedAt, r.updatedAt, roundId_);
    }

    /// @inheritdoc IDeviceFeed
    function readFresh(uint256 maxAge) external view returns (int256 answer, uint256 updatedAt) {
        State memory st = _state;
        if (st.tripped != TripReason.None) revert DeviceFeedTripped(st.tripped);
        if (st.roundId == 0) revert DeviceFeedNoRound();
        Round memory r = _rounds[st.roundId];
        uint256 limit = maxAge < MAX_READING_AGE ? maxAge : MAX_READING_AGE;
        if (block.timestamp - r.startedAt >= limit) revert DeviceFeedStale(st.roundId, r.startedAt, limit);
        return (r.answer, r.updatedAt);
    }

    /// @inheritdoc IDeviceFeed
    function latestRound() external view returns (uint256) {
        return _state.roundId;
    }

    /// @inheritdoc IDeviceFeed
    function roundAt(uint256 roundId_) external view returns (Round memory r) {
        r = _rounds[roundId_];
        if (r.updatedAt == 0) revert DeviceFeedRoundNotAvailable(uint80(roundId_), _state.roundId);
    }

    /// @inheritdoc IDeviceFeed
    function costOfCorruption() external view returns (uint256 cost) {
        (cost, ) = corruption();
    }

    /// @inheritdoc IDeviceFeed
    /// @dev Quarantined members are left out: their readings do not count, so fewer members control the median.
    function corruption() public view returns (uint256 cost, uint256 operators) {
        uint256 count = _state.memberCount;
        // Group the counting members by operator: one operator controls all its devices.
        address[] memory ops = new address[](count);
        uint256[] memory counts = new uint256[](count);
        uint256[] memory stakes = new uint256[](count);
        uint256 groups;
        uint256 n;
        for (uint256 i; i < count; ++i) {
            DeviceId id = _memberIds[i];
            if (_membership[id].quarantinedAt != 0) continue;
            ++n;
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
        if (n == 0) return (0, 0);
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
    /// @dev 2: committed rounds (1 answered a median computed on read).
    function version() external pure returns (uint256) {
        return 2;
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
                maxSpreadBps: MAX_SPREAD_BPS,
                deviationThresholdBps: DEVIATION_THRESHOLD_BPS,
                heartbeat: HEARTBEAT,
                maxReadingAge: MAX_READING_AGE,
                minInterval: MIN_INTERVAL,
                maxAttestationAge: MAX_ATTESTATION_AGE,
                quarantinePeriod: QUARANTINE_PERIOD,
                maxQuarantines: MAX_QUARANTINES,
                lockdown: LOCKDOWN,
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
    function quarantineOf(DeviceId deviceId) external view returns (Quarantine memory) {
        Membership memory m = _membership[deviceId];
        return Quarantine({since: m.quarantinedAt, anomaly: m.anomaly});
    }

    /// @inheritdoc IDeviceFeed
    function quarantinedCount() external view returns (uint256) {
        return _state.quarantined;
    }

    /// @inheritdoc IDeviceFeed
    function isGuardian(address account) public view returns (bool) {
        return account == owner() || _guardians[account];
    }

    // ================================================================ internals

    /// @dev Checks one reading and, if it passes, stores it or quarantines its member. Returns the rejection
    /// (None if it passed) and whether it was accepted (false with None: it quarantined its member).
    function _process(
        Reading calldata r,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature,
        Batch memory b
    ) private returns (Rejection rejection, bool accepted) {
        uint256 index;
        uint256 previous;
        (rejection, index, previous) = _check(r, key, signature);
        if (rejection != Rejection.None) return (rejection, false);
        int128 value = int128(r.value); // in bounds (checked), so it fits
        Anomaly anomaly = _anomaly(previous, r.timestamp, value, b.st);
        if (anomaly != Anomaly.None) {
            _quarantine(r, _slots[index], anomaly, b);
            return (Rejection.None, false);
        }
        // Timestamps are not in the future (checked), so they fit in uint40; the reading counts (not excluded).
        _storeSlot(index, value, uint40(r.timestamp), r.sequence);
        emit ReadingAccepted(r.deviceId, r.sequence, r.value);
        ++b.accepted;
        if (!b.moved && DEVIATION_THRESHOLD_BPS != 0) b.moved = _moved(value, b.st.answer);
        return (Rejection.None, true);
    }

    /// @dev Cheap checks first; the two external calls (signature and trust, stake) last. Returns the
    /// member's slot index and its previous reading (the slot's packed word, see _slotWord) when the
    /// reading passes.
    function _check(
        Reading calldata r,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) private view returns (Rejection, uint256, uint256 previous) {
        if (r.feedId != feedId()) return (Rejection.WrongFeed, 0, 0);
        DeviceId deviceId = r.deviceId;
        Membership storage m = _membership[deviceId];
        uint256 index = m.index;
        if (index == 0) return (Rejection.NotMember, 0, 0);
        if (m.quarantinedAt != 0) return (Rejection.Quarantined, 0, 0);
        unchecked {
            --index; // index != 0 (checked)
        }
        previous = _slotWord(index);
        if (r.sequence <= _sequenceOf(previous)) return (Rejection.SequenceNotIncreasing, 0, previous);
        if (r.timestamp > block.timestamp) return (Rejection.FutureTimestamp, 0, previous);
        // A reading older than the device's previous one is as useless as a stale one.
        if (block.timestamp - r.timestamp >= MAX_READING_AGE || r.timestamp < _timestampOf(previous)) {
            return (Rejection.Stale, 0, previous);
        }
        if (r.value < MIN_VALUE || r.value > MAX_VALUE) return (Rejection.OutOfBounds, 0, previous);
        bytes32 digest = MessageHashUtils.toTypedDataHash(_domainSeparator(), DeviceMessageLib.hashReadingCalldata(r));
        (bool valid, bool trusted) = REGISTRY.checkTrustedSignature(
            deviceId,
            digest,
            key,
            signature,
            MAX_ATTESTATION_AGE
        );
        if (!valid) return (Rejection.InvalidSignature, 0, previous);
        if (!trusted) return (Rejection.Untrusted, 0, previous);
        if (STAKING.activeOf(deviceId) < MIN_STAKE) return (Rejection.Unstaked, 0, previous);
        return (Rejection.None, index, previous);
    }

    /// @dev The member's own anomaly, if any. TooFrequent: its previous reading is less than minInterval
    /// older. Jump: the value moved more than maxDeviationBps from its previous reading, while that one is
    /// fresh. Spread: the value lies more than maxSpreadBps from the latest answer, while that one is fresh.
    /// Readings and rounds from before a guardian's reset are no reference (the guardian accepted the level).
    /// `previous` is the member's slot word (see _slotWord); an excluded reading is a reference too.
    function _anomaly(
        uint256 previous,
        uint64 timestamp,
        int128 value,
        State memory st
    ) private view returns (Anomaly) {
        uint40 previousAt = _timestampOf(previous);
        if (previousAt != 0) {
            if (timestamp < uint256(previousAt) + MIN_INTERVAL) return Anomaly.TooFrequent;
            if (
                MAX_DEVIATION_BPS != 0 &&
                block.timestamp - previousAt < MAX_READING_AGE &&
                _far(value, _valueOf(previous), MAX_DEVIATION_BPS) &&
                previousAt > _breaker.resetAt
            ) return Anomaly.Jump;
        }
        // No spread check on a tripped feed: its last answer is in question until a guardian looks.
        if (
            MAX_SPREAD_BPS != 0 &&
            st.tripped == TripReason.None &&
            st.roundId != 0 &&
            block.timestamp - st.updatedAt < MAX_READING_AGE &&
            _far(value, st.answer, MAX_SPREAD_BPS) &&
            st.updatedAt > _breaker.resetAt
        ) return Anomaly.Spread;
        return Anomaly.None;
    }

    /// @dev Member slot `index` (below MAX_MEMBERS) as its packed word, read once: the layout of Slot, from
    /// the low bits, is int128 value, uint40 timestamp, uint64 sequence, bool excluded (what _median reads
    /// too; the median fuzz, eviction and slotOf tests pin it).
    function _slotWord(uint256 index) private view returns (uint256 word) {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            word := sload(add(_slots.slot, index))
        }
    }

    /// @dev Writes member slot `index` (below MAX_MEMBERS) with a counting reading (excluded: false) in one
    /// store: a Slot assignment would read and write the word once per field.
    function _storeSlot(uint256 index, int128 value, uint40 timestamp, uint64 sequence) private {
        uint256 word = uint256(uint128(value)) | (uint256(timestamp) << 128) | (uint256(sequence) << 168);
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            sstore(add(_slots.slot, index), word)
        }
    }

    function _valueOf(uint256 word) private pure returns (int128) {
        return int128(uint128(word));
    }

    function _timestampOf(uint256 word) private pure returns (uint40) {
        return uint40(word >> 128);
    }

    function _sequenceOf(uint256 word) private pure returns (uint64) {
        return uint64(word >> 168);
    }

    /// @dev Quarantines the reading's member: its slot stops counting (its previous reading stays the
    /// member's reference, the anomalous reading's sequence is used), it may be locked down in the registry,
    /// and the breaker counts it.
    function _quarantine(Reading calldata r, Slot storage s, Anomaly anomaly, Batch memory b) private {
        DeviceId deviceId = r.deviceId;
        s.excluded = true;
        s.sequence = r.sequence;
        Membership storage m = _membership[deviceId];
        m.quarantinedAt = uint40(block.timestamp);
        m.anomaly = anomaly;
        bool lockedDown;
        if (LOCKDOWN) {
            // Needs the registry's SUSPENDER_ROLE; without it (or on a device already suspended) the
            // quarantine stands alone rather than failing the whole submission.
            try REGISTRY.suspend(deviceId, LOCKDOWN_REASON) {
                lockedDown = true;
            } catch {
                lockedDown = false;
            }
        }
        emit MemberQuarantined(deviceId, anomaly, r.sequence, r.value, lockedDown);
        ++b.st.quarantined;
        b.dirty = true;
        Breaker memory br = _breaker;
        if (block.timestamp - br.windowStart >= MAX_READING_AGE) {
            br.windowStart = uint40(block.timestamp);
            br.quarantines = 0;
        }
        if (br.quarantines < type(uint8).max) ++br.quarantines;
        _breaker = br;
        if (b.st.tripped != TripReason.None) return;
        if (br.quarantines > MAX_QUARANTINES) {
            _trip(b, TripReason.Quarantines, int256(uint256(br.quarantines)));
        } else if (b.st.memberCount - b.st.quarantined < QUORUM) {
            _trip(b, TripReason.QuorumLost, int256(uint256(b.st.quarantined)));
        }
    }

    function _trip(Batch memory b, TripReason reason, int256 value) private {
        b.st.tripped = reason;
        b.dirty = true;
        emit FeedTripped(reason, value);
    }

    /// @dev After a submission: commits a round if one is due (see IDeviceFeed), then writes the state once.
    function _finish(Batch memory b) private {
        State memory st = b.st;
        if (b.accepted != 0 && st.tripped == TripReason.None) {
            bool due = st.roundId == 0 || HEARTBEAT == 0 || block.timestamp - st.updatedAt >= HEARTBEAT;
            if (due || b.moved) _commit(b, due);
        }
        if (b.dirty) _state = b.st;
    }

    /// @dev Takes the median of the fresh readings and commits it as a round when at least a quorum of them
    /// are fresh and the round is due (heartbeat) or the median moved enough; trips the feed instead when
    /// the median jumped from the previous round.
    function _commit(Batch memory b, bool due) private {
        (int256 median, uint256 count, uint256 oldest) = _median();
        if (count < QUORUM) return;
        State memory st = b.st;
        if (!due && !_moved(median, st.answer)) return;
        if (
            MAX_DEVIATION_BPS != 0 &&
            st.roundId != 0 &&
            block.timestamp - st.updatedAt < MAX_READING_AGE &&
            _far(median, st.answer, MAX_DEVIATION_BPS) &&
            st.updatedAt > _breaker.resetAt
        ) {
            _trip(b, TripReason.MedianJump, median);
            return;
        }
        uint56 id = st.roundId + 1;
        // The median of int128 values is an int128; timestamps are not in the future, so they fit in uint40.
        _rounds[id] = Round({
            answer: int128(median),
            startedAt: uint40(oldest),
            updatedAt: uint40(block.timestamp),
            readings: uint8(count)
        });
        st.roundId = id;
        st.answer = int128(median);
        st.updatedAt = uint40(block.timestamp);
        b.dirty = true;
        emit AnswerUpdated(median, id, block.timestamp);
    }

    /// @dev The median of the members' readings younger than maxReadingAge (all within maxReadingAge of each
    /// other, the newest included), how many there are, and the oldest one's time. A quarantined or evicted
    /// member's reading is excluded. The layout of Slot (int128 value, uint40 timestamp, uint64 sequence, bool
    /// excluded in one word, in that order from the low bits) is what the assembly reads; the median fuzz and
    /// eviction tests pin it.
    function _median() private view returns (int256 median, uint256 count, uint256 oldest) {
        uint256 n = _state.memberCount;
        uint256 maxAge = MAX_READING_AGE;
        // Reads each member's packed slot once (value: the low 128 bits, signed; timestamp: the next 40) and
        // insertion-sorts the fresh values in scratch memory past the free memory pointer (n <= 32 words,
        // never allocated, so nothing else can overwrite it while this block runs). Stored timestamps are never
        // in the future (checked on submit), so `timestamp() - ts` cannot underflow.
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let values := mload(0x40)
            let base := _slots.slot
            oldest := not(0)
            for {
                let i := 0
            } lt(i, n) {
                i := add(i, 1)
            } {
                let w := sload(add(base, i))
                let ts := and(shr(128, w), 0xffffffffff)
                // Counts: a reading (ts != 0), younger than maxAge, not excluded (the byte at bit 232).
                if and(and(iszero(iszero(ts)), lt(sub(timestamp(), ts), maxAge)), iszero(and(shr(232, w), 0xff))) {
                    if lt(ts, oldest) {
                        oldest := ts
                    }
                    let v := signextend(15, w)
                    let j := count
                    for {} gt(j, 0) {} {
                        let previous := mload(add(values, shl(5, sub(j, 1))))
                        if iszero(sgt(previous, v)) {
                            break
                        }
                        mstore(add(values, shl(5, j)), previous)
                        j := sub(j, 1)
                    }
                    mstore(add(values, shl(5, j)), v)
                    count := add(count, 1)
                }
            }
            if count {
                let mid := shr(1, count)
                switch and(count, 1)
                case 1 {
                    median := mload(add(values, shl(5, mid)))
                }
                default {
                    // int128 values: the sum cannot overflow; sdiv rounds toward zero, between the two.
                    median := sdiv(add(mload(add(values, shl(5, sub(mid, 1)))), mload(add(values, shl(5, mid)))), 2)
                }
            }
        }
        if (count == 0) oldest = 0;
    }

    /// @dev Whether `value` moved more than deviationThresholdBps from the latest answer `ref` (from 0: any move).
    function _moved(int256 value, int256 ref) private view returns (bool) {
        return ref == 0 ? value != 0 : _far(value, ref, DEVIATION_THRESHOLD_BPS);
    }

    /// @dev Whether `value` lies more than `bps` basis points of |ref| away from `ref`. A zero reference has no
    /// relative scale (a quantity at rest, a flow of 0): nothing is far from it.
    function _far(int256 value, int256 ref, uint256 bps) private pure returns (bool) {
        if (ref == 0) return false;
        int256 diff = value - ref;
        uint256 absDiff = diff < 0 ? uint256(-diff) : uint256(diff);
        uint256 absRef = ref < 0 ? uint256(-ref) : uint256(ref);
        // int128 operands: |diff| < 2^129 and bps < 2^16, no overflow.
        return absDiff * BPS > absRef * bps;
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
        _slots[count] = Slot({value: 0, timestamp: 0, sequence: sequence, excluded: false});
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

    function _requireGuardian() private view {
        if (!isGuardian(msg.sender)) revert DeviceFeedNotGuardian(msg.sender);
    }

    /// @dev The registry's domain for this chain: the cached one while the chain id is the one it was built for
    /// (OpenZeppelin's EIP712 does the same), the registry's rebuilt one after a fork.
    function _domainSeparator() private view returns (bytes32) {
        return block.chainid == CACHED_CHAIN_ID ? CACHED_DOMAIN_SEPARATOR : REGISTRY.DOMAIN_SEPARATOR();
    }
}
