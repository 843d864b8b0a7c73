// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {IDeviceStaking} from "../interfaces/IDeviceStaking.sol";
import {IFraudProofs} from "../interfaces/IFraudProofs.sol";
import {DeviceId} from "../types/DeviceId.sol";
import {DeviceStatus} from "../types/DeviceStatus.sol";

/// @title DeviceStaking
/// @notice Per-device ERC-20 bonds with delayed withdrawal, slashed by the fraud-proofs contract only
/// (see IDeviceStaking).
/// @dev Every function that moves tokens is nonReentrant. The staking contract must hold the registry's
/// SUSPENDER_ROLE so a slash can lock the device down.
contract DeviceStaking is IDeviceStaking, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    uint256 private constant BPS = 10_000;
    /// @dev A parameter change waits for the unbonding period in force plus this margin, so every
    /// withdrawal requested before the change was scheduled has unlocked before it applies.
    uint256 private constant PARAMS_MARGIN = 1 days;
    bytes32 private constant SLASH_REASON = "slashed";

    /// @notice The device registry: operators, statuses, and the suspension a slash triggers.
    IDeviceRegistry public immutable REGISTRY;
    /// @notice The collateral token.
    IERC20 public immutable TOKEN;

    /// @dev Params laid out by who reads them: a slash reads one slot (loss recipient, bounty share and
    /// the time scheduled parameters take effect); stake and requestWithdrawal read that slot and the
    /// second (minimum stake, unbonding period). Every access is field by field, through storage.
    struct StoredParams {
        address lossRecipient;
        uint16 bountyBps;
        /// @dev In `_current` only: when `_pending` takes effect (0 when nothing is scheduled).
        uint64 pendingEffectiveAt;
        uint96 minStake;
        uint64 unbondingPeriod;
    }

    mapping(DeviceId deviceId => DeviceStake) private _stakes;
    StoredParams private _current;
    StoredParams private _pending;
    address private _proofs;

    /// @notice Deploys staking for `registry` with collateral `token`.
    /// @param governance Holds DEFAULT_ADMIN_ROLE: sets the proofs contract and schedules parameters.
    /// @param initial The parameters in force from the start.
    constructor(IDeviceRegistry registry, IERC20 token, address governance, Params memory initial) {
        if (address(registry) == address(0) || address(token) == address(0) || governance == address(0)) {
            revert StakingInvalidParams();
        }
        _validate(initial);
        REGISTRY = registry;
        TOKEN = token;
        _store(_current, initial);
        _grantRole(DEFAULT_ADMIN_ROLE, governance);
    }

    // ---------------------------------------------------------------- operators

    /// @inheritdoc IDeviceStaking
    function stake(DeviceId deviceId, uint256 amount) external nonReentrant {
        if (amount == 0) revert StakingZeroAmount();
        _requireOperator(deviceId);
        DeviceStatus status = REGISTRY.statusOf(deviceId);
        if (status == DeviceStatus.Revoked || status == DeviceStatus.Decommissioned) {
            revert StakingTerminalDevice(deviceId);
        }
        // Deviation from checks → effects → interactions: the credit is what actually arrives (a
        // fee-on-transfer token must not create stake from nothing), so it is measured around the pull
        // and the effect and event follow it. nonReentrant covers the window (tested with a reentrant token).
        uint256 balanceBefore = TOKEN.balanceOf(address(this));
        TOKEN.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = TOKEN.balanceOf(address(this)) - balanceBefore;
        if (received == 0) revert StakingNothingReceived(amount);

        DeviceStake storage s = _stakes[deviceId];
        uint256 active = s.active + received;
        uint256 minStake = _params().minStake;
        if (active < minStake) revert StakingBelowMinimum(deviceId, active, minStake);
        s.active = active.toUint96();
        emit Staked(deviceId, msg.sender, received, active);
    }

    /// @inheritdoc IDeviceStaking
    function requestWithdrawal(DeviceId deviceId, uint256 amount) external {
        if (amount == 0) revert StakingZeroAmount();
        _requireOperator(deviceId);
        DeviceStake storage s = _stakes[deviceId];
        uint256 active = s.active;
        if (amount > active) revert StakingInsufficientStake(deviceId, active, amount);
        StoredParams storage p = _params();
        uint256 remaining = active - amount;
        if (remaining != 0 && remaining < p.minStake) revert StakingBelowMinimum(deviceId, remaining, p.minStake);
        uint64 unlockAt = (block.timestamp + p.unbondingPeriod).toUint64();
        // remaining <= active fits; the pending sum is checked (it could pass 2^96 only with a huge supply).
        s.active = uint96(remaining);
        s.pending = (s.pending + amount).toUint96();
        s.unlockAt = unlockAt;
        emit WithdrawalRequested(deviceId, msg.sender, amount, unlockAt);
    }

    /// @inheritdoc IDeviceStaking
    function withdraw(DeviceId deviceId) external nonReentrant {
        _requireOperator(deviceId);
        DeviceStake storage s = _stakes[deviceId];
        uint256 amount = s.pending;
        if (amount == 0) revert StakingNoWithdrawal(deviceId);
        uint64 unlockAt = s.unlockAt;
        if (block.timestamp < unlockAt) revert StakingStillUnbonding(deviceId, unlockAt, block.timestamp);
        s.pending = 0;
        s.unlockAt = 0;
        emit Withdrawn(deviceId, msg.sender, amount);
        TOKEN.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------- proofs

    /// @inheritdoc IDeviceStaking
    function slash(
        DeviceId deviceId,
        address beneficiary,
        bytes32 incident
    ) external nonReentrant returns (uint256 slashed) {
        if (msg.sender != _proofs) revert StakingNotProofs(msg.sender);
        DeviceStake memory s = _stakes[deviceId];
        // Active first, then pending: a slash takes all of both, so the order shows only in the record.
        slashed = uint256(s.active) + s.pending;
        if (slashed == 0) revert StakingNothingToSlash(deviceId);
        StoredParams storage p = _params();
        uint256 bounty = (slashed * p.bountyBps) / BPS;
        uint256 loss = slashed - bounty;
        address lossRecipient = p.lossRecipient;
        delete _stakes[deviceId];
        emit Slashed(deviceId, beneficiary, incident, bounty, loss);
        // Only an active device can be suspended; a suspended one stays suspended, a terminal one stays.
        if (REGISTRY.statusOf(deviceId) == DeviceStatus.Active) REGISTRY.suspend(deviceId, SLASH_REASON);
        if (bounty != 0) TOKEN.safeTransfer(beneficiary, bounty);
        if (loss != 0) TOKEN.safeTransfer(lossRecipient, loss);
    }

    // ---------------------------------------------------------------- governance

    /// @inheritdoc IDeviceStaking
    function setProofs(address newProofs) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_proofs != address(0)) revert StakingProofsAlreadySet(_proofs);
        if (newProofs == address(0)) revert StakingInvalidParams();
        uint256 window = IFraudProofs(newProofs).evidenceWindow();
        uint256 unbonding = _params().unbondingPeriod;
        if (window >= unbonding) revert StakingWindowNotShorter(window, unbonding);
        // Parameters already scheduled must respect the window too.
        if (_current.pendingEffectiveAt != 0 && window >= _pending.unbondingPeriod) {
            revert StakingWindowNotShorter(window, _pending.unbondingPeriod);
        }
        _proofs = newProofs;
        emit ProofsSet(newProofs);
    }

    /// @inheritdoc IDeviceStaking
    function scheduleParams(Params calldata newParams) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _validate(newParams);
        if (_proofs != address(0)) {
            uint256 window = IFraudProofs(_proofs).evidenceWindow();
            if (newParams.unbondingPeriod <= window) revert StakingWindowNotShorter(window, newParams.unbondingPeriod);
        }
        // Parameters already in force (effective but not applied) become current before they are replaced.
        uint64 scheduled = _current.pendingEffectiveAt;
        if (scheduled != 0 && block.timestamp >= scheduled) _apply();
        uint64 effectiveAt = (block.timestamp + _current.unbondingPeriod + PARAMS_MARGIN).toUint64();
        _store(_pending, newParams);
        _current.pendingEffectiveAt = effectiveAt;
        emit ParamsScheduled(newParams, effectiveAt);
    }

    /// @inheritdoc IDeviceStaking
    function applyParams() external {
        uint64 effectiveAt = _current.pendingEffectiveAt;
        if (effectiveAt == 0) revert StakingNoPendingParams();
        if (block.timestamp < effectiveAt) revert StakingParamsNotYetEffective(effectiveAt, block.timestamp);
        _apply();
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IDeviceStaking
    function stakeOf(DeviceId deviceId) external view returns (DeviceStake memory) {
        return _stakes[deviceId];
    }

    /// @inheritdoc IDeviceStaking
    function slashableOf(DeviceId deviceId) public view returns (uint256) {
        DeviceStake storage s = _stakes[deviceId];
        return uint256(s.active) + s.pending;
    }

    /// @inheritdoc IDeviceStaking
    function slashableOfOperator(
        address operator,
        DeviceId[] calldata deviceIds
    ) external view returns (uint256 total) {
        for (uint256 i; i < deviceIds.length; ++i) {
            if (REGISTRY.operatorOf(deviceIds[i]) == operator) total += slashableOf(deviceIds[i]);
        }
    }

    /// @inheritdoc IDeviceStaking
    /// @dev A device listed twice counts twice: pass distinct ids.
    function costOfCorruption(DeviceId[] calldata deviceIds) external view returns (uint256 total) {
        for (uint256 i; i < deviceIds.length; ++i) total += slashableOf(deviceIds[i]);
    }

    /// @inheritdoc IDeviceStaking
    function params() external view returns (Params memory) {
        return _toParams(_params());
    }

    /// @inheritdoc IDeviceStaking
    function pendingParams() external view returns (Params memory, uint64 effectiveAt) {
        return (_toParams(_pending), _current.pendingEffectiveAt);
    }

    /// @notice The fraud-proofs contract (zero until governance sets it).
    function proofs() external view returns (address) {
        return _proofs;
    }

    // ---------------------------------------------------------------- internal

    /// @dev The parameters in force: scheduled ones count from their effective time, applied or not.
    /// A storage pointer, so callers read only the fields they use.
    function _params() private view returns (StoredParams storage) {
        uint64 effectiveAt = _current.pendingEffectiveAt;
        if (effectiveAt != 0 && block.timestamp >= effectiveAt) return _pending;
        return _current;
    }

    /// @dev Makes the scheduled parameters current and clears the schedule.
    function _apply() private {
        Params memory applied = _toParams(_pending);
        _store(_current, applied);
        _current.pendingEffectiveAt = 0;
        delete _pending;
        emit ParamsApplied(applied);
    }

    /// @dev Writes the four parameters, leaving `dst.pendingEffectiveAt` as it is.
    function _store(StoredParams storage dst, Params memory p) private {
        dst.minStake = p.minStake;
        dst.unbondingPeriod = p.unbondingPeriod;
        dst.bountyBps = p.bountyBps;
        dst.lossRecipient = p.lossRecipient;
    }

    function _toParams(StoredParams storage p) private view returns (Params memory) {
        return
            Params({
                minStake: p.minStake,
                unbondingPeriod: p.unbondingPeriod,
                bountyBps: p.bountyBps,
                lossRecipient: p.lossRecipient
            });
    }

    function _requireOperator(DeviceId deviceId) private view {
        if (REGISTRY.operatorOf(deviceId) != msg.sender) revert StakingNotOperator(deviceId, msg.sender);
    }

    function _validate(Params memory p) private pure {
        if (p.bountyBps > BPS || p.unbondingPeriod == 0 || p.lossRecipient == address(0)) {
            revert StakingInvalidParams();
        }
    }
}
