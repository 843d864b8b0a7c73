// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceId} from "../types/DeviceId.sol";
import {DeviceStatus} from "../types/DeviceStatus.sol";
import {Attestation} from "../types/Messages.sol";
import {IDeviceRegistry} from "./IDeviceRegistry.sol";

/// @title IDeviceAttestation
/// @notice Remote attestation. Makers publish reference values (the final digest of a measured-boot
/// chain, per model and version); devices sign evidence {deviceId, measurement, challenge, timestamp,
/// bootCount} with their registered key; relying contracts ask `isTrusted(deviceId, maxAge)`.
/// @dev Lives in the same deployed contract as the registry (DeviceRegistry inherits it), so a trust
/// check is one call and two storage reads: latest evidence (which carries a copy of the device's
/// status) and firmware.
interface IDeviceAttestation {
    enum FirmwareStatus {
        Unknown,
        Good,
        /// @dev Trusted until its sunset time.
        Deprecated,
        /// @dev Untrusted at once, for every device on it.
        Revoked
    }

    /// @notice Why a device is or is not trusted, as `trustReport` gives it.
    enum TrustVerdict {
        Trusted,
        NotActive,
        NeverAttested,
        Stale,
        FirmwareRevoked,
        FirmwareSunset,
        ModelMismatch
    }

    /// @notice A reference value. One storage slot.
    struct Firmware {
        uint16 maker;
        uint32 model;
        FirmwareStatus status;
        /// @dev For Deprecated: the time from which it is no longer trusted.
        uint64 sunset;
        /// @dev For Revoked: when it was revoked (fraud proofs judge evidence against it).
        uint64 revokedAt;
    }

    /// @notice The latest accepted evidence of a device. One storage slot.
    struct Evidence {
        uint32 firmwareId;
        /// @dev The device-signed timestamp of the evidence.
        uint64 timestamp;
        uint64 bootCount;
        /// @dev The block time at which it was accepted.
        uint64 recordedAt;
        /// @dev A copy of the device's registry status (`statusOf`), kept in sync on every status change
        /// once the device has evidence, so `isTrusted` need not read the device record.
        DeviceStatus status;
        /// @dev How many incidents (proven frauds) were recorded against the device, saturating at 65,535.
        /// Kept in this slot, outside the evidence proper: a new attestation leaves it as it is.
        uint16 incidents;
    }

    struct TrustReport {
        TrustVerdict verdict;
        uint32 firmwareId;
        bytes32 measurement;
        uint64 attestedAt;
        uint64 bootCount;
    }

    error AttestationNotMaker(uint16 maker, address caller);
    error AttestationZeroMeasurement();
    error AttestationVersionExists(uint16 maker, uint32 model, string version);
    error AttestationMeasurementExists(uint16 maker, uint32 model, bytes32 measurement);
    error AttestationUnknownFirmware(uint32 firmwareId);
    error AttestationUnknownVersion(uint16 maker, uint32 model, string version);
    error AttestationInvalidStatusChange(uint32 firmwareId, FirmwareStatus from, FirmwareStatus to);
    error AttestationSunsetInPast(uint64 sunset, uint256 timestamp);
    error AttestationUnknownMeasurement(DeviceId deviceId, bytes32 measurement);
    error AttestationMeasurementOfOtherModel(DeviceId deviceId, bytes32 measurement, uint32 firmwareId);
    error AttestationFirmwareNotTrusted(DeviceId deviceId, uint32 firmwareId, FirmwareStatus status);
    error AttestationInvalidSignature(DeviceId deviceId);
    error AttestationFutureTimestamp(uint64 timestamp, uint256 blockTimestamp);
    error AttestationTooOld(uint64 timestamp, uint256 blockTimestamp, uint256 maxAge);
    error AttestationNotNewer(DeviceId deviceId, uint64 timestamp, uint64 latest);
    error AttestationBootCountDecreased(DeviceId deviceId, uint64 bootCount, uint64 latest);
    error AttestationStaleChallenge(DeviceId deviceId, bytes32 challenge, uint256 challengeBlock);
    error AttestationNotOperator(DeviceId deviceId, address caller);
    error AttestationNotAppraiser(address caller);

    /// @notice A maker published reference values for (model, version).
    event FirmwarePublished(
        uint32 indexed firmwareId,
        uint16 indexed maker,
        uint32 indexed model,
        string version,
        bytes32 measurement,
        string uri,
        bytes32[] imageDigests
    );
    /// @notice A firmware's status changed (Deprecated with its sunset, or Revoked).
    event FirmwareStatusChanged(uint32 indexed firmwareId, FirmwareStatus status, uint64 sunset, address by);
    /// @notice An on-chain nonce a device must put in its next evidence (alternative to a block hash).
    event ChallengeIssued(DeviceId indexed deviceId, bytes32 challenge);
    /// @notice Evidence was accepted: the device runs firmware `firmwareId`.
    event DeviceAttested(DeviceId indexed deviceId, uint32 indexed firmwareId, uint64 timestamp, uint64 bootCount);

    /// @notice The model's maker publishes the expected measurement of (model, version), with a
    /// metadata URI and the digests of the images it was measured from. Returns the firmware id.
    function publishFirmware(
        uint32 model,
        string calldata version,
        bytes32 measurement,
        string calldata uri,
        bytes32[] calldata imageDigests
    ) external returns (uint32 firmwareId);

    /// @notice The maker deprecates a Good firmware: trusted until `sunset`, then not.
    function deprecateFirmware(uint32 firmwareId, uint64 sunset) external;

    /// @notice The maker or governance revokes a firmware: every device on it is untrusted at once.
    function revokeFirmware(uint32 firmwareId) external;

    /// @notice The device's operator (or governance) issues a fresh nonce for `deviceId`'s next evidence,
    /// for devices that cannot see block hashes. Single use, for MAX_EVIDENCE_AGE (its low 64 bits are its
    /// issue time); a new one replaces the pending one.
    function issueChallenge(DeviceId deviceId) external returns (bytes32 challenge);

    /// @notice Accepts signed evidence. `challengeBlock` is the block whose hash is the challenge (or 0
    /// when the challenge is an issued nonce); it must be one of the last 256 blocks.
    function attest(
        Attestation calldata evidence,
        uint256 challengeBlock,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) external;

    /// @notice Records evidence an appraiser contract (APPRAISER_ROLE) verified itself: a hardware
    /// format (TPM 2.0 quote, PSA token) signed by the key with hash `keyHash`, which must be the device's
    /// current key, over `challenge` (an issued nonce, or the hash of `challengeBlock`), attesting
    /// `measurement`. `bootCount` is the hardware's own counter, which must be strictly higher than the
    /// latest evidence's (a TPM's reset count and clock: the same quote is never recorded twice, even over
    /// a block hash that is still recent). The same checks and the same evidence record as `attest`; its
    /// timestamp is the challenge's: the nonce's issue time, or this block's time for a block hash.
    /// Returns the firmware id and the evidence timestamp.
    function recordAppraisedEvidence(
        DeviceId deviceId,
        bytes32 keyHash,
        bytes32 measurement,
        uint64 bootCount,
        bytes32 challenge,
        uint256 challengeBlock
    ) external returns (uint32 firmwareId, uint64 timestamp);

    /// @notice Active, attested within `maxAge` seconds, on firmware of its own model that is Good (or
    /// Deprecated before its sunset).
    function isTrusted(DeviceId deviceId, uint256 maxAge) external view returns (bool);

    /// @notice Why `isTrusted(deviceId, maxAge)` is what it is, and what the device last attested.
    function trustReport(DeviceId deviceId, uint256 maxAge) external view returns (TrustReport memory);

    /// @notice A reference value by id, and its measurement.
    function firmware(uint32 firmwareId) external view returns (Firmware memory, bytes32 measurement);

    /// @notice The firmware id of (maker, model, version), or 0.
    function firmwareIdOf(uint16 maker, uint32 model, string calldata version) external view returns (uint32);

    /// @notice The firmware id of a measurement for (maker, model), or 0.
    function firmwareIdOfMeasurement(uint16 maker, uint32 model, bytes32 measurement) external view returns (uint32);

    /// @notice How many firmware records exist; ids run from 1 to this.
    function firmwareCount() external view returns (uint32);

    /// @notice The latest evidence of a device.
    function evidenceOf(DeviceId deviceId) external view returns (Evidence memory);

    /// @notice The pending issued challenge of a device (zero if none).
    function challengeOf(DeviceId deviceId) external view returns (bytes32);

    /// @notice How old (seconds) evidence may be when it is submitted.
    function maxEvidenceAge() external view returns (uint256);
}
