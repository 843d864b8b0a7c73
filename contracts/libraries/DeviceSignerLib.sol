// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceKeyLib} from "./DeviceKeyLib.sol";
import {DeviceId} from "../types/DeviceId.sol";
import {KeyType} from "../types/KeyType.sol";

/// @title DeviceSignerLib
/// @notice The encodings of a device as an ERC-7913 signer, shared by DeviceSignerVerifier and DeviceAccount.
/// - A signer is `verifier ‖ deviceId` (20 + 32 bytes).
/// - A signature is `uint8(keyType) ‖ key ‖ signature`: 1 + 64 + 64 bytes for P-256 (qx ‖ qy, then r ‖ s
///   over sha256(hash)), 1 + 20 + 65 for secp256k1 (the key's address, then r ‖ s ‖ v over the hash), the
///   key and signature encodings of KeyType.
library DeviceSignerLib {
    uint256 internal constant SIGNER_LENGTH = 52;
    uint256 internal constant P256_BLOB_LENGTH = 1 + DeviceKeyLib.P256_KEY_LENGTH + DeviceKeyLib.P256_SIGNATURE_LENGTH;
    uint256 internal constant SECP256K1_BLOB_LENGTH =
        1 + DeviceKeyLib.SECP256K1_KEY_LENGTH + DeviceKeyLib.SECP256K1_SIGNATURE_LENGTH;

    /// @notice The device id of `signer` if it is `verifier ‖ deviceId`; ok false otherwise.
    function deviceOf(bytes calldata signer, address verifier) internal pure returns (bool ok, DeviceId deviceId) {
        if (signer.length != SIGNER_LENGTH || address(bytes20(signer[:20])) != verifier) return (false, deviceId);
        return (true, DeviceId.wrap(bytes32(signer[20:])));
    }

    /// @notice deviceOf for a signer in memory.
    function deviceOfMemory(bytes memory signer, address verifier) internal pure returns (bool ok, DeviceId deviceId) {
        if (signer.length != SIGNER_LENGTH || address(bytes20(signer)) != verifier) return (false, deviceId);
        bytes32 id;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            id := mload(add(signer, 52))
        }
        return (true, DeviceId.wrap(id));
    }

    /// @notice Splits `uint8(keyType) ‖ key ‖ signature` by the key type's lengths; ok is false for an
    /// unknown type or a wrong total length.
    function split(
        bytes calldata blob
    ) internal pure returns (bool ok, KeyType keyType, bytes calldata key, bytes calldata signature) {
        if (blob.length == P256_BLOB_LENGTH && uint8(blob[0]) == uint8(KeyType.P256)) {
            return (true, KeyType.P256, blob[1:65], blob[65:]);
        }
        if (blob.length == SECP256K1_BLOB_LENGTH && uint8(blob[0]) == uint8(KeyType.Secp256k1)) {
            return (true, KeyType.Secp256k1, blob[1:21], blob[21:]);
        }
        return (false, KeyType.None, blob[0:0], blob[0:0]);
    }
}
