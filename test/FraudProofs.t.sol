// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {IFraudProofs} from "../contracts/interfaces/IFraudProofs.sol";
import {DeviceMessageLib} from "../contracts/libraries/DeviceMessageLib.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {Attestation, Reading} from "../contracts/types/Messages.sol";
import {DeviceStaking} from "../contracts/staking/DeviceStaking.sol";
import {FraudProofs} from "../contracts/staking/FraudProofs.sol";
import {IDeviceStaking} from "../contracts/interfaces/IDeviceStaking.sol";
import {MockERC20} from "../contracts/mocks/MockERC20.sol";
import {DeviceStatus} from "../contracts/types/DeviceStatus.sol";
import {FraudProofsFixture} from "./utils/FraudProofsFixture.sol";
import {TestKey} from "./utils/RegistryFixture.sol";

contract FraudProofsTest is FraudProofsFixture {
    // ================================================================ constructor and views

    function test_constructor_SetsWindow() public view {
        assertEq(proofs.evidenceWindow(), WINDOW);
        (IFraudProofs.SensorRange memory range, bool declared) = proofs.sensorRange(maker, MODEL);
        assertFalse(declared);
        assertEq(range.min, 0);
        assertEq(range.max, 0);
        assertEq(uint8(proofs.incident(bytes32(uint256(1))).kind), uint8(IFraudProofs.IncidentKind.None));
    }

    // ================================================================ equivocation

    function test_proveEquivocation_SlashesP256Device() public {
        IFraudProofs.SignedReading memory a = _signed(p256, _reading(p256Id, 5, 20));
        IFraudProofs.SignedReading memory b = _signed(p256, _reading(p256Id, 5, 21));
        bytes32 id = _pairId(IFraudProofs.IncidentKind.Equivocation, a.reading, b.reading);

        vm.expectEmit(address(proofs));
        emit IFraudProofs.IncidentRecorded(id, p256Id, IFraudProofs.IncidentKind.Equivocation, beneficiary, SLASHED);
        vm.prank(prover);
        uint256 before = gasleft();
        bytes32 got = proofs.proveEquivocation(a, b, beneficiary);
        _logGas("gas proveEquivocation (2x P-256, mock staking):", before - gasleft());

        assertEq(got, id, "incident id");
        _assertIncident(id, p256Id, IFraudProofs.IncidentKind.Equivocation, SLASHED, a.reading.timestamp);
        _assertSlashed(p256Id, beneficiary, id);
        assertEq(staking.slashCount(), 1);
    }

    /// @notice After a fork (a new chain id, the same state) readings signed for the old chain prove nothing;
    /// the same conflict signed under the registry's domain for the new chain is proven.
    function test_proveEquivocation_AfterForkOnlyTheNewChainsSignaturesCount() public {
        Reading memory ra = _reading(p256Id, 5, 20);
        Reading memory rb = _reading(p256Id, 5, 21);
        IFraudProofs.SignedReading memory a = _signed(p256, ra);
        IFraudProofs.SignedReading memory b = _signed(p256, rb);
        vm.chainId(block.chainid + 1);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsInvalidSignature.selector, p256Id));
        proofs.proveEquivocation(a, b, beneficiary);
        domainSeparator = registry.DOMAIN_SEPARATOR();
        bytes32 id = proofs.proveEquivocation(_signed(p256, ra), _signed(p256, rb), beneficiary);
        _assertIncident(id, p256Id, IFraudProofs.IncidentKind.Equivocation, SLASHED, ra.timestamp);
    }

    function test_proveEquivocation_SlashesSecp256k1Device() public {
        IFraudProofs.SignedReading memory a = _signed(secp, _reading(secpId, 5, 20));
        IFraudProofs.SignedReading memory b = _signed(secp, _reading(secpId, 5, -20));
        uint256 before = gasleft();
        bytes32 id = proofs.proveEquivocation(a, b, beneficiary);
        _logGas("gas proveEquivocation (2x secp256k1, mock staking):", before - gasleft());
        assertEq(id, _pairId(IFraudProofs.IncidentKind.Equivocation, a.reading, b.reading));
        _assertIncident(id, secpId, IFraudProofs.IncidentKind.Equivocation, SLASHED, a.reading.timestamp);
        _assertSlashed(secpId, beneficiary, id);
    }

    function test_proveEquivocation_DifferentTimestampsAreEquivocation() public {
        Reading memory ra = _reading(secpId, 5, 20);
        Reading memory rb = _reading(secpId, 5, 20);
        rb.timestamp -= 10;
        bytes32 id = proofs.proveEquivocation(_signed(secp, ra), _signed(secp, rb), beneficiary);
        _assertIncident(id, secpId, IFraudProofs.IncidentKind.Equivocation, SLASHED, ra.timestamp);
    }

    function test_proveEquivocation_RevertWhen_PairSwapped() public {
        IFraudProofs.SignedReading memory a = _signed(secp, _reading(secpId, 5, 20));
        IFraudProofs.SignedReading memory b = _signed(secp, _reading(secpId, 5, 21));
        bytes32 id = proofs.proveEquivocation(a, b, beneficiary);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsEvidenceUsed.selector, id));
        proofs.proveEquivocation(b, a, beneficiary);
    }

    function test_proveEquivocation_RevertWhen_EvidenceUsed() public {
        IFraudProofs.SignedReading memory a = _signed(secp, _reading(secpId, 5, 20));
        IFraudProofs.SignedReading memory b = _signed(secp, _reading(secpId, 5, 21));
        bytes32 id = proofs.proveEquivocation(a, b, beneficiary);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsEvidenceUsed.selector, id));
        proofs.proveEquivocation(a, b, prover);
        assertEq(staking.slashCount(), 1);
    }

    function test_proveEquivocation_AcceptsRotatedAwayKey() public {
        TestKey memory next = _p256Key(P256_PK_2);
        IFraudProofs.SignedReading memory a = _signed(p256, _reading(p256Id, 9, 20));
        // Rotated a second later: the old key was still the device's when it signed.
        vm.warp(block.timestamp + 1);
        _rotate(p256Id, p256, next);
        IFraudProofs.SignedReading memory b = _signed(next, _reading(p256Id, 9, 99));
        bytes32 id = proofs.proveEquivocation(a, b, beneficiary);
        _assertIncident(id, p256Id, IFraudProofs.IncidentKind.Equivocation, SLASHED, b.reading.timestamp);
    }

    function test_proveEquivocation_AcceptsSuspendedDevice() public {
        vm.prank(operator);
        registry.suspend(secpId, "maintenance");
        bytes32 id = proofs.proveEquivocation(
            _signed(secp, _reading(secpId, 5, 20)),
            _signed(secp, _reading(secpId, 5, 21)),
            beneficiary
        );
        _assertSlashed(secpId, beneficiary, id);
    }

    function test_proveEquivocation_AcceptsFutureTimestamp() public {
        Reading memory ra = _reading(secpId, 5, 20);
        ra.timestamp = uint64(block.timestamp + 365 days);
        bytes32 id = proofs.proveEquivocation(_signed(secp, ra), _signed(secp, _reading(secpId, 5, 21)), beneficiary);
        // Timed at the proof's block, not a year ahead: nothing proven now was signed later.
        _assertIncident(id, secpId, IFraudProofs.IncidentKind.Equivocation, SLASHED, block.timestamp);
    }

    function test_proveEquivocation_AcceptsLastSecondOfWindow() public {
        IFraudProofs.SignedReading memory a = _signed(secp, _reading(secpId, 5, 20));
        Reading memory rb = _reading(secpId, 5, 21);
        rb.timestamp -= 100;
        IFraudProofs.SignedReading memory b = _signed(secp, rb);
        vm.warp(block.timestamp + WINDOW);
        proofs.proveEquivocation(a, b, beneficiary);
        assertEq(staking.slashCount(), 1);
    }

    function test_proveEquivocation_RevertWhen_EvidenceExpired() public {
        IFraudProofs.SignedReading memory a = _signed(secp, _reading(secpId, 5, 20));
        Reading memory rb = _reading(secpId, 5, 21);
        rb.timestamp -= 100;
        IFraudProofs.SignedReading memory b = _signed(secp, rb);
        uint64 latest = a.reading.timestamp;
        vm.warp(block.timestamp + WINDOW + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IFraudProofs.ProofsEvidenceExpired.selector, latest, WINDOW, block.timestamp)
        );
        proofs.proveEquivocation(b, a, beneficiary);
    }

    function test_proveEquivocation_RevertWhen_SameReading() public {
        IFraudProofs.SignedReading memory a = _signed(secp, _reading(secpId, 5, 20));
        vm.expectRevert(IFraudProofs.ProofsSameReading.selector);
        proofs.proveEquivocation(a, a, beneficiary);
    }

    function test_proveEquivocation_RevertWhen_SameReadingSignedTwice() public {
        // Two signatures (both curves sign deterministically here, so re-sign with the rotated key) over one
        // reading are not two readings.
        Reading memory r = _reading(p256Id, 5, 20);
        IFraudProofs.SignedReading memory a = _signed(p256, r);
        TestKey memory next = _p256Key(P256_PK_2);
        _rotate(p256Id, p256, next);
        IFraudProofs.SignedReading memory b = _signed(next, r);
        vm.expectRevert(IFraudProofs.ProofsSameReading.selector);
        proofs.proveEquivocation(a, b, beneficiary);
    }

    function test_proveEquivocation_RevertWhen_DifferentDevice() public {
        IFraudProofs.SignedReading memory a = _signed(secp, _reading(secpId, 5, 20));
        IFraudProofs.SignedReading memory b = _signed(p256, _reading(p256Id, 5, 21));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsDifferentDevice.selector, secpId, p256Id));
        proofs.proveEquivocation(a, b, beneficiary);
    }

    function test_proveEquivocation_RevertWhen_DifferentFeed() public {
        Reading memory rb = _reading(secpId, 5, 21);
        rb.feedId = OTHER_FEED;
        IFraudProofs.SignedReading memory a = _signed(secp, _reading(secpId, 5, 20));
        IFraudProofs.SignedReading memory b = _signed(secp, rb);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsDifferentFeed.selector, FEED, OTHER_FEED));
        proofs.proveEquivocation(a, b, beneficiary);
    }

    function test_proveEquivocation_RevertWhen_DifferentSequence() public {
        IFraudProofs.SignedReading memory a = _signed(secp, _reading(secpId, 5, 20));
        IFraudProofs.SignedReading memory b = _signed(secp, _reading(secpId, 6, 21));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsDifferentSequence.selector, uint64(5), uint64(6)));
        proofs.proveEquivocation(a, b, beneficiary);
    }

    function test_proveEquivocation_RevertWhen_ZeroBeneficiary() public {
        IFraudProofs.SignedReading memory a = _signed(secp, _reading(secpId, 5, 20));
        IFraudProofs.SignedReading memory b = _signed(secp, _reading(secpId, 5, 21));
        vm.expectRevert(IFraudProofs.ProofsZeroBeneficiary.selector);
        proofs.proveEquivocation(a, b, address(0));
    }

    function test_proveEquivocation_RevertWhen_NoStake() public {
        staking.setSlashable(secpId, 0);
        IFraudProofs.SignedReading memory a = _signed(secp, _reading(secpId, 5, 20));
        IFraudProofs.SignedReading memory b = _signed(secp, _reading(secpId, 5, 21));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsNoStake.selector, secpId));
        proofs.proveEquivocation(a, b, beneficiary);
    }

    function test_proveEquivocation_RevertWhen_UnknownDevice() public {
        TestKey memory stray = _secpKey(0xBEEF);
        DeviceId strayId = _id(stray);
        staking.setSlashable(strayId, STAKE);
        IFraudProofs.SignedReading memory a = _signed(stray, _reading(strayId, 5, 20));
        IFraudProofs.SignedReading memory b = _signed(stray, _reading(strayId, 5, 21));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsInvalidSignature.selector, strayId));
        proofs.proveEquivocation(a, b, beneficiary);
    }

    function test_proveEquivocation_RevertWhen_ForgedSignature() public {
        // A signature by a key the device never held, presented as the device's key.
        IFraudProofs.SignedReading memory a = _signed(p256, _reading(p256Id, 5, 20));
        Reading memory rb = _reading(p256Id, 5, 21);
        IFraudProofs.SignedReading memory b = _signed(p256, rb);
        b.signature = _sign(_p256Key(0xBAD), _readingDigest(rb));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsInvalidSignature.selector, p256Id));
        proofs.proveEquivocation(a, b, beneficiary);
    }

    function test_proveEquivocation_RevertWhen_SignatureOverOtherReading() public {
        IFraudProofs.SignedReading memory a = _signed(secp, _reading(secpId, 5, 20));
        IFraudProofs.SignedReading memory b = _signed(secp, _reading(secpId, 5, 21));
        b.reading.value = 22;
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsInvalidSignature.selector, secpId));
        proofs.proveEquivocation(a, b, beneficiary);
    }

    function test_proveEquivocation_RevertWhen_KeyOfAnotherDevice() public {
        // The second device signs a reading naming the first: its key is not the first device's.
        IFraudProofs.SignedReading memory a = _signed(secp, _reading(secpId, 5, 20));
        IFraudProofs.SignedReading memory b = _signed(p256, _reading(secpId, 5, 21));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsInvalidSignature.selector, secpId));
        proofs.proveEquivocation(a, b, beneficiary);
    }

    function test_proveEquivocation_RevertWhen_Reentered() public {
        IFraudProofs.SignedReading memory a = _signed(secp, _reading(secpId, 5, 20));
        IFraudProofs.SignedReading memory b = _signed(secp, _reading(secpId, 5, 21));
        IFraudProofs.SignedReading memory c = _signed(secp, _reading(secpId, 5, 22));
        staking.setReenter(address(proofs), abi.encodeCall(IFraudProofs.proveEquivocation, (a, c, beneficiary)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        proofs.proveEquivocation(a, b, beneficiary);
    }

    // ================================================================ batches

    function test_proveBatchEquivocation_SlashesP256Device() public {
        IFraudProofs.BatchedReading memory a = _batched(p256, _run(p256Id, 10, 100), 2);
        IFraudProofs.SignedReading memory b = _signed(p256, _reading(p256Id, 12, 555));
        bytes32 id = _pairId(IFraudProofs.IncidentKind.Equivocation, a.reading, b.reading);
        vm.expectEmit(address(proofs));
        emit IFraudProofs.IncidentRecorded(
            id,
            p256Id,
            IFraudProofs.IncidentKind.BatchEquivocation,
            beneficiary,
            SLASHED
        );
        uint256 before = gasleft();
        bytes32 got = proofs.proveBatchEquivocation(a, b, beneficiary);
        _logGas("gas proveBatchEquivocation (2x P-256, 4-leaf batch):", before - gasleft());
        assertEq(got, id);
        _assertIncident(id, p256Id, IFraudProofs.IncidentKind.BatchEquivocation, SLASHED, b.reading.timestamp);
        _assertSlashed(p256Id, beneficiary, id);
    }

    function test_proveBatchEquivocation_SlashesSecp256k1Device() public {
        IFraudProofs.BatchedReading memory a = _batched(secp, _run(secpId, 10, 100), 0);
        IFraudProofs.SignedReading memory b = _signed(secp, _reading(secpId, 10, -1));
        bytes32 id = proofs.proveBatchEquivocation(a, b, beneficiary);
        _assertIncident(id, secpId, IFraudProofs.IncidentKind.BatchEquivocation, SLASHED, b.reading.timestamp);
    }

    function test_proveBatchEquivocation_AcceptsSingleLeafBatch() public {
        Reading[] memory one = new Reading[](1);
        one[0] = _reading(secpId, 10, 100);
        IFraudProofs.BatchedReading memory a = _batched(secp, one, 0);
        assertEq(a.proof.length, 0);
        proofs.proveBatchEquivocation(a, _signed(secp, _reading(secpId, 10, 101)), beneficiary);
        assertEq(staking.slashCount(), 1);
    }

    function test_proveBatchPairEquivocation_Slashes() public {
        IFraudProofs.BatchedReading memory a = _batched(p256, _run(p256Id, 10, 100), 3);
        IFraudProofs.BatchedReading memory b = _batched(p256, _run(p256Id, 11, 200), 2);
        bytes32 id = _pairId(IFraudProofs.IncidentKind.Equivocation, a.reading, b.reading);
        uint256 before = gasleft();
        bytes32 got = proofs.proveBatchPairEquivocation(a, b, beneficiary);
        _logGas("gas proveBatchPairEquivocation (2x P-256, 4-leaf batches):", before - gasleft());
        assertEq(got, id);
        _assertIncident(id, p256Id, IFraudProofs.IncidentKind.BatchEquivocation, SLASHED, b.reading.timestamp);
        _assertSlashed(p256Id, beneficiary, id);
    }

    function test_proveBatchPairEquivocation_RevertWhen_PairSwapped() public {
        IFraudProofs.BatchedReading memory a = _batched(secp, _run(secpId, 10, 100), 3);
        IFraudProofs.BatchedReading memory b = _batched(secp, _run(secpId, 11, 200), 2);
        bytes32 id = proofs.proveBatchPairEquivocation(a, b, beneficiary);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsEvidenceUsed.selector, id));
        proofs.proveBatchPairEquivocation(b, a, beneficiary);
    }

    function test_proveBatchEquivocation_RevertWhen_NotInBatch() public {
        IFraudProofs.BatchedReading memory a = _batched(secp, _run(secpId, 10, 100), 1);
        a.reading.value = 7; // not the leaf the device signed
        IFraudProofs.SignedReading memory b = _signed(secp, _reading(secpId, 11, 8));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsNotInBatch.selector, secpId, a.batch.root));
        proofs.proveBatchEquivocation(a, b, beneficiary);
    }

    function test_proveBatchEquivocation_RevertWhen_WrongProof() public {
        IFraudProofs.BatchedReading memory a = _batched(secp, _run(secpId, 10, 100), 1);
        a.proof[0] = keccak256("sibling");
        IFraudProofs.SignedReading memory b = _signed(secp, _reading(secpId, 11, 8));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsNotInBatch.selector, secpId, a.batch.root));
        proofs.proveBatchEquivocation(a, b, beneficiary);
    }

    function test_proveBatchEquivocation_RevertWhen_BatchOfOtherDevice() public {
        // The p256 device's batch, with a leaf naming the secp device: the batch does not cover it.
        Reading[] memory run = _run(p256Id, 10, 100);
        run[1].deviceId = secpId;
        IFraudProofs.BatchedReading memory a = _batched(p256, run, 1);
        IFraudProofs.SignedReading memory b = _signed(secp, _reading(secpId, 11, 8));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsBatchMismatch.selector, secpId));
        proofs.proveBatchEquivocation(a, b, beneficiary);
    }

    function test_proveBatchEquivocation_RevertWhen_BatchOfOtherFeed() public {
        Reading[] memory run = _run(secpId, 10, 100);
        run[1].feedId = OTHER_FEED;
        IFraudProofs.BatchedReading memory a = _batched(secp, run, 1);
        Reading memory rb = _reading(secpId, 11, 8);
        rb.feedId = OTHER_FEED;
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsBatchMismatch.selector, secpId));
        proofs.proveBatchEquivocation(a, _signed(secp, rb), beneficiary);
    }

    function test_proveBatchEquivocation_RevertWhen_SequenceOutsideBatch() public {
        Reading[] memory run = _run(secpId, 10, 100);
        run[3].sequence = 20; // past lastSequence once the batch header claims 10..13
        IFraudProofs.BatchedReading memory a = _batched(secp, run, 3);
        a.batch.lastSequence = 13;
        a.signature = _sign(secp, _typedDigest(domainSeparator, _batchHash(a)));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsBatchMismatch.selector, secpId));
        proofs.proveBatchEquivocation(a, _signed(secp, _reading(secpId, 20, 1)), beneficiary);
    }

    function test_proveBatchEquivocation_RevertWhen_SequenceBeforeBatch() public {
        Reading[] memory run = _run(secpId, 10, 100);
        IFraudProofs.BatchedReading memory a = _batched(secp, run, 0);
        a.batch.firstSequence = 11;
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsBatchMismatch.selector, secpId));
        proofs.proveBatchEquivocation(a, _signed(secp, _reading(secpId, 10, 1)), beneficiary);
    }

    function test_proveBatchEquivocation_RevertWhen_ForgedBatchSignature() public {
        IFraudProofs.BatchedReading memory a = _batched(p256, _run(p256Id, 10, 100), 1);
        a.signature = _sign(_p256Key(0xBAD), _typedDigest(domainSeparator, _batchHash(a)));
        IFraudProofs.SignedReading memory b = _signed(p256, _reading(p256Id, 11, 1));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsInvalidSignature.selector, p256Id));
        proofs.proveBatchEquivocation(a, b, beneficiary);
    }

    function test_proveBatchEquivocation_RevertWhen_SameReading() public {
        Reading[] memory run = _run(secpId, 10, 100);
        IFraudProofs.BatchedReading memory a = _batched(secp, run, 1);
        vm.expectRevert(IFraudProofs.ProofsSameReading.selector);
        proofs.proveBatchEquivocation(a, _signed(secp, run[1]), beneficiary);
    }

    function test_proveBatchPairEquivocation_RevertWhen_SecondNotInBatch() public {
        IFraudProofs.BatchedReading memory a = _batched(secp, _run(secpId, 10, 100), 1);
        IFraudProofs.BatchedReading memory b = _batched(secp, _run(secpId, 11, 200), 0);
        b.reading.value = 5;
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsNotInBatch.selector, secpId, b.batch.root));
        proofs.proveBatchPairEquivocation(a, b, beneficiary);
    }

    function test_proveBatchPairEquivocation_RevertWhen_NoStake() public {
        staking.setSlashable(secpId, 0);
        IFraudProofs.BatchedReading memory a = _batched(secp, _run(secpId, 10, 100), 1);
        IFraudProofs.BatchedReading memory b = _batched(secp, _run(secpId, 11, 200), 0);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsNoStake.selector, secpId));
        proofs.proveBatchPairEquivocation(a, b, beneficiary);
    }

    // ================================================================ sensor ranges

    function test_setSensorRange_Declares() public {
        vm.expectEmit(address(proofs));
        emit IFraudProofs.SensorRangeSet(maker, MODEL, -40, 125);
        vm.prank(makerSigner);
        proofs.setSensorRange(MODEL, -40, 125);
        (IFraudProofs.SensorRange memory range, bool declared) = proofs.sensorRange(maker, MODEL);
        assertTrue(declared);
        assertEq(range.min, -40);
        assertEq(range.max, 125);
        (, bool otherDeclared) = proofs.sensorRange(maker, OTHER_MODEL);
        assertFalse(otherDeclared);
    }

    function test_setSensorRange_AcceptsSinglePoint() public {
        vm.prank(makerSigner);
        proofs.setSensorRange(MODEL, 0, 0);
        (IFraudProofs.SensorRange memory range, bool declared) = proofs.sensorRange(maker, MODEL);
        assertTrue(declared);
        assertEq(range.min, 0);
        assertEq(range.max, 0);
    }

    function test_setSensorRange_RevertWhen_NotMaker() public {
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsNotMaker.selector, stranger));
        vm.prank(stranger);
        proofs.setSensorRange(MODEL, 0, 1);
    }

    function test_setSensorRange_RevertWhen_MakerRemoved() public {
        vm.prank(governor);
        registry.removeMaker(maker);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsNotMaker.selector, makerSigner));
        vm.prank(makerSigner);
        proofs.setSensorRange(MODEL, 0, 1);
    }

    function test_setSensorRange_RevertWhen_InvalidRange() public {
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsInvalidRange.selector, int256(1), int256(0)));
        vm.prank(makerSigner);
        proofs.setSensorRange(MODEL, 1, 0);
    }

    // ================================================================ out of bounds

    function _declareRange() internal {
        vm.prank(makerSigner);
        proofs.setSensorRange(MODEL, -40, 125);
    }

    function test_proveOutOfBounds_SlashesAboveMax() public {
        _declareRange();
        IFraudProofs.SignedReading memory r = _signed(p256, _reading(p256Id, 1, 126));
        bytes32 id = _readingId(r.reading);
        vm.expectEmit(address(proofs));
        emit IFraudProofs.IncidentRecorded(id, p256Id, IFraudProofs.IncidentKind.OutOfBounds, beneficiary, SLASHED);
        uint256 before = gasleft();
        bytes32 got = proofs.proveOutOfBounds(r, beneficiary);
        _logGas("gas proveOutOfBounds (1x P-256):", before - gasleft());
        assertEq(got, id);
        _assertIncident(id, p256Id, IFraudProofs.IncidentKind.OutOfBounds, SLASHED, r.reading.timestamp);
        _assertSlashed(p256Id, beneficiary, id);
    }

    function test_proveOutOfBounds_SlashesBelowMin() public {
        _declareRange();
        IFraudProofs.SignedReading memory r = _signed(secp, _reading(secpId, 1, -41));
        bytes32 id = proofs.proveOutOfBounds(r, beneficiary);
        assertEq(id, _readingId(r.reading));
        _assertIncident(id, secpId, IFraudProofs.IncidentKind.OutOfBounds, SLASHED, r.reading.timestamp);
    }

    function test_proveOutOfBounds_RevertWhen_AtMax() public {
        _declareRange();
        IFraudProofs.SignedReading memory r = _signed(secp, _reading(secpId, 1, 125));
        vm.expectRevert(
            abi.encodeWithSelector(IFraudProofs.ProofsWithinRange.selector, int256(125), int256(-40), int256(125))
        );
        proofs.proveOutOfBounds(r, beneficiary);
    }

    function test_proveOutOfBounds_RevertWhen_AtMin() public {
        _declareRange();
        IFraudProofs.SignedReading memory r = _signed(secp, _reading(secpId, 1, -40));
        vm.expectRevert(
            abi.encodeWithSelector(IFraudProofs.ProofsWithinRange.selector, int256(-40), int256(-40), int256(125))
        );
        proofs.proveOutOfBounds(r, beneficiary);
    }

    function test_proveOutOfBounds_RevertWhen_NoRangeDeclared() public {
        IFraudProofs.SignedReading memory r = _signed(secp, _reading(secpId, 1, 1e30));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsNoRangeDeclared.selector, maker, MODEL));
        proofs.proveOutOfBounds(r, beneficiary);
    }

    function test_proveOutOfBounds_RevertWhen_RangeOfOtherModel() public {
        vm.prank(makerSigner);
        proofs.setSensorRange(OTHER_MODEL, 0, 1);
        IFraudProofs.SignedReading memory r = _signed(secp, _reading(secpId, 1, 5));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsNoRangeDeclared.selector, maker, MODEL));
        proofs.proveOutOfBounds(r, beneficiary);
    }

    function test_proveOutOfBounds_RevertWhen_ForgedSignature() public {
        _declareRange();
        Reading memory reading = _reading(p256Id, 1, 500);
        IFraudProofs.SignedReading memory r = _signed(p256, reading);
        r.signature = _sign(_p256Key(0xBAD), _readingDigest(reading));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsInvalidSignature.selector, p256Id));
        proofs.proveOutOfBounds(r, beneficiary);
    }

    function test_proveOutOfBounds_RevertWhen_EvidenceUsed() public {
        _declareRange();
        IFraudProofs.SignedReading memory r = _signed(secp, _reading(secpId, 1, 500));
        bytes32 id = proofs.proveOutOfBounds(r, beneficiary);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsEvidenceUsed.selector, id));
        proofs.proveOutOfBounds(r, beneficiary);
    }

    function test_proveOutOfBounds_RevertWhen_EvidenceExpired() public {
        _declareRange();
        IFraudProofs.SignedReading memory r = _signed(secp, _reading(secpId, 1, 500));
        vm.warp(block.timestamp + WINDOW + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IFraudProofs.ProofsEvidenceExpired.selector,
                r.reading.timestamp,
                WINDOW,
                block.timestamp
            )
        );
        proofs.proveOutOfBounds(r, beneficiary);
    }

    function test_proveOutOfBounds_RevertWhen_NoStake() public {
        _declareRange();
        staking.setSlashable(secpId, 0);
        IFraudProofs.SignedReading memory r = _signed(secp, _reading(secpId, 1, 500));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsNoStake.selector, secpId));
        proofs.proveOutOfBounds(r, beneficiary);
    }

    function test_proveOutOfBounds_RevertWhen_ZeroBeneficiary() public {
        _declareRange();
        IFraudProofs.SignedReading memory r = _signed(secp, _reading(secpId, 1, 500));
        vm.expectRevert(IFraudProofs.ProofsZeroBeneficiary.selector);
        proofs.proveOutOfBounds(r, address(0));
    }

    // ================================================================ out of bounds inside batches

    function test_proveBatchOutOfBounds_SlashesP256Device() public {
        _declareRange();
        IFraudProofs.BatchedReading memory b = _batchedValue(p256, p256Id, 4, 2, 126);
        bytes32 id = _readingId(b.reading);
        vm.expectEmit(address(proofs));
        emit IFraudProofs.IncidentRecorded(id, p256Id, IFraudProofs.IncidentKind.OutOfBounds, beneficiary, SLASHED);
        vm.prank(prover);
        uint256 before = gasleft();
        bytes32 got = proofs.proveBatchOutOfBounds(b, beneficiary);
        _logGas("gas proveBatchOutOfBounds (1x P-256, 4-leaf batch):", before - gasleft());
        assertEq(got, id, "the id of the same reading proven alone");
        _assertIncident(id, p256Id, IFraudProofs.IncidentKind.OutOfBounds, SLASHED, b.reading.timestamp);
        _assertSlashed(p256Id, beneficiary, id);
        assertEq(staking.slashCount(), 1);
    }

    function test_proveBatchOutOfBounds_SlashesSecp256k1DeviceBelowMin() public {
        _declareRange();
        IFraudProofs.BatchedReading memory b = _batchedValue(secp, secpId, 4, 0, -41);
        uint256 before = gasleft();
        bytes32 id = proofs.proveBatchOutOfBounds(b, beneficiary);
        _logGas("gas proveBatchOutOfBounds (1x secp256k1, 4-leaf batch):", before - gasleft());
        assertEq(id, _readingId(b.reading));
        _assertIncident(id, secpId, IFraudProofs.IncidentKind.OutOfBounds, SLASHED, b.reading.timestamp);
        _assertSlashed(secpId, beneficiary, id);
    }

    function test_proveBatchOutOfBounds_AcceptsSingleLeafBatch() public {
        _declareRange();
        IFraudProofs.BatchedReading memory b = _batchedValue(secp, secpId, 1, 0, 1e30);
        assertEq(b.proof.length, 0);
        bytes32 id = proofs.proveBatchOutOfBounds(b, beneficiary);
        _assertIncident(id, secpId, IFraudProofs.IncidentKind.OutOfBounds, SLASHED, b.reading.timestamp);
    }

    function test_proveBatchOutOfBounds_AcceptsRotatedAwayKey() public {
        _declareRange();
        IFraudProofs.BatchedReading memory b = _batchedValue(p256, p256Id, 4, 3, 200);
        vm.warp(block.timestamp + 1);
        _rotate(p256Id, p256, _p256Key(P256_PK_2));
        bytes32 id = proofs.proveBatchOutOfBounds(b, beneficiary);
        _assertSlashed(p256Id, beneficiary, id);
    }

    function test_proveBatchOutOfBounds_RevertWhen_ProvenStandalone() public {
        _declareRange();
        IFraudProofs.BatchedReading memory b = _batchedValue(p256, p256Id, 4, 1, 126);
        bytes32 id = proofs.proveOutOfBounds(_signed(p256, b.reading), beneficiary);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsEvidenceUsed.selector, id));
        proofs.proveBatchOutOfBounds(b, prover);
        assertEq(staking.slashCount(), 1);
    }

    function test_proveOutOfBounds_RevertWhen_ProvenAsBatchLeaf() public {
        _declareRange();
        IFraudProofs.BatchedReading memory b = _batchedValue(secp, secpId, 4, 1, 126);
        bytes32 id = proofs.proveBatchOutOfBounds(b, beneficiary);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsEvidenceUsed.selector, id));
        proofs.proveOutOfBounds(_signed(secp, b.reading), prover);
        assertEq(staking.slashCount(), 1);
    }

    function test_proveBatchOutOfBounds_RevertWhen_EvidenceUsedInAnotherBatch() public {
        // The same reading as a leaf of two different batches is one piece of evidence.
        _declareRange();
        IFraudProofs.BatchedReading memory a = _batchedValue(secp, secpId, 4, 3, 126);
        Reading[] memory longer = new Reading[](6);
        for (uint256 i; i < 6; ++i) longer[i] = _reading(secpId, 10 + uint64(i), int256(i));
        longer[3] = a.reading;
        IFraudProofs.BatchedReading memory b = _batched(secp, longer, 3);
        assertTrue(a.batch.root != b.batch.root, "two batches");
        bytes32 id = proofs.proveBatchOutOfBounds(a, beneficiary);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsEvidenceUsed.selector, id));
        proofs.proveBatchOutOfBounds(b, beneficiary);
    }

    function test_proveBatchOutOfBounds_RevertWhen_AtMax() public {
        _declareRange();
        IFraudProofs.BatchedReading memory b = _batchedValue(secp, secpId, 4, 2, 125);
        vm.expectRevert(
            abi.encodeWithSelector(IFraudProofs.ProofsWithinRange.selector, int256(125), int256(-40), int256(125))
        );
        proofs.proveBatchOutOfBounds(b, beneficiary);
    }

    function test_proveBatchOutOfBounds_RevertWhen_AtMin() public {
        _declareRange();
        IFraudProofs.BatchedReading memory b = _batchedValue(p256, p256Id, 4, 0, -40);
        vm.expectRevert(
            abi.encodeWithSelector(IFraudProofs.ProofsWithinRange.selector, int256(-40), int256(-40), int256(125))
        );
        proofs.proveBatchOutOfBounds(b, beneficiary);
    }

    function test_proveBatchOutOfBounds_RevertWhen_LeafNotSigned() public {
        // An honest batch, one leaf presented with a value the device never signed.
        _declareRange();
        IFraudProofs.BatchedReading memory b = _batchedValue(secp, secpId, 4, 2, 2);
        b.reading.value = 500;
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsNotInBatch.selector, secpId, b.batch.root));
        proofs.proveBatchOutOfBounds(b, beneficiary);
    }

    function test_proveBatchOutOfBounds_RevertWhen_WrongProof() public {
        _declareRange();
        IFraudProofs.BatchedReading memory b = _batchedValue(p256, p256Id, 4, 1, 126);
        b.proof[0] = keccak256("sibling");
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsNotInBatch.selector, p256Id, b.batch.root));
        proofs.proveBatchOutOfBounds(b, beneficiary);
    }

    function test_proveBatchOutOfBounds_RevertWhen_ProofOfOtherLeaf() public {
        _declareRange();
        IFraudProofs.BatchedReading memory b = _batchedValue(secp, secpId, 4, 1, 126);
        b.proof = _batchedValue(secp, secpId, 4, 2, 126).proof;
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsNotInBatch.selector, secpId, b.batch.root));
        proofs.proveBatchOutOfBounds(b, beneficiary);
    }

    function test_proveBatchOutOfBounds_RevertWhen_BatchSignedByAnotherDevice() public {
        // The secp device's batch, signed by the p256 device's key: not a key the secp device ever held.
        _declareRange();
        IFraudProofs.BatchedReading memory b = _batchedValue(secp, secpId, 4, 1, 126);
        b.key = _deviceKey(p256);
        b.signature = _sign(p256, _typedDigest(domainSeparator, _batchHash(b)));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsInvalidSignature.selector, secpId));
        proofs.proveBatchOutOfBounds(b, beneficiary);
    }

    function test_proveBatchOutOfBounds_RevertWhen_ForgedBatchSignature() public {
        // The device's key named, a key it never held signing.
        _declareRange();
        IFraudProofs.BatchedReading memory b = _batchedValue(p256, p256Id, 4, 1, 126);
        b.signature = _sign(_p256Key(0xBAD), _typedDigest(domainSeparator, _batchHash(b)));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsInvalidSignature.selector, p256Id));
        proofs.proveBatchOutOfBounds(b, beneficiary);
    }

    function test_proveBatchOutOfBounds_RevertWhen_SignatureOverOtherBatch() public {
        _declareRange();
        IFraudProofs.BatchedReading memory b = _batchedValue(secp, secpId, 4, 1, 126);
        b.signature = _batchedValue(secp, secpId, 4, 1, 127).signature;
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsInvalidSignature.selector, secpId));
        proofs.proveBatchOutOfBounds(b, beneficiary);
    }

    function test_proveBatchOutOfBounds_RevertWhen_LeafOfAnotherDevice() public {
        // The p256 device's batch with a leaf naming the secp device: the batch does not cover it.
        _declareRange();
        Reading[] memory run = _run(p256Id, 10, 0);
        run[1].deviceId = secpId;
        run[1].value = 126;
        IFraudProofs.BatchedReading memory b = _batched(p256, run, 1);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsBatchMismatch.selector, secpId));
        proofs.proveBatchOutOfBounds(b, beneficiary);
    }

    function test_proveBatchOutOfBounds_RevertWhen_LeafOfAnotherFeed() public {
        _declareRange();
        Reading[] memory run = _run(secpId, 10, 0);
        run[2].feedId = OTHER_FEED;
        run[2].value = 126;
        IFraudProofs.BatchedReading memory b = _batched(secp, run, 2);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsBatchMismatch.selector, secpId));
        proofs.proveBatchOutOfBounds(b, beneficiary);
    }

    function test_proveBatchOutOfBounds_RevertWhen_SequenceOutsideBatch() public {
        _declareRange();
        IFraudProofs.BatchedReading memory b = _batchedValue(secp, secpId, 4, 3, 126);
        b.batch.lastSequence = b.reading.sequence - 1;
        b.signature = _sign(secp, _typedDigest(domainSeparator, _batchHash(b)));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsBatchMismatch.selector, secpId));
        proofs.proveBatchOutOfBounds(b, beneficiary);
    }

    function test_proveBatchOutOfBounds_AcceptsLastSecondOfWindow() public {
        _declareRange();
        IFraudProofs.BatchedReading memory b = _batchedValue(secp, secpId, 4, 1, 126);
        vm.warp(block.timestamp + WINDOW);
        proofs.proveBatchOutOfBounds(b, beneficiary);
        assertEq(staking.slashCount(), 1);
    }

    function test_proveBatchOutOfBounds_RevertWhen_EvidenceExpired() public {
        _declareRange();
        IFraudProofs.BatchedReading memory b = _batchedValue(p256, p256Id, 4, 1, 126);
        vm.warp(block.timestamp + WINDOW + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IFraudProofs.ProofsEvidenceExpired.selector,
                b.reading.timestamp,
                WINDOW,
                block.timestamp
            )
        );
        proofs.proveBatchOutOfBounds(b, beneficiary);
    }

    function test_proveBatchOutOfBounds_RevertWhen_LeafExpiredInFreshBatch() public {
        // The window runs from the leaf's own signed time, not from the batch's latest (toTimestamp).
        _declareRange();
        uint64 t = uint64(block.timestamp);
        Reading[] memory run = _run(secpId, 10, 0);
        run[0].timestamp = t - uint64(WINDOW) - 1;
        run[0].value = 126;
        IFraudProofs.BatchedReading memory b = _batched(secp, run, 0);
        assertEq(b.batch.toTimestamp, t, "the batch ends now");
        vm.expectRevert(
            abi.encodeWithSelector(IFraudProofs.ProofsEvidenceExpired.selector, run[0].timestamp, WINDOW, t)
        );
        proofs.proveBatchOutOfBounds(b, beneficiary);
    }

    function test_proveBatchOutOfBounds_RevertWhen_NoRangeDeclared() public {
        IFraudProofs.BatchedReading memory b = _batchedValue(secp, secpId, 4, 1, 1e30);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsNoRangeDeclared.selector, maker, MODEL));
        proofs.proveBatchOutOfBounds(b, beneficiary);
    }

    function test_proveBatchOutOfBounds_RevertWhen_RangeOfOtherModel() public {
        vm.prank(makerSigner);
        proofs.setSensorRange(OTHER_MODEL, 0, 1);
        IFraudProofs.BatchedReading memory b = _batchedValue(p256, p256Id, 4, 1, 5);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsNoRangeDeclared.selector, maker, MODEL));
        proofs.proveBatchOutOfBounds(b, beneficiary);
    }

    function test_proveBatchOutOfBounds_RevertWhen_NoStake() public {
        _declareRange();
        staking.setSlashable(secpId, 0);
        IFraudProofs.BatchedReading memory b = _batchedValue(secp, secpId, 4, 1, 126);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsNoStake.selector, secpId));
        proofs.proveBatchOutOfBounds(b, beneficiary);
    }

    function test_proveBatchOutOfBounds_RevertWhen_ZeroBeneficiary() public {
        _declareRange();
        IFraudProofs.BatchedReading memory b = _batchedValue(secp, secpId, 4, 1, 126);
        vm.expectRevert(IFraudProofs.ProofsZeroBeneficiary.selector);
        proofs.proveBatchOutOfBounds(b, address(0));
    }

    /// @notice After a fork, a batch signed for the old chain proves nothing; re-signed for the new one, it does.
    function test_proveBatchOutOfBounds_AfterForkOnlyTheNewChainsSignaturesCount() public {
        _declareRange();
        IFraudProofs.BatchedReading memory b = _batchedValue(p256, p256Id, 4, 1, 126);
        vm.chainId(block.chainid + 1);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsInvalidSignature.selector, p256Id));
        proofs.proveBatchOutOfBounds(b, beneficiary);
        domainSeparator = registry.DOMAIN_SEPARATOR();
        b.signature = _sign(p256, _typedDigest(domainSeparator, _batchHash(b)));
        bytes32 id = proofs.proveBatchOutOfBounds(b, beneficiary);
        _assertSlashed(p256Id, beneficiary, id);
    }

    function test_proveBatchOutOfBounds_RevertWhen_Reentered() public {
        _declareRange();
        IFraudProofs.BatchedReading memory a = _batchedValue(secp, secpId, 4, 1, 126);
        IFraudProofs.BatchedReading memory b = _batchedValue(secp, secpId, 4, 2, 127);
        staking.setReenter(address(proofs), abi.encodeCall(IFraudProofs.proveBatchOutOfBounds, (b, beneficiary)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        proofs.proveBatchOutOfBounds(a, beneficiary);
    }

    // ================================================================ revoked firmware

    /// @dev Publishes v1 and v2 of MODEL, revokes v1 one hour from now, and returns when.
    function _revokeV1() internal returns (uint64 revokedAt) {
        uint32 v1 = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        _publish(MODEL, "2.0.0", MEASUREMENT_V2);
        vm.warp(block.timestamp + 1 hours);
        _revokeFirmware(v1);
        revokedAt = uint64(block.timestamp);
    }

    function _signedAttestation(
        TestKey memory k,
        Attestation memory a
    ) internal view returns (IDeviceRegistry.DeviceKey memory, bytes memory) {
        return (_deviceKey(k), _sign(k, _attestationDigest(a)));
    }

    function test_proveRevokedFirmware_SlashesP256Device() public {
        uint64 revokedAt = _revokeV1();
        Attestation memory a = _attestation(p256Id, MEASUREMENT_V1, revokedAt);
        (IDeviceRegistry.DeviceKey memory key, bytes memory sig) = _signedAttestation(p256, a);
        bytes32 id = _attestationId(a);
        vm.expectEmit(address(proofs));
        emit IFraudProofs.IncidentRecorded(id, p256Id, IFraudProofs.IncidentKind.RevokedFirmware, beneficiary, SLASHED);
        uint256 before = gasleft();
        bytes32 got = proofs.proveRevokedFirmware(a, key, sig, beneficiary);
        _logGas("gas proveRevokedFirmware (1x P-256):", before - gasleft());
        assertEq(got, id);
        _assertIncident(id, p256Id, IFraudProofs.IncidentKind.RevokedFirmware, SLASHED, revokedAt);
        _assertSlashed(p256Id, beneficiary, id);
    }

    function test_proveRevokedFirmware_SlashesSecp256k1Device() public {
        uint64 revokedAt = _revokeV1();
        Attestation memory a = _attestation(secpId, MEASUREMENT_V1, revokedAt + 30);
        (IDeviceRegistry.DeviceKey memory key, bytes memory sig) = _signedAttestation(secp, a);
        bytes32 id = proofs.proveRevokedFirmware(a, key, sig, beneficiary);
        // Signed 30 s ahead of the proof's block (revokedAt is now): timed at the block.
        _assertIncident(id, secpId, IFraudProofs.IncidentKind.RevokedFirmware, SLASHED, revokedAt);
    }

    function test_proveRevokedFirmware_RevertWhen_AttestedBeforeRevocation() public {
        uint64 revokedAt = _revokeV1();
        Attestation memory a = _attestation(secpId, MEASUREMENT_V1, revokedAt - 1);
        (IDeviceRegistry.DeviceKey memory key, bytes memory sig) = _signedAttestation(secp, a);
        vm.expectRevert(
            abi.encodeWithSelector(
                IFraudProofs.ProofsFirmwareNotRevoked.selector,
                secpId,
                MEASUREMENT_V1,
                revokedAt - 1
            )
        );
        proofs.proveRevokedFirmware(a, key, sig, beneficiary);
    }

    function test_proveRevokedFirmware_RevertWhen_FirmwareGood() public {
        uint64 revokedAt = _revokeV1();
        Attestation memory a = _attestation(secpId, MEASUREMENT_V2, revokedAt);
        (IDeviceRegistry.DeviceKey memory key, bytes memory sig) = _signedAttestation(secp, a);
        vm.expectRevert(
            abi.encodeWithSelector(IFraudProofs.ProofsFirmwareNotRevoked.selector, secpId, MEASUREMENT_V2, revokedAt)
        );
        proofs.proveRevokedFirmware(a, key, sig, beneficiary);
    }

    function test_proveRevokedFirmware_RevertWhen_FirmwareDeprecated() public {
        uint32 v1 = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        _deprecate(v1, uint64(block.timestamp + 1));
        vm.warp(block.timestamp + 10);
        Attestation memory a = _attestation(secpId, MEASUREMENT_V1, uint64(block.timestamp));
        (IDeviceRegistry.DeviceKey memory key, bytes memory sig) = _signedAttestation(secp, a);
        vm.expectRevert(
            abi.encodeWithSelector(
                IFraudProofs.ProofsFirmwareNotRevoked.selector,
                secpId,
                MEASUREMENT_V1,
                uint64(block.timestamp)
            )
        );
        proofs.proveRevokedFirmware(a, key, sig, beneficiary);
    }

    function test_proveRevokedFirmware_RevertWhen_UnknownMeasurement() public {
        _revokeV1();
        bytes32 unknown = keccak256("unknown");
        Attestation memory a = _attestation(secpId, unknown, uint64(block.timestamp));
        (IDeviceRegistry.DeviceKey memory key, bytes memory sig) = _signedAttestation(secp, a);
        vm.expectRevert(
            abi.encodeWithSelector(
                IFraudProofs.ProofsFirmwareNotRevoked.selector,
                secpId,
                unknown,
                uint64(block.timestamp)
            )
        );
        proofs.proveRevokedFirmware(a, key, sig, beneficiary);
    }

    function test_proveRevokedFirmware_RevertWhen_RevokedFirmwareOfOtherModel() public {
        uint32 other = _publish(OTHER_MODEL, "1.0.0", MEASUREMENT_OTHER_MODEL);
        _revokeFirmware(other);
        vm.warp(block.timestamp + 1);
        Attestation memory a = _attestation(secpId, MEASUREMENT_OTHER_MODEL, uint64(block.timestamp));
        (IDeviceRegistry.DeviceKey memory key, bytes memory sig) = _signedAttestation(secp, a);
        vm.expectRevert(
            abi.encodeWithSelector(
                IFraudProofs.ProofsFirmwareNotRevoked.selector,
                secpId,
                MEASUREMENT_OTHER_MODEL,
                uint64(block.timestamp)
            )
        );
        proofs.proveRevokedFirmware(a, key, sig, beneficiary);
    }

    function test_proveRevokedFirmware_RevertWhen_ForgedSignature() public {
        uint64 revokedAt = _revokeV1();
        Attestation memory a = _attestation(p256Id, MEASUREMENT_V1, revokedAt);
        (IDeviceRegistry.DeviceKey memory key, ) = _signedAttestation(p256, a);
        bytes memory forged = _sign(_p256Key(0xBAD), _attestationDigest(a));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsInvalidSignature.selector, p256Id));
        proofs.proveRevokedFirmware(a, key, forged, beneficiary);
    }

    function test_proveRevokedFirmware_RevertWhen_EvidenceUsed() public {
        uint64 revokedAt = _revokeV1();
        Attestation memory a = _attestation(secpId, MEASUREMENT_V1, revokedAt);
        (IDeviceRegistry.DeviceKey memory key, bytes memory sig) = _signedAttestation(secp, a);
        bytes32 id = proofs.proveRevokedFirmware(a, key, sig, beneficiary);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsEvidenceUsed.selector, id));
        proofs.proveRevokedFirmware(a, key, sig, beneficiary);
    }

    function test_proveRevokedFirmware_RevertWhen_EvidenceExpired() public {
        uint64 revokedAt = _revokeV1();
        Attestation memory a = _attestation(secpId, MEASUREMENT_V1, revokedAt);
        (IDeviceRegistry.DeviceKey memory key, bytes memory sig) = _signedAttestation(secp, a);
        vm.warp(uint256(revokedAt) + WINDOW + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IFraudProofs.ProofsEvidenceExpired.selector, revokedAt, WINDOW, block.timestamp)
        );
        proofs.proveRevokedFirmware(a, key, sig, beneficiary);
    }

    function test_proveRevokedFirmware_RevertWhen_ZeroBeneficiary() public {
        uint64 revokedAt = _revokeV1();
        Attestation memory a = _attestation(secpId, MEASUREMENT_V1, revokedAt);
        (IDeviceRegistry.DeviceKey memory key, bytes memory sig) = _signedAttestation(secp, a);
        vm.expectRevert(IFraudProofs.ProofsZeroBeneficiary.selector);
        proofs.proveRevokedFirmware(a, key, sig, address(0));
    }

    function test_proveRevokedFirmware_RevertWhen_NoStake() public {
        uint64 revokedAt = _revokeV1();
        staking.setSlashable(secpId, 0);
        Attestation memory a = _attestation(secpId, MEASUREMENT_V1, revokedAt);
        (IDeviceRegistry.DeviceKey memory key, bytes memory sig) = _signedAttestation(secp, a);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsNoStake.selector, secpId));
        proofs.proveRevokedFirmware(a, key, sig, beneficiary);
    }

    // ================================================================ rotated-out keys

    /// @dev The device of the chosen curve, its first key, and the key it rotates to.
    function _curve(bool useP256) internal view returns (DeviceId id, TestKey memory old, TestKey memory next) {
        return useP256 ? (p256Id, p256, _p256Key(P256_PK_2)) : (secpId, secp, _secpKey(SECP_PK_2));
    }

    /// @dev An hour from now the operator rotates the chosen device off its first key (leaked, say): returns
    /// the device, both keys and the retirement time (the new now).
    function _retireFirstKey(
        bool useP256
    ) internal returns (DeviceId id, TestKey memory old, TestKey memory next, uint64 retiredAt) {
        (id, old, next) = _curve(useP256);
        vm.warp(block.timestamp + 1 hours);
        _rotate(id, old, next);
        retiredAt = uint64(block.timestamp);
        assertEq(registry.keyRetiredAt(old.keyHash), retiredAt, "retired at the rotation");
    }

    function _readingAt(
        DeviceId id,
        uint64 sequence,
        int256 value,
        uint64 timestamp
    ) internal view returns (Reading memory r) {
        r = _reading(id, sequence, value);
        r.timestamp = timestamp;
    }

    function _keyRetired(
        DeviceId id,
        TestKey memory k,
        uint256 retiredAt,
        uint64 signedAt
    ) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IFraudProofs.ProofsKeyRetired.selector, id, k.keyHash, retiredAt, signedAt);
    }

    /// @dev The old key backdates a reading to its last second as the device's key; the device signs the
    /// same sequence with its new key: a conflict the old key could have made while it was the device's.
    function _checkRetiredKeyDatedBeforeRotation(bool useP256) internal {
        (DeviceId id, TestKey memory old, TestKey memory next, uint64 retiredAt) = _retireFirstKey(useP256);
        IFraudProofs.SignedReading memory a = _signed(old, _readingAt(id, 9, 20, retiredAt - 1));
        IFraudProofs.SignedReading memory b = _signed(next, _readingAt(id, 9, 21, retiredAt));
        vm.warp(retiredAt + 6 hours);
        bytes32 got = proofs.proveEquivocation(a, b, beneficiary);
        _assertIncident(got, id, IFraudProofs.IncidentKind.Equivocation, SLASHED, retiredAt);
        _assertSlashed(id, beneficiary, got);
    }

    function test_proveEquivocation_AcceptsRetiredKeyDatedBeforeRotationP256() public {
        _checkRetiredKeyDatedBeforeRotation(true);
    }

    function test_proveEquivocation_AcceptsRetiredKeyDatedBeforeRotationSecp256k1() public {
        _checkRetiredKeyDatedBeforeRotation(false);
    }

    /// @dev Evidence the old key dates at its retirement, an hour after it, or a year ahead: it was no longer
    /// the device's key then, so the pair proves nothing, in either order.
    function _checkRetiredKeyDatedFromRotation(bool useP256) internal {
        (DeviceId id, TestKey memory old, TestKey memory next, uint64 retiredAt) = _retireFirstKey(useP256);
        IFraudProofs.SignedReading memory b = _signed(next, _readingAt(id, 9, 21, retiredAt));
        uint64[3] memory dates = [retiredAt, retiredAt + 1 hours, retiredAt + 365 days];
        for (uint256 i; i < dates.length; ++i) {
            IFraudProofs.SignedReading memory a = _signed(old, _readingAt(id, 9, 20, dates[i]));
            vm.expectRevert(_keyRetired(id, old, retiredAt, dates[i]));
            proofs.proveEquivocation(a, b, beneficiary);
            vm.expectRevert(_keyRetired(id, old, retiredAt, dates[i]));
            proofs.proveEquivocation(b, a, beneficiary);
        }
        // Both halves by the old key, after its retirement: no better.
        IFraudProofs.SignedReading memory c = _signed(old, _readingAt(id, 9, 22, retiredAt + 1));
        IFraudProofs.SignedReading memory d = _signed(old, _readingAt(id, 9, 23, retiredAt + 2));
        vm.expectRevert(_keyRetired(id, old, retiredAt, retiredAt + 1));
        proofs.proveEquivocation(c, d, beneficiary);
        assertEq(staking.slashCount(), 0);
    }

    function test_proveEquivocation_RevertWhen_RetiredKeyDatedFromRotationP256() public {
        _checkRetiredKeyDatedFromRotation(true);
    }

    function test_proveEquivocation_RevertWhen_RetiredKeyDatedFromRotationSecp256k1() public {
        _checkRetiredKeyDatedFromRotation(false);
    }

    /// @dev A backdated old-key reading paired with a fresh one of the new key: the pair's window runs from the
    /// fresh one, but the old key's part counts only until the window after its retirement.
    function _checkRetiredKeyWindowAfterRotation(bool useP256) internal {
        (DeviceId id, TestKey memory old, TestKey memory next, uint64 retiredAt) = _retireFirstKey(useP256);
        IFraudProofs.SignedReading memory a = _signed(old, _readingAt(id, 9, 20, retiredAt - 1));
        uint64 late = uint64(retiredAt + WINDOW + 1);
        IFraudProofs.SignedReading memory b = _signed(next, _readingAt(id, 9, 21, late));
        vm.warp(late);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsEvidenceExpired.selector, retiredAt, WINDOW, late));
        proofs.proveEquivocation(a, b, beneficiary);
        // One second earlier, the last second of the window after the rotation: proven.
        vm.warp(late - 1);
        bytes32 got = proofs.proveEquivocation(a, _signed(next, _readingAt(id, 9, 21, late - 1)), beneficiary);
        _assertIncident(got, id, IFraudProofs.IncidentKind.Equivocation, SLASHED, late - 1);
    }

    function test_proveEquivocation_RevertWhen_RetiredKeyWindowRanOutP256() public {
        _checkRetiredKeyWindowAfterRotation(true);
    }

    function test_proveEquivocation_RevertWhen_RetiredKeyWindowRanOutSecp256k1() public {
        _checkRetiredKeyWindowAfterRotation(false);
    }

    /// @dev An out-of-bounds reading of the old key: proven if dated before the rotation (until its window
    /// runs out), refused if dated at or after it.
    function _checkRetiredKeyOutOfBounds(bool useP256) internal {
        _declareRange();
        (DeviceId id, TestKey memory old, , uint64 retiredAt) = _retireFirstKey(useP256);
        IFraudProofs.SignedReading memory atRotation = _signed(old, _readingAt(id, 1, 500, retiredAt));
        vm.expectRevert(_keyRetired(id, old, retiredAt, retiredAt));
        proofs.proveOutOfBounds(atRotation, beneficiary);

        IFraudProofs.SignedReading memory before = _signed(old, _readingAt(id, 1, 501, retiredAt - 1));
        uint256 expired = uint256(retiredAt) - 1 + WINDOW + 1;
        vm.warp(expired);
        vm.expectRevert(
            abi.encodeWithSelector(IFraudProofs.ProofsEvidenceExpired.selector, retiredAt - 1, WINDOW, expired)
        );
        proofs.proveOutOfBounds(before, beneficiary);
        vm.warp(expired - 1);
        bytes32 got = proofs.proveOutOfBounds(before, beneficiary);
        _assertIncident(got, id, IFraudProofs.IncidentKind.OutOfBounds, SLASHED, retiredAt - 1);
    }

    function test_proveOutOfBounds_RetiredKeyOnlyBeforeRotationP256() public {
        _checkRetiredKeyOutOfBounds(true);
    }

    function test_proveOutOfBounds_RetiredKeyOnlyBeforeRotationSecp256k1() public {
        _checkRetiredKeyOutOfBounds(false);
    }

    /// @dev A batch of the old key counts if it says it was signed before the rotation: both its toTimestamp
    /// and the leaf's own time.
    function _checkRetiredKeyBatchOutOfBounds(bool useP256) internal {
        _declareRange();
        (DeviceId id, TestKey memory old, , uint64 retiredAt) = _retireFirstKey(useP256);
        Reading[] memory run = _run(id, 10, 0);
        for (uint256 i; i < run.length; ++i) run[i].timestamp = retiredAt - 3 + uint64(i);
        run[1].value = 126;

        // Its latest reading at the rotation: refused, even for an earlier leaf.
        IFraudProofs.BatchedReading memory late = _batched(old, run, 1);
        assertEq(late.batch.toTimestamp, retiredAt);
        vm.expectRevert(_keyRetired(id, old, retiredAt, retiredAt));
        proofs.proveBatchOutOfBounds(late, beneficiary);

        // Bounds that end before the rotation around a leaf dated after it (no honest device signs that):
        // the leaf's time counts.
        run[3].timestamp = retiredAt - 1;
        run[1].timestamp = retiredAt + 5;
        IFraudProofs.BatchedReading memory skewed = _batched(old, run, 1);
        assertEq(skewed.batch.toTimestamp, retiredAt - 1);
        vm.expectRevert(_keyRetired(id, old, retiredAt, retiredAt + 5));
        proofs.proveBatchOutOfBounds(skewed, beneficiary);

        // Signed before the rotation: proven.
        run[1].timestamp = retiredAt - 2;
        IFraudProofs.BatchedReading memory early = _batched(old, run, 1);
        assertEq(early.batch.toTimestamp, retiredAt - 1);
        bytes32 got = proofs.proveBatchOutOfBounds(early, beneficiary);
        _assertIncident(got, id, IFraudProofs.IncidentKind.OutOfBounds, SLASHED, retiredAt - 2);
    }

    function test_proveBatchOutOfBounds_RetiredKeyOnlyBeforeRotationP256() public {
        _checkRetiredKeyBatchOutOfBounds(true);
    }

    function test_proveBatchOutOfBounds_RetiredKeyOnlyBeforeRotationSecp256k1() public {
        _checkRetiredKeyBatchOutOfBounds(false);
    }

    function test_proveBatchEquivocation_RevertWhen_RetiredKeyBatchDatedFromRotation() public {
        (DeviceId id, TestKey memory old, TestKey memory next, uint64 retiredAt) = _retireFirstKey(true);
        Reading[] memory run = _run(id, 10, 100);
        IFraudProofs.BatchedReading memory a = _batched(old, run, 2);
        IFraudProofs.SignedReading memory b = _signed(next, _reading(id, 12, 555));
        vm.expectRevert(_keyRetired(id, old, retiredAt, retiredAt));
        proofs.proveBatchEquivocation(a, b, beneficiary);
        // The same conflict, batched before the rotation, is proven.
        for (uint256 i; i < run.length; ++i) run[i].timestamp = retiredAt - 10;
        bytes32 got = proofs.proveBatchEquivocation(_batched(old, run, 2), b, beneficiary);
        _assertIncident(got, id, IFraudProofs.IncidentKind.BatchEquivocation, SLASHED, retiredAt);
    }

    function test_proveBatchPairEquivocation_RevertWhen_RetiredKeyBatchDatedFromRotation() public {
        (DeviceId id, TestKey memory old, TestKey memory next, uint64 retiredAt) = _retireFirstKey(false);
        IFraudProofs.BatchedReading memory current = _batched(next, _run(id, 10, 100), 1);
        Reading[] memory run = _run(id, 10, 200);
        run[3].timestamp = retiredAt + 1 days;
        IFraudProofs.BatchedReading memory leaked = _batched(old, run, 1);
        vm.expectRevert(_keyRetired(id, old, retiredAt, retiredAt + 1 days));
        proofs.proveBatchPairEquivocation(current, leaked, beneficiary);
        vm.expectRevert(_keyRetired(id, old, retiredAt, retiredAt + 1 days));
        proofs.proveBatchPairEquivocation(leaked, current, beneficiary);
    }

    function _checkRetiredKeyRevokedFirmware(bool useP256) internal {
        uint64 revokedAt = _revokeV1();
        (DeviceId id, TestKey memory old, , uint64 retiredAt) = _retireFirstKey(useP256);
        Attestation memory atRotation = _attestation(id, MEASUREMENT_V1, retiredAt);
        (IDeviceRegistry.DeviceKey memory key, bytes memory sig) = _signedAttestation(old, atRotation);
        vm.expectRevert(_keyRetired(id, old, retiredAt, retiredAt));
        proofs.proveRevokedFirmware(atRotation, key, sig, beneficiary);
        // Attested on the revoked firmware while the key was the device's: proven.
        Attestation memory before = _attestation(id, MEASUREMENT_V1, revokedAt + 1);
        (key, sig) = _signedAttestation(old, before);
        bytes32 got = proofs.proveRevokedFirmware(before, key, sig, beneficiary);
        _assertIncident(got, id, IFraudProofs.IncidentKind.RevokedFirmware, SLASHED, revokedAt + 1);
    }

    function test_proveRevokedFirmware_RetiredKeyOnlyBeforeRotationP256() public {
        _checkRetiredKeyRevokedFirmware(true);
    }

    function test_proveRevokedFirmware_RetiredKeyOnlyBeforeRotationSecp256k1() public {
        _checkRetiredKeyRevokedFirmware(false);
    }

    /// @dev The device's current key counts whatever it dates, before its own installation included (the
    /// operator holds it); only the key the rotation retired is limited.
    function _checkCurrentKeyUnaffected(bool useP256) internal {
        _declareRange();
        (DeviceId id, , TestKey memory next, uint64 retiredAt) = _retireFirstKey(useP256);
        assertEq(registry.keyRetiredAt(next.keyHash), 0);
        bytes32 a = proofs.proveOutOfBounds(_signed(next, _readingAt(id, 1, 500, retiredAt - 2 hours)), beneficiary);
        bytes32 b = proofs.proveOutOfBounds(_signed(next, _readingAt(id, 2, 500, retiredAt + 365 days)), beneficiary);
        _assertIncident(a, id, IFraudProofs.IncidentKind.OutOfBounds, SLASHED, retiredAt - 2 hours);
        _assertIncident(b, id, IFraudProofs.IncidentKind.OutOfBounds, SLASHED, retiredAt);
    }

    function test_proveOutOfBounds_CurrentKeyUnaffectedByRotationP256() public {
        _checkCurrentKeyUnaffected(true);
    }

    function test_proveOutOfBounds_CurrentKeyUnaffectedByRotationSecp256k1() public {
        _checkCurrentKeyUnaffected(false);
    }

    /// @dev Two rotations: each retired key counts for what it dates before its own retirement.
    function test_proveEquivocation_EachRetiredKeyUntilItsOwnRetirement() public {
        (DeviceId id, TestKey memory first, TestKey memory second, uint64 firstRetired) = _retireFirstKey(false);
        TestKey memory third = _p256Key(0xF256_3);
        vm.warp(block.timestamp + 2 hours);
        _rotate(id, second, third);
        uint64 secondRetired = uint64(block.timestamp);
        assertEq(registry.keyRetiredAt(second.keyHash), secondRetired);

        IFraudProofs.SignedReading memory byThird = _signed(third, _readingAt(id, 9, 1, secondRetired));
        // The second key, dated between the two rotations: its key then.
        IFraudProofs.SignedReading memory bySecond = _signed(second, _readingAt(id, 9, 2, firstRetired + 1));
        // The first key, dated after its own retirement but before the second's: no longer its key.
        IFraudProofs.SignedReading memory byFirst = _signed(first, _readingAt(id, 9, 3, firstRetired + 1));
        vm.expectRevert(_keyRetired(id, first, firstRetired, firstRetired + 1));
        proofs.proveEquivocation(byFirst, byThird, beneficiary);
        IFraudProofs.SignedReading memory lateSecond = _signed(second, _readingAt(id, 9, 4, secondRetired));
        vm.expectRevert(_keyRetired(id, second, secondRetired, secondRetired));
        proofs.proveEquivocation(lateSecond, byThird, beneficiary);
        bytes32 got = proofs.proveEquivocation(bySecond, byThird, beneficiary);
        _assertIncident(got, id, IFraudProofs.IncidentKind.Equivocation, SLASHED, secondRetired);
    }

    function test_proveEquivocation_RevertWhen_RetiredKeyOfAnotherDevice() public {
        // The secp device's retired key signs readings naming the p256 device: not a key the p256 device held,
        // so an invalid signature (not a retired key) whatever the dates.
        (, TestKey memory old, , uint64 retiredAt) = _retireFirstKey(false);
        IFraudProofs.SignedReading memory a = _signed(old, _readingAt(p256Id, 5, 1, retiredAt - 1));
        IFraudProofs.SignedReading memory b = _signed(p256, _readingAt(p256Id, 5, 2, retiredAt));
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsInvalidSignature.selector, p256Id));
        proofs.proveEquivocation(a, b, beneficiary);
    }

    // ================================================================ incident time

    /// @dev Two conflicting readings of secpId at sequence 5, signed at `ta` and `tb`.
    function _pairAt(
        uint64 ta,
        uint64 tb
    ) internal view returns (IFraudProofs.SignedReading memory a, IFraudProofs.SignedReading memory b) {
        Reading memory ra = _reading(secpId, 5, 20);
        Reading memory rb = _reading(secpId, 5, 21);
        ra.timestamp = ta;
        rb.timestamp = tb;
        return (_signed(secp, ra), _signed(secp, rb));
    }

    function test_proveEquivocation_TimesIncidentAtLaterSignedTimestamp() public {
        uint64 t = uint64(block.timestamp);
        (IFraudProofs.SignedReading memory a, IFraudProofs.SignedReading memory b) = _pairAt(t - 5 hours, t - 2 hours);
        vm.warp(t + 3 hours);
        bytes32 id = proofs.proveEquivocation(a, b, beneficiary);
        _assertIncident(id, secpId, IFraudProofs.IncidentKind.Equivocation, SLASHED, t - 2 hours);
    }

    function test_proveEquivocation_TimesIncidentAtLaterSignedTimestampWhenFirst() public {
        uint64 t = uint64(block.timestamp);
        (IFraudProofs.SignedReading memory a, IFraudProofs.SignedReading memory b) = _pairAt(t - 1 hours, t - 9 hours);
        vm.warp(t + 12 hours);
        bytes32 id = proofs.proveEquivocation(a, b, beneficiary);
        _assertIncident(id, secpId, IFraudProofs.IncidentKind.Equivocation, SLASHED, t - 1 hours);
    }

    function test_proveEquivocation_CapsFutureIncidentTimeAtBlock() public {
        uint64 t = uint64(block.timestamp);
        (IFraudProofs.SignedReading memory a, IFraudProofs.SignedReading memory b) = _pairAt(t - 1 hours, t + 7 days);
        bytes32 id = proofs.proveEquivocation(a, b, beneficiary);
        _assertIncident(id, secpId, IFraudProofs.IncidentKind.Equivocation, SLASHED, t);
    }

    function test_proveEquivocation_TimesIncidentAtBlockWhenSignedInIt() public {
        uint64 t = uint64(block.timestamp);
        (IFraudProofs.SignedReading memory a, IFraudProofs.SignedReading memory b) = _pairAt(t - 1, t);
        bytes32 id = proofs.proveEquivocation(a, b, beneficiary);
        _assertIncident(id, secpId, IFraudProofs.IncidentKind.Equivocation, SLASHED, t);
    }

    function test_proveBatchEquivocation_TimesIncidentAtLaterSignedTimestamp() public {
        uint64 t = uint64(block.timestamp);
        Reading[] memory run = _run(secpId, 10, 100);
        for (uint256 i; i < run.length; ++i) run[i].timestamp = t - 4 hours + uint64(i) * 60;
        IFraudProofs.BatchedReading memory a = _batched(secp, run, 1);
        Reading memory rb = _reading(secpId, 11, 555);
        rb.timestamp = t - 6 hours;
        vm.warp(t + 1 hours);
        bytes32 id = proofs.proveBatchEquivocation(a, _signed(secp, rb), beneficiary);
        // The leaf (t - 4 h + 60 s) is the later of the pair; the batch's own bounds play no part.
        _assertIncident(id, secpId, IFraudProofs.IncidentKind.BatchEquivocation, SLASHED, t - 4 hours + 60);
    }

    function test_proveBatchPairEquivocation_TimesIncidentAtLaterSignedTimestamp() public {
        uint64 t = uint64(block.timestamp);
        Reading[] memory runA = _run(secpId, 10, 100);
        Reading[] memory runB = _run(secpId, 10, 200);
        for (uint256 i; i < 4; ++i) {
            runA[i].timestamp = t - 8 hours + uint64(i);
            runB[i].timestamp = t - 3 hours + uint64(i);
        }
        IFraudProofs.BatchedReading memory a = _batched(secp, runA, 2);
        IFraudProofs.BatchedReading memory b = _batched(secp, runB, 2);
        vm.warp(t + 2 hours);
        bytes32 id = proofs.proveBatchPairEquivocation(a, b, beneficiary);
        _assertIncident(id, secpId, IFraudProofs.IncidentKind.BatchEquivocation, SLASHED, t - 3 hours + 2);
    }

    function test_proveOutOfBounds_TimesIncidentAtEvidenceTimestamp() public {
        _declareRange();
        Reading memory r = _reading(secpId, 1, 126);
        r.timestamp = uint64(block.timestamp - 3 hours);
        uint64 signedAt = r.timestamp;
        IFraudProofs.SignedReading memory s = _signed(secp, r);
        vm.warp(block.timestamp + 5 hours);
        bytes32 id = proofs.proveOutOfBounds(s, beneficiary);
        _assertIncident(id, secpId, IFraudProofs.IncidentKind.OutOfBounds, SLASHED, signedAt);
    }

    function test_proveOutOfBounds_CapsFutureIncidentTimeAtBlock() public {
        _declareRange();
        Reading memory r = _reading(secpId, 1, -41);
        r.timestamp = uint64(block.timestamp + 30 days);
        bytes32 id = proofs.proveOutOfBounds(_signed(secp, r), beneficiary);
        _assertIncident(id, secpId, IFraudProofs.IncidentKind.OutOfBounds, SLASHED, block.timestamp);
    }

    function test_proveBatchOutOfBounds_TimesIncidentAtLeafTimestamp() public {
        _declareRange();
        uint64 t = uint64(block.timestamp);
        Reading[] memory run = _run(p256Id, 10, 0);
        for (uint256 i; i < run.length; ++i) run[i].timestamp = t - 6 hours + uint64(i) * 60;
        run[1].value = 126;
        IFraudProofs.BatchedReading memory b = _batched(p256, run, 1);
        vm.warp(t + 2 hours);
        bytes32 id = proofs.proveBatchOutOfBounds(b, beneficiary);
        // The leaf's own time, as the same reading proven alone would be timed; the batch's bounds play no part.
        _assertIncident(id, p256Id, IFraudProofs.IncidentKind.OutOfBounds, SLASHED, t - 6 hours + 60);
    }

    function test_proveBatchOutOfBounds_CapsFutureIncidentTimeAtBlock() public {
        _declareRange();
        Reading[] memory run = _run(secpId, 10, 0);
        run[2].timestamp = uint64(block.timestamp + 30 days);
        run[2].value = -41;
        bytes32 id = proofs.proveBatchOutOfBounds(_batched(secp, run, 2), beneficiary);
        _assertIncident(id, secpId, IFraudProofs.IncidentKind.OutOfBounds, SLASHED, block.timestamp);
    }

    function test_proveRevokedFirmware_TimesIncidentAtEvidenceTimestamp() public {
        uint64 revokedAt = _revokeV1();
        Attestation memory a = _attestation(secpId, MEASUREMENT_V1, revokedAt + 10 minutes);
        (IDeviceRegistry.DeviceKey memory key, bytes memory sig) = _signedAttestation(secp, a);
        vm.warp(revokedAt + 20 hours);
        bytes32 id = proofs.proveRevokedFirmware(a, key, sig, beneficiary);
        _assertIncident(id, secpId, IFraudProofs.IncidentKind.RevokedFirmware, SLASHED, revokedAt + 10 minutes);
    }

    function test_proveRevokedFirmware_CapsFutureIncidentTimeAtBlock() public {
        uint64 revokedAt = _revokeV1();
        Attestation memory a = _attestation(p256Id, MEASUREMENT_V1, revokedAt + 400 days);
        (IDeviceRegistry.DeviceKey memory key, bytes memory sig) = _signedAttestation(p256, a);
        vm.warp(revokedAt + 1 hours);
        bytes32 id = proofs.proveRevokedFirmware(a, key, sig, beneficiary);
        _assertIncident(id, p256Id, IFraudProofs.IncidentKind.RevokedFirmware, SLASHED, revokedAt + 1 hours);
    }

    function _batchHash(IFraudProofs.BatchedReading memory b) private pure returns (bytes32) {
        return DeviceMessageLib.hashReadingBatch(b.batch);
    }
}

/// @notice FraudProofs against the real DeviceStaking and a real token: what a proof does to balances,
/// the device's status and the stake, and what it costs.
contract FraudProofsStakingTest is FraudProofsFixture {
    uint96 internal constant MIN_STAKE = 100 ether;
    uint16 internal constant BOUNTY_BPS = 1_000;

    MockERC20 internal token;
    DeviceStaking internal realStaking;
    FraudProofs internal realProofs;
    address internal pool = makeAddr("pool");

    function setUp() public override {
        super.setUp();
        token = new MockERC20("Collateral", "COL");
        realStaking = new DeviceStaking(
            registry,
            token,
            governor,
            IDeviceStaking.Params({
                minStake: MIN_STAKE,
                unbondingPeriod: 7 days,
                bountyBps: BOUNTY_BPS,
                lossRecipient: pool
            })
        );
        realProofs = new FraudProofs(address(registry), realStaking, WINDOW);
        bytes32 suspenderRole = registry.SUSPENDER_ROLE();
        vm.startPrank(governor);
        realStaking.setProofs(address(realProofs));
        registry.grantRole(suspenderRole, address(realStaking));
        vm.stopPrank();
        // The insurance pool already holds funds, as it will in steady state (its balance slot is not new).
        token.mint(pool, 1);
        token.mint(operator, 10 * STAKE);
        vm.startPrank(operator);
        token.approve(address(realStaking), type(uint256).max);
        realStaking.stake(p256Id, STAKE);
        realStaking.stake(secpId, STAKE);
        vm.stopPrank();
    }

    function test_proveEquivocation_SlashesRealStake() public {
        IFraudProofs.SignedReading memory a = _signed(p256, _reading(p256Id, 5, 20));
        IFraudProofs.SignedReading memory b = _signed(p256, _reading(p256Id, 5, 21));
        bytes memory data = abi.encodeCall(IFraudProofs.proveEquivocation, (a, b, beneficiary));
        vm.prank(prover);
        uint256 before = gasleft();
        bytes32 id = realProofs.proveEquivocation(a, b, beneficiary);
        uint256 used = before - gasleft();
        _logGas("gas proveEquivocation (2x P-256, real staking, slash+bounty+loss):", used);
        // A transaction pays 21,000 plus its calldata and finds the called account warm (the test paid 2,600
        // to touch it cold).
        _logGas("  estimated whole tx:", 21_000 + _calldataGas(data) + used - 2_600);

        uint256 bounty = (STAKE * BOUNTY_BPS) / 10_000;
        assertEq(token.balanceOf(beneficiary), bounty, "bounty to the named beneficiary");
        assertEq(token.balanceOf(prover), 0, "nothing to the sender");
        assertEq(token.balanceOf(pool), 1 + STAKE - bounty, "rest to the loss recipient");
        assertEq(realStaking.slashableOf(p256Id), 0, "stake gone");
        assertEq(uint8(registry.statusOf(p256Id)), uint8(DeviceStatus.Suspended), "device suspended");
        IFraudProofs.Incident memory inc = realProofs.incident(id);
        assertEq(uint8(inc.kind), uint8(IFraudProofs.IncidentKind.Equivocation));
        assertEq(inc.slashed, STAKE, "incident records the slash");
        assertEq(realStaking.slashableOf(secpId), STAKE, "other device untouched");
    }

    function test_proveEquivocation_SlashesRealStakeToFundedBeneficiary() public {
        // A watchtower paid before already holds tokens: its balance slot is not new.
        token.mint(beneficiary, 1);
        IFraudProofs.SignedReading memory a = _signed(p256, _reading(p256Id, 5, 20));
        IFraudProofs.SignedReading memory b = _signed(p256, _reading(p256Id, 5, 21));
        bytes memory data = abi.encodeCall(IFraudProofs.proveEquivocation, (a, b, beneficiary));
        uint256 before = gasleft();
        realProofs.proveEquivocation(a, b, beneficiary);
        uint256 used = before - gasleft();
        _logGas("gas proveEquivocation (2x P-256, real staking, beneficiary already funded):", used);
        _logGas("  estimated whole tx:", 21_000 + _calldataGas(data) + used - 2_600);
        assertEq(token.balanceOf(beneficiary), 1 + (STAKE * BOUNTY_BPS) / 10_000);
    }

    function test_proveBatchOutOfBounds_SlashesRealStake() public {
        vm.prank(makerSigner);
        realProofs.setSensorRange(MODEL, -40, 125);
        // A 1024-reading batch (the gateway's size: a proof of 10 levels), its last leaf out of range.
        IFraudProofs.BatchedReading memory b = _batchedValue(p256, p256Id, 1024, 1023, 126);
        assertEq(b.proof.length, 10);
        bytes memory data = abi.encodeCall(IFraudProofs.proveBatchOutOfBounds, (b, beneficiary));
        vm.prank(prover);
        uint256 before = gasleft();
        bytes32 id = realProofs.proveBatchOutOfBounds(b, beneficiary);
        uint256 used = before - gasleft();
        _logGas("gas proveBatchOutOfBounds (1x P-256, 1024-leaf batch, real staking):", used);
        _logGas("  estimated whole tx:", 21_000 + _calldataGas(data) + used - 2_600);

        uint256 bounty = (STAKE * BOUNTY_BPS) / 10_000;
        assertEq(token.balanceOf(beneficiary), bounty, "bounty to the named beneficiary");
        assertEq(token.balanceOf(pool), 1 + STAKE - bounty, "rest to the loss recipient");
        assertEq(realStaking.slashableOf(p256Id), 0, "stake gone");
        assertEq(uint8(registry.statusOf(p256Id)), uint8(DeviceStatus.Suspended), "device suspended");
        IFraudProofs.Incident memory inc = realProofs.incident(id);
        assertEq(uint8(inc.kind), uint8(IFraudProofs.IncidentKind.OutOfBounds));
        assertEq(inc.slashed, STAKE, "incident records the slash");
    }

    function test_proveOutOfBounds_SlashesRealStake() public {
        vm.prank(makerSigner);
        realProofs.setSensorRange(MODEL, -40, 125);
        IFraudProofs.SignedReading memory r = _signed(p256, _reading(p256Id, 1, 126));
        bytes memory data = abi.encodeCall(IFraudProofs.proveOutOfBounds, (r, beneficiary));
        uint256 before = gasleft();
        realProofs.proveOutOfBounds(r, beneficiary);
        uint256 used = before - gasleft();
        _logGas("gas proveOutOfBounds (1x P-256, real staking):", used);
        _logGas("  estimated whole tx:", 21_000 + _calldataGas(data) + used - 2_600);
        assertEq(realStaking.slashableOf(p256Id), 0, "stake gone");
    }

    function test_proveEquivocation_SlashesPendingWithdrawal() public {
        vm.prank(operator);
        realStaking.requestWithdrawal(secpId, STAKE);
        vm.warp(block.timestamp + 6 days);
        IFraudProofs.SignedReading memory a = _signed(secp, _reading(secpId, 5, 20));
        IFraudProofs.SignedReading memory b = _signed(secp, _reading(secpId, 5, 21));
        bytes32 id = realProofs.proveEquivocation(a, b, beneficiary);
        assertEq(realProofs.incident(id).slashed, STAKE);
        assertEq(realStaking.stakeOf(secpId).pending, 0);
    }

    function test_proveEquivocation_RevertWhen_AlreadySlashed() public {
        IFraudProofs.SignedReading memory a = _signed(secp, _reading(secpId, 5, 20));
        IFraudProofs.SignedReading memory b = _signed(secp, _reading(secpId, 5, 21));
        IFraudProofs.SignedReading memory c = _signed(secp, _reading(secpId, 5, 22));
        realProofs.proveEquivocation(a, b, beneficiary);
        vm.expectRevert(abi.encodeWithSelector(IFraudProofs.ProofsNoStake.selector, secpId));
        realProofs.proveEquivocation(a, c, beneficiary);
    }

    /// @dev Calldata gas as a transaction pays it: 4 per zero byte, 16 per other byte (plus the selector).
    function _calldataGas(bytes memory data) private pure returns (uint256 gas) {
        for (uint256 i; i < data.length; ++i) gas += data[i] == 0 ? 4 : 16;
    }
}
