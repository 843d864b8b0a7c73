// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IDeviceAttestation} from "../interfaces/IDeviceAttestation.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {IDeviceStaking} from "../interfaces/IDeviceStaking.sol";
import {IFraudProofs} from "../interfaces/IFraudProofs.sol";
import {DeviceKeyLib} from "../libraries/DeviceKeyLib.sol";
import {DeviceMessageLib} from "../libraries/DeviceMessageLib.sol";
import {DeviceId} from "../types/DeviceId.sol";
import {Attestation, Reading, ReadingBatch} from "../types/Messages.sol";

/// @title FraudProofs
/// @notice Checks objective evidence that a device lied (equivocation, also inside signed batches;
/// readings outside its model's physical range, also inside signed batches; attestations on firmware
/// revoked before they were made), records an incident per piece of evidence and slashes the device
/// through the staking contract.
/// @dev Stateless about devices: the registry (which is also the attestation contract) answers every
/// question about keys, makers and firmware. The only storage written by a proof is its Incident record.
/// A key the device rotated out counts only for evidence dated before its retirement, within the evidence
/// window after it (see _checkSignature): a leaked key stops being a liability one window after its rotation.
contract FraudProofs is IFraudProofs, ReentrancyGuardTransient {
    /// @dev A declared sensor range; `declared` tells an unset range from a declared [0, 0].
    struct StoredRange {
        int256 min;
        int256 max;
        bool declared;
    }

    /// @dev The DeviceRegistry: identity and, in the same deployed contract, attestation.
    IDeviceRegistry private immutable REGISTRY;
    IDeviceStaking private immutable STAKING;
    /// @dev The registry's EIP-712 domain read at deployment, and the chain id it was built for: devices sign
    /// under the registry's domain, which names the chain; after a fork (a new chain id) `_domainSeparator`
    /// asks the registry again, so old-chain signatures stop counting.
    bytes32 private immutable CACHED_DOMAIN_SEPARATOR;
    uint256 private immutable CACHED_CHAIN_ID;
    uint256 private immutable EVIDENCE_WINDOW;

    mapping(bytes32 id => Incident) private _incidents;
    mapping(uint16 maker => mapping(uint32 model => StoredRange)) private _ranges;

    /// @notice Binds the proofs to one registry, one staking contract and one evidence window.
    /// @param registry The DeviceRegistry (both IDeviceRegistry and IDeviceAttestation).
    /// @param staking The staking contract this contract slashes through.
    /// @param evidenceWindow_ How long after its latest timestamp evidence is accepted (seconds); the
    /// staking contract checks it is shorter than its unbonding period when it is told of this contract.
    constructor(address registry, IDeviceStaking staking, uint256 evidenceWindow_) {
        REGISTRY = IDeviceRegistry(registry);
        STAKING = staking;
        CACHED_DOMAIN_SEPARATOR = IDeviceRegistry(registry).DOMAIN_SEPARATOR();
        CACHED_CHAIN_ID = block.chainid;
        EVIDENCE_WINDOW = evidenceWindow_;
    }

    // ================================================================ proofs

    /// @inheritdoc IFraudProofs
    function proveEquivocation(
        SignedReading calldata a,
        SignedReading calldata b,
        address beneficiary
    ) external nonReentrant returns (bytes32 incident_) {
        (bytes32 hashA, bytes32 hashB) = _checkConflict(a.reading, b.reading, beneficiary);
        DeviceId deviceId = a.reading.deviceId;
        incident_ = _evidenceId(IncidentKind.Equivocation, hashA, hashB);
        uint64 latest = _latest(a.reading.timestamp, b.reading.timestamp);
        _checkUsable(incident_, deviceId, latest);
        _checkSignature(deviceId, hashA, a.key, a.signature, a.reading.timestamp);
        _checkSignature(deviceId, hashB, b.key, b.signature, b.reading.timestamp);
        _record(incident_, deviceId, IncidentKind.Equivocation, latest, beneficiary);
    }

    /// @inheritdoc IFraudProofs
    function proveBatchEquivocation(
        BatchedReading calldata a,
        SignedReading calldata b,
        address beneficiary
    ) external nonReentrant returns (bytes32 incident_) {
        (bytes32 hashA, bytes32 hashB) = _checkConflict(a.reading, b.reading, beneficiary);
        DeviceId deviceId = a.reading.deviceId;
        incident_ = _evidenceId(IncidentKind.Equivocation, hashA, hashB);
        uint64 latest = _latest(a.reading.timestamp, b.reading.timestamp);
        _checkUsable(incident_, deviceId, latest);
        _checkBatched(a, hashA);
        _checkSignature(deviceId, hashB, b.key, b.signature, b.reading.timestamp);
        _record(incident_, deviceId, IncidentKind.BatchEquivocation, latest, beneficiary);
    }

    /// @inheritdoc IFraudProofs
    function proveBatchPairEquivocation(
        BatchedReading calldata a,
        BatchedReading calldata b,
        address beneficiary
    ) external nonReentrant returns (bytes32 incident_) {
        (bytes32 hashA, bytes32 hashB) = _checkConflict(a.reading, b.reading, beneficiary);
        DeviceId deviceId = a.reading.deviceId;
        incident_ = _evidenceId(IncidentKind.Equivocation, hashA, hashB);
        uint64 latest = _latest(a.reading.timestamp, b.reading.timestamp);
        _checkUsable(incident_, deviceId, latest);
        _checkBatched(a, hashA);
        _checkBatched(b, hashB);
        _record(incident_, deviceId, IncidentKind.BatchEquivocation, latest, beneficiary);
    }

    /// @inheritdoc IFraudProofs
    function proveOutOfBounds(
        SignedReading calldata r,
        address beneficiary
    ) external nonReentrant returns (bytes32 incident_) {
        bytes32 readingHash;
        (readingHash, incident_) = _checkOutOfRange(r.reading, beneficiary);
        DeviceId deviceId = r.reading.deviceId;
        _checkUsable(incident_, deviceId, r.reading.timestamp);
        _checkSignature(deviceId, readingHash, r.key, r.signature, r.reading.timestamp);
        _record(incident_, deviceId, IncidentKind.OutOfBounds, r.reading.timestamp, beneficiary);
    }

    /// @inheritdoc IFraudProofs
    function proveBatchOutOfBounds(
        BatchedReading calldata r,
        address beneficiary
    ) external nonReentrant returns (bytes32 incident_) {
        bytes32 readingHash;
        (readingHash, incident_) = _checkOutOfRange(r.reading, beneficiary);
        DeviceId deviceId = r.reading.deviceId;
        _checkUsable(incident_, deviceId, r.reading.timestamp);
        _checkBatched(r, readingHash);
        _record(incident_, deviceId, IncidentKind.OutOfBounds, r.reading.timestamp, beneficiary);
    }

    /// @inheritdoc IFraudProofs
    function proveRevokedFirmware(
        Attestation calldata evidence,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature,
        address beneficiary
    ) external nonReentrant returns (bytes32 incident_) {
        if (beneficiary == address(0)) revert ProofsZeroBeneficiary();
        DeviceId deviceId = evidence.deviceId;
        _checkRevoked(deviceId, evidence.measurement, evidence.timestamp);
        bytes32 attestationHash = DeviceMessageLib.hashAttestationCalldata(evidence);
        incident_ = keccak256(abi.encode(IncidentKind.RevokedFirmware, attestationHash));
        _checkUsable(incident_, deviceId, evidence.timestamp);
        _checkSignature(deviceId, attestationHash, key, signature, evidence.timestamp);
        _record(incident_, deviceId, IncidentKind.RevokedFirmware, evidence.timestamp, beneficiary);
    }

    // ================================================================ makers

    /// @inheritdoc IFraudProofs
    function setSensorRange(uint32 model, int256 min, int256 max) external {
        uint16 maker = REGISTRY.makerOf(msg.sender);
        if (maker == 0 || !REGISTRY.makerInfo(maker).active) revert ProofsNotMaker(msg.sender);
        if (min > max) revert ProofsInvalidRange(min, max);
        _ranges[maker][model] = StoredRange({min: min, max: max, declared: true});
        emit SensorRangeSet(maker, model, min, max);
    }

    // ================================================================ views

    /// @inheritdoc IFraudProofs
    function incident(bytes32 id) external view returns (Incident memory) {
        return _incidents[id];
    }

    /// @inheritdoc IFraudProofs
    function sensorRange(uint16 maker, uint32 model) external view returns (SensorRange memory, bool declared) {
        StoredRange storage range = _ranges[maker][model];
        return (SensorRange({min: range.min, max: range.max}), range.declared);
    }

    /// @inheritdoc IFraudProofs
    function evidenceWindow() external view returns (uint256) {
        return EVIDENCE_WINDOW;
    }

    // ================================================================ internals

    /// @dev Two readings of one device, feed and sequence with different contents, for a nonzero
    /// beneficiary. Returns their struct hashes (a batch leaf is the same hash).
    function _checkConflict(
        Reading calldata a,
        Reading calldata b,
        address beneficiary
    ) private pure returns (bytes32 hashA, bytes32 hashB) {
        if (beneficiary == address(0)) revert ProofsZeroBeneficiary();
        if (a.deviceId != b.deviceId) revert ProofsDifferentDevice(a.deviceId, b.deviceId);
        if (a.feedId != b.feedId) revert ProofsDifferentFeed(a.feedId, b.feedId);
        if (a.sequence != b.sequence) revert ProofsDifferentSequence(a.sequence, b.sequence);
        hashA = DeviceMessageLib.hashReadingCalldata(a);
        hashB = DeviceMessageLib.hashReadingCalldata(b);
        if (hashA == hashB) revert ProofsSameReading();
    }

    /// @dev A reading of a device whose maker declared its model's sensor range, with a value outside it, for
    /// a nonzero beneficiary. Returns its struct hash (also its batch leaf) and its evidence id: the hash
    /// tagged OutOfBounds whether the reading comes signed alone or as a batch leaf, so one lie is one
    /// incident, proven once in either form.
    function _checkOutOfRange(
        Reading calldata reading,
        address beneficiary
    ) private view returns (bytes32 readingHash, bytes32 id) {
        if (beneficiary == address(0)) revert ProofsZeroBeneficiary();
        IDeviceRegistry.DeviceInfo memory info = REGISTRY.deviceInfo(reading.deviceId);
        StoredRange storage range = _ranges[info.maker][info.model];
        if (!range.declared) revert ProofsNoRangeDeclared(info.maker, info.model);
        (int256 min, int256 max) = (range.min, range.max);
        int256 value = reading.value;
        if (value >= min && value <= max) revert ProofsWithinRange(value, min, max);
        readingHash = DeviceMessageLib.hashReadingCalldata(reading);
        id = keccak256(abi.encode(IncidentKind.OutOfBounds, readingHash));
    }

    /// @dev The evidence id of a pair of conflicting readings: sorted, so swapping the two proves nothing
    /// new, and tagged Equivocation whatever form the evidence takes (two signed readings, a batch leaf
    /// and a reading, two batch leaves), so one conflict is one incident.
    function _evidenceId(IncidentKind kind, bytes32 hashA, bytes32 hashB) private pure returns (bytes32) {
        return hashA < hashB ? keccak256(abi.encode(kind, hashA, hashB)) : keccak256(abi.encode(kind, hashB, hashA));
    }

    function _latest(uint64 a, uint64 b) private pure returns (uint64) {
        return a > b ? a : b;
    }

    /// @dev Fresh, unused evidence against a device that has something to slash. The stake is read
    /// before any signature is checked, so a useless proof fails cheaply.
    function _checkUsable(bytes32 id, DeviceId deviceId, uint64 latestTimestamp) private view {
        // Future timestamps pass: a device that lies about the time is still lying.
        if (uint256(latestTimestamp) + EVIDENCE_WINDOW < block.timestamp) {
            revert ProofsEvidenceExpired(latestTimestamp, EVIDENCE_WINDOW, block.timestamp);
        }
        if (_incidents[id].kind != IncidentKind.None) revert ProofsEvidenceUsed(id);
        if (STAKING.slashableOf(deviceId) == 0) revert ProofsNoStake(deviceId);
    }

    /// @dev `key`, a key the device holds or held, signed the EIP-712 digest of `structHash`, and was the
    /// device's at `signedAt`, the time the evidence says it was signed. A suspended or revoked device's
    /// evidence still counts: what it signed, it signed.
    /// A key the device rotated out counts only for evidence dated before its retirement: after it, the key
    /// may be in anyone's hands (rotating it out is how an operator answers a leak). Its holder dates what it
    /// signs as it likes, so it can still backdate; the window ends that too: such a signature counts at most
    /// EVIDENCE_WINDOW after the retirement, also when the other half of a pair is fresher (_checkUsable
    /// runs the window from the later one). Checked after the signature, so a key that is not the device's
    /// is refused as an invalid signature whatever its history.
    function _checkSignature(
        DeviceId deviceId,
        bytes32 structHash,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature,
        uint64 signedAt
    ) private view {
        bytes32 digest = MessageHashUtils.toTypedDataHash(_domainSeparator(), structHash);
        (bool valid, uint256 retiredAt) = REGISTRY.deviceKeySignature(deviceId, digest, key, signature);
        if (!valid) revert ProofsInvalidSignature(deviceId);
        if (retiredAt == 0) return;
        if (signedAt >= retiredAt) {
            revert ProofsKeyRetired(deviceId, DeviceKeyLib.keyHash(key.keyType, key.key), retiredAt, signedAt);
        }
        if (retiredAt + EVIDENCE_WINDOW < block.timestamp) {
            revert ProofsEvidenceExpired(SafeCast.toUint64(retiredAt), EVIDENCE_WINDOW, block.timestamp);
        }
    }

    /// @dev `b.reading` (whose struct hash is `leaf`) is a leaf of a batch of its device and feed, inside
    /// the batch's sequence range, and the device signed the batch. The batch says it was signed no earlier
    /// than its toTimestamp (its latest reading) and its leaf's own time, which nothing here ties to the
    /// batch's bounds: the later of the two is the time the key must still have been the device's.
    function _checkBatched(BatchedReading calldata b, bytes32 leaf) private view {
        ReadingBatch calldata batch = b.batch;
        Reading calldata reading = b.reading;
        if (
            batch.deviceId != reading.deviceId ||
            batch.feedId != reading.feedId ||
            reading.sequence < batch.firstSequence ||
            reading.sequence > batch.lastSequence
        ) revert ProofsBatchMismatch(reading.deviceId);
        if (!MerkleProof.verifyCalldata(b.proof, batch.root, leaf)) revert ProofsNotInBatch(batch.deviceId, batch.root);
        uint64 signedAt = _latest(batch.toTimestamp, reading.timestamp);
        _checkSignature(batch.deviceId, DeviceMessageLib.hashReadingBatch(batch), b.key, b.signature, signedAt);
    }

    /// @dev The device's own (maker, model) firmware with `measurement` was revoked at or before `timestamp`.
    function _checkRevoked(DeviceId deviceId, bytes32 measurement, uint64 timestamp) private view {
        IDeviceRegistry.DeviceInfo memory info = REGISTRY.deviceInfo(deviceId);
        IDeviceAttestation attestation = IDeviceAttestation(address(REGISTRY));
        uint32 firmwareId = attestation.firmwareIdOfMeasurement(info.maker, info.model, measurement);
        if (firmwareId != 0) {
            (IDeviceAttestation.Firmware memory f, ) = attestation.firmware(firmwareId);
            if (f.status == IDeviceAttestation.FirmwareStatus.Revoked && f.revokedAt <= timestamp) return;
        }
        revert ProofsFirmwareNotRevoked(deviceId, measurement, timestamp);
    }

    /// @dev Records the incident before slashing (checks, effects, interaction): the record is what makes
    /// the evidence used, so it must exist before control leaves this contract. `slashed` is only known
    /// once the slash returns; it is written then (a warm slot) and the event carries it, so the event
    /// follows the interaction. nonReentrant on every proof covers that window.
    /// The incident's time is when the device misbehaved: the evidence's signed timestamp (for a pair, the
    /// later one: the lie is complete once both exist), but never after this block, since nothing proven
    /// now can have been signed later. Insurance pays only for incidents timed inside a policy's term, so
    /// evidence in hand cannot buy a payout.
    function _record(bytes32 id, DeviceId deviceId, IncidentKind kind, uint64 signedAt, address beneficiary) private {
        Incident storage record = _incidents[id];
        uint64 time = signedAt < block.timestamp ? signedAt : uint64(block.timestamp);
        record.deviceId = deviceId;
        _storeIncidentTail(record, kind, time, 0);
        uint256 slashed = STAKING.slash(deviceId, beneficiary, id);
        _storeIncidentTail(record, kind, time, SafeCast.toUint128(slashed));
        emit IncidentRecorded(id, deviceId, kind, beneficiary, slashed);
    }

    /// @dev Writes an incident's second slot, its kind, time and slashed amount, in one store (field by field,
    /// each would read the slot and write it again). Incident's layout: deviceId fills the first slot; the
    /// second packs, from the low bits, uint8 kind, uint64 time, uint128 slashed.
    function _storeIncidentTail(Incident storage record, IncidentKind kind, uint64 time, uint128 slashed) private {
        uint256 word = uint256(uint8(kind)) | (uint256(time) << 8) | (uint256(slashed) << 72);
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            sstore(add(record.slot, 1), word)
        }
    }

    /// @dev The registry's domain for this chain: the cached one while the chain id is the one it was built for
    /// (OpenZeppelin's EIP712 does the same), the registry's rebuilt one after a fork.
    function _domainSeparator() private view returns (bytes32) {
        return block.chainid == CACHED_CHAIN_ID ? CACHED_DOMAIN_SEPARATOR : REGISTRY.DOMAIN_SEPARATOR();
    }
}
