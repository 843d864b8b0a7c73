// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IDeviceAttestation} from "../contracts/interfaces/IDeviceAttestation.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {Attestation} from "../contracts/types/Messages.sol";
import {AttestationFixture} from "./utils/AttestationFixture.sol";
import {TestKey} from "./utils/RegistryFixture.sol";

/// @notice Malformed evidence and every freshness edge, fuzzed over both curves (a bool picks the device).
/// Each run verifies at most three P-256 signatures, so the prague run (Solidity P-256) stays fast. Each
/// fuzz test has a concrete twin right above it.
contract DeviceAttestationFuzzTest is AttestationFixture {
    uint256 internal constant MAX_AGE = 1 hours;

    TestKey internal secpDev;
    TestKey internal p256Dev;
    /// @dev A second device per curve, for evidence claimed for another device.
    TestKey internal secpDev2;
    TestKey internal p256Dev2;
    uint32 internal v1;
    uint32 internal v2;
    uint32 internal otherModelFirmware;

    function setUp() public override {
        super.setUp();
        secpDev = _secpKey(SECP_PK);
        p256Dev = _p256Key(P256_PK);
        _register(secpDev);
        _register(p256Dev);
        secpDev2 = _secpKey(SECP_PK_2);
        p256Dev2 = _p256Key(P256_PK_2);
        _register(secpDev2);
        _register(p256Dev2);
        v1 = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        v2 = _publish(MODEL, "2.0.0", MEASUREMENT_V2);
        otherModelFirmware = _publish(OTHER_MODEL, "1.0.0", MEASUREMENT_OTHER_MODEL);
    }

    function _dev(bool p256) internal view returns (TestKey memory) {
        return p256 ? p256Dev : secpDev;
    }

    /// @notice Signs `evidence` with `k` and submits it; returns whether it was accepted and the revert data.
    function _try(
        Attestation memory evidence,
        uint256 challengeBlock,
        TestKey memory k
    ) internal returns (bool accepted, bytes memory reason) {
        bytes memory signature = _sign(k, _attestationDigest(evidence));
        try registry.attest(evidence, challengeBlock, _deviceKey(k), signature) {
            accepted = true;
        } catch (bytes memory data) {
            reason = data;
        }
    }

    // ============================================================ timestamps

    /// @dev Evidence timestamped `delta` seconds from now: future, too old, or accepted.
    function _checkTimestamp(bool p256, int256 delta) internal {
        TestKey memory k = _dev(p256);
        (uint256 challengeBlock, bytes32 challenge) = _nextBlockChallenge();
        Attestation memory evidence = _evidence(k, MEASUREMENT_V1, challenge, 0);
        evidence.timestamp = uint64(uint256(int256(block.timestamp) + delta));
        (bool accepted, bytes memory reason) = _try(evidence, challengeBlock, k);
        if (delta > 0) {
            assertEq(
                reason,
                abi.encodeWithSelector(
                    IDeviceAttestation.AttestationFutureTimestamp.selector,
                    evidence.timestamp,
                    block.timestamp
                )
            );
        } else if (uint256(-delta) > MAX_AGE) {
            assertEq(
                reason,
                abi.encodeWithSelector(
                    IDeviceAttestation.AttestationTooOld.selector,
                    evidence.timestamp,
                    block.timestamp,
                    MAX_AGE
                )
            );
        } else {
            assertTrue(accepted, "a timestamp within the window is accepted");
            assertEq(registry.evidenceOf(_id(k)).timestamp, evidence.timestamp);
        }
    }

    function test_attest_timestampEdges() public {
        for (uint256 c; c < 2; ++c) {
            bool p256 = c == 1;
            _checkTimestamp(p256, 1);
            _checkTimestamp(p256, -int256(MAX_AGE) - 1);
            _checkTimestamp(p256, -int256(MAX_AGE)); // accepted
            _checkTimestamp(p256, 0); // accepted, newer
            _checkTimestamp(p256, 1 days);
        }
    }

    /// Evidence is accepted iff its timestamp is neither in the future nor older than MAX_EVIDENCE_AGE.
    function testFuzz_attest_timestampWindow(bool p256, uint256 offsetSeed) public {
        int256 span = int256(MAX_AGE) + 100;
        int256 delta = int256(_bound(offsetSeed, 0, uint256(2 * span))) - span;
        _checkTimestamp(p256, delta);
    }

    // ============================================================ challenge block distance

    /// @dev The hash of block 2,000 used as the challenge `distance` blocks later.
    function _checkDistance(bool p256, uint256 distance) internal {
        TestKey memory k = _dev(p256);
        uint256 challengeBlock = 2_000;
        vm.roll(challengeBlock + 1);
        bytes32 challenge = blockhash(challengeBlock);
        assertTrue(challenge != bytes32(0));
        vm.roll(challengeBlock + distance);
        vm.warp(block.timestamp + 1);
        Attestation memory evidence = _evidence(k, MEASUREMENT_V1, challenge, 0);
        (bool accepted, bytes memory reason) = _try(evidence, challengeBlock, k);
        if (distance >= 1 && distance <= 256) {
            assertTrue(accepted, "a hash of the last 256 blocks is fresh");
        } else {
            assertEq(
                reason,
                abi.encodeWithSelector(
                    IDeviceAttestation.AttestationStaleChallenge.selector,
                    _id(k),
                    challenge,
                    challengeBlock
                )
            );
        }
    }

    function test_attest_challengeDistanceEdges() public {
        uint256[5] memory distances = [uint256(0), 1, 256, 257, 300];
        for (uint256 i; i < distances.length; ++i) {
            _checkDistance(false, distances[i]);
            _checkDistance(true, distances[i]);
        }
    }

    /// A block-hash challenge is fresh exactly when its block is 1 to 256 blocks before the current one.
    function testFuzz_attest_challengeBlockDistance(bool p256, uint256 distance) public {
        _checkDistance(p256, _bound(distance, 0, 300));
    }

    // ============================================================ boot counts

    /// @dev Three attestations with these boot counts: each is accepted iff it does not go below the latest.
    function _checkBootCounts(bool p256, uint64[3] memory counts) internal {
        TestKey memory k = _dev(p256);
        bool any;
        uint64 latest;
        for (uint256 i; i < 3; ++i) {
            (uint256 challengeBlock, bytes32 challenge) = _nextBlockChallenge();
            Attestation memory evidence = _evidence(k, MEASUREMENT_V1, challenge, counts[i]);
            (bool accepted, bytes memory reason) = _try(evidence, challengeBlock, k);
            if (!any || counts[i] >= latest) {
                assertTrue(accepted, "a counter that does not go back is accepted");
                (any, latest) = (true, counts[i]);
            } else {
                assertEq(
                    reason,
                    abi.encodeWithSelector(
                        IDeviceAttestation.AttestationBootCountDecreased.selector,
                        _id(k),
                        counts[i],
                        latest
                    )
                );
            }
            assertEq(registry.evidenceOf(_id(k)).bootCount, latest);
        }
    }

    function test_attest_bootCountSequences() public {
        _checkBootCounts(false, [uint64(5), 5, 4]);
        _checkBootCounts(true, [uint64(1), 0, 2]);
    }

    /// The recorded boot count never decreases, and a decreasing one is rejected with both values.
    function testFuzz_attest_bootCountSequence(bool p256, uint256 baseSeed, uint256[3] memory steps) public {
        uint64 base = uint64(_bound(baseSeed, 0, type(uint64).max - 3));
        uint64[3] memory counts;
        // Small steps around a random base, so that equal, growing and decreasing counters all occur.
        for (uint256 i; i < 3; ++i) counts[i] = base + uint64(_bound(steps[i], 0, 3));
        _checkBootCounts(p256, counts);
    }

    // ============================================================ measurements

    function _checkUnknownMeasurement(bool p256, bytes32 measurement) internal {
        TestKey memory k = _dev(p256);
        (uint256 challengeBlock, bytes32 challenge) = _nextBlockChallenge();
        Attestation memory evidence = _evidence(k, measurement, challenge, 0);
        (bool accepted, bytes memory reason) = _try(evidence, challengeBlock, k);
        assertFalse(accepted);
        assertEq(
            reason,
            abi.encodeWithSelector(IDeviceAttestation.AttestationUnknownMeasurement.selector, _id(k), measurement)
        );
    }

    function test_attest_unknownMeasurements() public {
        _checkUnknownMeasurement(false, bytes32(0));
        _checkUnknownMeasurement(true, keccak256("firmware v3"));
    }

    /// A measurement no maker published is rejected as unknown.
    function testFuzz_attest_unknownMeasurementRejected(bool p256, bytes32 measurement) public {
        if (measurement == MEASUREMENT_V1 || measurement == MEASUREMENT_V2 || measurement == MEASUREMENT_OTHER_MODEL) {
            measurement = ~measurement; // keep every run (_bound() over assume)
        }
        _checkUnknownMeasurement(p256, measurement);
    }

    /// A published measurement is accepted for its own model and rejected, naming the firmware, for another.
    function testFuzz_attest_publishedMeasurementByModel(bool p256, uint256 pick) public {
        TestKey memory k = _dev(p256);
        bytes32[3] memory measurements = [MEASUREMENT_V1, MEASUREMENT_V2, MEASUREMENT_OTHER_MODEL];
        uint32[3] memory ids = [v1, v2, otherModelFirmware];
        uint256 i = _bound(pick, 0, 2);
        (uint256 challengeBlock, bytes32 challenge) = _nextBlockChallenge();
        (bool accepted, bytes memory reason) = _try(_evidence(k, measurements[i], challenge, 0), challengeBlock, k);
        if (i < 2) {
            assertTrue(accepted);
            assertEq(registry.evidenceOf(_id(k)).firmwareId, ids[i]);
        } else {
            assertEq(
                reason,
                abi.encodeWithSelector(
                    IDeviceAttestation.AttestationMeasurementOfOtherModel.selector,
                    _id(k),
                    MEASUREMENT_OTHER_MODEL,
                    otherModelFirmware
                )
            );
        }
    }

    function test_attest_publishedMeasurementByModel() public {
        testFuzz_attest_publishedMeasurementByModel(false, 0);
        testFuzz_attest_publishedMeasurementByModel(true, 1);
        testFuzz_attest_publishedMeasurementByModel(true, 2);
    }

    // ============================================================ tampering

    /// @dev Honest evidence, signed, then one field changed to another value that passes every other check;
    /// the signature no longer matches.
    function _checkTampered(bool p256, uint256 field, uint256 value) internal {
        TestKey memory k = _dev(p256);
        vm.roll(block.number + 300);
        vm.warp(block.timestamp + 1 hours);
        uint256 challengeBlock = block.number - 1;
        Attestation memory evidence = _evidence(k, MEASUREMENT_V1, blockhash(challengeBlock), 10);
        evidence.timestamp = uint64(block.timestamp - 1 minutes);
        bytes memory signature = _sign(k, _attestationDigest(evidence));
        IDeviceRegistry.DeviceKey memory key = _deviceKey(k);
        DeviceId id = _id(k);

        field = field % 5;
        if (field == 0) {
            evidence.measurement = MEASUREMENT_V2;
        } else if (field == 1) {
            // Another recent block: its hash is a fresh challenge too.
            challengeBlock = block.number - _bound(value, 2, 256);
            evidence.challenge = blockhash(challengeBlock);
        } else if (field == 2) {
            uint64 other = uint64(block.timestamp - _bound(value, 0, MAX_AGE - 1));
            evidence.timestamp = other == evidence.timestamp ? other + 1 : other;
        } else if (field == 3) {
            uint64 other = uint64(_bound(value, 10, type(uint64).max));
            evidence.bootCount = other == 10 ? 11 : other;
        } else {
            // Claimed for another registered device of the same curve, presented with that device's own key.
            k = p256 ? p256Dev2 : secpDev2;
            (evidence.deviceId, key, id) = (_id(k), _deviceKey(k), _id(k));
        }
        vm.expectRevert(abi.encodeWithSelector(IDeviceAttestation.AttestationInvalidSignature.selector, id));
        registry.attest(evidence, challengeBlock, key, signature);
    }

    function test_attest_everyTamperedFieldFails() public {
        for (uint256 field; field < 5; ++field) {
            _checkTampered(false, field, 7);
            _checkTampered(true, field, 256);
        }
    }

    /// Changing any signed field after signing (to a value that passes every other check) fails the signature.
    function testFuzz_attest_tamperedFieldFails(bool p256, uint256 field, uint256 value) public {
        _checkTampered(p256, field, value);
    }

    // ============================================================ issued nonces

    function _checkWrongNonce(bool p256, bytes32 guess) internal {
        TestKey memory k = _dev(p256);
        vm.prank(operator);
        bytes32 nonce = registry.issueChallenge(_id(k));
        if (guess == nonce) guess = ~guess;
        Attestation memory evidence = _evidence(k, MEASUREMENT_V1, guess, 0);
        (bool accepted, bytes memory reason) = _try(evidence, 0, k);
        assertFalse(accepted);
        assertEq(
            reason,
            abi.encodeWithSelector(IDeviceAttestation.AttestationStaleChallenge.selector, _id(k), guess, 0)
        );
        assertEq(registry.challengeOf(_id(k)), nonce, "a failed attempt leaves the nonce pending");
    }

    function test_attest_wrongNonces() public {
        _checkWrongNonce(false, bytes32(0));
        _checkWrongNonce(true, blockhash(block.number - 1));
    }

    /// Only the device's pending nonce serves as a challenge with challengeBlock 0.
    function testFuzz_attest_wrongNonceRejected(bool p256, bytes32 guess) public {
        _checkWrongNonce(p256, guess);
    }

    // ============================================================ isTrusted

    function _checkMaxAge(bool p256, uint256 maxAge, uint256 elapsed) internal {
        TestKey memory k = _dev(p256);
        _attest(k, MEASUREMENT_V1, 0);
        vm.warp(block.timestamp + elapsed);
        bool trusted = registry.isTrusted(_id(k), maxAge);
        assertEq(trusted, elapsed <= maxAge);
        assertEq(
            uint8(registry.trustReport(_id(k), maxAge).verdict),
            uint8(trusted ? IDeviceAttestation.TrustVerdict.Trusted : IDeviceAttestation.TrustVerdict.Stale)
        );
    }

    function test_isTrusted_maxAgeEdges() public {
        _checkMaxAge(false, 0, 0);
        _checkMaxAge(false, 60, 61);
        _checkMaxAge(true, 60, 60);
        _checkMaxAge(true, type(uint256).max, 365 days);
    }

    /// A device with Good firmware is trusted iff its evidence is at most maxAge seconds old.
    function testFuzz_isTrusted_maxAge(bool p256, uint256 maxAge, uint256 elapsed) public {
        elapsed = _bound(elapsed, 0, 400 days);
        // Half the runs near the elapsed time, so both sides of the boundary are hit.
        if (maxAge % 2 == 0) maxAge = _bound(maxAge, elapsed > 2 ? elapsed - 2 : 0, elapsed + 2);
        _checkMaxAge(p256, maxAge, elapsed);
    }
}
