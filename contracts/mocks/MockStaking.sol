// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {DeviceId} from "../types/DeviceId.sol";

/// @title MockStaking
/// @notice The two calls FraudProofs makes on IDeviceStaking: `slashableOf` answers what the test set, and
/// `slash` records its arguments and returns a set amount. It can also call back into a target during
/// `slash`, to prove the caller's reentrancy guard.
contract MockStaking {
    /// @notice One recorded slash call.
    struct SlashCall {
        DeviceId deviceId;
        address beneficiary;
        bytes32 incident;
        address caller;
    }

    /// @notice What `slashableOf` answers per device.
    mapping(DeviceId id => uint256) public slashable;
    /// @notice What `slash` returns.
    uint256 public slashAmount;
    SlashCall[] private _calls;

    address private _reenterTarget;
    bytes private _reenterData;

    /// @notice Sets what `slashableOf(deviceId)` answers.
    function setSlashable(DeviceId deviceId, uint256 amount) external {
        slashable[deviceId] = amount;
    }

    /// @notice Sets what `slash` returns.
    function setSlashAmount(uint256 amount) external {
        slashAmount = amount;
    }

    /// @notice During the next slashes, calls `target` with `data` and bubbles up its revert.
    function setReenter(address target, bytes calldata data) external {
        _reenterTarget = target;
        _reenterData = data;
    }

    /// @notice Records the call and returns the set amount.
    function slash(DeviceId deviceId, address beneficiary, bytes32 incident) external returns (uint256) {
        _calls.push(SlashCall({deviceId: deviceId, beneficiary: beneficiary, incident: incident, caller: msg.sender}));
        // Address.functionCall bubbles up the callee's revert data, so the test sees its custom error.
        if (_reenterTarget != address(0)) Address.functionCall(_reenterTarget, _reenterData);
        return slashAmount;
    }

    /// @notice What the test set for `deviceId`.
    function slashableOf(DeviceId deviceId) external view returns (uint256) {
        return slashable[deviceId];
    }

    /// @notice How many times `slash` was called.
    function slashCount() external view returns (uint256) {
        return _calls.length;
    }

    /// @notice The `index`th recorded slash call.
    function slashCall(uint256 index) external view returns (SlashCall memory) {
        return _calls[index];
    }
}
