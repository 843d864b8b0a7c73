// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceKeyLib} from "../libraries/DeviceKeyLib.sol";
import {KeyType} from "../types/KeyType.sol";

/// @title DeviceKeyLibHarness
/// @notice Exposes each DeviceKeyLib function on its own (calldata arguments, as the registry passes
/// them), for the library's tests and the protocol vectors.
contract DeviceKeyLibHarness {
    /// @notice DeviceKeyLib.keyHash.
    function keyHash(KeyType keyType, bytes calldata key) external pure returns (bytes32) {
        return DeviceKeyLib.keyHash(keyType, key);
    }

    /// @notice DeviceKeyLib.checkKey.
    function checkKey(KeyType keyType, bytes calldata key) external pure {
        DeviceKeyLib.checkKey(keyType, key);
    }

    /// @notice DeviceKeyLib.checkSignature.
    function checkSignature(
        KeyType keyType,
        bytes calldata key,
        bytes32 digest,
        bytes calldata signature
    ) external view returns (bool) {
        return DeviceKeyLib.checkSignature(keyType, key, digest, signature);
    }

    /// @notice DeviceKeyLib.isValidSignature.
    function isValidSignature(
        KeyType keyType,
        bytes calldata key,
        bytes32 digest,
        bytes calldata signature
    ) external view returns (bool) {
        return DeviceKeyLib.isValidSignature(keyType, key, digest, signature);
    }
}
