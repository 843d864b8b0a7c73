// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceId} from "../types/DeviceId.sol";
import {DeviceStatus} from "../types/DeviceStatus.sol";
import {KeyType} from "../types/KeyType.sol";

/// @title IDeviceRegistry
/// @notice Hardware-anchored device identity: makers vouch for device keys, operators register devices
/// with proof of key possession, keys rotate, custody moves in two steps, and every other DeviceTrust
/// contract asks one question here: "is this a valid signature of device D over digest H?".
/// @dev Storage holds one slot per device (the current key hash only after a rotation: before it, the key
/// hash is the device id) and, per rotation, the new key's owner and the old key's retirement time. Keys
/// themselves travel in calldata and events.
interface IDeviceRegistry {
    /// @notice A device key as submitted: its type and its bytes (see KeyType for the encodings).
    struct DeviceKey {
        KeyType keyType;
        bytes key;
    }

    /// @notice A registration request: the device's key and its Register signature over
    /// {deviceId, operator, nonce: 0, deadline}, plus the model its maker endorsed.
    struct Registration {
        DeviceKey key;
        address operator;
        uint32 model;
        uint256 deadline;
        bytes signature;
    }

    /// @notice A key rotation: both keys sign RotateKey{deviceId, keyHash(newKey), nonce, deadline}: the
    /// current key to authorize it, the new key to prove possession.
    struct KeyRotation {
        DeviceKey currentKey;
        DeviceKey newKey;
        uint256 nonce;
        uint256 deadline;
        bytes currentSignature;
        bytes newSignature;
    }

    /// @notice Everything the registry knows of a device.
    struct DeviceInfo {
        DeviceStatus status;
        KeyType keyType;
        address operator;
        uint16 maker;
        uint32 model;
        uint32 nonce;
        bytes32 keyHash;
        address pendingOperator;
    }

    struct Maker {
        address signer;
        bool active;
    }

    struct Batch {
        uint16 maker;
        bool revoked;
    }

    // ---------------------------------------------------------------- errors

    error DeviceRegistryZeroAddress();
    error DeviceRegistryUnknownMaker(uint16 maker);
    error DeviceRegistryMakerRemoved(uint16 maker);
    error DeviceRegistrySignerIsMaker(address signer, uint16 maker);
    error DeviceRegistryTooManyMakers();
    error DeviceRegistryNotMaker(address caller);
    error DeviceRegistryInvalidMakerSignature(uint16 maker, DeviceId deviceId);
    error DeviceRegistryBatchExists(bytes32 root);
    error DeviceRegistryUnknownBatch(bytes32 root);
    error DeviceRegistryBatchRevoked(bytes32 root);
    error DeviceRegistryInvalidBatchProof(bytes32 root, DeviceId deviceId);
    error DeviceRegistryExpired(uint256 deadline, uint256 timestamp);
    error DeviceRegistryKeyTaken(bytes32 keyHash, DeviceId owner);
    error DeviceRegistryInvalidDeviceSignature(DeviceId deviceId);
    error DeviceRegistryInvalidNewKeySignature(DeviceId deviceId, bytes32 newKeyHash);
    error DeviceRegistryUnknownDevice(DeviceId deviceId);
    error DeviceRegistryWrongKey(DeviceId deviceId, bytes32 keyHash);
    error DeviceRegistryInvalidNonce(DeviceId deviceId, uint256 expected, uint256 provided);
    error DeviceRegistryNotActive(DeviceId deviceId, DeviceStatus status);
    error DeviceRegistryNotSuspended(DeviceId deviceId, DeviceStatus status);
    error DeviceRegistryTerminal(DeviceId deviceId, DeviceStatus status);
    error DeviceRegistryNotOperator(DeviceId deviceId, address caller);
    error DeviceRegistryUnauthorized(DeviceId deviceId, address caller);
    error DeviceRegistryNoPendingTransfer(DeviceId deviceId);
    error DeviceRegistryNotPendingOperator(DeviceId deviceId, address caller);

    // ---------------------------------------------------------------- events

    /// @notice Governance added maker `maker` whose key is `signer`.
    event MakerAdded(uint16 indexed maker, address indexed signer, string name);
    /// @notice Governance replaced the maker's key.
    event MakerSignerChanged(uint16 indexed maker, address indexed signer);
    /// @notice Governance removed the maker; its endorsements no longer register devices.
    event MakerRemoved(uint16 indexed maker);
    /// @notice A maker published a production batch's manifest root.
    event BatchPublished(uint16 indexed maker, bytes32 indexed root, uint32 size, string uri);
    /// @notice A batch can no longer register devices.
    event BatchRevoked(uint16 indexed maker, bytes32 indexed root);
    /// @notice The full key is here (not in storage): indexers and verifiers read it from this event.
    event DeviceRegistered(
        DeviceId indexed deviceId,
        address indexed operator,
        uint16 indexed maker,
        uint32 model,
        KeyType keyType,
        bytes key
    );
    /// @notice The device's key changed; `key` is the new key (the registry stores only its hash). The key it
    /// replaced (the one current before it) is retired at this block's time: see keyRetiredAt.
    event KeyRotated(DeviceId indexed deviceId, bytes32 indexed newKeyHash, uint32 nonce, KeyType keyType, bytes key);
    /// @notice The rotation just announced (KeyRotated) was a recovery by `recoverer` (KEY_RECOVERY_ROLE:
    /// the post-quantum recovery contract), without the current key's signature.
    event KeyRecovered(DeviceId indexed deviceId, bytes32 indexed newKeyHash, address recoverer);
    /// @notice The operator offered the device to `to`.
    event CustodyTransferStarted(DeviceId indexed deviceId, address indexed from, address indexed to);
    /// @notice The operator withdrew its offer.
    event CustodyTransferCancelled(DeviceId indexed deviceId, address indexed from, address indexed to);
    /// @notice `to` accepted custody: it is now the operator.
    event CustodyTransferred(DeviceId indexed deviceId, address indexed from, address indexed to);
    /// @notice The device stopped counting as valid until governance reinstates it.
    event DeviceSuspended(DeviceId indexed deviceId, address indexed by, bytes32 reason);
    /// @notice A fraud was proven against the device (`incidents` so far, saturating at 65,535); an active
    /// device is suspended with it. A device with a record never counts as a machine account's signer again
    /// (isTrustedKey), whatever its status later.
    event DeviceIncidentRecorded(DeviceId indexed deviceId, address indexed by, uint16 incidents, bytes32 reason);
    /// @notice Governance returned the device to Active.
    event DeviceReinstated(DeviceId indexed deviceId, address indexed by);
    /// @notice The device's key is compromised; terminal.
    event DeviceRevoked(DeviceId indexed deviceId, address indexed by, bytes32 reason);
    /// @notice The operator retired the device; terminal.
    event DeviceDecommissioned(DeviceId indexed deviceId, address indexed by);

    // ---------------------------------------------------------------- makers (governance and makers)

    /// @notice Governance adds a manufacturer whose key (`signer`) endorses devices. Returns its id.
    function addMaker(address signer, string calldata name) external returns (uint16 maker);

    /// @notice Governance replaces a maker's key. Endorsements by the old key stop verifying.
    function setMakerSigner(uint16 maker, address signer) external;

    /// @notice Governance removes a maker: its endorsements and batches no longer register devices.
    /// Devices already registered keep their identity (revoke them one by one if they are bad).
    function removeMaker(uint16 maker) external;

    /// @notice The maker's key publishes the Merkle root of a production batch's key manifest
    /// (StandardMerkleTree over [deviceId, model]).
    function publishBatch(bytes32 root, uint32 size, string calldata uri) external;

    /// @notice The batch's maker or governance revokes a batch: its unregistered devices can no longer
    /// register with it.
    function revokeBatch(bytes32 root) external;

    // ---------------------------------------------------------------- registration

    /// @notice Registers a device endorsed by one maker signature over Endorse{deviceId, model}.
    function register(
        Registration calldata registration,
        uint16 maker,
        bytes calldata makerSignature
    ) external returns (DeviceId deviceId);

    /// @notice Registers a device endorsed by membership in a published production batch.
    function registerFromBatch(
        Registration calldata registration,
        bytes32 root,
        bytes32[] calldata proof
    ) external returns (DeviceId deviceId);

    // ---------------------------------------------------------------- lifecycle

    /// @notice The operator rotates the device's key (see KeyRotation). The device id stays; the old key
    /// never becomes usable again, by this device or any other, and is retired at this block's time
    /// (keyRetiredAt): evidence it dates at or after that time no longer counts against the device.
    function rotateKey(DeviceId deviceId, KeyRotation calldata rotation) external;

    /// @notice A recovery contract (KEY_RECOVERY_ROLE) rotates a device that is not terminal to `newKey`
    /// without the current key: it has checked a signature by the device's committed post-quantum key.
    /// The new key proves possession as in a rotation (RotateKey{deviceId, keyHash(newKey), nonce,
    /// deadline} under this domain); the old key is retired as by rotateKey.
    function recoverKey(
        DeviceId deviceId,
        DeviceKey calldata newKey,
        uint256 deadline,
        bytes calldata newKeySignature
    ) external;

    /// @notice Step one of a custody transfer, by the current operator. Replaces any pending transfer.
    function startCustodyTransfer(DeviceId deviceId, address to) external;

    /// @notice The current operator withdraws a pending transfer.
    function cancelCustodyTransfer(DeviceId deviceId) external;

    /// @notice Step two, by the new operator.
    function acceptCustody(DeviceId deviceId) external;

    /// @notice Operator, SUSPENDER_ROLE (slashing, circuit breakers) or governance suspends an active device.
    function suspend(DeviceId deviceId, bytes32 reason) external;

    /// @notice SUSPENDER_ROLE (slashing) or governance records a proven fraud against the device: its
    /// incident count goes up and, if it is active, it is suspended with `reason`. Any status but Unknown.
    function recordIncident(DeviceId deviceId, bytes32 reason) external;

    /// @notice Governance returns a suspended device to Active (after re-attestation).
    function reinstate(DeviceId deviceId) external;

    /// @notice Operator or governance marks the device's key compromised. Terminal.
    function revoke(DeviceId deviceId, bytes32 reason) external;

    /// @notice The operator retires the device. Terminal; its keys are never usable again.
    function decommission(DeviceId deviceId) external;

    // ---------------------------------------------------------------- views

    /// @notice isValidDeviceSignature and, when the signature is valid, isTrusted(deviceId, maxAge) of the
    /// attestation layer, in one call: what a feed checks for every reading. Never reverts.
    function checkTrustedSignature(
        DeviceId deviceId,
        bytes32 digest,
        DeviceKey calldata key,
        bytes calldata signature,
        uint256 maxAge
    ) external view returns (bool valid, bool trusted);

    /// @notice True iff the device is Active, `key` is its current key and `signature` is a canonical
    /// signature by that key over `digest`. Never reverts.
    function isValidDeviceSignature(
        DeviceId deviceId,
        bytes32 digest,
        DeviceKey calldata key,
        bytes calldata signature
    ) external view returns (bool);

    /// @notice True iff `key` is or ever was a key of `deviceId` (whatever its status) and `signature`
    /// is a canonical signature by it over `digest`: for evidence of what a device once signed.
    /// @dev Whether the key was still the device's when it signed is the caller's question: compare the
    /// time the evidence claims with keyRetiredAt (FraudProofs does).
    function isDeviceKeySignature(
        DeviceId deviceId,
        bytes32 digest,
        DeviceKey calldata key,
        bytes calldata signature
    ) external view returns (bool);

    /// @notice What a machine account asks of each device that signed for it, in one call: the key with
    /// hash `keyHash` is the device's current key AND the device is trusted now (isTrusted within `maxAge`)
    /// AND no incident was ever recorded against it. Never reverts.
    function isTrustedKey(DeviceId deviceId, bytes32 keyHash, uint256 maxAge) external view returns (bool);

    /// @notice isTrustedKey without the clock: the last second at which it holds (0 if never), so that
    /// isTrustedKey(deviceId, keyHash, maxAge) is `block.timestamp <= trustedKeyUntil(...)`. For ERC-4337
    /// validation, where reading the time is banned (a paymaster returns it as validUntil). Never reverts.
    function trustedKeyUntil(DeviceId deviceId, bytes32 keyHash, uint256 maxAge) external view returns (uint256);

    /// @notice The hash of the device's current key (the device id until its first rotation; zero for an
    /// unknown id).
    function currentKeyHash(DeviceId deviceId) external view returns (bytes32);

    /// @notice How many incidents were recorded against the device (saturating at 65,535).
    function incidentsOf(DeviceId deviceId) external view returns (uint256);

    /// @notice Everything the registry knows of a device (all zero for an unknown id).
    function deviceInfo(DeviceId deviceId) external view returns (DeviceInfo memory);

    /// @notice The device's lifecycle status (Unknown for an unknown id).
    function statusOf(DeviceId deviceId) external view returns (DeviceStatus);

    /// @notice The device's operator (zero for an unknown id).
    function operatorOf(DeviceId deviceId) external view returns (address);

    /// @notice The device that holds or held the key with this hash (zero if none ever did).
    function keyOwner(bytes32 keyHash) external view returns (DeviceId);

    /// @notice isDeviceKeySignature and keyRetiredAt in one call (what a fraud proof checks per signature):
    /// `valid` iff `key` is a key the device holds or held and `signature` is a canonical signature by it
    /// over `digest`; `retiredAt` is 0 for its current key, else when that key was rotated out. Never reverts.
    function deviceKeySignature(
        DeviceId deviceId,
        bytes32 digest,
        DeviceKey calldata key,
        bytes calldata signature
    ) external view returns (bool valid, uint256 retiredAt);

    /// @notice When the key with this hash stopped being its device's key: the block time of the rotation
    /// that replaced it (its KeyRotated event names the new key; the retired one is the key current before
    /// it). 0 for a device's current key and for a key no device ever held.
    /// @dev A holder of a rotated-out key (a leaked one) can still sign anything and date it as it likes:
    /// FraudProofs counts such a signature only over evidence dated before this time, and only within the
    /// evidence window of it, so the device's liability for the key ends one evidence window after this.
    function keyRetiredAt(bytes32 keyHash) external view returns (uint256);

    /// @notice A maker's key and whether it is active.
    function makerInfo(uint16 maker) external view returns (Maker memory);

    /// @notice The maker whose key is `signer` (0 if none).
    function makerOf(address signer) external view returns (uint16);

    /// @notice How many makers were ever added; ids run from 1 to this.
    function makerCount() external view returns (uint16);

    /// @notice A published batch's maker and revocation (maker 0 if unknown).
    function batchInfo(bytes32 root) external view returns (Batch memory);

    /// @notice The EIP-712 domain separator every device message is signed under.
    // solhint-disable-next-line func-name-mixedcase, use-natspec
    function DOMAIN_SEPARATOR() external view returns (bytes32);
}
