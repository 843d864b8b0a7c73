// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {IFraudProofs} from "../contracts/interfaces/IFraudProofs.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {Attestation, Reading} from "../contracts/types/Messages.sol";
import {FraudProofsFixture} from "./utils/FraudProofsFixture.sol";
import {TestKey} from "./utils/RegistryFixture.sol";

/// @notice Every proof input fuzzed: values, sequences, feeds, timestamps against the window, batch sizes
/// and positions (equivocating and out-of-bounds leaves), sensor ranges, attestation times against the
/// revocation, signed times against a key's retirement. A bool picks the curve; each run verifies at most
/// three P-256 signatures, so the prague run
/// (Solidity P-256) stays fast. Each fuzz test has a concrete twin right above it; both call the same check.
contract FraudProofsFuzzTest is FraudProofsFixture {
    function _device(bool useP256) internal view returns (TestKey memory k, DeviceId id) {
        return useP256 ? (p256, p256Id) : (secp, secpId);
    }

    /// @dev A value different from `a`, derived from `b`.
    function _other(int256 a, int256 b) internal pure returns (int256) {
        if (a != b) return b;
        return a == type(int256).max ? a - 1 : a + 1;
    }

    // ================================================================ equivocation: contents

    /// @dev Any two different values for one (device, feed, sequence) slash; the swapped pair is used.
    function _checkEquivocation(bool useP256, uint64 sequence, int256 va, int256 vb) internal {
        (TestKey memory k, DeviceId id) = _device(useP256);
        uint256 slashesBefore = staking.slashCount();
        vb = _other(va, vb);
        IFraudProofs.SignedReading memory a = _signed(k, _reading(id, sequence, va));
        IFraudProofs.SignedReading memory b = _signed(k, _reading(id, sequence, vb));
        bytes32 incidentId = proofs.proveEquivocation(a, b, beneficiary);
        assertEq(incidentId, _pairId(IFraudProofs.IncidentKind.Equivocation, a.reading, b.reading));
        _assertIncident(incidentId, id, IFraudProofs.IncidentKind.Equivocation, SLASHED, a.reading.timestamp);
        _assertSlashed(id, beneficiary, incidentId);
        // The swap is refused before any signature is checked.
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsEvidenceUsed.selector, incidentId));
        proofs.proveEquivocation(b, a, prover);
        assertEq(staking.slashCount(), slashesBefore + 1);
    }

    function test_proveEquivocation_SlashesAnyDifferentValues() public {
        _checkEquivocation(true, 0, type(int256).max, type(int256).max);
        _checkEquivocation(false, type(uint64).max, type(int256).min, 0);
    }

    function testFuzz_proveEquivocation_SlashesAnyDifferentValues(
        bool useP256,
        uint64 sequence,
        int256 va,
        int256 vb
    ) public {
        _checkEquivocation(useP256, sequence, va, vb);
    }

    // ================================================================ equivocation: mismatches

    /// @dev Different sequences, or different feeds, never make equivocation (no signature is checked).
    function _checkMismatch(bool useP256, uint64 seqA, uint64 seqB, bytes32 feedB) internal {
        (TestKey memory k, DeviceId id) = _device(useP256);
        Reading memory ra = _reading(id, seqA, 1);
        Reading memory rb = _reading(id, seqB, 2);
        rb.feedId = feedB;
        IFraudProofs.SignedReading memory a = _signed(k, ra);
        IFraudProofs.SignedReading memory b = _signed(k, rb);
        if (feedB != FEED) {
            vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsDifferentFeed.selector, FEED, feedB));
        } else if (seqA != seqB) {
            vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsDifferentSequence.selector, seqA, seqB));
        } else {
            proofs.proveEquivocation(a, b, beneficiary);
            assertEq(staking.slashCount(), 1);
            return;
        }
        proofs.proveEquivocation(a, b, beneficiary);
        assertEq(staking.slashCount(), 0);
    }

    function test_proveEquivocation_RevertWhen_FeedOrSequenceDiffer() public {
        _checkMismatch(false, 1, 2, FEED);
        _checkMismatch(true, 1, 1, OTHER_FEED);
        _checkMismatch(false, 3, 3, FEED);
    }

    function testFuzz_proveEquivocation_RevertWhen_FeedOrSequenceDiffer(
        bool useP256,
        uint64 seqA,
        uint64 seqB,
        bool sameSequence,
        bool sameFeed,
        bytes32 feedB
    ) public {
        if (sameSequence) seqB = seqA;
        if (sameFeed) feedB = FEED;
        _checkMismatch(useP256, seqA, seqB, feedB);
    }

    // ================================================================ evidence window

    /// @dev Evidence counts iff its latest timestamp plus the window has not passed; future is fine.
    function _checkWindow(uint64 tsA, uint64 tsB, uint256 now_) internal {
        vm.warp(now_);
        IFraudProofs.SignedReading memory a;
        IFraudProofs.SignedReading memory b;
        {
            Reading memory ra = _reading(secpId, 5, 1);
            Reading memory rb = _reading(secpId, 5, 2);
            ra.timestamp = tsA;
            rb.timestamp = tsB;
            a = _signed(secp, ra);
            b = _signed(secp, rb);
        }
        uint64 latest = tsA > tsB ? tsA : tsB;
        uint256 slashesBefore = staking.slashCount();
        if (uint256(latest) + WINDOW < now_) {
            vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsEvidenceExpired.selector, latest, WINDOW, now_));
            proofs.proveEquivocation(a, b, beneficiary);
            assertEq(staking.slashCount(), slashesBefore);
        } else {
            bytes32 incidentId = proofs.proveEquivocation(a, b, beneficiary);
            assertEq(staking.slashCount(), slashesBefore + 1);
            uint256 time = latest < now_ ? latest : now_;
            _assertIncident(incidentId, secpId, IFraudProofs.IncidentKind.Equivocation, SLASHED, time);
        }
    }

    function test_proveEquivocation_WindowDecides() public {
        _checkWindow(uint64(START), uint64(START - 5 days), START + WINDOW); // last second
        _checkWindow(uint64(START), uint64(START), START + WINDOW + 1); // one second late (same pair: unused)
        _checkWindow(type(uint64).max, 0, START); // far future
    }

    function testFuzz_proveEquivocation_WindowDecides(uint64 tsA, uint64 tsB, uint256 now_) public {
        now_ = bound(now_, START, START + 10 * 365 days);
        // Around the edge most of the time, anywhere otherwise.
        if (tsA % 2 == 0) tsA = uint64(bound(tsA, now_ - WINDOW - 3, now_ - WINDOW + 3));
        _checkWindow(tsA, tsB, now_);
    }

    // ================================================================ batches

    /// @dev A conflicting reading against any leaf of a batch of any size (1..16) slashes; the same
    /// reading presented outside the batch's sequence range is a mismatch.
    function _checkBatch(bool useP256, uint256 size, uint256 index, uint64 first, int256 value) internal {
        (TestKey memory k, DeviceId id) = _device(useP256);
        Reading[] memory run = new Reading[](size);
        for (uint256 i; i < size; ++i) run[i] = _reading(id, first + uint64(i), int256(i));
        IFraudProofs.BatchedReading memory a = _batched(k, run, index);
        // A fresh struct: `run[index]` is the very memory `a.reading` points to.
        Reading memory conflicting = _reading(id, run[index].sequence, _other(run[index].value, value));
        IFraudProofs.SignedReading memory b = _signed(k, conflicting);

        // Outside the claimed range: refused before any signature is checked.
        a.batch.firstSequence = a.reading.sequence + 1;
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsBatchMismatch.selector, id));
        proofs.proveBatchEquivocation(a, b, beneficiary);

        a.batch.firstSequence = run[0].sequence;
        bytes32 incidentId = proofs.proveBatchEquivocation(a, b, beneficiary);
        assertEq(incidentId, _pairId(IFraudProofs.IncidentKind.Equivocation, a.reading, b.reading));
        _assertIncident(incidentId, id, IFraudProofs.IncidentKind.BatchEquivocation, SLASHED, b.reading.timestamp);
    }

    function test_proveBatchEquivocation_SlashesAnyLeaf() public {
        _checkBatch(true, 5, 4, 100, 7);
    }

    function testFuzz_proveBatchEquivocation_SlashesAnyLeaf(
        bool useP256,
        uint256 size,
        uint256 index,
        uint64 first,
        int256 value
    ) public {
        size = bound(size, 1, 16);
        index = bound(index, 0, size - 1);
        first = uint64(bound(first, 0, type(uint64).max - 16));
        _checkBatch(useP256, size, index, first, value);
    }

    /// @dev A leaf of one batch against a leaf of another (any positions) slashes.
    function _checkBatchPair(uint256 indexA, uint256 indexB, int256 shift) internal {
        shift = shift == 0 ? int256(1) : shift;
        Reading[] memory runA = _run(secpId, 10, 0);
        Reading[] memory runB = _run(secpId, 10, 0);
        for (uint256 i; i < 4; ++i) runB[i].value = _other(runA[i].value, runA[i].value + (shift % 1e30));
        // Same sequence on both sides: align the positions.
        IFraudProofs.BatchedReading memory a = _batched(secp, runA, indexA);
        IFraudProofs.BatchedReading memory b = _batched(secp, runB, indexB);
        if (indexA != indexB) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IFraudProofs.ProofsDifferentSequence.selector,
                    runA[indexA].sequence,
                    runB[indexB].sequence
                )
            );
            proofs.proveBatchPairEquivocation(a, b, beneficiary);
            return;
        }
        bytes32 incidentId = proofs.proveBatchPairEquivocation(a, b, beneficiary);
        _assertSlashed(secpId, beneficiary, incidentId);
    }

    function test_proveBatchPairEquivocation_SlashesAlignedLeaves() public {
        _checkBatchPair(2, 2, -3);
    }

    function testFuzz_proveBatchPairEquivocation_SlashesAlignedLeaves(
        uint256 indexA,
        uint256 indexB,
        int256 shift
    ) public {
        _checkBatchPair(bound(indexA, 0, 3), bound(indexB, 0, 3), shift);
    }

    // ================================================================ sensor ranges

    /// @dev A reading slashes iff it is outside [min, max].
    function _checkRange(bool useP256, int256 min, int256 max, int256 value) internal {
        (TestKey memory k, DeviceId id) = _device(useP256);
        vm.prank(makerSigner);
        proofs.setSensorRange(MODEL, min, max);
        IFraudProofs.SignedReading memory r = _signed(k, _reading(id, 1, value));
        uint256 slashesBefore = staking.slashCount();
        if (value < min || value > max) {
            bytes32 incidentId = proofs.proveOutOfBounds(r, beneficiary);
            assertEq(incidentId, _readingId(r.reading));
            _assertIncident(incidentId, id, IFraudProofs.IncidentKind.OutOfBounds, SLASHED, r.reading.timestamp);
        } else {
            vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsWithinRange.selector, value, min, max));
            proofs.proveOutOfBounds(r, beneficiary);
            assertEq(staking.slashCount(), slashesBefore);
        }
    }

    function test_proveOutOfBounds_RangeDecides() public {
        _checkRange(false, -40, 125, 126);
        _checkRange(true, type(int256).min, type(int256).max, 0);
    }

    function testFuzz_proveOutOfBounds_RangeDecides(bool useP256, int256 min, int256 max, int256 value) public {
        if (min > max) (min, max) = (max, min);
        // Just outside an edge two times in three, anywhere otherwise.
        uint256 pick = uint256(value) % 3;
        if (pick == 0 && min > type(int256).min) value = min - 1;
        if (pick == 1 && max < type(int256).max) value = max + 1;
        _checkRange(useP256, min, max, value);
    }

    function _checkInvertedRange(int256 min, int256 max) internal {
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsInvalidRange.selector, min, max));
        vm.prank(makerSigner);
        proofs.setSensorRange(MODEL, min, max);
    }

    function test_setSensorRange_RevertWhen_Inverted() public {
        _checkInvertedRange(type(int256).max, type(int256).min);
    }

    function testFuzz_setSensorRange_RevertWhen_Inverted(int256 min, int256 max) public {
        if (min == max) max = min == type(int256).min ? min + 1 : min - 1;
        if (min < max) (min, max) = (max, min);
        _checkInvertedRange(min, max);
    }

    // ================================================================ sensor ranges inside batches

    /// @dev The leaf at `index` of a batch of `size` slashes iff its value is outside [min, max], with the id
    /// of the same reading proven alone: once proven in one form (alone first when `aloneFirst`), the other
    /// is refused as used before any signature is checked.
    function _checkBatchRange(
        bool useP256,
        uint256 size,
        uint256 index,
        int256 min,
        int256 max,
        int256 value,
        bool aloneFirst
    ) internal {
        (TestKey memory k, DeviceId id) = _device(useP256);
        vm.prank(makerSigner);
        proofs.setSensorRange(MODEL, min, max);
        IFraudProofs.BatchedReading memory b = _batchedValue(k, id, size, index, value);
        IFraudProofs.SignedReading memory alone = _signed(k, b.reading);
        uint256 slashesBefore = staking.slashCount();
        if (value >= min && value <= max) {
            vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsWithinRange.selector, value, min, max));
            proofs.proveBatchOutOfBounds(b, beneficiary);
            assertEq(staking.slashCount(), slashesBefore);
            return;
        }
        bytes32 incidentId = _readingId(b.reading);
        if (aloneFirst) {
            assertEq(proofs.proveOutOfBounds(alone, beneficiary), incidentId);
            vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsEvidenceUsed.selector, incidentId));
            proofs.proveBatchOutOfBounds(b, prover);
        } else {
            assertEq(proofs.proveBatchOutOfBounds(b, beneficiary), incidentId);
            vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsEvidenceUsed.selector, incidentId));
            proofs.proveOutOfBounds(alone, prover);
        }
        _assertIncident(incidentId, id, IFraudProofs.IncidentKind.OutOfBounds, SLASHED, b.reading.timestamp);
        _assertSlashed(id, beneficiary, incidentId);
        assertEq(staking.slashCount(), slashesBefore + 1);
    }

    function test_proveBatchOutOfBounds_RangeDecides() public {
        _checkBatchRange(true, 5, 4, -40, 125, 126, false);
        _checkBatchRange(false, 16, 0, -40, 125, -41, true);
        _checkBatchRange(false, 1, 0, type(int256).min, type(int256).max, 0, false);
    }

    function testFuzz_proveBatchOutOfBounds_RangeDecides(
        bool useP256,
        uint256 size,
        uint256 index,
        int256 min,
        int256 max,
        int256 value,
        bool aloneFirst
    ) public {
        size = bound(size, 1, 16);
        index = bound(index, 0, size - 1);
        if (min > max) (min, max) = (max, min);
        // Just outside an edge two times in three, anywhere otherwise.
        uint256 pick = uint256(value) % 3;
        if (pick == 0 && min > type(int256).min) value = min - 1;
        if (pick == 1 && max < type(int256).max) value = max + 1;
        _checkBatchRange(useP256, size, index, min, max, value, aloneFirst);
    }

    // ================================================================ revoked firmware

    /// @dev Evidence on v1 slashes iff it is timed at or after v1's revocation (and inside the window).
    function _checkRevocationTime(bool useP256, uint64 timestamp) internal {
        (TestKey memory k, DeviceId id) = _device(useP256);
        uint32 v1 = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        vm.warp(block.timestamp + 1 hours);
        _revokeFirmware(v1);
        uint64 revokedAt = uint64(block.timestamp);
        Attestation memory a = _attestation(id, MEASUREMENT_V1, timestamp);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(k);
        bytes memory sig = _sign(k, _attestationDigest(a));
        if (timestamp < revokedAt) {
            vm.expectRevert(
                abi.encodeWithSelector(IFraudProofs.ProofsFirmwareNotRevoked.selector, id, MEASUREMENT_V1, timestamp)
            );
            proofs.proveRevokedFirmware(a, key, sig, beneficiary);
            assertEq(staking.slashCount(), 0);
        } else {
            bytes32 incidentId = proofs.proveRevokedFirmware(a, key, sig, beneficiary);
            assertEq(incidentId, _attestationId(a));
            // Timed by the attestation, capped at the proof's block (future-dated evidence is accepted).
            uint256 time = _incidentTime(timestamp);
            _assertIncident(incidentId, id, IFraudProofs.IncidentKind.RevokedFirmware, SLASHED, time);
        }
    }

    function test_proveRevokedFirmware_RevocationTimeDecides() public {
        _checkRevocationTime(true, uint64(START + 1 hours - 1));
    }

    function testFuzz_proveRevokedFirmware_RevocationTimeDecides(bool useP256, uint64 timestamp) public {
        // Revocation happens at START + 1 hour; stay inside the window (future times are fine).
        timestamp = uint64(bound(timestamp, START + 1 hours - WINDOW, type(uint64).max));
        if (timestamp % 2 == 0) timestamp = uint64(bound(timestamp, START + 1 hours - 2, START + 1 hours + 2));
        _checkRevocationTime(useP256, timestamp);
    }

    // ================================================================ rotated-out keys

    /// @dev At `rotateAt` the operator rotates the chosen device off its first key, to a key of the other
    /// curve (so a run checks at most two P-256 signatures, the rotation's included). Returns the device,
    /// both keys and the retirement time.
    function _retire(
        bool useP256,
        uint256 rotateAt
    ) internal returns (DeviceId id, TestKey memory old, TestKey memory next, uint64 retiredAt) {
        (old, id) = _device(useP256);
        next = useP256 ? _secpKey(0x5EC9_3) : _p256Key(0xF256_3);
        vm.warp(rotateAt);
        _rotate(id, old, next);
        retiredAt = uint64(rotateAt);
        assertEq(registry.keyRetiredAt(old.keyHash), retiredAt);
    }

    /// @dev Bounds for the fuzzed times: a rotation within ten years of START, a proof up to three windows
    /// after it, and a signed time near the retirement or near the window's edge most of the time.
    function _retirementTimes(
        uint64 signedAt,
        uint256 rotateAt,
        uint256 now_
    ) internal pure returns (uint64, uint256, uint256) {
        rotateAt = bound(rotateAt, START, START + 10 * 365 days);
        now_ = bound(now_, rotateAt, rotateAt + 3 * WINDOW);
        if (signedAt % 3 == 0) signedAt = uint64(bound(signedAt, rotateAt - 3, rotateAt + 3));
        else if (signedAt % 3 == 1) signedAt = uint64(bound(signedAt, now_ - WINDOW - 3, now_ - WINDOW + 3));
        return (signedAt, rotateAt, now_);
    }

    /// @dev An out-of-bounds reading the rotated-out key signed at `signedAt`, proven at `now_`: provable iff
    /// it is dated before the retirement and inside the window.
    function _checkRetiredKeyOutOfBounds(bool useP256, uint64 signedAt, uint256 rotateAt, uint256 now_) internal {
        vm.prank(makerSigner);
        proofs.setSensorRange(MODEL, -40, 125);
        (DeviceId id, TestKey memory old, , uint64 retiredAt) = _retire(useP256, rotateAt);
        uint256 slashesBefore = staking.slashCount();
        Reading memory r = _reading(id, 1, 500);
        r.timestamp = signedAt;
        IFraudProofs.SignedReading memory s = _signed(old, r);
        vm.warp(now_);
        if (uint256(signedAt) + WINDOW < now_) {
            vm.expectRevert(
                abi.encodeWithSelector(IFraudProofs.ProofsEvidenceExpired.selector, signedAt, WINDOW, now_)
            );
        } else if (signedAt >= retiredAt) {
            vm.expectRevert(
                abi.encodeWithSelector(IFraudProofs.ProofsKeyRetired.selector, id, old.keyHash, retiredAt, signedAt)
            );
        } else {
            bytes32 incidentId = proofs.proveOutOfBounds(s, beneficiary);
            _assertIncident(incidentId, id, IFraudProofs.IncidentKind.OutOfBounds, SLASHED, signedAt);
            assertLe(now_, uint256(retiredAt) + WINDOW, "never later than a window after the rotation");
            return;
        }
        proofs.proveOutOfBounds(s, beneficiary);
        assertEq(staking.slashCount(), slashesBefore);
    }

    function test_proveOutOfBounds_RetiredKeyDecides() public {
        // Dated a second before the rotation, proven in the last second of its window: slashed.
        _checkRetiredKeyOutOfBounds(true, uint64(START + 1 days - 1), START + 1 days, START + 2 days - 1);
        // Dated at the rotation: refused.
        _checkRetiredKeyOutOfBounds(false, uint64(START + 3 days), START + 3 days, START + 3 days);
    }

    function testFuzz_proveOutOfBounds_RetiredKeyDecides(
        bool useP256,
        uint64 signedAt,
        uint256 rotateAt,
        uint256 now_
    ) public {
        (signedAt, rotateAt, now_) = _retirementTimes(signedAt, rotateAt, now_);
        _checkRetiredKeyOutOfBounds(useP256, signedAt, rotateAt, now_);
    }

    /// @dev A reading the rotated-out key signed at `signedAt` against a conflicting one the new key signs at
    /// the proof's time `now_` (so the pair is always fresh): provable iff the old one is dated before the
    /// retirement and the proof comes within a window of the retirement.
    function _checkRetiredKeyPair(bool useP256, uint64 signedAt, uint256 rotateAt, uint256 now_) internal {
        (DeviceId id, TestKey memory old, TestKey memory next, uint64 retiredAt) = _retire(useP256, rotateAt);
        uint256 slashesBefore = staking.slashCount();
        IFraudProofs.SignedReading memory a;
        IFraudProofs.SignedReading memory b;
        {
            Reading memory ra = _reading(id, 7, 1);
            ra.timestamp = signedAt;
            a = _signed(old, ra);
            vm.warp(now_);
            b = _signed(next, _reading(id, 7, 2));
        }
        bytes memory expected;
        if (signedAt >= retiredAt) {
            expected = abi.encodeWithSelector(
                IFraudProofs.ProofsKeyRetired.selector,
                id,
                old.keyHash,
                retiredAt,
                signedAt
            );
        } else if (uint256(retiredAt) + WINDOW < now_) {
            expected = abi.encodeWithSelector(IFraudProofs.ProofsEvidenceExpired.selector, retiredAt, WINDOW, now_);
        }
        if (expected.length == 0) {
            bytes32 incidentId = proofs.proveEquivocation(b, a, beneficiary);
            _assertIncident(incidentId, id, IFraudProofs.IncidentKind.Equivocation, SLASHED, now_);
        } else {
            vm.expectRevert(expected);
            proofs.proveEquivocation(b, a, beneficiary);
            assertEq(staking.slashCount(), slashesBefore);
        }
    }

    function test_proveEquivocation_RetiredKeyDecides() public {
        // Backdated to a second before the rotation, proven in the last second of the window after it: slashed.
        _checkRetiredKeyPair(false, uint64(START + 5 days - 1), START + 5 days, START + 6 days);
        // One second later: the old key's part has run out, though the new key's reading is fresh.
        _checkRetiredKeyPair(true, uint64(START + 9 days - 1), START + 9 days, START + 10 days + 1);
    }

    function testFuzz_proveEquivocation_RetiredKeyDecides(
        bool useP256,
        uint64 signedAt,
        uint256 rotateAt,
        uint256 now_
    ) public {
        (signedAt, rotateAt, now_) = _retirementTimes(signedAt, rotateAt, now_);
        // The window edge that matters for a pair is the retirement's.
        if (now_ % 2 == 0) now_ = bound(now_, rotateAt + WINDOW - 2, rotateAt + WINDOW + 2);
        _checkRetiredKeyPair(useP256, signedAt, rotateAt, now_);
    }

    // ================================================================ incident time

    /// @dev For any two signed timestamps inside the window, the incident is timed at the later one, or at
    /// the proof's block when that one is in the future; the order of the pair does not matter.
    function _checkIncidentTime(uint64 tsA, uint64 tsB, uint256 elapsed, uint256 expected) internal {
        IFraudProofs.SignedReading memory a;
        IFraudProofs.SignedReading memory b;
        {
            Reading memory ra = _reading(secpId, 5, 1);
            Reading memory rb = _reading(secpId, 5, 2);
            ra.timestamp = tsA;
            rb.timestamp = tsB;
            a = _signed(secp, ra);
            b = _signed(secp, rb);
        }
        vm.warp(block.timestamp + elapsed);
        bytes32 incidentId = proofs.proveEquivocation(a, b, beneficiary);
        _assertIncident(incidentId, secpId, IFraudProofs.IncidentKind.Equivocation, SLASHED, expected);
        assertLe(proofs.incident(incidentId).time, block.timestamp, "never after the proof");
    }

    function test_proveEquivocation_IncidentTimeIsLaterTimestampCapped() public {
        // Later one in the past: its time.
        _checkIncidentTime(uint64(START - 3 hours), uint64(START - 1 hours), 2 hours, START - 1 hours);
    }

    function test_proveEquivocation_IncidentTimeIsLaterTimestampCapped_Future() public {
        // Later one still in the future when proven: the proof's block.
        _checkIncidentTime(uint64(START + 9 days), uint64(START - 1 hours), 1 hours, START + 1 hours);
    }

    function testFuzz_proveEquivocation_IncidentTimeIsLaterTimestampCapped(
        uint64 tsA,
        uint64 tsB,
        uint256 elapsed
    ) public {
        elapsed = bound(elapsed, 0, WINDOW);
        uint256 provenAt = START + elapsed;
        // Any first timestamp; the second inside the window at proof time, so the pair is fresh (its later
        // timestamp is); both up to a year in the future.
        tsA = uint64(bound(tsA, 0, START + 365 days));
        tsB = uint64(bound(tsB, provenAt - WINDOW, START + 365 days));
        uint256 later = tsA > tsB ? tsA : tsB;
        _checkIncidentTime(tsA, tsB, elapsed, later < provenAt ? later : provenAt);
    }

    // ================================================================ the incident record

    IFraudProofs.Incident internal _duringSlash;

    /// @notice Called back by the staking mock while it slashes: what the incident record holds then.
    function seeIncidentDuringSlash(bytes32 id) external {
        _duringSlash = proofs.incident(id);
    }

    /// @dev The incident is recorded before control leaves for the slash (device, kind, time; nothing
    /// slashed yet), and afterwards holds whatever amount the slash returned, up to the largest a uint128
    /// takes, beside the same device, kind and time.
    function _checkRecord(bool useP256, uint256 slashed, uint256 ago) internal {
        (TestKey memory k, DeviceId id) = _device(useP256);
        staking.setSlashAmount(slashed);
        Reading memory ra = _reading(id, 9, 1);
        ra.timestamp = uint64(block.timestamp - ago);
        IFraudProofs.SignedReading memory a = _signed(k, ra);
        IFraudProofs.SignedReading memory b = _signed(k, _reading(id, 9, 2));
        b.reading.timestamp = ra.timestamp;
        b.signature = _sign(k, _readingDigest(b.reading));
        bytes32 expected = _pairId(IFraudProofs.IncidentKind.Equivocation, a.reading, b.reading);
        staking.setReenter(address(this), abi.encodeCall(this.seeIncidentDuringSlash, (expected)));
        bytes32 incidentId = proofs.proveEquivocation(a, b, beneficiary);
        assertEq(incidentId, expected);
        assertEq(DeviceId.unwrap(_duringSlash.deviceId), DeviceId.unwrap(id), "device, during the slash");
        assertEq(uint8(_duringSlash.kind), uint8(IFraudProofs.IncidentKind.Equivocation), "kind, during the slash");
        assertEq(_duringSlash.time, ra.timestamp, "time, during the slash");
        assertEq(_duringSlash.slashed, 0, "nothing slashed yet, during the slash");
        _assertIncident(incidentId, id, IFraudProofs.IncidentKind.Equivocation, slashed, ra.timestamp);
    }

    function test_proveEquivocation_RecordedBeforeSlash() public {
        _checkRecord(true, type(uint128).max, WINDOW);
        _checkRecord(false, 0, 0);
    }

    function testFuzz_proveEquivocation_RecordedBeforeSlash(bool useP256, uint128 slashed, uint256 ago) public {
        _checkRecord(useP256, slashed, bound(ago, 0, WINDOW));
    }

    // ================================================================ signatures

    /// @dev Any corrupted byte of a signature makes the proof fail with ProofsInvalidSignature.
    function _checkCorrupted(bool useP256, uint256 byteIndex, uint8 mask) internal {
        (TestKey memory k, DeviceId id) = _device(useP256);
        IFraudProofs.SignedReading memory a = _signed(k, _reading(id, 5, 1));
        IFraudProofs.SignedReading memory b = _signed(k, _reading(id, 5, 2));
        byteIndex = byteIndex % b.signature.length;
        b.signature[byteIndex] = b.signature[byteIndex] ^ bytes1(mask == 0 ? 1 : mask);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsInvalidSignature.selector, id));
        proofs.proveEquivocation(a, b, beneficiary);
        assertEq(staking.slashCount(), 0);
    }

    function test_proveEquivocation_RevertWhen_SignatureCorrupted() public {
        _checkCorrupted(true, 63, 0x80);
        _checkCorrupted(false, 64, 0x03);
    }

    function testFuzz_proveEquivocation_RevertWhen_SignatureCorrupted(
        bool useP256,
        uint256 byteIndex,
        uint8 mask
    ) public {
        _checkCorrupted(useP256, byteIndex, mask);
    }
}
