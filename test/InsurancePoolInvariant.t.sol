// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdInvariant} from "forge-std/StdInvariant.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {InsurancePool} from "../contracts/insurance/InsurancePool.sol";
import {IFraudProofs} from "../contracts/interfaces/IFraudProofs.sol";
import {IInsurancePool} from "../contracts/interfaces/IInsurancePool.sol";
import {MockERC20} from "../contracts/mocks/MockERC20.sol";
import {MockIncidents} from "../contracts/mocks/MockIncidents.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {InsuranceFixture} from "./utils/InsuranceFixture.sol";

/// @notice Drives the pool through insurers (deposit, request, cancel, redeem, withdraw), buyers (coverage on
/// two staked devices), incidents of any kind and time (a MockIncidents source), claims, releases,
/// recoveries, donations, deposit-then-withdraw round trips and time, keeping ghost sums of every flow.
/// @dev Bounded and never reverting: amounts are bounded to what can succeed where that is cheap to know,
/// and every pool call that may legitimately fail runs inside try/catch.
contract InsurancePoolHandler is CommonBase, StdUtils {
    /// @notice A policy the handler bought.
    struct Bought {
        bytes32 target;
        uint32 serial;
        uint256 amount;
    }

    uint256 private constant MAX_DEPOSIT = 1e24;
    uint32 private constant COOLDOWN = 7 days;

    InsurancePool private immutable POOL;
    MockERC20 private immutable TOKEN;
    MockIncidents private immutable INCIDENTS;
    address private immutable BUYER;
    address private constant TRIPPER = address(0x7219);

    address[3] private _insurers = [address(0x1115), address(0x2225), address(0x3335)];
    DeviceId[2] private _devices;
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
    uint256 public ghostRoundTripGains;
    uint256 public ghostDoublePays;

    /// @dev How often the interesting paths ran, to check the handler's reach when debugging.
    mapping(bytes32 path => uint256) public coverage;

    constructor(
        InsurancePool pool,
        MockERC20 token,
        MockIncidents incidents,
        address buyer,
        DeviceId[2] memory devices
    ) {
        POOL = pool;
        TOKEN = token;
        INCIDENTS = incidents;
        BUYER = buyer;
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
        TOKEN.mint(who, amount);
        vm.prank(who);
        POOL.deposit(amount, who);
        ghostDeposited += amount;
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
        shares = _bound(shares, 1, max);
        vm.prank(who);
        ghostWithdrawn += POOL.redeem(shares, who, who);
        ++coverage["redeem"];
    }

    function withdraw(uint256 actor, uint256 assets) external {
        address who = _insurers[actor % 3];
        if (POOL.withdrawalRequest(who).shares == 0) return;
        uint256 max = POOL.maxWithdraw(who);
        if (max == 0) return; // also during the cooldown, when any withdraw reverts
        assets = _bound(assets, 1, max);
        vm.prank(who);
        POOL.withdraw(assets, who, who);
        ghostWithdrawn += assets;
        ++coverage["withdraw"];
    }

    /// @notice Deposit, request exactly the new shares, wait the cooldown, redeem what may leave, take the
    /// rest back: with nothing earned or paid in between, never more out than in.
    function roundTrip(uint256 amount) external {
        amount = _bound(amount, 1, MAX_DEPOSIT);
        TOKEN.mint(TRIPPER, amount);
        vm.prank(TRIPPER);
        uint256 shares = POOL.deposit(amount, TRIPPER);
        ghostDeposited += amount;
        if (shares == 0) return;
        vm.prank(TRIPPER);
        POOL.requestWithdrawal(shares);
        vm.warp(block.timestamp + COOLDOWN);
        uint256 max = POOL.maxRedeem(TRIPPER);
        uint256 out;
        if (max != 0) {
            vm.prank(TRIPPER);
            out = POOL.redeem(max, TRIPPER, TRIPPER);
            ghostWithdrawn += out;
        }
        if (out > amount) ++ghostRoundTripGains;
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

    // ------------------------------------------------------------------ buyers and incidents

    function buy(uint256 device, uint256 amount, uint256 term) external {
        bytes32 target = DeviceId.unwrap(_devices[device % 2]);
        IInsurancePool.PoolParams memory p = POOL.params();
        term = _bound(term, p.minTerm, 60 days);
        amount = _bound(amount, 1, 600e18); // beyond the capacity (500) sometimes: those sales must fail
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

    /// @notice Records an incident of any kind on either device, at a time in the last 60 days, with a
    /// slashed amount a later recovery may book.
    function recordIncident(uint256 device, uint256 kind, uint256 age, uint256 slashed) external {
        age = _bound(age, 0, Math.min(60 days, block.timestamp));
        kind = _bound(kind, 1, 4);
        slashed = _bound(slashed, 0, 1_000e18);
        bytes32 id = keccak256(abi.encode("incident", _incidents.length));
        INCIDENTS.setIncident(
            id,
            _devices[device % 2],
            IFraudProofs.IncidentKind(kind),
            uint64(block.timestamp - age),
            uint128(slashed)
        );
        _incidents.push(id);
    }

    /// @notice Claims a policy for an incident, then tries the same claim again (it must not pay twice).
    function claim(uint256 policySeed, uint256 incidentSeed) external {
        if (_bought.length == 0 || _incidents.length == 0) return;
        uint256 index = policySeed % _bought.length;
        Bought memory b = _bought[index];
        bytes32 incident = _incidents[incidentSeed % _incidents.length];
        bytes32 key = keccak256(abi.encode(index, incident));
        try POOL.claim(b.target, b.serial, incident) returns (uint256 payout) {
            ghostPaidOf[index] += payout;
            ghostPaid += payout;
            if (++ghostPaysOf[key] > 1) ++ghostDoublePays;
            ++coverage["claim"];
        } catch {
            ++coverage["claimRefused"];
        }
        try POOL.claim(b.target, b.serial, incident) returns (uint256 payout) {
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
        try POOL.release(b.target, b.serial) {
            ++coverage["release"];
        } catch {
            ++coverage["releaseRefused"];
        }
    }

    function bookRecovery(uint256 incidentSeed) external {
        if (_incidents.length == 0) return;
        try POOL.bookRecovery(_incidents[incidentSeed % _incidents.length]) returns (uint256 amount) {
            ghostRecovered += amount;
            ++coverage["recovery"];
        } catch {
            ++coverage["recoveryRefused"];
        }
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + _bound(seconds_, 1, 20 days));
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
}

/// @notice Invariants of the insurance pool over random sequences of the handler's actions.
contract InsurancePoolInvariantTest is InsuranceFixture {
    InsurancePoolHandler internal handler;
    InsurancePool internal mockPool;
    MockIncidents internal incidents;

    function setUp() public override {
        super.setUp();
        IInsurancePool.PoolParams memory p = _poolParams();
        // Long-lived attestations: the devices stay insurable however far the handler warps.
        p.maxAttestationAge = 3_650 days;
        (mockPool, incidents) = _mockPool();
        vm.prank(poolGovernor);
        mockPool.setParams(p);
        handler = new InsurancePoolHandler(mockPool, usd, incidents, buyer, [p256Id, secpId]);

        bytes4[] memory selectors = new bytes4[](13);
        selectors[0] = InsurancePoolHandler.deposit.selector;
        selectors[1] = InsurancePoolHandler.requestWithdrawal.selector;
        selectors[2] = InsurancePoolHandler.cancelWithdrawal.selector;
        selectors[3] = InsurancePoolHandler.redeem.selector;
        selectors[4] = InsurancePoolHandler.withdraw.selector;
        selectors[5] = InsurancePoolHandler.roundTrip.selector;
        selectors[6] = InsurancePoolHandler.donate.selector;
        selectors[7] = InsurancePoolHandler.buy.selector;
        selectors[8] = InsurancePoolHandler.recordIncident.selector;
        selectors[9] = InsurancePoolHandler.claim.selector;
        selectors[10] = InsurancePoolHandler.release.selector;
        selectors[11] = InsurancePoolHandler.bookRecovery.selector;
        selectors[12] = InsurancePoolHandler.warp.selector;
        targetContract(address(handler));
        targetSelector(StdInvariant.FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @notice Total (booked) assets always cover the coverage locked by policies in force.
    function invariant_assetsCoverLockedCoverage() public view {
        assertGe(mockPool.totalAssets(), mockPool.lockedCapital());
    }

    /// @notice The pool never books more assets than it holds.
    function invariant_bookedAssetsAreHeld() public view {
        assertGe(usd.balanceOf(address(mockPool)), mockPool.totalAssets());
    }

    /// @notice Booked assets are the fixture's capital plus deposits, premiums and recoveries, minus
    /// withdrawals and payouts, as the handler summed them.
    function invariant_bookedAssetsFollowTheFlows() public view {
        assertEq(
            mockPool.totalAssets(),
            CAPITAL +
                handler.ghostDeposited() +
                handler.ghostPremiums() +
                handler.ghostRecovered() -
                handler.ghostWithdrawn() -
                handler.ghostPaid()
        );
    }

    /// @notice A donation never changes what an existing share redeems for (not even by rounding).
    function invariant_donationNeverMovesShareValue() public view {
        assertEq(handler.ghostDonationDrift(), 0);
    }

    /// @notice A deposit followed by a withdrawal never returns more than was put in.
    function invariant_roundTripNeverGains() public view {
        assertEq(handler.ghostRoundTripGains(), 0);
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
            assertEq(p.amount, b.amount);
            if (!p.released) locked += p.amount - p.paid;
        }
        assertEq(mockPool.lockedCapital(), locked, "locked is the unpaid rest in force");
    }

    /// @notice Each incident pays each policy at most once, and the pool says it was claimed when it paid.
    function invariant_eachIncidentPaysEachPolicyOnce() public view {
        assertEq(handler.ghostDoublePays(), 0);
        for (uint256 i; i < handler.boughtCount(); ++i) {
            InsurancePoolHandler.Bought memory b = handler.bought(i);
            for (uint256 j; j < handler.incidentCount(); ++j) {
                bytes32 incident = handler.incidentAt(j);
                uint256 pays = handler.ghostPaysOf(keccak256(abi.encode(i, incident)));
                assertLe(pays, 1);
                if (pays == 1) assertTrue(mockPool.claimed(b.target, b.serial, incident));
            }
        }
    }

    /// @notice The handler's concrete twin: one fixed sequence through every action, after which every
    /// invariant holds and the ghosts count what happened.
    function test_handler_everyActionKeepsInvariants() public {
        handler.deposit(0, 5_000e18);
        handler.requestWithdrawal(0, 1e24);
        handler.buy(0, 400e18, 30 days);
        handler.buy(1, 300e18, 10 days);
        handler.buy(0, 200e18, 30 days); // over the device's capacity: refused
        assertEq(handler.coverage("buyRefused"), 1);
        handler.recordIncident(0, 1, 0, 1_000e18);
        handler.claim(0, 0);
        assertEq(handler.ghostPaid(), 400e18);
        assertEq(handler.coverage("secondClaimRefused"), 1);
        handler.donate(1_000e18);
        handler.bookRecovery(0);
        assertEq(handler.ghostRecovered(), 900e18);
        handler.roundTrip(777e18);
        handler.redeem(0, 1e24);
        handler.withdraw(0, 1e18);
        handler.cancelWithdrawal(0);
        handler.warp(10 days);
        handler.warp(10 days); // past the 10-day term and its 7-day claim window
        handler.release(1);
        assertEq(handler.coverage("release"), 1);
        invariant_assetsCoverLockedCoverage();
        invariant_bookedAssetsAreHeld();
        invariant_bookedAssetsFollowTheFlows();
        invariant_donationNeverMovesShareValue();
        invariant_roundTripNeverGains();
        invariant_payoutsNeverExceedCoverage();
        invariant_eachIncidentPaysEachPolicyOnce();
    }
}
