// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {DeviceAttestation} from "../attestation/DeviceAttestation.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {DeviceKeyLib} from "../libraries/DeviceKeyLib.sol";
import {DeviceMessageLib} from "../libraries/DeviceMessageLib.sol";
import {DeviceId} from "../types/DeviceId.sol";
import {DeviceStatus} from "../types/DeviceStatus.sol";
import {KeyType} from "../types/KeyType.sol";

/// @title DeviceRegistry
/// @notice Device identity (see IDeviceRegistry) and, through the DeviceAttestation module, remote
/// attestation and the trust gate (see IDeviceAttestation): one contract, so a trust check reads the
/// device, its evidence and its firmware without an external call.
contract DeviceRegistry is IDeviceRegistry, DeviceAttestation, EIP712, AccessControl {
    /// @notice Adds and removes makers, reinstates suspended devices, revokes compromised ones.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @notice Suspends devices: held by slashing and by circuit breakers.
    bytes32 public constant SUSPENDER_ROLE = keccak256("SUSPENDER_ROLE");
    /// @notice Records evidence it appraised itself (`recordAppraisedEvidence`): held by the appraiser
    /// contracts of hardware evidence formats (TPM 2.0 quotes, PSA tokens) only.
    bytes32 public constant APPRAISER_ROLE = keccak256("APPRAISER_ROLE");
    /// @notice Rotates keys without the current key (`recoverKey`): held by the post-quantum recovery
    /// contract only, which checks a signature by the device's committed post-quantum key.
    bytes32 public constant KEY_RECOVERY_ROLE = keccak256("KEY_RECOVERY_ROLE");

    /// @dev Exactly one storage slot: 20 + 1 + 1 + 2 + 4 + 4 bytes.
    struct DeviceRecord {
        address operator;
        DeviceStatus status;
        KeyType keyType;
        uint16 maker;
        uint32 model;
        uint32 nonce;
    }

    mapping(DeviceId deviceId => DeviceRecord) private _devices;
    /// @dev Written only by a rotation: until then the current key hash is the device id itself.
    mapping(DeviceId deviceId => bytes32 keyHash) private _rotatedKeyHash;
    /// @dev Every key a rotation ever installed, so no key serves two devices, ever. First keys need no
    /// entry: their hash is a device id, and device records are never deleted.
    mapping(bytes32 keyHash => DeviceId deviceId) private _rotatedKeyOwner;
    /// @dev When a rotation replaced each key (the first key's hash is its device id); never written for a
    /// device's current key. uint40 seconds last until the year 36812.
    mapping(bytes32 keyHash => uint40 retiredAt) private _retiredAt;
    mapping(DeviceId deviceId => address to) private _pendingOperator;
    mapping(uint16 maker => Maker) private _makers;
    mapping(address signer => uint16 maker) private _makerBySigner;
    mapping(bytes32 root => Batch) private _batches;
    uint16 private _makerCount;

    /// @notice Deploys the registry under `governance`.
    /// @param governance Holds DEFAULT_ADMIN_ROLE (grants and revokes roles; hand it over by granting
    /// it to the new governance, which then renounces the old one's) and GOVERNOR_ROLE.
    constructor(address governance) EIP712("DeviceTrust", "1") {
        if (governance == address(0)) revert DeviceRegistryZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, governance);
        _grantRole(GOVERNOR_ROLE, governance);
    }

    // ---------------------------------------------------------------- makers

    /// @inheritdoc IDeviceRegistry
    function addMaker(address signer, string calldata name) external onlyRole(GOVERNOR_ROLE) returns (uint16 maker) {
        _requireFreeSigner(signer);
        if (_makerCount == type(uint16).max) revert DeviceRegistryTooManyMakers();
        maker = ++_makerCount;
        _makers[maker] = Maker({signer: signer, active: true});
        _makerBySigner[signer] = maker;
        emit MakerAdded(maker, signer, name);
    }

    /// @inheritdoc IDeviceRegistry
    function setMakerSigner(uint16 maker, address signer) external onlyRole(GOVERNOR_ROLE) {
        Maker storage m = _activeMaker(maker);
        _requireFreeSigner(signer);
        delete _makerBySigner[m.signer];
        m.signer = signer;
        _makerBySigner[signer] = maker;
        emit MakerSignerChanged(maker, signer);
    }

    /// @inheritdoc IDeviceRegistry
    function removeMaker(uint16 maker) external onlyRole(GOVERNOR_ROLE) {
        Maker storage m = _activeMaker(maker);
        m.active = false;
        emit MakerRemoved(maker);
    }

    /// @inheritdoc IDeviceRegistry
    function publishBatch(bytes32 root, uint32 size, string calldata uri) external {
        uint16 maker = _makerBySigner[msg.sender];
        if (maker == 0) revert DeviceRegistryNotMaker(msg.sender);
        _activeMaker(maker);
        if (_batches[root].maker != 0) revert DeviceRegistryBatchExists(root);
        _batches[root] = Batch({maker: maker, revoked: false});
        emit BatchPublished(maker, root, size, uri);
    }

    /// @inheritdoc IDeviceRegistry
    function revokeBatch(bytes32 root) external {
        Batch storage b = _batches[root];
        uint16 maker = b.maker;
        if (maker == 0) revert DeviceRegistryUnknownBatch(root);
        if (b.revoked) revert DeviceRegistryBatchRevoked(root);
        if (_makerBySigner[msg.sender] != maker && !hasRole(GOVERNOR_ROLE, msg.sender)) {
            revert DeviceRegistryNotMaker(msg.sender);
        }
        b.revoked = true;
        emit BatchRevoked(maker, root);
    }

    // ---------------------------------------------------------------- registration

    /// @inheritdoc IDeviceRegistry
    function register(
        Registration calldata registration,
        uint16 maker,
        bytes calldata makerSignature
    ) external returns (DeviceId deviceId) {
        deviceId = _checkRegistration(registration);
        address signer = _activeMaker(maker).signer;
        bytes32 endorsement = _hashTypedDataV4(DeviceMessageLib.hashEndorse(deviceId, registration.model));
        if (!SignatureChecker.isValidSignatureNow(signer, endorsement, makerSignature)) {
            revert DeviceRegistryInvalidMakerSignature(maker, deviceId);
        }
        _register(deviceId, registration, maker);
    }

    /// @inheritdoc IDeviceRegistry
    function registerFromBatch(
        Registration calldata registration,
        bytes32 root,
        bytes32[] calldata proof
    ) external returns (DeviceId deviceId) {
        deviceId = _checkRegistration(registration);
        Batch memory b = _batches[root];
        if (b.maker == 0) revert DeviceRegistryUnknownBatch(root);
        if (b.revoked) revert DeviceRegistryBatchRevoked(root);
        _activeMaker(b.maker);
        if (!MerkleProof.verifyCalldata(proof, root, DeviceMessageLib.manifestLeaf(deviceId, registration.model))) {
            revert DeviceRegistryInvalidBatchProof(root, deviceId);
        }
        _register(deviceId, registration, b.maker);
    }

    // ---------------------------------------------------------------- lifecycle

    /// @inheritdoc IDeviceRegistry
    function rotateKey(DeviceId deviceId, KeyRotation calldata rotation) external {
        DeviceRecord storage d = _devices[deviceId];
        _requireOperator(deviceId, d);
        _requireActive(deviceId, d.status);
        _requireDeadline(rotation.deadline);
        uint32 nonce = d.nonce;
        if (rotation.nonce != nonce) revert DeviceRegistryInvalidNonce(deviceId, nonce, rotation.nonce);
        (bytes32 oldHash, bytes32 newHash) = _checkRotation(deviceId, rotation);
        _installKey(deviceId, d, nonce, oldHash, newHash, rotation.newKey);
    }

    /// @inheritdoc IDeviceRegistry
    function recoverKey(
        DeviceId deviceId,
        DeviceKey calldata newKey,
        uint256 deadline,
        bytes calldata newKeySignature
    ) external onlyRole(KEY_RECOVERY_ROLE) {
        DeviceRecord storage d = _knownDevice(deviceId);
        _requireNotTerminal(deviceId, d.status);
        _requireDeadline(deadline);
        uint32 nonce = d.nonce;
        DeviceKeyLib.checkKey(newKey.keyType, newKey.key);
        bytes32 newHash = DeviceKeyLib.keyHash(newKey.keyType, newKey.key);
        _requireUnusedKey(newHash);
        bytes32 digest = _hashTypedDataV4(DeviceMessageLib.hashRotateKey(deviceId, newHash, nonce, deadline));
        if (!DeviceKeyLib.checkSignature(newKey.keyType, newKey.key, digest, newKeySignature)) {
            revert DeviceRegistryInvalidNewKeySignature(deviceId, newHash);
        }
        _installKey(deviceId, d, nonce, _currentKeyHash(deviceId, nonce), newHash, newKey);
        emit KeyRecovered(deviceId, newHash, msg.sender);
    }

    /// @inheritdoc IDeviceRegistry
    function startCustodyTransfer(DeviceId deviceId, address to) external {
        DeviceRecord storage d = _devices[deviceId];
        _requireOperator(deviceId, d);
        _requireActive(deviceId, d.status);
        if (to == address(0)) revert DeviceRegistryZeroAddress();
        _pendingOperator[deviceId] = to;
        emit CustodyTransferStarted(deviceId, msg.sender, to);
    }

    /// @inheritdoc IDeviceRegistry
    function cancelCustodyTransfer(DeviceId deviceId) external {
        _requireOperator(deviceId, _devices[deviceId]);
        address to = _pendingOperator[deviceId];
        if (to == address(0)) revert DeviceRegistryNoPendingTransfer(deviceId);
        delete _pendingOperator[deviceId];
        emit CustodyTransferCancelled(deviceId, msg.sender, to);
    }

    /// @inheritdoc IDeviceRegistry
    function acceptCustody(DeviceId deviceId) external {
        address to = _pendingOperator[deviceId];
        if (to == address(0)) revert DeviceRegistryNoPendingTransfer(deviceId);
        if (msg.sender != to) revert DeviceRegistryNotPendingOperator(deviceId, msg.sender);
        DeviceRecord storage d = _devices[deviceId];
        _requireActive(deviceId, d.status);
        address from = d.operator;
        d.operator = to;
        delete _pendingOperator[deviceId];
        emit CustodyTransferred(deviceId, from, to);
    }

    /// @inheritdoc IDeviceRegistry
    function suspend(DeviceId deviceId, bytes32 reason) external {
        DeviceRecord storage d = _knownDevice(deviceId);
        if (msg.sender != d.operator && !hasRole(SUSPENDER_ROLE, msg.sender) && !hasRole(GOVERNOR_ROLE, msg.sender))
            revert DeviceRegistryUnauthorized(deviceId, msg.sender);
        _requireActive(deviceId, d.status);
        d.status = DeviceStatus.Suspended;
        _syncEvidenceStatus(deviceId, DeviceStatus.Suspended);
        emit DeviceSuspended(deviceId, msg.sender, reason);
    }

    /// @inheritdoc IDeviceRegistry
    function recordIncident(DeviceId deviceId, bytes32 reason) external {
        DeviceRecord storage d = _knownDevice(deviceId);
        if (!hasRole(SUSPENDER_ROLE, msg.sender) && !hasRole(GOVERNOR_ROLE, msg.sender))
            revert DeviceRegistryUnauthorized(deviceId, msg.sender);
        uint16 incidents = _countIncident(deviceId);
        emit DeviceIncidentRecorded(deviceId, msg.sender, incidents, reason);
        // A suspended device stays suspended, a terminal one terminal.
        if (d.status == DeviceStatus.Active) {
            d.status = DeviceStatus.Suspended;
            _syncEvidenceStatus(deviceId, DeviceStatus.Suspended);
            emit DeviceSuspended(deviceId, msg.sender, reason);
        }
    }

    /// @inheritdoc IDeviceRegistry
    function reinstate(DeviceId deviceId) external onlyRole(GOVERNOR_ROLE) {
        DeviceRecord storage d = _knownDevice(deviceId);
        if (d.status != DeviceStatus.Suspended) revert DeviceRegistryNotSuspended(deviceId, d.status);
        d.status = DeviceStatus.Active;
        _syncEvidenceStatus(deviceId, DeviceStatus.Active);
        emit DeviceReinstated(deviceId, msg.sender);
    }

    /// @inheritdoc IDeviceRegistry
    function revoke(DeviceId deviceId, bytes32 reason) external {
        DeviceRecord storage d = _knownDevice(deviceId);
        if (msg.sender != d.operator && !hasRole(GOVERNOR_ROLE, msg.sender)) {
            revert DeviceRegistryUnauthorized(deviceId, msg.sender);
        }
        _requireNotTerminal(deviceId, d.status);
        d.status = DeviceStatus.Revoked;
        _syncEvidenceStatus(deviceId, DeviceStatus.Revoked);
        delete _pendingOperator[deviceId];
        emit DeviceRevoked(deviceId, msg.sender, reason);
    }

    /// @inheritdoc IDeviceRegistry
    function decommission(DeviceId deviceId) external {
        DeviceRecord storage d = _devices[deviceId];
        _requireOperator(deviceId, d);
        _requireNotTerminal(deviceId, d.status);
        d.status = DeviceStatus.Decommissioned;
        _syncEvidenceStatus(deviceId, DeviceStatus.Decommissioned);
        delete _pendingOperator[deviceId];
        emit DeviceDecommissioned(deviceId, msg.sender);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IDeviceRegistry
    function isValidDeviceSignature(
        DeviceId deviceId,
        bytes32 digest,
        DeviceKey calldata key,
        bytes calldata signature
    ) external view returns (bool) {
        return _isValidDeviceSignature(deviceId, digest, key, signature);
    }

    /// @inheritdoc IDeviceRegistry
    function checkTrustedSignature(
        DeviceId deviceId,
        bytes32 digest,
        DeviceKey calldata key,
        bytes calldata signature,
        uint256 maxAge
    ) external view returns (bool valid, bool trusted) {
        valid = _isValidDeviceSignature(deviceId, digest, key, signature);
        if (valid) trusted = _isTrusted(deviceId, maxAge);
    }

    function _isValidDeviceSignature(
        DeviceId deviceId,
        bytes32 digest,
        DeviceKey calldata key,
        bytes calldata signature
    ) private view returns (bool) {
        // Only the fields it needs, from the one slot (a DeviceRecord memory copy would write every field).
        DeviceRecord storage d = _devices[deviceId];
        (DeviceStatus status, KeyType keyType, uint32 nonce) = (d.status, d.keyType, d.nonce);
        if (status != DeviceStatus.Active || key.keyType != keyType) return false;
        if (DeviceKeyLib.keyHash(key.keyType, key.key) != _currentKeyHash(deviceId, nonce)) return false;
        return DeviceKeyLib.isValidSignature(key.keyType, key.key, digest, signature);
    }

    /// @inheritdoc IDeviceRegistry
    function isDeviceKeySignature(
        DeviceId deviceId,
        bytes32 digest,
        DeviceKey calldata key,
        bytes calldata signature
    ) external view returns (bool valid) {
        (valid, ) = _deviceKeySignature(deviceId, digest, key, signature);
    }

    /// @inheritdoc IDeviceRegistry
    function deviceInfo(DeviceId deviceId) external view returns (DeviceInfo memory info) {
        DeviceRecord memory d = _devices[deviceId];
        if (d.status == DeviceStatus.Unknown) return info;
        info = DeviceInfo({
            status: d.status,
            keyType: d.keyType,
            operator: d.operator,
            maker: d.maker,
            model: d.model,
            nonce: d.nonce,
            keyHash: _currentKeyHash(deviceId, d.nonce),
            pendingOperator: _pendingOperator[deviceId]
        });
    }

    /// @inheritdoc IDeviceRegistry
    /// @dev Three storage reads: the rotated key hash (zero until the first rotation, when the key hash is
    /// the device id), the evidence slot (status copy, age, incident count) and the firmware slot.
    function isTrustedKey(DeviceId deviceId, bytes32 keyHash, uint256 maxAge) external view returns (bool) {
        bytes32 rotated = _rotatedKeyHash[deviceId];
        if (keyHash != (rotated == bytes32(0) ? DeviceId.unwrap(deviceId) : rotated)) return false;
        return _isTrustedWithoutIncident(deviceId, maxAge);
    }

    /// @inheritdoc IDeviceRegistry
    function trustedKeyUntil(DeviceId deviceId, bytes32 keyHash, uint256 maxAge) external view returns (uint256) {
        bytes32 rotated = _rotatedKeyHash[deviceId];
        if (keyHash != (rotated == bytes32(0) ? DeviceId.unwrap(deviceId) : rotated)) return 0;
        if (_incidentsOf(deviceId) != 0) return 0;
        return _trustedUntil(deviceId, maxAge);
    }

    /// @inheritdoc IDeviceRegistry
    function currentKeyHash(DeviceId deviceId) external view returns (bytes32) {
        if (_devices[deviceId].status == DeviceStatus.Unknown) return bytes32(0);
        bytes32 rotated = _rotatedKeyHash[deviceId];
        return rotated == bytes32(0) ? DeviceId.unwrap(deviceId) : rotated;
    }

    /// @inheritdoc IDeviceRegistry
    function incidentsOf(DeviceId deviceId) external view returns (uint256) {
        return _incidentsOf(deviceId);
    }

    /// @inheritdoc IDeviceRegistry
    function statusOf(DeviceId deviceId) external view returns (DeviceStatus) {
        return _devices[deviceId].status;
    }

    /// @inheritdoc IDeviceRegistry
    function operatorOf(DeviceId deviceId) external view returns (address) {
        return _devices[deviceId].operator;
    }

    /// @inheritdoc IDeviceRegistry
    function keyOwner(bytes32 keyHash) external view returns (DeviceId) {
        return _keyOwner(keyHash);
    }

    /// @inheritdoc IDeviceRegistry
    function deviceKeySignature(
        DeviceId deviceId,
        bytes32 digest,
        DeviceKey calldata key,
        bytes calldata signature
    ) external view returns (bool valid, uint256 retiredAt) {
        return _deviceKeySignature(deviceId, digest, key, signature);
    }

    /// @dev Both key-signature views: a key the device holds or held, and when it was retired (0: current).
    function _deviceKeySignature(
        DeviceId deviceId,
        bytes32 digest,
        DeviceKey calldata key,
        bytes calldata signature
    ) private view returns (bool valid, uint256 retiredAt) {
        DeviceRecord storage d = _devices[deviceId];
        (DeviceStatus status, uint32 nonce) = (d.status, d.nonce);
        if (status == DeviceStatus.Unknown) return (false, 0);
        bytes32 keyHash = DeviceKeyLib.keyHash(key.keyType, key.key);
        // The current key (for a device never rotated: its id, no storage read) is retired by definition
        // never; only an earlier key of the device has a retirement time to read.
        if (keyHash != _currentKeyHash(deviceId, nonce)) {
            if (_keyOwner(keyHash) != deviceId) return (false, 0);
            retiredAt = _retiredAt[keyHash];
        }
        valid = DeviceKeyLib.isValidSignature(key.keyType, key.key, digest, signature);
        if (!valid) retiredAt = 0;
    }

    /// @inheritdoc IDeviceRegistry
    function keyRetiredAt(bytes32 keyHash) external view returns (uint256) {
        return _retiredAt[keyHash];
    }

    /// @inheritdoc IDeviceRegistry
    function makerInfo(uint16 maker) external view returns (Maker memory) {
        return _makers[maker];
    }

    /// @inheritdoc IDeviceRegistry
    function makerOf(address signer) external view returns (uint16) {
        return _makerBySigner[signer];
    }

    /// @inheritdoc IDeviceRegistry
    function makerCount() external view returns (uint16) {
        return _makerCount;
    }

    /// @inheritdoc IDeviceRegistry
    function batchInfo(bytes32 root) external view returns (Batch memory) {
        return _batches[root];
    }

    /// @inheritdoc IDeviceRegistry
    // solhint-disable-next-line func-name-mixedcase, use-natspec
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------- attestation hooks

    function _attestationDevice(
        DeviceId deviceId
    ) internal view override returns (DeviceStatus status, address operator, uint16 maker, uint32 model, uint32 nonce) {
        DeviceRecord memory d = _devices[deviceId];
        return (d.status, d.operator, d.maker, d.model, d.nonce);
    }

    function _isCurrentKeySignature(
        DeviceId deviceId,
        uint32 nonce,
        bytes32 digest,
        DeviceKey calldata key,
        bytes calldata signature
    ) internal view override returns (bool) {
        _requireCurrentKeyHash(deviceId, nonce, DeviceKeyLib.keyHash(key.keyType, key.key));
        return DeviceKeyLib.checkSignature(key.keyType, key.key, digest, signature);
    }

    function _requireCurrentKeyHash(DeviceId deviceId, uint32 nonce, bytes32 keyHash) internal view override {
        if (keyHash != _currentKeyHash(deviceId, nonce)) revert DeviceRegistryWrongKey(deviceId, keyHash);
    }

    function _isAppraiser(address account) internal view override returns (bool) {
        return hasRole(APPRAISER_ROLE, account);
    }

    function _deviceDigest(bytes32 structHash) internal view override returns (bytes32) {
        return _hashTypedDataV4(structHash);
    }

    function _activeMakerOf(address account) internal view override returns (uint16 maker) {
        maker = _makerBySigner[account];
        if (maker != 0 && !_makers[maker].active) maker = 0;
    }

    function _isGovernor(address account) internal view override returns (bool) {
        return hasRole(GOVERNOR_ROLE, account);
    }

    // ---------------------------------------------------------------- internals

    /// @dev Every check on the device's side of a registration; returns the new device's id.
    function _checkRegistration(Registration calldata registration) private view returns (DeviceId deviceId) {
        _requireDeadline(registration.deadline);
        if (registration.operator == address(0)) revert DeviceRegistryZeroAddress();
        DeviceKey calldata key = registration.key;
        DeviceKeyLib.checkKey(key.keyType, key.key);
        bytes32 keyHash = DeviceKeyLib.keyHash(key.keyType, key.key);
        _requireUnusedKey(keyHash);
        deviceId = DeviceId.wrap(keyHash);
        bytes32 digest = _hashTypedDataV4(
            DeviceMessageLib.hashRegister(deviceId, registration.operator, 0, registration.deadline)
        );
        if (!DeviceKeyLib.checkSignature(key.keyType, key.key, digest, registration.signature)) {
            revert DeviceRegistryInvalidDeviceSignature(deviceId);
        }
    }

    /// @dev Key and signature checks of a rotation; returns the current (outgoing) key's hash and the new one's.
    function _checkRotation(
        DeviceId deviceId,
        KeyRotation calldata rotation
    ) private view returns (bytes32 currentHash, bytes32 newHash) {
        DeviceKey calldata current = rotation.currentKey;
        DeviceKey calldata next = rotation.newKey;
        currentHash = DeviceKeyLib.keyHash(current.keyType, current.key);
        if (currentHash != _currentKeyHash(deviceId, uint32(rotation.nonce))) {
            revert DeviceRegistryWrongKey(deviceId, currentHash);
        }
        DeviceKeyLib.checkKey(next.keyType, next.key);
        newHash = DeviceKeyLib.keyHash(next.keyType, next.key);
        _requireUnusedKey(newHash);

        bytes32 digest = _hashTypedDataV4(
            DeviceMessageLib.hashRotateKey(deviceId, newHash, rotation.nonce, rotation.deadline)
        );
        if (!DeviceKeyLib.checkSignature(current.keyType, current.key, digest, rotation.currentSignature)) {
            revert DeviceRegistryInvalidDeviceSignature(deviceId);
        }
        if (!DeviceKeyLib.checkSignature(next.keyType, next.key, digest, rotation.newSignature)) {
            revert DeviceRegistryInvalidNewKeySignature(deviceId, newHash);
        }
    }

    /// @dev The effects of a rotation: the new key current, the old one retired now.
    function _installKey(
        DeviceId deviceId,
        DeviceRecord storage d,
        uint32 nonce,
        bytes32 oldHash,
        bytes32 newHash,
        DeviceKey calldata newKey
    ) private {
        d.nonce = nonce + 1;
        d.keyType = newKey.keyType;
        _rotatedKeyHash[deviceId] = newHash;
        _rotatedKeyOwner[newHash] = deviceId;
        // The cast is exact until the year 36812 (see _retiredAt).
        _retiredAt[oldHash] = uint40(block.timestamp);
        // KeyRotated names the new key only: the retired one is the key that was current before it.
        emit KeyRotated(deviceId, newHash, nonce + 1, newKey.keyType, newKey.key);
    }

    function _register(DeviceId deviceId, Registration calldata registration, uint16 maker) private {
        _devices[deviceId] = DeviceRecord({
            operator: registration.operator,
            status: DeviceStatus.Active,
            keyType: registration.key.keyType,
            maker: maker,
            model: registration.model,
            nonce: 0
        });
        emit DeviceRegistered(
            deviceId,
            registration.operator,
            maker,
            registration.model,
            registration.key.keyType,
            registration.key.key
        );
    }

    /// @dev The nonce counts rotations: a device never rotated still has its first key, whose hash is its
    /// id, and costs no storage read here.
    function _currentKeyHash(DeviceId deviceId, uint32 nonce) private view returns (bytes32) {
        return nonce == 0 ? DeviceId.unwrap(deviceId) : _rotatedKeyHash[deviceId];
    }

    function _keyOwner(bytes32 keyHash) private view returns (DeviceId) {
        DeviceId asFirstKey = DeviceId.wrap(keyHash);
        if (_devices[asFirstKey].status != DeviceStatus.Unknown) return asFirstKey;
        return _rotatedKeyOwner[keyHash];
    }

    function _requireUnusedKey(bytes32 keyHash) private view {
        DeviceId owner = _keyOwner(keyHash);
        if (DeviceId.unwrap(owner) != bytes32(0)) revert DeviceRegistryKeyTaken(keyHash, owner);
    }

    function _requireDeadline(uint256 deadline) private view {
        if (block.timestamp > deadline) revert DeviceRegistryExpired(deadline, block.timestamp);
    }

    function _activeMaker(uint16 maker) private view returns (Maker storage m) {
        m = _makers[maker];
        if (m.signer == address(0)) revert DeviceRegistryUnknownMaker(maker);
        if (!m.active) revert DeviceRegistryMakerRemoved(maker);
    }

    function _requireFreeSigner(address signer) private view {
        if (signer == address(0)) revert DeviceRegistryZeroAddress();
        uint16 existing = _makerBySigner[signer];
        if (existing != 0) revert DeviceRegistrySignerIsMaker(signer, existing);
    }

    function _knownDevice(DeviceId deviceId) private view returns (DeviceRecord storage d) {
        d = _devices[deviceId];
        if (d.status == DeviceStatus.Unknown) revert DeviceRegistryUnknownDevice(deviceId);
    }

    function _requireOperator(DeviceId deviceId, DeviceRecord storage d) private view {
        if (d.status == DeviceStatus.Unknown) revert DeviceRegistryUnknownDevice(deviceId);
        if (msg.sender != d.operator) revert DeviceRegistryNotOperator(deviceId, msg.sender);
    }

    function _requireActive(DeviceId deviceId, DeviceStatus status) private pure {
        if (status != DeviceStatus.Active) revert DeviceRegistryNotActive(deviceId, status);
    }

    function _requireNotTerminal(DeviceId deviceId, DeviceStatus status) private pure {
        if (status == DeviceStatus.Revoked || status == DeviceStatus.Decommissioned) {
            revert DeviceRegistryTerminal(deviceId, status);
        }
    }
}
