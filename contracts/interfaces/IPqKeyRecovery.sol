// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceId} from "../types/DeviceId.sol";
import {IDeviceRegistry} from "./IDeviceRegistry.sol";

/// @title IPqKeyRecovery
/// @notice A post-quantum way back for a device key. While its elliptic-curve key is sound, a device commits
/// once to a post-quantum public key: an LMS key (RFC 8554, hash-based: verified here) or an ML-DSA-44 key
/// (FIPS 204: verified off chain until the EVM has a precompile for it). If the curve breaks, or the key
/// leaks, a signature by the committed key alone moves the device to a new key (the registry's
/// KEY_RECOVERY_ROLE). The commitment is write-once for the elliptic-curve key, so a forger of that key
/// cannot replace it: only the post-quantum key replaces itself (an LMS key runs out of leaves).
/// Every message is an EIP-712 message under the registry's domain (DeviceMessageLib: CommitPqKey,
/// RecoverKey, ReplacePqKey); the post-quantum key signs the 32-byte digest as its message.
interface IPqKeyRecovery {
    enum PqScheme {
        None,
        /// @dev An LMS public key (RFC 8554 / SP 800-208), `u32 type ‖ u32 otsType ‖ I ‖ T[1]`.
        Lms,
        /// @dev An ML-DSA-44 public key (FIPS 204, 1,312 bytes).
        MlDsa44
    }

    /// @notice A device's committed post-quantum key: its scheme, the hash, and the nonce of the next message
    /// it signs. One slot and a hash.
    struct PqCommitment {
        bytes32 commitment;
        PqScheme scheme;
        uint32 nonce;
    }

    error PqKeyRecoveryAlreadyCommitted(DeviceId deviceId);
    error PqKeyRecoveryNotCommitted(DeviceId deviceId);
    error PqKeyRecoveryBadCommitment(PqScheme scheme, bytes32 commitment);
    error PqKeyRecoveryExpired(uint256 deadline, uint256 timestamp);
    /// @notice The elliptic-curve signature is not the device's current key's (or the device is not Active).
    error PqKeyRecoveryInvalidDeviceSignature(DeviceId deviceId);
    /// @notice The post-quantum public key given is not the committed one.
    error PqKeyRecoveryWrongPqKey(DeviceId deviceId, bytes32 commitment, bytes32 given);
    /// @notice The post-quantum signature does not verify.
    error PqKeyRecoveryInvalidPqSignature(DeviceId deviceId);
    /// @notice No on-chain verifier for this scheme yet (ML-DSA-44: see `_verifyPq`).
    error PqKeyRecoverySchemeNotOnChain(PqScheme scheme);

    /// @notice The device committed to a post-quantum key (write-once for its elliptic-curve key).
    event PqKeyCommitted(DeviceId indexed deviceId, PqScheme scheme, bytes32 commitment);
    /// @notice The committed post-quantum key replaced itself; `nonce` is the message nonce it signed.
    event PqKeyReplaced(DeviceId indexed deviceId, PqScheme scheme, bytes32 commitment, uint32 nonce);
    /// @notice The committed key recovered the device to the key with hash `newKeyHash` (the registry emits
    /// KeyRotated and KeyRecovered).
    event PqKeyUsed(DeviceId indexed deviceId, bytes32 indexed newKeyHash, uint32 nonce);

    /// @notice Commits `deviceId` to a post-quantum key: `commitment` = keccak256(uint8(scheme) ‖ public
    /// key), signed CommitPqKey{deviceId, scheme, commitment, deadline} by the device's current key `key`
    /// (the device must be Active). Once per device; anyone may submit.
    function commitPqKey(
        DeviceId deviceId,
        PqScheme scheme,
        bytes32 commitment,
        uint256 deadline,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) external;

    /// @notice Rotates the device to `newKey` with the committed post-quantum key alone: `pqPublicKey` is
    /// the committed key, `pqSignature` its signature of RecoverKey{deviceId, keyHash(newKey), nonce,
    /// deadline}; `newKeySignature` the new key's of RotateKey{deviceId, keyHash(newKey), registry key
    /// nonce, deadline} (possession). Anyone may submit. LMS only on chain for now.
    function recoverKey(
        DeviceId deviceId,
        IDeviceRegistry.DeviceKey calldata newKey,
        uint256 deadline,
        bytes calldata newKeySignature,
        bytes calldata pqPublicKey,
        bytes calldata pqSignature
    ) external;

    /// @notice Replaces the committed key with another, signed ReplacePqKey{deviceId, scheme, commitment,
    /// nonce, deadline} by the committed key.
    function replacePqKey(
        DeviceId deviceId,
        PqScheme scheme,
        bytes32 commitment,
        uint256 deadline,
        bytes calldata pqPublicKey,
        bytes calldata pqSignature
    ) external;

    /// @notice The device's committed post-quantum key (scheme None if none).
    function pqCommitmentOf(DeviceId deviceId) external view returns (PqCommitment memory);

    /// @notice keccak256(uint8(scheme) ‖ publicKey): what a device commits to.
    function commitmentOf(PqScheme scheme, bytes calldata publicKey) external pure returns (bytes32);

    /// @notice The registry whose devices this contract recovers (it holds KEY_RECOVERY_ROLE there).
    function registry() external view returns (IDeviceRegistry);
}
