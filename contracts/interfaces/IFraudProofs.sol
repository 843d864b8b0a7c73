// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IDeviceRegistry} from "./IDeviceRegistry.sol";
import {DeviceId} from "../types/DeviceId.sol";
import {Attestation, Reading, ReadingBatch} from "../types/Messages.sol";

/// @title IFraudProofs
/// @notice Objective fraud proofs, checked entirely on chain. Each piece of evidence is usable once and
/// within the evidence window (shorter than the staking unbonding period); each accepted proof slashes
/// the device through IDeviceStaking (bounty to the named beneficiary, so a proof copied from the mempool
/// earns its copier nothing) and records an incident that insurance pays on.
/// Signatures count by the device's current key, and by a key it rotated out (IDeviceRegistry.keyRetiredAt)
/// only over evidence the key dated before its retirement, and only until the evidence window has passed
/// since that retirement. Whoever holds a rotated-out key (a leaked one) can still backdate what it signs,
/// so the bound is this: a key stops being its device's liability at most one evidence window after the
/// rotation that retired it. A leaked key is a liability until rotated: rotate fast.
interface IFraudProofs {
    enum IncidentKind {
        None,
        Equivocation,
        BatchEquivocation,
        OutOfBounds,
        RevokedFirmware
    }

    /// @notice A recorded incident; its id is the evidence hash. Two storage slots.
    struct Incident {
        DeviceId deviceId;
        IncidentKind kind;
        /// @dev When the device misbehaved: the evidence's signed timestamp (the later of a conflicting
        /// pair), capped at the block that recorded the proof.
        uint64 time;
        uint128 slashed;
    }

    /// @notice A signed reading as evidence: the reading, the key that signed it (any key the device ever
    /// held, if still its key at the reading's timestamp) and the signature over its EIP-712 digest.
    struct SignedReading {
        Reading reading;
        IDeviceRegistry.DeviceKey key;
        bytes signature;
    }

    /// @notice A reading proven to be inside a device-signed batch.
    struct BatchedReading {
        ReadingBatch batch;
        IDeviceRegistry.DeviceKey key;
        bytes signature;
        Reading reading;
        bytes32[] proof;
    }

    /// @notice The physical range a maker declares for a model's sensor (inclusive).
    struct SensorRange {
        int256 min;
        int256 max;
    }

    error ProofsSameReading();
    error ProofsDifferentDevice(DeviceId a, DeviceId b);
    error ProofsDifferentFeed(bytes32 a, bytes32 b);
    error ProofsDifferentSequence(uint64 a, uint64 b);
    error ProofsInvalidSignature(DeviceId deviceId);
    error ProofsNotInBatch(DeviceId deviceId, bytes32 root);
    error ProofsBatchMismatch(DeviceId deviceId);
    error ProofsEvidenceUsed(bytes32 evidenceHash);
    /// @notice The window ran out: `timestamp` is the evidence's latest signed timestamp, or the time a
    /// rotation retired a key that signed part of it (that part's liability ends one window after it).
    error ProofsEvidenceExpired(uint64 timestamp, uint256 window, uint256 blockTimestamp);
    error ProofsNoStake(DeviceId deviceId);
    error ProofsZeroBeneficiary();
    error ProofsNoRangeDeclared(uint16 maker, uint32 model);
    error ProofsWithinRange(int256 value, int256 min, int256 max);
    error ProofsInvalidRange(int256 min, int256 max);
    error ProofsNotMaker(address caller);
    error ProofsFirmwareNotRevoked(DeviceId deviceId, bytes32 measurement, uint64 timestamp);
    /// @notice The key with hash `keyHash` signed evidence of `deviceId` dated `signedAt`, at or after
    /// `retiredAt`, when a rotation retired it: it was no longer the device's key then, so no proof applies.
    /// For a batch leaf, `signedAt` is the later of the batch's toTimestamp and the leaf's timestamp.
    error ProofsKeyRetired(DeviceId deviceId, bytes32 keyHash, uint256 retiredAt, uint64 signedAt);

    /// @notice A proof was accepted: the device was slashed by `slashed` and an incident recorded.
    event IncidentRecorded(
        bytes32 indexed incident,
        DeviceId indexed deviceId,
        IncidentKind indexed kind,
        address beneficiary,
        uint256 slashed
    );
    /// @notice A maker declared the physical range of a model's sensor.
    event SensorRangeSet(uint16 indexed maker, uint32 indexed model, int256 min, int256 max);

    /// @notice Two signed readings with the same device, feed and sequence and different contents.
    function proveEquivocation(
        SignedReading calldata a,
        SignedReading calldata b,
        address beneficiary
    ) external returns (bytes32 incident);

    /// @notice A reading inside a signed batch against another signed reading with the same device, feed
    /// and sequence and different contents.
    function proveBatchEquivocation(
        BatchedReading calldata a,
        SignedReading calldata b,
        address beneficiary
    ) external returns (bytes32 incident);

    /// @notice Two batch leaves (each in its own signed batch) with the same device, feed and sequence and
    /// different contents.
    function proveBatchPairEquivocation(
        BatchedReading calldata a,
        BatchedReading calldata b,
        address beneficiary
    ) external returns (bytes32 incident);

    /// @notice A signed reading outside the range the maker declared for the device's model.
    /// @dev The incident id is keccak256(abi.encode(IncidentKind.OutOfBounds, the reading's struct hash)), the
    /// same as proveBatchOutOfBounds gives the same reading as a batch leaf: proven in one form, it is refused
    /// in the other (ProofsEvidenceUsed).
    function proveOutOfBounds(SignedReading calldata r, address beneficiary) external returns (bytes32 incident);

    /// @notice A reading inside a device-signed batch (its Merkle proof against the batch root, the batch's
    /// signature by any key the device ever held) outside the range the maker declared for the device's
    /// model. The same rules as proveOutOfBounds: the evidence window runs from the reading's own signed
    /// timestamp (the batch's bounds play no part), and the incident, kind OutOfBounds, has the same id as
    /// the same reading proven alone, so one reading is proven once whichever form comes first. A batch
    /// signed by a rotated-out key counts only if the later of its toTimestamp and the leaf's timestamp is
    /// before the key's retirement (ProofsKeyRetired).
    function proveBatchOutOfBounds(BatchedReading calldata r, address beneficiary) external returns (bytes32 incident);

    /// @notice A signed attestation naming a measurement that was already revoked at its timestamp.
    function proveRevokedFirmware(
        Attestation calldata evidence,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature,
        address beneficiary
    ) external returns (bytes32 incident);

    /// @notice The maker of `model` declares its sensor's physical range (min <= max).
    function setSensorRange(uint32 model, int256 min, int256 max) external;

    /// @notice A recorded incident (kind None if unknown).
    function incident(bytes32 id) external view returns (Incident memory);

    /// @notice The declared sensor range of (maker, model) and whether one was declared.
    function sensorRange(uint16 maker, uint32 model) external view returns (SensorRange memory, bool declared);

    /// @notice How long after its (latest) timestamp evidence is accepted, in seconds; also how long after
    /// its retirement a rotated-out key's signature still counts (over evidence dated before it).
    function evidenceWindow() external view returns (uint256);
}
