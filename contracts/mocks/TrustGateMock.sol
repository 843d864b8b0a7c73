// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IDeviceAttestation} from "../interfaces/IDeviceAttestation.sol";
import {TrustLib} from "../libraries/TrustLib.sol";
import {DeviceId} from "../types/DeviceId.sol";

/// @title TrustGateMock
/// @notice A relying contract that accepts data only from trusted devices: how TrustLib is used.
contract TrustGateMock {
    using TrustLib for IDeviceAttestation;

    /// @notice The registry core that answers isTrusted.
    IDeviceAttestation public immutable CORE;
    /// @notice How recent a device's evidence must be, in seconds.
    uint256 public immutable MAX_AGE;
    /// @notice Submissions accepted so far.
    uint256 public accepted;

    constructor(IDeviceAttestation core, uint256 maxAge) {
        CORE = core;
        MAX_AGE = maxAge;
    }

    /// @notice Counts one accepted submission from a trusted device.
    function submit(DeviceId deviceId) external {
        CORE.requireTrusted(deviceId, MAX_AGE);
        ++accepted;
    }
}
