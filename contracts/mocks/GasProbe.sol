// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {IDeviceAttestation} from "../interfaces/IDeviceAttestation.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {DeviceId} from "../types/DeviceId.sol";

/// @title GasProbe
/// @notice Benchmark helper: measures what a consuming contract pays for one registry view call,
/// including the call itself (cold account access, ABI encoding) as a feed or a wallet would pay it.
/// @dev Called through eth_call, so the registry's account and every slot it reads are cold.
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

    /// @notice Calls `core.isTrusted` and returns its answer and the gas the call consumed.
    function measureIsTrusted(
        IDeviceAttestation core,
        DeviceId deviceId,
        uint256 maxAge
    ) external view returns (bool trusted, uint256 gasUsed) {
        uint256 before = gasleft();
        trusted = core.isTrusted(deviceId, maxAge);
        gasUsed = before - gasleft();
    }

    /// @notice Calls `registry.isValidDeviceSignature` (not measured), then `isTrusted` for the same device,
    /// and returns the gas of the second call only: what a feed pays for the trust check after it has
    /// verified the device's signature in the same transaction (registry account and device record warm).
    function measureIsTrustedAfterSignature(
        IDeviceRegistry registry,
        DeviceId deviceId,
        bytes32 digest,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature,
        uint256 maxAge
    ) external view returns (bool valid, bool trusted, uint256 gasUsed) {
        valid = registry.isValidDeviceSignature(deviceId, digest, key, signature);
        uint256 before = gasleft();
        trusted = IDeviceAttestation(address(registry)).isTrusted(deviceId, maxAge);
        gasUsed = before - gasleft();
    }

    /// @notice Calls `feed.latestRoundData` and returns its answer and the gas the call consumed, as a
    /// consumer (a lending market, a vault) pays it: the feed's account and every slot it reads cold.
    function measureLatestRoundData(AggregatorV3Interface feed) external view returns (int256 answer, uint256 gasUsed) {
        uint256 before = gasleft();
        (, answer, , , ) = feed.latestRoundData();
        gasUsed = before - gasleft();
    }

    /// @notice Calls `feed.getRoundData(roundId)` and returns its answer and the gas the call consumed, as a
    /// consumer pays it (cold).
    function measureGetRoundData(
        AggregatorV3Interface feed,
        uint80 roundId
    ) external view returns (int256 answer, uint256 gasUsed) {
        uint256 before = gasleft();
        (, answer, , , ) = feed.getRoundData(roundId);
        gasUsed = before - gasleft();
    }
}
