// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IDeviceAttestation} from "../interfaces/IDeviceAttestation.sol";
import {DeviceId} from "../types/DeviceId.sol";

/// @title TrustLib
/// @notice How a relying contract (a feed, staking, a fleet account) requires a trusted device: one call,
/// and a revert that says why not.
/// @dev Usage: `using TrustLib for IDeviceAttestation;` then `core.requireTrusted(deviceId, 1 hours);`.
library TrustLib {
    /// @notice The device is not trusted for `verdict` (an IDeviceAttestation.TrustVerdict).
    error TrustLibUntrusted(DeviceId deviceId, IDeviceAttestation.TrustVerdict verdict);

    /// @notice Reverts with TrustLibUntrusted unless the device is trusted within `maxAge` seconds.
    function requireTrusted(IDeviceAttestation core, DeviceId deviceId, uint256 maxAge) internal view {
        // The cheap boolean first; the report (which also reads the measurement) only to explain a failure.
        if (!core.isTrusted(deviceId, maxAge)) {
            revert TrustLibUntrusted(deviceId, core.trustReport(deviceId, maxAge).verdict);
        }
    }
}
