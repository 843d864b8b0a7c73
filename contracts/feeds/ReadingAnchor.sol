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
/// anyone anchors it here, at a cost independent of the batch's size. Afterwards anyone proves that a
/// reading is in an anchored batch with a Merkle proof; a reading that conflicts with an anchored one
/// (same sequence, other content) is equivocation evidence for FraudProofs.
///
/// Each (device, feed) has one chain: its batches are anchored in sequence order, each starting after the
/// last one ended, so every sequence number lies in at most one anchored batch and no batch is anchored
/// twice. The chain keeps one storage slot, rewritten by each anchor: the last anchored sequence and the
/// head of a hash chain over the batches' struct hashes, head = keccak256(previous head, batch hash)
/// truncated to 24 bytes (96-bit collision resistance). A batch is proven anchored by hashing forward from
/// it to the stored head, or to a checkpoint: anyone may store the current head as a checkpoint (one slot,
/// once), so a proof never needs more than the batches anchored since the last checkpoint. The
/// `BatchAnchored` events carry every batch hash and head, so the forward hashes come from the log.
/// @dev Leaves are DeviceMessageLib.hashReading (the reading's EIP-712 struct hash) in a sorted-pair
/// keccak tree, as OpenZeppelin's SimpleMerkleTree builds it.
contract ReadingAnchor {
    /// @notice A device-signed batch, as anchorMany takes it.
    struct SignedBatch {
        ReadingBatch batch;
        IDeviceRegistry.DeviceKey key;
        bytes signature;
    }

    /// @notice Why anchorMany skipped a batch (anchor reverts with the matching error instead).
    enum Rejection {
        None,
        InvalidBatch,
        InvalidTimes,
        ZeroRoot,
        SequenceNotAfter,
        InvalidSignature
    }

    /// @notice One (device, feed) chain. One storage slot.
    struct Cursor {
        bytes24 head;
        uint64 lastSequence;
    }

    /// @dev The DeviceRegistry whose devices sign batches.
    IDeviceRegistry private immutable REGISTRY;
    /// @dev The registry's EIP-712 domain read at deployment, and the chain id it was built for: devices sign
    /// under the registry's domain, which names the chain; after a fork (a new chain id) `_domainSeparator`
    /// asks the registry again, so old-chain signatures stop counting.
    bytes32 private immutable CACHED_DOMAIN_SEPARATOR;
    uint256 private immutable CACHED_CHAIN_ID;

    mapping(bytes32 chain => Cursor) private _cursors;
    mapping(bytes32 chain => mapping(bytes24 head => uint256 at)) private _checkpoints;

    error ReadingAnchorZeroAddress();
    error ReadingAnchorInvalidBatch(uint64 firstSequence, uint64 lastSequence, uint64 count);
    error ReadingAnchorInvalidTimes(uint64 fromTimestamp, uint64 toTimestamp, uint256 blockTimestamp);
    error ReadingAnchorZeroRoot();
    error ReadingAnchorSequenceNotAfter(DeviceId deviceId, bytes32 feedId, uint64 firstSequence, uint64 lastAnchored);
    error ReadingAnchorInvalidSignature(DeviceId deviceId);
    error ReadingAnchorNothingAnchored(DeviceId deviceId, bytes32 feedId);

    /// @notice A device-signed batch was anchored: `batchHash` is its ReadingBatch struct hash and `head` the
    /// chain's new head, keccak256(previous head, batchHash) truncated to 24 bytes.
    event BatchAnchored(DeviceId indexed deviceId, bytes32 indexed feedId, bytes32 batchHash, bytes24 head);
    /// @notice anchorMany skipped the batch starting at `firstSequence`.
    event BatchRejected(DeviceId indexed deviceId, bytes32 indexed feedId, uint64 firstSequence, Rejection reason);
    /// @notice `head` of the (device, feed) chain was stored: proofs may end there.
    event Checkpointed(DeviceId indexed deviceId, bytes32 indexed feedId, bytes24 head);

    /// @notice Binds the anchor to one registry.
    constructor(address registry) {
        if (registry == address(0)) revert ReadingAnchorZeroAddress();
        REGISTRY = IDeviceRegistry(registry);
        CACHED_DOMAIN_SEPARATOR = IDeviceRegistry(registry).DOMAIN_SEPARATOR();
        CACHED_CHAIN_ID = block.chainid;
    }

    /// @notice Anchors a batch signed by its (active) device's current key. The batch must be sane:
    /// firstSequence <= lastSequence, 1 <= count <= lastSequence - firstSequence + 1, fromTimestamp <=
    /// toTimestamp <= now, a non-zero root; and it must start after the last batch anchored for its device
    /// and feed (sequences start at 1).
    function anchor(
        ReadingBatch calldata batch,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) external {
        Rejection rejection = _anchor(batch, key, signature);
        if (rejection == Rejection.None) return;
        if (rejection == Rejection.InvalidBatch) {
            revert ReadingAnchorInvalidBatch(batch.firstSequence, batch.lastSequence, batch.count);
        }
        if (rejection == Rejection.InvalidTimes) {
            revert ReadingAnchorInvalidTimes(batch.fromTimestamp, batch.toTimestamp, block.timestamp);
        }
        if (rejection == Rejection.ZeroRoot) revert ReadingAnchorZeroRoot();
        if (rejection == Rejection.SequenceNotAfter) {
            revert ReadingAnchorSequenceNotAfter(
                batch.deviceId,
                batch.feedId,
                batch.firstSequence,
                _cursors[_chain(batch.deviceId, batch.feedId)].lastSequence
            );
        }
        revert ReadingAnchorInvalidSignature(batch.deviceId);
    }

    /// @notice Anchors several batches in one transaction (a gateway's pending batches of many devices):
    /// the transaction's base cost is shared. A batch `anchor` would refuse is skipped with
    /// BatchRejected; the others are anchored in order.
    /// @return anchored How many were anchored.
    function anchorMany(SignedBatch[] calldata batches) external returns (uint256 anchored) {
        for (uint256 i; i < batches.length; ++i) {
            SignedBatch calldata b = batches[i];
            Rejection rejection = _anchor(b.batch, b.key, b.signature);
            if (rejection == Rejection.None) {
                ++anchored;
            } else {
                emit BatchRejected(b.batch.deviceId, b.batch.feedId, b.batch.firstSequence, rejection);
            }
        }
    }

    /// @notice Stores the current head of (deviceId, feedId)'s chain, so proofs may end there.
    function checkpoint(DeviceId deviceId, bytes32 feedId) external {
        bytes32 chain = _chain(deviceId, feedId);
        bytes24 head = _cursors[chain].head;
        if (head == bytes24(0)) revert ReadingAnchorNothingAnchored(deviceId, feedId);
        if (_checkpoints[chain][head] != 0) return;
        _checkpoints[chain][head] = block.timestamp;
        emit Checkpointed(deviceId, feedId, head);
    }

    /// @notice The chain of (deviceId, feedId): its head and the last anchored sequence (zero if none).
    function cursorOf(DeviceId deviceId, bytes32 feedId) external view returns (Cursor memory) {
        return _cursors[_chain(deviceId, feedId)];
    }

    /// @notice When `head` was checkpointed for (deviceId, feedId), or 0.
    function checkpointedAt(DeviceId deviceId, bytes32 feedId, bytes24 head) external view returns (uint256) {
        return _checkpoints[_chain(deviceId, feedId)][head];
    }

    /// @notice Whether `batch` was anchored: hashing forward from `previousHead` (the head before it, from
    /// its BatchAnchored event's predecessor; zero for the first) through the batch and `laterBatchHashes`
    /// (the batch hashes anchored after it, in order) reaches the current head or a checkpoint.
    function isAnchored(
        ReadingBatch calldata batch,
        bytes24 previousHead,
        bytes32[] calldata laterBatchHashes
    ) public view returns (bool) {
        bytes24 head = _link(previousHead, DeviceMessageLib.hashReadingBatchCalldata(batch));
        for (uint256 i; i < laterBatchHashes.length; ++i) head = _link(head, laterBatchHashes[i]);
        bytes32 chain = _chain(batch.deviceId, batch.feedId);
        return head == _cursors[chain].head || _checkpoints[chain][head] != 0;
    }

    /// @notice True iff `batch` is anchored (see isAnchored), `reading` is its device's and feed's and lies
    /// within the batch's sequence and time ranges, and `proof` shows its struct hash is a leaf of the root.
    function verifyReading(
        Reading calldata reading,
        bytes32[] calldata proof,
        ReadingBatch calldata batch,
        bytes24 previousHead,
        bytes32[] calldata laterBatchHashes
    ) external view returns (bool) {
        if (DeviceId.unwrap(reading.deviceId) != DeviceId.unwrap(batch.deviceId)) return false;
        if (reading.feedId != batch.feedId) return false;
        if (reading.sequence < batch.firstSequence || reading.sequence > batch.lastSequence) return false;
        if (reading.timestamp < batch.fromTimestamp || reading.timestamp > batch.toTimestamp) return false;
        if (!MerkleProof.verifyCalldata(proof, batch.root, DeviceMessageLib.hashReadingCalldata(reading))) {
            return false;
        }
        return isAnchored(batch, previousHead, laterBatchHashes);
    }

    /// @dev Checks a batch (cheap checks first, the signature last) and anchors it if it passes.
    function _anchor(
        ReadingBatch calldata batch,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) private returns (Rejection) {
        if (
            batch.firstSequence > batch.lastSequence ||
            batch.count == 0 ||
            batch.count - 1 > batch.lastSequence - batch.firstSequence
        ) return Rejection.InvalidBatch;
        if (batch.fromTimestamp > batch.toTimestamp || batch.toTimestamp > block.timestamp) {
            return Rejection.InvalidTimes;
        }
        if (batch.root == bytes32(0)) return Rejection.ZeroRoot;
        bytes32 chain = _chain(batch.deviceId, batch.feedId);
        Cursor memory cursor = _cursors[chain];
        if (batch.firstSequence <= cursor.lastSequence) return Rejection.SequenceNotAfter;
        bytes32 batchHash = DeviceMessageLib.hashReadingBatchCalldata(batch);
        bytes32 digest = MessageHashUtils.toTypedDataHash(_domainSeparator(), batchHash);
        if (!REGISTRY.isValidDeviceSignature(batch.deviceId, digest, key, signature)) {
            return Rejection.InvalidSignature;
        }
        bytes24 head = _link(cursor.head, batchHash);
        _cursors[chain] = Cursor({head: head, lastSequence: batch.lastSequence});
        emit BatchAnchored(batch.deviceId, batch.feedId, batchHash, head);
        return Rejection.None;
    }

    function _chain(DeviceId deviceId, bytes32 feedId) private pure returns (bytes32) {
        return keccak256(abi.encode(deviceId, feedId));
    }

    function _link(bytes24 head, bytes32 batchHash) private pure returns (bytes24) {
        return bytes24(keccak256(abi.encode(head, batchHash)));
    }

    /// @dev The registry's domain for this chain: the cached one while the chain id is the one it was built for
    /// (OpenZeppelin's EIP712 does the same), the registry's rebuilt one after a fork.
    function _domainSeparator() private view returns (bytes32) {
        return block.chainid == CACHED_CHAIN_ID ? CACHED_DOMAIN_SEPARATOR : REGISTRY.DOMAIN_SEPARATOR();
    }
}
