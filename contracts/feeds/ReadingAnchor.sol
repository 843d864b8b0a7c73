// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {DeviceMessageLib} from "../libraries/DeviceMessageLib.sol";
import {DeviceId} from "../types/DeviceId.sol";
import {Reading, ReadingBatch} from "../types/Messages.sol";

/// @title ReadingAnchor
/// @notice Provenance: a device signs the Merkle root of a batch of its readings (a ReadingBatch) and
/// anyone anchors it here, once per (device, feed, root), at a cost independent of the batch's size.
/// Afterwards anyone proves that a reading is in an anchored batch with a Merkle proof; a reading that
/// conflicts with an anchored one (same sequence, other content) is equivocation evidence for FraudProofs.
/// @dev Leaves are DeviceMessageLib.hashReading (the reading's EIP-712 struct hash) in a sorted-pair
/// keccak tree, as OpenZeppelin's SimpleMerkleTree builds it. One storage slot per batch.
contract ReadingAnchor {
    /// @notice What is kept of an anchored batch. One storage slot.
    struct Anchor {
        uint40 anchoredAt;
        uint64 firstSequence;
        uint64 lastSequence;
        uint40 fromTimestamp;
        uint40 toTimestamp;
    }

    /// @dev The DeviceRegistry whose devices sign batches.
    IDeviceRegistry private immutable REGISTRY;
    /// @dev Read once: batches are signed under the registry's EIP-712 domain.
    bytes32 private immutable DOMAIN_SEPARATOR;

    mapping(bytes32 key => Anchor) private _anchors;

    error ReadingAnchorZeroAddress();
    error ReadingAnchorInvalidBatch(uint64 firstSequence, uint64 lastSequence, uint64 count);
    error ReadingAnchorInvalidTimes(uint64 fromTimestamp, uint64 toTimestamp, uint256 blockTimestamp);
    error ReadingAnchorZeroRoot();
    error ReadingAnchorAlreadyAnchored(DeviceId deviceId, bytes32 feedId, bytes32 root);
    error ReadingAnchorInvalidSignature(DeviceId deviceId);

    /// @notice A device-signed batch root was anchored. `batchHash` is the ReadingBatch struct hash.
    event BatchAnchored(
        DeviceId indexed deviceId,
        bytes32 indexed feedId,
        bytes32 indexed root,
        bytes32 batchHash,
        uint64 firstSequence,
        uint64 lastSequence,
        uint64 count
    );

    /// @notice Binds the anchor to one registry.
    constructor(address registry) {
        if (registry == address(0)) revert ReadingAnchorZeroAddress();
        REGISTRY = IDeviceRegistry(registry);
        DOMAIN_SEPARATOR = IDeviceRegistry(registry).DOMAIN_SEPARATOR();
    }

    /// @notice Anchors a batch signed by its (active) device's current key. The batch must be sane:
    /// firstSequence <= lastSequence, 1 <= count <= lastSequence - firstSequence + 1, fromTimestamp <=
    /// toTimestamp <= now, a non-zero root.
    function anchor(
        ReadingBatch calldata batch,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) external {
        if (
            batch.firstSequence > batch.lastSequence ||
            batch.count == 0 ||
            batch.count - 1 > batch.lastSequence - batch.firstSequence
        ) revert ReadingAnchorInvalidBatch(batch.firstSequence, batch.lastSequence, batch.count);
        if (batch.fromTimestamp > batch.toTimestamp || batch.toTimestamp > block.timestamp) {
            revert ReadingAnchorInvalidTimes(batch.fromTimestamp, batch.toTimestamp, block.timestamp);
        }
        if (batch.root == bytes32(0)) revert ReadingAnchorZeroRoot();
        bytes32 key_ = _key(batch.deviceId, batch.feedId, batch.root);
        if (_anchors[key_].anchoredAt != 0) {
            revert ReadingAnchorAlreadyAnchored(batch.deviceId, batch.feedId, batch.root);
        }
        // ReadingBatch is a static struct: abi.encode lays out its fields as hashReadingBatch does.
        bytes32 batchHash = keccak256(abi.encode(DeviceMessageLib.READING_BATCH_TYPEHASH, batch));
        bytes32 digest = MessageHashUtils.toTypedDataHash(DOMAIN_SEPARATOR, batchHash);
        if (!REGISTRY.isValidDeviceSignature(batch.deviceId, digest, key, signature)) {
            revert ReadingAnchorInvalidSignature(batch.deviceId);
        }
        // Timestamps are at most block.timestamp (checked), so they fit in uint40.
        _anchors[key_] = Anchor({
            anchoredAt: uint40(block.timestamp),
            firstSequence: batch.firstSequence,
            lastSequence: batch.lastSequence,
            fromTimestamp: uint40(batch.fromTimestamp),
            toTimestamp: uint40(batch.toTimestamp)
        });
        emit BatchAnchored(
            batch.deviceId,
            batch.feedId,
            batch.root,
            batchHash,
            batch.firstSequence,
            batch.lastSequence,
            batch.count
        );
    }

    /// @notice Whether the device anchored `root` for `feedId`.
    function isAnchored(DeviceId deviceId, bytes32 feedId, bytes32 root) external view returns (bool) {
        return _anchors[_key(deviceId, feedId, root)].anchoredAt != 0;
    }

    /// @notice The anchored batch (all zero if none).
    function anchorOf(DeviceId deviceId, bytes32 feedId, bytes32 root) external view returns (Anchor memory) {
        return _anchors[_key(deviceId, feedId, root)];
    }

    /// @notice True iff `reading`'s device anchored `root` for its feed, the reading lies within the
    /// batch's sequence and time ranges, and `proof` shows its struct hash is a leaf of `root`.
    function verifyReading(
        Reading calldata reading,
        bytes32[] calldata proof,
        bytes32 root
    ) external view returns (bool) {
        Anchor memory a = _anchors[_key(reading.deviceId, reading.feedId, root)];
        if (a.anchoredAt == 0) return false;
        if (reading.sequence < a.firstSequence || reading.sequence > a.lastSequence) return false;
        if (reading.timestamp < a.fromTimestamp || reading.timestamp > a.toTimestamp) return false;
        return MerkleProof.verifyCalldata(proof, root, DeviceMessageLib.hashReadingCalldata(reading));
    }

    function _key(DeviceId deviceId, bytes32 feedId, bytes32 root) private pure returns (bytes32) {
        return keccak256(abi.encode(deviceId, feedId, root));
    }
}
