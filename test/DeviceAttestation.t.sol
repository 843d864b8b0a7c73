// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

// solhint-disable-next-line no-console
import {console} from "forge-std/console.sol";
import {IDeviceAttestation} from "../contracts/interfaces/IDeviceAttestation.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {DeviceKeyLib} from "../contracts/libraries/DeviceKeyLib.sol";
import {DeviceMessageLib} from "../contracts/libraries/DeviceMessageLib.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {DeviceStatus} from "../contracts/types/DeviceStatus.sol";
import {KeyType} from "../contracts/types/KeyType.sol";
import {Attestation} from "../contracts/types/Messages.sol";
import {AttestationFixture} from "./utils/AttestationFixture.sol";
import {TestKey} from "./utils/RegistryFixture.sol";

/// @notice Reference values: publish, deprecate, revoke. No device key is involved, so one curve suffices.
contract DeviceAttestationFirmwareTest is AttestationFixture {
    // ============================================================ publishFirmware

    function test_publishFirmware_storesAndEmits() public {
        bytes32[] memory digests = _imageDigests(MEASUREMENT_V1);
        vm.expectEmit(address(registry));
        emit IDeviceAttestation.FirmwarePublished(1, maker, MODEL, "1.0.0", MEASUREMENT_V1, URI, digests);
        vm.prank(makerSigner);
        uint32 id = registry.publishFirmware(MODEL, "1.0.0", MEASUREMENT_V1, URI, digests);

        assertEq(id, 1);
        assertEq(registry.firmwareCount(), 1);
        (IDeviceAttestation.Firmware memory f, bytes32 measurement) = registry.firmware(id);
        assertEq(f.maker, maker);
        assertEq(f.model, MODEL);
        assertEq(uint8(f.status), uint8(IDeviceAttestation.FirmwareStatus.Good));
        assertEq(f.sunset, 0);
        assertEq(f.revokedAt, 0);
        assertEq(measurement, MEASUREMENT_V1);
        assertEq(registry.firmwareIdOf(maker, MODEL, "1.0.0"), id);
        assertEq(registry.firmwareIdOfMeasurement(maker, MODEL, MEASUREMENT_V1), id);
    }

    function test_publishFirmware_emitsWithoutImageDigests() public {
        bytes32[] memory none = new bytes32[](0);
        vm.expectEmit(address(registry));
        emit IDeviceAttestation.FirmwarePublished(1, maker, MODEL, "1.0.0", MEASUREMENT_V1, "", none);
        vm.prank(makerSigner);
        registry.publishFirmware(MODEL, "1.0.0", MEASUREMENT_V1, "", none);
    }

    function test_publishFirmware_idsCountUp() public {
        assertEq(_publish(MODEL, "1.0.0", MEASUREMENT_V1), 1);
        assertEq(_publish(MODEL, "2.0.0", MEASUREMENT_V2), 2);
        assertEq(_publishAs(otherMakerSigner, MODEL, "1.0.0", MEASUREMENT_OTHER_MODEL), 3);
        assertEq(registry.firmwareCount(), 3);
    }

    function test_publishFirmware_uniquenessIsPerMakerAndModel() public {
        uint32 a = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        // The same version and measurement under another model of the same maker, and under another maker.
        uint32 b = _publish(OTHER_MODEL, "1.0.0", MEASUREMENT_V1);
        uint32 c = _publishAs(otherMakerSigner, MODEL, "1.0.0", MEASUREMENT_V1);
        assertEq(registry.firmwareIdOf(maker, MODEL, "1.0.0"), a);
        assertEq(registry.firmwareIdOf(maker, OTHER_MODEL, "1.0.0"), b);
        assertEq(registry.firmwareIdOf(otherMaker, MODEL, "1.0.0"), c);
        assertEq(registry.firmwareIdOfMeasurement(maker, OTHER_MODEL, MEASUREMENT_V1), b);
        assertEq(registry.firmwareIdOfMeasurement(otherMaker, MODEL, MEASUREMENT_V1), c);
    }

    function test_publishFirmware_lookupsOfUnknownAreZero() public {
        _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        assertEq(registry.firmwareIdOf(maker, MODEL, "1.0.1"), 0);
        assertEq(registry.firmwareIdOf(otherMaker, MODEL, "1.0.0"), 0);
        assertEq(registry.firmwareIdOfMeasurement(maker, MODEL, MEASUREMENT_V2), 0);
        (IDeviceAttestation.Firmware memory f, bytes32 measurement) = registry.firmware(2);
        assertEq(uint8(f.status), uint8(IDeviceAttestation.FirmwareStatus.Unknown));
        assertEq(measurement, bytes32(0));
    }

    function test_publishFirmware_newSignerPublishesOldCannot() public {
        address newSigner = makeAddr("newMakerSigner");
        vm.prank(governor);
        registry.setMakerSigner(maker, newSigner);
        vm.expectRevert(abi.encodeWithSelector(IDeviceAttestation.AttestationNotMaker.selector, 0, makerSigner));
        _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        assertEq(_publishAs(newSigner, MODEL, "1.0.0", MEASUREMENT_V1), 1);
    }

    function test_publishFirmware_RevertWhen_NotMaker() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceAttestation.AttestationNotMaker.selector, 0, stranger));
        _publishAs(stranger, MODEL, "1.0.0", MEASUREMENT_V1);
    }

    function test_publishFirmware_RevertWhen_Governor() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceAttestation.AttestationNotMaker.selector, 0, governor));
        _publishAs(governor, MODEL, "1.0.0", MEASUREMENT_V1);
    }

    function test_publishFirmware_RevertWhen_MakerRemoved() public {
        vm.prank(governor);
        registry.removeMaker(maker);
        vm.expectRevert(abi.encodeWithSelector(IDeviceAttestation.AttestationNotMaker.selector, 0, makerSigner));
        _publish(MODEL, "1.0.0", MEASUREMENT_V1);
    }

    function test_publishFirmware_RevertWhen_ZeroMeasurement() public {
        vm.expectRevert(IDeviceAttestation.AttestationZeroMeasurement.selector);
        _publish(MODEL, "1.0.0", bytes32(0));
    }

    function test_publishFirmware_RevertWhen_VersionExists() public {
        _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceAttestation.AttestationVersionExists.selector, maker, MODEL, "1.0.0")
        );
        _publish(MODEL, "1.0.0", MEASUREMENT_V2);
    }

    function test_publishFirmware_RevertWhen_VersionExistsEvenIfRevoked() public {
        uint32 id = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        _revokeFirmware(id);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceAttestation.AttestationVersionExists.selector, maker, MODEL, "1.0.0")
        );
        _publish(MODEL, "1.0.0", MEASUREMENT_V2);
    }

    function test_publishFirmware_RevertWhen_MeasurementExists() public {
        _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeviceAttestation.AttestationMeasurementExists.selector,
                maker,
                MODEL,
                MEASUREMENT_V1
            )
        );
        _publish(MODEL, "1.0.1", MEASUREMENT_V1);
    }

    // ============================================================ deprecateFirmware

    function test_deprecateFirmware_storesAndEmits() public {
        uint32 id = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        uint64 sunset = uint64(block.timestamp + 30 days);
        vm.expectEmit(address(registry));
        emit IDeviceAttestation.FirmwareStatusChanged(
            id,
            IDeviceAttestation.FirmwareStatus.Deprecated,
            sunset,
            makerSigner
        );
        _deprecate(id, sunset);
        (IDeviceAttestation.Firmware memory f, ) = registry.firmware(id);
        assertEq(uint8(f.status), uint8(IDeviceAttestation.FirmwareStatus.Deprecated));
        assertEq(f.sunset, sunset);
        assertEq(f.revokedAt, 0);
    }

    function test_deprecateFirmware_acceptsSunsetOneSecondAhead() public {
        uint32 id = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        _deprecate(id, uint64(block.timestamp + 1));
        (IDeviceAttestation.Firmware memory f, ) = registry.firmware(id);
        assertEq(f.sunset, block.timestamp + 1);
    }

    function test_deprecateFirmware_RevertWhen_SunsetNow() public {
        uint32 id = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        uint64 sunset = uint64(block.timestamp);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceAttestation.AttestationSunsetInPast.selector, sunset, block.timestamp)
        );
        _deprecate(id, sunset);
    }

    function test_deprecateFirmware_RevertWhen_SunsetInPast() public {
        uint32 id = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        uint64 sunset = uint64(block.timestamp - 1 days);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceAttestation.AttestationSunsetInPast.selector, sunset, block.timestamp)
        );
        _deprecate(id, sunset);
    }

    function test_deprecateFirmware_RevertWhen_NotTheMaker() public {
        uint32 id = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        uint64 sunset = uint64(block.timestamp + 1 days);
        address[3] memory callers = [stranger, otherMakerSigner, governor];
        for (uint256 i; i < callers.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IDeviceAttestation.AttestationNotMaker.selector, maker, callers[i]));
            vm.prank(callers[i]);
            registry.deprecateFirmware(id, sunset);
        }
    }

    function test_deprecateFirmware_RevertWhen_MakerRemoved() public {
        uint32 id = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        vm.prank(governor);
        registry.removeMaker(maker);
        vm.expectRevert(abi.encodeWithSelector(IDeviceAttestation.AttestationNotMaker.selector, maker, makerSigner));
        _deprecate(id, uint64(block.timestamp + 1 days));
    }

    function test_deprecateFirmware_RevertWhen_UnknownFirmware() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceAttestation.AttestationUnknownFirmware.selector, 1));
        _deprecate(1, uint64(block.timestamp + 1 days));
    }

    function test_deprecateFirmware_RevertWhen_AlreadyDeprecated() public {
        uint32 id = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        _deprecate(id, uint64(block.timestamp + 1 days));
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeviceAttestation.AttestationInvalidStatusChange.selector,
                id,
                IDeviceAttestation.FirmwareStatus.Deprecated,
                IDeviceAttestation.FirmwareStatus.Deprecated
            )
        );
        _deprecate(id, uint64(block.timestamp + 2 days));
    }

    function test_deprecateFirmware_RevertWhen_Revoked() public {
        uint32 id = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        _revokeFirmware(id);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeviceAttestation.AttestationInvalidStatusChange.selector,
                id,
                IDeviceAttestation.FirmwareStatus.Revoked,
                IDeviceAttestation.FirmwareStatus.Deprecated
            )
        );
        _deprecate(id, uint64(block.timestamp + 1 days));
    }

    // ============================================================ revokeFirmware

    function test_revokeFirmware_byMakerStoresAndEmits() public {
        uint32 id = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        vm.warp(block.timestamp + 5 days);
        vm.expectEmit(address(registry));
        emit IDeviceAttestation.FirmwareStatusChanged(id, IDeviceAttestation.FirmwareStatus.Revoked, 0, makerSigner);
        _revokeFirmware(id);
        (IDeviceAttestation.Firmware memory f, bytes32 measurement) = registry.firmware(id);
        assertEq(uint8(f.status), uint8(IDeviceAttestation.FirmwareStatus.Revoked));
        assertEq(f.revokedAt, block.timestamp);
        assertEq(measurement, MEASUREMENT_V1, "the reference value stays readable");
    }

    function test_revokeFirmware_byGovernorForAnyMaker() public {
        uint32 mine = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        uint32 theirs = _publishAs(otherMakerSigner, MODEL, "1.0.0", MEASUREMENT_OTHER_MODEL);
        vm.expectEmit(address(registry));
        emit IDeviceAttestation.FirmwareStatusChanged(theirs, IDeviceAttestation.FirmwareStatus.Revoked, 0, governor);
        vm.startPrank(governor);
        registry.revokeFirmware(theirs);
        registry.revokeFirmware(mine);
        vm.stopPrank();
        (IDeviceAttestation.Firmware memory f, ) = registry.firmware(theirs);
        assertEq(uint8(f.status), uint8(IDeviceAttestation.FirmwareStatus.Revoked));
    }

    function test_revokeFirmware_byGovernorAfterMakerRemoved() public {
        uint32 id = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        vm.prank(governor);
        registry.removeMaker(maker);
        vm.expectRevert(abi.encodeWithSelector(IDeviceAttestation.AttestationNotMaker.selector, maker, makerSigner));
        _revokeFirmware(id);
        vm.prank(governor);
        registry.revokeFirmware(id);
    }

    function test_revokeFirmware_deprecatedKeepsItsSunset() public {
        uint32 id = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        uint64 sunset = uint64(block.timestamp + 1 days);
        _deprecate(id, sunset);
        vm.expectEmit(address(registry));
        emit IDeviceAttestation.FirmwareStatusChanged(
            id,
            IDeviceAttestation.FirmwareStatus.Revoked,
            sunset,
            makerSigner
        );
        _revokeFirmware(id);
    }

    function test_revokeFirmware_RevertWhen_NotMakerNorGovernor() public {
        uint32 id = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        address[3] memory callers = [stranger, otherMakerSigner, suspender];
        for (uint256 i; i < callers.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IDeviceAttestation.AttestationNotMaker.selector, maker, callers[i]));
            vm.prank(callers[i]);
            registry.revokeFirmware(id);
        }
    }

    function test_revokeFirmware_RevertWhen_AlreadyRevoked() public {
        uint32 id = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        _revokeFirmware(id);
        bytes memory expected = abi.encodeWithSelector(
            IDeviceAttestation.AttestationInvalidStatusChange.selector,
            id,
            IDeviceAttestation.FirmwareStatus.Revoked,
            IDeviceAttestation.FirmwareStatus.Revoked
        );
        vm.expectRevert(expected);
        _revokeFirmware(id);
        vm.expectRevert(expected);
        vm.prank(governor);
        registry.revokeFirmware(id);
    }

    function test_revokeFirmware_RevertWhen_UnknownFirmware() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceAttestation.AttestationUnknownFirmware.selector, 0));
        vm.prank(governor);
        registry.revokeFirmware(0);
    }

    function test_maxEvidenceAge_isOneHour() public view {
        assertEq(registry.maxEvidenceAge(), 1 hours);
        assertEq(registry.MAX_EVIDENCE_AGE(), 1 hours);
    }
}

/// @notice Challenges, evidence and the trust verdicts, run once per curve by the two concrete contracts
/// below.
abstract contract DeviceAttestationCurveTest is AttestationFixture {
    /// @dev A key of the curve under test.
    function _key(uint256 privateKey) internal view virtual returns (TestKey memory);

    uint256 internal constant MAX_AGE = 1 hours;

    TestKey internal dev;
    TestKey internal dev2;
    DeviceId internal id;
    uint32 internal v1;

    function setUp() public virtual override {
        super.setUp();
        dev = _key(0xD1);
        dev2 = _key(0xD2);
        id = _register(dev);
        v1 = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
    }

    /// @notice Signs `evidence` with `k` and submits it with `challengeBlock`.
    function _submit(Attestation memory evidence, uint256 challengeBlock, TestKey memory k) internal {
        registry.attest(evidence, challengeBlock, _deviceKey(k), _sign(k, _attestationDigest(evidence)));
    }

    /// @notice Honest evidence of `dev` for v1, fresh for the previous block. Returns it and its block.
    function _fresh(uint64 bootCount) internal returns (Attestation memory evidence, uint256 challengeBlock) {
        bytes32 challenge;
        (challengeBlock, challenge) = _nextBlockChallenge();
        evidence = _evidence(dev, MEASUREMENT_V1, challenge, bootCount);
    }

    function _stale(bytes32 challenge, uint256 challengeBlock) internal view returns (bytes memory) {
        return
            abi.encodeWithSelector(
                IDeviceAttestation.AttestationStaleChallenge.selector,
                id,
                challenge,
                challengeBlock
            );
    }

    /// @notice Signs `evidence` with `k`, then expects `attest` to revert with `err`. (Signing first: the
    /// signing cheatcodes would otherwise be the call vm.expectRevert applies to.)
    function _submitExpectingRevert(
        bytes memory err,
        Attestation memory evidence,
        uint256 challengeBlock,
        TestKey memory k
    ) internal {
        bytes memory signature = _sign(k, _attestationDigest(evidence));
        IDeviceRegistry.DeviceKey memory key = _deviceKey(k);
        vm.expectRevert(err);
        registry.attest(evidence, challengeBlock, key, signature);
    }

    // ============================================================ issueChallenge

    function test_issueChallenge_byOperatorStoresAndEmits() public {
        vm.expectEmit(true, false, false, false, address(registry));
        emit IDeviceAttestation.ChallengeIssued(id, bytes32(0));
        vm.prank(operator);
        bytes32 challenge = registry.issueChallenge(id);
        assertTrue(challenge != bytes32(0));
        assertEq(registry.challengeOf(id), challenge);
    }

    function test_issueChallenge_emitsTheChallenge() public {
        vm.recordLogs();
        vm.prank(operator);
        bytes32 challenge = registry.issueChallenge(id);
        assertEq(vm.getRecordedLogs()[0].data, abi.encode(challenge));
    }

    function test_issueChallenge_byGovernor() public {
        vm.prank(governor);
        bytes32 challenge = registry.issueChallenge(id);
        assertEq(registry.challengeOf(id), challenge);
    }

    function test_issueChallenge_newOneReplacesThePendingOne() public {
        vm.startPrank(operator);
        bytes32 first = registry.issueChallenge(id);
        bytes32 second = registry.issueChallenge(id);
        vm.stopPrank();
        assertTrue(first != second);
        assertEq(registry.challengeOf(id), second);

        Attestation memory evidence = _evidence(dev, MEASUREMENT_V1, first, 0);
        _submitExpectingRevert(_stale(first, 0), evidence, 0, dev);
    }

    function test_issueChallenge_differsPerDevice() public {
        DeviceId id2 = _register(dev2);
        vm.startPrank(operator);
        bytes32 a = registry.issueChallenge(id);
        bytes32 b = registry.issueChallenge(id2);
        vm.stopPrank();
        assertTrue(a != b);
    }

    function test_issueChallenge_forSuspendedDevice() public {
        vm.prank(suspender);
        registry.suspend(id, "check");
        vm.prank(operator);
        assertTrue(registry.issueChallenge(id) != bytes32(0));
    }

    function test_issueChallenge_RevertWhen_NotOperator() public {
        address[2] memory callers = [stranger, suspender];
        for (uint256 i; i < callers.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IDeviceAttestation.AttestationNotOperator.selector, id, callers[i]));
            vm.prank(callers[i]);
            registry.issueChallenge(id);
        }
    }

    function test_issueChallenge_RevertWhen_UnknownDevice() public {
        DeviceId unknown = _id(dev2);
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryUnknownDevice.selector, unknown));
        vm.prank(governor);
        registry.issueChallenge(unknown);
    }

    function test_issueChallenge_RevertWhen_DeviceRevoked() public {
        vm.prank(governor);
        registry.revoke(id, "compromised");
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryTerminal.selector, id, DeviceStatus.Revoked)
        );
        vm.prank(operator);
        registry.issueChallenge(id);
    }

    function test_issueChallenge_RevertWhen_DeviceDecommissioned() public {
        vm.prank(operator);
        registry.decommission(id);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryTerminal.selector, id, DeviceStatus.Decommissioned)
        );
        vm.prank(operator);
        registry.issueChallenge(id);
    }

    // ============================================================ attest: accepted

    function test_attest_withBlockHashRecordsAndEmits() public {
        vm.roll(block.number + 10);
        vm.warp(block.timestamp + 120);
        uint256 challengeBlock = block.number - 3;
        Attestation memory evidence = _evidence(dev, MEASUREMENT_V1, blockhash(challengeBlock), 7);
        evidence.timestamp = uint64(block.timestamp - 30);

        vm.expectEmit(address(registry));
        emit IDeviceAttestation.DeviceAttested(id, v1, evidence.timestamp, 7);
        _submit(evidence, challengeBlock, dev);

        IDeviceAttestation.Evidence memory e = registry.evidenceOf(id);
        assertEq(e.firmwareId, v1);
        assertEq(e.timestamp, evidence.timestamp, "the device's time");
        assertEq(e.bootCount, 7);
        assertEq(e.recordedAt, block.timestamp, "the chain's time");
        assertTrue(registry.isTrusted(id, MAX_AGE));
    }

    function test_attest_withIssuedNonceConsumesIt() public {
        vm.prank(operator);
        bytes32 nonce = registry.issueChallenge(id);
        vm.warp(block.timestamp + 1);
        Attestation memory evidence = _evidence(dev, MEASUREMENT_V1, nonce, 1);

        vm.expectEmit(address(registry));
        emit IDeviceAttestation.DeviceAttested(id, v1, evidence.timestamp, 1);
        _submit(evidence, 0, dev);
        assertEq(registry.challengeOf(id), bytes32(0), "single use");
        assertEq(registry.evidenceOf(id).timestamp, block.timestamp);
    }

    function test_attest_acceptsOldestBlockInWindow() public {
        uint256 challengeBlock = block.number - 256;
        Attestation memory evidence = _evidence(dev, MEASUREMENT_V1, blockhash(challengeBlock), 0);
        _submit(evidence, challengeBlock, dev);
        assertEq(registry.evidenceOf(id).firmwareId, v1);
    }

    function test_attest_acceptsEvidenceExactlyMaxEvidenceAgeOld() public {
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        evidence.timestamp = uint64(block.timestamp - registry.MAX_EVIDENCE_AGE());
        _submit(evidence, challengeBlock, dev);
        assertEq(registry.evidenceOf(id).timestamp, evidence.timestamp);
    }

    function test_attest_anyoneMaySubmit() public {
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        bytes memory signature = _sign(dev, _attestationDigest(evidence));
        vm.prank(stranger);
        registry.attest(evidence, challengeBlock, _deviceKey(dev), signature);
        assertEq(registry.evidenceOf(id).firmwareId, v1);
    }

    function test_attest_bootCountMayRepeatOrGrow() public {
        _attest(dev, MEASUREMENT_V1, 3);
        _attest(dev, MEASUREMENT_V1, 3);
        _attest(dev, MEASUREMENT_V1, 9);
        assertEq(registry.evidenceOf(id).bootCount, 9);
    }

    function test_attest_withoutBootCounter() public {
        _attest(dev, MEASUREMENT_V1, 0);
        _attest(dev, MEASUREMENT_V1, 0);
        assertEq(registry.evidenceOf(id).bootCount, 0);
    }

    function test_attest_suspendedDeviceMayAttest() public {
        vm.prank(suspender);
        registry.suspend(id, "check");
        _attest(dev, MEASUREMENT_V1, 1);
        assertEq(registry.evidenceOf(id).firmwareId, v1);
        _assertVerdict(id, MAX_AGE, IDeviceAttestation.TrustVerdict.NotActive);
        vm.prank(governor);
        registry.reinstate(id);
        _assertVerdict(id, MAX_AGE, IDeviceAttestation.TrustVerdict.Trusted);
    }

    function test_attest_copiesTheDeviceStatusIntoEvidence() public {
        assertEq(uint8(registry.evidenceOf(id).status), uint8(DeviceStatus.Unknown));
        _attest(dev, MEASUREMENT_V1, 1);
        assertEq(uint8(registry.evidenceOf(id).status), uint8(DeviceStatus.Active));
        vm.prank(suspender);
        registry.suspend(id, "check");
        _attest(dev, MEASUREMENT_V1, 2);
        assertEq(uint8(registry.evidenceOf(id).status), uint8(DeviceStatus.Suspended));
    }

    function test_suspend_keepsTheEvidenceStatusCopyInSync() public {
        _attest(dev, MEASUREMENT_V1, 1);
        vm.prank(suspender);
        registry.suspend(id, "check");
        assertEq(uint8(registry.evidenceOf(id).status), uint8(DeviceStatus.Suspended));
        assertFalse(registry.isTrusted(id, MAX_AGE));
        vm.prank(governor);
        registry.reinstate(id);
        assertEq(uint8(registry.evidenceOf(id).status), uint8(DeviceStatus.Active));
        assertTrue(registry.isTrusted(id, MAX_AGE));
    }

    function test_revoke_keepsTheEvidenceStatusCopyInSync() public {
        _attest(dev, MEASUREMENT_V1, 1);
        vm.prank(governor);
        registry.revoke(id, "key leaked");
        assertEq(uint8(registry.evidenceOf(id).status), uint8(DeviceStatus.Revoked));
        assertFalse(registry.isTrusted(id, MAX_AGE));
    }

    function test_decommission_keepsTheEvidenceStatusCopyInSync() public {
        _attest(dev, MEASUREMENT_V1, 1);
        vm.prank(operator);
        registry.decommission(id);
        assertEq(uint8(registry.evidenceOf(id).status), uint8(DeviceStatus.Decommissioned));
        assertFalse(registry.isTrusted(id, MAX_AGE));
    }

    function test_suspend_leavesNoEvidenceForANeverAttestedDevice() public {
        vm.prank(suspender);
        registry.suspend(id, "check");
        vm.prank(governor);
        registry.reinstate(id);
        IDeviceAttestation.Evidence memory e = registry.evidenceOf(id);
        assertEq(e.firmwareId, 0);
        assertEq(uint8(e.status), uint8(DeviceStatus.Unknown));
        assertFalse(registry.isTrusted(id, type(uint256).max));
    }

    function test_attest_deprecatedBeforeSunset() public {
        _deprecate(v1, uint64(block.timestamp + 1 days));
        _attest(dev, MEASUREMENT_V1, 0);
        _assertVerdict(id, MAX_AGE, IDeviceAttestation.TrustVerdict.Trusted);
    }

    function test_attest_withTheRotatedInKey() public {
        TestKey memory next = _key(0xD3);
        _rotate(id, dev, next);
        _attest(id, next, MEASUREMENT_V1, 0);
        _assertVerdict(id, MAX_AGE, IDeviceAttestation.TrustVerdict.Trusted);
    }

    // ============================================================ attest: time

    function test_attest_RevertWhen_TimestampInFuture() public {
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        evidence.timestamp = uint64(block.timestamp + 1);
        _submitExpectingRevert(
            abi.encodeWithSelector(
                IDeviceAttestation.AttestationFutureTimestamp.selector,
                evidence.timestamp,
                block.timestamp
            ),
            evidence,
            challengeBlock,
            dev
        );
    }

    function test_attest_RevertWhen_TooOld() public {
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        evidence.timestamp = uint64(block.timestamp - registry.MAX_EVIDENCE_AGE() - 1);
        _submitExpectingRevert(
            abi.encodeWithSelector(
                IDeviceAttestation.AttestationTooOld.selector,
                evidence.timestamp,
                block.timestamp,
                1 hours
            ),
            evidence,
            challengeBlock,
            dev
        );
    }

    function test_attest_RevertWhen_Replayed() public {
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        bytes memory signature = _sign(dev, _attestationDigest(evidence));
        registry.attest(evidence, challengeBlock, _deviceKey(dev), signature);
        vm.roll(block.number + 1);
        vm.warp(block.timestamp + 10);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeviceAttestation.AttestationNotNewer.selector,
                id,
                evidence.timestamp,
                evidence.timestamp
            )
        );
        registry.attest(evidence, challengeBlock, _deviceKey(dev), signature);
    }

    function test_attest_RevertWhen_SameTimestampOtherChallenge() public {
        (Attestation memory first, uint256 firstBlock) = _fresh(0);
        _submit(first, firstBlock, dev);
        vm.roll(block.number + 1); // a new block in the same second
        Attestation memory second = _evidence(dev, MEASUREMENT_V1, blockhash(block.number - 1), 0);
        assertEq(second.timestamp, first.timestamp);
        _submitExpectingRevert(
            abi.encodeWithSelector(
                IDeviceAttestation.AttestationNotNewer.selector,
                id,
                second.timestamp,
                first.timestamp
            ),
            second,
            block.number - 1,
            dev
        );
    }

    function test_attest_RevertWhen_OlderThanLatest() public {
        (Attestation memory first, uint256 firstBlock) = _fresh(0);
        _submit(first, firstBlock, dev);
        (Attestation memory older, uint256 olderBlock) = _fresh(0);
        older.timestamp = first.timestamp - 1;
        _submitExpectingRevert(
            abi.encodeWithSelector(
                IDeviceAttestation.AttestationNotNewer.selector,
                id,
                older.timestamp,
                first.timestamp
            ),
            older,
            olderBlock,
            dev
        );
    }

    // ============================================================ attest: boot count

    function test_attest_RevertWhen_BootCountDecreases() public {
        _attest(dev, MEASUREMENT_V1, 5);
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(4);
        _submitExpectingRevert(
            abi.encodeWithSelector(IDeviceAttestation.AttestationBootCountDecreased.selector, id, 4, 5),
            evidence,
            challengeBlock,
            dev
        );
    }

    function test_attest_RevertWhen_BootCountZeroAfterNonzero() public {
        _attest(dev, MEASUREMENT_V1, 1);
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        _submitExpectingRevert(
            abi.encodeWithSelector(IDeviceAttestation.AttestationBootCountDecreased.selector, id, 0, 1),
            evidence,
            challengeBlock,
            dev
        );
    }

    // ============================================================ attest: challenge

    function test_attest_RevertWhen_BlockHashOlderThan256Blocks() public {
        uint256 challengeBlock = block.number - 1;
        bytes32 challenge = blockhash(challengeBlock);
        vm.roll(challengeBlock + 257);
        Attestation memory evidence = _evidence(dev, MEASUREMENT_V1, challenge, 0);
        _submitExpectingRevert(_stale(challenge, challengeBlock), evidence, challengeBlock, dev);
    }

    function test_attest_RevertWhen_ChallengeBlockIsCurrent() public {
        bytes32 challenge = keccak256("the current block has no hash yet");
        Attestation memory evidence = _evidence(dev, MEASUREMENT_V1, challenge, 0);
        _submitExpectingRevert(_stale(challenge, block.number), evidence, block.number, dev);
    }

    function test_attest_RevertWhen_ChallengeBlockInFuture() public {
        bytes32 challenge = keccak256("a future block");
        Attestation memory evidence = _evidence(dev, MEASUREMENT_V1, challenge, 0);
        _submitExpectingRevert(_stale(challenge, block.number + 1), evidence, block.number + 1, dev);
    }

    function test_attest_RevertWhen_WrongBlockHash() public {
        bytes32 challenge = blockhash(block.number - 2);
        Attestation memory evidence = _evidence(dev, MEASUREMENT_V1, challenge, 0);
        _submitExpectingRevert(_stale(challenge, block.number - 1), evidence, block.number - 1, dev);
    }

    function test_attest_RevertWhen_NonceReused() public {
        vm.prank(operator);
        bytes32 nonce = registry.issueChallenge(id);
        _submit(_evidence(dev, MEASUREMENT_V1, nonce, 0), 0, dev);
        vm.warp(block.timestamp + 1);
        Attestation memory again = _evidence(dev, MEASUREMENT_V1, nonce, 0);
        _submitExpectingRevert(_stale(nonce, 0), again, 0, dev);
    }

    function test_attest_RevertWhen_NonceOfAnotherDevice() public {
        DeviceId id2 = _register(dev2);
        vm.prank(operator);
        bytes32 nonce = registry.issueChallenge(id2);
        Attestation memory evidence = _evidence(dev, MEASUREMENT_V1, nonce, 0);
        _submitExpectingRevert(_stale(nonce, 0), evidence, 0, dev);
        assertEq(registry.challengeOf(id2), nonce, "still pending for its device");
    }

    function test_attest_RevertWhen_ZeroNonceAndNonePending() public {
        Attestation memory evidence = _evidence(dev, MEASUREMENT_V1, bytes32(0), 0);
        _submitExpectingRevert(_stale(bytes32(0), 0), evidence, 0, dev);
    }

    function test_attest_RevertWhen_NonceGivenAsBlockHash() public {
        vm.prank(operator);
        bytes32 nonce = registry.issueChallenge(id);
        Attestation memory evidence = _evidence(dev, MEASUREMENT_V1, nonce, 0);
        _submitExpectingRevert(_stale(nonce, block.number - 1), evidence, block.number - 1, dev);
    }

    // ============================================================ attest: measurement

    function test_attest_RevertWhen_UnknownMeasurement() public {
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        evidence.measurement = MEASUREMENT_V2;
        _submitExpectingRevert(
            abi.encodeWithSelector(IDeviceAttestation.AttestationUnknownMeasurement.selector, id, MEASUREMENT_V2),
            evidence,
            challengeBlock,
            dev
        );
    }

    function test_attest_RevertWhen_MeasurementOfOtherModel() public {
        uint32 other = _publish(OTHER_MODEL, "1.0.0", MEASUREMENT_OTHER_MODEL);
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        evidence.measurement = MEASUREMENT_OTHER_MODEL;
        _submitExpectingRevert(
            abi.encodeWithSelector(
                IDeviceAttestation.AttestationMeasurementOfOtherModel.selector,
                id,
                MEASUREMENT_OTHER_MODEL,
                other
            ),
            evidence,
            challengeBlock,
            dev
        );
    }

    function test_attest_RevertWhen_MeasurementOfOtherMakersModel() public {
        uint32 other = _publishAs(otherMakerSigner, MODEL, "1.0.0", MEASUREMENT_OTHER_MODEL);
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        evidence.measurement = MEASUREMENT_OTHER_MODEL;
        _submitExpectingRevert(
            abi.encodeWithSelector(
                IDeviceAttestation.AttestationMeasurementOfOtherModel.selector,
                id,
                MEASUREMENT_OTHER_MODEL,
                other
            ),
            evidence,
            challengeBlock,
            dev
        );
    }

    function test_attest_RevertWhen_FirmwareRevoked() public {
        _revokeFirmware(v1);
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        _submitExpectingRevert(
            abi.encodeWithSelector(
                IDeviceAttestation.AttestationFirmwareNotTrusted.selector,
                id,
                v1,
                IDeviceAttestation.FirmwareStatus.Revoked
            ),
            evidence,
            challengeBlock,
            dev
        );
    }

    function test_attest_RevertWhen_DeprecatedAtSunset() public {
        uint64 sunset = uint64(block.timestamp + 1 days);
        _deprecate(v1, sunset);
        vm.warp(sunset - 1);
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0); // block time = sunset
        assertEq(block.timestamp, sunset);
        _submitExpectingRevert(
            abi.encodeWithSelector(
                IDeviceAttestation.AttestationFirmwareNotTrusted.selector,
                id,
                v1,
                IDeviceAttestation.FirmwareStatus.Deprecated
            ),
            evidence,
            challengeBlock,
            dev
        );
    }

    function test_attest_RevertWhen_DeprecatedThenRevoked() public {
        _deprecate(v1, uint64(block.timestamp + 1 days));
        _revokeFirmware(v1);
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        _submitExpectingRevert(
            abi.encodeWithSelector(
                IDeviceAttestation.AttestationFirmwareNotTrusted.selector,
                id,
                v1,
                IDeviceAttestation.FirmwareStatus.Revoked
            ),
            evidence,
            challengeBlock,
            dev
        );
    }

    function test_attest_revocationOfOneModelLeavesTheSameMeasurementOfAnotherModel() public {
        TestKey memory otherModelDev = _key(0xD7);
        DeviceId otherId = _registerModel(otherModelDev, OTHER_MODEL);
        uint32 otherV1 = _publish(OTHER_MODEL, "1.0.0", MEASUREMENT_V1); // same image, another model
        _revokeFirmware(v1);
        _attest(otherModelDev, MEASUREMENT_V1, 0);
        assertEq(registry.evidenceOf(otherId).firmwareId, otherV1);
        _assertVerdict(otherId, MAX_AGE, IDeviceAttestation.TrustVerdict.Trusted);
    }

    // ============================================================ attest: signature and key

    function test_attest_RevertWhen_SignedByAnotherKey() public {
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        bytes memory signature = _sign(dev2, _attestationDigest(evidence));
        vm.expectRevert(abi.encodeWithSelector(IDeviceAttestation.AttestationInvalidSignature.selector, id));
        registry.attest(evidence, challengeBlock, _deviceKey(dev), signature);
    }

    function test_attest_RevertWhen_SignedForAnotherChain() public {
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        bytes32 digest = _typedDigest(
            _domainSeparator(block.chainid + 1, address(registry)),
            DeviceMessageLib.hashAttestation(evidence)
        );
        bytes memory signature = _sign(dev, digest);
        vm.expectRevert(abi.encodeWithSelector(IDeviceAttestation.AttestationInvalidSignature.selector, id));
        registry.attest(evidence, challengeBlock, _deviceKey(dev), signature);
    }

    function test_attest_RevertWhen_SignedForAnotherContract() public {
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        bytes32 digest = _typedDigest(
            _domainSeparator(block.chainid, stranger),
            DeviceMessageLib.hashAttestation(evidence)
        );
        bytes memory signature = _sign(dev, digest);
        vm.expectRevert(abi.encodeWithSelector(IDeviceAttestation.AttestationInvalidSignature.selector, id));
        registry.attest(evidence, challengeBlock, _deviceKey(dev), signature);
    }

    function test_attest_RevertWhen_RotatedAwayKey() public {
        _rotate(id, dev, _key(0xD3));
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        _submitExpectingRevert(
            abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryWrongKey.selector, id, dev.keyHash),
            evidence,
            challengeBlock,
            dev
        );
    }

    function test_attest_RevertWhen_KeyOfAnotherDevice() public {
        _register(dev2);
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        _submitExpectingRevert(
            abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryWrongKey.selector, id, dev2.keyHash),
            evidence,
            challengeBlock,
            dev2
        );
    }

    function test_attest_RevertWhen_KeyTypeMislabelled() public {
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(dev);
        key.keyType = dev.keyType == KeyType.P256 ? KeyType.Secp256k1 : KeyType.P256;
        bytes32 wrongHash = keccak256(abi.encodePacked(key.keyType, key.key));
        bytes memory signature = _sign(dev, _attestationDigest(evidence));
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryWrongKey.selector, id, wrongHash));
        registry.attest(evidence, challengeBlock, key, signature);
    }

    function test_attest_RevertWhen_HighS() public {
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        (bytes memory signature, bytes32 highS) = _highS(dev, _sign(dev, _attestationDigest(evidence)));
        vm.expectRevert(abi.encodeWithSelector(DeviceKeyLib.DeviceKeyHighS.selector, highS));
        registry.attest(evidence, challengeBlock, _deviceKey(dev), signature);
    }

    function test_attest_RevertWhen_SignatureTooShort() public {
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        bytes memory signature = _sign(dev, _attestationDigest(evidence));
        uint256 expected = signature.length;
        bytes memory shorter = new bytes(expected - 1);
        for (uint256 i; i < shorter.length; ++i) shorter[i] = signature[i];
        signature = shorter;
        vm.expectRevert(
            abi.encodeWithSelector(
                DeviceKeyLib.DeviceKeyInvalidSignatureLength.selector,
                dev.keyType,
                expected - 1,
                expected
            )
        );
        registry.attest(evidence, challengeBlock, _deviceKey(dev), signature);
    }

    function test_attest_RevertWhen_ZeroR() public {
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        bytes memory signature = _sign(dev, _attestationDigest(evidence));
        (, bytes32 s) = _rs(signature);
        vm.expectRevert(abi.encodeWithSelector(DeviceKeyLib.DeviceKeySignatureOutOfRange.selector, bytes32(0), s));
        registry.attest(evidence, challengeBlock, _deviceKey(dev), _withRS(dev, signature, bytes32(0), s));
    }

    function test_attest_RevertWhen_SOutOfRange() public {
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        bytes memory signature = _sign(dev, _attestationDigest(evidence));
        (bytes32 r, ) = _rs(signature);
        bytes32 n = bytes32(_curveN(dev.keyType));
        vm.expectRevert(abi.encodeWithSelector(DeviceKeyLib.DeviceKeySignatureOutOfRange.selector, r, n));
        registry.attest(evidence, challengeBlock, _deviceKey(dev), _withRS(dev, signature, r, n));
    }

    // ============================================================ attest: device status

    function test_attest_RevertWhen_UnknownDevice() public {
        (, uint256 challengeBlock) = _fresh(0);
        Attestation memory evidence = _evidence(dev2, MEASUREMENT_V1, blockhash(challengeBlock), 0);
        _submitExpectingRevert(
            abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryUnknownDevice.selector, _id(dev2)),
            evidence,
            challengeBlock,
            dev2
        );
    }

    function test_attest_RevertWhen_DeviceRevoked() public {
        vm.prank(governor);
        registry.revoke(id, "compromised");
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        _submitExpectingRevert(
            abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryTerminal.selector, id, DeviceStatus.Revoked),
            evidence,
            challengeBlock,
            dev
        );
    }

    function test_attest_RevertWhen_DeviceDecommissioned() public {
        vm.prank(operator);
        registry.decommission(id);
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        _submitExpectingRevert(
            abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryTerminal.selector, id, DeviceStatus.Decommissioned),
            evidence,
            challengeBlock,
            dev
        );
    }

    // ============================================================ isTrusted / trustReport

    function test_trustReport_trustedWithEvidenceFields() public {
        _attest(dev, MEASUREMENT_V1, 42);
        IDeviceAttestation.TrustReport memory report = registry.trustReport(id, MAX_AGE);
        assertEq(uint8(report.verdict), uint8(IDeviceAttestation.TrustVerdict.Trusted));
        assertEq(report.firmwareId, v1);
        assertEq(report.measurement, MEASUREMENT_V1);
        assertEq(report.attestedAt, block.timestamp);
        assertEq(report.bootCount, 42);
        assertTrue(registry.isTrusted(id, MAX_AGE));
    }

    function test_trustReport_neverAttested() public view {
        IDeviceAttestation.TrustReport memory report = registry.trustReport(id, MAX_AGE);
        assertEq(uint8(report.verdict), uint8(IDeviceAttestation.TrustVerdict.NeverAttested));
        assertEq(report.firmwareId, 0);
        assertEq(report.measurement, bytes32(0));
        assertEq(report.attestedAt, 0);
        assertEq(report.bootCount, 0);
        assertFalse(registry.isTrusted(id, type(uint256).max));
    }

    function test_trustReport_unknownDeviceIsNotActive() public view {
        _assertVerdict(_id(dev2), type(uint256).max, IDeviceAttestation.TrustVerdict.NotActive);
        IDeviceAttestation.TrustReport memory report = registry.trustReport(_id(dev2), MAX_AGE);
        assertEq(report.firmwareId, 0);
        assertEq(report.measurement, bytes32(0));
    }

    function test_trustReport_suspendedIsNotActive() public {
        _attest(dev, MEASUREMENT_V1, 0);
        vm.prank(operator);
        registry.suspend(id, "maintenance");
        _assertVerdict(id, MAX_AGE, IDeviceAttestation.TrustVerdict.NotActive);
        IDeviceAttestation.TrustReport memory report = registry.trustReport(id, MAX_AGE);
        assertEq(report.firmwareId, v1, "the report still says what it last attested");
        assertEq(report.measurement, MEASUREMENT_V1);
    }

    function test_trustReport_revokedDeviceIsNotActive() public {
        _attest(dev, MEASUREMENT_V1, 0);
        vm.prank(governor);
        registry.revoke(id, "compromised");
        _assertVerdict(id, MAX_AGE, IDeviceAttestation.TrustVerdict.NotActive);
    }

    function test_trustReport_decommissionedIsNotActive() public {
        _attest(dev, MEASUREMENT_V1, 0);
        vm.prank(operator);
        registry.decommission(id);
        _assertVerdict(id, MAX_AGE, IDeviceAttestation.TrustVerdict.NotActive);
    }

    /// @notice The combined check feeds make per reading answers what the two checks answer apart.
    function test_checkTrustedSignature_AgreesWithBothChecks() public {
        bytes32 digest = keccak256("a reading");
        bytes memory sig = _sign(dev, digest);
        IDeviceRegistry.DeviceKey memory k = _deviceKey(dev);
        (bool valid, bool trusted) = registry.checkTrustedSignature(id, digest, k, sig, MAX_AGE);
        assertTrue(valid);
        assertFalse(trusted, "never attested");
        _attest(dev, MEASUREMENT_V1, 0);
        (valid, trusted) = registry.checkTrustedSignature(id, digest, k, sig, MAX_AGE);
        assertTrue(valid && trusted);
        assertEq(valid, registry.isValidDeviceSignature(id, digest, k, sig));
        assertEq(trusted, registry.isTrusted(id, MAX_AGE));
        vm.warp(block.timestamp + MAX_AGE + 1);
        (valid, trusted) = registry.checkTrustedSignature(id, digest, k, sig, MAX_AGE);
        assertTrue(valid);
        assertFalse(trusted, "stale");
        (valid, trusted) = registry.checkTrustedSignature(id, keccak256("another"), k, sig, MAX_AGE);
        assertFalse(valid || trusted, "a signature over another digest: neither");
    }

    function test_isTrusted_staleBoundary() public {
        _attest(dev, MEASUREMENT_V1, 0);
        uint256 attestedAt = block.timestamp;
        vm.warp(attestedAt + MAX_AGE);
        _assertVerdict(id, MAX_AGE, IDeviceAttestation.TrustVerdict.Trusted);
        vm.warp(attestedAt + MAX_AGE + 1);
        _assertVerdict(id, MAX_AGE, IDeviceAttestation.TrustVerdict.Stale);
        _assertVerdict(id, MAX_AGE + 1, IDeviceAttestation.TrustVerdict.Trusted);
    }

    function test_isTrusted_ageCountsFromTheDevicesTimestamp() public {
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        evidence.timestamp = uint64(block.timestamp - 600);
        _submit(evidence, challengeBlock, dev);
        _assertVerdict(id, 599, IDeviceAttestation.TrustVerdict.Stale);
        _assertVerdict(id, 600, IDeviceAttestation.TrustVerdict.Trusted);
    }

    function test_isTrusted_maxAgeZeroOnlyInTheSameSecond() public {
        _attest(dev, MEASUREMENT_V1, 0);
        _assertVerdict(id, 0, IDeviceAttestation.TrustVerdict.Trusted);
        vm.warp(block.timestamp + 1);
        _assertVerdict(id, 0, IDeviceAttestation.TrustVerdict.Stale);
    }

    function test_isTrusted_revocationUntrustsEveryDeviceOnItInTheSameBlock() public {
        DeviceId id2 = _register(dev2);
        TestKey memory dev3 = _key(0xD4);
        TestKey memory dev4 = _key(0xD5);
        DeviceId id3 = _register(dev3);
        DeviceId id4 = _register(dev4);
        _publish(MODEL, "2.0.0", MEASUREMENT_V2);
        _attest(dev, MEASUREMENT_V1, 0);
        _attest(dev2, MEASUREMENT_V1, 0);
        _attest(dev3, MEASUREMENT_V1, 0);
        _attest(dev4, MEASUREMENT_V2, 0);
        DeviceId[3] memory onV1 = [id, id2, id3];
        for (uint256 i; i < 3; ++i) _assertVerdict(onV1[i], MAX_AGE, IDeviceAttestation.TrustVerdict.Trusted);

        uint256 blockBefore = block.number;
        _revokeFirmware(v1);
        assertEq(block.number, blockBefore);
        for (uint256 i; i < 3; ++i) {
            _assertVerdict(onV1[i], MAX_AGE, IDeviceAttestation.TrustVerdict.FirmwareRevoked);
            _assertVerdict(onV1[i], type(uint256).max, IDeviceAttestation.TrustVerdict.FirmwareRevoked);
        }
        _assertVerdict(id4, MAX_AGE, IDeviceAttestation.TrustVerdict.Trusted);
    }

    function test_isTrusted_sunsetBoundary() public {
        _attest(dev, MEASUREMENT_V1, 0);
        uint64 sunset = uint64(block.timestamp + 100);
        _deprecate(v1, sunset);
        vm.warp(sunset - 1);
        _assertVerdict(id, MAX_AGE, IDeviceAttestation.TrustVerdict.Trusted);
        vm.warp(sunset);
        _assertVerdict(id, MAX_AGE, IDeviceAttestation.TrustVerdict.FirmwareSunset);
        vm.warp(sunset + 1 days);
        _assertVerdict(id, type(uint256).max, IDeviceAttestation.TrustVerdict.FirmwareSunset);
    }

    function test_isTrusted_revokedAfterDeprecationSaysRevoked() public {
        _attest(dev, MEASUREMENT_V1, 0);
        _deprecate(v1, uint64(block.timestamp + 100));
        _revokeFirmware(v1);
        _assertVerdict(id, MAX_AGE, IDeviceAttestation.TrustVerdict.FirmwareRevoked);
    }

    function test_trustReport_notActiveComesFirst() public {
        _attest(dev, MEASUREMENT_V1, 0);
        _revokeFirmware(v1);
        vm.warp(block.timestamp + 2 * MAX_AGE);
        _assertVerdict(id, MAX_AGE, IDeviceAttestation.TrustVerdict.Stale);
        vm.prank(operator);
        registry.suspend(id, "maintenance");
        _assertVerdict(id, MAX_AGE, IDeviceAttestation.TrustVerdict.NotActive);
    }

    function test_isTrusted_updateAfterRevocationRestoresTrust() public {
        _attest(dev, MEASUREMENT_V1, 1);
        _revokeFirmware(v1);
        _assertVerdict(id, MAX_AGE, IDeviceAttestation.TrustVerdict.FirmwareRevoked);

        uint32 v2 = _publish(MODEL, "2.0.0", MEASUREMENT_V2);
        _attest(dev, MEASUREMENT_V2, 2); // the device updated and rebooted
        IDeviceAttestation.TrustReport memory report = registry.trustReport(id, MAX_AGE);
        assertEq(uint8(report.verdict), uint8(IDeviceAttestation.TrustVerdict.Trusted));
        assertEq(report.firmwareId, v2);
        assertEq(report.measurement, MEASUREMENT_V2);
        assertEq(report.bootCount, 2);
        assertTrue(registry.isTrusted(id, MAX_AGE));
    }

    // ============================================================ gas

    /// @notice Logs the call gas (gasleft deltas: no intrinsic or calldata gas) of a first and a repeat
    /// attestation and of isTrusted. The bench measures whole transactions; this is for quick comparisons.
    function test_attest_gasLogged() public {
        (Attestation memory first, uint256 firstBlock) = _fresh(1);
        bytes memory firstSignature = _sign(dev, _attestationDigest(first));
        IDeviceRegistry.DeviceKey memory key = _deviceKey(dev);
        uint256 before = gasleft();
        registry.attest(first, firstBlock, key, firstSignature);
        uint256 firstGas = before - gasleft();

        (Attestation memory repeat, uint256 repeatBlock) = _fresh(2);
        bytes memory repeatSignature = _sign(dev, _attestationDigest(repeat));
        before = gasleft();
        registry.attest(repeat, repeatBlock, key, repeatSignature);
        uint256 repeatGas = before - gasleft();

        before = gasleft();
        bool trusted = registry.isTrusted(id, MAX_AGE);
        uint256 isTrustedGas = before - gasleft();

        string memory curve = dev.keyType == KeyType.P256 ? "P-256" : "secp256k1";
        // solhint-disable no-console
        console.log(curve);
        console.log("  first attest (call gas):", firstGas);
        console.log("  repeat attest (call gas):", repeatGas);
        console.log("  isTrusted (call gas):", isTrustedGas);
        // solhint-enable no-console
        assertTrue(trusted);
        assertEq(registry.evidenceOf(id).bootCount, 2);
    }
}

/// @notice The curve tests with secp256k1 device keys.
contract DeviceAttestationSecp256k1Test is DeviceAttestationCurveTest {
    function _key(uint256 privateKey) internal pure override returns (TestKey memory) {
        return _secpKey(privateKey);
    }

    function test_attest_RevertWhen_InvalidV() public {
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        bytes memory signature = _sign(dev, _attestationDigest(evidence));
        signature[64] = bytes1(uint8(29));
        vm.expectRevert(abi.encodeWithSelector(DeviceKeyLib.DeviceKeyInvalidV.selector, 29));
        registry.attest(evidence, challengeBlock, _deviceKey(dev), signature);
    }

    function test_attest_RevertWhen_FlippedV() public {
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        bytes memory signature = _sign(dev, _attestationDigest(evidence));
        signature[64] = uint8(signature[64]) == 27 ? bytes1(uint8(28)) : bytes1(uint8(27));
        vm.expectRevert(abi.encodeWithSelector(IDeviceAttestation.AttestationInvalidSignature.selector, id));
        registry.attest(evidence, challengeBlock, _deviceKey(dev), signature);
    }
}

/// @notice The curve tests with P-256 device keys (precompile on osaka, Solidity fallback on prague).
contract DeviceAttestationP256Test is DeviceAttestationCurveTest {
    function _key(uint256 privateKey) internal pure override returns (TestKey memory) {
        return _p256Key(privateKey);
    }

    function test_attest_RevertWhen_SignedThePrehashedDigest() public {
        // A device that signs the digest as a prehash instead of ECDSA-P256-SHA256 over it.
        (Attestation memory evidence, uint256 challengeBlock) = _fresh(0);
        (bytes32 r, bytes32 s) = vm.signP256(dev.privateKey, _attestationDigest(evidence));
        if (uint256(s) > P256_N / 2) s = bytes32(P256_N - uint256(s));
        vm.expectRevert(abi.encodeWithSelector(IDeviceAttestation.AttestationInvalidSignature.selector, id));
        registry.attest(evidence, challengeBlock, _deviceKey(dev), abi.encodePacked(r, s));
    }

    function test_attest_mixedFleetAfterRotationToSecp256k1() public {
        TestKey memory next = _secpKey(0xD6);
        _rotate(id, dev, next);
        _attest(id, next, MEASUREMENT_V1, 0);
        _assertVerdict(id, MAX_AGE, IDeviceAttestation.TrustVerdict.Trusted);
    }
}
