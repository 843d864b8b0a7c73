// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {IPqKeyRecovery} from "../interfaces/IPqKeyRecovery.sol";
import {DeviceKeyLib} from "../libraries/DeviceKeyLib.sol";
import {DeviceMessageLib} from "../libraries/DeviceMessageLib.sol";
import {LmsLib} from "../libraries/LmsLib.sol";
import {DeviceId} from "../types/DeviceId.sol";

/// @title PqKeyRecovery
/// @notice Post-quantum key commitments and recovery. See IPqKeyRecovery.
/// @dev Holds the registry's KEY_RECOVERY_ROLE. Messages are digested under the registry's EIP-712 domain
/// (read from the registry, so they bind its chain and address as every device message does).
contract PqKeyRecovery is IPqKeyRecovery {
    IDeviceRegistry private immutable _REGISTRY;
    mapping(DeviceId deviceId => PqCommitment) private _commitments;

    constructor(IDeviceRegistry registry_) {
        _REGISTRY = registry_;
    }

    /// @inheritdoc IPqKeyRecovery
    function commitPqKey(
        DeviceId deviceId,
        PqScheme scheme,
        bytes32 commitment,
        uint256 deadline,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) external {
        _requireDeadline(deadline);
        if (scheme == PqScheme.None || commitment == bytes32(0)) {
            revert PqKeyRecoveryBadCommitment(scheme, commitment);
        }
        PqCommitment storage c = _commitments[deviceId];
        // Write-once for the elliptic-curve key: whoever forges it later cannot move the way back.
        if (c.scheme != PqScheme.None) revert PqKeyRecoveryAlreadyCommitted(deviceId);
        bytes32 digest = _digest(DeviceMessageLib.hashCommitPqKey(deviceId, uint8(scheme), commitment, deadline));
        if (!_REGISTRY.isValidDeviceSignature(deviceId, digest, key, signature)) {
            revert PqKeyRecoveryInvalidDeviceSignature(deviceId);
        }
        c.commitment = commitment;
        c.scheme = scheme;
        emit PqKeyCommitted(deviceId, scheme, commitment);
    }

    /// @inheritdoc IPqKeyRecovery
    function recoverKey(
        DeviceId deviceId,
        IDeviceRegistry.DeviceKey calldata newKey,
        uint256 deadline,
        bytes calldata newKeySignature,
        bytes calldata pqPublicKey,
        bytes calldata pqSignature
    ) external {
        _requireDeadline(deadline);
        _useForRecovery(deviceId, DeviceKeyLib.keyHash(newKey.keyType, newKey.key), deadline, pqPublicKey, pqSignature);
        // The registry checks the new key (unused, well formed, its possession signature) and rotates.
        _REGISTRY.recoverKey(deviceId, newKey, deadline, newKeySignature);
    }

    /// @inheritdoc IPqKeyRecovery
    function replacePqKey(
        DeviceId deviceId,
        PqScheme scheme,
        bytes32 commitment,
        uint256 deadline,
        bytes calldata pqPublicKey,
        bytes calldata pqSignature
    ) external {
        _requireDeadline(deadline);
        if (scheme == PqScheme.None || commitment == bytes32(0)) {
            revert PqKeyRecoveryBadCommitment(scheme, commitment);
        }
        PqCommitment storage c = _commitments[deviceId];
        (PqScheme current, uint32 nonce) = _committedKey(deviceId, c, pqPublicKey);
        bytes32 digest = _digest(
            DeviceMessageLib.hashReplacePqKey(deviceId, uint8(scheme), commitment, nonce, deadline)
        );
        if (!_verifyPq(current, pqPublicKey, digest, pqSignature)) revert PqKeyRecoveryInvalidPqSignature(deviceId);
        c.commitment = commitment;
        c.scheme = scheme;
        c.nonce = nonce + 1;
        emit PqKeyReplaced(deviceId, scheme, commitment, nonce);
    }

    /// @inheritdoc IPqKeyRecovery
    function pqCommitmentOf(DeviceId deviceId) external view returns (PqCommitment memory) {
        return _commitments[deviceId];
    }

    /// @inheritdoc IPqKeyRecovery
    function commitmentOf(PqScheme scheme, bytes calldata publicKey) external pure returns (bytes32) {
        return _commitmentOf(scheme, publicKey);
    }

    /// @inheritdoc IPqKeyRecovery
    function registry() external view returns (IDeviceRegistry) {
        return _REGISTRY;
    }

    /// @dev Checks the committed key signed RecoverKey{deviceId, newKeyHash, nonce, deadline}; spends the nonce.
    function _useForRecovery(
        DeviceId deviceId,
        bytes32 newKeyHash,
        uint256 deadline,
        bytes calldata pqPublicKey,
        bytes calldata pqSignature
    ) private {
        PqCommitment storage c = _commitments[deviceId];
        (PqScheme scheme, uint32 nonce) = _committedKey(deviceId, c, pqPublicKey);
        bytes32 digest = _digest(DeviceMessageLib.hashRecoverKey(deviceId, newKeyHash, nonce, deadline));
        if (!_verifyPq(scheme, pqPublicKey, digest, pqSignature)) revert PqKeyRecoveryInvalidPqSignature(deviceId);
        c.nonce = nonce + 1;
        emit PqKeyUsed(deviceId, newKeyHash, nonce);
    }

    /// @dev The committed scheme and nonce, once `pqPublicKey` is checked to be the committed key.
    function _committedKey(
        DeviceId deviceId,
        PqCommitment storage c,
        bytes calldata pqPublicKey
    ) private view returns (PqScheme scheme, uint32 nonce) {
        bytes32 commitment;
        (commitment, scheme, nonce) = (c.commitment, c.scheme, c.nonce);
        if (scheme == PqScheme.None) revert PqKeyRecoveryNotCommitted(deviceId);
        bytes32 given = _commitmentOf(scheme, pqPublicKey);
        if (given != commitment) revert PqKeyRecoveryWrongPqKey(deviceId, commitment, given);
    }

    /// @dev The seam for post-quantum verifiers. LMS is hash-based: verified here with the SHA-256
    /// precompile. ML-DSA-44 needs lattice arithmetic no contract can afford today: once the EVM has a
    /// precompile for it (EIP-8051 proposes one), its call goes here, and ML-DSA-committed devices recover
    /// on chain too; until then their recovery signature is checked off chain (src/verify/pq.ts) and
    /// governance acts on it.
    function _verifyPq(
        PqScheme scheme,
        bytes calldata publicKey,
        bytes32 digest,
        bytes calldata signature
    ) private view returns (bool) {
        if (scheme == PqScheme.Lms) return LmsLib.verify(publicKey, digest, signature);
        revert PqKeyRecoverySchemeNotOnChain(scheme);
    }

    function _digest(bytes32 structHash) private view returns (bytes32) {
        return MessageHashUtils.toTypedDataHash(_REGISTRY.DOMAIN_SEPARATOR(), structHash);
    }

    function _requireDeadline(uint256 deadline) private view {
        if (block.timestamp > deadline) revert PqKeyRecoveryExpired(deadline, block.timestamp);
    }

    function _commitmentOf(PqScheme scheme, bytes calldata publicKey) private pure returns (bytes32) {
        return keccak256(abi.encodePacked(uint8(scheme), publicKey));
    }
}
