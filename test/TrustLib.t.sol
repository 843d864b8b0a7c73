// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IDeviceAttestation} from "../contracts/interfaces/IDeviceAttestation.sol";
import {TrustLib} from "../contracts/libraries/TrustLib.sol";
import {TrustGateMock} from "../contracts/mocks/TrustGateMock.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {AttestationFixture} from "./utils/AttestationFixture.sol";
import {TestKey} from "./utils/RegistryFixture.sol";

/// @notice TrustLib.requireTrusted as a relying contract uses it (through TrustGateMock): it lets a trusted
/// device through and reverts with the verdict for every other case.
contract TrustLibTest is AttestationFixture {
    uint256 internal constant MAX_AGE = 10 minutes;

    TrustGateMock internal gate;
    TestKey internal dev;
    TestKey internal p256Dev;
    DeviceId internal id;
    DeviceId internal p256Id;
    uint32 internal v1;

    function setUp() public override {
        super.setUp();
        gate = new TrustGateMock(registry, MAX_AGE);
        dev = _secpKey(SECP_PK);
        p256Dev = _p256Key(P256_PK);
        id = _register(dev);
        p256Id = _register(p256Dev);
        v1 = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
    }

    function _expectUntrusted(DeviceId deviceId, IDeviceAttestation.TrustVerdict verdict) internal {
        vm.expectRevert(abi.encodeWithSelector(TrustLib.TrustLibUntrusted.selector, deviceId, verdict));
    }

    function test_requireTrusted_acceptsTrustedDevices() public {
        _attest(dev, MEASUREMENT_V1, 0);
        _attest(p256Dev, MEASUREMENT_V1, 0);
        gate.submit(id);
        gate.submit(p256Id);
        assertEq(gate.accepted(), 2);
        assertEq(address(gate.CORE()), address(registry));
        assertEq(gate.MAX_AGE(), MAX_AGE);
    }

    function test_requireTrusted_acceptsAtExactlyMaxAge() public {
        _attest(dev, MEASUREMENT_V1, 0);
        vm.warp(block.timestamp + MAX_AGE);
        gate.submit(id);
        assertEq(gate.accepted(), 1);
    }

    function test_requireTrusted_RevertWhen_UnknownDevice() public {
        DeviceId unknown = _id(_secpKey(SECP_PK_2));
        _expectUntrusted(unknown, IDeviceAttestation.TrustVerdict.NotActive);
        gate.submit(unknown);
    }

    function test_requireTrusted_RevertWhen_Suspended() public {
        _attest(dev, MEASUREMENT_V1, 0);
        vm.prank(operator);
        registry.suspend(id, "maintenance");
        _expectUntrusted(id, IDeviceAttestation.TrustVerdict.NotActive);
        gate.submit(id);
    }

    function test_requireTrusted_RevertWhen_NeverAttested() public {
        _expectUntrusted(id, IDeviceAttestation.TrustVerdict.NeverAttested);
        gate.submit(id);
    }

    function test_requireTrusted_RevertWhen_Stale() public {
        _attest(dev, MEASUREMENT_V1, 0);
        vm.warp(block.timestamp + MAX_AGE + 1);
        _expectUntrusted(id, IDeviceAttestation.TrustVerdict.Stale);
        gate.submit(id);
    }

    function test_requireTrusted_RevertWhen_FirmwareRevoked() public {
        _attest(dev, MEASUREMENT_V1, 0);
        _attest(p256Dev, MEASUREMENT_V1, 0);
        _revokeFirmware(v1);
        _expectUntrusted(id, IDeviceAttestation.TrustVerdict.FirmwareRevoked);
        gate.submit(id);
        _expectUntrusted(p256Id, IDeviceAttestation.TrustVerdict.FirmwareRevoked);
        gate.submit(p256Id);
    }

    function test_requireTrusted_RevertWhen_FirmwareSunset() public {
        _attest(dev, MEASUREMENT_V1, 0);
        _deprecate(v1, uint64(block.timestamp + 60));
        gate.submit(id);
        vm.warp(block.timestamp + 60);
        _expectUntrusted(id, IDeviceAttestation.TrustVerdict.FirmwareSunset);
        gate.submit(id);
        assertEq(gate.accepted(), 1);
    }
}
