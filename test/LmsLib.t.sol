// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
// solhint-disable-next-line no-console
import {console} from "forge-std/console.sol";
import {LmsLib} from "../contracts/libraries/LmsLib.sol";
import {LmsLibHarness} from "../contracts/mocks/LmsLibHarness.sol";
import {LmsTestSigner} from "./utils/LmsTestSigner.sol";
import {LmsVectors} from "./utils/LmsVectors.sol";

/// @notice LmsLib against RFC 8554's test vectors (both levels of both HSS test cases) and RFC 9858's
/// SHA-256/192 one, its strict parse (one test per error), the refusal of every single-byte change of a
/// signature, and signatures of every parameter set made by LmsTestSigner; logs the gas of an
/// LMS_SHA256_M32_H10 / LMOTS_SHA256_N32_W4 verification.
contract LmsLibTest is Test {
    LmsLibHarness internal lib;

    /// @dev Test case 2's top level is LMS_SHA256_M32_H10 / LMOTS_SHA256_N32_W4, the set we deploy with.
    uint256 internal constant H10_W4_SIGNATURE_LENGTH = 2508;
    uint256 internal constant H10_W4_PUBLIC_KEY_LENGTH = 56;
    /// @dev A verification of test case 2's top level costs ~143k gas (525 hash chain steps); the bound
    /// leaves room for compiler drift, not for a slower verifier (a plain Solidity one costs ~199k).
    uint256 internal constant H10_W4_GAS_BOUND = 150_000;

    function setUp() public {
        lib = new LmsLibHarness();
    }

    // ============================================================ RFC 8554 Appendix F

    function test_verify_rfc8554TestCase1TopLevel() public view {
        assertTrue(lib.verify(LmsVectors.TC1_PUBLIC_KEY, LmsVectors.TC1_PUBLIC_KEY_1, LmsVectors.TC1_SIGNATURE_0));
    }

    function test_verify_rfc8554TestCase1SecondLevel() public view {
        assertTrue(lib.verify(LmsVectors.TC1_PUBLIC_KEY_1, LmsVectors.TC1_MESSAGE, LmsVectors.TC1_SIGNATURE_1));
    }

    function test_verify_rfc8554TestCase2TopLevel() public view {
        assertTrue(lib.verify(LmsVectors.TC2_PUBLIC_KEY, LmsVectors.TC2_PUBLIC_KEY_1, LmsVectors.TC2_SIGNATURE_0));
    }

    function test_verify_rfc8554TestCase2SecondLevel() public view {
        assertTrue(lib.verify(LmsVectors.TC2_PUBLIC_KEY_1, LmsVectors.TC2_MESSAGE, LmsVectors.TC2_SIGNATURE_1));
    }

    // ============================================================ RFC 9858 (SP 800-208 SHA-256/192)

    function test_verify_rfc9858TestCase1() public view {
        assertTrue(lib.verify(LmsVectors.RFC9858_PUBLIC_KEY, LmsVectors.RFC9858_MESSAGE, LmsVectors.RFC9858_SIGNATURE));
    }

    function test_verify_rfc9858TestCase1FalseForAnotherMessage() public view {
        bytes memory message = LmsVectors.RFC9858_MESSAGE;
        message[0] = "t";
        assertFalse(lib.verify(LmsVectors.RFC9858_PUBLIC_KEY, message, LmsVectors.RFC9858_SIGNATURE));
    }

    /// @notice Changing any one byte of a valid SHA-256/192 signature never leaves it valid (the 24-byte
    /// values are read and compared to their last byte, and no further).
    function testFuzz_verify_refusesAnyM24SignatureByteFlip(uint256 index, uint8 mask) public view {
        bytes memory signature = LmsVectors.RFC9858_SIGNATURE;
        index = bound(index, 0, signature.length - 1);
        signature[index] ^= bytes1(uint8(bound(mask, 1, 255)));
        assertTrue(_refuses(LmsVectors.RFC9858_PUBLIC_KEY, LmsVectors.RFC9858_MESSAGE, signature));
    }

    function test_verify_refusesAnM24SignatureByteFlip() public view {
        // C's last byte, y[25]'s last byte, path[4]'s last byte.
        uint256[3] memory indices = [uint256(8 + 23), 8 + 24 * 26 + 23, 779];
        for (uint256 i; i < indices.length; ++i) testFuzz_verify_refusesAnyM24SignatureByteFlip(indices[i], 0x80);
    }

    /// @notice T[1]'s last (24th) byte counts.
    function test_verify_rfc9858TestCase1FalseForAnotherRoot() public view {
        bytes memory publicKey = LmsVectors.RFC9858_PUBLIC_KEY;
        publicKey[47] ^= 0x01;
        assertFalse(lib.verify(publicKey, LmsVectors.RFC9858_MESSAGE, LmsVectors.RFC9858_SIGNATURE));
    }

    // ============================================================ wrong message or key

    function test_verify_falseForAnotherMessage() public view {
        bytes memory message = LmsVectors.TC1_MESSAGE;
        message[message.length - 1] = "."; // the final newline
        assertFalse(lib.verify(LmsVectors.TC1_PUBLIC_KEY_1, message, LmsVectors.TC1_SIGNATURE_1));
        assertFalse(lib.verify(LmsVectors.TC1_PUBLIC_KEY_1, "", LmsVectors.TC1_SIGNATURE_1));
        // Each level's signature is over its own message only.
        assertFalse(lib.verify(LmsVectors.TC2_PUBLIC_KEY, LmsVectors.TC2_MESSAGE, LmsVectors.TC2_SIGNATURE_0));
        assertFalse(lib.verify(LmsVectors.TC2_PUBLIC_KEY_1, LmsVectors.TC2_PUBLIC_KEY_1, LmsVectors.TC2_SIGNATURE_1));
    }

    function test_verify_falseForAnotherKeyOfTheSameTypes() public view {
        // Test case 1's two levels are both LMS_SHA256_M32_H5 / LMOTS_SHA256_N32_W8.
        assertFalse(lib.verify(LmsVectors.TC1_PUBLIC_KEY, LmsVectors.TC1_MESSAGE, LmsVectors.TC1_SIGNATURE_1));
        assertFalse(lib.verify(LmsVectors.TC1_PUBLIC_KEY_1, LmsVectors.TC1_PUBLIC_KEY_1, LmsVectors.TC1_SIGNATURE_0));
    }

    function testFuzz_verify_falseForAnyMessageByteFlip(uint256 index, uint8 mask) public view {
        bytes memory message = LmsVectors.TC2_PUBLIC_KEY_1;
        index = bound(index, 0, message.length - 1);
        message[index] ^= bytes1(uint8(bound(mask, 1, 255)));
        assertFalse(lib.verify(LmsVectors.TC2_PUBLIC_KEY, message, LmsVectors.TC2_SIGNATURE_0));
    }

    function test_verify_falseForAMessageByteFlip() public view {
        testFuzz_verify_falseForAnyMessageByteFlip(55, 0x01);
    }

    // ============================================================ every single-byte change refuses

    /// @notice Changing any one byte of a valid signature never leaves it valid: verify reverts (a type,
    /// length or leaf index no longer fits) or returns false.
    function testFuzz_verify_refusesAnySignatureByteFlip(uint256 index, uint8 mask) public view {
        bytes memory signature = LmsVectors.TC2_SIGNATURE_0;
        index = bound(index, 0, signature.length - 1);
        signature[index] ^= bytes1(uint8(bound(mask, 1, 255)));
        assertTrue(_refuses(LmsVectors.TC2_PUBLIC_KEY, LmsVectors.TC2_PUBLIC_KEY_1, signature));
    }

    /// @notice The concrete twin: one flip in each field of the signature.
    function test_verify_refusesASignatureByteFlipInEachField() public view {
        uint256[8] memory indices = [
            uint256(3), // q: another leaf (q = 2 is in range: false)
            7, // LM-OTS type: reverts
            8, // C
            40, // y[0]
            40 + 66 * 32 + 31, // y[66], its last byte
            2184 + 3, // LMS type: reverts
            2188, // path[0]
            H10_W4_SIGNATURE_LENGTH - 1 // path[9], its last byte
        ];
        for (uint256 i; i < indices.length; ++i) testFuzz_verify_refusesAnySignatureByteFlip(indices[i], 0x01);
    }

    /// @notice Every byte of test case 2's top-level signature, each flipped in its lowest bit, is refused.
    function test_verify_refusesEverySignatureByteFlip() public view {
        bytes memory signature = LmsVectors.TC2_SIGNATURE_0;
        for (uint256 i; i < signature.length; ++i) {
            signature[i] ^= 0x01;
            assertTrue(_refuses(LmsVectors.TC2_PUBLIC_KEY, LmsVectors.TC2_PUBLIC_KEY_1, signature));
            signature[i] ^= 0x01;
        }
    }

    /// @notice Changing any one byte of the public key never leaves the signature valid.
    function testFuzz_verify_refusesAnyPublicKeyByteFlip(uint256 index, uint8 mask) public view {
        bytes memory publicKey = LmsVectors.TC2_PUBLIC_KEY;
        index = bound(index, 0, publicKey.length - 1);
        publicKey[index] ^= bytes1(uint8(bound(mask, 1, 255)));
        assertTrue(_refuses(publicKey, LmsVectors.TC2_PUBLIC_KEY_1, LmsVectors.TC2_SIGNATURE_0));
    }

    function test_verify_refusesAPublicKeyByteFlipInEachField() public view {
        uint256[4] memory indices = [uint256(3), 7, 8, 55]; // LMS type, LM-OTS type, I, T[1]
        for (uint256 i; i < indices.length; ++i) testFuzz_verify_refusesAnyPublicKeyByteFlip(indices[i], 0x01);
    }

    // ============================================================ strict parse: lengths

    function test_verify_RevertWhen_SignatureTruncated() public {
        bytes memory signature = LmsVectors.TC2_SIGNATURE_0;
        _expectSignatureLength(_slice(signature, signature.length - 1));
    }

    function test_verify_RevertWhen_SignatureMissesItsLastPathNode() public {
        bytes memory signature = LmsVectors.TC2_SIGNATURE_0;
        _expectSignatureLength(_slice(signature, signature.length - 32));
    }

    function test_verify_RevertWhen_SignatureExtended() public {
        _expectSignatureLength(bytes.concat(LmsVectors.TC2_SIGNATURE_0, hex"00"));
    }

    function test_verify_RevertWhen_SignatureExtendedByAPathNode() public {
        _expectSignatureLength(bytes.concat(LmsVectors.TC2_SIGNATURE_0, new bytes(32)));
    }

    function test_verify_RevertWhen_SignatureShorterThanItsTypes() public {
        _expectSignatureLength(_slice(LmsVectors.TC2_SIGNATURE_0, 7));
    }

    function test_verify_RevertWhen_SignatureEmpty() public {
        _expectSignatureLength("");
    }

    function test_verify_RevertWhen_PublicKeyTruncated() public {
        _expectPublicKeyLength(_slice(LmsVectors.TC2_PUBLIC_KEY, 55), H10_W4_PUBLIC_KEY_LENGTH);
    }

    function test_verify_RevertWhen_PublicKeyExtended() public {
        _expectPublicKeyLength(bytes.concat(LmsVectors.TC2_PUBLIC_KEY, hex"00"), H10_W4_PUBLIC_KEY_LENGTH);
    }

    function test_verify_RevertWhen_PublicKeyShorterThanItsTypes() public {
        _expectPublicKeyLength(_slice(LmsVectors.TC2_PUBLIC_KEY, 7), 8);
    }

    function test_verify_RevertWhen_PublicKeyEmpty() public {
        _expectPublicKeyLength("", 8);
    }

    // ============================================================ strict parse: types and leaf

    function test_verify_RevertWhen_LeafOutOfRange() public {
        testFuzz_verify_RevertWhen_LeafOutOfRange(1024);
    }

    function testFuzz_verify_RevertWhen_LeafOutOfRange(uint32 q) public {
        q = uint32(bound(q, 1024, type(uint32).max));
        bytes memory signature = LmsVectors.TC2_SIGNATURE_0;
        _writeU32(signature, 0, q);
        vm.expectRevert(abi.encodeWithSelector(LmsLib.LmsLeafOutOfRange.selector, q, 1024));
        lib.verify(LmsVectors.TC2_PUBLIC_KEY, LmsVectors.TC2_PUBLIC_KEY_1, signature);
    }

    function test_verify_RevertWhen_OtsTypeMismatch() public {
        // A well-formed LMOTS_SHA256_N32_W8 signature (test case 1) for an LMOTS_SHA256_N32_W4 key.
        vm.expectRevert(
            abi.encodeWithSelector(
                LmsLib.LmsOtsTypeMismatch.selector,
                LmsLib.LMOTS_SHA256_N32_W4,
                LmsLib.LMOTS_SHA256_N32_W8
            )
        );
        lib.verify(LmsVectors.TC2_PUBLIC_KEY, LmsVectors.TC2_PUBLIC_KEY_1, LmsVectors.TC1_SIGNATURE_0);
    }

    function test_verify_RevertWhen_OtsTypeFieldChanged() public {
        bytes memory signature = LmsVectors.TC2_SIGNATURE_0;
        _writeU32(signature, 4, LmsLib.LMOTS_SHA256_N32_W2);
        vm.expectRevert(
            abi.encodeWithSelector(
                LmsLib.LmsOtsTypeMismatch.selector,
                LmsLib.LMOTS_SHA256_N32_W4,
                LmsLib.LMOTS_SHA256_N32_W2
            )
        );
        lib.verify(LmsVectors.TC2_PUBLIC_KEY, LmsVectors.TC2_PUBLIC_KEY_1, signature);
    }

    function test_verify_RevertWhen_LmsTypeMismatch() public {
        bytes memory signature = LmsVectors.TC2_SIGNATURE_0;
        _writeU32(signature, 2184, LmsLib.LMS_SHA256_M32_H5);
        vm.expectRevert(
            abi.encodeWithSelector(LmsLib.LmsTypeMismatch.selector, LmsLib.LMS_SHA256_M32_H10, LmsLib.LMS_SHA256_M32_H5)
        );
        lib.verify(LmsVectors.TC2_PUBLIC_KEY, LmsVectors.TC2_PUBLIC_KEY_1, signature);
    }

    function test_verify_RevertWhen_UnsupportedType() public {
        // Reserved (0, 1-4), LMS_SHAKE_M32_H5 (15: SHAKE is not supported), unassigned.
        uint32[5] memory types = [uint32(0), 4, 15, 0x18, type(uint32).max];
        for (uint256 i; i < types.length; ++i) {
            bytes memory publicKey = LmsVectors.TC2_PUBLIC_KEY;
            _writeU32(publicKey, 0, types[i]);
            vm.expectRevert(abi.encodeWithSelector(LmsLib.LmsUnsupportedType.selector, types[i]));
            lib.verify(publicKey, LmsVectors.TC2_PUBLIC_KEY_1, LmsVectors.TC2_SIGNATURE_0);
        }
    }

    function test_verify_RevertWhen_UnsupportedOtsType() public {
        // Reserved (0), LMOTS_SHAKE_N32_W1 (9), unassigned.
        uint32[3] memory types = [uint32(0), 9, type(uint32).max];
        for (uint256 i; i < types.length; ++i) {
            bytes memory publicKey = LmsVectors.TC2_PUBLIC_KEY;
            _writeU32(publicKey, 4, types[i]);
            vm.expectRevert(abi.encodeWithSelector(LmsLib.LmsUnsupportedOtsType.selector, types[i]));
            lib.verify(publicKey, LmsVectors.TC2_PUBLIC_KEY_1, LmsVectors.TC2_SIGNATURE_0);
        }
    }

    function test_verify_RevertWhen_HashMismatch() public {
        bytes memory publicKey = LmsVectors.TC2_PUBLIC_KEY;
        _writeU32(publicKey, 4, LmsLib.LMOTS_SHA256_N24_W4);
        vm.expectRevert(
            abi.encodeWithSelector(
                LmsLib.LmsHashMismatch.selector,
                LmsLib.LMS_SHA256_M32_H10,
                LmsLib.LMOTS_SHA256_N24_W4
            )
        );
        lib.verify(publicKey, LmsVectors.TC2_PUBLIC_KEY_1, LmsVectors.TC2_SIGNATURE_0);

        _writeU32(publicKey, 0, LmsLib.LMS_SHA256_M24_H10);
        _writeU32(publicKey, 4, LmsLib.LMOTS_SHA256_N32_W4);
        vm.expectRevert(
            abi.encodeWithSelector(
                LmsLib.LmsHashMismatch.selector,
                LmsLib.LMS_SHA256_M24_H10,
                LmsLib.LMOTS_SHA256_N32_W4
            )
        );
        lib.verify(publicKey, LmsVectors.TC2_PUBLIC_KEY_1, LmsVectors.TC2_SIGNATURE_0);
    }

    // ============================================================ every parameter set (LmsTestSigner)

    function test_verify_lmotsSha256N32W1EveryHeight() public view {
        _checkEveryHeight(LmsLib.LMOTS_SHA256_N32_W1);
    }

    function test_verify_lmotsSha256N32W2EveryHeight() public view {
        _checkEveryHeight(LmsLib.LMOTS_SHA256_N32_W2);
    }

    function test_verify_lmotsSha256N32W4EveryHeight() public view {
        _checkEveryHeight(LmsLib.LMOTS_SHA256_N32_W4);
    }

    function test_verify_lmotsSha256N32W8EveryHeight() public view {
        _checkEveryHeight(LmsLib.LMOTS_SHA256_N32_W8);
    }

    function test_verify_lmotsSha256N24W1EveryHeight() public view {
        _checkEveryHeight(LmsLib.LMOTS_SHA256_N24_W1);
    }

    function test_verify_lmotsSha256N24W2EveryHeight() public view {
        _checkEveryHeight(LmsLib.LMOTS_SHA256_N24_W2);
    }

    function test_verify_lmotsSha256N24W4EveryHeight() public view {
        _checkEveryHeight(LmsLib.LMOTS_SHA256_N24_W4);
    }

    function test_verify_lmotsSha256N24W8EveryHeight() public view {
        _checkEveryHeight(LmsLib.LMOTS_SHA256_N24_W8);
    }

    /// @notice Any message, at any leaf, signed by LmsTestSigner verifies (H10/W4, both hash functions), and
    /// not for another message.
    function testFuzz_verify_trueForSignerSignature(bytes32 seed, uint32 q, bytes calldata message) public view {
        q = uint32(bound(q, 0, 1023));
        (uint32[2] memory lmsTypes, uint32[2] memory otsTypes) = (
            [LmsLib.LMS_SHA256_M32_H10, LmsLib.LMS_SHA256_M24_H10],
            [LmsLib.LMOTS_SHA256_N32_W4, LmsLib.LMOTS_SHA256_N24_W4]
        );
        for (uint256 i; i < 2; ++i) {
            (bytes memory publicKey, bytes memory signature) = LmsTestSigner.sign(
                lmsTypes[i],
                otsTypes[i],
                seed,
                q,
                message
            );
            assertTrue(lib.verify(publicKey, message, signature));
            assertFalse(lib.verify(publicKey, bytes.concat(message, hex"00"), signature));
        }
    }

    function test_verify_trueForSignerSignature() public view {
        this.testFuzz_verify_trueForSignerSignature(keccak256("seed"), 1023, "firmware manifest");
    }

    /// @notice The bytes32 overload verifies a signature of the digest's 32 bytes as the message.
    function testFuzz_verify_digestIsItsBytesAsMessage(bytes32 seed, bytes32 digest) public view {
        (bytes memory publicKey, bytes memory signature) = LmsTestSigner.sign(
            LmsLib.LMS_SHA256_M32_H10,
            LmsLib.LMOTS_SHA256_N32_W4,
            seed,
            7,
            abi.encodePacked(digest)
        );
        assertTrue(lib.verifyDigest(publicKey, digest, signature));
        assertTrue(lib.verify(publicKey, abi.encodePacked(digest), signature));
        assertFalse(lib.verifyDigest(publicKey, ~digest, signature));
    }

    function test_verify_digestIsItsBytesAsMessage() public view {
        testFuzz_verify_digestIsItsBytesAsMessage(keccak256("seed"), keccak256("release manifest"));
    }

    // ============================================================ gas

    /// @notice Logs the gas of an LMS_SHA256_M32_H10 / LMOTS_SHA256_N32_W4 verification: of the library call
    /// (as a contract that verifies in-line pays it) and of the whole external call to the harness (no
    /// intrinsic or calldata gas: a 2,508-byte signature adds ~40k of calldata to a transaction).
    function test_verify_gasH10W4Logged() public view {
        (bool valid, uint256 libraryGas) = lib.measureVerify(
            LmsVectors.TC2_PUBLIC_KEY,
            LmsVectors.TC2_PUBLIC_KEY_1,
            LmsVectors.TC2_SIGNATURE_0
        );
        uint256 before = gasleft();
        lib.verify(LmsVectors.TC2_PUBLIC_KEY, LmsVectors.TC2_PUBLIC_KEY_1, LmsVectors.TC2_SIGNATURE_0);
        uint256 callGas = before - gasleft();
        // solhint-disable no-console
        console.log("LMS_SHA256_M32_H10/LMOTS_SHA256_N32_W4, RFC 8554 test case 2 top level");
        console.log("  LmsLib.verify (library gas):", libraryGas);
        console.log("  harness.verify (call gas):", callGas);
        // solhint-enable no-console
        assertTrue(valid);
        assertLt(libraryGas, H10_W4_GAS_BOUND);
    }

    // ============================================================ helpers

    /// @dev True if verify reverts or returns false.
    function _refuses(
        bytes memory publicKey,
        bytes memory message,
        bytes memory signature
    ) internal view returns (bool) {
        try lib.verify(publicKey, message, signature) returns (bool valid) {
            return !valid;
        } catch {
            return true;
        }
    }

    /// @dev For each height (H5-H25) of `otsType`'s hash function: a signature verifies, and not for another
    /// message.
    function _checkEveryHeight(uint32 otsType) internal view {
        uint32 first = otsType <= LmsLib.LMOTS_SHA256_N32_W8 ? LmsLib.LMS_SHA256_M32_H5 : LmsLib.LMS_SHA256_M24_H5;
        for (uint32 lmsType = first; lmsType < first + 5; ++lmsType) {
            uint32 q = uint32(uint256(keccak256(abi.encode(lmsType, otsType))) % (1 << (5 * (lmsType - first + 1))));
            (bytes memory publicKey, bytes memory signature) = LmsTestSigner.sign(
                lmsType,
                otsType,
                bytes32(uint256(lmsType)),
                q,
                "firmware manifest"
            );
            assertEq(signature.length, LmsTestSigner.signatureLength(lmsType, otsType));
            assertTrue(lib.verify(publicKey, "firmware manifest", signature));
            assertFalse(lib.verify(publicKey, "firmware manifesto", signature));
        }
    }

    function _expectSignatureLength(bytes memory signature) internal {
        vm.expectRevert(
            abi.encodeWithSelector(LmsLib.LmsSignatureLength.selector, H10_W4_SIGNATURE_LENGTH, signature.length)
        );
        lib.verify(LmsVectors.TC2_PUBLIC_KEY, LmsVectors.TC2_PUBLIC_KEY_1, signature);
    }

    function _expectPublicKeyLength(bytes memory publicKey, uint256 expected) internal {
        vm.expectRevert(abi.encodeWithSelector(LmsLib.LmsPublicKeyLength.selector, expected, publicKey.length));
        lib.verify(publicKey, LmsVectors.TC2_PUBLIC_KEY_1, LmsVectors.TC2_SIGNATURE_0);
    }

    function _slice(bytes memory data, uint256 length) internal pure returns (bytes memory out) {
        out = new bytes(length);
        for (uint256 i; i < length; ++i) out[i] = data[i];
    }

    function _writeU32(bytes memory data, uint256 offset, uint32 value) internal pure {
        for (uint256 i; i < 4; ++i) data[offset + i] = bytes1(uint8(value >> (24 - 8 * i)));
    }
}

/// @notice LmsLib on signatures made elsewhere: by the TypeScript signer (src/protocol/lms, full H10 trees from
/// fixed seeds: test/fixtures/lms/h10w4.json, written by `npm run lms:fixtures`) and RFC 9858's SHA-256/192 test
/// cases (test/fixtures/lms/rfc9858.json); logs the gas of the H10/W4 verifications.
contract LmsLibFixturesTest is Test {
    /// @dev h10w4.json: set 0 is LMS_SHA256_M32_H10 / LMOTS_SHA256_N32_W4 with 5 signatures (leaves 0, 1, 511,
    /// 1023, 2), set 1 LMS_SHA256_M24_H10 / LMOTS_SHA256_N24_W4 with one.
    uint256 internal constant M32_SIGNATURES = 5;

    LmsLibHarness internal lib;
    string internal h10w4;
    string internal rfc9858;

    function setUp() public {
        lib = new LmsLibHarness();
        h10w4 = vm.readFile("test/fixtures/lms/h10w4.json");
        rfc9858 = vm.readFile("test/fixtures/lms/rfc9858.json");
    }

    function test_verify_typeScriptM32H10W4Signatures() public view {
        bytes memory publicKey = vm.parseJsonBytes(h10w4, ".sets[0].publicKey");
        assertEq(uint32(bytes4(publicKey)), LmsLib.LMS_SHA256_M32_H10);
        assertFalse(vm.keyExistsJson(h10w4, _at(0, M32_SIGNATURES, "")));
        uint256 total;
        for (uint256 i; i < M32_SIGNATURES; ++i) {
            bytes memory message = vm.parseJsonBytes(h10w4, _at(0, i, ".message"));
            bytes memory signature = vm.parseJsonBytes(h10w4, _at(0, i, ".signature"));
            (bool valid, uint256 gasUsed) = lib.measureVerify(publicKey, message, signature);
            assertTrue(valid);
            assertFalse(lib.verify(publicKey, bytes.concat(message, hex"00"), signature));
            total += gasUsed;
            // solhint-disable-next-line no-console
            console.log("TypeScript M32_H10/N32_W4 signature, leaf", vm.parseJsonUint(h10w4, _at(0, i, ".q")), gasUsed);
        }
        // solhint-disable-next-line no-console
        console.log("  mean (library gas):", total / M32_SIGNATURES);
    }

    function test_verify_typeScriptM24H10W4Signature() public view {
        bytes memory publicKey = vm.parseJsonBytes(h10w4, ".sets[1].publicKey");
        assertEq(uint32(bytes4(publicKey)), LmsLib.LMS_SHA256_M24_H10);
        bytes memory message = vm.parseJsonBytes(h10w4, _at(1, 0, ".message"));
        bytes memory signature = vm.parseJsonBytes(h10w4, _at(1, 0, ".signature"));
        (bool valid, uint256 gasUsed) = lib.measureVerify(publicKey, message, signature);
        assertTrue(valid);
        assertFalse(lib.verify(publicKey, bytes.concat(message, hex"00"), signature));
        // solhint-disable-next-line no-console
        console.log("TypeScript M24_H10/N24_W4 signature (library gas):", gasUsed);
    }

    /// @notice The 32-byte messages verify through the bytes32 overload too (a digest is signed as its bytes).
    function test_verify_typeScriptSignatureOfADigest() public view {
        bytes memory publicKey = vm.parseJsonBytes(h10w4, ".sets[0].publicKey");
        bytes32 digest = vm.parseJsonBytes32(h10w4, _at(0, 0, ".message"));
        bytes memory signature = vm.parseJsonBytes(h10w4, _at(0, 0, ".signature"));
        assertTrue(lib.verifyDigest(publicKey, digest, signature));
        assertFalse(lib.verifyDigest(publicKey, ~digest, signature));
    }

    /// @notice RFC 9858 Appendix A.1 (LMS_SHA256_M24_H5 / LMOTS_SHA256_N24_W8) and A.4 (LMS_SHA256_M24_H20 /
    /// LMOTS_SHA256_N24_W4), one-level HSS: the key's leading L = 1 and the signature's Nspk = 0 dropped.
    function test_verify_rfc9858TestCasesA1AndA4() public view {
        string[2] memory cases = [".a1", ".a4"];
        for (uint256 i; i < cases.length; ++i) {
            bytes memory publicKey = _drop4(vm.parseJsonBytes(rfc9858, string.concat(cases[i], ".publicKey")));
            bytes memory message = vm.parseJsonBytes(rfc9858, string.concat(cases[i], ".message"));
            bytes memory signature = _drop4(vm.parseJsonBytes(rfc9858, string.concat(cases[i], ".signature")));
            assertTrue(lib.verify(publicKey, message, signature));
            assertFalse(lib.verify(publicKey, bytes.concat(message, hex"00"), signature));
        }
    }

    function _at(uint256 set, uint256 index, string memory field) internal pure returns (string memory) {
        return string.concat(".sets[", vm.toString(set), "].signatures[", vm.toString(index), "]", field);
    }

    /// @dev `data` without its first 4 bytes (an HSS u32 L or Nspk, which must be 1 or 0 here).
    function _drop4(bytes memory data) internal pure returns (bytes memory out) {
        assertLe(uint32(bytes4(data)), 1);
        out = new bytes(data.length - 4);
        for (uint256 i; i < out.length; ++i) out[i] = data[i + 4];
    }
}
