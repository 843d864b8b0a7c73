// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {LmsLib} from "../libraries/LmsLib.sol";

/// @title LmsLibHarness
/// @notice Exposes LmsLib's verify overloads (calldata arguments, as a consuming contract passes them), and
/// measures them: the gas of the library call alone, as a contract that verifies in-line pays it.
contract LmsLibHarness {
    /// @notice LmsLib.verify of a message of any length.
    function verify(
        bytes calldata publicKey,
        bytes calldata message,
        bytes calldata signature
    ) external view returns (bool) {
        return LmsLib.verify(publicKey, message, signature);
    }

    /// @notice LmsLib.verify of a 32-byte digest.
    function verifyDigest(
        bytes calldata publicKey,
        bytes32 digest,
        bytes calldata signature
    ) external view returns (bool) {
        return LmsLib.verify(publicKey, digest, signature);
    }

    /// @notice LmsLib.verify of a message, and the gas it consumed (gasleft() around the library call).
    function measureVerify(
        bytes calldata publicKey,
        bytes calldata message,
        bytes calldata signature
    ) external view returns (bool valid, uint256 gasUsed) {
        uint256 before = gasleft();
        valid = LmsLib.verify(publicKey, message, signature);
        gasUsed = before - gasleft();
    }

    /// @notice LmsLib.verify of a 32-byte digest, and the gas it consumed.
    function measureVerifyDigest(
        bytes calldata publicKey,
        bytes32 digest,
        bytes calldata signature
    ) external view returns (bool valid, uint256 gasUsed) {
        uint256 before = gasleft();
        valid = LmsLib.verify(publicKey, digest, signature);
        gasUsed = before - gasleft();
    }
}
