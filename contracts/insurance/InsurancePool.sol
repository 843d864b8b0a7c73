// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {DeviceFeedFactory} from "../feeds/DeviceFeedFactory.sol";
import {IDeviceAttestation} from "../interfaces/IDeviceAttestation.sol";
import {IDeviceFeed} from "../interfaces/IDeviceFeed.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {IDeviceStaking} from "../interfaces/IDeviceStaking.sol";
import {IFraudProofs} from "../interfaces/IFraudProofs.sol";
import {IInsurancePool} from "../interfaces/IInsurancePool.sol";
import {IStakeBacker} from "../interfaces/IStakeBacker.sol";
import {StreamLib} from "../libraries/StreamLib.sol";
import {DeviceId} from "../types/DeviceId.sol";
import {DeviceStatus} from "../types/DeviceStatus.sol";

/// @title InsurancePool
/// @notice ERC-4626 vault of insurers' capital that sells parametric coverage on devices and feeds, backed by
/// stake allocated to it, and pays on incidents recorded by the fraud-proofs contract (see IInsurancePool).
/// @dev Booked accounting: `_assets` is what the pool earned and holds (deposits, earned premiums and
/// recoveries, minus payouts and withdrawals); `_streams.unearned` is received but still streaming; `_liabilities`
/// are proven exposures not yet paid. `totalAssets() = _assets + earned since the last accrual -
/// min(_liabilities, _locked)`. Streams run at a per-second rate that drops at day boundaries (each stream
/// ends at the first midnight after its end), so accrual walks one slot per elapsed day. Every function that
/// moves tokens is nonReentrant; `_locked <= _assets` holds after every call.
contract InsurancePool is IInsurancePool, ERC4626, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using StreamLib for StreamLib.Streams;
    using StreamLib for StreamLib.HeldBack;

    uint256 private constant BPS = 10_000;
    uint256 private constant YEAR = 365 days;

    /// @dev InsuranceTargetNotInsurable / InsuranceMemberNotInsurable reason codes.
    uint8 private constant NOT_ACTIVE = 1;
    uint8 private constant NOT_TRUSTED = 2;
    uint8 private constant INCIDENT_KNOWN = 3;
    uint8 private constant NO_STAKE = 4;
    uint8 private constant NOT_A_FEED = 5;
    uint8 private constant FEED_DOWN = 6;
    uint8 private constant NO_MEMBERS = 7;

    /// @notice The DeviceRegistry (also the attestation contract): status, trust and operators.
    IDeviceRegistry public immutable REGISTRY;
    /// @notice The staking contract whose allocations back coverage and whose slashes reach this pool.
    IDeviceStaking public immutable STAKING;
    /// @notice The fraud-proofs contract whose incidents pay claims.
    IFraudProofs public immutable PROOFS;
    /// @notice The factory whose feeds may be insured.
    DeviceFeedFactory public immutable FEED_FACTORY;
    /// @dev payoutBps by IncidentKind, 16 bits each (kind k in bits 16k..16k+15): a claim reads no slot for it.
    uint256 private immutable _PAYOUT_BPS;

    /// @dev Booked assets and locked coverage share one slot: every sale, payout and withdrawal reads both.
    uint128 private _assets;
    uint128 private _locked;
    /// @dev Proven, not yet paid.
    uint128 private _liabilities;
    /// @dev Premiums (over their term) and recovery surpluses (over recoveryVesting) being earned.
    StreamLib.Streams private _streams;
    /// @dev Value a claim or a release freed (a reserve larger than what it paid), held back from totalAssets
    /// and released over recoveryVesting, so a deposit made just before it captures nothing earned by those
    /// who bore the risk.
    StreamLib.HeldBack private _held;
    /// @dev The highest cover factor ever in force (IStakeBacker.coverFactorCeilingBps).
    uint16 private _ceiling;
    PoolParams private _params;
    mapping(bytes32 target => TargetState) private _targets;
    mapping(bytes32 target => mapping(uint32 serial => Policy)) private _policies;
    /// @dev A member's exposure to this pool's policies on one feed (a device's own scope is its
    /// TargetState.covered).
    mapping(DeviceId device => mapping(bytes32 feed => uint256)) private _feedExposure;
    /// @dev Part of a (device, scope) exposure reserved as a proven liability (never above the exposure).
    mapping(DeviceId device => mapping(bytes32 scope => uint256)) private _reserved;
    /// @dev Feed policies: keccak256(target, serial, device) => paid for that member's incidents.
    mapping(bytes32 key => uint256) private _memberPaid;
    mapping(address owner => WithdrawalRequest) private _requests;

    /// @dev What a sale would be, computed by `_sale` for `quote` and `buyCoverage`.
    struct Sale {
        uint256 premium;
        uint256 lockedAfter;
        /// @dev Feeds: the snapshot and each member's share of the amount.
        DeviceId[] members;
        uint256 share;
    }

    /// @dev What a claim pays and to whom; memberKey is zero for a device policy.
    struct Payout {
        address beneficiary;
        DeviceId device;
        bytes32 memberKey;
        uint256 amount;
    }

    /// @dev Working figures of a sale's capacity check.
    struct Capacity {
        uint256 exposureBefore;
        /// @dev The sale's exact exposure increase is num / den (amount / 1 on a device, n * amount / k on
        /// a feed, whose rounded-up shares add at least that).
        uint256 num;
        uint256 den;
        uint256 capacity;
        uint256 age;
    }

    /// @notice Deploys the pool over `asset_` (the staking collateral, a stable ERC-20 without transfer fees).
    /// @param registry The DeviceRegistry (both IDeviceRegistry and IDeviceAttestation).
    /// @param governance Holds DEFAULT_ADMIN_ROLE: sets the parameters.
    /// @param payoutBps_ Payout per IncidentKind in bps of the share; index 0 (None) must be 0, each <= 10_000.
    constructor(
        IERC20 asset_,
        address registry,
        IDeviceStaking staking,
        IFraudProofs proofs,
        DeviceFeedFactory feedFactory,
        address governance,
        PoolParams memory params_,
        uint16[5] memory payoutBps_
    ) ERC4626(asset_) ERC20("DeviceTrust Insurance Share", "dtINS") {
        if (
            address(asset_) == address(0) ||
            registry == address(0) ||
            address(staking) == address(0) ||
            address(proofs) == address(0) ||
            address(feedFactory) == address(0) ||
            governance == address(0)
        ) revert InsuranceZeroAddress();
        if (payoutBps_[0] != 0) revert InsuranceInvalidParams();
        uint256 packed;
        for (uint256 i = 1; i < 5; ++i) {
            if (payoutBps_[i] > BPS) revert InsuranceInvalidParams();
            packed |= uint256(payoutBps_[i]) << (16 * i);
        }
        REGISTRY = IDeviceRegistry(registry);
        STAKING = staking;
        PROOFS = proofs;
        FEED_FACTORY = feedFactory;
        _PAYOUT_BPS = packed;
        _setParams(params_);
        _streams.lastAccrual = uint40(block.timestamp);
        _grantRole(DEFAULT_ADMIN_ROLE, governance);
    }

    // ================================================================ ERC-4626

    /// @inheritdoc IERC4626
    /// @dev Booked and earned assets net of proven liabilities: a donation changes no share's value, and a
    /// proven loss lowers it in the proof's own transaction.
    function totalAssets() public view override(ERC4626, IERC4626) returns (uint256) {
        (uint256 earned, ) = _earnedSince();
        uint256 net = _net(_assets + earned);
        uint256 held = _held.remaining();
        return net > held ? net - held : 0;
    }

    /// @inheritdoc IERC4626
    /// @dev Booked and streaming assets are uint128s.
    function maxDeposit(address) public view override(ERC4626, IERC4626) returns (uint256) {
        return type(uint128).max - _assets - _streams.unearned;
    }

    /// @inheritdoc IERC4626
    function maxMint(address receiver) public view override(ERC4626, IERC4626) returns (uint256) {
        return _convertToShares(maxDeposit(receiver), Math.Rounding.Floor);
    }

    /// @inheritdoc IERC4626
    /// @dev The matured, unexpired request's value, at most the free capital.
    function maxWithdraw(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        WithdrawalRequest memory r = _requests[owner];
        if (!_redeemable(r)) return 0;
        return Math.min(previewRedeem(r.shares), freeCapital());
    }

    /// @inheritdoc IERC4626
    /// @dev The matured, unexpired request, at most the shares the free capital redeems (rounded down).
    function maxRedeem(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        WithdrawalRequest memory r = _requests[owner];
        if (!_redeemable(r)) return 0;
        return Math.min(r.shares, _convertToShares(freeCapital(), Math.Rounding.Floor));
    }

    /// @inheritdoc IERC4626
    function deposit(
        uint256 assets,
        address receiver
    ) public override(ERC4626, IERC4626) nonReentrant returns (uint256) {
        return super.deposit(assets, receiver);
    }

    /// @inheritdoc IERC4626
    function mint(uint256 shares, address receiver) public override(ERC4626, IERC4626) nonReentrant returns (uint256) {
        return super.mint(shares, receiver);
    }

    /// @inheritdoc IERC4626
    /// @dev Burns escrowed shares of a matured, unexpired request; reverts with the pool's errors (no
    /// request, cooldown, expired, more than requested, capital locked) rather than
    /// ERC4626ExceededMaxWithdraw, which says less. Zero is always accepted (ERC-4626 `max*` may be 0).
    function withdraw(
        uint256 assets,
        address receiver,
        address owner
    ) public override(ERC4626, IERC4626) nonReentrant returns (uint256 shares) {
        shares = previewWithdraw(assets);
        _withdraw(_msgSender(), receiver, owner, assets, shares);
    }

    /// @inheritdoc IERC4626
    /// @dev As `withdraw`.
    function redeem(
        uint256 shares,
        address receiver,
        address owner
    ) public override(ERC4626, IERC4626) nonReentrant returns (uint256 assets) {
        assets = previewRedeem(shares);
        _withdraw(_msgSender(), receiver, owner, assets, shares);
    }

    // ================================================================ insurers

    /// @inheritdoc IInsurancePool
    function requestWithdrawal(uint256 shares) external {
        if (shares == 0) revert InsuranceZeroAmount();
        WithdrawalRequest storage r = _requests[msg.sender];
        uint40 unlockAt = uint40(block.timestamp + _params.cooldown);
        uint40 expiresAt = unlockAt + _params.withdrawalWindow;
        r.shares = (r.shares + shares).toUint128();
        r.unlockAt = unlockAt;
        r.expiresAt = expiresAt;
        _transfer(msg.sender, address(this), shares);
        emit WithdrawalRequested(msg.sender, shares, unlockAt, expiresAt);
    }

    /// @inheritdoc IInsurancePool
    function cancelWithdrawal() external {
        uint256 shares = _requests[msg.sender].shares;
        if (shares == 0) revert InsuranceNoWithdrawalRequest(msg.sender);
        delete _requests[msg.sender];
        _transfer(address(this), msg.sender, shares);
        emit WithdrawalCancelled(msg.sender, shares);
    }

    // ================================================================ integrators

    /// @inheritdoc IInsurancePool
    function buyCoverage(
        TargetKind kind,
        bytes32 target,
        uint256 amount,
        uint256 term,
        address beneficiary,
        uint256 maxPremium
    ) external nonReentrant returns (uint32 serial, uint256 premium) {
        if (beneficiary == address(0)) revert InsuranceZeroAddress();
        _accrue();
        Sale memory s = _sale(kind, target, amount, term, beneficiary);
        premium = s.premium;
        if (premium > maxPremium) revert InsurancePremiumTooHigh(premium, maxPremium);

        serial = _writePolicy(kind, target, amount, term, beneficiary, s);
        if (premium != 0) _pull(msg.sender, premium);
    }

    /// @dev Books a validated sale: the policy, the exposure it adds, the locked capital and the premium's
    /// stream; emits the sale.
    function _writePolicy(
        TargetKind kind,
        bytes32 target,
        uint256 amount,
        uint256 term,
        address beneficiary,
        Sale memory s
    ) private returns (uint32 serial) {
        TargetState storage t = _targets[target];
        serial = t.policies;
        // amount <= capacity < 2^96 * 10_000 and lockedAfter <= assets < 2^128: the casts cannot truncate.
        t.covered += uint128(amount);
        t.policies = serial + 1;
        uint40 start = uint40(block.timestamp + _params.waitingPeriod);
        uint40 end = uint40(start + term);
        Policy storage p = _policies[target][serial];
        p.beneficiary = beneficiary;
        p.start = start;
        p.end = end;
        p.kind = kind;
        p.amount = uint128(amount);
        if (kind == TargetKind.Feed) {
            p.members = keccak256(abi.encode(s.members));
            for (uint256 i; i < s.members.length; ++i) _feedExposure[s.members[i]][target] += s.share;
        }
        _locked = uint128(s.lockedAfter);
        _stream(s.premium, end);
        emit CoverageBought(target, serial, beneficiary, kind, amount, s.premium, start, end);
        if (kind == TargetKind.Feed) emit CoverageMembers(target, serial, s.members);
    }

    /// @inheritdoc IInsurancePool
    function claim(
        bytes32 target,
        uint32 serial,
        bytes32 incidentId,
        DeviceId[] calldata members
    ) external nonReentrant returns (uint256 payout) {
        Policy storage p = _policies[target][serial];
        Payout memory c = _assess(p, target, serial, incidentId, members);
        payout = c.amount;

        _accrue();
        uint256 netBefore = _net(_assets);
        // payout <= amount - paid, still counted in covered, the exposure, _locked and (_locked <= _assets) _assets.
        p.paid += uint128(payout);
        _targets[target].covered -= uint128(payout);
        if (c.memberKey != bytes32(0)) {
            _memberPaid[c.memberKey] += payout;
            _feedExposure[c.device][target] -= payout;
        }
        _settleReserve(c.device, target);
        _markIncident(c.device);
        _locked -= uint128(payout);
        _assets -= uint128(payout);
        _holdBackGain(netBefore);
        emit ClaimPaid(target, serial, incidentId, c.device, c.beneficiary, payout);
        IERC20(asset()).safeTransfer(c.beneficiary, payout);
    }

    /// @dev What `incidentId` pays the policy now (reverts when nothing): a member pays at most its share
    /// (at the best rate among its incidents), the policy at most its amount.
    function _assess(
        Policy storage p,
        bytes32 target,
        uint32 serial,
        bytes32 incidentId,
        DeviceId[] calldata members
    ) private view returns (Payout memory c) {
        c.beneficiary = p.beneficiary;
        if (c.beneficiary == address(0)) revert InsuranceUnknownPolicy(target, serial);
        if (p.released) revert InsurancePolicyReleased(target, serial);
        IFraudProofs.Incident memory inc = PROOFS.incident(incidentId);
        if (inc.kind == IFraudProofs.IncidentKind.None) revert InsuranceUnknownIncident(incidentId);
        if (inc.time < p.start || inc.time > p.end) revert InsuranceIncidentOutsideTerm(inc.time, p.start, p.end);
        c.device = inc.deviceId;
        uint256 amount = p.amount;
        uint256 share = amount;
        uint256 paidForDevice = p.paid;
        if (p.kind == TargetKind.Device) {
            if (DeviceId.unwrap(c.device) != target) revert InsuranceIncidentNotCovered(target, incidentId);
        } else {
            _checkMembers(p, target, serial, members);
            if (!_contains(members, c.device)) revert InsuranceIncidentNotCovered(target, incidentId);
            share = _share(amount, members.length);
            c.memberKey = _memberKey(target, serial, c.device);
            paidForDevice = _memberPaid[c.memberKey];
        }
        _requireNotOperatorOf(c.device, c.beneficiary);
        uint256 entitled = (share * _payoutBps(inc.kind)) / BPS;
        if (entitled > paidForDevice) c.amount = Math.min(entitled - paidForDevice, amount - p.paid);
        if (c.amount == 0) revert InsurancePolicyExhausted(target, serial);
    }

    /// @inheritdoc IInsurancePool
    function release(bytes32 target, uint32 serial, DeviceId[] calldata members) external {
        Policy storage p = _policies[target][serial];
        if (p.beneficiary == address(0)) revert InsuranceUnknownPolicy(target, serial);
        if (p.released) revert InsurancePolicyReleased(target, serial);
        // Claims for incidents inside the term stay possible for the claim window after it: a release right
        // at the end would otherwise let anyone cut off a beneficiary who has not claimed yet, and free the
        // allocation backing it while evidence of a covered lie can still land.
        uint256 releasableAfter = uint256(p.end) + _params.claimWindow;
        if (block.timestamp <= releasableAfter) revert InsurancePolicyActive(target, serial, releasableAfter);
        _accrue();
        uint256 netBefore = _net(_assets);
        uint256 amount = p.amount;
        uint128 unlocked = uint128(amount) - p.paid;
        p.released = true;
        _targets[target].covered -= unlocked;
        _locked -= unlocked;
        if (p.kind == TargetKind.Device) {
            _settleReserve(DeviceId.wrap(target), target);
        } else {
            _checkMembers(p, target, serial, members);
            uint256 share = _share(amount, members.length);
            for (uint256 i; i < members.length; ++i) {
                DeviceId m = members[i];
                // Each member's share was added to its exposure; what it was paid is already gone from it.
                _feedExposure[m][target] -= share - _memberPaid[_memberKey(target, serial, m)];
                _settleReserve(m, target);
            }
        }
        _holdBackGain(netBefore);
        emit CoverageReleased(target, serial, unlocked);
    }

    /// @inheritdoc IInsurancePool
    function accrue() external {
        _accrue();
    }

    // ================================================================ staking

    /// @inheritdoc IStakeBacker
    /// @dev The staking contract transferred `recovery` before calling. The device's whole exposure in
    /// `scope` becomes a liability at once; the recovery is booked against it, and what exceeds it is earned
    /// over recoveryVesting, so nobody who deposits right before a proof captures it.
    function onStakeSlashed(DeviceId deviceId, bytes32 scope, bytes32 incident, uint256 recovery) external {
        if (msg.sender != address(STAKING)) revert InsuranceNotStaking(msg.sender);
        _accrue();
        uint256 liability;
        if (scope != bytes32(0)) {
            uint256 exposure = _exposure(deviceId, scope);
            liability = exposure - _reserved[deviceId][scope];
            _reserved[deviceId][scope] = exposure;
            _liabilities = (_liabilities + liability).toUint128();
        }
        // Book no more than arrived unbooked (the staking contract sent it just now).
        uint256 held = IERC20(asset()).balanceOf(address(this));
        uint256 booked = uint256(_assets) + _streams.unearned;
        uint256 received = held > booked ? Math.min(held - booked, recovery) : 0;
        uint256 now_ = Math.min(received, liability);
        _assets = (_assets + now_).toUint128();
        uint256 vested = received - now_;
        _stream(vested, block.timestamp + _params.recoveryVesting);
        _markIncident(deviceId);
        emit LossBooked(deviceId, scope, incident, liability, received, vested);
    }

    /// @inheritdoc IStakeBacker
    function requiredAllocation(DeviceId deviceId, bytes32 scope) external view returns (uint256) {
        return Math.ceilDiv(_exposure(deviceId, scope) * BPS, _ceiling);
    }

    /// @inheritdoc IStakeBacker
    function coverFactorCeilingBps() external view returns (uint256) {
        return _ceiling;
    }

    // ================================================================ governance

    /// @inheritdoc IInsurancePool
    function setParams(PoolParams calldata newParams) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setParams(newParams);
    }

    // ================================================================ views

    /// @inheritdoc IInsurancePool
    function quote(TargetKind kind, bytes32 target, uint256 amount, uint256 term) external view returns (uint256) {
        return _sale(kind, target, amount, term, address(0)).premium;
    }

    /// @inheritdoc IInsurancePool
    function securityReport(
        TargetKind kind,
        bytes32 target,
        uint256 valueAtRisk
    ) external view returns (SecurityReport memory r) {
        if (kind == TargetKind.Device) {
            DeviceId id = DeviceId.wrap(target);
            r.costOfCorruption = STAKING.activeOf(id);
            IDeviceStaking.Allocation[] memory allocations = STAKING.allocationsOf(id);
            for (uint256 i; i < allocations.length; ++i) {
                if (allocations[i].backer == address(this)) {
                    r.coverageInForce += _exposure(id, allocations[i].scope);
                }
            }
            r.operatorsToControl = 1;
        } else {
            (r.costOfCorruption, r.operatorsToControl) = IDeviceFeed(_feed(target)).corruption();
            r.coverageInForce = _targets[target].covered;
        }
        r.margin = r.costOfCorruption.toInt256() - (valueAtRisk + r.coverageInForce).toInt256();
        r.secure = r.margin > 0 && (kind == TargetKind.Device || r.operatorsToControl > 1);
    }

    /// @inheritdoc IInsurancePool
    function policy(bytes32 target, uint32 serial) external view returns (Policy memory) {
        return _policies[target][serial];
    }

    /// @inheritdoc IInsurancePool
    function targetState(bytes32 target) external view returns (TargetState memory) {
        return _targets[target];
    }

    /// @inheritdoc IInsurancePool
    function exposureOf(DeviceId deviceId, bytes32 scope) external view returns (uint256 exposure, uint256 reserved) {
        return (_exposure(deviceId, scope), _reserved[deviceId][scope]);
    }

    /// @inheritdoc IInsurancePool
    function paidFor(bytes32 target, uint32 serial, DeviceId deviceId) external view returns (uint256) {
        Policy storage p = _policies[target][serial];
        if (p.kind == TargetKind.Device) return DeviceId.unwrap(deviceId) == target ? p.paid : 0;
        return _memberPaid[_memberKey(target, serial, deviceId)];
    }

    /// @inheritdoc IInsurancePool
    function withdrawalRequest(address owner) external view returns (WithdrawalRequest memory) {
        return _requests[owner];
    }

    /// @inheritdoc IInsurancePool
    function lockedCapital() external view returns (uint256) {
        return _locked;
    }

    /// @inheritdoc IInsurancePool
    function freeCapital() public view returns (uint256) {
        (uint256 earned, ) = _earnedSince();
        return _assets + earned - _locked;
    }

    /// @inheritdoc IInsurancePool
    function liabilities() external view returns (uint256) {
        return _liabilities;
    }

    /// @inheritdoc IInsurancePool
    function unearned() external view returns (uint256) {
        (uint256 earned, ) = _earnedSince();
        return _streams.unearned - earned;
    }

    /// @inheritdoc IInsurancePool
    function heldBack() external view returns (uint256) {
        return _held.remaining();
    }

    /// @inheritdoc IInsurancePool
    function payoutBps(IFraudProofs.IncidentKind kind) external view returns (uint16) {
        return _payoutBps(kind);
    }

    /// @inheritdoc IInsurancePool
    function params() external view returns (PoolParams memory) {
        return _params;
    }

    // ================================================================ internal: ERC-4626

    /// @dev Six decimals more than the asset: an inflation attack costs 10^6 times what it could steal.
    function _decimalsOffset() internal pure override returns (uint8) {
        return 6;
    }

    /// @dev Books what was earned (the preview already counted it), books the deposit, mints, then pulls
    /// the assets last (reverting if fewer arrive).
    function _deposit(address caller, address receiver, uint256 assets, uint256 shares) internal override {
        _accrue();
        _assets = (_assets + assets).toUint128();
        _mint(receiver, shares);
        emit Deposit(caller, receiver, assets, shares);
        _pull(caller, assets);
    }

    /// @dev Burns `shares` from the escrow of `owner`'s matured, unexpired request and pays `assets` of
    /// free capital. Zero shares is a no-op that succeeds (`redeem(maxRedeem(owner))` never reverts).
    function _withdraw(
        address caller,
        address receiver,
        address owner,
        uint256 assets,
        uint256 shares
    ) internal override {
        if (shares == 0 && assets == 0) {
            emit Withdraw(caller, receiver, owner, 0, 0);
            return;
        }
        WithdrawalRequest storage r = _requests[owner];
        uint256 requested = r.shares;
        if (requested == 0) revert InsuranceNoWithdrawalRequest(owner);
        if (block.timestamp < r.unlockAt) revert InsuranceCooldown(owner, r.unlockAt);
        if (block.timestamp >= r.expiresAt) revert InsuranceRequestExpired(owner, r.expiresAt);
        if (shares > requested) revert InsuranceExceedsRequest(owner, shares, requested);
        _accrue();
        uint256 free = _assets - _locked;
        if (assets > free) revert InsuranceCapitalLocked(assets, free);
        if (caller != owner) _spendAllowance(owner, caller, shares);

        if (requested == shares) delete _requests[owner];
        else r.shares = uint128(requested - shares);
        _burn(address(this), shares);
        _assets -= uint128(assets); // assets <= free <= _assets
        emit Withdraw(caller, receiver, owner, assets, shares);
        IERC20(asset()).safeTransfer(receiver, assets);
    }

    function _redeemable(WithdrawalRequest memory r) private view returns (bool) {
        return r.shares != 0 && block.timestamp >= r.unlockAt && block.timestamp < r.expiresAt;
    }

    // ================================================================ internal: sales

    /// @dev Validates the sale and prices it. `beneficiary` zero (a quote) skips the operator check.
    function _sale(
        TargetKind kind,
        bytes32 target,
        uint256 amount,
        uint256 term,
        address beneficiary
    ) private view returns (Sale memory s) {
        if (amount == 0) revert InsuranceZeroAmount();
        PoolParams memory p = _params;
        if (term < p.minTerm || term > p.maxTerm) revert InsuranceInvalidTerm(term, p.minTerm, p.maxTerm);
        if (_targets[target].incidentAt != 0) revert InsuranceTargetNotInsurable(target, INCIDENT_KNOWN);
        Capacity memory c =
            kind == TargetKind.Device
                ? _deviceCapacity(target, amount, p, beneficiary)
                : _feedCapacity(target, amount, p, beneficiary, s);
        (uint256 assets, ) = _earnedSince();
        assets += _assets;
        uint256 locked = _locked;
        s.lockedAfter = locked + amount;
        uint256 maxLocked = (assets * p.maxUtilizationBps) / BPS;
        if (s.lockedAfter > maxLocked) revert InsuranceUtilizationExceeded(s.lockedAfter, maxLocked);
        // The linear rate terms are integrated over the purchase (the mean of their values before and after
        // it). Each term of the premium is one product rounded up once, and the integrated terms telescope
        // (a(2x + a) summed over pieces is A(2x + A)), so buying in pieces never costs less than at once. A
        // feed's capacity term integrates the exact increase n * amount / k, which the rounded-up shares
        // only exceed. lockedAfter >= 1 and <= maxLocked, so assets > 0; capacity and maxAttestationAge are
        // nonzero.
        uint256 scaled = amount * term;
        uint256 perYear = BPS * YEAR;
        s.premium =
            Math.mulDiv(scaled, p.baseRateBps, perYear, Math.Rounding.Ceil) +
            Math.mulDiv(
                scaled,
                p.utilizationRateBps * (locked + s.lockedAfter),
                2 * assets * perYear,
                Math.Rounding.Ceil
            ) +
            Math.mulDiv(
                scaled,
                p.capacityRateBps * (2 * c.exposureBefore * c.den + c.num),
                2 * c.den * c.capacity * perYear,
                Math.Rounding.Ceil
            ) +
            Math.mulDiv(
                scaled,
                p.attestationRateBps * Math.min(c.age, p.maxAttestationAge),
                uint256(p.maxAttestationAge) * perYear,
                Math.Rounding.Ceil
            );
        uint256 floor = Math.mulDiv(amount, p.minPremiumBps, BPS, Math.Rounding.Ceil);
        if (s.premium < floor) s.premium = floor;
    }

    /// @dev A trusted device with allocated stake: its exposure in its own scope after the sale must stay
    /// within its allocation to this pool times the cover factor.
    function _deviceCapacity(
        bytes32 target,
        uint256 amount,
        PoolParams memory p,
        address beneficiary
    ) private view returns (Capacity memory c) {
        DeviceId id = DeviceId.wrap(target);
        c.age = _trustedAge(id, p.maxAttestationAge, target);
        if (beneficiary != address(0)) _requireNotOperatorOf(id, beneficiary);
        c.capacity = (STAKING.allocationOf(id, address(this), target) * p.coverFactorBps) / BPS;
        if (c.capacity == 0) revert InsuranceTargetNotInsurable(target, NO_STAKE);
        c.exposureBefore = _targets[target].covered;
        (c.num, c.den) = (amount, 1);
        uint256 exposureAfter = c.exposureBefore + amount;
        if (exposureAfter > c.capacity) revert InsuranceCapacityExceeded(target, id, exposureAfter, c.capacity);
    }

    /// @dev A factory feed that answers now, whose every member is trusted, has no incident and has allocated
    /// enough stake to this pool for the feed to carry its share. Capacity use is summed over the members.
    function _feedCapacity(
        bytes32 target,
        uint256 amount,
        PoolParams memory p,
        address beneficiary,
        Sale memory s
    ) private view returns (Capacity memory c) {
        IDeviceFeed feed = IDeviceFeed(_feed(target));
        // Not tripped, with a round whose every reading is younger than the feed's maxReadingAge.
        try feed.readFresh(type(uint256).max) returns (int256, uint256 updatedAt) {
            updatedAt; // answering at all is the check
        } catch {
            revert InsuranceTargetNotInsurable(target, FEED_DOWN);
        }
        s.members = feed.members();
        uint256 n = s.members.length;
        if (n == 0) revert InsuranceTargetNotInsurable(target, NO_MEMBERS);
        s.share = _share(amount, n);
        for (uint256 i; i < n; ++i) {
            (uint256 capacity, uint256 before) = _memberCapacity(target, s.members[i], p, beneficiary, s.share);
            c.capacity += capacity;
            c.exposureBefore += before;
        }
        (c.num, c.den) = (n * amount, n / 2 + 1);
    }

    /// @dev A feed member with no known incident, trusted, not operated by the beneficiary, whose allocation
    /// for the feed carries its share: returns its capacity and its exposure before the sale.
    function _memberCapacity(
        bytes32 target,
        DeviceId m,
        PoolParams memory p,
        address beneficiary,
        uint256 share
    ) private view returns (uint256 capacity, uint256 before) {
        if (_targets[DeviceId.unwrap(m)].incidentAt != 0) revert InsuranceMemberNotInsurable(target, m, INCIDENT_KNOWN);
        _trustedAge(m, p.maxAttestationAge, target);
        if (beneficiary != address(0)) _requireNotOperatorOf(m, beneficiary);
        capacity = (STAKING.allocationOf(m, address(this), target) * p.coverFactorBps) / BPS;
        before = _feedExposure[m][target];
        if (before + share > capacity) revert InsuranceCapacityExceeded(target, m, before + share, capacity);
    }

    /// @dev Reverts unless the device is trusted (isTrusted: active, attested within maxAge on firmware still
    /// good); returns its attestation age. Only a refusal asks why (statusOf).
    function _trustedAge(DeviceId id, uint32 maxAge, bytes32 target) private view returns (uint256) {
        IDeviceAttestation attestation = IDeviceAttestation(address(REGISTRY));
        if (!attestation.isTrusted(id, maxAge)) {
            uint8 reason = REGISTRY.statusOf(id) == DeviceStatus.Active ? NOT_TRUSTED : NOT_ACTIVE;
            if (DeviceId.unwrap(id) == target) revert InsuranceTargetNotInsurable(target, reason);
            revert InsuranceMemberNotInsurable(target, id, reason);
        }
        // Evidence timestamps are never in the future when accepted.
        return block.timestamp - attestation.evidenceOf(id).timestamp;
    }

    /// @dev The feed `target` names, if the factory created it.
    function _feed(bytes32 target) private view returns (address feed) {
        feed = address(uint160(uint256(target)));
        if (uint256(target) >> 160 != 0 || !FEED_FACTORY.isFeed(feed)) {
            revert InsuranceTargetNotInsurable(target, NOT_A_FEED);
        }
    }

    function _requireNotOperatorOf(DeviceId id, address beneficiary) private view {
        if (REGISTRY.operatorOf(id) == beneficiary) revert InsuranceOperatorBeneficiary(beneficiary);
    }

    // ================================================================ internal: exposure

    /// @dev What `deviceId`'s incidents can still pay from policies in `scope`: its own device policies
    /// (TargetState.covered) or its shares in a feed's policies.
    function _exposure(DeviceId deviceId, bytes32 scope) private view returns (uint256) {
        if (DeviceId.unwrap(deviceId) == scope) return _targets[scope].covered;
        return _feedExposure[deviceId][scope];
    }

    /// @dev Keeps the reserve within the exposure after it shrank, releasing the excess liability.
    function _settleReserve(DeviceId deviceId, bytes32 scope) private {
        uint256 reserved = _reserved[deviceId][scope];
        if (reserved == 0) return;
        uint256 exposure = _exposure(deviceId, scope);
        if (reserved <= exposure) return;
        _reserved[deviceId][scope] = exposure;
        _liabilities -= uint128(reserved - exposure);
    }

    /// @dev Remembers that the device had an incident: no new coverage is sold on it or its feeds.
    function _markIncident(DeviceId deviceId) private {
        TargetState storage t = _targets[DeviceId.unwrap(deviceId)];
        if (t.incidentAt == 0) t.incidentAt = uint40(block.timestamp);
    }

    /// @dev A member's share of a feed policy: ceil(amount / k), k = floor(n / 2) + 1 members control a median.
    function _share(uint256 amount, uint256 n) private pure returns (uint256) {
        return Math.ceilDiv(amount, n / 2 + 1);
    }

    function _checkMembers(Policy storage p, bytes32 target, uint32 serial, DeviceId[] calldata members) private view {
        if (keccak256(abi.encode(members)) != p.members) revert InsuranceMembersMismatch(target, serial);
    }

    function _contains(DeviceId[] calldata members, DeviceId device) private pure returns (bool) {
        for (uint256 i; i < members.length; ++i) if (members[i] == device) return true;
        return false;
    }

    function _memberKey(bytes32 target, uint32 serial, DeviceId device) private pure returns (bytes32) {
        return keccak256(abi.encode(target, serial, device));
    }

    // ================================================================ internal: streams

    /// @dev Streams `amount` into the assets from now until the first midnight at or after `endTime`.
    function _stream(uint256 amount, uint256 endTime) private {
        _streams.add(amount, endTime);
    }

    /// @dev Books what the streams earned since the last accrual.
    function _accrue() private {
        if (_streams.lastAccrual == block.timestamp) return;
        (uint256 earned, uint256 rate) = _earnedSince();
        _streams.settle(earned, rate);
        if (earned != 0) _assets += uint128(earned);
    }

    /// @dev What the streams earned since the last accrual, and their rate now.
    function _earnedSince() private view returns (uint256 earned, uint256 rate) {
        return _streams.earnedSince();
    }

    // ================================================================ internal: held-back gains

    /// @dev Booked assets net of proven liabilities (at most the locked capital is owed).
    function _net(uint256 assets) private view returns (uint256) {
        uint256 liabilities_ = _liabilities;
        uint256 locked = _locked;
        return assets - (liabilities_ < locked ? liabilities_ : locked);
    }

    /// @dev If this call raised the net assets (a reserve larger than what it paid was freed), holds the
    /// gain back and releases it over recoveryVesting, together with what is still held (one clock).
    function _holdBackGain(uint256 netBefore) private {
        uint256 netAfter = _net(_assets);
        if (netAfter > netBefore) _held.hold(netAfter - netBefore, _params.recoveryVesting);
    }

    // ================================================================ internal: misc

    /// @dev Pulls `amount` from `from` (the last step of a call) and reverts unless all of it arrived.
    function _pull(address from, uint256 amount) private {
        IERC20 token = IERC20(asset());
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(from, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received < amount) revert InsuranceTransferShortfall(amount, received);
    }

    function _payoutBps(IFraudProofs.IncidentKind kind) private view returns (uint16) {
        return uint16(_PAYOUT_BPS >> (16 * uint256(kind)));
    }

    /// @dev Validates and stores new parameters. The cover factor plus any bounty the staking contract has
    /// in force or scheduled stays below 100%; claims and withdrawal cooldowns outlast the evidence window.
    function _setParams(PoolParams memory p) private {
        if (
            p.maxUtilizationBps > BPS ||
            p.coverFactorBps == 0 ||
            p.minPremiumBps > BPS ||
            p.minTerm > p.maxTerm ||
            p.minTerm == 0 ||
            p.withdrawalWindow == 0 ||
            p.waitingPeriod == 0 ||
            // A slash's recovery streams over at least a day, so its rate always fits the stream slot
            // (StreamLib: a uint96 stake over a day is below 2^112 / RATE_SCALE per second).
            p.recoveryVesting < 1 days ||
            p.maxAttestationAge == 0
        ) revert InsuranceInvalidParams();
        uint256 bounty = STAKING.params().bountyBps;
        (IDeviceStaking.Params memory pending, uint64 effectiveAt) = STAKING.pendingParams();
        if (effectiveAt != 0 && pending.bountyBps > bounty) bounty = pending.bountyBps;
        if (p.coverFactorBps + bounty >= BPS) revert InsuranceCoverFactorTooHigh(p.coverFactorBps, bounty);
        uint256 window = PROOFS.evidenceWindow();
        if (p.claimWindow <= window) revert InsuranceWindowTooShort(p.claimWindow, window);
        if (p.cooldown <= window) revert InsuranceWindowTooShort(p.cooldown, window);
        if (p.coverFactorBps > _ceiling) _ceiling = p.coverFactorBps;
        _params = p;
        emit ParamsSet(p);
    }
}
