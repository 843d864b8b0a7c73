// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {IDeviceStaking} from "../interfaces/IDeviceStaking.sol";
import {IFraudProofs} from "../interfaces/IFraudProofs.sol";
import {IStakeBacker} from "../interfaces/IStakeBacker.sol";
import {DeviceId} from "../types/DeviceId.sol";
import {DeviceStatus} from "../types/DeviceStatus.sol";

/// @title DeviceStaking
/// @notice Per-device ERC-20 bonds with delayed withdrawal, slashed by the fraud-proofs contract only
/// (see IDeviceStaking).
/// @dev Every function that moves tokens or calls a backer is nonReentrant. The staking contract must hold
/// the registry's SUSPENDER_ROLE so a slash can lock the device down.
contract DeviceStaking is IDeviceStaking, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    uint256 private constant BPS = 10_000;
    /// @dev A parameter change waits for the unbonding period in force plus this margin, so every
    /// withdrawal requested before the change was scheduled has unlocked before it applies.
    uint256 private constant PARAMS_MARGIN = 1 days;
    bytes32 private constant SLASH_REASON = "slashed";
    /// @inheritdoc IDeviceStaking
    uint256 public constant MAX_ALLOCATIONS = 8;
    /// @notice The most backers governance ever approves (each one's cover factor ceiling bounds the bounty).
    uint256 public constant MAX_BACKERS = 8;

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
        /// @dev The loss recipient is an approved backer, told of what it receives (kept in sync by
        /// setBacker, so a slash reads it from the slot it reads anyway).
        bool notifyLoss;
        uint96 minStake;
        uint64 unbondingPeriod;
    }

    /// @dev An allocation's amount and its 1-based place in the device's list (one slot per allocation).
    struct AllocationSlot {
        uint96 amount;
        uint8 index;
    }

    /// @dev Who an allocation in a device's list backs (read only by slashes and views).
    struct AllocationRef {
        address backer;
        bytes32 scope;
    }

    /// @dev One backer's share of a slash, gathered before any transfer.
    struct Payment {
        address backer;
        bytes32 scope;
        uint256 amount;
    }

    mapping(DeviceId deviceId => DeviceStake) private _stakes;
    /// @dev The sum of a device's allocations (read by requestWithdrawal and allocate only).
    mapping(DeviceId deviceId => uint256) private _allocated;
    mapping(DeviceId deviceId => mapping(bytes32 key => AllocationSlot)) private _allocations;
    mapping(DeviceId deviceId => mapping(uint256 index => AllocationRef)) private _allocationRefs;
    /// @dev Every backer governance ever approved (bounded): the bounty check reads each one's ceiling.
    address[] private _backerList;
    mapping(address backer => bool) private _approved;
    mapping(address backer => bool) private _listed;
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
        uint256 unallocated = active - _allocated[deviceId];
        if (amount > unallocated) revert StakingStakeAllocated(deviceId, unallocated, amount);
        StoredParams storage p = _params();
        uint256 remaining = active - amount;
        if (remaining != 0 && remaining < p.minStake) revert StakingBelowMinimum(deviceId, remaining, p.minStake);
        uint40 unlockAt = (block.timestamp + p.unbondingPeriod).toUint40();
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
        uint40 unlockAt = s.unlockAt;
        if (block.timestamp < unlockAt) revert StakingStillUnbonding(deviceId, unlockAt, block.timestamp);
        s.pending = 0;
        s.unlockAt = 0;
        emit Withdrawn(deviceId, msg.sender, amount);
        TOKEN.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IDeviceStaking
    function allocate(DeviceId deviceId, address backer, bytes32 scope, uint256 amount) external {
        if (amount == 0) revert StakingZeroAmount();
        _requireOperator(deviceId);
        if (!_approved[backer]) revert StakingNotBacker(backer);
        DeviceStake storage s = _stakes[deviceId];
        uint256 allocated = _allocated[deviceId];
        uint256 unallocated = s.active - allocated;
        if (amount > unallocated) revert StakingStakeAllocated(deviceId, unallocated, amount);
        AllocationSlot storage slot = _allocations[deviceId][_key(backer, scope)];
        uint8 index = slot.index;
        if (index == 0) {
            uint8 count = s.allocations;
            if (count == MAX_ALLOCATIONS) revert StakingTooManyAllocations(deviceId, MAX_ALLOCATIONS);
            index = count + 1;
            s.allocations = index;
            slot.index = index;
            _allocationRefs[deviceId][index] = AllocationRef({backer: backer, scope: scope});
        }
        // amount <= unallocated <= active < 2^96.
        uint256 allocation = slot.amount + amount;
        slot.amount = uint96(allocation);
        _allocated[deviceId] = allocated + amount;
        emit Allocated(deviceId, backer, scope, amount, allocation);
    }

    /// @inheritdoc IDeviceStaking
    function deallocate(DeviceId deviceId, address backer, bytes32 scope, uint256 amount) external nonReentrant {
        if (amount == 0) revert StakingZeroAmount();
        _requireOperator(deviceId);
        mapping(bytes32 => AllocationSlot) storage allocations = _allocations[deviceId];
        AllocationSlot storage slot = allocations[_key(backer, scope)];
        uint256 allocation = slot.amount;
        if (amount > allocation) revert StakingInsufficientAllocation(deviceId, backer, scope, allocation);
        uint256 remaining = allocation - amount;
        // A view call to an approved backer; nonReentrant guards the rest anyway.
        uint256 required = IStakeBacker(backer).requiredAllocation(deviceId, scope);
        if (remaining < required) revert StakingAllocationInUse(deviceId, backer, scope, remaining, required);
        _allocated[deviceId] -= amount;
        if (remaining != 0) {
            slot.amount = uint96(remaining);
        } else {
            // Swap-and-pop keeps the device's list contiguous for the slash loop.
            DeviceStake storage s = _stakes[deviceId];
            uint8 index = slot.index;
            uint8 last = s.allocations;
            mapping(uint256 => AllocationRef) storage refs = _allocationRefs[deviceId];
            if (index != last) {
                AllocationRef memory moved = refs[last];
                refs[index] = moved;
                allocations[_key(moved.backer, moved.scope)].index = index;
            }
            delete refs[last];
            delete allocations[_key(backer, scope)];
            s.allocations = last - 1;
        }
        emit Deallocated(deviceId, backer, scope, amount, remaining);
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
        uint256 bountyBps = p.bountyBps;
        uint256 bounty = (slashed * bountyBps) / BPS;
        uint256 loss = slashed - bounty;
        address lossRecipient = p.lossRecipient;
        // Effects first: the stake, every allocation and its list entry are cleared before any call. An
        // unbacked device's slash reads no allocation slot (the sum is nonzero only with allocations).
        Payment[] memory payments;
        if (s.allocations != 0) {
            payments = _takeAllocations(deviceId, s.allocations, bountyBps);
            for (uint256 i; i < payments.length; ++i) loss -= payments[i].amount;
            delete _allocated[deviceId];
        }
        delete _stakes[deviceId];
        emit Slashed(deviceId, beneficiary, incident, bounty, loss);
        // The registry counts the incident and suspends the device if it is active (a suspended one stays
        // suspended, a terminal one stays).
        REGISTRY.recordIncident(deviceId, SLASH_REASON);
        if (bounty != 0) TOKEN.safeTransfer(beneficiary, bounty);
        for (uint256 i; i < payments.length; ++i) {
            Payment memory pay = payments[i];
            _payBacker(deviceId, pay.backer, pay.scope, incident, pay.amount);
        }
        if (loss != 0) {
            if (p.notifyLoss) _payBacker(deviceId, lossRecipient, bytes32(0), incident, loss);
            else TOKEN.safeTransfer(lossRecipient, loss);
        }
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
    function setLossRecipient(address lossRecipient) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_proofs != address(0)) revert StakingProofsAlreadySet(_proofs);
        if (lossRecipient == address(0)) revert StakingInvalidParams();
        _current.lossRecipient = lossRecipient;
        _current.notifyLoss = _approved[lossRecipient];
        emit LossRecipientSet(lossRecipient);
    }

    /// @inheritdoc IDeviceStaking
    function setBacker(address backer, bool approved) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (backer == address(0)) revert StakingInvalidParams();
        if (approved) {
            address backerAsset = IERC4626(backer).asset();
            if (backerAsset != address(TOKEN)) revert StakingBackerAssetMismatch(backer, backerAsset);
            uint256 ceiling = IStakeBacker(backer).coverFactorCeilingBps();
            uint256 bounty = _params().bountyBps;
            if (_current.pendingEffectiveAt != 0 && _pending.bountyBps > bounty) bounty = _pending.bountyBps;
            if (bounty + ceiling >= BPS) revert StakingBountyTooHigh(bounty, ceiling);
            if (!_listed[backer]) {
                if (_backerList.length == MAX_BACKERS) revert StakingTooManyBackers(MAX_BACKERS);
                _listed[backer] = true;
                _backerList.push(backer);
            }
        }
        _approved[backer] = approved;
        if (_current.lossRecipient == backer) _current.notifyLoss = approved;
        if (_pending.lossRecipient == backer) _pending.notifyLoss = approved;
        emit BackerSet(backer, approved);
    }

    /// @inheritdoc IDeviceStaking
    function scheduleParams(Params calldata newParams) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _validate(newParams);
        // Every backer ever approved may still have coverage sold at its ceiling.
        for (uint256 i; i < _backerList.length; ++i) {
            uint256 ceiling = IStakeBacker(_backerList[i]).coverFactorCeilingBps();
            if (newParams.bountyBps + ceiling >= BPS) revert StakingBountyTooHigh(newParams.bountyBps, ceiling);
        }
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
    function activeOf(DeviceId deviceId) public view returns (uint256) {
        return _stakes[deviceId].active;
    }

    /// @inheritdoc IDeviceStaking
    function allocationOf(DeviceId deviceId, address backer, bytes32 scope) external view returns (uint256) {
        return _allocations[deviceId][_key(backer, scope)].amount;
    }

    /// @inheritdoc IDeviceStaking
    function allocationsOf(DeviceId deviceId) external view returns (Allocation[] memory list) {
        list = new Allocation[](_stakes[deviceId].allocations);
        for (uint256 i; i < list.length; ++i) {
            AllocationRef storage ref = _allocationRefs[deviceId][i + 1];
            uint96 amount = _allocations[deviceId][_key(ref.backer, ref.scope)].amount;
            list[i] = Allocation({backer: ref.backer, amount: amount, scope: ref.scope});
        }
    }

    /// @inheritdoc IDeviceStaking
    function allocatedOf(DeviceId deviceId) external view returns (uint256) {
        return _allocated[deviceId];
    }

    /// @inheritdoc IDeviceStaking
    function slashableOfOperator(
        address operator,
        DeviceId[] calldata deviceIds
    ) external view returns (uint256 total) {
        for (uint256 i; i < deviceIds.length; ++i) {
            if (REGISTRY.operatorOf(deviceIds[i]) == operator) total += activeOf(deviceIds[i]);
        }
    }

    /// @inheritdoc IDeviceStaking
    /// @dev A device listed twice counts twice: pass distinct ids.
    function costOfCorruption(DeviceId[] calldata deviceIds) external view returns (uint256 total) {
        for (uint256 i; i < deviceIds.length; ++i) total += activeOf(deviceIds[i]);
    }

    /// @inheritdoc IDeviceStaking
    function isBacker(address backer) external view returns (bool) {
        return _approved[backer];
    }

    /// @inheritdoc IDeviceStaking
    function backers() external view returns (address[] memory) {
        return _backerList;
    }

    /// @inheritdoc IDeviceStaking
    function params() external view returns (Params memory) {
        return _toParams(_params());
    }

    /// @inheritdoc IDeviceStaking
    function pendingParams() external view returns (Params memory, uint64 effectiveAt) {
        return (_toParams(_pending), _current.pendingEffectiveAt);
    }

    /// @inheritdoc IDeviceStaking
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
        dst.notifyLoss = _approved[p.lossRecipient];
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

    /// @dev Clears the device's allocations and returns each backer's share: its slice net of the bounty
    /// (the shares sum to at most allocated * (1 - b) <= the slash net of the bounty).
    function _takeAllocations(
        DeviceId deviceId,
        uint256 count,
        uint256 bountyBps
    ) private returns (Payment[] memory payments) {
        payments = new Payment[](count);
        mapping(bytes32 => AllocationSlot) storage allocations = _allocations[deviceId];
        mapping(uint256 => AllocationRef) storage refs = _allocationRefs[deviceId];
        for (uint256 i; i < count; ++i) {
            AllocationRef storage ref = refs[i + 1];
            Payment memory pay = payments[i];
            (pay.backer, pay.scope) = (ref.backer, ref.scope);
            bytes32 key = _key(pay.backer, pay.scope);
            pay.amount = (uint256(allocations[key].amount) * (BPS - bountyBps)) / BPS;
            delete allocations[key];
            delete refs[i + 1];
        }
    }

    /// @dev Pays a backer its share of a slash and tells it, so its books move in this transaction.
    function _payBacker(DeviceId deviceId, address backer, bytes32 scope, bytes32 incident, uint256 amount) private {
        emit BackerPaid(deviceId, backer, scope, amount);
        if (amount != 0) TOKEN.safeTransfer(backer, amount);
        IStakeBacker(backer).onStakeSlashed(deviceId, scope, incident, amount);
    }

    function _key(address backer, bytes32 scope) private pure returns (bytes32) {
        return keccak256(abi.encode(backer, scope));
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
