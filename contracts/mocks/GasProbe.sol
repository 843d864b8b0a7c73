// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {DeviceId} from "../types/DeviceId.sol";

/// @title GasProbe
/// @notice Benchmark helper: measures what a consuming contract pays for one registry view call,
/// including the call itself (cold account access, ABI encoding) as a feed or a wallet would pay it.
contract GasProbe {
    /// @notice Calls `registry.isValidDeviceSignature` and returns its answer and the gas the call consumed.
    function measureIsValidDeviceSignature(
        IDeviceRegistry registry,
        DeviceId deviceId,
        bytes32 digest,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) external view returns (bool valid, uint256 gasUsed) {
        uint256 before = gasleft();
        valid = registry.isValidDeviceSignature(deviceId, digest, key, signature);
        gasUsed = before - gasleft();
    }
}
