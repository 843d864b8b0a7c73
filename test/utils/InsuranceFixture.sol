// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {DeviceFeed} from "../../contracts/feeds/DeviceFeed.sol";
import {DeviceFeedFactory} from "../../contracts/feeds/DeviceFeedFactory.sol";
import {IDeviceFeed} from "../../contracts/interfaces/IDeviceFeed.sol";
import {IDeviceStaking} from "../../contracts/interfaces/IDeviceStaking.sol";
import {IFraudProofs} from "../../contracts/interfaces/IFraudProofs.sol";
import {IInsurancePool} from "../../contracts/interfaces/IInsurancePool.sol";
import {MockERC20} from "../../contracts/mocks/MockERC20.sol";
import {MockIncidents} from "../../contracts/mocks/MockIncidents.sol";
import {ReentrantToken} from "../../contracts/mocks/ReentrantToken.sol";
import {DeviceStaking} from "../../contracts/staking/DeviceStaking.sol";
import {FraudProofs} from "../../contracts/staking/FraudProofs.sol";
import {DeviceId} from "../../contracts/types/DeviceId.sol";
import {Reading} from "../../contracts/types/Messages.sol";
import {FraudProofsFixture} from "./FraudProofsFixture.sol";
import {TestKey} from "./RegistryFixture.sol";

/// @notice The deployed InsurancePool's public surface beyond IInsurancePool (its immutables and AccessControl).
/// @dev Tests deploy the pool from its IR-built artifact, as it ships: the test pipeline compiles a test's
/// imports without the IR override, and the legacy build of the pool is over the 24 KiB code limit.
interface IPoolUnderTest is IInsurancePool, IAccessControl {
    function REGISTRY() external view returns (address);
    function STAKING() external view returns (IDeviceStaking);
    function PROOFS() external view returns (IFraudProofs);
    function FEED_FACTORY() external view returns (DeviceFeedFactory);
    // solhint-disable-next-line func-name-mixedcase
    function DEFAULT_ADMIN_ROLE() external view returns (bytes32);
}

/// @notice MockIncidents that also answers the evidence window a pool's constructor reads (FraudProofsFixture's).
contract WindowedIncidents is MockIncidents {
    /// @notice As FraudProofs.evidenceWindow: 1 day.
    function evidenceWindow() external pure returns (uint256) {
        return 1 days;
    }
}

/// @notice The fraud-proofs fixture rewired onto the real contracts: a DeviceStaking over a stable token, a
/// FraudProofs over it, a DeviceFeedFactory with a 2-device feed, and the IPoolUnderTest (approved backer and,
/// after scheduled parameters took effect, staking's loss recipient) funded by an insurer. Both devices
/// (p256Id, secpId, operated by `operator`) are attested on Good firmware, staked with STAKE, members of `feed`
/// by their operator's consent (invited, then joined), where each submitted sequence 1; each allocated
/// DEVICE_ALLOCATION to the pool for itself and FEED_ALLOCATION for the feed.
/// @dev FraudProofsFixture's MockStaking (`staking`) stays deployed but unused; `proofs` is replaced.
abstract contract InsuranceFixture is FraudProofsFixture {
    uint96 internal constant MIN_STAKE = 100e18;
    uint64 internal constant UNBONDING = 7 days;
    uint16 internal constant BOUNTY_BPS = 1_000;
    uint256 internal constant CAPITAL = 100_000e18;
    /// @dev Each device's allocation to the pool for itself and for the feed: 200 of capacity each.
    uint256 internal constant DEVICE_ALLOCATION = 400e18;
    uint256 internal constant FEED_ALLOCATION = 400e18;

    uint16 internal constant MAX_UTILIZATION_BPS = 8_000;
    uint16 internal constant COVER_FACTOR_BPS = 5_000;
    uint16 internal constant BASE_RATE_BPS = 200;
    uint16 internal constant UTILIZATION_RATE_BPS = 1_000;
    uint16 internal constant CAPACITY_RATE_BPS = 500;
    uint16 internal constant ATTESTATION_RATE_BPS = 300;
    uint16 internal constant MIN_PREMIUM_BPS = 10;
    uint32 internal constant MAX_ATTESTATION_AGE = 30 days;
    uint32 internal constant MIN_TERM = 1 days;
    uint32 internal constant MAX_TERM = 365 days;
    /// @dev Cooldown and claim window outlast the 1-day evidence window (FraudProofsFixture.WINDOW).
    uint32 internal constant COOLDOWN = 7 days;
    uint32 internal constant WITHDRAWAL_WINDOW = 2 days;
    uint32 internal constant WAITING_PERIOD = 1 hours;
    uint32 internal constant CLAIM_WINDOW = 2 days;
    uint32 internal constant RECOVERY_VESTING = 7 days;

    uint16 internal constant EQUIVOCATION_PAYOUT_BPS = 10_000;
    uint16 internal constant BATCH_PAYOUT_BPS = 10_000;
    uint16 internal constant OUT_OF_BOUNDS_PAYOUT_BPS = 5_000;
    uint16 internal constant REVOKED_PAYOUT_BPS = 2_500;

    MockERC20 internal usd;
    DeviceStaking internal deviceStaking;
    DeviceFeedFactory internal factory;
    DeviceFeed internal feed;
    IPoolUnderTest internal pool;
    uint32 internal firmwareId;
    /// @dev The targets of p256Id and of `feed`.
    bytes32 internal deviceTarget;
    bytes32 internal feedTarget;

    address internal poolGovernor = makeAddr("poolGovernor");
    address internal stakingGovernor = makeAddr("stakingGovernor");
    address internal treasury = makeAddr("treasury");
    address internal feedOwner = makeAddr("feedOwner");
    address internal insurer = makeAddr("insurer");
    address internal buyer = makeAddr("buyer");
    /// @dev A policy's beneficiary (FraudProofsFixture's `beneficiary` receives proof bounties).
    address internal insured = makeAddr("insured");

    function setUp() public virtual override {
        super.setUp();
        usd = new MockERC20("USD Stable", "USD");
        _deployStakingProofsAndPool();
        _setLossRecipient(address(pool));
        // Attested after the parameter delay, so every test starts with fresh attestations.
        firmwareId = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        _attest(p256, MEASUREMENT_V1, 1);
        _attest(secp, MEASUREMENT_V1, 1);

        _stake(p256Id, STAKE);
        _stake(secpId, STAKE);

        vm.prank(feedOwner);
        feed = factory.createFeed(_feedConfig());
        _addMember(p256Id);
        _addMember(secpId);
        _submitToFeed(p256, p256Id, 1, 20e8);
        _submitToFeed(secp, secpId, 1, 21e8);
        deviceTarget = _target(p256Id);
        feedTarget = _target(address(feed));

        _allocate(pool, p256Id, deviceTarget, DEVICE_ALLOCATION);
        _allocate(pool, secpId, _target(secpId), DEVICE_ALLOCATION);
        _allocate(pool, p256Id, feedTarget, FEED_ALLOCATION);
        _allocate(pool, secpId, feedTarget, FEED_ALLOCATION);

        _deposit(pool, insurer, CAPITAL);
        usd.mint(buyer, 1_000_000e18);
        vm.prank(buyer);
        usd.approve(address(pool), type(uint256).max);
    }

    // ------------------------------------------------------------------ deployment

    /// @notice Real DeviceStaking (SUSPENDER_ROLE on the registry, loss recipient `treasury`), FraudProofs over
    /// it, the feed factory and the pool, which governance approves as a backer.
    function _deployStakingProofsAndPool() internal {
        deviceStaking = new DeviceStaking(
            registry,
            IERC20(address(usd)),
            stakingGovernor,
            IDeviceStaking.Params({
                minStake: MIN_STAKE,
                unbondingPeriod: UNBONDING,
                bountyBps: BOUNTY_BPS,
                lossRecipient: treasury
            })
        );
        proofs = new FraudProofs(address(registry), deviceStaking, WINDOW);
        vm.prank(stakingGovernor);
        deviceStaking.setProofs(address(proofs));
        factory = new DeviceFeedFactory(address(registry), deviceStaking);
        pool = _deployPool(IERC20(address(usd)), proofs);
        _approveBacker(pool);
        bytes32 role = registry.SUSPENDER_ROLE();
        vm.prank(governor);
        registry.grantRole(role, address(deviceStaking));
    }

    /// @notice Governance makes `recipient` staking's loss recipient: scheduled, then applied once effective.
    function _setLossRecipient(address recipient) internal {
        IDeviceStaking.Params memory p = deviceStaking.params();
        p.lossRecipient = recipient;
        _scheduleStakingParams(p);
    }

    /// @notice Governance schedules `p` in staking, waits for it to take effect and applies it.
    function _scheduleStakingParams(IDeviceStaking.Params memory p) internal {
        vm.prank(stakingGovernor);
        deviceStaking.scheduleParams(p);
        (, uint64 effectiveAt) = deviceStaking.pendingParams();
        vm.warp(effectiveAt);
        deviceStaking.applyParams();
    }

    /// @notice Staking governance approves `backer` for allocations.
    function _approveBacker(IPoolUnderTest backer) internal {
        vm.prank(stakingGovernor);
        deviceStaking.setBacker(address(backer), true);
    }

    function _poolParams() internal pure returns (IInsurancePool.PoolParams memory) {
        return
            IInsurancePool.PoolParams({
                maxUtilizationBps: MAX_UTILIZATION_BPS,
                coverFactorBps: COVER_FACTOR_BPS,
                baseRateBps: BASE_RATE_BPS,
                utilizationRateBps: UTILIZATION_RATE_BPS,
                capacityRateBps: CAPACITY_RATE_BPS,
                attestationRateBps: ATTESTATION_RATE_BPS,
                minPremiumBps: MIN_PREMIUM_BPS,
                maxAttestationAge: MAX_ATTESTATION_AGE,
                minTerm: MIN_TERM,
                maxTerm: MAX_TERM,
                cooldown: COOLDOWN,
                withdrawalWindow: WITHDRAWAL_WINDOW,
                waitingPeriod: WAITING_PERIOD,
                claimWindow: CLAIM_WINDOW,
                recoveryVesting: RECOVERY_VESTING
            });
    }

    function _payouts() internal pure returns (uint16[5] memory) {
        return [0, EQUIVOCATION_PAYOUT_BPS, BATCH_PAYOUT_BPS, OUT_OF_BOUNDS_PAYOUT_BPS, REVOKED_PAYOUT_BPS];
    }

    /// @notice A pool over `asset` on the fixture's registry, staking and factory, reading incidents of `source`.
    function _deployPool(IERC20 asset, IFraudProofs source) internal returns (IPoolUnderTest p) {
        p = _newPool(asset, source, factory, poolGovernor, _poolParams(), _payouts());
        assertGt(address(p).code.length, 0, "the pool deployed (a failed CREATE: a revert or a code-size limit)");
    }

    /// @notice A pool over `asset` with every constructor argument but the registry and staking chosen.
    function _newPool(
        IERC20 asset,
        IFraudProofs source,
        DeviceFeedFactory feedFactory,
        address governance,
        IInsurancePool.PoolParams memory params,
        uint16[5] memory payouts
    ) internal returns (IPoolUnderTest p) {
        bytes memory init = abi.encodePacked(
            vm.getCode("InsurancePool.sol:InsurancePool"),
            abi.encode(asset, address(registry), deviceStaking, source, feedFactory, governance, params, payouts)
        );
        // A plain CREATE, so vm.expectRevert sees a constructor's revert; address zero when it fails.
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            p := create(0, add(init, 32), mload(init))
        }
    }

    /// @notice A pool over a ReentrantToken (unarmed) funded with 10,000 by `insurer`, the buyer approved
    /// and holding 1,000, reading incidents of `source`; p256Id backs it with DEVICE_ALLOCATION. It is no
    /// approved backer of staking (its asset is not the collateral), so the allocation is only mocked.
    function _reentrantPool(IFraudProofs source) internal returns (ReentrantToken token, IPoolUnderTest p) {
        token = new ReentrantToken();
        p = _deployPool(IERC20(address(token)), source);
        _deposit(p, insurer, 10_000e18);
        token.mint(buyer, 1_000e18);
        vm.prank(buyer);
        token.approve(address(p), 1_000e18);
        vm.mockCall(
            address(deviceStaking),
            abi.encodeCall(IDeviceStaking.allocationOf, (p256Id, address(p), deviceTarget)),
            abi.encode(DEVICE_ALLOCATION)
        );
    }

    /// @notice A second pool over `usd`, funded with CAPITAL, whose incidents are whatever the test records in
    /// the returned MockIncidents (several per device, any kind and time). It is an approved backer (not the
    /// loss recipient); the operator stakes DEVICE_ALLOCATION more on each device and allocates it to it for
    /// the device itself.
    function _mockPool() internal returns (IPoolUnderTest p, MockIncidents incidents) {
        incidents = new WindowedIncidents();
        p = _deployPool(IERC20(address(usd)), IFraudProofs(address(incidents)));
        _approveBacker(p);
        _stakeAndAllocate(p, p256Id, deviceTarget, DEVICE_ALLOCATION);
        _stakeAndAllocate(p, secpId, _target(secpId), DEVICE_ALLOCATION);
        _deposit(p, insurer, CAPITAL);
        vm.prank(buyer);
        usd.approve(address(p), type(uint256).max);
    }

    function _feedConfig() internal pure returns (IDeviceFeed.Config memory) {
        return
            IDeviceFeed.Config({
                quorum: 2,
                decimals: 8,
                maxDeviationBps: 0,
                maxSpreadBps: 0,
                deviationThresholdBps: 0,
                heartbeat: 0,
                maxReadingAge: 1 hours,
                minInterval: 0,
                maxAttestationAge: MAX_ATTESTATION_AGE,
                quarantinePeriod: 1 days,
                maxQuarantines: 1,
                lockdown: false,
                minStake: MIN_STAKE,
                minValue: -100e8,
                maxValue: 200e8,
                description: "Temperature (C, 8 decimals)"
            });
    }

    // ------------------------------------------------------------------ operators

    /// @notice The device's operator stakes `amount` more (the operator holds and approved the tokens).
    function _stake(DeviceId id, uint256 amount) internal {
        address op = registry.operatorOf(id);
        usd.mint(op, amount);
        vm.startPrank(op);
        usd.approve(address(deviceStaking), amount);
        deviceStaking.stake(id, amount);
        vm.stopPrank();
    }

    /// @notice The device's operator allocates `amount` of its active stake to pool `p` for `scope`.
    function _allocate(IPoolUnderTest p, DeviceId id, bytes32 scope, uint256 amount) internal {
        vm.prank(registry.operatorOf(id));
        deviceStaking.allocate(id, address(p), scope, amount);
    }

    /// @notice The device's operator stakes `amount` more and allocates it to pool `p` for `scope`.
    function _stakeAndAllocate(IPoolUnderTest p, DeviceId id, bytes32 scope, uint256 amount) internal {
        _stake(id, amount);
        _allocate(p, id, scope, amount);
    }

    /// @notice The feed owner invites `id` and its operator joins (membership by consent).
    function _addMember(DeviceId id) internal {
        vm.prank(feedOwner);
        feed.addMember(id);
        vm.prank(registry.operatorOf(id));
        feed.join(id);
    }

    // ------------------------------------------------------------------ actors

    /// @notice `who` gets `amount` of the pool's asset (a MockERC20-like `mint`) and deposits it.
    function _deposit(IPoolUnderTest p, address who, uint256 amount) internal returns (uint256 shares) {
        MockERC20(p.asset()).mint(who, amount);
        vm.startPrank(who);
        IERC20(p.asset()).approve(address(p), amount);
        shares = p.deposit(amount, who);
        vm.stopPrank();
    }

    /// @notice The buyer buys `amount` of coverage on `target` of pool `p` for `term`, naming `insured`.
    function _buy(
        IPoolUnderTest p,
        IInsurancePool.TargetKind kind,
        bytes32 target,
        uint256 amount,
        uint256 term
    ) internal returns (uint32 serial, uint256 premium) {
        vm.prank(buyer);
        return p.buyCoverage(kind, target, amount, term, insured, type(uint256).max);
    }

    /// @notice The buyer buys `amount` of coverage on device `id` of `pool` for `term`, naming `insured`.
    function _buyDevice(DeviceId id, uint256 amount, uint256 term) internal returns (uint32 serial, uint256 premium) {
        return _buy(pool, IInsurancePool.TargetKind.Device, _target(id), amount, term);
    }

    /// @notice The buyer buys `amount` of coverage on `feed` of `pool` for `term`, naming `insured`.
    function _buyFeed(uint256 amount, uint256 term) internal returns (uint32 serial, uint256 premium) {
        return _buy(pool, IInsurancePool.TargetKind.Feed, _target(address(feed)), amount, term);
    }

    /// @notice Moves time past the waiting period of a policy sold now.
    function _waitForCoverage() internal {
        vm.warp(block.timestamp + WAITING_PERIOD);
    }

    /// @notice The member list a device policy's claim and release take.
    function _noMembers() internal pure returns (DeviceId[] memory) {
        return new DeviceId[](0);
    }

    function _target(DeviceId id) internal pure returns (bytes32) {
        return DeviceId.unwrap(id);
    }

    function _target(address feedAddress) internal pure returns (bytes32) {
        return bytes32(uint256(uint160(feedAddress)));
    }

    // ------------------------------------------------------------------ devices

    /// @notice `k` (device `id`) signs `value` at `sequence` for `feed` and anyone relays it.
    function _submitToFeed(TestKey memory k, DeviceId id, uint64 sequence, int256 value) internal {
        Reading memory r = _feedReading(id, sequence, value);
        feed.submit(r, _deviceKey(k), _sign(k, _readingDigest(r)));
    }

    function _feedReading(DeviceId id, uint64 sequence, int256 value) internal view returns (Reading memory) {
        return
            Reading({
                deviceId: id,
                feedId: _target(address(feed)),
                sequence: sequence,
                timestamp: uint64(block.timestamp),
                value: value
            });
    }

    /// @notice `k` (device `id`) signs two different values for one sequence of `feed` now; the prover proves
    /// it through the real FraudProofs, which slashes through DeviceStaking. Returns the incident id.
    function _equivocate(TestKey memory k, DeviceId id, uint64 sequence) internal returns (bytes32) {
        return _equivocateAt(k, id, sequence, block.timestamp);
    }

    /// @notice As `_equivocate`, with evidence signed at `signedAt` (the incident's time, if not in the future).
    function _equivocateAt(
        TestKey memory k,
        DeviceId id,
        uint64 sequence,
        uint256 signedAt
    ) internal returns (bytes32) {
        Reading memory a = _feedReading(id, sequence, 1e8);
        Reading memory b = _feedReading(id, sequence, 2e8);
        a.timestamp = uint64(signedAt);
        b.timestamp = uint64(signedAt);
        vm.prank(prover);
        return proofs.proveEquivocation(_signed(k, a), _signed(k, b), beneficiary);
    }
}
