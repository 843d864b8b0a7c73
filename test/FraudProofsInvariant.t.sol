// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {DeviceRegistry} from "../contracts/identity/DeviceRegistry.sol";
import {FraudProofs} from "../contracts/staking/FraudProofs.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {IDeviceStaking} from "../contracts/interfaces/IDeviceStaking.sol";
import {IFraudProofs} from "../contracts/interfaces/IFraudProofs.sol";
import {DeviceMessageLib} from "../contracts/libraries/DeviceMessageLib.sol";
import {MockStaking} from "../contracts/mocks/MockStaking.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {Reading, ReadingBatch} from "../contracts/types/Messages.sol";
import {RegistryFixture, KeyHelpers, TestKey} from "./utils/RegistryFixture.sol";

/// @notice Submits proofs drawn from small pools (two devices of both curves, two sequences, three to five
/// values, three times around the evidence window, stake switched on and off), so the same evidence comes
/// back often, swapped, replayed or inside batches (an out-of-bounds reading comes alone and as a batch
/// leaf). The operator rotates keys (at most three per device); an attacker holding a rotated-out key
/// signs conflicting and out-of-bounds readings dated around its retirement or later, to get the device
/// slashed. Predicts each outcome and counts successes and wrong errors.
/// @dev Bounded and never reverting: every proof runs in try/catch. No function here starts with "test".
contract FraudProofsHandler is CommonBase, StdUtils, KeyHelpers {
    uint256 internal constant STAKE = 1_000 ether;
    bytes32 internal constant FEED = keccak256("temperature");
    /// @dev Keys per device: the first one and at most two rotations.
    uint256 internal constant KEYS = 3;

    FraudProofs private immutable PROOFS;
    DeviceRegistry private immutable REGISTRY;
    address private immutable OPERATOR;
    MockStaking private immutable STAKING;
    bytes32 private immutable DOMAIN;
    uint256 private immutable WINDOW;
    address private immutable BENEFICIARY;
    /// @dev Readings are timed from a pool around this time, so the same reading comes back.
    uint256 private immutable BASE_TIME;

    /// @dev Each device's keys in rotation order; `_current(d)` indexes its current one.
    TestKey[KEYS][2] private _keys;
    /// @dev When each key was rotated out (0 while current or never installed), as the handler saw it. Keys
    /// retire in order, so the current key is the first with 0.
    uint256[KEYS][2] public ghostRetiredAt;
    DeviceId[2] public ids;

    /// @dev Accepted incident ids, in order, and how often each was accepted (must stay 1).
    bytes32[] public incidents;
    mapping(bytes32 id => uint256) public ghostAccepted;
    mapping(bytes32 id => DeviceId) public ghostDevice;
    uint256 public ghostAttempts;
    uint256 public ghostReplays;
    /// @dev Accepted equivocation pairs, to replay them (swapped or not).
    Reading[] private _acceptedA;
    Reading[] private _acceptedB;
    uint256[] private _acceptedDevice;
    /// @dev Must stay zero: a proof that failed with another error than predicted, or passed unexpectedly.
    uint256 public ghostUnexpected;
    /// @dev Proofs with evidence of a rotated-out key that slashed (dated before its retirement, in time).
    uint256 public ghostRetiredKeySlashes;
    /// @dev Must stay zero: slashes on a rotated-out key's evidence dated at or after its retirement, and
    /// slashes on a rotated-out key's evidence more than a window after its retirement.
    uint256 public ghostSlashesSignedAfterRetirement;
    uint256 public ghostSlashesLaterThanWindowAfterRetirement;

    /// @param privateKeys Each device's keys in rotation order (device 0 secp256k1, device 1 P-256); the
    /// first is its id.
    constructor(
        FraudProofs proofs,
        MockStaking staking,
        DeviceRegistry registry,
        address operator,
        uint256[KEYS][2] memory privateKeys,
        uint256 baseTime
    ) {
        BASE_TIME = baseTime;
        PROOFS = proofs;
        STAKING = staking;
        REGISTRY = registry;
        OPERATOR = operator;
        DOMAIN = registry.DOMAIN_SEPARATOR();
        WINDOW = proofs.evidenceWindow();
        BENEFICIARY = address(0xB0B7);
        for (uint256 d; d < 2; ++d) {
            for (uint256 k; k < KEYS; ++k) {
                _keys[d][k] = d == 0 ? _secpKey(privateKeys[d][k]) : _p256Key(privateKeys[d][k]);
                // Rotations made before the handler existed come from the registry; later ones are its own.
                ghostRetiredAt[d][k] = registry.keyRetiredAt(_keys[d][k].keyHash);
            }
            ids[d] = _id(_keys[d][0]);
        }
    }

    function incidentCount() external view returns (uint256) {
        return incidents.length;
    }

    function keyHashOf(uint256 d, uint256 k) external view returns (bytes32) {
        return _keys[d][k].keyHash;
    }

    // ================================================================ actions

    /// @notice Time passes (up to an hour), so older evidence drifts out of the window.
    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 0, 1 hours));
    }

    /// @notice The device's slashable stake is switched on or off.
    function setStake(uint256 deviceSeed, bool staked) external {
        STAKING.setSlashable(ids[deviceSeed % 2], staked ? STAKE : 0);
    }

    /// @notice Two signed readings from the pools, in either order.
    function equivocate(uint256 deviceSeed, uint256 seqSeed, uint256 valueSeed, uint256 ageSeed) external {
        uint256 d = deviceSeed % 2;
        Reading memory ra = _reading(d, seqSeed % 2, valueSeed % 3, ageSeed);
        Reading memory rb = _reading(d, (seqSeed >> 8) % 2, (valueSeed >> 8) % 3, ageSeed >> 8);
        IFraudProofs.SignedReading memory a = _signedReading(d, ra);
        IFraudProofs.SignedReading memory b = _signedReading(d, rb);
        bytes32 id = _pairId(IFraudProofs.IncidentKind.Equivocation, ra, rb);
        bytes memory expected = _expectedPairError(d, ra, rb, id);
        ++ghostAttempts;
        try PROOFS.proveEquivocation(a, b, BENEFICIARY) returns (bytes32 got) {
            _accepted(expected, got, id, d);
            _acceptedA.push(ra);
            _acceptedB.push(rb);
            _acceptedDevice.push(d);
        } catch (bytes memory reason) {
            _rejected(expected, reason);
        }
    }

    /// @notice An accepted equivocation proof submitted again, in either order, for another beneficiary.
    function replay(uint256 which, bool swap) external {
        uint256 n = _acceptedA.length;
        if (n == 0) return;
        which %= n;
        uint256 d = _acceptedDevice[which];
        (Reading memory ra, Reading memory rb) = swap
            ? (_acceptedB[which], _acceptedA[which])
            : (_acceptedA[which], _acceptedB[which]);
        bytes32 id = _pairId(IFraudProofs.IncidentKind.Equivocation, ra, rb);
        bytes memory expected = _expectedPairError(d, ra, rb, id);
        IFraudProofs.SignedReading memory a = _signedReading(d, ra);
        IFraudProofs.SignedReading memory b = _signedReading(d, rb);
        ++ghostAttempts;
        ++ghostReplays;
        try PROOFS.proveEquivocation(a, b, address(0xC0FFEE)) returns (bytes32 got) {
            _accepted(expected, got, id, d);
        } catch (bytes memory reason) {
            _rejected(expected, reason);
        }
    }

    /// @notice A leaf of a two-reading batch against a signed reading, both from the pools.
    function equivocateInBatch(uint256 deviceSeed, uint256 valueSeed, uint256 ageSeed, bool second) external {
        uint256 d = deviceSeed % 2;
        Reading[] memory run = new Reading[](2);
        run[0] = _reading(d, 0, valueSeed % 4, ageSeed);
        run[1] = _reading(d, 1, (valueSeed >> 8) % 4, ageSeed);
        uint256 index = second ? 1 : 0;
        Reading memory rb = _reading(d, index, (valueSeed >> 16) % 4, ageSeed >> 8);
        IFraudProofs.BatchedReading memory a = _batched(d, run, index);
        IFraudProofs.SignedReading memory b = _signedReading(d, rb);
        bytes32 id = _pairId(IFraudProofs.IncidentKind.Equivocation, run[index], rb);
        bytes memory expected = _expectedPairError(d, run[index], rb, id);
        ++ghostAttempts;
        try PROOFS.proveBatchEquivocation(a, b, BENEFICIARY) returns (bytes32 got) {
            _accepted(expected, got, id, d);
        } catch (bytes memory reason) {
            _rejected(expected, reason);
        }
    }

    /// @notice A signed reading from the pools (sequence 0 or 1, values -1..3) against the declared range [0, 2].
    function outOfBounds(uint256 deviceSeed, uint256 valueSeed, uint256 ageSeed) external {
        uint256 d = deviceSeed % 2;
        Reading memory r = _boundsReading(d, (valueSeed >> 8) % 2, valueSeed, ageSeed);
        IFraudProofs.SignedReading memory s = _signedReading(d, r);
        (bytes32 id, bytes memory expected) = _expectedOutOfBounds(d, r);
        ++ghostAttempts;
        try PROOFS.proveOutOfBounds(s, BENEFICIARY) returns (bytes32 got) {
            _accepted(expected, got, id, d);
        } catch (bytes memory reason) {
            _rejected(expected, reason);
        }
    }

    /// @notice A leaf of a two-reading batch (sequences 0 and 1) against the declared range [0, 2]. Its
    /// leaves come from the pools `outOfBounds` draws from, so the same reading comes alone and as a leaf
    /// (of this batch or of another one), in either order: it must slash once.
    function outOfBoundsInBatch(uint256 deviceSeed, uint256 valueSeed, uint256 ageSeed, bool second) external {
        uint256 d = deviceSeed % 2;
        Reading[] memory run = new Reading[](2);
        run[0] = _boundsReading(d, 0, valueSeed, ageSeed);
        run[1] = _boundsReading(d, 1, valueSeed >> 16, ageSeed);
        uint256 index = second ? 1 : 0;
        IFraudProofs.BatchedReading memory b = _batched(d, run, index);
        (bytes32 id, bytes memory expected) = _expectedOutOfBounds(d, run[index]);
        ++ghostAttempts;
        try PROOFS.proveBatchOutOfBounds(b, BENEFICIARY) returns (bytes32 got) {
            _accepted(expected, got, id, d);
        } catch (bytes memory reason) {
            _rejected(expected, reason);
        }
    }

    /// @notice The operator rotates the device to its next key (at most KEYS - 1 times), retiring the current one.
    function rotate(uint256 deviceSeed) external {
        uint256 d = deviceSeed % 2;
        uint256 k = _current(d);
        if (k + 1 >= KEYS) return;
        TestKey memory current = _keys[d][k];
        TestKey memory next = _keys[d][k + 1];
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 digest = _typedDigest(DOMAIN, DeviceMessageLib.hashRotateKey(ids[d], next.keyHash, k, deadline));
        IDeviceRegistry.KeyRotation memory rotation = IDeviceRegistry.KeyRotation({
            currentKey: _deviceKey(current),
            newKey: _deviceKey(next),
            nonce: k,
            deadline: deadline,
            currentSignature: _sign(current, digest),
            newSignature: _sign(next, digest)
        });
        vm.prank(OPERATOR);
        try REGISTRY.rotateKey(ids[d], rotation) {
            ghostRetiredAt[d][k] = block.timestamp;
        } catch {
            ++ghostUnexpected;
        }
    }

    /// @notice Whoever holds a rotated-out key signs a reading dated around its retirement (or now, or ahead)
    /// that conflicts with one the device signs now with its current key, and proves the pair, in either order.
    function leakedKeyEquivocation(uint256 deviceSeed, uint256 keySeed, uint256 timeSeed, bool swap) external {
        uint256 d = deviceSeed % 2;
        (bool found, uint256 k) = _retiredKey(d, keySeed);
        if (!found) return;
        uint64 signedAt = _leakedTime(d, k, timeSeed);
        (IFraudProofs.SignedReading memory a, IFraudProofs.SignedReading memory b) = _leakedPair(
            d,
            k,
            signedAt,
            uint64((timeSeed >> 8) % 2)
        );
        if (swap) (a, b) = (b, a);
        bytes32 id = _pairId(IFraudProofs.IncidentKind.Equivocation, a.reading, b.reading);
        bytes memory expected = _expectedPairError(d, a.reading, b.reading, id);
        // The current key's half always counts: only the leaked half can fail, in either order.
        if (expected.length == 0) expected = _expectedKey(d, k, signedAt);
        ++ghostAttempts;
        try PROOFS.proveEquivocation(a, b, BENEFICIARY) returns (bytes32 got) {
            _accepted(expected, got, id, d);
            _acceptedRetired(d, k, signedAt);
        } catch (bytes memory reason) {
            _rejected(expected, reason);
        }
    }

    /// @notice Whoever holds a rotated-out key signs a reading outside the declared range [0, 2], dated
    /// around its retirement (or now, or ahead), and proves it alone or as a leaf of a batch it signs.
    function leakedKeyOutOfBounds(uint256 deviceSeed, uint256 keySeed, uint256 timeSeed, bool asBatch) external {
        uint256 d = deviceSeed % 2;
        (bool found, uint256 k) = _retiredKey(d, keySeed);
        if (!found) return;
        uint64 signedAt = _leakedTime(d, k, timeSeed);
        Reading[] memory run = new Reading[](2);
        for (uint256 i; i < 2; ++i) {
            run[i] = Reading({deviceId: ids[d], feedId: FEED, sequence: uint64(i), timestamp: signedAt, value: 3});
        }
        _leakedOutOfBounds(d, k, run, (timeSeed >> 8) % 2, asBatch);
    }

    /// @dev Proves leaf `index` of `run` (all dated alike) signed by key `k`, alone or in a batch, and judges it.
    function _leakedOutOfBounds(uint256 d, uint256 k, Reading[] memory run, uint256 index, bool asBatch) private {
        (bytes32 id, bytes memory expected) = _expectedOutOfBounds(d, run[index]);
        if (expected.length == 0) expected = _expectedKey(d, k, run[index].timestamp);
        ++ghostAttempts;
        (bool ok, bytes32 got, bytes memory reason) = _proveLeakedOutOfBounds(d, k, run, index, asBatch);
        if (ok) {
            _accepted(expected, got, id, d);
            _acceptedRetired(d, k, run[index].timestamp);
        } else {
            _rejected(expected, reason);
        }
    }

    /// @dev Key `k`'s reading of `sequence` dated `signedAt` (value 7), and the current key's reading of the
    /// same sequence now (value 1).
    function _leakedPair(
        uint256 d,
        uint256 k,
        uint64 signedAt,
        uint64 sequence
    ) private view returns (IFraudProofs.SignedReading memory leaked, IFraudProofs.SignedReading memory honest) {
        Reading memory r = Reading({deviceId: ids[d], feedId: FEED, sequence: sequence, timestamp: signedAt, value: 7});
        leaked = _signedBy(d, k, r);
        r = Reading({deviceId: ids[d], feedId: FEED, sequence: sequence, timestamp: uint64(block.timestamp), value: 1});
        honest = _signedReading(d, r);
    }

    function _proveLeakedOutOfBounds(
        uint256 d,
        uint256 k,
        Reading[] memory run,
        uint256 index,
        bool asBatch
    ) private returns (bool ok, bytes32 got, bytes memory reason) {
        if (asBatch) {
            try PROOFS.proveBatchOutOfBounds(_batchedBy(d, k, run, index), BENEFICIARY) returns (bytes32 g) {
                return (true, g, "");
            } catch (bytes memory r) {
                return (false, bytes32(0), r);
            }
        }
        try PROOFS.proveOutOfBounds(_signedBy(d, k, run[index]), BENEFICIARY) returns (bytes32 g) {
            return (true, g, "");
        } catch (bytes memory r) {
            return (false, bytes32(0), r);
        }
    }

    /// @dev The index of device `d`'s current key: the number of its keys rotated out.
    function _current(uint256 d) private view returns (uint256 k) {
        while (k < KEYS && ghostRetiredAt[d][k] != 0) ++k;
    }

    /// @dev A key of device `d` rotated out before now, if any.
    function _retiredKey(uint256 d, uint256 seed) private view returns (bool found, uint256 k) {
        uint256 n = _current(d);
        if (n == 0) return (false, 0);
        return (true, seed % n);
    }

    /// @dev A signed time for key `k` of device `d`: around its retirement R (a window and a second before,
    /// an hour before, a second before, at, an hour after), now, or a month ahead.
    function _leakedTime(uint256 d, uint256 k, uint256 seed) private view returns (uint64) {
        uint256 retiredAt = ghostRetiredAt[d][k];
        uint256 pick = seed % 7;
        if (pick == 0) return uint64(retiredAt - WINDOW - 1);
        if (pick == 1) return uint64(retiredAt - 1 hours);
        if (pick == 2) return uint64(retiredAt - 1);
        if (pick == 3) return uint64(retiredAt);
        if (pick == 4) return uint64(retiredAt + 1 hours);
        if (pick == 5) return uint64(block.timestamp);
        return uint64(block.timestamp + 30 days);
    }

    /// @dev Counts a slash on evidence of rotated-out key `k` signed at `signedAt`, and the two that must not be.
    function _acceptedRetired(uint256 d, uint256 k, uint64 signedAt) private {
        uint256 retiredAt = ghostRetiredAt[d][k];
        ++ghostRetiredKeySlashes;
        if (signedAt >= retiredAt) ++ghostSlashesSignedAfterRetirement;
        if (block.timestamp > retiredAt + WINDOW) ++ghostSlashesLaterThanWindowAfterRetirement;
    }

    // ================================================================ prediction

    function _expectedPairError(
        uint256 d,
        Reading memory a,
        Reading memory b,
        bytes32 id
    ) private view returns (bytes memory) {
        if (a.sequence != b.sequence) {
            return abi.encodeWithSelector(IFraudProofs.ProofsDifferentSequence.selector, a.sequence, b.sequence);
        }
        if (DeviceMessageLib.hashReading(a) == DeviceMessageLib.hashReading(b)) {
            return abi.encodeWithSelector(IFraudProofs.ProofsSameReading.selector);
        }
        uint64 latest = a.timestamp > b.timestamp ? a.timestamp : b.timestamp;
        return _expectedUsability(d, latest, id);
    }

    /// @dev The evidence id of an out-of-bounds reading (the same alone or as a leaf) and the error its proof
    /// must fail with (empty when it must be accepted).
    function _expectedOutOfBounds(uint256 d, Reading memory r) private view returns (bytes32 id, bytes memory) {
        id = keccak256(abi.encode(IFraudProofs.IncidentKind.OutOfBounds, DeviceMessageLib.hashReading(r)));
        if (r.value >= 0 && r.value <= 2) {
            return (id, abi.encodeWithSelector(IFraudProofs.ProofsWithinRange.selector, r.value, int256(0), int256(2)));
        }
        return (id, _expectedUsability(d, r.timestamp, id));
    }

    function _expectedUsability(uint256 d, uint64 latest, bytes32 id) private view returns (bytes memory) {
        if (uint256(latest) + WINDOW < block.timestamp) {
            return abi.encodeWithSelector(IFraudProofs.ProofsEvidenceExpired.selector, latest, WINDOW, block.timestamp);
        }
        if (ghostAccepted[id] != 0) return abi.encodeWithSelector(IFraudProofs.ProofsEvidenceUsed.selector, id);
        if (STAKING.slashableOf(ids[d]) == 0) {
            return abi.encodeWithSelector(IFraudProofs.ProofsNoStake.selector, ids[d]);
        }
        return "";
    }

    /// @dev The error a signature by key `k` of device `d` over evidence dated `signedAt` must fail with once
    /// the evidence is otherwise usable (empty: it counts). The current key always counts.
    function _expectedKey(uint256 d, uint256 k, uint64 signedAt) private view returns (bytes memory) {
        uint256 retiredAt = ghostRetiredAt[d][k];
        if (retiredAt == 0) return "";
        if (signedAt >= retiredAt) {
            return
                abi.encodeWithSelector(
                    IFraudProofs.ProofsKeyRetired.selector,
                    ids[d],
                    _keys[d][k].keyHash,
                    retiredAt,
                    signedAt
                );
        }
        if (retiredAt + WINDOW < block.timestamp) {
            return
                abi.encodeWithSelector(IFraudProofs.ProofsEvidenceExpired.selector, retiredAt, WINDOW, block.timestamp);
        }
        return "";
    }

    function _accepted(bytes memory expected, bytes32 got, bytes32 id, uint256 d) private {
        if (expected.length != 0 || got != id) ++ghostUnexpected;
        if (ghostAccepted[got] == 0) incidents.push(got);
        ++ghostAccepted[got];
        ghostDevice[got] = ids[d];
    }

    function _rejected(bytes memory expected, bytes memory reason) private {
        if (expected.length == 0 || keccak256(reason) != keccak256(expected)) ++ghostUnexpected;
    }

    // ================================================================ builders

    /// @dev A reading of device `d` on FEED, timed from a pool of three times around BASE_TIME (the start):
    /// fresh, nearly out of the window, and out of it; as time passes, more of them expire.
    function _reading(
        uint256 d,
        uint256 sequence,
        uint256 value,
        uint256 ageSeed
    ) private view returns (Reading memory) {
        uint256 pick = ageSeed % 3;
        uint256 age =
            pick == 0
                ? 0
                : pick == 1
                    ? WINDOW - 2 hours
                    : WINDOW + 1;
        return
            Reading({
                deviceId: ids[d],
                feedId: FEED,
                sequence: uint64(sequence),
                timestamp: uint64(BASE_TIME - age),
                value: int256(value)
            });
    }

    /// @dev A reading of device `d` at `sequence` with a value from -1..3 (two of five outside [0, 2]).
    function _boundsReading(
        uint256 d,
        uint256 sequence,
        uint256 valueSeed,
        uint256 ageSeed
    ) private view returns (Reading memory r) {
        r = _reading(d, sequence, valueSeed % 5, ageSeed);
        --r.value;
    }

    /// @dev Reading `r` signed by device `d`'s current key.
    function _signedReading(uint256 d, Reading memory r) private view returns (IFraudProofs.SignedReading memory) {
        return _signedBy(d, _current(d), r);
    }

    function _signedBy(
        uint256 d,
        uint256 keyIndex,
        Reading memory r
    ) private view returns (IFraudProofs.SignedReading memory) {
        TestKey memory k = _keys[d][keyIndex];
        return
            IFraudProofs.SignedReading({
                reading: r,
                key: _deviceKey(k),
                signature: _sign(k, _typedDigest(DOMAIN, DeviceMessageLib.hashReading(r)))
            });
    }

    /// @dev A batch device `d`'s current key signs over `run`, and the proof of the leaf at `index`.
    function _batched(
        uint256 d,
        Reading[] memory run,
        uint256 index
    ) private view returns (IFraudProofs.BatchedReading memory) {
        return _batchedBy(d, _current(d), run, index);
    }

    function _batchedBy(
        uint256 d,
        uint256 keyIndex,
        Reading[] memory run,
        uint256 index
    ) private view returns (IFraudProofs.BatchedReading memory b) {
        TestKey memory k = _keys[d][keyIndex];
        bytes32[] memory leaves = new bytes32[](run.length);
        for (uint256 i; i < run.length; ++i) leaves[i] = DeviceMessageLib.hashReading(run[i]);
        b.batch = ReadingBatch({
            deviceId: ids[d],
            feedId: FEED,
            firstSequence: run[0].sequence,
            lastSequence: run[run.length - 1].sequence,
            count: uint64(run.length),
            fromTimestamp: run[0].timestamp,
            toTimestamp: run[run.length - 1].timestamp,
            root: _merkleRoot(leaves)
        });
        b.key = _deviceKey(k);
        b.signature = _sign(k, _typedDigest(DOMAIN, DeviceMessageLib.hashReadingBatch(b.batch)));
        b.reading = run[index];
        b.proof = _merkleProof(leaves, index);
    }

    function _pairId(
        IFraudProofs.IncidentKind kind,
        Reading memory a,
        Reading memory b
    ) private pure returns (bytes32) {
        bytes32 ha = DeviceMessageLib.hashReading(a);
        bytes32 hb = DeviceMessageLib.hashReading(b);
        return ha < hb ? keccak256(abi.encode(kind, ha, hb)) : keccak256(abi.encode(kind, hb, ha));
    }
}

/// @notice Properties of FraudProofs over any sequence of proofs, stake changes and passing time.
contract FraudProofsInvariantTest is RegistryFixture {
    FraudProofs internal proofs;
    MockStaking internal staking;
    FraudProofsHandler internal handler;

    function setUp() public override {
        super.setUp();
        staking = new MockStaking();
        staking.setSlashAmount(700 ether);
        proofs = new FraudProofs(address(registry), IDeviceStaking(address(staking)), 1 days);
        uint256[3][2] memory privateKeys = [[SECP_PK, SECP_PK_2, 0x5EC9_3], [P256_PK, P256_PK_2, 0xF256_3]];
        TestKey memory secpFirst = _secpKey(SECP_PK);
        staking.setSlashable(_register(secpFirst), 1_000 ether);
        staking.setSlashable(_register(_p256Key(P256_PK)), 1_000 ether);
        vm.prank(makerSigner);
        proofs.setSensorRange(MODEL, 0, 2);
        // The secp256k1 device's first key was rotated out long ago: its holder's evidence is all refused.
        _rotate(_id(secpFirst), secpFirst, _secpKey(SECP_PK_2));
        // Start late enough that readings can be older than the window.
        vm.warp(START + 10 days);
        handler = new FraudProofsHandler(proofs, staking, registry, operator, privateKeys, block.timestamp);
        targetContract(address(handler));
    }

    /// @notice Each piece of evidence slashes at most once, and every outcome is the predicted one.
    function invariant_EachEvidenceSlashesOnce() public view {
        uint256 n = handler.incidentCount();
        for (uint256 i; i < n; ++i) assertEq(handler.ghostAccepted(handler.incidents(i)), 1, "accepted once");
        for (uint256 i; i < staking.slashCount(); ++i) {
            bytes32 id = staking.slashCall(i).incident;
            for (uint256 j; j < i; ++j) assertTrue(staking.slashCall(j).incident != id, "slashed twice");
        }
        assertEq(handler.ghostUnexpected(), 0, "unexpected outcome");
    }

    /// @notice A rotated-out key never gets its device slashed for evidence it dates at or after its retirement,
    /// nor more than one evidence window after its retirement, whatever it dates.
    function invariant_RetiredKeysStopCountingAtRetirement() public view {
        assertEq(handler.ghostSlashesSignedAfterRetirement(), 0, "slashed on evidence dated after retirement");
        assertEq(handler.ghostSlashesLaterThanWindowAfterRetirement(), 0, "slashed a window after retirement");
    }

    /// @notice The registry's retirement time of every key is the time the handler rotated it out (0 for the
    /// current key and for keys not yet installed).
    function invariant_RetirementTimesAreTheRotations() public view {
        for (uint256 d; d < 2; ++d) {
            for (uint256 k; k < 3; ++k) {
                assertEq(registry.keyRetiredAt(handler.keyHashOf(d, k)), handler.ghostRetiredAt(d, k), "retired at");
            }
        }
    }

    /// @notice Every incident has a valid kind, one of the handler's devices and the slashed amount.
    function invariant_IncidentsAreValid() public view {
        uint256 n = handler.incidentCount();
        for (uint256 i; i < n; ++i) {
            bytes32 id = handler.incidents(i);
            IFraudProofs.Incident memory inc = proofs.incident(id);
            assertTrue(inc.kind != IFraudProofs.IncidentKind.None, "kind set");
            assertTrue(uint8(inc.kind) <= uint8(IFraudProofs.IncidentKind.RevokedFirmware), "kind in range");
            DeviceId device = handler.ghostDevice(id);
            assertTrue(device == handler.ids(0) || device == handler.ids(1), "a known device");
            assertEq(DeviceId.unwrap(inc.deviceId), DeviceId.unwrap(device), "the proven device");
            assertEq(inc.slashed, 700 ether, "the slashed amount");
        }
    }

    /// @notice The staking contract was asked to slash exactly once per incident, by the proofs contract,
    /// for the incident's device.
    function invariant_SlashCallsEqualIncidents() public view {
        uint256 n = staking.slashCount();
        assertEq(n, handler.incidentCount(), "one slash per incident");
        for (uint256 i; i < n; ++i) {
            MockStaking.SlashCall memory c = staking.slashCall(i);
            assertEq(c.caller, address(proofs), "slashed by the proofs contract");
            assertEq(DeviceId.unwrap(c.deviceId), DeviceId.unwrap(proofs.incident(c.incident).deviceId), "device");
        }
    }
}
