// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdInvariant} from "forge-std/StdInvariant.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IFraudProofs} from "../contracts/interfaces/IFraudProofs.sol";
import {IInsurancePool} from "../contracts/interfaces/IInsurancePool.sol";
import {MockERC20} from "../contracts/mocks/MockERC20.sol";
import {MockIncidents} from "../contracts/mocks/MockIncidents.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {InsuranceFixture, IPoolUnderTest} from "./utils/InsuranceFixture.sol";
import {TestKey} from "./utils/RegistryFixture.sol";

/// @notice Drives the pool through insurers (deposit, request, cancel, redeem, withdraw, redeem of maxRedeem
/// whatever the request's state), buyers (coverage on four devices backed by allocations), incidents of any
/// kind and time (a MockIncidents source), claims, releases, slashes reported as staking does (the recovery
/// transferred, then onStakeSlashed, for a device's scope or as loss recipient), donations, round trips and
/// time, keeping ghost sums of every flow.
/// @dev Bounded and never reverting: amounts are bounded to what must succeed, and every pool call that may
/// legitimately fail runs inside try/catch. Calls that must succeed are called directly, so a revert fails
/// the run (failOnRevert).
contract InsurancePoolHandler is CommonBase, StdUtils {
    /// @notice A policy the handler bought.
    struct Bought {
        bytes32 target;
        uint32 serial;
        uint256 amount;
    }

    uint256 private constant MAX_DEPOSIT = 1e24;
    uint32 private constant COOLDOWN = 7 days;

    IPoolUnderTest private immutable POOL;
    MockERC20 private immutable TOKEN;
    MockIncidents private immutable INCIDENTS;
    address private immutable BUYER;
    address private immutable STAKING;
    address private constant TRIPPER = address(0x7219);

    address[3] private _insurers = [address(0x1115), address(0x2225), address(0x3335)];
    DeviceId[4] private _devices;
    bytes32[] private _incidents;
    Bought[] private _bought;

    /// @dev Ghost sums of every asset flow the pool books.
    uint256 public ghostDeposited;
    uint256 public ghostWithdrawn;
    uint256 public ghostPremiums;
    uint256 public ghostPaid;
    uint256 public ghostRecovered;
    /// @dev Per policy (index in `_bought`): what claims paid.
    mapping(uint256 index => uint256) public ghostPaidOf;
    /// @dev Per (policy, incident): how many claims paid.
    mapping(bytes32 key => uint256) public ghostPaysOf;

    /// @dev Violations: all must stay zero.
    uint256 public ghostDonationDrift;
    uint256 public ghostDoublePays;
    /// @dev Exits (and deposits) that paid more than the shares' part of totalAssets or differed from their
    /// preview.
    uint256 public ghostExitViolations;

    /// @dev How often the interesting paths ran, to check the handler's reach when debugging.
    mapping(bytes32 path => uint256) public coverage;

    constructor(
        IPoolUnderTest pool,
        MockERC20 token,
        MockIncidents incidents,
        address buyer,
        DeviceId[4] memory devices
    ) {
        POOL = pool;
        TOKEN = token;
        INCIDENTS = incidents;
        BUYER = buyer;
        STAKING = address(pool.STAKING());
        _devices = devices;
        for (uint256 i; i < 3; ++i) {
            vm.prank(_insurers[i]);
            token.approve(address(pool), type(uint256).max);
        }
        vm.prank(TRIPPER);
        token.approve(address(pool), type(uint256).max);
    }

    // ------------------------------------------------------------------ insurers

    function deposit(uint256 actor, uint256 amount) external {
        address who = _insurers[actor % 3];
        amount = _bound(amount, 1, MAX_DEPOSIT);
        _deposit(who, amount);
        ++coverage["deposit"];
    }

    function requestWithdrawal(uint256 actor, uint256 shares) external {
        address who = _insurers[actor % 3];
        uint256 balance = POOL.balanceOf(who);
        if (balance == 0) return;
        shares = _bound(shares, 1, balance);
        vm.prank(who);
        POOL.requestWithdrawal(shares);
    }

    function cancelWithdrawal(uint256 actor) external {
        address who = _insurers[actor % 3];
        if (POOL.withdrawalRequest(who).shares == 0) return;
        vm.prank(who);
        POOL.cancelWithdrawal();
    }

    function redeem(uint256 actor, uint256 shares) external {
        address who = _insurers[actor % 3];
        uint256 max = POOL.maxRedeem(who);
        if (max == 0) return;
        _redeem(who, _bound(shares, 1, max));
        ++coverage["redeem"];
    }

    /// @notice redeem(maxRedeem(owner)) in whatever state the request is (none, cooling down, open,
    /// expired): it must not revert.
    function redeemMax(uint256 actor) external {
        address who = _insurers[actor % 3];
        _redeem(who, POOL.maxRedeem(who));
        ++coverage["redeemMax"];
    }

    function withdraw(uint256 actor, uint256 assets) external {
        address who = _insurers[actor % 3];
        uint256 max = POOL.maxWithdraw(who);
        if (max == 0) return; // also during the cooldown and after expiry, when any withdraw reverts
        assets = _bound(assets, 1, max);
        uint256 expected = POOL.previewWithdraw(assets);
        _checkWithinShare(assets, expected);
        vm.prank(who);
        uint256 burnt = POOL.withdraw(assets, who, who);
        if (burnt != expected) ++ghostExitViolations;
        ghostWithdrawn += assets;
        ++coverage["withdraw"];
    }

    /// @notice Deposit, request exactly the new shares, wait the cooldown, redeem what may leave, take the
    /// rest back.
    function roundTrip(uint256 amount) external {
        amount = _bound(amount, 1, MAX_DEPOSIT);
        uint256 shares = _deposit(TRIPPER, amount);
        if (shares == 0) return;
        vm.prank(TRIPPER);
        POOL.requestWithdrawal(shares);
        vm.warp(block.timestamp + COOLDOWN);
        _redeem(TRIPPER, POOL.maxRedeem(TRIPPER));
        if (POOL.withdrawalRequest(TRIPPER).shares != 0) {
            vm.prank(TRIPPER);
            POOL.cancelWithdrawal();
        }
        ++coverage["roundTrip"];
    }

    /// @notice A direct transfer: what the first insurer's shares redeem for must not move.
    function donate(uint256 amount) external {
        amount = _bound(amount, 1, MAX_DEPOSIT);
        uint256 shares = POOL.balanceOf(_insurers[0]) + 1e24;
        uint256 before = POOL.previewRedeem(shares);
        TOKEN.mint(address(POOL), amount);
        uint256 afterwards = POOL.previewRedeem(shares);
        uint256 drift = before > afterwards ? before - afterwards : afterwards - before;
        if (drift > ghostDonationDrift) ghostDonationDrift = drift;
        ++coverage["donate"];
    }

    // ------------------------------------------------------------------ buyers, incidents, slashes

    function buy(uint256 device, uint256 amount, uint256 term) external {
        bytes32 target = DeviceId.unwrap(_devices[device % 4]);
        IInsurancePool.PoolParams memory p = POOL.params();
        term = _bound(term, p.minTerm, 60 days);
        amount = _bound(amount, 1, 250e18); // beyond the capacity (200) sometimes: those sales must fail
        vm.prank(BUYER);
        try
            POOL.buyCoverage(IInsurancePool.TargetKind.Device, target, amount, term, address(0xBEEF), type(uint256).max)
        returns (uint32 serial, uint256 premium) {
            _bought.push(Bought({target: target, serial: serial, amount: amount}));
            ghostPremiums += premium;
            ++coverage["buy"];
        } catch {
            ++coverage["buyRefused"];
        }
    }

    /// @notice Records an incident of any kind on any device, at a time in the last 60 days.
    function recordIncident(uint256 device, uint256 kind, uint256 age) external {
        age = _bound(age, 0, Math.min(60 days, block.timestamp));
        kind = _bound(kind, 1, 4);
        bytes32 id = keccak256(abi.encode("incident", _incidents.length));
        INCIDENTS.setIncident(
            id,
            _devices[device % 4],
            IFraudProofs.IncidentKind(kind),
            uint64(block.timestamp - age),
            0
        );
        _incidents.push(id);
    }

    /// @notice As staking slashes: transfers the recovery, then tells the pool (for the device's own scope,
    /// or scope 0 as loss recipient).
    function slash(uint256 device, uint256 recovery, bool unallocated) external {
        DeviceId id = _devices[device % 4];
        recovery = _bound(recovery, 0, 1_000e18);
        TOKEN.mint(address(POOL), recovery);
        vm.prank(STAKING);
        POOL.onStakeSlashed(id, unallocated ? bytes32(0) : DeviceId.unwrap(id), keccak256("slash"), recovery);
        ghostRecovered += recovery;
        ++coverage["slash"];
    }

    /// @notice Claims a policy for an incident, then tries the same claim again (it must not pay twice).
    function claim(uint256 policySeed, uint256 incidentSeed) external {
        if (_bought.length == 0 || _incidents.length == 0) return;
        uint256 index = policySeed % _bought.length;
        Bought memory b = _bought[index];
        bytes32 incident = _incidents[incidentSeed % _incidents.length];
        bytes32 key = keccak256(abi.encode(index, incident));
        DeviceId[] memory none = new DeviceId[](0);
        try POOL.claim(b.target, b.serial, incident, none) returns (uint256 payout) {
            ghostPaidOf[index] += payout;
            ghostPaid += payout;
            if (++ghostPaysOf[key] > 1) ++ghostDoublePays;
            ++coverage["claim"];
        } catch {
            ++coverage["claimRefused"];
        }
        try POOL.claim(b.target, b.serial, incident, none) returns (uint256 payout) {
            ghostPaidOf[index] += payout;
            ghostPaid += payout;
            ++ghostDoublePays;
        } catch {
            ++coverage["secondClaimRefused"];
        }
    }

    function release(uint256 policySeed) external {
        if (_bought.length == 0) return;
        Bought memory b = _bought[policySeed % _bought.length];
        try POOL.release(b.target, b.serial, new DeviceId[](0)) {
            ++coverage["release"];
        } catch {
            ++coverage["releaseRefused"];
        }
    }

    function accrue() external {
        POOL.accrue();
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + _bound(seconds_, 1, 20 days));
    }

    // ------------------------------------------------------------------ internal

    function _deposit(address who, uint256 amount) private returns (uint256 shares) {
        TOKEN.mint(who, amount);
        uint256 expected = POOL.previewDeposit(amount);
        vm.prank(who);
        shares = POOL.deposit(amount, who);
        if (shares != expected) ++ghostExitViolations;
        ghostDeposited += amount;
    }

    function _redeem(address who, uint256 shares) private {
        uint256 expected = POOL.previewRedeem(shares);
        _checkWithinShare(expected, shares);
        vm.prank(who);
        uint256 assets = POOL.redeem(shares, who, who);
        if (assets != expected) ++ghostExitViolations;
        ghostWithdrawn += assets;
    }

    /// @dev `assets` for `shares` is at most the shares' part of totalAssets, rounded up.
    function _checkWithinShare(uint256 assets, uint256 shares) private {
        uint256 supply = POOL.totalSupply();
        if (shares == 0 || supply == 0) return;
        if (assets > Math.mulDiv(shares, POOL.totalAssets(), supply, Math.Rounding.Ceil)) ++ghostExitViolations;
    }

    // ------------------------------------------------------------------ views for the invariants

    function boughtCount() external view returns (uint256) {
        return _bought.length;
    }

    function bought(uint256 index) external view returns (Bought memory) {
        return _bought[index];
    }

    function incidentCount() external view returns (uint256) {
        return _incidents.length;
    }

    function incidentAt(uint256 index) external view returns (bytes32) {
        return _incidents[index];
    }

    function insurer(uint256 index) external view returns (address) {
        return _insurers[index];
    }
}

/// @notice Invariants of the insurance pool over random sequences of the handler's actions.
contract InsurancePoolInvariantTest is InsuranceFixture {
    InsurancePoolHandler internal handler;
    IPoolUnderTest internal mockPool;
    MockIncidents internal incidents;
    DeviceId[4] internal devices;

    function setUp() public override {
        super.setUp();
        IInsurancePool.PoolParams memory p = _poolParams();
        // Long-lived attestations: the devices stay insurable however far the handler warps.
        p.maxAttestationAge = 3_650 days;
        (mockPool, incidents) = _mockPool();
        vm.prank(poolGovernor);
        mockPool.setParams(p);
        devices = [p256Id, secpId, _backedDevice(_secpKey(SECP_PK_2)), _backedDevice(_p256Key(P256_PK_2))];
        handler = new InsurancePoolHandler(mockPool, usd, incidents, buyer, devices);

        bytes4[] memory selectors = new bytes4[](16);
        selectors[0] = InsurancePoolHandler.deposit.selector;
        selectors[1] = InsurancePoolHandler.requestWithdrawal.selector;
        selectors[2] = InsurancePoolHandler.cancelWithdrawal.selector;
        selectors[3] = InsurancePoolHandler.redeem.selector;
        selectors[4] = InsurancePoolHandler.redeemMax.selector;
        selectors[5] = InsurancePoolHandler.withdraw.selector;
        selectors[6] = InsurancePoolHandler.roundTrip.selector;
        selectors[7] = InsurancePoolHandler.donate.selector;
        selectors[8] = InsurancePoolHandler.buy.selector;
        selectors[9] = InsurancePoolHandler.buy.selector; // twice: sales feed most other paths
        selectors[10] = InsurancePoolHandler.recordIncident.selector;
        selectors[11] = InsurancePoolHandler.slash.selector;
        selectors[12] = InsurancePoolHandler.claim.selector;
        selectors[13] = InsurancePoolHandler.release.selector;
        selectors[14] = InsurancePoolHandler.accrue.selector;
        selectors[15] = InsurancePoolHandler.warp.selector;
        targetContract(address(handler));
        targetSelector(StdInvariant.FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @notice Every token the pool booked is accounted for: totalAssets plus what is still streaming or held
    /// back plus the liabilities netted out equal the capital, deposits, premiums and recoveries minus
    /// withdrawals and payouts.
    function invariant_bookedAssetsFollowTheFlows() public view {
        uint256 netted = Math.min(mockPool.liabilities(), mockPool.lockedCapital());
        assertEq(
            mockPool.totalAssets() + mockPool.unearned() + mockPool.heldBack() + netted,
            CAPITAL +
                handler.ghostDeposited() +
                handler.ghostPremiums() +
                handler.ghostRecovered() -
                handler.ghostWithdrawn() -
                handler.ghostPaid()
        );
    }

    /// @notice The pool never books (earned or streaming) more than it holds.
    function invariant_bookedAssetsAreHeld() public view {
        assertGe(usd.balanceOf(address(mockPool)), mockPool.totalAssets() + mockPool.unearned());
    }

    /// @notice Net assets cover the locked coverage not yet reserved as a liability:
    /// totalAssets >= lockedCapital - liabilities.
    function invariant_netAssetsCoverUnreservedCoverage() public view {
        assertGe(mockPool.totalAssets() + mockPool.heldBack() + mockPool.liabilities(), mockPool.lockedCapital());
    }

    /// @notice Proven liabilities never exceed the coverage they were reserved for (device policies: the
    /// locked capital).
    function invariant_liabilitiesWithinLockedCoverage() public view {
        assertLe(mockPool.liabilities(), mockPool.lockedCapital());
    }

    /// @notice A device's exposure never exceeds its allocation times the cover factor, and its reserve never
    /// exceeds its exposure; the allocation it requires is within the allocation.
    function invariant_exposureWithinAllocation() public view {
        for (uint256 i; i < 4; ++i) {
            DeviceId id = devices[i];
            bytes32 scope = DeviceId.unwrap(id);
            uint256 allocation = deviceStaking.allocationOf(id, address(mockPool), scope);
            (uint256 exposure, uint256 reserved) = mockPool.exposureOf(id, scope);
            assertLe(exposure, (allocation * COVER_FACTOR_BPS) / 10_000, "exposure within capacity");
            assertLe(reserved, exposure, "reserve within exposure");
            assertEq(exposure, mockPool.targetState(scope).covered);
            assertLe(mockPool.requiredAllocation(id, scope), allocation);
        }
    }

    /// @notice A donation never changes what an existing share redeems for (not even by rounding).
    function invariant_donationNeverMovesShareValue() public view {
        assertEq(handler.ghostDonationDrift(), 0);
    }

    /// @notice An insurer's redemption never pays more than its shares' part of totalAssets (rounded up), and
    /// deposit, redeem and withdraw always do exactly what their previews said.
    function invariant_redemptionWithinShareAndPreviewed() public view {
        assertEq(handler.ghostExitViolations(), 0);
    }

    /// @notice maxRedeem and maxWithdraw never allow more than the owner's request and the free capital.
    function invariant_maxWithinRequestAndFreeCapital() public view {
        for (uint256 i; i < 3; ++i) {
            address who = handler.insurer(i);
            assertLe(mockPool.maxRedeem(who), mockPool.withdrawalRequest(who).shares);
            assertLe(mockPool.maxWithdraw(who), mockPool.freeCapital());
        }
    }

    /// @notice Total payouts on a policy never exceed its coverage, and the policy records what claims paid;
    /// locked capital is the unpaid rest of the policies not released.
    function invariant_payoutsNeverExceedCoverage() public view {
        uint256 locked;
        for (uint256 i; i < handler.boughtCount(); ++i) {
            InsurancePoolHandler.Bought memory b = handler.bought(i);
            IInsurancePool.Policy memory p = mockPool.policy(b.target, b.serial);
            assertLe(p.paid, p.amount, "paid within the amount");
            assertEq(p.paid, handler.ghostPaidOf(i), "policy records the claims");
            assertEq(p.paid, mockPool.paidFor(b.target, b.serial, DeviceId.wrap(b.target)));
            assertEq(p.amount, b.amount);
            if (!p.released) locked += p.amount - p.paid;
        }
        assertEq(mockPool.lockedCapital(), locked, "locked is the unpaid rest in force");
    }

    /// @notice Each incident pays each policy at most once.
    function invariant_eachIncidentPaysEachPolicyOnce() public view {
        assertEq(handler.ghostDoublePays(), 0);
    }

    /// @notice The handler's concrete twin: one fixed sequence through every action, after which every
    /// invariant holds and the ghosts count what happened.
    function test_handler_everyActionKeepsInvariants() public {
        handler.deposit(0, 5_000e18);
        handler.requestWithdrawal(0, 1e24);
        handler.buy(0, 150e18, 30 days);
        handler.buy(1, 100e18, 10 days);
        handler.buy(0, 51e18, 30 days); // over the device's capacity (200): refused
        assertEq(handler.coverage("buyRefused"), 1);
        handler.warp(1 days);
        handler.recordIncident(0, 1, 0);
        handler.slash(0, 360e18, false);
        assertEq(mockPool.liabilities(), 150e18);
        handler.claim(0, 0);
        assertEq(handler.ghostPaid(), 150e18);
        assertEq(handler.coverage("secondClaimRefused"), 1);
        handler.slash(2, 180e18, true);
        handler.donate(1_000e18);
        handler.roundTrip(777e18);
        handler.redeemMax(0);
        handler.redeem(0, 1e24);
        handler.withdraw(0, 1e18);
        handler.cancelWithdrawal(0);
        handler.requestWithdrawal(1, 1e18);
        handler.warp(10 days);
        handler.redeemMax(1); // expired: redeems 0
        handler.accrue();
        handler.warp(10 days); // past the 10-day term and its 2-day claim window
        handler.release(1);
        assertEq(handler.coverage("release"), 1);
        invariant_bookedAssetsFollowTheFlows();
        invariant_bookedAssetsAreHeld();
        invariant_netAssetsCoverUnreservedCoverage();
        invariant_liabilitiesWithinLockedCoverage();
        invariant_exposureWithinAllocation();
        invariant_donationNeverMovesShareValue();
        invariant_redemptionWithinShareAndPreviewed();
        invariant_maxWithinRequestAndFreeCapital();
        invariant_payoutsNeverExceedCoverage();
        invariant_eachIncidentPaysEachPolicyOnce();
    }

    /// @dev A device registered by `operator`, attested, staked with DEVICE_ALLOCATION allocated to the mock
    /// pool for itself.
    function _backedDevice(TestKey memory k) internal returns (DeviceId id) {
        id = _register(k);
        _attest(k, MEASUREMENT_V1, 1);
        _stakeAndAllocate(mockPool, id, DeviceId.unwrap(id), DEVICE_ALLOCATION);
    }
}
