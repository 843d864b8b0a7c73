// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IDeviceAttestation} from "../interfaces/IDeviceAttestation.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {DeviceMessageLib} from "../libraries/DeviceMessageLib.sol";
import {DeviceId} from "../types/DeviceId.sol";
import {DeviceStatus} from "../types/DeviceStatus.sol";
import {Attestation} from "../types/Messages.sol";

/// @title DeviceAttestation
/// @notice Reference values, signed evidence and the trust gate. See IDeviceAttestation.
/// @dev An abstract module of the registry: the device record, its key check and the maker table live
/// there and are reached through the hooks at the bottom, so a trust check costs no external call.
abstract contract DeviceAttestation is IDeviceAttestation {
    /// @dev One storage slot.
    struct FirmwareRef {
        uint32 id;
        FirmwareStatus status;
        uint64 sunset;
    }

    /// @notice Evidence older than this when submitted is refused.
    uint256 public constant MAX_EVIDENCE_AGE = 1 hours;
    /// @dev blockhash() answers for the 256 most recent blocks only.
    uint256 private constant _BLOCKHASH_WINDOW = 256;

    mapping(uint32 firmwareId => Firmware) private _firmware;
    mapping(uint32 firmwareId => bytes32 measurement) private _measurements;
    /// @dev keccak256(maker, model, measurement) → the firmware's id and status: the one lookup of every
    /// attestation. Mirrors `_firmware[id].status/sunset` (both change together, on the rare status change)
    /// so an attestation reads one slot instead of two.
    mapping(bytes32 modelMeasurement => FirmwareRef) private _firmwareRefs;
    /// @dev keccak256(maker, model, keccak256(version)) → firmware id.
    mapping(bytes32 modelVersion => uint32 firmwareId) private _firmwareByVersion;
    /// @dev Any firmware with this measurement, to tell "another model's firmware" from "unknown".
    mapping(bytes32 measurement => uint32 firmwareId) private _anyFirmwareOf;
    mapping(DeviceId deviceId => Evidence) private _evidence;
    mapping(DeviceId deviceId => bytes32 challenge) private _challenges;
    uint32 private _firmwareCount;
    uint256 private _challengeNonce;

    // ---------------------------------------------------------------- reference values

    /// @inheritdoc IDeviceAttestation
    function publishFirmware(
        uint32 model,
        string calldata version,
        bytes32 measurement,
        string calldata uri,
        bytes32[] calldata imageDigests
    ) external returns (uint32 firmwareId) {
        uint16 maker = _activeMakerOf(msg.sender);
        if (maker == 0) revert AttestationNotMaker(0, msg.sender);
        if (measurement == bytes32(0)) revert AttestationZeroMeasurement();
        bytes32 versionKey = _versionKey(maker, model, version);
        if (_firmwareByVersion[versionKey] != 0) revert AttestationVersionExists(maker, model, version);
        bytes32 measurementKey = _measurementKey(maker, model, measurement);
        if (_firmwareRefs[measurementKey].id != 0) {
            revert AttestationMeasurementExists(maker, model, measurement);
        }

        firmwareId = ++_firmwareCount;
        _firmware[firmwareId] = Firmware({
            maker: maker,
            model: model,
            status: FirmwareStatus.Good,
            sunset: 0,
            revokedAt: 0
        });
        _measurements[firmwareId] = measurement;
        _firmwareByVersion[versionKey] = firmwareId;
        _firmwareRefs[measurementKey] = FirmwareRef({id: firmwareId, status: FirmwareStatus.Good, sunset: 0});
        if (_anyFirmwareOf[measurement] == 0) _anyFirmwareOf[measurement] = firmwareId;
        emit FirmwarePublished(firmwareId, maker, model, version, measurement, uri, imageDigests);
    }

    /// @inheritdoc IDeviceAttestation
    function deprecateFirmware(uint32 firmwareId, uint64 sunset) external {
        Firmware storage f = _knownFirmware(firmwareId);
        if (_activeMakerOf(msg.sender) != f.maker) revert AttestationNotMaker(f.maker, msg.sender);
        if (f.status != FirmwareStatus.Good) {
            revert AttestationInvalidStatusChange(firmwareId, f.status, FirmwareStatus.Deprecated);
        }
        if (sunset <= block.timestamp) revert AttestationSunsetInPast(sunset, block.timestamp);
        f.status = FirmwareStatus.Deprecated;
        f.sunset = sunset;
        _syncRef(firmwareId, f);
        emit FirmwareStatusChanged(firmwareId, FirmwareStatus.Deprecated, sunset, msg.sender);
    }

    /// @inheritdoc IDeviceAttestation
    function revokeFirmware(uint32 firmwareId) external {
        Firmware storage f = _knownFirmware(firmwareId);
        if (_activeMakerOf(msg.sender) != f.maker && !_isGovernor(msg.sender)) {
            revert AttestationNotMaker(f.maker, msg.sender);
        }
        if (f.status == FirmwareStatus.Revoked) {
            revert AttestationInvalidStatusChange(firmwareId, f.status, FirmwareStatus.Revoked);
        }
        f.status = FirmwareStatus.Revoked;
        f.revokedAt = uint64(block.timestamp);
        _syncRef(firmwareId, f);
        emit FirmwareStatusChanged(firmwareId, FirmwareStatus.Revoked, f.sunset, msg.sender);
    }

    // ---------------------------------------------------------------- evidence

    /// @inheritdoc IDeviceAttestation
    function issueChallenge(DeviceId deviceId) external returns (bytes32 challenge) {
        (DeviceStatus status, address operator, , , ) = _attestationDevice(deviceId);
        _requireAttestable(deviceId, status);
        if (msg.sender != operator && !_isGovernor(msg.sender)) revert AttestationNotOperator(deviceId, msg.sender);
        // 192 unpredictable bits, then the issue time: the challenge dates itself, so evidence over it is
        // refused once it is older than MAX_EVIDENCE_AGE, and appraised evidence takes its time from it.
        challenge = bytes32(
            (uint256(keccak256(abi.encode(block.prevrandao, address(this), deviceId, ++_challengeNonce))) << 64) |
                uint64(block.timestamp)
        );
        _challenges[deviceId] = challenge;
        emit ChallengeIssued(deviceId, challenge);
    }

    /// @inheritdoc IDeviceAttestation
    function attest(
        Attestation calldata evidence,
        uint256 challengeBlock,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) external {
        DeviceId deviceId = evidence.deviceId;
        (DeviceStatus status, , uint16 maker, uint32 model, uint32 nonce) = _attestationDevice(deviceId);
        _requireAttestable(deviceId, status);
        _checkTime(evidence.timestamp);
        _requireNewer(deviceId, evidence.timestamp, evidence.bootCount, false);
        uint32 firmwareId = _firmwareFor(deviceId, maker, model, evidence.measurement);
        _consumeChallenge(deviceId, evidence.challenge, challengeBlock);

        if (
            !_isCurrentKeySignature(
                deviceId,
                nonce,
                // DeviceMessageLib.hashAttestation, hashed from calldata (no copy to memory): a static
                // struct encodes as its fields in order.
                _deviceDigest(DeviceMessageLib.hashAttestationCalldata(evidence)),
                key,
                signature
            )
        ) revert AttestationInvalidSignature(deviceId);

        _recordEvidence(deviceId, firmwareId, evidence.timestamp, evidence.bootCount, status);
    }

    /// @inheritdoc IDeviceAttestation
    function recordAppraisedEvidence(
        DeviceId deviceId,
        bytes32 keyHash,
        bytes32 measurement,
        uint64 bootCount,
        bytes32 challenge,
        uint256 challengeBlock
    ) external returns (uint32 firmwareId, uint64 timestamp) {
        if (!_isAppraiser(msg.sender)) revert AttestationNotAppraiser(msg.sender);
        (DeviceStatus status, , uint16 maker, uint32 model, uint32 nonce) = _attestationDevice(deviceId);
        _requireAttestable(deviceId, status);
        _requireCurrentKeyHash(deviceId, nonce, keyHash);
        timestamp = _consumeChallenge(deviceId, challenge, challengeBlock);
        _requireNewer(deviceId, timestamp, bootCount, true);
        firmwareId = _firmwareFor(deviceId, maker, model, measurement);
        _recordEvidence(deviceId, firmwareId, timestamp, bootCount, status);
    }

    // ---------------------------------------------------------------- trust

    /// @inheritdoc IDeviceAttestation
    /// @dev Exactly `trustReport(deviceId, maxAge).verdict == Trusted`, in two storage reads (evidence,
    /// firmware) instead of three:
    /// - NotActive / NeverAttested: the evidence slot carries a copy of the device's status, equal to the
    ///   registry's whenever the device has evidence (attest writes it, every status change syncs it); a
    ///   never-attested device has an empty slot, whose status reads Unknown, so it is not trusted.
    /// - ModelMismatch cannot happen: attest accepts only firmware published for the device's own maker
    ///   and model, and a device's maker and model never change.
    function isTrusted(DeviceId deviceId, uint256 maxAge) external view returns (bool) {
        return _isTrusted(deviceId, maxAge);
    }

    /// @dev isTrusted, for the registry's combined signature-and-trust check: the trust rule is stated once,
    /// in _trustedUntil.
    function _isTrusted(DeviceId deviceId, uint256 maxAge) internal view returns (bool) {
        return block.timestamp <= _trustedUntil(deviceId, maxAge);
    }

    /// @inheritdoc IDeviceAttestation
    function trustReport(DeviceId deviceId, uint256 maxAge) external view returns (TrustReport memory report) {
        Evidence memory e = _evidence[deviceId];
        report = TrustReport({
            verdict: _verdict(deviceId, maxAge),
            firmwareId: e.firmwareId,
            measurement: _measurements[e.firmwareId],
            attestedAt: e.timestamp,
            bootCount: e.bootCount
        });
    }

    /// @inheritdoc IDeviceAttestation
    function firmware(uint32 firmwareId) external view returns (Firmware memory, bytes32 measurement) {
        return (_firmware[firmwareId], _measurements[firmwareId]);
    }

    /// @inheritdoc IDeviceAttestation
    function firmwareIdOf(uint16 maker, uint32 model, string calldata version) external view returns (uint32) {
        return _firmwareByVersion[_versionKey(maker, model, version)];
    }

    /// @inheritdoc IDeviceAttestation
    function firmwareIdOfMeasurement(uint16 maker, uint32 model, bytes32 measurement) external view returns (uint32) {
        return _firmwareRefs[_measurementKey(maker, model, measurement)].id;
    }

    /// @inheritdoc IDeviceAttestation
    function firmwareCount() external view returns (uint32) {
        return _firmwareCount;
    }

    /// @inheritdoc IDeviceAttestation
    function evidenceOf(DeviceId deviceId) external view returns (Evidence memory) {
        return _evidence[deviceId];
    }

    /// @inheritdoc IDeviceAttestation
    function challengeOf(DeviceId deviceId) external view returns (bytes32) {
        return _challenges[deviceId];
    }

    /// @inheritdoc IDeviceAttestation
    function maxEvidenceAge() external pure returns (uint256) {
        return MAX_EVIDENCE_AGE;
    }

    // ---------------------------------------------------------------- internals

    /// @dev The first reason, in trustReport's order, why the device is not trusted; Trusted otherwise.
    /// Three storage reads: device, evidence, firmware (isTrusted gets the same answer from two).
    function _verdict(DeviceId deviceId, uint256 maxAge) internal view returns (TrustVerdict) {
        (DeviceStatus status, , uint16 maker, uint32 model, ) = _attestationDevice(deviceId);
        if (status != DeviceStatus.Active) return TrustVerdict.NotActive;
        Evidence memory e = _evidence[deviceId];
        if (e.firmwareId == 0) return TrustVerdict.NeverAttested;
        // Evidence timestamps are never in the future when accepted, so this cannot underflow.
        if (block.timestamp - e.timestamp > maxAge) return TrustVerdict.Stale;
        Firmware memory f = _firmware[e.firmwareId];
        if (f.maker != maker || f.model != model) return TrustVerdict.ModelMismatch;
        if (f.status == FirmwareStatus.Revoked) return TrustVerdict.FirmwareRevoked;
        if (f.status == FirmwareStatus.Deprecated && block.timestamp >= f.sunset) return TrustVerdict.FirmwareSunset;
        return TrustVerdict.Trusted;
    }

    function _firmwareFor(
        DeviceId deviceId,
        uint16 maker,
        uint32 model,
        bytes32 measurement
    ) private view returns (uint32 firmwareId) {
        FirmwareRef storage ref = _firmwareRefs[_measurementKey(maker, model, measurement)];
        firmwareId = ref.id;
        if (firmwareId == 0) {
            uint32 other = _anyFirmwareOf[measurement];
            if (other != 0) revert AttestationMeasurementOfOtherModel(deviceId, measurement, other);
            revert AttestationUnknownMeasurement(deviceId, measurement);
        }
        FirmwareStatus status = ref.status;
        if (
            status == FirmwareStatus.Revoked || (status == FirmwareStatus.Deprecated && block.timestamp >= ref.sunset)
        ) {
            revert AttestationFirmwareNotTrusted(deviceId, firmwareId, status);
        }
    }

    /// @dev Evidence must be newer than the device's latest, and its boot count never lower; appraised
    /// evidence's counter (its hardware's clock) strictly higher, so a quote is never recorded twice.
    function _requireNewer(DeviceId deviceId, uint64 timestamp, uint64 bootCount, bool strict) private view {
        Evidence storage latest = _evidence[deviceId];
        (uint64 latestTimestamp, uint64 latestBootCount) = (latest.timestamp, latest.bootCount);
        if (timestamp <= latestTimestamp) revert AttestationNotNewer(deviceId, timestamp, latestTimestamp);
        if (bootCount < latestBootCount || (strict && bootCount == latestBootCount && latestTimestamp != 0)) {
            revert AttestationBootCountDecreased(deviceId, bootCount, latestBootCount);
        }
    }

    /// @dev Stores accepted evidence and says so. The whole Evidence slot is written in one SSTORE (the struct
    /// assignment costs two): fields packed from the low-order end in declaration order: firmwareId (32 bits),
    /// timestamp, bootCount, recordedAt (64 bits each), status (8 bits). The status copy starts in sync here;
    /// the registry keeps it so (`_syncEvidenceStatus`).
    function _recordEvidence(
        DeviceId deviceId,
        uint32 firmwareId,
        uint64 timestamp,
        uint64 bootCount,
        DeviceStatus status
    ) private {
        Evidence storage e = _evidence[deviceId];
        uint256 packed =
            uint256(firmwareId) |
                (uint256(timestamp) << 32) |
                (uint256(bootCount) << 96) |
                (uint256(uint64(block.timestamp)) << 160) |
                (uint256(uint8(status)) << 224);
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            // The incident count (bits 232 to 247) is the device's history, not its evidence: it stays.
            sstore(e.slot, or(packed, and(sload(e.slot), shl(232, 0xffff))))
        }
        emit DeviceAttested(deviceId, firmwareId, timestamp, bootCount);
    }

    /// @dev The registry calls this after every change of a device's status, so the copy in the evidence
    /// slot stays equal to it. A device without evidence has nothing to sync (attest writes the status).
    function _syncEvidenceStatus(DeviceId deviceId, DeviceStatus status) internal {
        Evidence storage e = _evidence[deviceId];
        if (e.firmwareId != 0) e.status = status;
    }

    /// @dev One more incident against the device (saturating): the registry calls this for every proven
    /// fraud. Kept in the evidence slot, which every trust check reads anyway, so asking whether a device
    /// has a record costs no extra storage read.
    function _countIncident(DeviceId deviceId) internal returns (uint16 incidents) {
        Evidence storage e = _evidence[deviceId];
        incidents = e.incidents;
        if (incidents != type(uint16).max) e.incidents = ++incidents;
    }

    function _incidentsOf(DeviceId deviceId) internal view returns (uint16) {
        return _evidence[deviceId].incidents;
    }

    /// @dev The last second at which the device is trusted with its evidence as it stands, from two slots
    /// (evidence, firmware) and without reading the clock (for ERC-4337 validation, where TIMESTAMP is
    /// banned): active, attested within maxAge, on Good firmware or on Deprecated firmware before its
    /// sunset. 0 if never. isTrusted is `block.timestamp <= _trustedUntil`.
    function _trustedUntil(DeviceId deviceId, uint256 maxAge) internal view returns (uint256) {
        Evidence storage e = _evidence[deviceId];
        (DeviceStatus status, uint64 timestamp, uint32 firmwareId) = (e.status, e.timestamp, e.firmwareId);
        if (status != DeviceStatus.Active) return 0;
        uint256 until = maxAge > type(uint256).max - timestamp ? type(uint256).max : timestamp + maxAge;
        Firmware storage f = _firmware[firmwareId];
        FirmwareStatus fs = f.status;
        if (fs == FirmwareStatus.Good) return until;
        if (fs != FirmwareStatus.Deprecated || f.sunset == 0) return 0;
        return until < f.sunset ? until : f.sunset - 1;
    }

    /// @dev isTrusted and no incident recorded, from the one evidence slot and the firmware slot.
    function _isTrustedWithoutIncident(DeviceId deviceId, uint256 maxAge) internal view returns (bool) {
        return _evidence[deviceId].incidents == 0 && _isTrusted(deviceId, maxAge);
    }

    function _syncRef(uint32 firmwareId, Firmware storage f) private {
        FirmwareRef storage ref = _firmwareRefs[_measurementKey(f.maker, f.model, _measurements[firmwareId])];
        ref.status = f.status;
        ref.sunset = f.sunset;
    }

    function _checkTime(uint64 timestamp) private view {
        if (timestamp > block.timestamp) revert AttestationFutureTimestamp(timestamp, block.timestamp);
        if (block.timestamp - timestamp > MAX_EVIDENCE_AGE) {
            revert AttestationTooOld(timestamp, block.timestamp, MAX_EVIDENCE_AGE);
        }
    }

    /// @dev Fresh means: the hash of one of the last 256 blocks, or the device's pending issued nonce issued
    /// within MAX_EVIDENCE_AGE (consumed here, so it serves once). Returns the latest time the evidence can
    /// be known to be from: the issue time of a nonce, the current block's time for a block hash (no block
    /// time is readable on chain for an older block; such evidence is at most 256 blocks older).
    function _consumeChallenge(
        DeviceId deviceId,
        bytes32 challenge,
        uint256 challengeBlock
    ) private returns (uint64 freshAt) {
        if (challengeBlock != 0) {
            if (
                challengeBlock < block.number &&
                block.number - challengeBlock <= _BLOCKHASH_WINDOW &&
                blockhash(challengeBlock) == challenge
            ) return uint64(block.timestamp);
        } else if (challenge != bytes32(0) && _challenges[deviceId] == challenge) {
            // The low 64 bits are the issue time (issueChallenge), never after this block.
            freshAt = uint64(uint256(challenge));
            if (block.timestamp - freshAt <= MAX_EVIDENCE_AGE) {
                delete _challenges[deviceId];
                return freshAt;
            }
        }
        revert AttestationStaleChallenge(deviceId, challenge, challengeBlock);
    }

    function _requireAttestable(DeviceId deviceId, DeviceStatus status) private pure {
        // A suspended device re-attests before governance reinstates it; terminal ones never again.
        if (status == DeviceStatus.Unknown) revert IDeviceRegistry.DeviceRegistryUnknownDevice(deviceId);
        if (status == DeviceStatus.Revoked || status == DeviceStatus.Decommissioned) {
            revert IDeviceRegistry.DeviceRegistryTerminal(deviceId, status);
        }
    }

    function _knownFirmware(uint32 firmwareId) private view returns (Firmware storage f) {
        f = _firmware[firmwareId];
        if (f.status == FirmwareStatus.Unknown) revert AttestationUnknownFirmware(firmwareId);
    }

    function _versionKey(uint16 maker, uint32 model, string calldata version) private pure returns (bytes32) {
        return keccak256(abi.encode(maker, model, keccak256(bytes(version))));
    }

    function _measurementKey(uint16 maker, uint32 model, bytes32 measurement) private pure returns (bytes32) {
        return keccak256(abi.encode(maker, model, measurement));
    }

    // ---------------------------------------------------------------- hooks (implemented by the registry)

    /// @dev The device's status, operator, maker, model and key nonce (all zero for an unknown device).
    function _attestationDevice(
        DeviceId deviceId
    ) internal view virtual returns (DeviceStatus status, address operator, uint16 maker, uint32 model, uint32 nonce);

    /// @dev Whether `key` is the device's current key (given its key `nonce`, as `_attestationDevice`
    /// read it) and `signature` a valid signature by it over `digest`; reverts on a malformed signature or
    /// a key that is not the device's.
    function _isCurrentKeySignature(
        DeviceId deviceId,
        uint32 nonce,
        bytes32 digest,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) internal view virtual returns (bool);

    /// @dev Reverts unless `keyHash` is the device's current key hash (given its key `nonce`).
    function _requireCurrentKeyHash(DeviceId deviceId, uint32 nonce, bytes32 keyHash) internal view virtual;

    /// @dev Whether `account` may record evidence it appraised (an appraiser contract).
    function _isAppraiser(address account) internal view virtual returns (bool);

    /// @dev The EIP-712 digest of a device message under the registry's domain.
    function _deviceDigest(bytes32 structHash) internal view virtual returns (bytes32);

    /// @dev The active maker whose key is `account`, or 0.
    function _activeMakerOf(address account) internal view virtual returns (uint16);

    function _isGovernor(address account) internal view virtual returns (bool);
}
