// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {DeviceFeed} from "../../contracts/feeds/DeviceFeed.sol";
import {DeviceFeedFactory} from "../../contracts/feeds/DeviceFeedFactory.sol";
import {InsurancePool} from "../../contracts/insurance/InsurancePool.sol";
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

/// @notice The fraud-proofs fixture rewired onto the real contracts: a DeviceStaking over a stable token
/// (whose loss recipient is the pool), a FraudProofs over it, a DeviceFeedFactory with a 2-device feed, and
/// the InsurancePool funded by an insurer. Both devices (p256Id, secpId, operated by `operator`) are attested
/// on Good firmware, staked with STAKE and members of `feed`, where each has submitted sequence 1.
/// @dev FraudProofsFixture's MockStaking (`staking`) stays deployed but unused; `proofs` is replaced.
abstract contract InsuranceFixture is FraudProofsFixture {
    uint96 internal constant MIN_STAKE = 100e18;
    uint64 internal constant UNBONDING = 7 days;
    uint16 internal constant BOUNTY_BPS = 1_000;
    uint256 internal constant CAPITAL = 100_000e18;

    uint16 internal constant MAX_UTILIZATION_BPS = 8_000;
    uint16 internal constant COVER_FACTOR_BPS = 5_000;
    uint16 internal constant BASE_RATE_BPS = 200;
    uint16 internal constant UTILIZATION_RATE_BPS = 1_000;
    uint16 internal constant CAPACITY_RATE_BPS = 500;
    uint16 internal constant ATTESTATION_RATE_BPS = 300;
    uint32 internal constant MAX_ATTESTATION_AGE = 30 days;
    uint32 internal constant MIN_TERM = 1 days;
    uint32 internal constant MAX_TERM = 365 days;
    uint32 internal constant COOLDOWN = 7 days;

    uint16 internal constant EQUIVOCATION_PAYOUT_BPS = 10_000;
    uint16 internal constant BATCH_PAYOUT_BPS = 10_000;
    uint16 internal constant OUT_OF_BOUNDS_PAYOUT_BPS = 5_000;
    uint16 internal constant REVOKED_PAYOUT_BPS = 2_500;

    MockERC20 internal usd;
    DeviceStaking internal deviceStaking;
    DeviceFeedFactory internal factory;
    DeviceFeed internal feed;
    InsurancePool internal pool;
    uint32 internal firmwareId;
    /// @dev The targets of p256Id and of `feed`.
    bytes32 internal deviceTarget;
    bytes32 internal feedTarget;

    address internal poolGovernor = makeAddr("poolGovernor");
    address internal stakingGovernor = makeAddr("stakingGovernor");
    address internal feedOwner = makeAddr("feedOwner");
    address internal insurer = makeAddr("insurer");
    address internal buyer = makeAddr("buyer");
    /// @dev A policy's beneficiary (FraudProofsFixture's `beneficiary` receives proof bounties).
    address internal insured = makeAddr("insured");

    function setUp() public virtual override {
        super.setUp();
        usd = new MockERC20("USD Stable", "USD");
        firmwareId = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        _attest(p256, MEASUREMENT_V1, 1);
        _attest(secp, MEASUREMENT_V1, 1);

        _deployStakingProofsAndPool();
        usd.mint(operator, 10 * STAKE);
        vm.startPrank(operator);
        usd.approve(address(deviceStaking), type(uint256).max);
        deviceStaking.stake(p256Id, STAKE);
        deviceStaking.stake(secpId, STAKE);
        vm.stopPrank();

        vm.prank(feedOwner);
        feed = factory.createFeed(_feedConfig());
        vm.startPrank(feedOwner);
        feed.addMember(p256Id);
        feed.addMember(secpId);
        vm.stopPrank();
        _submitToFeed(p256, p256Id, 1, 20e8);
        _submitToFeed(secp, secpId, 1, 21e8);
        deviceTarget = _target(p256Id);
        feedTarget = _target(address(feed));

        _deposit(pool, insurer, CAPITAL);
        usd.mint(buyer, 1_000_000e18);
        vm.prank(buyer);
        usd.approve(address(pool), type(uint256).max);
    }

    // ------------------------------------------------------------------ deployment

    /// @notice Real DeviceStaking (SUSPENDER_ROLE on the registry), FraudProofs over it, the feed factory and
    /// the pool, which is staking's loss recipient.
    function _deployStakingProofsAndPool() internal {
        // Staking needs its loss recipient at construction and the pool needs staking and proofs: the pool's
        // address is predicted (staking, proofs, factory, pool are the next four creations).
        address predicted = vm.computeCreateAddress(address(this), vm.getNonce(address(this)) + 3);
        deviceStaking = new DeviceStaking(
            registry,
            IERC20(address(usd)),
            stakingGovernor,
            IDeviceStaking.Params({
                minStake: MIN_STAKE,
                unbondingPeriod: UNBONDING,
                bountyBps: BOUNTY_BPS,
                lossRecipient: predicted
            })
        );
        proofs = new FraudProofs(address(registry), deviceStaking, WINDOW);
        factory = new DeviceFeedFactory(address(registry), deviceStaking);
        pool = _deployPool(IERC20(address(usd)), proofs);
        assertEq(address(pool), predicted, "pool at the predicted address");

        vm.prank(stakingGovernor);
        deviceStaking.setProofs(address(proofs));
        bytes32 role = registry.SUSPENDER_ROLE();
        vm.prank(governor);
        registry.grantRole(role, address(deviceStaking));
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
                maxAttestationAge: MAX_ATTESTATION_AGE,
                minTerm: MIN_TERM,
                maxTerm: MAX_TERM,
                cooldown: COOLDOWN
            });
    }

    function _payouts() internal pure returns (uint16[5] memory) {
        return [0, EQUIVOCATION_PAYOUT_BPS, BATCH_PAYOUT_BPS, OUT_OF_BOUNDS_PAYOUT_BPS, REVOKED_PAYOUT_BPS];
    }

    /// @notice A pool over `asset` on the fixture's registry, staking and factory, reading incidents of `source`.
    function _deployPool(IERC20 asset, IFraudProofs source) internal returns (InsurancePool) {
        return _newPool(asset, source, factory, poolGovernor, _poolParams(), _payouts());
    }

    /// @notice A pool over `asset` with every constructor argument but the registry and staking chosen.
    function _newPool(
        IERC20 asset,
        IFraudProofs source,
        DeviceFeedFactory feedFactory,
        address governance,
        IInsurancePool.PoolParams memory params,
        uint16[5] memory payouts
    ) internal returns (InsurancePool) {
        return
            new InsurancePool(
                asset,
                address(registry),
                deviceStaking,
                source,
                feedFactory,
                governance,
                params,
                payouts
            );
    }

    /// @notice A pool over a ReentrantToken (unarmed) funded with 10,000 by `insurer`, the buyer approved
    /// and holding 1,000, reading incidents of `source`.
    function _reentrantPool(IFraudProofs source) internal returns (ReentrantToken token, InsurancePool p) {
        token = new ReentrantToken();
        p = _deployPool(IERC20(address(token)), source);
        _deposit(p, insurer, 10_000e18);
        token.mint(buyer, 1_000e18);
        vm.prank(buyer);
        token.approve(address(p), 1_000e18);
    }

    function _feedConfig() internal pure returns (IDeviceFeed.Config memory) {
        return
            IDeviceFeed.Config({
                quorum: 2,
                decimals: 8,
                maxDeviationBps: 0,
                maxReadingAge: 1 hours,
                minInterval: 0,
                maxAttestationAge: MAX_ATTESTATION_AGE,
                minStake: MIN_STAKE,
                minValue: -100e8,
                maxValue: 200e8,
                description: "Temperature (C, 8 decimals)"
            });
    }

    // ------------------------------------------------------------------ actors

    /// @notice `who` gets `amount` of the pool's asset (a MockERC20-like `mint`) and deposits it.
    function _deposit(InsurancePool p, address who, uint256 amount) internal returns (uint256 shares) {
        MockERC20(p.asset()).mint(who, amount);
        vm.startPrank(who);
        IERC20(p.asset()).approve(address(p), amount);
        shares = p.deposit(amount, who);
        vm.stopPrank();
    }

    /// @notice The buyer buys `amount` of coverage on `target` of pool `p` for `term`, naming `insured`.
    function _buy(
        InsurancePool p,
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

    /// @notice A second pool over `usd`, funded with CAPITAL, whose incidents are whatever the test records in
    /// the returned MockIncidents (several per device, any kind and time). It is not staking's loss recipient.
    function _mockPool() internal returns (InsurancePool p, MockIncidents incidents) {
        incidents = new MockIncidents();
        p = _deployPool(IERC20(address(usd)), IFraudProofs(address(incidents)));
        _deposit(p, insurer, CAPITAL);
        vm.prank(buyer);
        usd.approve(address(p), type(uint256).max);
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

    /// @notice `k` (device `id`) signs two different values for one sequence of `feed`; the prover proves
    /// it through the real FraudProofs, which slashes through DeviceStaking. Returns the incident id.
    function _equivocate(TestKey memory k, DeviceId id, uint64 sequence) internal returns (bytes32) {
        Reading memory a = _feedReading(id, sequence, 1e8);
        Reading memory b = _feedReading(id, sequence, 2e8);
        vm.prank(prover);
        return proofs.proveEquivocation(_signed(k, a), _signed(k, b), beneficiary);
    }
}
