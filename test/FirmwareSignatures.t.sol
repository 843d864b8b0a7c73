// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {FirmwareSignatures} from "../contracts/attestation/FirmwareSignatures.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {IFirmwareSignatures} from "../contracts/interfaces/IFirmwareSignatures.sol";
import {DeviceMessageLib} from "../contracts/libraries/DeviceMessageLib.sol";
import {LmsLib} from "../contracts/libraries/LmsLib.sol";
import {AttestationFixture} from "./utils/AttestationFixture.sol";
import {LmsTestSigner} from "./utils/LmsTestSigner.sol";

/// @notice FirmwareSignatures over the real registry: a maker's LMS key signs a release's manifest, which
/// marks the reference value PQ-signed; every refusal.
contract FirmwareSignaturesTest is AttestationFixture {
    FirmwareSignatures internal signatures;
    uint32 internal firmwareId;
    bytes32 internal constant SEED = keccak256("Acme's firmware LMS key");
    uint32 internal constant LMS = LmsLib.LMS_SHA256_M32_H10;
    uint32 internal constant OTS = LmsLib.LMOTS_SHA256_N32_W4;
    uint32 internal constant LEAF = 7;
    bytes internal lmsKey;

    function setUp() public override {
        super.setUp();
        signatures = new FirmwareSignatures(IDeviceRegistry(address(registry)));
        firmwareId = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        (lmsKey, ) = LmsTestSigner.sign(LMS, OTS, SEED, LEAF, "");
    }

    function _manifestDigest(string memory version, bytes32 measurement) internal view returns (bytes32) {
        return
            _typedDigest(
                registry.DOMAIN_SEPARATOR(),
                DeviceMessageLib.hashFirmwareRelease(maker, MODEL, version, measurement)
            );
    }

    function _lmsSign(bytes32 digest) internal pure returns (bytes memory sig) {
        (, sig) = LmsTestSigner.sign(LMS, OTS, SEED, LEAF, abi.encodePacked(digest));
    }

    function _setKey() internal {
        vm.prank(makerSigner);
        signatures.setLmsKey(lmsKey);
    }

    function test_signFirmware_marksTheReleasePqSigned() public {
        vm.expectEmit(address(signatures));
        emit IFirmwareSignatures.MakerLmsKeySet(maker, keccak256(lmsKey), lmsKey);
        _setKey();
        bytes32 digest = _manifestDigest("1.0.0", MEASUREMENT_V1);
        assertEq(signatures.manifestDigest(firmwareId, "1.0.0"), digest);
        vm.expectEmit(address(signatures));
        emit IFirmwareSignatures.FirmwarePqSigned(firmwareId, maker, keccak256(lmsKey), LEAF);
        signatures.signFirmware(firmwareId, "1.0.0", lmsKey, _lmsSign(digest));
        assertTrue(signatures.isPqSigned(firmwareId));
        IFirmwareSignatures.PqSignature memory s = signatures.pqSignatureOf(firmwareId);
        assertEq(s.lmsKeyHash, keccak256(lmsKey));
        assertEq(s.leaf, LEAF);
        assertEq(s.signedAt, block.timestamp);
        assertEq(signatures.lmsKeyOf(maker), keccak256(lmsKey));
    }

    function test_setLmsKey_RevertWhen_notAMaker() public {
        vm.expectRevert(abi.encodeWithSelector(IFirmwareSignatures.FirmwareSignaturesNotMaker.selector, stranger));
        vm.prank(stranger);
        signatures.setLmsKey(lmsKey);
    }

    function test_setLmsKey_RevertWhen_makerRemoved() public {
        vm.prank(governor);
        registry.removeMaker(maker);
        vm.expectRevert(abi.encodeWithSelector(IFirmwareSignatures.FirmwareSignaturesNotMaker.selector, makerSigner));
        vm.prank(makerSigner);
        signatures.setLmsKey(lmsKey);
    }

    function test_signFirmware_RevertWhen_noKeyRegistered() public {
        bytes memory sig = _lmsSign(_manifestDigest("1.0.0", MEASUREMENT_V1));
        vm.expectRevert(abi.encodeWithSelector(IFirmwareSignatures.FirmwareSignaturesNoLmsKey.selector, maker));
        signatures.signFirmware(firmwareId, "1.0.0", lmsKey, sig);
    }

    function test_signFirmware_RevertWhen_anotherMakersKey() public {
        _setKey();
        bytes32 otherSeed = keccak256("Globex's key");
        (bytes memory otherKey, bytes memory sig) = LmsTestSigner.sign(
            LMS,
            OTS,
            otherSeed,
            LEAF,
            abi.encodePacked(_manifestDigest("1.0.0", MEASUREMENT_V1))
        );
        vm.expectRevert(
            abi.encodeWithSelector(
                IFirmwareSignatures.FirmwareSignaturesWrongLmsKey.selector,
                maker,
                keccak256(lmsKey),
                keccak256(otherKey)
            )
        );
        signatures.signFirmware(firmwareId, "1.0.0", otherKey, sig);
    }

    function test_signFirmware_RevertWhen_wrongVersion() public {
        _setKey();
        bytes memory sig = _lmsSign(_manifestDigest("1.0.1", MEASUREMENT_V1));
        vm.expectRevert(
            abi.encodeWithSelector(IFirmwareSignatures.FirmwareSignaturesWrongVersion.selector, firmwareId, "1.0.1")
        );
        signatures.signFirmware(firmwareId, "1.0.1", lmsKey, sig);
    }

    function test_signFirmware_RevertWhen_signedAnotherRelease() public {
        _setKey();
        uint32 other = _publish(MODEL, "2.0.0", MEASUREMENT_V2);
        bytes memory sig = _lmsSign(_manifestDigest("2.0.0", MEASUREMENT_V2));
        vm.expectRevert(
            abi.encodeWithSelector(IFirmwareSignatures.FirmwareSignaturesInvalidSignature.selector, firmwareId)
        );
        signatures.signFirmware(firmwareId, "1.0.0", lmsKey, sig);
        signatures.signFirmware(other, "2.0.0", lmsKey, sig);
        assertTrue(signatures.isPqSigned(other));
        assertFalse(signatures.isPqSigned(firmwareId));
    }

    function test_signFirmware_RevertWhen_unknownFirmwareOrSignedTwice() public {
        _setKey();
        bytes memory sig = _lmsSign(_manifestDigest("1.0.0", MEASUREMENT_V1));
        vm.expectRevert(abi.encodeWithSelector(IFirmwareSignatures.FirmwareSignaturesUnknownFirmware.selector, 99));
        signatures.signFirmware(99, "1.0.0", lmsKey, sig);
        signatures.signFirmware(firmwareId, "1.0.0", lmsKey, sig);
        vm.expectRevert(
            abi.encodeWithSelector(IFirmwareSignatures.FirmwareSignaturesAlreadySigned.selector, firmwareId)
        );
        signatures.signFirmware(firmwareId, "1.0.0", lmsKey, sig);
    }

    /// @notice A revoked release can still carry its maker's signature: the signature says who released it,
    /// the registry's status whether devices on it are trusted.
    function test_signFirmware_revokedReleaseStaysRevoked() public {
        _setKey();
        _revokeFirmware(firmwareId);
        signatures.signFirmware(firmwareId, "1.0.0", lmsKey, _lmsSign(_manifestDigest("1.0.0", MEASUREMENT_V1)));
        assertTrue(signatures.isPqSigned(firmwareId));
    }

    /// @notice Any change of any byte of the LMS signature is refused.
    function testFuzz_signFirmware_signatureMutationRefused(uint256 index, uint8 mask) public {
        _setKey();
        bytes memory sig = _lmsSign(_manifestDigest("1.0.0", MEASUREMENT_V1));
        index = bound(index, 0, sig.length - 1);
        sig[index] ^= bytes1(uint8(bound(mask, 1, 255)));
        vm.expectRevert();
        signatures.signFirmware(firmwareId, "1.0.0", lmsKey, sig);
    }

    /// @notice The signature's execution gas for LMS_SHA256_M32_H10 / LMOTS_SHA256_N32_W4 (test build).
    function test_gas_signFirmware_lmsM32H10W4() public {
        _setKey();
        bytes memory sig = _lmsSign(_manifestDigest("1.0.0", MEASUREMENT_V1));
        bytes memory key = lmsKey;
        uint256 before = gasleft();
        signatures.signFirmware(firmwareId, "1.0.0", key, sig);
        uint256 used = before - gasleft();
        emit log_named_uint("signFirmware (LMS M32 H10 W4), execution gas", used);
        assertLt(used, 220_000);
    }
}
