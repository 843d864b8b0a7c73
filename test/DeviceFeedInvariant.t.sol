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
import {Attestation, Reading} from "../contracts/types/Messages.sol";
import {DeviceFeedGhost} from "./utils/DeviceFeedGhost.sol";
import {FeedFixture} from "./utils/FeedFixture.sol";
import {KeyHelpers, TestKey} from "./utils/RegistryFixture.sol";

/// @notice Drives a 7-device feed with readings drawn from small pools (sequences around the last one,
/// values up to 15% from 100, ages up to the freshness limit), sets active and pending stake, moves time
/// (past the attestation age too) and resets the breaker; changes membership as the owner (invite, remove),
/// the operator (join, request a leave) and anyone (complete a leave), and moves devices between the
/// fixture's operator and the feed owner. Predicts eligibility, keeps the set of operator consents and the
/// requested leave times, and counts violations. Every action runs between the ghost's `before` and `settle`,
/// which record the rounds, quarantines and trips it caused.
/// @dev Bounded and never reverting: every call into the feed or the registry runs in try/catch. No function
/// here starts with "test".
contract DeviceFeedHandler is CommonBase, StdUtils, KeyHelpers {
    int256 internal constant BASE = 100e8;

    DeviceFeed private immutable FEED;
    DeviceFeedGhost private immutable GHOST;
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
    /// @dev Must stay zero: a sequence used twice by one device (accepted or quarantining).
    uint256 public ghostSequenceReused;
    uint256 public ghostAccepted;
    /// @dev Readings that quarantined their member (recorded, not counted).
    uint256 public ghostQuarantines;

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
    constructor(
        DeviceFeed feed,
        DeviceFeedGhost ghost,
        MockStaking staking,
        address registry,
        bytes32 domain,
        address operator
    ) {
        FEED = feed;
        GHOST = ghost;
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

    modifier tracked() {
        GHOST.before();
        _;
        GHOST.settle();
    }

    function deviceCount() external view returns (uint256) {
        return ids.length;
    }

    function submit(uint256 deviceSeed, uint256 seqSeed, int256 valueSeed, uint256 ageSeed) external tracked {
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
            // Rejected: nothing was stored.
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

    /// @dev Accepted or quarantining: the sequence is used either way.
    function _record(Reading memory r, uint64 last, bool eligible, bool accepted) private {
        if (_used[r.deviceId][r.sequence] || r.sequence <= last) ++ghostSequenceReused;
        _used[r.deviceId][r.sequence] = true;
        if (!eligible) ++ghostIneligibleAccepted;
        if (accepted) ++ghostAccepted;
        else ++ghostQuarantines;
    }

    /// @dev Active stake around the minimum, plus up to ten times the minimum pending withdrawal (slashable
    /// but not active).
    function setStake(uint256 deviceSeed, uint256 activeSeed, uint256 pendingSeed) external tracked {
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
    function addMember(uint256 deviceSeed) external tracked {
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
    function join(uint256 deviceSeed, bool byOperator) external tracked {
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
    function requestLeave(uint256 deviceSeed, bool byOperator) external tracked {
        DeviceId id = ids[bound(deviceSeed, 0, ids.length - 1)];
        address op = REGISTRY.operatorOf(id);
        address caller = byOperator ? op : STRANGER;
        uint256 leavesAt = block.timestamp + STAKING.params().unbondingPeriod;
        vm.prank(caller);
        try FEED.requestLeave(id) {
            if (caller != op) ++ghostUnauthorized;
            leaveAt[id] = leavesAt;
        } catch {
            return; // not a member, or not the operator
        }
    }

    /// @dev Anyone completes a leave.
    function completeLeave(uint256 deviceSeed) external tracked {
        DeviceId id = _pick(deviceSeed, true);
        uint256 leavesAt = leaveAt[id];
        vm.prank(STRANGER);
        try FEED.completeLeave(id) {
            if (leavesAt == 0 || block.timestamp < leavesAt) ++ghostEarlyLeaves;
            _ended(id);
            ++ghostLeaves;
        } catch {
            return; // not a member, or not yet leaving
        }
    }

    /// @dev The owner removes a member or withdraws an invitation.
    function removeMember(uint256 deviceSeed) external tracked {
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
    function transferCustody(uint256 deviceSeed) external tracked {
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

    function warp(uint256 secondsSeed) external tracked {
        vm.warp(block.timestamp + bound(secondsSeed, 0, 4 days));
    }

    function reset() external tracked {
        if (FEED.tripReason() != IDeviceFeed.TripReason.None) FEED.reset();
    }

    function evict(uint256 deviceSeed) external tracked {
        uint256 d = bound(deviceSeed, 0, ids.length - 1);
        try FEED.evict(ids[d]) {
            return;
        } catch {
            return; // still eligible: nothing to evict
        }
    }
}

/// @notice Issue 11's attacker: it holds devices 5 and 6 (their keys and their operator's rotations) and
/// sends bursts faster than minInterval, jumps, a far value after silence, readings signed with a key it
/// rotated away from, and replays of its own accepted readings; it re-attests and readmits its devices once
/// their cool-off has passed. Beside it the operators of devices 0..4 report honestly: a value within 0.3% of
/// the committed answer, never faster than minInterval. Each honest report checks issue 11's promise: while
/// the feed is armed, the round is due and the honest members alone hold a quorum of fresh readings, the
/// report commits a round, inside the honest readings' range, unless those readings themselves moved more
/// than maxDeviationBps (MedianJump, an aggregate reason).
/// @dev Bounded and never reverting: every call into the feed or the registry runs in try/catch, every
/// loop is over the 7 devices or the attacker's own sent readings. No function here starts with "test".
contract DeviceFeedAttackHandler is CommonBase, StdUtils, KeyHelpers {
    uint256 internal constant HONEST = 5;
    uint256 internal constant DEVICES = 7;
    int256 internal constant BASE = 100e8;
    /// @dev An honest report's largest move from the committed answer: below the deviation threshold.
    int256 internal constant HONEST_BPS = 30;

    DeviceFeed private immutable FEED;
    DeviceFeedGhost private immutable GHOST;
    MockStaking private immutable STAKING;
    address private immutable REGISTRY;
    bytes32 private immutable DOMAIN;
    bytes32 private immutable MEASUREMENT;
    address private immutable STRANGER = address(0x5742A6E5);
    uint256 private immutable QUORUM;
    uint256 private immutable HEARTBEAT;
    uint256 private immutable MAX_READING_AGE;
    uint256 private immutable MIN_INTERVAL;
    uint256 private immutable MAX_DEVIATION_BPS;
    uint256 private immutable MAX_SPREAD_BPS;
    uint256 private immutable QUARANTINE_PERIOD;
    uint256 private immutable MAX_ATTESTATION_AGE;
    uint256 private immutable MIN_STAKE;

    /// @dev The devices' current keys (the attacker's change with its rotations) and the keys it rotated away
    /// from.
    TestKey[] private _keys;
    DeviceId[] private _ids;
    mapping(uint256 device => TestKey[]) private _retired;
    uint256 private _rotations;
    /// @dev The attacker's accepted readings, as relayed: replayed later.
    IDeviceFeed.SignedReading[] private _sent;

    /// @notice Honest reports whose preconditions held (the feed armed, the round due, a quorum of fresh
    /// honest readings), so the check ran.
    uint256 public ghostHonestChecks;
    /// @notice Must stay zero: such a report committed no round, and no aggregate reason explains it.
    uint256 public ghostStalledRounds;
    /// @notice Must stay zero: a round committed on an honest report lies outside the honest readings' range.
    uint256 public ghostAnswerOutsideHonestRange;
    /// @notice Must stay zero: an honest report (clean value, minInterval kept, eligible member) quarantined
    /// its member or was refused.
    uint256 public ghostHonestPunished;
    /// @notice Old-key readings sent, and (must stay zero) those not refused as InvalidSignature (or as
    /// NotMember / Quarantined, which the feed checks first).
    uint256 public ghostOldKeyChecks;
    uint256 public ghostOldKeyNotRefused;
    /// @notice Must stay zero: a replay of an accepted reading counted again.
    uint256 public ghostReplayAccepted;
    /// @notice The attacker's readings that quarantined its device.
    uint256 public ghostHostileQuarantines;

    /// @dev `measurement`: the firmware the fixture's devices attested on, which they attest on again.
    constructor(
        DeviceFeed feed,
        DeviceFeedGhost ghost,
        MockStaking staking,
        address registry,
        bytes32 domain,
        bytes32 measurement
    ) {
        FEED = feed;
        GHOST = ghost;
        STAKING = staking;
        REGISTRY = registry;
        DOMAIN = domain;
        MEASUREMENT = measurement;
        IDeviceFeed.Config memory c = feed.config();
        QUORUM = c.quorum;
        HEARTBEAT = c.heartbeat;
        MAX_READING_AGE = c.maxReadingAge;
        MIN_INTERVAL = c.minInterval;
        MAX_DEVIATION_BPS = c.maxDeviationBps;
        MAX_SPREAD_BPS = c.maxSpreadBps;
        QUARANTINE_PERIOD = c.quarantinePeriod;
        MAX_ATTESTATION_AGE = c.maxAttestationAge;
        MIN_STAKE = c.minStake;
        for (uint256 i; i < DEVICES; ++i) {
            TestKey memory k = _keyFor(i % 2 == 0, 0xFEED00 + i);
            _keys.push(k);
            _ids.push(_id(k));
        }
    }

    modifier tracked() {
        GHOST.before();
        _;
        GHOST.settle();
    }

    function sentCount() external view returns (uint256) {
        return _sent.length;
    }

    // ------------------------------------------------------------------ the honest operators

    /// @notice The honest operators report a clean value, after the heartbeat if asked: every honest member
    /// that may report (member, not quarantined, eligible) in one `submitMany`, or one of them with `submit`.
    function honestReport(uint256 deviceSeed, bool all, int256 valueSeed, bool afterHeartbeat) external tracked {
        if (afterHeartbeat) _warpPastHeartbeat();
        uint256 start = bound(deviceSeed, 0, HONEST - 1);
        uint256[] memory chosen = new uint256[](HONEST);
        uint256 n;
        for (uint256 k; k < HONEST && (all || n == 0); ++k) {
            uint256 d = (start + k) % HONEST;
            if (!_mayReport(d)) continue;
            chosen[n] = d;
            ++n;
        }
        if (n == 0) return;
        // minInterval since each one's previous reading (a device reports on its own clock).
        for (uint256 k; k < n; ++k) {
            uint256 next = uint256(FEED.slotOf(_ids[chosen[k]]).timestamp) + MIN_INTERVAL;
            if (next > block.timestamp) vm.warp(next);
        }
        IDeviceFeed.SignedReading[] memory batch = new IDeviceFeed.SignedReading[](n);
        for (uint256 k; k < n; ++k) {
            // The warp may have aged an attestation past the limit.
            if (!_mayReport(chosen[k])) return;
            (bool clean, int256 value) = _cleanValue(chosen[k], valueSeed);
            // A member whose own last reading sits far from the answer has no value that is clean for both
            // checks: the honest operators wait.
            if (!clean) return;
            batch[k] = _signed(_fresh(chosen[k], value), _keys[chosen[k]]);
        }
        _submitHonest(batch);
    }

    function _submitHonest(IDeviceFeed.SignedReading[] memory batch) private {
        uint256 roundBefore = FEED.latestRound();
        bool armed = FEED.tripReason() == IDeviceFeed.TripReason.None;
        IDeviceFeed.Round memory previous;
        if (roundBefore != 0) previous = FEED.roundAt(roundBefore);
        bool due = roundBefore == 0 || block.timestamp - previous.updatedAt >= HEARTBEAT;
        _relay(batch);
        for (uint256 k; k < batch.length; ++k) {
            // Accepted iff its sequence is now the device's and its slot holds it.
            DeviceId id = batch[k].reading.deviceId;
            if (FEED.quarantineOf(id).since != 0 || FEED.slotOf(id).sequence != batch[k].reading.sequence) {
                ++ghostHonestPunished;
                return;
            }
        }
        if (!armed || !due) return;
        (uint256 fresh, int256 lo, int256 hi) = _honestFresh();
        if (fresh < QUORUM) return;
        ++ghostHonestChecks;
        if (FEED.latestRound() == roundBefore + 1) {
            int256 answer = FEED.roundAt(roundBefore + 1).answer;
            if (answer < lo || answer > hi) ++ghostAnswerOutsideHonestRange;
            return;
        }
        // The one aggregate reason an honest report may meet: the honest readings themselves moved more than
        // maxDeviationBps from the previous round while it is fresh.
        bool honestMoved =
            roundBefore != 0 &&
                block.timestamp - previous.updatedAt < MAX_READING_AGE &&
                (GHOST.far(lo, previous.answer, MAX_DEVIATION_BPS) ||
                    GHOST.far(hi, previous.answer, MAX_DEVIATION_BPS));
        if (FEED.tripReason() == IDeviceFeed.TripReason.MedianJump && honestMoved) return;
        ++ghostStalledRounds;
    }

    /// @dev The honest members' fresh, unquarantined readings: how many, lowest and highest.
    function _honestFresh() private view returns (uint256 count, int256 lo, int256 hi) {
        lo = type(int256).max;
        hi = type(int256).min;
        for (uint256 d; d < HONEST; ++d) {
            if (!_isMember(_ids[d]) || FEED.quarantineOf(_ids[d]).since != 0) continue;
            IDeviceFeed.Slot memory s = FEED.slotOf(_ids[d]);
            if (s.timestamp == 0 || s.excluded || block.timestamp - s.timestamp >= MAX_READING_AGE) continue;
            ++count;
            if (s.value < lo) lo = s.value;
            if (s.value > hi) hi = s.value;
        }
    }

    /// @dev A value within HONEST_BPS of the committed answer while it is fresh (else of the device's own
    /// fresh reading, else BASE), and whether it is clean: no Jump from the device's own fresh reading, no
    /// Spread from the fresh answer.
    function _cleanValue(uint256 d, int256 seed) private view returns (bool clean, int256 value) {
        IDeviceFeed.Slot memory s = FEED.slotOf(_ids[d]);
        bool ownFresh = s.timestamp != 0 && block.timestamp - s.timestamp < MAX_READING_AGE;
        (bool roundFresh, int256 answer) = _freshAnswer();
        int256 ref =
            roundFresh
                ? answer
                : ownFresh
                    ? s.value
                    : BASE;
        value = ref + (ref * bound(seed, -HONEST_BPS, HONEST_BPS)) / 10_000;
        clean =
            !(ownFresh && GHOST.far(value, s.value, MAX_DEVIATION_BPS)) &&
            !(roundFresh && GHOST.far(value, answer, MAX_SPREAD_BPS));
    }

    function _freshAnswer() private view returns (bool fresh, int256 answer) {
        uint256 latest = FEED.latestRound();
        if (latest == 0) return (false, 0);
        IDeviceFeed.Round memory r = FEED.roundAt(latest);
        return (block.timestamp - r.updatedAt < MAX_READING_AGE, r.answer);
    }

    function _warpPastHeartbeat() private {
        uint256 latest = FEED.latestRound();
        if (latest == 0) return;
        uint256 due = uint256(FEED.roundAt(latest).updatedAt) + HEARTBEAT;
        if (due > block.timestamp) vm.warp(due);
    }

    /// @dev A member, not quarantined, trusted and staked: its honest reading must count.
    function _mayReport(uint256 d) private view returns (bool) {
        DeviceId id = _ids[d];
        return
            _isMember(id) &&
            FEED.quarantineOf(id).since == 0 &&
            IDeviceAttestation(REGISTRY).isTrusted(id, MAX_ATTESTATION_AGE) &&
            STAKING.activeOf(id) >= MIN_STAKE;
    }

    // ------------------------------------------------------------------ the attacker

    function _hostile(uint256 seed) private pure returns (uint256) {
        return HONEST + (seed % (DEVICES - HONEST));
    }

    /// @notice `countSeed` (2..4) readings of one hostile device at the same second, faster than minInterval:
    /// one transaction each (the ghost settles after each, as after an action) or one batch.
    function hostileBurst(uint256 deviceSeed, uint256 countSeed, bool asBatch) external {
        uint256 h = _hostile(deviceSeed);
        uint256 n = bound(countSeed, 2, 4);
        (bool fresh, int256 answer) = _freshAnswer();
        int256 value = fresh ? answer : BASE;
        if (!asBatch) {
            for (uint256 k; k < n; ++k) {
                GHOST.before();
                _sendHostile(_fresh(h, value), _keys[h]);
                GHOST.settle();
            }
            return;
        }
        GHOST.before();
        IDeviceFeed.SignedReading[] memory batch = new IDeviceFeed.SignedReading[](n);
        for (uint256 k; k < n; ++k) {
            // A reading of its own in memory for each (the batch holds references).
            Reading memory rk = _fresh(h, value);
            rk.sequence += uint64(k);
            batch[k] = _signed(rk, _keys[h]);
        }
        Reading memory r = batch[0].reading;
        bool wasQuarantined = _isMember(r.deviceId) && FEED.quarantineOf(r.deviceId).since != 0;
        // The first reading counts unless it is itself too early; every later one quarantines or is refused.
        if (_relay(batch) != 0) _sent.push(batch[0]);
        if (!wasQuarantined && _isMember(r.deviceId) && FEED.quarantineOf(r.deviceId).since != 0) {
            ++ghostHostileQuarantines;
        }
        GHOST.settle();
    }

    /// @notice A hostile device jumps more than maxDeviationBps (up to 50%) from its own reading (or the
    /// answer, or BASE), minInterval after its previous reading.
    function hostileJump(uint256 deviceSeed, uint256 bpsSeed, bool up) external tracked {
        uint256 h = _hostile(deviceSeed);
        if (!_isMember(_ids[h])) return;
        IDeviceFeed.Slot memory s = FEED.slotOf(_ids[h]);
        uint256 next = uint256(s.timestamp) + MIN_INTERVAL;
        if (next > block.timestamp) vm.warp(next);
        (bool fresh, int256 answer) = _freshAnswer();
        int256 ref =
            s.timestamp != 0
                ? s.value
                : fresh
                    ? answer
                    : BASE;
        if (ref == 0) ref = BASE;
        int256 move = (ref * int256(bound(bpsSeed, MAX_DEVIATION_BPS + 1, 5_000))) / 10_000;
        _sendHostile(_fresh(h, up ? ref + move : ref - move), _keys[h]);
    }

    /// @notice A hostile device stays silent up to two hours, then reports any value from a quarter to four
    /// times BASE: far from a fresh answer it quarantines itself; with no fresh answer it counts, a minority.
    function hostileSilentFar(uint256 deviceSeed, uint256 silenceSeed, int256 valueSeed) external tracked {
        uint256 h = _hostile(deviceSeed);
        vm.warp(block.timestamp + bound(silenceSeed, 0, 2 hours));
        _sendHostile(_fresh(h, bound(valueSeed, BASE / 4, BASE * 4)), _keys[h]);
    }

    /// @notice The attacker rotates a hostile device's key (always the first time), then sends a reading
    /// signed with a key it rotated away from, presenting that old key or the current one: refused as
    /// InvalidSignature (or, checked first, NotMember or Quarantined), never counted.
    function hostileOldKey(uint256 deviceSeed, bool rotate, uint256 oldSeed, bool presentCurrent) external tracked {
        uint256 h = _hostile(deviceSeed);
        if (rotate || _retired[h].length == 0) _rotate(h);
        if (_retired[h].length == 0) return;
        TestKey memory old = _retired[h][bound(oldSeed, 0, _retired[h].length - 1)];
        (bool fresh, int256 answer) = _freshAnswer();
        Reading memory r = _fresh(h, fresh ? answer : BASE);
        IDeviceFeed.SignedReading memory sr = _signed(r, old);
        if (presentCurrent) sr.key = _deviceKey(_keys[h]);
        IDeviceFeed.Rejection expected =
            !_isMember(r.deviceId)
                ? IDeviceFeed.Rejection.NotMember
                : FEED.quarantineOf(r.deviceId).since != 0
                    ? IDeviceFeed.Rejection.Quarantined
                    : IDeviceFeed.Rejection.InvalidSignature;
        ++ghostOldKeyChecks;
        try FEED.submit(sr.reading, sr.key, sr.signature) returns (bool) {
            ++ghostOldKeyNotRefused;
        } catch (bytes memory err) {
            bytes memory want = abi.encodeWithSelector(
                IDeviceFeed.DeviceFeedRejected.selector,
                r.deviceId,
                r.sequence,
                expected
            );
            if (keccak256(err) != keccak256(want)) ++ghostOldKeyNotRefused;
        }
    }

    /// @notice The attacker replays one of its accepted readings, alone or in a batch: never counted again.
    function hostileReplay(uint256 indexSeed, bool asBatch) external tracked {
        if (_sent.length == 0) return;
        IDeviceFeed.SignedReading memory sr = _sent[bound(indexSeed, 0, _sent.length - 1)];
        if (asBatch) {
            IDeviceFeed.SignedReading[] memory batch = new IDeviceFeed.SignedReading[](1);
            batch[0] = sr;
            try FEED.submitMany(batch) returns (uint256 accepted) {
                if (accepted != 0) ++ghostReplayAccepted;
            } catch {
                return;
            }
        } else {
            try FEED.submit(sr.reading, sr.key, sr.signature) returns (bool) {
                ++ghostReplayAccepted;
            } catch {
                return;
            }
        }
    }

    /// @notice The clock of device 4 (a flaky honest device) or of an attacker's device glitches: it repeats
    /// its last reading's time, faster than minInterval, and is quarantined like any member. With the
    /// attacker's two devices, this is how a window fills past maxQuarantines, or the unquarantined members
    /// fall below the quorum.
    function glitch(uint256 deviceSeed) external tracked {
        uint256 d = HONEST - 1 + (deviceSeed % (DEVICES - HONEST + 1));
        if (!_isMember(_ids[d])) return;
        IDeviceFeed.Slot memory s = FEED.slotOf(_ids[d]);
        if (s.timestamp == 0) return;
        Reading memory r = _fresh(d, s.value);
        r.timestamp = s.timestamp;
        IDeviceFeed.SignedReading[] memory batch = new IDeviceFeed.SignedReading[](1);
        batch[0] = _signed(r, _keys[d]);
        _relay(batch);
    }

    /// @dev Relays one reading with `submit`, several with `submitMany`; returns how many were accepted.
    function _relay(IDeviceFeed.SignedReading[] memory batch) private returns (uint256) {
        if (batch.length == 1) {
            try FEED.submit(batch[0].reading, batch[0].key, batch[0].signature) returns (bool accepted) {
                return accepted ? 1 : 0;
            } catch {
                return 0;
            }
        }
        try FEED.submitMany(batch) returns (uint256 accepted) {
            return accepted;
        } catch {
            return 0;
        }
    }

    /// @dev Signs with the device's current key and sends; keeps what was accepted for replays.
    function _sendHostile(Reading memory r, TestKey memory key) private {
        IDeviceFeed.SignedReading memory sr = _signed(r, key);
        try FEED.submit(sr.reading, sr.key, sr.signature) returns (bool accepted) {
            if (accepted) _sent.push(sr);
            else ++ghostHostileQuarantines;
        } catch {
            return; // refused: not a member, quarantined, unstaked...
        }
    }

    /// @dev The device's operator rotates its key to a new one of the same curve, signed by both keys.
    function _rotate(uint256 h) private {
        DeviceId id = _ids[h];
        TestKey memory current = _keys[h];
        TestKey memory next = _keyFor(h % 2 == 0, 0xB0B000 + h * 1_000 + ++_rotations);
        uint256 nonce = IDeviceRegistry(REGISTRY).deviceInfo(id).nonce;
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 digest = _typedDigest(DOMAIN, DeviceMessageLib.hashRotateKey(id, next.keyHash, nonce, deadline));
        IDeviceRegistry.KeyRotation memory rotation = IDeviceRegistry.KeyRotation({
            currentKey: _deviceKey(current),
            newKey: _deviceKey(next),
            nonce: nonce,
            deadline: deadline,
            currentSignature: _sign(current, digest),
            newSignature: _sign(next, digest)
        });
        vm.prank(IDeviceRegistry(REGISTRY).operatorOf(id));
        try IDeviceRegistry(REGISTRY).rotateKey(id, rotation) {
            _retired[h].push(current);
            _keys[h] = next;
        } catch {
            return; // not active
        }
    }

    // ------------------------------------------------------------------ anyone

    /// @notice A device attests again with its current key (honest operators keep theirs trusted; the
    /// attacker re-attests to be readmitted), then anyone readmits it if it is quarantined, after the
    /// cool-off if asked to wait for it.
    function reattestAndReadmit(uint256 deviceSeed, bool waitCoolOff) external tracked {
        uint256 d = bound(deviceSeed, 0, DEVICES - 1);
        DeviceId id = _ids[d];
        uint64 since = FEED.quarantineOf(id).since;
        if (waitCoolOff && since != 0 && since + QUARANTINE_PERIOD > block.timestamp) {
            vm.warp(since + QUARANTINE_PERIOD);
        }
        vm.roll(block.number + 1);
        vm.warp(block.timestamp + 1);
        Attestation memory evidence = Attestation({
            deviceId: id,
            measurement: MEASUREMENT,
            challenge: blockhash(block.number - 1),
            timestamp: uint64(block.timestamp),
            bootCount: IDeviceAttestation(REGISTRY).evidenceOf(id).bootCount
        });
        bytes memory sig = _sign(_keys[d], _typedDigest(DOMAIN, DeviceMessageLib.hashAttestation(evidence)));
        // A failed attestation (the same second as the last one) leaves the readmission to fail below.
        try IDeviceAttestation(REGISTRY).attest(evidence, block.number - 1, _deviceKey(_keys[d]), sig) {
            if (since == 0) return;
        } catch {
            if (since == 0) return;
        }
        vm.prank(STRANGER);
        try FEED.readmit(id) {
            return;
        } catch {
            return; // cooling off, not re-attested, or no longer a member
        }
    }

    // ------------------------------------------------------------------ helpers

    function _isMember(DeviceId id) private view returns (bool) {
        DeviceId[] memory m = FEED.members();
        for (uint256 i; i < m.length; ++i) if (DeviceId.unwrap(m[i]) == DeviceId.unwrap(id)) return true;
        return false;
    }

    /// @dev A reading of device `d` now, with its next sequence.
    function _fresh(uint256 d, int256 value) private view returns (Reading memory) {
        return
            Reading({
                deviceId: _ids[d],
                feedId: FEED.feedId(),
                sequence: FEED.sequenceOf(_ids[d]) + 1,
                timestamp: uint64(block.timestamp),
                value: value
            });
    }

    /// @dev `r` signed by `key`, relayed with `key` as the device's key.
    function _signed(Reading memory r, TestKey memory key) private view returns (IDeviceFeed.SignedReading memory) {
        return
            IDeviceFeed.SignedReading({
                reading: r,
                key: _deviceKey(key),
                signature: _sign(key, _typedDigest(DOMAIN, DeviceMessageLib.hashReading(r)))
            });
    }
}

/// @notice Invariants of DeviceFeed under random submissions, stake changes, time, resets and membership
/// changes, and under issue 11's attacker holding devices 5 and 6 beside honest operators of devices 0..4.
contract DeviceFeedInvariantTest is FeedFixture {
    int256 internal constant BASE = 100e8;

    DeviceFeedHandler internal handler;
    DeviceFeedAttackHandler internal attack;
    DeviceFeedGhost internal ghost;

    function setUp() public override {
        super.setUp();
        ghost = new DeviceFeedGhost(feed);
        handler = new DeviceFeedHandler(feed, ghost, staking, address(registry), domainSeparator, operator);
        attack = new DeviceFeedAttackHandler(feed, ghost, staking, address(registry), domainSeparator, MEASUREMENT_V1);
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
        targetContract(address(attack));
        bytes4[] memory attacks = new bytes4[](8);
        attacks[0] = DeviceFeedAttackHandler.honestReport.selector;
        attacks[1] = DeviceFeedAttackHandler.hostileBurst.selector;
        attacks[2] = DeviceFeedAttackHandler.hostileJump.selector;
        attacks[3] = DeviceFeedAttackHandler.hostileSilentFar.selector;
        attacks[4] = DeviceFeedAttackHandler.hostileOldKey.selector;
        attacks[5] = DeviceFeedAttackHandler.hostileReplay.selector;
        attacks[6] = DeviceFeedAttackHandler.reattestAndReadmit.selector;
        attacks[7] = DeviceFeedAttackHandler.glitch.selector;
        targetSelector(FuzzSelector({addr: address(attack), selectors: attacks}));
        // Runs start from a live feed: round 1, the honest members' readings at BASE, all fresh.
        attack.honestReport(0, true, 0, false);
        assertEq(feed.latestRound(), 1);
    }

    /// @notice The handler's submissions are not vacuous: an honest fresh reading of an eligible device counts,
    /// and one of an unstaked device does not.
    function test_handler_SubmitCountsOnlyEligible() public {
        vm.warp(block.timestamp + MIN_INTERVAL);
        handler.submit(0, 2, BASE, 0);
        assertEq(handler.ghostAccepted(), 1);
        assertEq(feed.sequenceOf(ids[0]), 2);
        handler.setStake(1, 0, 0);
        handler.submit(1, 2, BASE, 0);
        assertEq(handler.ghostAccepted(), 1);
        assertEq(feed.sequenceOf(ids[1]), 1);
        // Plenty of stake pending withdrawal, one unit of active stake short: not eligible either.
        handler.setStake(2, 0, uint256(MIN_STAKE) * 10);
        assertGt(staking.slashableOf(ids[2]), MIN_STAKE);
        handler.submit(2, 2, BASE, 0);
        assertEq(handler.ghostAccepted(), 1);
        assertEq(feed.sequenceOf(ids[2]), 1);
    }

    /// @notice The attacker's burst quarantines its device only; the feed stays armed and the honest members'
    /// next report after the heartbeat commits a round (the check of issue 11's promise ran).
    function test_handler_BurstQuarantinesOnlyTheAttacker() public {
        uint256 checks = attack.ghostHonestChecks();
        attack.hostileBurst(0, 2, false);
        assertEq(uint8(feed.quarantineOf(ids[5]).anomaly), uint8(IDeviceFeed.Anomaly.TooFrequent));
        assertEq(attack.ghostHostileQuarantines(), 1);
        assertEq(attack.sentCount(), 1, "its first reading was accepted");
        assertEq(uint8(feed.tripReason()), 0);
        // The same burst as one batch, from the other device: its first reading counts, the second quarantines
        // it, the third is refused.
        attack.hostileBurst(1, 3, true);
        assertEq(uint8(feed.quarantineOf(ids[6]).anomaly), uint8(IDeviceFeed.Anomaly.TooFrequent));
        assertEq(feed.sequenceOf(ids[6]), 2);
        assertEq(attack.ghostHostileQuarantines(), 2);
        assertEq(attack.sentCount(), 2);
        assertEq(uint8(feed.tripReason()), 0, "two quarantines are tolerated");
        attack.honestReport(0, true, 7, true);
        assertEq(feed.latestRound(), 2);
        assertEq(attack.ghostHonestChecks(), checks + 1);
        assertEq(attack.ghostStalledRounds(), 0);
        assertEq(ghost.rounds(), 2);
    }

    /// @notice A jump, and a far value after silence while the answer is fresh, quarantine the attacker's
    /// devices (Jump, Spread); two quarantines are tolerated.
    function test_handler_JumpAndFarValueQuarantine() public {
        attack.hostileSilentFar(0, 0, BASE);
        attack.hostileJump(0, 2_000, true);
        assertEq(uint8(feed.quarantineOf(ids[5]).anomaly), uint8(IDeviceFeed.Anomaly.Jump));
        attack.hostileSilentFar(1, 0, BASE * 2);
        assertEq(uint8(feed.quarantineOf(ids[6]).anomaly), uint8(IDeviceFeed.Anomaly.Spread));
        assertEq(attack.ghostHostileQuarantines(), 2);
        assertEq(uint8(feed.tripReason()), 0);
    }

    /// @notice After the answer expired, a far value counts; a minority of it does not move the next round out
    /// of the honest range (the round holds it, as its highest reading).
    function test_handler_FarValueAfterSilenceIsAMinority() public {
        attack.hostileSilentFar(1, 2 hours, BASE * 3);
        assertEq(attack.sentCount(), 1, "no fresh answer to be far from: it counts");
        attack.honestReport(0, true, 0, false);
        assertEq(feed.latestRound(), 2);
        DeviceFeedGhost.Committed memory c = ghost.roundOf(2);
        assertEq(c.answer, BASE);
        assertEq(c.hi, BASE * 3);
        assertEq(c.fresh, 6);
        assertEq(attack.ghostAnswerOutsideHonestRange(), 0);
    }

    /// @notice After a rotation, a reading signed with the old key is refused as InvalidSignature (presented
    /// with the old key or the new one), and the new key's reading counts.
    function test_handler_OldKeyRefusedAfterRotation() public {
        attack.hostileOldKey(1, true, 0, false);
        assertEq(registry.deviceInfo(ids[6]).nonce, 1, "rotated");
        attack.hostileOldKey(1, false, 0, true);
        assertEq(attack.ghostOldKeyChecks(), 2);
        assertEq(attack.ghostOldKeyNotRefused(), 0);
        attack.hostileSilentFar(1, 0, BASE);
        assertEq(attack.sentCount(), 1, "the new key's reading counts");
        assertEq(feed.sequenceOf(ids[6]), 1);
    }

    /// @notice A replayed reading is refused, alone or in a batch.
    function test_handler_ReplayRefused() public {
        attack.hostileSilentFar(0, 0, BASE);
        assertEq(attack.sentCount(), 1);
        attack.hostileReplay(0, false);
        attack.hostileReplay(0, true);
        assertEq(attack.ghostReplayAccepted(), 0);
        assertEq(feed.sequenceOf(ids[5]), 1);
    }

    /// @notice The attacker re-attests and anyone readmits its device once the cool-off has passed.
    function test_handler_ReadmitAfterCoolOff() public {
        attack.hostileBurst(0, 2, false);
        attack.reattestAndReadmit(5, false);
        assertGt(feed.quarantineOf(ids[5]).since, 0, "cooling off");
        attack.reattestAndReadmit(5, true);
        assertEq(feed.quarantineOf(ids[5]).since, 0);
        assertEq(feed.quarantinedCount(), 0);
    }

    /// @notice Glitches fill the quarantine window: maxQuarantines are tolerated, one more trips the feed for
    /// Quarantines, and the ghost finds the trip justified.
    function test_handler_QuarantinesTripPastTheMaximum() public {
        attack.hostileSilentFar(0, 0, BASE);
        attack.hostileSilentFar(1, 0, BASE);
        attack.glitch(0);
        attack.glitch(1);
        assertEq(uint8(feed.tripReason()), 0);
        attack.glitch(2);
        assertEq(uint8(feed.tripReason()), uint8(IDeviceFeed.TripReason.Quarantines));
        assertEq(ghost.trips(IDeviceFeed.TripReason.Quarantines), 1);
        assertEq(ghost.unjustifiedTrips(), 0);
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

    // ------------------------------------------------------------------ rounds, attacker, breaker
    // Each property below is an invariant_ function, checked after every call of its own campaign, and is also
    // checked by afterInvariant at the end of every run of every campaign (the ghosts' counters only grow and
    // recorded rounds only accumulate, so one look at the end covers the run): the campaigns of the other
    // invariants explore for it too, which lets its own campaign be shorter.

    /// @notice At the end of every run of every campaign, every property of this section holds.
    function afterInvariant() external {
        _assertRoundsWithinTheirReadings();
        _assertRoundsUnchanged();
        _assertRoundIdsContiguous();
        _assertReadFreshAnswersLatestRound();
        _assertHonestRoundsNeverStalled();
        _assertTripsJustified();
        _assertOldKeysAndReplaysRefused();
    }

    /// @notice Every committed round's answer is the median of the fresh, unquarantined readings it was computed
    /// from, so within their range, over at least a quorum of them, started at the oldest and updated when
    /// committed.
    /// hardhat-config: invariant.runs = 24
    function invariant_roundWithinItsReadings() public view {
        _assertRoundsWithinTheirReadings();
    }

    /// @notice A committed round's data never changes: getRoundData answers each one as it was at its commit,
    /// with answeredInRound == roundId.
    /// hardhat-config: invariant.runs = 24
    function invariant_roundsNeverChange() public view {
        _assertRoundsUnchanged();
    }

    /// @notice Round ids are 1..latestRound, each one the latest + 1 when it appeared, in time order; nothing
    /// answers for round 0 or past the latest.
    /// hardhat-config: invariant.runs = 24
    function invariant_roundIdsContiguous() public {
        _assertRoundIdsContiguous();
    }

    /// @notice Whenever readFresh answers, the feed is armed and it answers the latest committed round, whose
    /// readings are all still fresh.
    /// @dev Not "within the readings fresh now" (this invariant's version before committed rounds): a
    /// committed answer stays while the readings move less than deviationThresholdBps before the heartbeat,
    /// or while members leave; a round is a report, not a live median.
    /// hardhat-config: invariant.runs = 24
    function invariant_readFreshAnswersLatestRound() public view {
        _assertReadFreshAnswersLatestRound();
    }

    /// @notice A hostile minority never stops rounds: while the feed is armed, the round is due and the honest
    /// members alone hold a quorum of fresh readings, an honest report commits a round inside the honest
    /// readings' range (unless they themselves moved beyond maxDeviationBps), and an honest report is never
    /// refused or quarantined.
    /// @dev Longer runs: the attacker needs time to be quarantined, readmitted and quarantined again.
    /// hardhat-config: invariant.runs = 24
    /// hardhat-config: invariant.depth = 96
    function invariant_hostileMemberNeverStallsRounds() public view {
        _assertHonestRoundsNeverStalled();
    }

    /// @notice The feed trips only for an aggregate reason that holds when it trips (more than maxQuarantines
    /// quarantines within maxReadingAge, fewer unquarantined members than the quorum, a median jump from a
    /// fresh round), so a hostile member's own quarantine alone never trips it; and a quarantine that leaves
    /// less than a quorum always does.
    /// hardhat-config: invariant.runs = 24
    function invariant_tripsOnlyForAggregateReasons() public view {
        _assertTripsJustified();
    }

    /// @notice A reading signed with a key the device rotated away from is refused as InvalidSignature, and a
    /// replayed reading never counts twice.
    /// hardhat-config: invariant.runs = 24
    function invariant_oldKeysAndReplaysRefused() public view {
        _assertOldKeysAndReplaysRefused();
    }

    function _assertRoundsWithinTheirReadings() internal view {
        for (uint256 id = 1; id <= ghost.rounds(); ++id) {
            DeviceFeedGhost.Committed memory c = ghost.roundOf(id);
            assertGe(c.answer, c.lo, "answer below its readings");
            assertLe(c.answer, c.hi, "answer above its readings");
            assertEq(c.answer, c.median, "answer: their median");
            assertEq(c.readings, c.fresh, "taken over every fresh reading");
            assertGe(c.fresh, QUORUM, "a quorum");
            assertEq(c.startedAt, c.oldest, "startedAt: the oldest reading");
            assertEq(c.updatedAt, c.committedAt, "updatedAt: the commit");
        }
    }

    function _assertRoundsUnchanged() internal view {
        for (uint256 id = 1; id <= ghost.rounds(); ++id) {
            DeviceFeedGhost.Committed memory c = ghost.roundOf(id);
            (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound) = feed
                .getRoundData(uint80(id));
            assertEq(roundId, id);
            assertEq(answer, c.answer, "answer changed");
            assertEq(startedAt, c.startedAt, "startedAt changed");
            assertEq(updatedAt, c.updatedAt, "updatedAt changed");
            assertEq(answeredInRound, roundId);
        }
    }

    function _assertRoundIdsContiguous() internal {
        uint256 latest = feed.latestRound();
        assertEq(ghost.rounds(), latest, "every round recorded");
        assertEq(ghost.roundsOutOfSequence(), 0, "a call committed more than one round");
        for (uint256 id = 2; id <= latest; ++id) {
            assertLe(ghost.roundOf(id - 1).updatedAt, ghost.roundOf(id).updatedAt, "rounds in time order");
        }
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedRoundNotAvailable.selector, 0, latest));
        feed.getRoundData(0);
        vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedRoundNotAvailable.selector, latest + 1, latest));
        feed.getRoundData(uint80(latest + 1));
        (uint80 roundId, , , , ) = feed.latestRoundData();
        assertEq(roundId, latest);
    }

    function _assertReadFreshAnswersLatestRound() internal view {
        try feed.readFresh(MAX_READING_AGE) returns (int256 answer, uint256 updatedAt) {
            DeviceFeedGhost.Committed memory c = ghost.roundOf(feed.latestRound());
            assertEq(answer, c.answer);
            assertEq(updatedAt, c.updatedAt);
            assertLt(block.timestamp - c.startedAt, MAX_READING_AGE);
            assertEq(uint8(feed.tripReason()), 0);
        } catch {
            // Tripped, or its oldest reading expired: reverting instead of answering is intended.
            return;
        }
    }

    function _assertHonestRoundsNeverStalled() internal view {
        assertEq(attack.ghostStalledRounds(), 0, "an honest quorum's due round not committed");
        assertEq(attack.ghostAnswerOutsideHonestRange(), 0, "the minority moved the answer out of the honest range");
        assertEq(attack.ghostHonestPunished(), 0, "an honest report refused or quarantined");
    }

    function _assertTripsJustified() internal view {
        assertEq(ghost.unjustifiedTrips(), 0, "tripped without its reason");
        assertEq(ghost.missedTrips(), 0, "quorum lost to a quarantine, not tripped");
    }

    function _assertOldKeysAndReplaysRefused() internal view {
        assertEq(attack.ghostOldKeyNotRefused(), 0, "an old-key reading not refused as InvalidSignature");
        assertEq(attack.ghostReplayAccepted(), 0, "a replay counted");
    }

    // ------------------------------------------------------------------ readings, membership, stake

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
            uint256 leavesAt = handler.leaveAt(ids[i]);
            if (leavesAt == 0 || block.timestamp >= leavesAt) continue;
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
