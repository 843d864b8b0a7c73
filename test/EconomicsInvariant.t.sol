// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdInvariant} from "forge-std/StdInvariant.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {DeviceFeed} from "../contracts/feeds/DeviceFeed.sol";
import {DeviceFeedFactory} from "../contracts/feeds/DeviceFeedFactory.sol";
import {IDeviceFeed} from "../contracts/interfaces/IDeviceFeed.sol";
import {IFraudProofs} from "../contracts/interfaces/IFraudProofs.sol";
import {IInsurancePool} from "../contracts/interfaces/IInsurancePool.sol";
import {DeviceMessageLib} from "../contracts/libraries/DeviceMessageLib.sol";
import {MockERC20} from "../contracts/mocks/MockERC20.sol";
import {DeviceStaking} from "../contracts/staking/DeviceStaking.sol";
import {FraudProofs} from "../contracts/staking/FraudProofs.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {Reading} from "../contracts/types/Messages.sol";
import {EconomicsFixture} from "./utils/EconomicsFixture.sol";
import {KeyHelpers, TestKey} from "./utils/RegistryFixture.sol";

/// @notice The whole system as attackers and honest parties use it: insurers of two pools, an attacker
/// operator with two devices (and two more addresses that buy coverage and prove), an honest operator with
/// two devices, a watcher, and feeds the attacker creates and invites the honest devices to. Only the
/// attacker's devices lie; attacker or watcher proves. Ghost sums keep what every device's incidents paid per
/// pool and the peak allocation it ever had there.
/// @dev Bounded and never reverting: every call that may legitimately fail runs inside try/catch.
contract EconomicsHandler is CommonBase, StdUtils, KeyHelpers {
    /// @notice A policy the handler bought.
    struct Bought {
        uint8 pool;
        bytes32 target;
        uint32 serial;
        DeviceId[] members;
    }

    uint256 private constant BPS = 10_000;
    uint256 private constant MAX_FEEDS = 2;

    MockERC20 private immutable USD;
    DeviceStaking private immutable STAKING;
    FraudProofs private immutable PROOFS;
    DeviceFeedFactory private immutable FACTORY;
    bytes32 private immutable DOMAIN;
    address private immutable ATTACKER;
    address private immutable ATTACKER_ALT;
    address private immutable ATTACKER_PROVER;
    address private immutable HONEST;
    address private immutable WATCHER;

    IInsurancePool[2] public pools;
    address[2] public insurers;
    DeviceId[4] public devices;
    TestKey[4] private _keys;
    address[] public feeds;
    Bought[] private _bought;
    bytes32[] public incidents;
    uint64 private _lies;

    /// @dev Per (device, pool index): what claims paid on the device's incidents, and the peak of its total
    /// allocation to the pool.
    mapping(DeviceId device => mapping(uint256 pool => uint256)) public ghostPaid;
    mapping(DeviceId device => mapping(uint256 pool => uint256)) public ghostPeakAllocation;
    /// @dev Devices a proof slashed (their allocations are gone, their exposure stays until paid or released).
    mapping(DeviceId device => bool) public ghostSlashed;
    /// @dev How often the interesting paths ran.
    mapping(bytes32 path => uint256) public coverage;

    constructor(EconomicsFixture.System memory s) {
        USD = s.usd;
        STAKING = s.staking;
        PROOFS = s.proofs;
        FACTORY = s.factory;
        DOMAIN = s.domainSeparator;
        pools = s.pools;
        insurers = s.insurers;
        devices = s.devices;
        for (uint256 i; i < 4; ++i) _keys[i] = s.keys[i];
        (ATTACKER, ATTACKER_ALT, ATTACKER_PROVER, HONEST, WATCHER) = (
            s.attacker,
            s.attackerAlt,
            s.attackerProver,
            s.honest,
            s.watcher
        );
        _sync();
    }

    // ---------------------------------------------------------------- insurers

    function deposit(uint256 who, uint256 poolSeed, uint256 amount) external {
        (address insurer, IInsurancePool pool) = (insurers[who % 2], pools[poolSeed % 2]);
        amount = bound(amount, 1e18, 50_000e18);
        USD.mint(insurer, amount);
        vm.startPrank(insurer);
        USD.approve(address(pool), amount);
        try pool.deposit(amount, insurer) {
            ++coverage["deposit"];
        } catch {
            USD.transfer(address(0xdead), amount);
        }
        vm.stopPrank();
        _sync();
    }

    function requestWithdrawal(uint256 who, uint256 poolSeed, uint256 shares) external {
        (address insurer, IInsurancePool pool) = (insurers[who % 2], pools[poolSeed % 2]);
        uint256 balance = pool.balanceOf(insurer);
        if (balance == 0) return;
        vm.prank(insurer);
        try pool.requestWithdrawal(bound(shares, 1, balance)) {
            ++coverage["requestWithdrawal"];
        } catch {
            ++coverage["refused"];
        }
    }

    function redeem(uint256 who, uint256 poolSeed) external {
        (address insurer, IInsurancePool pool) = (insurers[who % 2], pools[poolSeed % 2]);
        uint256 shares = pool.maxRedeem(insurer);
        vm.prank(insurer);
        try pool.redeem(shares, insurer, insurer) {
            if (shares != 0) ++coverage["redeem"];
        } catch {
            ++coverage["redeemFailed"];
        }
        _sync();
    }

    // ---------------------------------------------------------------- operators

    function allocate(uint256 deviceSeed, uint256 poolSeed, uint256 scopeSeed, uint256 amount) external {
        DeviceId id = devices[deviceSeed % 4];
        uint256 free = STAKING.activeOf(id) - STAKING.allocatedOf(id);
        if (free == 0) return;
        vm.prank(_operator(deviceSeed));
        try STAKING.allocate(id, address(pools[poolSeed % 2]), _scope(id, scopeSeed), bound(amount, 1, free)) {
            ++coverage["allocate"];
        } catch {
            ++coverage["refused"];
        }
        _sync();
    }

    function deallocate(uint256 deviceSeed, uint256 poolSeed, uint256 scopeSeed, uint256 amount) external {
        DeviceId id = devices[deviceSeed % 4];
        address pool = address(pools[poolSeed % 2]);
        bytes32 scope = _scope(id, scopeSeed);
        uint256 allocation = STAKING.allocationOf(id, pool, scope);
        if (allocation == 0) return;
        vm.prank(_operator(deviceSeed));
        try STAKING.deallocate(id, pool, scope, bound(amount, 1, allocation)) {
            ++coverage["deallocate"];
        } catch {
            ++coverage["refused"];
        }
    }

    function requestStakeWithdrawal(uint256 deviceSeed, uint256 amount) external {
        DeviceId id = devices[deviceSeed % 4];
        uint256 free = STAKING.activeOf(id) - STAKING.allocatedOf(id);
        if (free == 0) return;
        vm.prank(_operator(deviceSeed));
        try STAKING.requestWithdrawal(id, bound(amount, 1, free)) {
            ++coverage["requestStakeWithdrawal"];
        } catch {
            ++coverage["refused"];
        }
    }

    function withdrawStake(uint256 deviceSeed) external {
        vm.prank(_operator(deviceSeed));
        try STAKING.withdraw(devices[deviceSeed % 4]) {
            ++coverage["withdrawStake"];
        } catch {
            ++coverage["refused"];
        }
    }

    // ---------------------------------------------------------------- feeds

    /// @notice The attacker creates a feed, adds its own devices (they join at once) and invites the honest ones.
    function createFeed() external {
        if (feeds.length == MAX_FEEDS) return;
        vm.startPrank(ATTACKER);
        DeviceFeed feed = FACTORY.createFeed(
            IDeviceFeed.Config({
                quorum: 1,
                decimals: 8,
                maxDeviationBps: 0,
                maxSpreadBps: 0,
                deviationThresholdBps: 0,
                heartbeat: 0,
                maxReadingAge: 1 hours,
                minInterval: 0,
                maxAttestationAge: 365 days,
                quarantinePeriod: 1 days,
                maxQuarantines: 1,
                lockdown: false,
                minStake: 100e18,
                minValue: -100e8,
                maxValue: 200e8,
                description: "attacker feed"
            })
        );
        for (uint256 i; i < 4; ++i) feed.addMember(devices[i]);
        vm.stopPrank();
        feeds.push(address(feed));
        ++coverage["createFeed"];
    }

    /// @notice The honest operator accepts an invitation.
    function join(uint256 feedSeed, uint256 deviceSeed) external {
        if (feeds.length == 0) return;
        vm.prank(HONEST);
        try IDeviceFeed(feeds[feedSeed % feeds.length]).join(devices[2 + (deviceSeed % 2)]) {
            ++coverage["join"];
        } catch {
            ++coverage["refused"];
        }
    }

    // ---------------------------------------------------------------- buyers

    /// @notice The attacker's second address buys coverage on an attacker device, the watcher on any device.
    function buyDevice(uint256 poolSeed, uint256 deviceSeed, uint256 amount, bool byAttacker) external {
        uint256 p = poolSeed % 2;
        DeviceId id = byAttacker ? devices[deviceSeed % 2] : devices[deviceSeed % 4];
        bytes32 target = DeviceId.unwrap(id);
        uint256 capacity =
            (STAKING.allocationOf(id, address(pools[p]), target) * pools[p].params().coverFactorBps) / BPS;
        uint256 exposure = pools[p].targetState(target).covered;
        if (capacity <= exposure) return;
        address buyer = byAttacker ? ATTACKER_ALT : WATCHER;
        vm.prank(buyer);
        try
            pools[p].buyCoverage(
                IInsurancePool.TargetKind.Device,
                target,
                bound(amount, 1, capacity - exposure),
                1 days + (amount % 20 days),
                buyer,
                type(uint256).max
            )
        returns (uint32 serial, uint256) {
            _bought.push(Bought({pool: uint8(p), target: target, serial: serial, members: new DeviceId[](0)}));
            ++coverage["buyDevice"];
        } catch {
            ++coverage["refused"];
        }
        _sync();
    }

    /// @notice The attacker's second address buys coverage on a feed (one of its devices reports first, so the
    /// feed answers).
    function buyFeed(uint256 poolSeed, uint256 feedSeed, uint256 amount) external {
        if (feeds.length == 0) return;
        uint256 p = poolSeed % 2;
        IDeviceFeed feed = IDeviceFeed(feeds[feedSeed % feeds.length]);
        _report(feed, feedSeed);
        bytes32 target = bytes32(uint256(uint160(address(feed))));
        DeviceId[] memory members = feed.members();
        vm.prank(ATTACKER_ALT);
        try
            pools[p].buyCoverage(
                IInsurancePool.TargetKind.Feed,
                target,
                bound(amount, 1, 1_000e18),
                1 days + (amount % 20 days),
                ATTACKER_ALT,
                type(uint256).max
            )
        returns (uint32 serial, uint256) {
            _bought.push(Bought({pool: uint8(p), target: target, serial: serial, members: members}));
            ++coverage["buyFeed"];
        } catch {
            ++coverage["refused"];
        }
        _sync();
    }

    // ---------------------------------------------------------------- lies, proofs, claims

    /// @notice An attacker device signs two readings for one sequence now; the attacker or the watcher proves.
    function equivocate(uint256 deviceSeed, bool attackerProves) external {
        uint256 d = deviceSeed % 2;
        DeviceId id = devices[d];
        if (STAKING.slashableOf(id) == 0) return;
        ++_lies;
        Reading memory a = Reading({
            deviceId: id,
            feedId: keccak256("lie"),
            sequence: _lies,
            timestamp: uint64(block.timestamp),
            value: 1
        });
        Reading memory b = Reading({
            deviceId: id,
            feedId: a.feedId,
            sequence: a.sequence,
            timestamp: a.timestamp,
            value: 2
        });
        address prover = attackerProves ? ATTACKER_PROVER : WATCHER;
        vm.prank(prover);
        try PROOFS.proveEquivocation(_signed(_keys[d], a), _signed(_keys[d], b), prover) returns (bytes32 incident) {
            incidents.push(incident);
            ghostSlashed[id] = true;
            ++coverage["equivocate"];
        } catch {
            ++coverage["refused"];
        }
        _sync();
    }

    /// @notice Anyone claims a policy for an incident.
    function claim(uint256 policySeed, uint256 incidentSeed) external {
        if (_bought.length == 0 || incidents.length == 0) return;
        Bought storage b = _bought[policySeed % _bought.length];
        bytes32 incident = incidents[incidentSeed % incidents.length];
        DeviceId id = PROOFS.incident(incident).deviceId;
        try pools[b.pool].claim(b.target, b.serial, incident, b.members) returns (uint256 payout) {
            ghostPaid[id][b.pool] += payout;
            ++coverage["claim"];
        } catch {
            ++coverage["refused"];
        }
        _sync();
    }

    /// @notice Anyone releases a policy after its term and claim window.
    function release(uint256 policySeed) external {
        if (_bought.length == 0) return;
        Bought storage b = _bought[policySeed % _bought.length];
        try pools[b.pool].release(b.target, b.serial, b.members) {
            ++coverage["release"];
        } catch {
            ++coverage["refused"];
        }
        _sync();
    }

    /// @notice Time passes, by jumps that land around waiting periods, windows, expiries and unbonding.
    function warp(uint256 seed) external {
        uint256[6] memory jumps = [uint256(1 hours), 1 days, 2 days, 3 days, 7 days, 22 days];
        uint256 jump = jumps[seed % 6] + ((seed >> 8) % 2 == 0 ? 0 : 1);
        vm.warp(block.timestamp + jump);
        vm.roll(block.number + 1);
        ++coverage["warp"];
        _sync();
    }

    // ---------------------------------------------------------------- views for the invariants

    function policies() external view returns (uint256) {
        return _bought.length;
    }

    function feedCount() external view returns (uint256) {
        return feeds.length;
    }

    /// @notice The scopes a device can be allocated in: its own, then each feed.
    function scopes(DeviceId id) public view returns (bytes32[] memory list) {
        list = new bytes32[](1 + feeds.length);
        list[0] = DeviceId.unwrap(id);
        for (uint256 i; i < feeds.length; ++i) list[i + 1] = bytes32(uint256(uint160(feeds[i])));
    }

    // ---------------------------------------------------------------- internal

    /// @dev Updates the peak allocation of every device in every pool.
    function _sync() private {
        for (uint256 d; d < 4; ++d) {
            bytes32[] memory list = scopes(devices[d]);
            for (uint256 p; p < 2; ++p) {
                uint256 total;
                for (uint256 s; s < list.length; ++s)
                    total += STAKING.allocationOf(devices[d], address(pools[p]), list[s]);
                if (total > ghostPeakAllocation[devices[d]][p]) ghostPeakAllocation[devices[d]][p] = total;
            }
        }
    }

    /// @dev An attacker device that can still report submits a fresh reading to `feed`.
    function _report(IDeviceFeed feed, uint256 seed) private {
        uint256 d = seed % 2;
        DeviceId id = devices[d];
        Reading memory r = Reading({
            deviceId: id,
            feedId: bytes32(uint256(uint160(address(feed)))),
            sequence: feed.sequenceOf(id) + 1,
            timestamp: uint64(block.timestamp),
            value: 20e8
        });
        IFraudProofs.SignedReading memory s = _signed(_keys[d], r);
        try feed.submit(r, s.key, s.signature) returns (bool accepted) {
            if (accepted) ++coverage["report"];
        } catch {
            ++coverage["reportRefused"];
        }
    }

    function _signed(TestKey memory k, Reading memory r) private view returns (IFraudProofs.SignedReading memory) {
        return
            IFraudProofs.SignedReading({
                reading: r,
                key: _deviceKey(k),
                signature: _sign(k, _typedDigest(DOMAIN, DeviceMessageLib.hashReading(r)))
            });
    }

    function _operator(uint256 deviceSeed) private view returns (address) {
        return deviceSeed % 4 < 2 ? ATTACKER : HONEST;
    }

    function _scope(DeviceId id, uint256 seed) private view returns (bytes32) {
        bytes32[] memory list = scopes(id);
        return list[seed % list.length];
    }
}

/// @notice Corruption never pays, as invariants over the whole system driven by EconomicsHandler.
contract EconomicsInvariantTest is EconomicsFixture {
    EconomicsHandler internal handler;
    int256 internal attackerStart;
    /// @dev Every address that can hold the token.
    address[] internal _holders;

    function setUp() public override {
        super.setUp();
        handler = new EconomicsHandler(_system());
        // The handler acts as the attacker's and the honest operator's devices, buyers and insurers.
        attackerStart = _attackerWealth();
        address[11] memory holders = [
            attacker,
            attackerAlt,
            attackerProver,
            honest,
            watcher,
            insurerA,
            insurerB,
            treasury,
            address(staking),
            address(poolA),
            address(poolB)
        ];
        for (uint256 i; i < holders.length; ++i) _holders.push(holders[i]);
        _holders.push(address(0xdead));

        bytes4[] memory selectors = new bytes4[](16);
        selectors[0] = EconomicsHandler.deposit.selector;
        selectors[1] = EconomicsHandler.requestWithdrawal.selector;
        selectors[2] = EconomicsHandler.redeem.selector;
        selectors[3] = EconomicsHandler.allocate.selector;
        selectors[4] = EconomicsHandler.deallocate.selector;
        selectors[5] = EconomicsHandler.requestStakeWithdrawal.selector;
        selectors[6] = EconomicsHandler.withdrawStake.selector;
        selectors[7] = EconomicsHandler.createFeed.selector;
        selectors[8] = EconomicsHandler.join.selector;
        selectors[9] = EconomicsHandler.buyDevice.selector;
        selectors[10] = EconomicsHandler.buyFeed.selector;
        selectors[11] = EconomicsHandler.equivocate.selector;
        selectors[12] = EconomicsHandler.claim.selector;
        selectors[13] = EconomicsHandler.release.selector;
        selectors[14] = EconomicsHandler.warp.selector;
        selectors[15] = EconomicsHandler.allocate.selector;
        targetContract(address(handler));
        targetSelector(StdInvariant.FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @notice For every device, what its incidents paid plus what they can still pay across all policies of a
    /// pool never exceeds that pool's cover factor ceiling times the device's peak allocation to it.
    function invariant_devicePayoutsWithinAllocation() public view {
        for (uint256 d; d < 4; ++d) {
            DeviceId id = handler.devices(d);
            bytes32[] memory list = handler.scopes(id);
            for (uint256 p; p < 2; ++p) {
                IInsurancePool pool = handler.pools(p);
                uint256 total = handler.ghostPaid(id, p);
                for (uint256 s; s < list.length; ++s) total += _exposure(pool, id, list[s]);
                uint256 ceiling = (handler.ghostPeakAllocation(id, p) * pool.coverFactorCeilingBps()) / BPS;
                assertLe(total, ceiling, "paid + exposure <= ceiling * peak allocation");
            }
        }
    }

    /// @notice The attacker's tokens and stake, across all its addresses, never exceed what it started with.
    function invariant_attackerNeverGains() public view {
        assertLe(_attackerWealth(), attackerStart, "corruption never pays");
    }

    /// @notice An insurer's redemption value (its shares and its escrowed request) never exceeds its share of
    /// totalAssets, and the pool holds at least totalAssets.
    function invariant_insurerRedemptionWithinShare() public view {
        for (uint256 p; p < 2; ++p) {
            IInsurancePool pool = handler.pools(p);
            uint256 assets = pool.totalAssets();
            uint256 supply = pool.totalSupply();
            assertGe(usd.balanceOf(address(pool)), assets, "the pool holds its totalAssets");
            for (uint256 i; i < 2; ++i) {
                address insurer = handler.insurers(i);
                uint256 shares = pool.balanceOf(insurer) + pool.withdrawalRequest(insurer).shares;
                if (supply == 0) continue;
                assertLe(pool.previewRedeem(shares), (assets * shares) / supply + 1, "redemption within share");
            }
        }
    }

    /// @notice A device not slashed keeps, in every pool and scope, at least the allocation its live coverage
    /// requires.
    function invariant_allocationBacksLiveCoverage() public view {
        for (uint256 d; d < 4; ++d) {
            DeviceId id = handler.devices(d);
            if (handler.ghostSlashed(id)) continue;
            bytes32[] memory list = handler.scopes(id);
            for (uint256 p; p < 2; ++p) {
                IInsurancePool pool = handler.pools(p);
                for (uint256 s; s < list.length; ++s) {
                    assertGe(
                        staking.allocationOf(id, address(pool), list[s]),
                        pool.requiredAllocation(id, list[s]),
                        "allocation >= required"
                    );
                }
            }
        }
    }

    /// @notice Tokens are conserved: every token minted sits with a known holder, and staking holds exactly
    /// the devices' stake.
    function invariant_tokensConserved() public view {
        uint256 held;
        for (uint256 i; i < _holders.length; ++i) held += usd.balanceOf(_holders[i]);
        assertEq(held, usd.totalSupply(), "every token is with a known holder");
        uint256 staked;
        for (uint256 d; d < 4; ++d) staked += staking.slashableOf(handler.devices(d));
        assertEq(usd.balanceOf(address(staking)), staked, "staking holds the stake");
    }

    /// @notice The handler reaches the paths the invariants are about: a feed, allocations, device and feed
    /// coverage, a lie proven by the attacker, and claims that pay.
    function test_handler_ReachesClaims() public {
        handler.createFeed();
        handler.join(0, 0);
        handler.allocate(0, 0, 0, STAKE / 2); // evil, pool A, its own scope
        handler.allocate(0, 0, 1, STAKE / 2); // evil, pool A, the feed: the rest of its stake
        handler.allocate(1, 0, 1, STAKE); // evil2 (a member too), pool A, the feed
        handler.allocate(2, 0, 1, STAKE); // good, pool A, the feed
        handler.buyDevice(0, 0, 100e18, true);
        handler.buyFeed(0, 0, 100e18);
        assertEq(handler.policies(), 2, "device and feed policies bought");
        handler.warp(0);
        handler.equivocate(0, true);
        handler.claim(0, 0);
        handler.claim(1, 0);
        assertEq(handler.coverage("claim"), 2, "both policies paid");
        assertGt(handler.ghostPaid(evil, 0), 0, "paid on the attacker's device");
        invariant_devicePayoutsWithinAllocation();
        invariant_attackerNeverGains();
        invariant_tokensConserved();
    }

    /// @notice The fixture's view of the system, for the handler.
    function _system() internal view returns (System memory s) {
        s.usd = usd;
        s.staking = staking;
        s.proofs = proofs;
        s.factory = factory;
        s.domainSeparator = domainSeparator;
        s.pools = [poolA, poolB];
        s.insurers = [insurerA, insurerB];
        s.devices = [evil, evil2, good, good2];
        (s.keys[0], s.keys[1], s.keys[2], s.keys[3]) = (evilP256, evilSecp, honestP256, honestSecp);
        (s.attacker, s.attackerAlt, s.attackerProver, s.honest, s.watcher) = (
            attacker,
            attackerAlt,
            attackerProver,
            honest,
            watcher
        );
    }
}
