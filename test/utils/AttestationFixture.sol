// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IDeviceAttestation} from "../../contracts/interfaces/IDeviceAttestation.sol";
import {DeviceMessageLib} from "../../contracts/libraries/DeviceMessageLib.sol";
import {DeviceId} from "../../contracts/types/DeviceId.sol";
import {Attestation} from "../../contracts/types/Messages.sol";
import {RegistryFixture, TestKey} from "./RegistryFixture.sol";

/// @notice The registry fixture plus a second maker, a second model, firmware reference values and
/// helpers that build honest evidence: each attestation test changes one thing of what these produce.
abstract contract AttestationFixture is RegistryFixture {
    /// @dev A second model of the first maker.
    uint32 internal constant OTHER_MODEL = 8;
    /// @dev The block the fixture starts at, so that the last 256 block hashes exist.
    uint256 internal constant START_BLOCK = 1_000;

    bytes32 internal constant MEASUREMENT_V1 = keccak256("firmware v1");
    bytes32 internal constant MEASUREMENT_V2 = keccak256("firmware v2");
    bytes32 internal constant MEASUREMENT_OTHER_MODEL = keccak256("other model firmware v1");
    string internal constant URI = "ipfs://firmware";

    address internal otherMakerSigner;
    uint16 internal otherMaker;
    /// @dev The registry's EIP-712 domain separator, read once: building evidence then makes no call to
    /// the registry, so a `vm.expectRevert` before a helper that signs still applies to `attest`.
    bytes32 internal domainSeparator;

    function setUp() public virtual override {
        super.setUp();
        vm.roll(START_BLOCK);
        otherMakerSigner = vm.addr(OTHER_MAKER_PK);
        vm.prank(governor);
        otherMaker = registry.addMaker(otherMakerSigner, "Globex Modules");
        domainSeparator = registry.DOMAIN_SEPARATOR();
    }

    // ------------------------------------------------------------------ firmware

    function _imageDigests(bytes32 measurement) internal pure returns (bytes32[] memory digests) {
        digests = new bytes32[](3);
        digests[0] = keccak256(abi.encode("bootloader", measurement));
        digests[1] = keccak256(abi.encode("kernel", measurement));
        digests[2] = keccak256(abi.encode("application", measurement));
    }

    /// @notice Publishes (model, version) with `measurement` as the first maker.
    function _publish(uint32 model, string memory version, bytes32 measurement) internal returns (uint32) {
        return _publishAs(makerSigner, model, version, measurement);
    }

    function _publishAs(
        address signer,
        uint32 model,
        string memory version,
        bytes32 measurement
    ) internal returns (uint32 firmwareId) {
        vm.prank(signer);
        firmwareId = registry.publishFirmware(model, version, measurement, URI, _imageDigests(measurement));
    }

    function _revokeFirmware(uint32 firmwareId) internal {
        vm.prank(makerSigner);
        registry.revokeFirmware(firmwareId);
    }

    function _deprecate(uint32 firmwareId, uint64 sunset) internal {
        vm.prank(makerSigner);
        registry.deprecateFirmware(firmwareId, sunset);
    }

    // ------------------------------------------------------------------ devices

    /// @notice Registers `k` to `operator` as `model` of the first maker.
    function _registerModel(TestKey memory k, uint32 model) internal returns (DeviceId) {
        return
            registry.register(
                _registration(k, operator, model, block.timestamp + 1 hours),
                maker,
                _signEth(MAKER_PK, _endorseDigest(_id(k), model))
            );
    }

    /// @notice Registers `k` to `operator` as model MODEL of the second maker.
    function _registerOtherMaker(TestKey memory k) internal returns (DeviceId) {
        return
            registry.register(
                _registration(k, operator, MODEL, block.timestamp + 1 hours),
                otherMaker,
                _signEth(OTHER_MAKER_PK, _endorseDigest(_id(k), MODEL))
            );
    }

    // ------------------------------------------------------------------ evidence

    function _attestationDigest(Attestation memory evidence) internal view returns (bytes32) {
        return _typedDigest(domainSeparator, DeviceMessageLib.hashAttestation(evidence));
    }

    /// @notice Moves one block on (and one second, as a chain does) and returns the previous block as a
    /// challenge: its number and hash.
    function _nextBlockChallenge() internal returns (uint256 challengeBlock, bytes32 challenge) {
        vm.roll(block.number + 1);
        vm.warp(block.timestamp + 1);
        challengeBlock = block.number - 1;
        challenge = blockhash(challengeBlock);
    }

    /// @notice Evidence of `k`'s device for `measurement`, made now, fresh for `challenge`.
    function _evidence(
        TestKey memory k,
        bytes32 measurement,
        bytes32 challenge,
        uint64 bootCount
    ) internal view returns (Attestation memory) {
        return
            Attestation({
                deviceId: _id(k),
                measurement: measurement,
                challenge: challenge,
                timestamp: uint64(block.timestamp),
                bootCount: bootCount
            });
    }

    /// @notice An honest attestation of the device whose id is `id` and whose current key is `k`: a fresh
    /// block-hash challenge, the current time, signed by `k`.
    function _attest(DeviceId id, TestKey memory k, bytes32 measurement, uint64 bootCount) internal {
        (uint256 challengeBlock, bytes32 challenge) = _nextBlockChallenge();
        Attestation memory evidence = Attestation({
            deviceId: id,
            measurement: measurement,
            challenge: challenge,
            timestamp: uint64(block.timestamp),
            bootCount: bootCount
        });
        registry.attest(evidence, challengeBlock, _deviceKey(k), _sign(k, _attestationDigest(evidence)));
    }

    function _attest(TestKey memory k, bytes32 measurement, uint64 bootCount) internal {
        _attest(_id(k), k, measurement, bootCount);
    }

    function _verdict(DeviceId id, uint256 maxAge) internal view returns (IDeviceAttestation.TrustVerdict) {
        return registry.trustReport(id, maxAge).verdict;
    }

    function _assertVerdict(DeviceId id, uint256 maxAge, IDeviceAttestation.TrustVerdict expected) internal view {
        assertEq(uint8(_verdict(id, maxAge)), uint8(expected), "verdict");
        assertEq(
            registry.isTrusted(id, maxAge),
            expected == IDeviceAttestation.TrustVerdict.Trusted,
            "isTrusted agrees with the verdict"
        );
    }
}
