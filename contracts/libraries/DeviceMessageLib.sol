// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceId} from "../types/DeviceId.sol";
import {Attestation, Reading, ReadingBatch, Voucher} from "../types/Messages.sol";

/// @title DeviceMessageLib
/// @notice The one Solidity definition of every message DeviceTrust signs: EIP-712 type strings and
/// struct hashes. The TypeScript twin is src/protocol/messages.ts; test/fixtures/vectors.json, generated
/// from TypeScript, proves the two agree. Every message but the Voucher is signed under the registry's
/// EIP-712 domain {name: "DeviceTrust", version: "1", chainId, verifyingContract: DeviceRegistry}; a Voucher
/// under the same name and version with verifyingContract: the PaymentChannel that holds the channel.
library DeviceMessageLib {
    /// @dev A device binds itself to `operator`: proof of possession at registration.
    bytes32 internal constant REGISTER_TYPEHASH = keccak256(
        "Register(bytes32 deviceId,address operator,uint256 nonce,uint256 deadline)"
    );

    /// @dev A maker vouches, at the factory, that `deviceId` is a key inside its hardware of model `model`.
    bytes32 internal constant ENDORSE_TYPEHASH = keccak256("Endorse(bytes32 deviceId,uint32 model)");

    /// @dev Signed by the current key (authorization) and by the new key (possession).
    bytes32 internal constant ROTATE_KEY_TYPEHASH = keccak256(
        "RotateKey(bytes32 deviceId,bytes32 newKeyHash,uint256 nonce,uint256 deadline)"
    );

    /// @dev The current key commits the device, once, to a post-quantum key (`scheme` 1: LMS, 2: ML-DSA-44;
    /// `commitment` = keccak256(uint8(scheme) ‖ public key)), which can later recover it (PqKeyRecovery).
    bytes32 internal constant COMMIT_PQ_KEY_TYPEHASH = keccak256(
        "CommitPqKey(bytes32 deviceId,uint8 scheme,bytes32 commitment,uint256 deadline)"
    );

    /// @dev Signed by the committed post-quantum key: the device's key becomes `newKeyHash`'s key.
    bytes32 internal constant RECOVER_KEY_TYPEHASH = keccak256(
        "RecoverKey(bytes32 deviceId,bytes32 newKeyHash,uint256 nonce,uint256 deadline)"
    );

    /// @dev Signed by the committed post-quantum key: it is replaced by another (an LMS key runs out of leaves).
    bytes32 internal constant REPLACE_PQ_KEY_TYPEHASH = keccak256(
        "ReplacePqKey(bytes32 deviceId,uint8 scheme,bytes32 commitment,uint256 nonce,uint256 deadline)"
    );

    /// @dev A maker's post-quantum (LMS) signature of a release: the reference value of (model, version).
    bytes32 internal constant FIRMWARE_RELEASE_TYPEHASH = keccak256(
        "FirmwareRelease(uint16 maker,uint32 model,string version,bytes32 measurement)"
    );

    bytes32 internal constant ATTESTATION_TYPEHASH = keccak256(
        "Attestation(bytes32 deviceId,bytes32 measurement,bytes32 challenge,uint64 timestamp,uint64 bootCount)"
    );

    bytes32 internal constant READING_TYPEHASH = keccak256(
        "Reading(bytes32 deviceId,bytes32 feedId,uint64 sequence,uint64 timestamp,int256 value)"
    );

    bytes32 internal constant READING_BATCH_TYPEHASH = keccak256(
        "ReadingBatch(bytes32 deviceId,bytes32 feedId,uint64 firstSequence,uint64 lastSequence,"
        "uint64 count,uint64 fromTimestamp,uint64 toTimestamp,bytes32 root)"
    );

    /// @dev A buyer device owes `cumulativeAmount` in total on payment channel `channel`.
    bytes32 internal constant VOUCHER_TYPEHASH = keccak256("Voucher(bytes32 channel,uint256 cumulativeAmount)");

    function hashRegister(
        DeviceId deviceId,
        address operator,
        uint256 nonce,
        uint256 deadline
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(REGISTER_TYPEHASH, deviceId, operator, nonce, deadline));
    }

    function hashEndorse(DeviceId deviceId, uint32 model) internal pure returns (bytes32) {
        return keccak256(abi.encode(ENDORSE_TYPEHASH, deviceId, model));
    }

    function hashCommitPqKey(
        DeviceId deviceId,
        uint8 scheme,
        bytes32 commitment,
        uint256 deadline
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(COMMIT_PQ_KEY_TYPEHASH, deviceId, scheme, commitment, deadline));
    }

    function hashRecoverKey(
        DeviceId deviceId,
        bytes32 newKeyHash,
        uint256 nonce,
        uint256 deadline
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(RECOVER_KEY_TYPEHASH, deviceId, newKeyHash, nonce, deadline));
    }

    function hashReplacePqKey(
        DeviceId deviceId,
        uint8 scheme,
        bytes32 commitment,
        uint256 nonce,
        uint256 deadline
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(REPLACE_PQ_KEY_TYPEHASH, deviceId, scheme, commitment, nonce, deadline));
    }

    function hashFirmwareRelease(
        uint16 maker,
        uint32 model,
        string memory version,
        bytes32 measurement
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(FIRMWARE_RELEASE_TYPEHASH, maker, model, keccak256(bytes(version)), measurement));
    }

    function hashRotateKey(
        DeviceId deviceId,
        bytes32 newKeyHash,
        uint256 nonce,
        uint256 deadline
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(ROTATE_KEY_TYPEHASH, deviceId, newKeyHash, nonce, deadline));
    }

    function hashAttestation(Attestation memory a) internal pure returns (bytes32) {
        return
            keccak256(
                abi.encode(ATTESTATION_TYPEHASH, a.deviceId, a.measurement, a.challenge, a.timestamp, a.bootCount)
            );
    }

    /// @dev The same hash from calldata, without copying the struct to memory (the attestation hot path).
    /// Attestation is a static struct: abi.encode lays out its fields exactly as hashAttestation does.
    function hashAttestationCalldata(Attestation calldata a) internal pure returns (bytes32) {
        return keccak256(abi.encode(ATTESTATION_TYPEHASH, a));
    }

    /// @dev Also the Merkle leaf of a reading inside a ReadingBatch (sorted-pair keccak tree, as
    /// OpenZeppelin's SimpleMerkleTree builds it).
    function hashReading(Reading memory r) internal pure returns (bytes32) {
        return keccak256(abi.encode(READING_TYPEHASH, r.deviceId, r.feedId, r.sequence, r.timestamp, r.value));
    }

    /// @dev hashReading from calldata, without copying the struct to memory (the fraud-proof hot path).
    /// Reading is a static struct: abi.encode lays out its fields exactly as hashReading does.
    function hashReadingCalldata(Reading calldata r) internal pure returns (bytes32) {
        return keccak256(abi.encode(READING_TYPEHASH, r));
    }

    function hashReadingBatch(ReadingBatch memory b) internal pure returns (bytes32) {
        return
            keccak256(
                abi.encode(
                    READING_BATCH_TYPEHASH,
                    b.deviceId,
                    b.feedId,
                    b.firstSequence,
                    b.lastSequence,
                    b.count,
                    b.fromTimestamp,
                    b.toTimestamp,
                    b.root
                )
            );
    }

    /// @dev hashReadingBatch from calldata (the anchoring hot path). ReadingBatch is a static struct whose
    /// fields abi.encode lays out in its EIP-712 order, as hashReadingBatch encodes them.
    function hashReadingBatchCalldata(ReadingBatch calldata b) internal pure returns (bytes32) {
        return keccak256(abi.encode(READING_BATCH_TYPEHASH, b));
    }

    function hashVoucher(Voucher memory v) internal pure returns (bytes32) {
        return hashVoucher(v.channel, v.cumulativeAmount);
    }

    /// @dev hashVoucher from its two fields (the close and checkpoint hot path builds no struct).
    function hashVoucher(bytes32 channel, uint256 cumulativeAmount) internal pure returns (bytes32) {
        return keccak256(abi.encode(VOUCHER_TYPEHASH, channel, cumulativeAmount));
    }

    /// @dev The leaf of a maker's production-batch manifest: OpenZeppelin StandardMerkleTree over
    /// ["bytes32", "uint32"] = [deviceId, model] (double-hashed, so no leaf is ever an inner node).
    function manifestLeaf(DeviceId deviceId, uint32 model) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(deviceId, model))));
    }
}
