// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdInvariant} from "forge-std/StdInvariant.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {Test} from "forge-std/Test.sol";
import {DeviceRegistry} from "../contracts/identity/DeviceRegistry.sol";
import {IDeviceAttestation} from "../contracts/interfaces/IDeviceAttestation.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {DeviceMessageLib} from "../contracts/libraries/DeviceMessageLib.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {DeviceStatus} from "../contracts/types/DeviceStatus.sol";
import {Attestation} from "../contracts/types/Messages.sol";
import {KeyHelpers, TestKey} from "./utils/RegistryFixture.sol";

/// @notice Drives attestation through honest lifecycles (two makers, three models, both curves: publish,
/// deprecate, revoke firmware; register, attest with a block hash or an issued nonce, rotate, suspend,
/// reinstate, revoke devices; time and blocks pass) and through attacks that must fail (replays, counters
/// going back, another model's firmware, revoked firmware), keeping ghost state.
/// @dev Bounded and never reverting: each action returns early when it does not apply; attacks run in
/// try/catch and count successes and wrong errors. No function here starts with "test".
contract AttestationHandler is CommonBase, StdUtils, KeyHelpers {
    uint256 internal constant MODELS = 3;
    uint256 internal constant MAX_EVIDENCE_AGE = 1 hours;

    DeviceRegistry private immutable REGISTRY;
    address private immutable GOVERNOR;
    address private immutable OPERATOR;
    bytes32 private immutable DOMAIN;
    uint256[2] private _makerPks;

    /// @dev Firmware the handler published, with its ghost status and sunset.
    uint32[] public firmwareIds;
    mapping(uint32 firmwareId => IDeviceAttestation.FirmwareStatus) public ghostFirmwareStatus;
    mapping(uint32 firmwareId => uint64) public ghostSunset;

    /// @dev Devices the handler registered, their ghost status, current key and the evidence it got accepted.
    DeviceId[] public ids;
    mapping(DeviceId id => DeviceStatus) public ghostStatus;
    mapping(DeviceId id => TestKey) private _currentKey;
    mapping(DeviceId id => IDeviceAttestation.Evidence) private _ghostEvidence;

    uint256 public ghostAttested;
    uint256 public ghostAttacks;
    /// @dev Must stay zero: accepted evidence that did not move a device's timestamp up or moved its boot
    /// count down, attacks that succeeded, and attacks that failed for another reason than the rule.
    uint256 public ghostTimestampRegressions;
    uint256 public ghostBootCountRegressions;
    uint256 public ghostAttacksAccepted;
    uint256 public ghostUnexpectedErrors;

    uint256 private _keyCounter;

    constructor(DeviceRegistry registry_, address governor, address operator, uint256[2] memory makerPks) {
        REGISTRY = registry_;
        GOVERNOR = governor;
        OPERATOR = operator;
        DOMAIN = registry_.DOMAIN_SEPARATOR();
        _makerPks = makerPks;
    }

    function idCount() external view returns (uint256) {
        return ids.length;
    }

    function firmwareCount() external view returns (uint256) {
        return firmwareIds.length;
    }

    function ghostEvidence(DeviceId id) external view returns (IDeviceAttestation.Evidence memory) {
        return _ghostEvidence[id];
    }

    // ================================================================ firmware

    /// @notice A maker publishes a measurement from a small pool for one of its models (the pool is shared,
    /// so one measurement often serves several models).
    function publish(uint256 makerSeed, uint256 modelSeed, uint256 measurementSeed) external {
        uint256 m = makerSeed % 2;
        uint32 model = uint32(1 + (modelSeed % MODELS));
        bytes32 measurement = keccak256(abi.encode("measurement", measurementSeed % 12));
        if (REGISTRY.firmwareIdOfMeasurement(_makerId(m), model, measurement) != 0) return;
        string memory version = vm.toString(firmwareIds.length + 1);
        vm.prank(vm.addr(_makerPks[m]));
        uint32 id = REGISTRY.publishFirmware(model, version, measurement, "", new bytes32[](0));
        firmwareIds.push(id);
        ghostFirmwareStatus[id] = IDeviceAttestation.FirmwareStatus.Good;
    }

    function deprecate(uint256 firmwareSeed, uint256 sunsetSeed) external {
        (bool found, uint32 id) = _pickFirmware(firmwareSeed);
        if (!found || ghostFirmwareStatus[id] != IDeviceAttestation.FirmwareStatus.Good) return;
        uint64 sunset = uint64(block.timestamp + _bound(sunsetSeed, 1, 2 hours));
        vm.prank(_makerSignerOf(id));
        REGISTRY.deprecateFirmware(id, sunset);
        ghostFirmwareStatus[id] = IDeviceAttestation.FirmwareStatus.Deprecated;
        ghostSunset[id] = sunset;
    }

    function revokeFirmware(uint256 firmwareSeed, bool byGovernor) external {
        (bool found, uint32 id) = _pickFirmware(firmwareSeed);
        if (!found || ghostFirmwareStatus[id] == IDeviceAttestation.FirmwareStatus.Revoked) return;
        vm.prank(byGovernor ? GOVERNOR : _makerSignerOf(id));
        REGISTRY.revokeFirmware(id);
        ghostFirmwareStatus[id] = IDeviceAttestation.FirmwareStatus.Revoked;
    }

    // ================================================================ devices

    function register(bool p256, uint256 makerSeed, uint256 modelSeed) external {
        uint256 m = makerSeed % 2;
        uint32 model = uint32(1 + (modelSeed % MODELS));
        TestKey memory k = _nextKey(p256);
        uint256 deadline = block.timestamp + 1 hours;
        IDeviceRegistry.Registration memory reg = IDeviceRegistry.Registration({
            key: _deviceKey(k),
            operator: OPERATOR,
            model: model,
            deadline: deadline,
            signature: _sign(k, _digest(DeviceMessageLib.hashRegister(_id(k), OPERATOR, 0, deadline)))
        });
        bytes memory endorsement = _signEth(_makerPks[m], _digest(DeviceMessageLib.hashEndorse(_id(k), model)));
        DeviceId id = REGISTRY.register(reg, _makerId(m), endorsement);
        ids.push(id);
        ghostStatus[id] = DeviceStatus.Active;
        _currentKey[id] = k;
    }

    function rotate(uint256 deviceSeed, bool p256) external {
        (bool found, DeviceId id) = _pickDevice(deviceSeed);
        if (!found || ghostStatus[id] != DeviceStatus.Active) return;
        TestKey memory current = _currentKey[id];
        TestKey memory next = _nextKey(p256);
        uint256 nonce = REGISTRY.deviceInfo(id).nonce;
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 digest = _digest(DeviceMessageLib.hashRotateKey(id, next.keyHash, nonce, deadline));
        IDeviceRegistry.KeyRotation memory rotation = IDeviceRegistry.KeyRotation({
            currentKey: _deviceKey(current),
            newKey: _deviceKey(next),
            nonce: nonce,
            deadline: deadline,
            currentSignature: _sign(current, digest),
            newSignature: _sign(next, digest)
        });
        vm.prank(OPERATOR);
        REGISTRY.rotateKey(id, rotation);
        _currentKey[id] = next;
    }

    function suspend(uint256 deviceSeed) external {
        (bool found, DeviceId id) = _pickDevice(deviceSeed);
        if (!found || ghostStatus[id] != DeviceStatus.Active) return;
        vm.prank(GOVERNOR);
        REGISTRY.suspend(id, "handler");
        ghostStatus[id] = DeviceStatus.Suspended;
    }

    function reinstate(uint256 deviceSeed) external {
        (bool found, DeviceId id) = _pickDevice(deviceSeed);
        if (!found || ghostStatus[id] != DeviceStatus.Suspended) return;
        vm.prank(GOVERNOR);
        REGISTRY.reinstate(id);
        ghostStatus[id] = DeviceStatus.Active;
    }

    function revokeDevice(uint256 deviceSeed) external {
        (bool found, DeviceId id) = _pickDevice(deviceSeed);
        if (!found || _isTerminal(ghostStatus[id])) return;
        vm.prank(GOVERNOR);
        REGISTRY.revoke(id, "handler");
        ghostStatus[id] = DeviceStatus.Revoked;
    }

    // ================================================================ evidence

    /// @notice Honest evidence: a firmware of the device's own model that is still trusted, a timestamp
    /// newer than its last and within MAX_EVIDENCE_AGE, a counter that does not go back, and a fresh
    /// challenge (the previous block's hash, or a nonce its operator issues).
    /// @dev A nonce the operator issues, or the last block's hash.
    function _challenge(DeviceId id, bool useNonce) internal returns (bytes32 challenge, uint256 challengeBlock) {
        if (useNonce) {
            vm.prank(OPERATOR);
            return (REGISTRY.issueChallenge(id), 0);
        }
        challengeBlock = block.number - 1;
        challenge = blockhash(challengeBlock);
    }

    function attest(
        uint256 deviceSeed,
        uint256 firmwareSeed,
        uint256 ageSeed,
        uint256 bootStep,
        bool useNonce
    ) external {
        (bool found, DeviceId id) = _pickDevice(deviceSeed);
        if (!found || _isTerminal(ghostStatus[id])) return;
        (bool hasFirmware, uint32 firmwareId) = _attestableFirmware(id, firmwareSeed);
        if (!hasFirmware) return;
        IDeviceAttestation.Evidence memory before = REGISTRY.evidenceOf(id);
        (bool timely, uint64 timestamp) = _freshTimestamp(before.timestamp, ageSeed);
        if (!timely) return;

        (bytes32 challenge, uint256 challengeBlock) = _challenge(id, useNonce);
        (, bytes32 measurement) = REGISTRY.firmware(firmwareId);
        Attestation memory evidence = Attestation({
            deviceId: id,
            measurement: measurement,
            challenge: challenge,
            timestamp: timestamp,
            bootCount: before.bootCount + uint64(_bound(bootStep, 0, 2))
        });
        TestKey memory k = _currentKey[id];
        REGISTRY.attest(
            evidence,
            challengeBlock,
            _deviceKey(k),
            _sign(k, _digest(DeviceMessageLib.hashAttestation(evidence)))
        );
        ++ghostAttested;

        IDeviceAttestation.Evidence memory afterwards = REGISTRY.evidenceOf(id);
        if (afterwards.timestamp <= before.timestamp) ++ghostTimestampRegressions;
        if (afterwards.bootCount < before.bootCount) ++ghostBootCountRegressions;
        _ghostEvidence[id] = IDeviceAttestation.Evidence({
            firmwareId: firmwareId,
            timestamp: evidence.timestamp,
            bootCount: evidence.bootCount,
            recordedAt: uint64(block.timestamp),
            status: REGISTRY.statusOf(id),
            incidents: before.incidents
        });
    }

    /// @notice One attack, chosen by `kind`: the last evidence's timestamp again, a boot count below the
    /// last, a measurement published only for other models, or a firmware of its own model that is revoked.
    /// Everything else about the evidence is honest, so only the rule under attack can stop it.
    function attack(uint256 kind, uint256 deviceSeed, uint256 firmwareSeed) external {
        (bool found, DeviceId id) = _pickDevice(deviceSeed);
        if (!found || _isTerminal(ghostStatus[id])) return;
        IDeviceAttestation.Evidence memory latest = REGISTRY.evidenceOf(id);
        (bool timely, uint64 timestamp) = _freshTimestamp(latest.timestamp, 0);
        kind %= 4;
        bytes32 measurement;
        bytes4 expected;
        uint64 bootCount = latest.bootCount;
        if (kind == 0) {
            if (latest.firmwareId == 0 || block.timestamp - latest.timestamp > MAX_EVIDENCE_AGE) return;
            (, measurement) = REGISTRY.firmware(latest.firmwareId);
            timestamp = latest.timestamp;
            expected = IDeviceAttestation.AttestationNotNewer.selector;
        } else if (kind == 1) {
            if (latest.bootCount == 0 || !timely) return;
            (bool ok, uint32 firmwareId) = _attestableFirmware(id, firmwareSeed);
            if (!ok) return;
            (, measurement) = REGISTRY.firmware(firmwareId);
            bootCount = latest.bootCount - 1;
            expected = IDeviceAttestation.AttestationBootCountDecreased.selector;
        } else {
            if (!timely) return;
            bool ok;
            (ok, measurement) = kind == 2
                ? _foreignMeasurement(id, firmwareSeed)
                : _revokedMeasurement(id, firmwareSeed);
            if (!ok) return;
            expected =
                kind == 2
                    ? IDeviceAttestation.AttestationMeasurementOfOtherModel.selector
                    : IDeviceAttestation.AttestationFirmwareNotTrusted.selector;
        }
        uint256 challengeBlock = block.number - 1;
        Attestation memory evidence = Attestation({
            deviceId: id,
            measurement: measurement,
            challenge: blockhash(challengeBlock),
            timestamp: timestamp,
            bootCount: bootCount
        });
        TestKey memory k = _currentKey[id];
        bytes memory signature = _sign(k, _digest(DeviceMessageLib.hashAttestation(evidence)));
        ++ghostAttacks;
        try REGISTRY.attest(evidence, challengeBlock, _deviceKey(k), signature) {
            ++ghostAttacksAccepted;
        } catch (bytes memory reason) {
            if (reason.length < 4 || bytes4(reason) != expected) ++ghostUnexpectedErrors;
        }
    }

    // ================================================================ time

    function warp(uint256 secondsSeed) external {
        vm.warp(block.timestamp + _bound(secondsSeed, 1, 2 hours));
    }

    function roll(uint256 blocksSeed) external {
        uint256 blocks = _bound(blocksSeed, 1, 300);
        vm.roll(block.number + blocks);
        vm.warp(block.timestamp + 12 * blocks);
    }

    // ================================================================ helpers

    /// @dev A timestamp newer than `latest`, not in the future and at most MAX_EVIDENCE_AGE old.
    function _freshTimestamp(uint64 latest, uint256 ageSeed) private view returns (bool, uint64) {
        uint256 lowest = block.timestamp > MAX_EVIDENCE_AGE ? block.timestamp - MAX_EVIDENCE_AGE : 0;
        if (uint256(latest) + 1 > lowest) lowest = uint256(latest) + 1;
        if (lowest > block.timestamp) return (false, 0);
        return (true, uint64(block.timestamp - _bound(ageSeed, 0, block.timestamp - lowest)));
    }

    /// @dev A firmware of the device's maker and model that accepts evidence now, searched from the seed.
    function _attestableFirmware(DeviceId id, uint256 seed) private view returns (bool, uint32) {
        IDeviceRegistry.DeviceInfo memory info = REGISTRY.deviceInfo(id);
        uint256 n = firmwareIds.length;
        for (uint256 i; i < n; ++i) {
            uint32 fw = firmwareIds[((seed % n) + i) % n];
            (IDeviceAttestation.Firmware memory f, ) = REGISTRY.firmware(fw);
            if (f.maker != info.maker || f.model != info.model) continue;
            if (
                f.status == IDeviceAttestation.FirmwareStatus.Good ||
                (f.status == IDeviceAttestation.FirmwareStatus.Deprecated && block.timestamp < f.sunset)
            ) return (true, fw);
        }
        return (false, 0);
    }

    /// @dev A measurement published for another (maker, model) and never for the device's own.
    function _foreignMeasurement(DeviceId id, uint256 seed) private view returns (bool, bytes32) {
        IDeviceRegistry.DeviceInfo memory info = REGISTRY.deviceInfo(id);
        uint256 n = firmwareIds.length;
        for (uint256 i; i < n; ++i) {
            (IDeviceAttestation.Firmware memory f, bytes32 measurement) = REGISTRY.firmware(
                firmwareIds[((seed % n) + i) % n]
            );
            if (f.maker == info.maker && f.model == info.model) continue;
            if (REGISTRY.firmwareIdOfMeasurement(info.maker, info.model, measurement) == 0) return (true, measurement);
        }
        return (false, bytes32(0));
    }

    /// @dev The measurement of a revoked firmware of the device's own model.
    function _revokedMeasurement(DeviceId id, uint256 seed) private view returns (bool, bytes32) {
        IDeviceRegistry.DeviceInfo memory info = REGISTRY.deviceInfo(id);
        uint256 n = firmwareIds.length;
        for (uint256 i; i < n; ++i) {
            (IDeviceAttestation.Firmware memory f, bytes32 measurement) = REGISTRY.firmware(
                firmwareIds[((seed % n) + i) % n]
            );
            if (
                f.maker == info.maker && f.model == info.model && f.status == IDeviceAttestation.FirmwareStatus.Revoked
            ) {
                return (true, measurement);
            }
        }
        return (false, bytes32(0));
    }

    function _pickFirmware(uint256 seed) private view returns (bool, uint32) {
        if (firmwareIds.length == 0) return (false, 0);
        return (true, firmwareIds[seed % firmwareIds.length]);
    }

    function _pickDevice(uint256 seed) private view returns (bool found, DeviceId id) {
        if (ids.length == 0) return (false, id);
        return (true, ids[seed % ids.length]);
    }

    function _makerId(uint256 m) private view returns (uint16) {
        return REGISTRY.makerOf(vm.addr(_makerPks[m]));
    }

    function _makerSignerOf(uint32 firmwareId) private view returns (address) {
        (IDeviceAttestation.Firmware memory f, ) = REGISTRY.firmware(firmwareId);
        return vm.addr(_makerPks[f.maker == _makerId(0) ? 0 : 1]);
    }

    function _nextKey(bool p256) private returns (TestKey memory) {
        return _keyFor(p256, uint256(keccak256(abi.encode("attestation handler key", ++_keyCounter))));
    }

    function _digest(bytes32 structHash) private view returns (bytes32) {
        return _typedDigest(DOMAIN, structHash);
    }

    function _isTerminal(DeviceStatus status) private pure returns (bool) {
        return status == DeviceStatus.Revoked || status == DeviceStatus.Decommissioned;
    }
}

/// @notice Trust properties that hold after any sequence of the handler's actions.
contract DeviceAttestationInvariantTest is Test {
    DeviceRegistry internal registry;
    AttestationHandler internal handler;

    /// @dev The maxAge values every invariant is checked under.
    uint256[5] internal maxAges = [uint256(0), 10 minutes, 1 hours, 1 days, type(uint256).max];

    function setUp() public {
        vm.warp(1_700_000_000);
        address governor = makeAddr("governor");
        registry = new DeviceRegistry(governor);
        uint256[2] memory makerPks = [uint256(0xA11CE), uint256(0xB0B)];
        vm.startPrank(governor);
        registry.addMaker(vm.addr(makerPks[0]), "Acme");
        registry.addMaker(vm.addr(makerPks[1]), "Globex");
        vm.stopPrank();
        handler = new AttestationHandler(registry, governor, makeAddr("operator"), makerPks);

        // A starting fleet: a Good firmware for every (maker, model) and a device of each curve per maker.
        for (uint256 m; m < 2; ++m) {
            for (uint256 model; model < 3; ++model) handler.publish(m, model, 3 * m + model);
            handler.register(false, m, m);
            handler.register(true, m, m + 1);
        }

        bytes4[] memory selectors = new bytes4[](12);
        selectors[0] = AttestationHandler.publish.selector;
        selectors[1] = AttestationHandler.deprecate.selector;
        selectors[2] = AttestationHandler.revokeFirmware.selector;
        selectors[3] = AttestationHandler.register.selector;
        selectors[4] = AttestationHandler.rotate.selector;
        selectors[5] = AttestationHandler.suspend.selector;
        selectors[6] = AttestationHandler.reinstate.selector;
        selectors[7] = AttestationHandler.revokeDevice.selector;
        selectors[8] = AttestationHandler.attest.selector;
        selectors[9] = AttestationHandler.attack.selector;
        selectors[10] = AttestationHandler.warp.selector;
        selectors[11] = AttestationHandler.roll.selector;
        vm.roll(1_000);
        targetContract(address(handler));
        targetSelector(StdInvariant.FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @notice The handler's concrete twin: one fixed sequence through every action and attack, after which
    /// every invariant holds and the ghosts count what happened.
    function test_handler_everyActionKeepsInvariants() public {
        DeviceId secp = handler.ids(0); // maker 0, model 1
        DeviceId p256 = handler.ids(1); // maker 0, model 2
        handler.attest(0, 0, 0, 1, false); // secp on maker 0 / model 1 firmware, block hash
        handler.attest(1, 0, 0, 1, true); // p256 on maker 0 / model 2 firmware, issued nonce
        assertTrue(registry.isTrusted(secp, 1 hours));
        assertTrue(registry.isTrusted(p256, 1 hours));

        handler.attack(0, 0, 0); // replay the timestamp
        handler.roll(3);
        handler.attack(1, 0, 0); // boot count back
        handler.attack(2, 1, 0); // another model's measurement
        uint32 secpFirmware = registry.evidenceOf(secp).firmwareId;
        handler.revokeFirmware(0, false); // firmware id 1: maker 0, model 1
        assertEq(secpFirmware, 1);
        assertEq(
            uint8(registry.trustReport(secp, 1 hours).verdict),
            uint8(IDeviceAttestation.TrustVerdict.FirmwareRevoked)
        );
        handler.attack(3, 0, 0); // the revoked firmware
        handler.publish(0, 0, 100); // a fix for maker 0 / model 1
        handler.attest(0, 0, 0, 1, false); // the device updates
        assertTrue(registry.isTrusted(secp, 1 hours));
        assertTrue(registry.evidenceOf(secp).firmwareId != secpFirmware);

        handler.deprecate(1, 10); // firmware id 2: maker 0, model 2, sunset in 10 s
        handler.warp(10);
        assertEq(
            uint8(registry.trustReport(p256, 1 days).verdict),
            uint8(IDeviceAttestation.TrustVerdict.FirmwareSunset)
        );
        handler.rotate(0, true); // secp device now holds a P-256 key
        handler.warp(1);
        handler.attest(0, 0, 0, 0, false);
        handler.suspend(0);
        handler.warp(1);
        handler.attest(0, 0, 0, 0, true); // a suspended device may attest
        handler.reinstate(0);
        handler.register(true, 1, 2);
        handler.revokeDevice(2);
        handler.attest(2, 0, 0, 0, false); // terminal: skipped
        handler.warp(2 hours);
        assertFalse(registry.isTrusted(secp, 1 hours));

        assertEq(handler.ghostAttested(), 5);
        assertEq(handler.ghostAttacks(), 4);
        _checkAll();
    }

    function _checkAll() internal view {
        invariant_revokedFirmwareIsNeverTrusted();
        invariant_firmwareStatusFollowsGhost();
        invariant_neverTrustedForAnotherModelsFirmware();
        invariant_trustedDeviceIsActiveAndFresh();
        invariant_evidenceTimestampsOnlyIncrease();
        invariant_bootCountsNeverDecrease();
        invariant_verdictFollowsFromGhostState();
        invariant_attacksFailForTheirRule();
    }

    /// No device whose last evidence names a revoked firmware is trusted, under any maxAge.
    function invariant_revokedFirmwareIsNeverTrusted() public view {
        uint256 n = handler.idCount();
        for (uint256 i; i < n; ++i) {
            DeviceId id = handler.ids(i);
            uint32 fw = registry.evidenceOf(id).firmwareId;
            (IDeviceAttestation.Firmware memory f, ) = registry.firmware(fw);
            if (f.status != IDeviceAttestation.FirmwareStatus.Revoked) continue;
            for (uint256 a; a < maxAges.length; ++a) assertFalse(registry.isTrusted(id, maxAges[a]));
        }
    }

    /// Every firmware's status and sunset are what its maker and governance last set, as the handler recorded.
    function invariant_firmwareStatusFollowsGhost() public view {
        uint256 n = handler.firmwareCount();
        for (uint256 i; i < n; ++i) {
            uint32 fw = handler.firmwareIds(i);
            (IDeviceAttestation.Firmware memory f, ) = registry.firmware(fw);
            assertEq(uint8(f.status), uint8(handler.ghostFirmwareStatus(fw)));
            if (f.status == IDeviceAttestation.FirmwareStatus.Deprecated) assertEq(f.sunset, handler.ghostSunset(fw));
        }
    }

    /// The firmware of a device's evidence always has the device's maker and model, so no device is ever
    /// trusted (or even reported) for another model's firmware.
    function invariant_neverTrustedForAnotherModelsFirmware() public view {
        uint256 n = handler.idCount();
        for (uint256 i; i < n; ++i) {
            DeviceId id = handler.ids(i);
            uint32 fw = registry.evidenceOf(id).firmwareId;
            for (uint256 a; a < maxAges.length; ++a) {
                assertTrue(
                    registry.trustReport(id, maxAges[a]).verdict != IDeviceAttestation.TrustVerdict.ModelMismatch
                );
            }
            if (fw == 0) continue;
            IDeviceRegistry.DeviceInfo memory info = registry.deviceInfo(id);
            (IDeviceAttestation.Firmware memory f, ) = registry.firmware(fw);
            assertEq(f.maker, info.maker, "firmware of the device's maker");
            assertEq(f.model, info.model, "firmware of the device's model");
        }
    }

    /// A trusted device is Active, its evidence is no older than maxAge, and its firmware is Good or
    /// Deprecated before its sunset.
    function invariant_trustedDeviceIsActiveAndFresh() public view {
        uint256 n = handler.idCount();
        for (uint256 i; i < n; ++i) {
            DeviceId id = handler.ids(i);
            IDeviceAttestation.Evidence memory e = registry.evidenceOf(id);
            (IDeviceAttestation.Firmware memory f, ) = registry.firmware(e.firmwareId);
            for (uint256 a; a < maxAges.length; ++a) {
                if (!registry.isTrusted(id, maxAges[a])) continue;
                assertEq(uint8(registry.statusOf(id)), uint8(DeviceStatus.Active));
                assertLe(block.timestamp - e.timestamp, maxAges[a]);
                assertTrue(
                    f.status == IDeviceAttestation.FirmwareStatus.Good ||
                        (f.status == IDeviceAttestation.FirmwareStatus.Deprecated && block.timestamp < f.sunset)
                );
            }
        }
    }

    /// Each accepted evidence of a device is newer than its previous one, and the stored evidence is exactly
    /// the last one the handler got accepted (failed attacks change nothing).
    function invariant_evidenceTimestampsOnlyIncrease() public view {
        assertEq(handler.ghostTimestampRegressions(), 0);
        uint256 n = handler.idCount();
        for (uint256 i; i < n; ++i) {
            DeviceId id = handler.ids(i);
            IDeviceAttestation.Evidence memory e = registry.evidenceOf(id);
            IDeviceAttestation.Evidence memory ghost = handler.ghostEvidence(id);
            assertEq(e.timestamp, ghost.timestamp);
            assertEq(e.firmwareId, ghost.firmwareId);
            assertEq(e.recordedAt, ghost.recordedAt);
            assertLe(e.timestamp, block.timestamp);
        }
    }

    /// An attested device's evidence carries a copy of its status that equals statusOf, and isTrusted (which
    /// reads only that copy) agrees with trustReport's verdict for every maxAge.
    function invariant_evidenceStatusCopyEqualsStatusOf() public view {
        uint256 n = handler.idCount();
        for (uint256 i; i < n; ++i) {
            DeviceId id = handler.ids(i);
            IDeviceAttestation.Evidence memory e = registry.evidenceOf(id);
            if (e.firmwareId == 0) assertEq(uint8(e.status), uint8(DeviceStatus.Unknown));
            else assertEq(uint8(e.status), uint8(registry.statusOf(id)));
            for (uint256 a; a < maxAges.length; ++a) {
                bool trusted = registry.trustReport(id, maxAges[a]).verdict == IDeviceAttestation.TrustVerdict.Trusted;
                assertEq(registry.isTrusted(id, maxAges[a]), trusted);
            }
        }
    }

    /// A device's recorded boot count never decreases.
    function invariant_bootCountsNeverDecrease() public view {
        assertEq(handler.ghostBootCountRegressions(), 0);
        uint256 n = handler.idCount();
        for (uint256 i; i < n; ++i) {
            DeviceId id = handler.ids(i);
            assertEq(registry.evidenceOf(id).bootCount, handler.ghostEvidence(id).bootCount);
        }
    }

    /// trustReport's verdict is what the ghost state (device status, last evidence, firmware status and
    /// sunset) says, in the documented order of reasons.
    function invariant_verdictFollowsFromGhostState() public view {
        uint256 n = handler.idCount();
        for (uint256 i; i < n; ++i) {
            DeviceId id = handler.ids(i);
            IDeviceAttestation.Evidence memory ghost = handler.ghostEvidence(id);
            for (uint256 a; a < maxAges.length; ++a) {
                IDeviceAttestation.TrustVerdict expected;
                IDeviceAttestation.FirmwareStatus fs = handler.ghostFirmwareStatus(ghost.firmwareId);
                if (handler.ghostStatus(id) != DeviceStatus.Active)
                    expected = IDeviceAttestation.TrustVerdict.NotActive;
                else if (ghost.firmwareId == 0) expected = IDeviceAttestation.TrustVerdict.NeverAttested;
                else if (block.timestamp - ghost.timestamp > maxAges[a])
                    expected = IDeviceAttestation.TrustVerdict.Stale;
                else if (fs == IDeviceAttestation.FirmwareStatus.Revoked) {
                    expected = IDeviceAttestation.TrustVerdict.FirmwareRevoked;
                } else if (
                    fs == IDeviceAttestation.FirmwareStatus.Deprecated &&
                    block.timestamp >= handler.ghostSunset(ghost.firmwareId)
                ) expected = IDeviceAttestation.TrustVerdict.FirmwareSunset;
                else expected = IDeviceAttestation.TrustVerdict.Trusted;
                IDeviceAttestation.TrustReport memory report = registry.trustReport(id, maxAges[a]);
                assertEq(uint8(report.verdict), uint8(expected));
                assertEq(registry.isTrusted(id, maxAges[a]), expected == IDeviceAttestation.TrustVerdict.Trusted);
                assertEq(report.firmwareId, ghost.firmwareId);
                assertEq(report.bootCount, ghost.bootCount);
            }
        }
    }

    /// Every attack (replay, counter going back, another model's firmware, revoked firmware) failed, and
    /// with the error of the rule it broke.
    function invariant_attacksFailForTheirRule() public view {
        assertEq(handler.ghostAttacksAccepted(), 0);
        assertEq(handler.ghostUnexpectedErrors(), 0);
    }
}
