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
import {DeviceId} from "../types/DeviceId.sol";
import {DeviceStatus} from "../types/DeviceStatus.sol";

/// @title InsurancePool
/// @notice ERC-4626 vault of insurers' capital that sells parametric coverage on devices and feeds and pays
/// on incidents recorded by the fraud-proofs contract (see IInsurancePool).
/// @dev Booked accounting: `totalAssets()` is what the pool booked (deposits, premiums, recoveries, minus
/// payouts and withdrawals), never the token balance, so a donation moves no share price and only
/// `bookRecovery` turns unbooked tokens into assets. Fee-on-transfer assets are refused: a pull that
/// delivers less than asked reverts (InsuranceTransferShortfall), so previews stay exact. Every function that
/// moves tokens is nonReentrant; `totalAssets() >= lockedCapital()` holds after every call.
contract InsurancePool is IInsurancePool, ERC4626, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    uint256 private constant BPS = 10_000;
    uint256 private constant YEAR = 365 days;
    /// @inheritdoc IInsurancePool
    uint256 public constant CLAIM_WINDOW = 7 days;

    /// @dev InsuranceTargetNotInsurable reason codes.
    uint8 private constant NOT_ACTIVE = 1;
    uint8 private constant NOT_TRUSTED = 2;
    uint8 private constant INCIDENT_KNOWN = 3;
    uint8 private constant NO_STAKE = 4;
    uint8 private constant NOT_A_FEED = 5;
    uint8 private constant FEED_DOWN = 6;

    /// @notice The DeviceRegistry (also the attestation contract): status, trust and operators.
    IDeviceRegistry public immutable REGISTRY;
    /// @notice The staking contract whose slashable stake backs coverage and whose loss recipient is this pool.
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
    /// @dev One slot.
    PoolParams private _params;
    mapping(bytes32 target => TargetState) private _targets;
    mapping(bytes32 target => mapping(uint32 serial => Policy)) private _policies;
    mapping(address owner => WithdrawalRequest) private _requests;
    /// @dev keccak256(target, serial, incidentId) => paid.
    mapping(bytes32 key => bool) private _claimed;
    mapping(bytes32 incidentId => bool) private _recovered;

    /// @dev What a sale would be, computed by `_sale` for `quote` and `buyCoverage`.
    struct Sale {
        uint256 premium;
        uint256 coveredAfter;
        uint256 lockedAfter;
    }

    /// @notice Deploys the pool over `asset_` (a stable ERC-20 without transfer fees).
    /// @param registry The DeviceRegistry (both IDeviceRegistry and IDeviceAttestation).
    /// @param governance Holds DEFAULT_ADMIN_ROLE: sets the parameters.
    /// @param payoutBps_ Payout per IncidentKind in bps of the amount; index 0 (None) must be 0, each <= 10_000.
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
        _validate(params_);
        REGISTRY = IDeviceRegistry(registry);
        STAKING = staking;
        PROOFS = proofs;
        FEED_FACTORY = feedFactory;
        _PAYOUT_BPS = packed;
        _params = params_;
        _grantRole(DEFAULT_ADMIN_ROLE, governance);
        emit ParamsSet(params_);
    }

    // ================================================================ ERC-4626

    /// @inheritdoc IERC4626
    /// @dev The booked assets, not the balance: a donation changes no share's value.
    function totalAssets() public view override(ERC4626, IERC4626) returns (uint256) {
        return _assets;
    }

    /// @inheritdoc IERC4626
    /// @dev Booked assets are a uint128.
    function maxDeposit(address) public view override(ERC4626, IERC4626) returns (uint256) {
        return type(uint128).max - _assets;
    }

    /// @inheritdoc IERC4626
    function maxMint(address) public view override(ERC4626, IERC4626) returns (uint256) {
        return _convertToShares(type(uint128).max - _assets, Math.Rounding.Floor);
    }

    /// @inheritdoc IERC4626
    /// @dev The matured request's value, at most the free capital.
    function maxWithdraw(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        WithdrawalRequest memory r = _requests[owner];
        if (block.timestamp < r.unlockAt) return 0;
        return Math.min(previewRedeem(r.shares), freeCapital());
    }

    /// @inheritdoc IERC4626
    /// @dev The matured request, at most the shares the free capital redeems (rounded down).
    function maxRedeem(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        WithdrawalRequest memory r = _requests[owner];
        if (block.timestamp < r.unlockAt) return 0;
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
    /// @dev Burns escrowed shares of a matured request; reverts with the pool's errors (no request, cooldown,
    /// more than requested, capital locked) rather than ERC4626ExceededMaxWithdraw, which says less.
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
        r.shares = (r.shares + shares).toUint128();
        r.unlockAt = unlockAt;
        _transfer(msg.sender, address(this), shares);
        emit WithdrawalRequested(msg.sender, shares, unlockAt);
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
        Sale memory s = _sale(kind, target, amount, term);
        _requireNotOperator(kind, target, beneficiary);
        premium = s.premium;
        if (premium > maxPremium) revert InsurancePremiumTooHigh(premium, maxPremium);

        TargetState storage t = _targets[target];
        serial = t.policies;
        // coveredAfter <= capacity and lockedAfter <= assets, both below 2^128: the casts cannot truncate.
        t.covered = uint128(s.coveredAfter);
        t.policies = serial + 1;
        uint40 start = uint40(block.timestamp);
        uint40 end = uint40(block.timestamp + term);
        _policies[target][serial] = Policy({
            beneficiary: beneficiary,
            start: start,
            end: end,
            kind: kind,
            released: false,
            amount: uint128(amount),
            paid: 0
        });
        _locked = uint128(s.lockedAfter);
        _assets = (_assets + premium).toUint128();
        emit CoverageBought(target, serial, beneficiary, kind, amount, premium, start, end);
        if (premium != 0) _pull(msg.sender, premium);
    }

    /// @inheritdoc IInsurancePool
    function claim(bytes32 target, uint32 serial, bytes32 incidentId) external nonReentrant returns (uint256 payout) {
        Policy storage p = _policies[target][serial];
        address beneficiary = p.beneficiary;
        if (beneficiary == address(0)) revert InsuranceUnknownPolicy(target, serial);
        if (p.released) revert InsurancePolicyReleased(target, serial);
        IFraudProofs.Incident memory inc = PROOFS.incident(incidentId);
        if (inc.kind == IFraudProofs.IncidentKind.None) revert InsuranceUnknownIncident(incidentId);
        if (inc.time < p.start || inc.time > p.end) revert InsuranceIncidentOutsideTerm(inc.time, p.start, p.end);
        if (!_covers(p.kind, target, inc.deviceId)) revert InsuranceIncidentNotCovered(target, incidentId);
        bytes32 key = keccak256(abi.encode(target, serial, incidentId));
        if (_claimed[key]) revert InsuranceAlreadyClaimed(target, serial, incidentId);
        _requireNotOperatorOf(inc.deviceId, beneficiary);
        uint256 amount = p.amount;
        uint256 paid = p.paid;
        payout = Math.min((amount * _payoutBps(inc.kind)) / BPS, amount - paid);
        if (payout == 0) revert InsurancePolicyExhausted(target, serial);

        _claimed[key] = true;
        // payout <= amount - paid, which is still counted in covered, _locked and (as _locked <= _assets) _assets.
        p.paid = uint128(paid + payout);
        _targets[target].covered -= uint128(payout);
        _noteIncident(DeviceId.unwrap(inc.deviceId), inc.time);
        _locked -= uint128(payout);
        _assets -= uint128(payout);
        emit ClaimPaid(target, serial, incidentId, beneficiary, payout);
        IERC20(asset()).safeTransfer(beneficiary, payout);
    }

    /// @inheritdoc IInsurancePool
    function release(bytes32 target, uint32 serial) external {
        Policy storage p = _policies[target][serial];
        if (p.beneficiary == address(0)) revert InsuranceUnknownPolicy(target, serial);
        if (p.released) revert InsurancePolicyReleased(target, serial);
        // Claims for incidents inside the term stay possible for CLAIM_WINDOW after it: a release right at
        // the end would otherwise let anyone cut off a beneficiary who has not claimed yet.
        uint256 releasableAfter = uint256(p.end) + CLAIM_WINDOW;
        if (block.timestamp <= releasableAfter) revert InsurancePolicyActive(target, serial, releasableAfter);
        uint128 unlocked = p.amount - p.paid;
        p.released = true;
        _targets[target].covered -= unlocked;
        _locked -= unlocked;
        emit CoverageReleased(target, serial, unlocked);
    }

    /// @inheritdoc IInsurancePool
    /// @dev Books min(slashed minus the staking contract's current bounty share, tokens held but not booked):
    /// the loss arrives in the proof's transaction, so it is already here. Also marks the device as having an
    /// incident, so no new coverage is sold on it.
    function bookRecovery(bytes32 incidentId) external nonReentrant returns (uint256 amount) {
        IFraudProofs.Incident memory inc = PROOFS.incident(incidentId);
        if (inc.kind == IFraudProofs.IncidentKind.None) revert InsuranceUnknownIncident(incidentId);
        if (_recovered[incidentId]) revert InsuranceRecoveryBooked(incidentId);
        uint256 slashed = inc.slashed;
        uint256 expected = slashed - (slashed * STAKING.params().bountyBps) / BPS;
        uint256 booked = _assets;
        uint256 balance = IERC20(asset()).balanceOf(address(this));
        amount = Math.min(expected, balance > booked ? balance - booked : 0);

        _recovered[incidentId] = true;
        _assets = (booked + amount).toUint128();
        _noteIncident(DeviceId.unwrap(inc.deviceId), inc.time);
        emit RecoveryBooked(incidentId, amount);
    }

    // ================================================================ governance

    /// @inheritdoc IInsurancePool
    function setParams(PoolParams calldata newParams) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _validate(newParams);
        _params = newParams;
        emit ParamsSet(newParams);
    }

    // ================================================================ views

    /// @inheritdoc IInsurancePool
    function quote(TargetKind kind, bytes32 target, uint256 amount, uint256 term) external view returns (uint256) {
        return _sale(kind, target, amount, term).premium;
    }

    /// @inheritdoc IInsurancePool
    function securityReport(
        TargetKind kind,
        bytes32 target,
        uint256 valueAtRisk
    ) external view returns (SecurityReport memory r) {
        r.costOfCorruption =
            kind == TargetKind.Device
                ? STAKING.slashableOf(DeviceId.wrap(target))
                : IDeviceFeed(_feed(target)).costOfCorruption();
        r.coverageInForce = _targets[target].covered;
        r.margin = r.costOfCorruption.toInt256() - (valueAtRisk + r.coverageInForce).toInt256();
        r.secure = r.margin > 0;
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
    function withdrawalRequest(address owner) external view returns (WithdrawalRequest memory) {
        return _requests[owner];
    }

    /// @inheritdoc IInsurancePool
    function lockedCapital() external view returns (uint256) {
        return _locked;
    }

    /// @inheritdoc IInsurancePool
    function freeCapital() public view returns (uint256) {
        return _assets - _locked;
    }

    /// @inheritdoc IInsurancePool
    function payoutBps(IFraudProofs.IncidentKind kind) external view returns (uint16) {
        return _payoutBps(kind);
    }

    /// @inheritdoc IInsurancePool
    function params() external view returns (PoolParams memory) {
        return _params;
    }

    /// @inheritdoc IInsurancePool
    function claimed(bytes32 target, uint32 serial, bytes32 incidentId) external view returns (bool) {
        return _claimed[keccak256(abi.encode(target, serial, incidentId))];
    }

    // ================================================================ internal

    /// @dev Six decimals more than the asset: an inflation attack costs 10^6 times what it could steal.
    function _decimalsOffset() internal pure override returns (uint8) {
        return 6;
    }

    /// @dev Books the deposit, mints, then pulls the assets last (reverting if fewer arrive).
    function _deposit(address caller, address receiver, uint256 assets, uint256 shares) internal override {
        _assets = (_assets + assets).toUint128();
        _mint(receiver, shares);
        emit Deposit(caller, receiver, assets, shares);
        _pull(caller, assets);
    }

    /// @dev Burns `shares` from the escrow of `owner`'s matured request and pays `assets` of free capital.
    function _withdraw(
        address caller,
        address receiver,
        address owner,
        uint256 assets,
        uint256 shares
    ) internal override {
        WithdrawalRequest storage r = _requests[owner];
        uint256 requested = r.shares;
        if (requested == 0) revert InsuranceNoWithdrawalRequest(owner);
        if (block.timestamp < r.unlockAt) revert InsuranceCooldown(owner, r.unlockAt);
        if (shares > requested) revert InsuranceExceedsRequest(owner, shares, requested);
        uint256 free = freeCapital();
        if (assets > free) revert InsuranceCapitalLocked(assets, free);
        if (caller != owner) _spendAllowance(owner, caller, shares);

        if (requested == shares) delete _requests[owner];
        else r.shares = uint128(requested - shares);
        _burn(address(this), shares);
        _assets -= uint128(assets); // assets <= free <= _assets
        emit Withdraw(caller, receiver, owner, assets, shares);
        IERC20(asset()).safeTransfer(receiver, assets);
    }

    /// @dev Validates the sale and prices it: capacity, utilization and the premium formula of IInsurancePool.
    function _sale(TargetKind kind, bytes32 target, uint256 amount, uint256 term) private view returns (Sale memory s) {
        if (amount == 0) revert InsuranceZeroAmount();
        PoolParams memory p = _params;
        if (term < p.minTerm || term > p.maxTerm) revert InsuranceInvalidTerm(term, p.minTerm, p.maxTerm);
        (uint256 cost, uint256 age) = kind == TargetKind.Device
            ? _deviceRisk(target, p.maxAttestationAge)
            : (_feedCost(target), 0);
        TargetState memory t = _targets[target];
        if (t.incidentAt != 0) revert InsuranceTargetNotInsurable(target, INCIDENT_KNOWN);
        uint256 capacity = (cost * p.coverFactorBps) / BPS;
        if (capacity == 0) revert InsuranceTargetNotInsurable(target, NO_STAKE);
        s.coveredAfter = t.covered + amount;
        if (s.coveredAfter > capacity) revert InsuranceCapacityExceeded(target, s.coveredAfter, capacity);
        uint256 assets = _assets;
        s.lockedAfter = _locked + amount;
        uint256 maxLocked = (assets * p.maxUtilizationBps) / BPS;
        if (s.lockedAfter > maxLocked) revert InsuranceUtilizationExceeded(s.lockedAfter, maxLocked);
        // lockedAfter >= 1 and <= maxLocked, so assets > 0; capacity and maxAttestationAge are nonzero. Each
        // risk term is rounded down to whole bps; the premium is rounded up.
        uint256 rateBps =
            p.baseRateBps +
                (p.utilizationRateBps * s.lockedAfter) / assets +
                (p.capacityRateBps * s.coveredAfter) / capacity +
                (p.attestationRateBps * Math.min(age, p.maxAttestationAge)) / p.maxAttestationAge;
        // amount < 2^128 (capacity), rateBps < 2^19, term < 2^32: the product cannot overflow.
        s.premium = Math.ceilDiv(amount * rateBps * term, BPS * YEAR);
    }

    /// @dev A device's slashable stake and attestation age; reverts unless it is trusted (isTrusted: active,
    /// attested within maxAge on firmware still good). Only a refusal asks why (statusOf): the common path
    /// makes two cheap calls instead of reading the whole trust report.
    function _deviceRisk(bytes32 target, uint32 maxAge) private view returns (uint256 cost, uint256 age) {
        DeviceId id = DeviceId.wrap(target);
        IDeviceAttestation attestation = IDeviceAttestation(address(REGISTRY));
        if (!attestation.isTrusted(id, maxAge)) {
            bool active = REGISTRY.statusOf(id) == DeviceStatus.Active;
            revert InsuranceTargetNotInsurable(target, active ? NOT_TRUSTED : NOT_ACTIVE);
        }
        cost = STAKING.slashableOf(id);
        // Evidence timestamps are never in the future when accepted.
        age = block.timestamp - attestation.evidenceOf(id).timestamp;
    }

    /// @dev A feed's cost of corruption; reverts unless it is a factory feed that answers now.
    function _feedCost(bytes32 target) private view returns (uint256) {
        IDeviceFeed feed = IDeviceFeed(_feed(target));
        try feed.latestRoundData() returns (uint80, int256, uint256, uint256, uint80) {
            return feed.costOfCorruption();
        } catch {
            revert InsuranceTargetNotInsurable(target, FEED_DOWN);
        }
    }

    /// @dev The feed `target` names, if the factory created it.
    function _feed(bytes32 target) private view returns (address feed) {
        feed = address(uint160(uint256(target)));
        if (uint256(target) >> 160 != 0 || !FEED_FACTORY.isFeed(feed)) {
            revert InsuranceTargetNotInsurable(target, NOT_A_FEED);
        }
    }

    /// @dev The beneficiary operates neither the device nor any current member of the feed.
    function _requireNotOperator(TargetKind kind, bytes32 target, address beneficiary) private view {
        if (kind == TargetKind.Device) {
            _requireNotOperatorOf(DeviceId.wrap(target), beneficiary);
        } else {
            DeviceId[] memory members = IDeviceFeed(address(uint160(uint256(target)))).members();
            for (uint256 i; i < members.length; ++i) _requireNotOperatorOf(members[i], beneficiary);
        }
    }

    function _requireNotOperatorOf(DeviceId id, address beneficiary) private view {
        if (REGISTRY.operatorOf(id) == beneficiary) revert InsuranceOperatorBeneficiary(beneficiary);
    }

    /// @dev The incident's device is the covered device, or has used a sequence in the covered feed.
    function _covers(TargetKind kind, bytes32 target, DeviceId deviceId) private view returns (bool) {
        if (kind == TargetKind.Device) return DeviceId.unwrap(deviceId) == target;
        return IDeviceFeed(address(uint160(uint256(target)))).sequenceOf(deviceId) != 0;
    }

    /// @dev Remembers the latest incident time of a device (no new coverage is sold on it).
    function _noteIncident(bytes32 device, uint64 time) private {
        TargetState storage t = _targets[device];
        if (time > t.incidentAt) t.incidentAt = uint40(time);
    }

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

    function _validate(PoolParams memory p) private pure {
        if (
            p.maxUtilizationBps > BPS ||
            p.coverFactorBps > BPS ||
            p.minTerm > p.maxTerm ||
            p.maxTerm == 0 ||
            p.cooldown == 0 ||
            p.maxAttestationAge == 0
        ) revert InsuranceInvalidParams();
    }
}
