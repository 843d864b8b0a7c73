// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {DeviceFeed} from "../../contracts/feeds/DeviceFeed.sol";
import {DeviceFeedFactory} from "../../contracts/feeds/DeviceFeedFactory.sol";
import {IDeviceFeed} from "../../contracts/interfaces/IDeviceFeed.sol";
import {IDeviceStaking} from "../../contracts/interfaces/IDeviceStaking.sol";
import {IFraudProofs} from "../../contracts/interfaces/IFraudProofs.sol";
import {IInsurancePool} from "../../contracts/interfaces/IInsurancePool.sol";
import {DeviceMessageLib} from "../../contracts/libraries/DeviceMessageLib.sol";
import {MockERC20} from "../../contracts/mocks/MockERC20.sol";
import {DeviceStaking} from "../../contracts/staking/DeviceStaking.sol";
import {FraudProofs} from "../../contracts/staking/FraudProofs.sol";
import {DeviceId} from "../../contracts/types/DeviceId.sol";
import {Reading} from "../../contracts/types/Messages.sol";
import {AttestationFixture} from "./AttestationFixture.sol";
import {TestKey} from "./RegistryFixture.sol";

/// @notice The whole economic system on the real contracts, seen by an attacker: DeviceStaking over a stable
/// token, FraudProofs over it, a DeviceFeedFactory and TWO InsurancePools (both approved backers), each
/// funded by its own insurer. The attacker operates two devices (P-256 and secp256k1) and holds two more
/// addresses (one buys coverage, one collects bounties); an honest operator runs two more devices. Every
/// device is registered, attested on Good firmware and staked with STAKE.
/// @dev Nothing here depends on InsuranceFixture. Every scenario measures the attacker's net result with
/// `_attackerWealth()`: the tokens of all its addresses plus the stake of all its devices.
// One fixture holds the whole system and its actors, so each scenario reads as the attacker would play it.
// solhint-disable-next-line max-states-count
abstract contract EconomicsFixture is AttestationFixture {
    /// @notice The system's contracts and actors, handed to an invariant handler.
    struct System {
        MockERC20 usd;
        DeviceStaking staking;
        FraudProofs proofs;
        DeviceFeedFactory factory;
        bytes32 domainSeparator;
        IInsurancePool[2] pools;
        address[2] insurers;
        DeviceId[4] devices;
        TestKey[4] keys;
        address attacker;
        address attackerAlt;
        address attackerProver;
        address honest;
        address watcher;
    }

    uint256 internal constant WINDOW = 1 days;
    uint96 internal constant MIN_STAKE = 100e18;
    uint96 internal constant STAKE = 1_000e18;
    uint64 internal constant UNBONDING = 7 days;
    uint16 internal constant BOUNTY_BPS = 1_000;
    uint256 internal constant CAPITAL = 100_000e18;
    uint256 internal constant BPS = 10_000;

    uint16 internal constant MAX_UTILIZATION_BPS = 8_000;
    uint16 internal constant COVER_FACTOR_BPS = 5_000;
    uint32 internal constant MAX_ATTESTATION_AGE = 365 days;
    uint32 internal constant MIN_TERM = 1 days;
    uint32 internal constant MAX_TERM = 365 days;
    uint32 internal constant COOLDOWN = 2 days;
    uint32 internal constant WITHDRAWAL_WINDOW = 1 days;
    uint32 internal constant WAITING_PERIOD = 1 hours;
    uint32 internal constant CLAIM_WINDOW = 2 days;
    uint32 internal constant RECOVERY_VESTING = 7 days;
    uint32 internal constant TERM = 30 days;
    uint32 internal constant READING_AGE = 1 hours;

    MockERC20 internal usd;
    DeviceStaking internal staking;
    FraudProofs internal proofs;
    DeviceFeedFactory internal factory;
    IInsurancePool internal poolA;
    IInsurancePool internal poolB;
    uint32 internal firmwareId;

    address internal stakingGovernor = makeAddr("stakingGovernor");
    address internal poolGovernor = makeAddr("poolGovernor");
    address internal treasury = makeAddr("treasury");
    address internal insurerA = makeAddr("insurerA");
    address internal insurerB = makeAddr("insurerB");
    address internal honest = makeAddr("honest");
    address internal watcher = makeAddr("watcher");
    /// @dev The attacker: the registry operator of its devices, a second address that buys coverage and is
    /// its beneficiary, a third that proves and collects bounties.
    address internal attacker = makeAddr("attacker");
    address internal attackerAlt = makeAddr("attackerAlt");
    address internal attackerProver = makeAddr("attackerProver");

    TestKey internal evilP256;
    TestKey internal evilSecp;
    TestKey internal honestP256;
    TestKey internal honestSecp;
    DeviceId internal evil;
    DeviceId internal evil2;
    DeviceId internal good;
    DeviceId internal good2;

    function setUp() public virtual override {
        super.setUp();
        usd = new MockERC20("USD Stable", "USD");
        firmwareId = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        _deploySystem(BOUNTY_BPS, COVER_FACTOR_BPS);

        evilP256 = _p256Key(P256_PK);
        evilSecp = _secpKey(SECP_PK);
        honestP256 = _p256Key(P256_PK_2);
        honestSecp = _secpKey(SECP_PK_2);
        evil = _newDevice(evilP256, attacker, STAKE);
        evil2 = _newDevice(evilSecp, attacker, STAKE);
        good = _newDevice(honestP256, honest, STAKE);
        good2 = _newDevice(honestSecp, honest, STAKE);

        _deposit(poolA, insurerA, CAPITAL);
        _deposit(poolB, insurerB, CAPITAL);
        usd.mint(attackerAlt, 1_000_000e18);
        usd.mint(watcher, 1_000_000e18);
        _approvePools(attackerAlt);
        _approvePools(watcher);
        _approvePools(attacker);
    }

    // ------------------------------------------------------------------ deployment

    /// @notice Staking (bounty `bountyBps`, loss recipient the treasury), FraudProofs, the factory and the two
    /// pools (cover factor `coverFactorBps`), both approved as backers; staking may suspend devices.
    function _deploySystem(uint16 bountyBps, uint16 coverFactorBps) internal {
        staking = new DeviceStaking(
            registry,
            IERC20(address(usd)),
            stakingGovernor,
            IDeviceStaking.Params({
                minStake: MIN_STAKE,
                unbondingPeriod: UNBONDING,
                bountyBps: bountyBps,
                lossRecipient: treasury
            })
        );
        proofs = new FraudProofs(address(registry), staking, WINDOW);
        factory = new DeviceFeedFactory(address(registry), staking);
        poolA = _newPool(coverFactorBps);
        poolB = _newPool(coverFactorBps);
        vm.startPrank(stakingGovernor);
        staking.setProofs(address(proofs));
        staking.setBacker(address(poolA), true);
        staking.setBacker(address(poolB), true);
        vm.stopPrank();
        bytes32 role = registry.SUSPENDER_ROLE();
        vm.prank(governor);
        registry.grantRole(role, address(staking));
    }

    /// @notice A pool over `usd` reading `proofs`, deployed from its IR build: the pool needs the IR pipeline
    /// (hardhat.config.ts), which a test file importing it would not use.
    function _newPool(uint16 coverFactorBps) internal returns (IInsurancePool) {
        uint16[5] memory payouts = [uint16(0), 10_000, 10_000, 5_000, 2_500];
        bytes memory args = abi.encode(
            IERC20(address(usd)),
            address(registry),
            staking,
            proofs,
            factory,
            poolGovernor,
            _poolParams(coverFactorBps),
            payouts
        );
        return IInsurancePool(deployCode("contracts/insurance/InsurancePool.sol:InsurancePool", args));
    }

    function _poolParams(uint16 coverFactorBps) internal pure returns (IInsurancePool.PoolParams memory) {
        return
            IInsurancePool.PoolParams({
                maxUtilizationBps: MAX_UTILIZATION_BPS,
                coverFactorBps: coverFactorBps,
                baseRateBps: 200,
                utilizationRateBps: 1_000,
                capacityRateBps: 500,
                attestationRateBps: 300,
                minPremiumBps: 10,
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

    function _feedConfig() internal pure returns (IDeviceFeed.Config memory) {
        return
            IDeviceFeed.Config({
                quorum: 1,
                decimals: 8,
                maxDeviationBps: 0,
                maxSpreadBps: 0,
                deviationThresholdBps: 0,
                heartbeat: 0,
                maxReadingAge: READING_AGE,
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

    function _approvePools(address who) internal {
        vm.startPrank(who);
        usd.approve(address(poolA), type(uint256).max);
        usd.approve(address(poolB), type(uint256).max);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ devices and stake

    /// @notice Registers `k` to `op`, attests it on Good firmware and stakes `amount` (minted to `op`).
    function _newDevice(TestKey memory k, address op, uint256 amount) internal returns (DeviceId id) {
        id = registry.register(_registration(k, op, MODEL, block.timestamp + 1 hours), maker, _endorsement(k, MODEL));
        _attest(k, MEASUREMENT_V1, 1);
        if (amount != 0) _stake(id, op, amount);
    }

    function _stake(DeviceId id, address op, uint256 amount) internal {
        usd.mint(op, amount);
        vm.startPrank(op);
        usd.approve(address(staking), amount);
        staking.stake(id, amount);
        vm.stopPrank();
    }

    /// @notice The device's operator allocates `amount` of its stake to `pool` for `scope`.
    function _allocate(DeviceId id, IInsurancePool pool, bytes32 scope, uint256 amount) internal {
        vm.prank(registry.operatorOf(id));
        staking.allocate(id, address(pool), scope, amount);
    }

    // ------------------------------------------------------------------ insurers and buyers

    function _deposit(IInsurancePool pool, address who, uint256 amount) internal returns (uint256 shares) {
        usd.mint(who, amount);
        vm.startPrank(who);
        usd.approve(address(pool), amount);
        shares = pool.deposit(amount, who);
        vm.stopPrank();
    }

    /// @notice `from` buys `amount` of coverage on device `id` in `pool` for TERM, paying itself as beneficiary.
    function _buyDevice(
        IInsurancePool pool,
        address from,
        DeviceId id,
        uint256 amount
    ) internal returns (uint32 serial, uint256 premium) {
        vm.prank(from);
        return pool.buyCoverage(IInsurancePool.TargetKind.Device, _target(id), amount, TERM, from, type(uint256).max);
    }

    /// @notice `from` buys `amount` of coverage on `feed` in `pool` for TERM, paying itself as beneficiary.
    function _buyFeed(
        IInsurancePool pool,
        address from,
        DeviceFeed feed,
        uint256 amount
    ) internal returns (uint32 serial, uint256 premium) {
        vm.prank(from);
        return
            pool.buyCoverage(
                IInsurancePool.TargetKind.Feed,
                _target(address(feed)),
                amount,
                TERM,
                from,
                type(uint256).max
            );
    }

    /// @notice Claims policy `serial` of device `id` in `pool` for `incident`.
    function _claimDevice(
        IInsurancePool pool,
        DeviceId id,
        uint32 serial,
        bytes32 incident
    ) internal returns (uint256) {
        return pool.claim(_target(id), serial, incident, new DeviceId[](0));
    }

    /// @notice Claims policy `serial` of `feed` in `pool` for `incident` with the feed's current members (the
    /// snapshot, when membership did not change since the sale).
    function _claimFeed(
        IInsurancePool pool,
        DeviceFeed feed,
        uint32 serial,
        bytes32 incident
    ) internal returns (uint256) {
        return pool.claim(_target(address(feed)), serial, incident, feed.members());
    }

    // ------------------------------------------------------------------ feeds

    /// @notice `owner` creates a feed (quorum 1, readings fresh for an hour).
    function _createFeed(address owner) internal returns (DeviceFeed feed) {
        vm.prank(owner);
        feed = factory.createFeed(_feedConfig());
    }

    /// @notice `k` (device `id`) signs `value` at `sequence` for `feed` now, and anyone relays it.
    function _submit(IDeviceFeed feed, TestKey memory k, DeviceId id, uint64 sequence, int256 value) internal {
        IDeviceFeed.SignedReading memory r = _feedReading(feed, k, id, sequence, value);
        feed.submit(r.reading, r.key, r.signature);
    }

    /// @notice What `k` (device `id`) signs for `feed` at `sequence` now (built before a `vm.expectRevert`:
    /// signing is a cheatcode call).
    function _feedReading(
        IDeviceFeed feed,
        TestKey memory k,
        DeviceId id,
        uint64 sequence,
        int256 value
    ) internal view returns (IDeviceFeed.SignedReading memory) {
        Reading memory r = Reading({
            deviceId: id,
            feedId: _target(address(feed)),
            sequence: sequence,
            timestamp: uint64(block.timestamp),
            value: value
        });
        return
            IDeviceFeed.SignedReading({
                reading: r,
                key: _deviceKey(k),
                signature: _sign(k, _typedDigest(domainSeparator, DeviceMessageLib.hashReading(r)))
            });
    }

    // ------------------------------------------------------------------ lies and proofs

    /// @notice Two different readings `k` (device `id`) signed for one sequence of `feedId`, dated `at`.
    function _lie(
        TestKey memory k,
        DeviceId id,
        bytes32 feedId,
        uint64 sequence,
        uint64 signedAt
    ) internal view returns (IFraudProofs.SignedReading memory a, IFraudProofs.SignedReading memory b) {
        Reading memory ra = Reading({
            deviceId: id,
            feedId: feedId,
            sequence: sequence,
            timestamp: signedAt,
            value: 1e8
        });
        Reading memory rb = Reading({
            deviceId: id,
            feedId: feedId,
            sequence: sequence,
            timestamp: signedAt,
            value: 2e8
        });
        a = IFraudProofs.SignedReading({
            reading: ra,
            key: _deviceKey(k),
            signature: _sign(k, _typedDigest(domainSeparator, DeviceMessageLib.hashReading(ra)))
        });
        b = IFraudProofs.SignedReading({
            reading: rb,
            key: _deviceKey(k),
            signature: _sign(k, _typedDigest(domainSeparator, DeviceMessageLib.hashReading(rb)))
        });
    }

    /// @notice The device equivocates now and `prover` proves it, naming itself as the beneficiary.
    function _equivocate(TestKey memory k, DeviceId id, address prover) internal returns (bytes32) {
        (IFraudProofs.SignedReading memory a, IFraudProofs.SignedReading memory b) = _lie(
            k,
            id,
            keccak256("lie"),
            1,
            uint64(block.timestamp)
        );
        vm.prank(prover);
        return proofs.proveEquivocation(a, b, prover);
    }

    // ------------------------------------------------------------------ accounting

    /// @notice Everything the attacker controls: the tokens of its three addresses and the stake (active and
    /// pending) of its two devices.
    function _attackerWealth() internal view returns (int256) {
        uint256 total = usd.balanceOf(attacker) + usd.balanceOf(attackerAlt) + usd.balanceOf(attackerProver);
        total += staking.slashableOf(evil) + staking.slashableOf(evil2);
        return int256(total);
    }

    /// @notice What all of `id`'s exposure in `scope` may still pay, plus what `pool`'s policies already paid
    /// on it (summed by the caller over policies).
    function _exposure(IInsurancePool pool, DeviceId id, bytes32 scope) internal view returns (uint256 exposure) {
        (exposure, ) = pool.exposureOf(id, scope);
    }

    function _target(DeviceId id) internal pure returns (bytes32) {
        return DeviceId.unwrap(id);
    }

    function _target(address feedAddress) internal pure returns (bytes32) {
        return bytes32(uint256(uint160(feedAddress)));
    }
}
