// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {IDeviceStaking} from "../interfaces/IDeviceStaking.sol";
import {DeviceId} from "../types/DeviceId.sol";

/// @title MockStaking
/// @notice The calls FraudProofs and DeviceFeed make on IDeviceStaking: `slashableOf` and `activeOf` answer
/// what the test set (active defaults to the slashable amount), `slash` records its arguments and returns a
/// set amount, `params` answers a set unbonding period, and `proofs` names this mock itself, which answers
/// `evidenceWindow` (default 7 days) as a FraudProofs would. It can also call back into a target during
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
    mapping(DeviceId id => uint256) private _active;
    mapping(DeviceId id => bool) private _activeSet;
    uint256 private _evidenceWindow = 7 days;
    uint64 private _unbondingPeriod = 14 days;
    address private _proofs;

    address private _reenterTarget;
    bytes private _reenterData;

    /// @notice Sets what `slashableOf(deviceId)` answers.
    function setSlashable(DeviceId deviceId, uint256 amount) external {
        slashable[deviceId] = amount;
    }

    /// @notice Sets what `activeOf(deviceId)` answers (until set, it answers the slashable amount).
    function setActive(DeviceId deviceId, uint256 amount) external {
        _active[deviceId] = amount;
        _activeSet[deviceId] = true;
    }

    /// @notice Sets what `evidenceWindow` answers.
    function setEvidenceWindow(uint256 window) external {
        _evidenceWindow = window;
    }

    /// @notice Sets the unbonding period `params` answers.
    function setUnbondingPeriod(uint64 period) external {
        _unbondingPeriod = period;
    }

    /// @notice Makes `proofs` answer `proofs_` instead of this mock.
    function setProofs(address proofs_) external {
        _proofs = proofs_;
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

    /// @notice What the test set with setActive, else the slashable amount.
    function activeOf(DeviceId deviceId) external view returns (uint256) {
        return _activeSet[deviceId] ? _active[deviceId] : slashable[deviceId];
    }

    /// @notice This mock, unless setProofs named another contract.
    function proofs() external view returns (address) {
        return _proofs == address(0) ? address(this) : _proofs;
    }

    /// @notice As FraudProofs.evidenceWindow.
    function evidenceWindow() external view returns (uint256) {
        return _evidenceWindow;
    }

    /// @notice Parameters with the set unbonding period (the rest zero).
    function params() external view returns (IDeviceStaking.Params memory p) {
        p.unbondingPeriod = _unbondingPeriod;
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
