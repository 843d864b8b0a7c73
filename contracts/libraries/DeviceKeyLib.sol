// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {P256} from "@openzeppelin/contracts/utils/cryptography/P256.sol";
import {KeyType} from "../types/KeyType.sol";

/// @title DeviceKeyLib
/// @notice Key encodings, key hashes and signature checks for every device key type (see KeyType).
/// `check*` functions revert with a precise error, for the write paths where a user needs to know what is
/// wrong; `isValidSignature` answers true or false, for views.
library DeviceKeyLib {
    /// @notice The key type is None or one this contract does not know.
    error DeviceKeyUnsupportedType(KeyType keyType);
    /// @notice A key of `keyType` must be `expected` bytes long.
    error DeviceKeyInvalidLength(KeyType keyType, uint256 length, uint256 expected);
    /// @notice The P-256 point (qx, qy) is not on the curve (or a coordinate is not below p).
    error DeviceKeyNotOnCurve(bytes32 qx, bytes32 qy);
    /// @notice The secp256k1 key is the zero address.
    error DeviceKeyZeroAddress();
    /// @notice A signature of `keyType` must be `expected` bytes long.
    error DeviceKeyInvalidSignatureLength(KeyType keyType, uint256 length, uint256 expected);
    /// @notice r or s is zero or not below the curve order n.
    error DeviceKeySignatureOutOfRange(bytes32 r, bytes32 s);
    /// @notice s is above n/2: normalize to low-s (s' = n - s) before submitting.
    error DeviceKeyHighS(bytes32 s);
    /// @notice The secp256k1 recovery byte v is neither 27 nor 28.
    error DeviceKeyInvalidV(uint8 v);

    /// @dev secp256k1 group order.
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    uint256 internal constant SECP256K1_HALF_N = SECP256K1_N / 2;
    uint256 internal constant P256_HALF_N = P256.N / 2;

    uint256 internal constant SECP256K1_KEY_LENGTH = 20;
    uint256 internal constant P256_KEY_LENGTH = 64;
    uint256 internal constant SECP256K1_SIGNATURE_LENGTH = 65;
    uint256 internal constant P256_SIGNATURE_LENGTH = 64;

    /// @notice keccak256(uint8(keyType) ‖ key). The first key's hash is the device's id for life.
    function keyHash(KeyType keyType, bytes calldata key) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(keyType, key));
    }

    /// @notice Reverts unless `key` is a well-formed key of `keyType` (length, and for P-256 a point on
    /// the curve).
    function checkKey(KeyType keyType, bytes calldata key) internal pure {
        if (keyType == KeyType.Secp256k1) {
            if (key.length != SECP256K1_KEY_LENGTH) {
                revert DeviceKeyInvalidLength(keyType, key.length, SECP256K1_KEY_LENGTH);
            }
            if (bytes20(key) == bytes20(0)) revert DeviceKeyZeroAddress();
        } else if (keyType == KeyType.P256) {
            if (key.length != P256_KEY_LENGTH) revert DeviceKeyInvalidLength(keyType, key.length, P256_KEY_LENGTH);
            (bytes32 qx, bytes32 qy) = (bytes32(key[:32]), bytes32(key[32:]));
            if (!P256.isValidPublicKey(qx, qy)) revert DeviceKeyNotOnCurve(qx, qy);
        } else {
            revert DeviceKeyUnsupportedType(keyType);
        }
    }

    /// @notice Reverts with the precise reason unless `signature` is a canonical (low-s, in range)
    /// signature by `key` over `digest`. Returns false, without reverting, only when the signature is
    /// well-formed but made by another key or over another digest (or domain).
    /// @dev The key must already have passed checkKey (or match a stored key hash).
    function checkSignature(
        KeyType keyType,
        bytes calldata key,
        bytes32 digest,
        bytes calldata signature
    ) internal view returns (bool) {
        if (keyType == KeyType.Secp256k1) {
            if (signature.length != SECP256K1_SIGNATURE_LENGTH) {
                revert DeviceKeyInvalidSignatureLength(keyType, signature.length, SECP256K1_SIGNATURE_LENGTH);
            }
            (bytes32 r, bytes32 s, uint8 v) = _splitSecp256k1(signature);
            _checkRange(r, s, SECP256K1_N, SECP256K1_HALF_N);
            if (v != 27 && v != 28) revert DeviceKeyInvalidV(v);
            (address signer, , ) = ECDSA.tryRecover(digest, v, r, s);
            return signer != address(0) && signer == address(bytes20(key));
        } else if (keyType == KeyType.P256) {
            if (signature.length != P256_SIGNATURE_LENGTH) {
                revert DeviceKeyInvalidSignatureLength(keyType, signature.length, P256_SIGNATURE_LENGTH);
            }
            (bytes32 r, bytes32 s) = (bytes32(signature[:32]), bytes32(signature[32:]));
            _checkRange(r, s, P256.N, P256_HALF_N);
            return p256Verify(sha256(abi.encodePacked(digest)), r, s, bytes32(key[:32]), bytes32(key[32:]));
        }
        revert DeviceKeyUnsupportedType(keyType);
    }

    /// @notice True iff `signature` is a canonical signature by `key` (of `keyType`) over `digest`. Never
    /// reverts: malformed keys and signatures are simply not valid.
    function isValidSignature(
        KeyType keyType,
        bytes calldata key,
        bytes32 digest,
        bytes calldata signature
    ) internal view returns (bool) {
        if (keyType == KeyType.Secp256k1) {
            if (signature.length != SECP256K1_SIGNATURE_LENGTH || key.length != SECP256K1_KEY_LENGTH) return false;
            (bytes32 r, bytes32 s, uint8 v) = _splitSecp256k1(signature);
            // ECDSA.tryRecover rejects high-s and yields address(0) for r = 0, r >= n or a bad v.
            (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(digest, v, r, s);
            return err == ECDSA.RecoverError.NoError && signer == address(bytes20(key));
        } else if (keyType == KeyType.P256) {
            if (signature.length != P256_SIGNATURE_LENGTH || key.length != P256_KEY_LENGTH) return false;
            // P256.verify rejects r or s out of range, high-s and points off the curve.
            return
                p256Verify(
                    sha256(abi.encodePacked(digest)),
                    bytes32(signature[:32]),
                    bytes32(signature[32:]),
                    bytes32(key[:32]),
                    bytes32(key[32:])
                );
        }
        return false;
    }

    /// @notice P256.verify with a fast path: a precompile answer of 1 is final (EIP-7951 and RIP-7212 both
    /// validate the point and the ranges of r and s themselves), so a valid signature on a chain with the
    /// precompile costs one call. Any other answer goes through P256.verify, which tells "invalid" from
    /// "no precompile" and falls back to its Solidity verifier; low-s is enforced by the callers' checks and
    /// by P256.verify.
    function p256Verify(bytes32 h, bytes32 r, bytes32 s, bytes32 qx, bytes32 qy) internal view returns (bool) {
        if (uint256(s) > P256_HALF_N) return false;
        bool ok;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, h)
            mstore(add(ptr, 0x20), r)
            mstore(add(ptr, 0x40), s)
            mstore(add(ptr, 0x60), qx)
            mstore(add(ptr, 0x80), qy)
            mstore(0x00, 0)
            // A precompile that is absent leaves the scratch word at 0; a failed call is treated likewise.
            // (Yul evaluates arguments right to left: the call must be its own statement.)
            let success := staticcall(gas(), 0x100, ptr, 0xa0, 0x00, 0x20)
            ok := and(success, eq(mload(0x00), 1))
        }
        return ok || P256.verify(h, r, s, qx, qy);
    }

    function _checkRange(bytes32 r, bytes32 s, uint256 n, uint256 halfN) private pure {
        if (uint256(r) == 0 || uint256(r) >= n || uint256(s) == 0 || uint256(s) >= n) {
            revert DeviceKeySignatureOutOfRange(r, s);
        }
        if (uint256(s) > halfN) revert DeviceKeyHighS(s);
    }

    function _splitSecp256k1(bytes calldata signature) private pure returns (bytes32 r, bytes32 s, uint8 v) {
        r = bytes32(signature[:32]);
        s = bytes32(signature[32:64]);
        v = uint8(signature[64]);
    }
}
