// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IDeviceRegistry} from "./IDeviceRegistry.sol";

/// @title IFirmwareSignatures
/// @notice Post-quantum signatures of firmware reference values. A maker registers an LMS public key (RFC
/// 8554 / SP 800-208: hash-based, what CNSA 2.0 names for firmware signing); a release it published in the
/// registry (`publishFirmware`) is then marked PQ-signed once an LMS signature by that key of the release's
/// manifest FirmwareRelease{maker, model, version, measurement} (EIP-712, registry domain; the LMS key
/// signs the 32-byte digest) verifies here. Anyone may submit the signature; `firmware publish --lms-key`
/// sends both transactions.
interface IFirmwareSignatures {
    /// @notice Who signed a release, with which LMS key (its keccak256) and leaf.
    struct PqSignature {
        bytes32 lmsKeyHash;
        uint32 leaf;
        uint64 signedAt;
    }

    error FirmwareSignaturesNotMaker(address caller);
    error FirmwareSignaturesUnknownFirmware(uint32 firmwareId);
    error FirmwareSignaturesNoLmsKey(uint16 maker);
    error FirmwareSignaturesWrongLmsKey(uint16 maker, bytes32 registered, bytes32 given);
    /// @notice `version` is not the version firmware `firmwareId` was published as.
    error FirmwareSignaturesWrongVersion(uint32 firmwareId, string version);
    error FirmwareSignaturesInvalidSignature(uint32 firmwareId);
    error FirmwareSignaturesAlreadySigned(uint32 firmwareId);

    /// @notice `maker` registered (or replaced) its LMS public key.
    event MakerLmsKeySet(uint16 indexed maker, bytes32 indexed lmsKeyHash, bytes publicKey);
    /// @notice A reference value is PQ-signed: the maker's LMS key signed its manifest at `leaf`.
    event FirmwarePqSigned(uint32 indexed firmwareId, uint16 indexed maker, bytes32 lmsKeyHash, uint32 leaf);

    /// @notice The calling maker (its registry signer) registers its LMS public key.
    function setLmsKey(bytes calldata publicKey) external;

    /// @notice Marks `firmwareId` PQ-signed: `signature` is the maker's LMS signature (by `publicKey`, its
    /// registered key) of the release's manifest digest (`manifestDigest`).
    function signFirmware(
        uint32 firmwareId,
        string calldata version,
        bytes calldata publicKey,
        bytes calldata signature
    ) external;

    /// @notice The EIP-712 digest of firmware `firmwareId`'s manifest, as published as `version`: what the
    /// maker's LMS key signs.
    function manifestDigest(uint32 firmwareId, string calldata version) external view returns (bytes32);

    /// @notice Whether the reference value `firmwareId` carries a verified LMS signature of its maker.
    function isPqSigned(uint32 firmwareId) external view returns (bool);

    /// @notice The LMS key (hash), leaf and time of a release's PQ signature (zero if none).
    function pqSignatureOf(uint32 firmwareId) external view returns (PqSignature memory);

    /// @notice The registry whose makers and firmware this contract reads.
    function registry() external view returns (IDeviceRegistry);

    /// @notice keccak256 of the maker's registered LMS public key (zero if none).
    function lmsKeyOf(uint16 maker) external view returns (bytes32);
}
