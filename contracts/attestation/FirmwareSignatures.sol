// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {IDeviceAttestation} from "../interfaces/IDeviceAttestation.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {IFirmwareSignatures} from "../interfaces/IFirmwareSignatures.sol";
import {DeviceMessageLib} from "../libraries/DeviceMessageLib.sol";
import {LmsLib} from "../libraries/LmsLib.sol";

/// @title FirmwareSignatures
/// @notice LMS signatures of the registry's firmware reference values. See IFirmwareSignatures.
/// @dev Reads the registry (makers, firmware) and holds no role in it: a PQ signature adds to a reference
/// value, it never changes whether a device on it is trusted.
contract FirmwareSignatures is IFirmwareSignatures {
    IDeviceRegistry private immutable _REGISTRY;
    mapping(uint16 maker => bytes32 lmsKeyHash) private _lmsKeys;
    mapping(uint32 firmwareId => PqSignature) private _signatures;

    constructor(IDeviceRegistry registry_) {
        _REGISTRY = registry_;
    }

    /// @inheritdoc IFirmwareSignatures
    function setLmsKey(bytes calldata publicKey) external {
        uint16 maker = _REGISTRY.makerOf(msg.sender);
        if (maker == 0 || !_REGISTRY.makerInfo(maker).active) revert FirmwareSignaturesNotMaker(msg.sender);
        bytes32 keyHash = keccak256(publicKey);
        _lmsKeys[maker] = keyHash;
        emit MakerLmsKeySet(maker, keyHash, publicKey);
    }

    /// @inheritdoc IFirmwareSignatures
    function signFirmware(
        uint32 firmwareId,
        string calldata version,
        bytes calldata publicKey,
        bytes calldata signature
    ) external {
        if (_signatures[firmwareId].lmsKeyHash != bytes32(0)) revert FirmwareSignaturesAlreadySigned(firmwareId);
        (uint16 maker, bytes32 digest) = _manifest(firmwareId, version);
        bytes32 registered = _lmsKeys[maker];
        if (registered == bytes32(0)) revert FirmwareSignaturesNoLmsKey(maker);
        bytes32 given = keccak256(publicKey);
        if (given != registered) revert FirmwareSignaturesWrongLmsKey(maker, registered, given);
        if (!LmsLib.verify(publicKey, digest, signature)) revert FirmwareSignaturesInvalidSignature(firmwareId);
        // The leaf index q is the signature's first four bytes (LmsLib checked the length).
        uint32 leaf = uint32(bytes4(signature[:4]));
        _signatures[firmwareId] = PqSignature({lmsKeyHash: given, leaf: leaf, signedAt: uint64(block.timestamp)});
        emit FirmwarePqSigned(firmwareId, maker, given, leaf);
    }

    /// @inheritdoc IFirmwareSignatures
    function manifestDigest(uint32 firmwareId, string calldata version) external view returns (bytes32 digest) {
        (, digest) = _manifest(firmwareId, version);
    }

    /// @inheritdoc IFirmwareSignatures
    function isPqSigned(uint32 firmwareId) external view returns (bool) {
        return _signatures[firmwareId].lmsKeyHash != bytes32(0);
    }

    /// @inheritdoc IFirmwareSignatures
    function pqSignatureOf(uint32 firmwareId) external view returns (PqSignature memory) {
        return _signatures[firmwareId];
    }

    /// @inheritdoc IFirmwareSignatures
    function registry() external view returns (IDeviceRegistry) {
        return _REGISTRY;
    }

    /// @inheritdoc IFirmwareSignatures
    function lmsKeyOf(uint16 maker) external view returns (bytes32) {
        return _lmsKeys[maker];
    }

    /// @dev The firmware's maker and its manifest digest, once `version` is checked to be its version.
    function _manifest(uint32 firmwareId, string calldata version) private view returns (uint16, bytes32) {
        IDeviceAttestation attestation = IDeviceAttestation(address(_REGISTRY));
        (IDeviceAttestation.Firmware memory f, bytes32 measurement) = attestation.firmware(firmwareId);
        if (f.status == IDeviceAttestation.FirmwareStatus.Unknown) revert FirmwareSignaturesUnknownFirmware(firmwareId);
        if (attestation.firmwareIdOf(f.maker, f.model, version) != firmwareId) {
            revert FirmwareSignaturesWrongVersion(firmwareId, version);
        }
        bytes32 structHash = DeviceMessageLib.hashFirmwareRelease(f.maker, f.model, version, measurement);
        return (f.maker, MessageHashUtils.toTypedDataHash(_REGISTRY.DOMAIN_SEPARATOR(), structHash));
    }
}
