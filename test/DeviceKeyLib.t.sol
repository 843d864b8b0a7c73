// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {DeviceKeyLib} from "../contracts/libraries/DeviceKeyLib.sol";
import {DeviceKeyLibHarness} from "../contracts/mocks/DeviceKeyLibHarness.sol";
import {KeyType} from "../contracts/types/KeyType.sol";
import {KeyHelpers, TestKey} from "./utils/RegistryFixture.sol";

/// @notice DeviceKeyLib on its own, for both curves: key checks, the precise errors of checkSignature, and
/// isValidSignature answering false (never reverting) for everything checkSignature rejects.
contract DeviceKeyLibTest is Test, KeyHelpers {
    DeviceKeyLibHarness internal lib;
    bytes32 internal constant DIGEST = keccak256("digest");

    function setUp() public {
        lib = new DeviceKeyLibHarness();
    }

    function _both() internal pure returns (TestKey[2] memory keys) {
        keys[0] = _secpKey(0xC0FFEE);
        keys[1] = _p256Key(0xC0FFEE);
    }

    // ============================================================ keyHash

    function test_keyHash_isTypePrefixedKeccak() public view {
        TestKey[2] memory keys = _both();
        for (uint256 i; i < 2; ++i) {
            bytes32 expected = keccak256(abi.encodePacked(uint8(keys[i].keyType), keys[i].key));
            assertEq(lib.keyHash(keys[i].keyType, keys[i].key), expected);
        }
    }

    function test_keyHash_differsByType() public view {
        bytes memory key = new bytes(20);
        key[19] = 0x01;
        assertNotEq(lib.keyHash(KeyType.Secp256k1, key), lib.keyHash(KeyType.P256, key));
    }

    // ============================================================ checkKey

    function test_checkKey_acceptsBothCurves() public view {
        TestKey[2] memory keys = _both();
        for (uint256 i; i < 2; ++i) lib.checkKey(keys[i].keyType, keys[i].key);
    }

    function test_checkKey_RevertWhen_TypeNone() public {
        vm.expectRevert(abi.encodeWithSelector(DeviceKeyLib.DeviceKeyUnsupportedType.selector, KeyType.None));
        lib.checkKey(KeyType.None, new bytes(20));
    }

    function test_checkKey_RevertWhen_Secp256k1LengthWrong() public {
        vm.expectRevert(
            abi.encodeWithSelector(DeviceKeyLib.DeviceKeyInvalidLength.selector, KeyType.Secp256k1, 19, 20)
        );
        lib.checkKey(KeyType.Secp256k1, new bytes(19));
    }

    function test_checkKey_RevertWhen_Secp256k1ZeroAddress() public {
        vm.expectRevert(DeviceKeyLib.DeviceKeyZeroAddress.selector);
        lib.checkKey(KeyType.Secp256k1, new bytes(20));
    }

    function test_checkKey_RevertWhen_P256LengthWrong() public {
        vm.expectRevert(abi.encodeWithSelector(DeviceKeyLib.DeviceKeyInvalidLength.selector, KeyType.P256, 65, 64));
        lib.checkKey(KeyType.P256, new bytes(65));
    }

    function test_checkKey_RevertWhen_P256Empty() public {
        vm.expectRevert(abi.encodeWithSelector(DeviceKeyLib.DeviceKeyInvalidLength.selector, KeyType.P256, 0, 64));
        lib.checkKey(KeyType.P256, "");
    }

    function test_checkKey_RevertWhen_P256PointAtInfinityEncoding() public {
        vm.expectRevert(abi.encodeWithSelector(DeviceKeyLib.DeviceKeyNotOnCurve.selector, bytes32(0), bytes32(0)));
        lib.checkKey(KeyType.P256, new bytes(64));
    }

    function test_checkKey_RevertWhen_P256NotOnCurve() public {
        TestKey memory k = _p256Key(0xC0FFEE);
        (bytes32 qx, bytes32 qy) = _rs(k.key);
        bytes32 badY = bytes32(uint256(qy) ^ 2);
        vm.expectRevert(abi.encodeWithSelector(DeviceKeyLib.DeviceKeyNotOnCurve.selector, qx, badY));
        lib.checkKey(KeyType.P256, abi.encodePacked(qx, badY));
    }

    function test_checkKey_RevertWhen_P256CoordinateIsP() public {
        TestKey memory k = _p256Key(0xC0FFEE);
        (, bytes32 qy) = _rs(k.key);
        vm.expectRevert(abi.encodeWithSelector(DeviceKeyLib.DeviceKeyNotOnCurve.selector, bytes32(P256_P), qy));
        lib.checkKey(KeyType.P256, abi.encodePacked(bytes32(P256_P), qy));
    }

    // ============================================================ checkSignature

    function test_checkSignature_trueForSigner() public view {
        TestKey[2] memory keys = _both();
        for (uint256 i; i < 2; ++i) {
            assertTrue(lib.checkSignature(keys[i].keyType, keys[i].key, DIGEST, _sign(keys[i], DIGEST)));
            assertTrue(lib.isValidSignature(keys[i].keyType, keys[i].key, DIGEST, _sign(keys[i], DIGEST)));
        }
    }

    function test_checkSignature_falseForAnotherDigestOrKey() public view {
        TestKey[2] memory keys = _both();
        for (uint256 i; i < 2; ++i) {
            TestKey memory k = keys[i];
            bytes memory sig = _sign(k, DIGEST);
            TestKey memory other = k.keyType == KeyType.P256 ? _p256Key(0xBEEF) : _secpKey(0xBEEF);
            assertFalse(lib.checkSignature(k.keyType, k.key, keccak256("other"), sig));
            assertFalse(lib.checkSignature(other.keyType, other.key, DIGEST, sig));
            assertFalse(lib.isValidSignature(k.keyType, k.key, keccak256("other"), sig));
            assertFalse(lib.isValidSignature(other.keyType, other.key, DIGEST, sig));
        }
    }

    function test_checkSignature_RevertWhen_TypeNone() public {
        vm.expectRevert(abi.encodeWithSelector(DeviceKeyLib.DeviceKeyUnsupportedType.selector, KeyType.None));
        lib.checkSignature(KeyType.None, new bytes(20), DIGEST, new bytes(65));
    }

    function test_checkSignature_RevertWhen_Secp256k1LengthWrong() public {
        TestKey memory k = _secpKey(0xC0FFEE);
        vm.expectRevert(
            abi.encodeWithSelector(DeviceKeyLib.DeviceKeyInvalidSignatureLength.selector, KeyType.Secp256k1, 64, 65)
        );
        lib.checkSignature(k.keyType, k.key, DIGEST, new bytes(64));
    }

    function test_checkSignature_RevertWhen_P256LengthWrong() public {
        TestKey memory k = _p256Key(0xC0FFEE);
        vm.expectRevert(
            abi.encodeWithSelector(DeviceKeyLib.DeviceKeyInvalidSignatureLength.selector, KeyType.P256, 65, 64)
        );
        lib.checkSignature(k.keyType, k.key, DIGEST, new bytes(65));
    }

    function test_checkSignature_RevertWhen_RZero() public {
        _expectRange(0, 1);
    }

    function test_checkSignature_RevertWhen_SZero() public {
        _expectRange(1, 0);
    }

    function test_checkSignature_RevertWhen_RIsN() public {
        _expectRange(type(uint256).max, 1); // sentinel: replaced by each curve's n below
    }

    function test_checkSignature_RevertWhen_SIsN() public {
        _expectRange(1, type(uint256).max);
    }

    /// @dev type(uint256).max stands for "n of the curve under test".
    function _expectRange(uint256 r, uint256 s) private {
        TestKey[2] memory keys = _both();
        for (uint256 i; i < 2; ++i) {
            TestKey memory k = keys[i];
            uint256 n = _curveN(k.keyType);
            bytes32 r_ = bytes32(r == type(uint256).max ? n : r);
            bytes32 s_ = bytes32(s == type(uint256).max ? n : s);
            bytes memory sig = _withRS(k, _sign(k, DIGEST), r_, s_);
            vm.expectRevert(abi.encodeWithSelector(DeviceKeyLib.DeviceKeySignatureOutOfRange.selector, r_, s_));
            lib.checkSignature(k.keyType, k.key, DIGEST, sig);
            assertFalse(lib.isValidSignature(k.keyType, k.key, DIGEST, sig));
        }
    }

    function test_checkSignature_RevertWhen_HighS() public {
        TestKey[2] memory keys = _both();
        for (uint256 i; i < 2; ++i) {
            TestKey memory k = keys[i];
            (bytes memory sig, bytes32 highS) = _highS(k, _sign(k, DIGEST));
            vm.expectRevert(abi.encodeWithSelector(DeviceKeyLib.DeviceKeyHighS.selector, highS));
            lib.checkSignature(k.keyType, k.key, DIGEST, sig);
            assertFalse(lib.isValidSignature(k.keyType, k.key, DIGEST, sig));
        }
    }

    function test_checkSignature_acceptsSAtHalfN() public view {
        TestKey[2] memory keys = _both();
        for (uint256 i; i < 2; ++i) {
            TestKey memory k = keys[i];
            bytes memory sig = _sign(k, DIGEST);
            (bytes32 r, ) = _rs(sig);
            // s = n/2 is the largest canonical s: it passes the range checks and is simply not a valid signature.
            bytes memory atHalf = _withRS(k, sig, r, bytes32(_curveN(k.keyType) / 2));
            assertFalse(lib.checkSignature(k.keyType, k.key, DIGEST, atHalf));
        }
    }

    function test_checkSignature_RevertWhen_VInvalid() public {
        TestKey memory k = _secpKey(0xC0FFEE);
        bytes memory sig = _sign(k, DIGEST);
        uint8[4] memory badV = [0, 1, 29, 255];
        for (uint256 i; i < badV.length; ++i) {
            sig[64] = bytes1(badV[i]);
            vm.expectRevert(abi.encodeWithSelector(DeviceKeyLib.DeviceKeyInvalidV.selector, badV[i]));
            lib.checkSignature(k.keyType, k.key, DIGEST, sig);
            assertFalse(lib.isValidSignature(k.keyType, k.key, DIGEST, sig));
        }
    }

    // ============================================================ isValidSignature

    function test_isValidSignature_falseForMalformedInputs() public view {
        TestKey[2] memory keys = _both();
        for (uint256 i; i < 2; ++i) {
            TestKey memory k = keys[i];
            bytes memory sig = _sign(k, DIGEST);
            assertFalse(lib.isValidSignature(KeyType.None, k.key, DIGEST, sig), "type None");
            assertFalse(lib.isValidSignature(k.keyType, k.key, DIGEST, ""), "empty signature");
            assertFalse(lib.isValidSignature(k.keyType, k.key, DIGEST, bytes.concat(sig, hex"00")), "long sig");
            assertFalse(lib.isValidSignature(k.keyType, "", DIGEST, sig), "empty key");
            assertFalse(lib.isValidSignature(k.keyType, bytes.concat(k.key, hex"00"), DIGEST, sig), "long key");
            assertFalse(lib.isValidSignature(k.keyType, new bytes(k.key.length), DIGEST, sig), "zero key");
        }
        // A P-256 key that is not on the curve never verifies, even with a signature shaped right.
        TestKey memory p = keys[1];
        (bytes32 qx, bytes32 qy) = _rs(p.key);
        bytes memory offCurve = abi.encodePacked(qx, bytes32(uint256(qy) ^ 1));
        assertFalse(lib.isValidSignature(KeyType.P256, offCurve, DIGEST, _sign(p, DIGEST)));
    }
}
