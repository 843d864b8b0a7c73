// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

// An attack that fails lands in an empty catch; a handler keeps many ghosts; setUp lists every selector.
// solhint-disable no-empty-blocks, max-states-count, function-max-lines

import {EntryPoint} from "@account-abstraction/contracts/core/EntryPoint.sol";
import {PackedUserOperation} from "@account-abstraction/contracts/interfaces/PackedUserOperation.sol";
import {CommonBase} from "forge-std/Base.sol";
import {StdInvariant} from "forge-std/StdInvariant.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {DeviceAccount} from "../contracts/accounts/DeviceAccount.sol";
import {DevicePaymaster} from "../contracts/accounts/DevicePaymaster.sol";
import {IDeviceAccount} from "../contracts/interfaces/IDeviceAccount.sol";
import {IDevicePaymaster} from "../contracts/interfaces/IDevicePaymaster.sol";
import {DeviceRegistry} from "../contracts/identity/DeviceRegistry.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {PaymasterFixture} from "./utils/PaymasterFixture.sol";

/// @notice What the handler needs from the test: signed operations and fresh attestations.
interface IPaymasterScene {
    function signedOp(
        address sender,
        uint256 device,
        uint256 landsAt
    ) external view returns (PackedUserOperation memory);
    function reattest(uint256 device) external;
}

/// @notice Two operators, each with a registered account, and a third account created for operator 0 by
/// operator 1 and never registered. Honest actions (fund, withdraw, budgets, time, device trust) and attacks: an
/// operator claiming, budgeting or unregistering the other's account or withdrawing beyond its balance,
/// operations signed by untrusted devices, from the unregistered account, or sent late across a window's end.
/// @dev Bounded and never reverting; every attack runs in try/catch and counts what it should not get.
contract PaymasterHandler is CommonBase, StdUtils {
    uint32[3] internal _periods = [uint32(30 minutes), uint32(1 hours), uint32(1 days)];

    DevicePaymaster internal immutable PAYMASTER;
    EntryPoint internal immutable ENTRY_POINT;
    DeviceRegistry internal immutable REGISTRY;
    IPaymasterScene internal immutable SCENE;
    address internal immutable BUNDLER;
    address internal immutable DEVICE_OPERATOR;
    address internal immutable GOVERNOR;
    uint256 internal immutable MAX_COST;

    address[3] public accounts;
    address[2] public operators;
    DeviceId[3] internal _ids;
    bytes32[2] internal _salts;
    bytes[2] internal _setups;

    mapping(address operator => uint256) public ghostFunded;
    mapping(address operator => uint256) public ghostWithdrawn;
    mapping(address operator => uint256) public ghostCharged;
    mapping(bytes32 window => uint256) internal _windowCharged;

    uint256 public ghostSponsored;
    uint256 public ghostRefused;
    /// @dev Must stay zero.
    uint256 public ghostOverCap;
    uint256 public ghostCrossCharges;
    uint256 public ghostUntrustedSponsored;
    uint256 public ghostForeignSponsored;
    uint256 public ghostOutOfWindow;
    uint256 public ghostAttacksAccepted;

    struct Before {
        uint256 funds;
        uint256 otherFunds;
        bool trusted;
    }

    constructor(
        DevicePaymaster paymaster,
        DeviceRegistry registry,
        IPaymasterScene scene,
        address bundler,
        address deviceOperator,
        address governor,
        uint256 maxCost
    ) {
        PAYMASTER = paymaster;
        ENTRY_POINT = EntryPoint(payable(address(paymaster.entryPoint())));
        REGISTRY = registry;
        SCENE = scene;
        BUNDLER = bundler;
        DEVICE_OPERATOR = deviceOperator;
        GOVERNOR = governor;
        MAX_COST = maxCost;
    }

    function init(
        address[3] calldata accounts_,
        address[2] calldata operators_,
        DeviceId[3] calldata ids_,
        bytes32[2] calldata salts,
        bytes calldata setup0,
        bytes calldata setup1,
        uint256[2] calldata funded
    ) external {
        accounts = accounts_;
        operators = operators_;
        _ids = ids_;
        _salts = salts;
        _setups[0] = setup0;
        _setups[1] = setup1;
        ghostFunded[operators_[0]] = funded[0];
        ghostFunded[operators_[1]] = funded[1];
    }

    function _setup(uint256 a) private view returns (IDeviceAccount.Setup memory) {
        return abi.decode(_setups[a], (IDeviceAccount.Setup));
    }

    // ------------------------------------------------------------------ operations

    /// @notice Account `a` (2: the unregistered one) pays 1 wei through a sponsored operation signed by device
    /// `d`, meant for now (one time in four: up to a day off), sent at once (one time in four: after a bundler
    /// delay of up to two hours).
    function sponsoredOp(uint256 a, uint256 d, uint256 atSeed, uint256 delay) external {
        a = bound(a, 0, 2);
        d = bound(d, 0, 2);
        uint256 landsAt = atSeed % 4 == 0 ? block.timestamp + bound(atSeed, 0, 2 days) - 1 days : block.timestamp;
        _send(a, d, landsAt, delay % 4 == 0 ? bound(delay, 0, 2 hours) : 0);
    }

    /// @notice An operation signed for the last seconds of its window, sent a few seconds later.
    function raceBoundary(uint256 a, uint256 d, uint256 lead, uint256 delay) external {
        a = bound(a, 0, 1);
        d = bound(d, 0, 2);
        uint256 period = PAYMASTER.operatorBudget(operators[a]).period;
        uint256 end = (block.timestamp / period + 1) * period;
        uint256 target = end - bound(lead, 1, 5);
        if (target > block.timestamp) vm.warp(target);
        _send(a, d, block.timestamp, bound(delay, 0, 10));
    }

    function _send(uint256 a, uint256 d, uint256 landsAt, uint256 delay) private {
        address account = accounts[a];
        address operator = a == 1 ? operators[1] : operators[0];
        address other = a == 1 ? operators[0] : operators[1];
        PackedUserOperation memory op = SCENE.signedOp(account, d, landsAt);
        vm.warp(block.timestamp + delay);
        Before memory b = Before({
            funds: PAYMASTER.fundsOf(operator),
            otherFunds: PAYMASTER.fundsOf(other),
            trusted: REGISTRY.isTrustedKey(_ids[d], REGISTRY.deviceInfo(_ids[d]).keyHash, 1 days)
        });
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        vm.prank(BUNDLER, BUNDLER);
        try ENTRY_POINT.handleOps(ops, payable(BUNDLER)) {} catch {
            ++ghostRefused;
            return;
        }
        ++ghostSponsored;
        if (a == 2) ++ghostForeignSponsored;
        if (!b.trusted) ++ghostUntrustedSponsored;
        if (PAYMASTER.fundsOf(other) != b.otherFunds) ++ghostCrossCharges;
        uint256 charged = b.funds - PAYMASTER.fundsOf(operator);
        ghostCharged[operator] += charged;
        _checkWindow(keccak256(abi.encode(operator)), PAYMASTER.operatorBudget(operator), landsAt, charged);
        IDevicePaymaster.Budget memory accountBudget = PAYMASTER.accountBudget(account);
        if (accountBudget.period != 0) _checkWindow(keccak256(abi.encode(account)), accountBudget, landsAt, charged);
    }

    /// @dev The operation landed in the window of its `landsAt`, and that window's charges stay within the cap.
    function _checkWindow(bytes32 owner, IDevicePaymaster.Budget memory b, uint256 landsAt, uint256 charged) private {
        uint256 window = block.timestamp / b.period;
        if (landsAt / b.period != window || b.window != window) ++ghostOutOfWindow;
        bytes32 key = keccak256(abi.encode(owner, b.period, b.window));
        _windowCharged[key] += charged;
        if (_windowCharged[key] > b.cap) ++ghostOverCap;
    }

    // ------------------------------------------------------------------ honest operator actions

    function fund(uint256 o, uint256 amount) external {
        address operator = operators[bound(o, 0, 1)];
        amount = bound(amount, 1, 5 * MAX_COST);
        vm.deal(address(this), amount);
        PAYMASTER.fund{value: amount}(operator);
        ghostFunded[operator] += amount;
    }

    function withdraw(uint256 o, uint256 amount) external {
        address operator = operators[bound(o, 0, 1)];
        uint256 funds = PAYMASTER.fundsOf(operator);
        if (funds == 0) return;
        amount = bound(amount, 1, funds);
        vm.prank(operator);
        PAYMASTER.withdraw(payable(operator), amount);
        ghostWithdrawn[operator] += amount;
    }

    function setOperatorBudget(uint256 o, uint256 cap, uint256 p) external {
        vm.prank(operators[bound(o, 0, 1)]);
        PAYMASTER.setOperatorBudget(uint96(bound(cap, 0, 6 * MAX_COST)), _periods[bound(p, 0, 2)]);
    }

    function setAccountBudget(uint256 a, uint256 cap, uint256 p, bool clear) external {
        a = bound(a, 0, 1);
        vm.prank(operators[a]);
        if (clear) PAYMASTER.setAccountBudget(accounts[a], 0, 0);
        else PAYMASTER.setAccountBudget(accounts[a], uint96(bound(cap, 0, 4 * MAX_COST)), _periods[bound(p, 0, 2)]);
    }

    // ------------------------------------------------------------------ time and device trust

    function warp(uint256 dt) external {
        vm.warp(block.timestamp + bound(dt, 1, 3 hours));
    }

    function reattest(uint256 d) external {
        try SCENE.reattest(bound(d, 0, 2)) {} catch {}
    }

    function suspend(uint256 d) external {
        vm.prank(DEVICE_OPERATOR);
        try REGISTRY.suspend(_ids[bound(d, 0, 2)], "maintenance") {} catch {}
    }

    function reinstate(uint256 d) external {
        vm.prank(GOVERNOR);
        try REGISTRY.reinstate(_ids[bound(d, 0, 2)]) {} catch {}
    }

    // ------------------------------------------------------------------ attacks

    /// @notice An operator claims, budgets or unregisters the other's account.
    function attackAccount(uint256 a, uint256 how) external {
        a = bound(a, 0, 1);
        address attacker = operators[1 - a];
        how = bound(how, 0, 2);
        vm.prank(attacker);
        if (how == 0) {
            try PAYMASTER.registerAccount(_setup(a), _salts[a]) {
                ++ghostAttacksAccepted;
            } catch {}
        } else if (how == 1) {
            try PAYMASTER.setAccountBudget(accounts[a], type(uint96).max, 1 days) {
                ++ghostAttacksAccepted;
            } catch {}
        } else {
            try PAYMASTER.unregisterAccount(accounts[a]) {
                ++ghostAttacksAccepted;
            } catch {}
        }
    }

    /// @notice An operator withdraws more than its own balance (what the other operators' balances hold).
    function attackWithdraw(uint256 o, uint256 extra) external {
        address attacker = operators[bound(o, 0, 1)];
        uint256 amount = PAYMASTER.fundsOf(attacker) + bound(extra, 1, PAYMASTER.totalFunds() + 1);
        vm.prank(attacker);
        try PAYMASTER.withdraw(payable(attacker), amount) {
            ++ghostAttacksAccepted;
        } catch {}
    }

    /// @notice The other operator registers the foreign account (created for operator 0): refused.
    function attackForeign() external {
        vm.prank(operators[1]);
        try PAYMASTER.registerAccount(_setup(0), keccak256("foreign")) {
            ++ghostAttacksAccepted;
        } catch {}
    }
}

contract DevicePaymasterInvariantTest is PaymasterFixture, IPaymasterScene {
    PaymasterHandler internal handler;
    address internal operatorB = makeAddr("operatorB");
    uint64[3] internal _bootCounts = [uint64(1), 1, 1];

    function setUp() public override {
        super.setUp();
        uint256 maxCost = _maxCost(_sponsoredOp(address(account), _transfer(seller, 1), block.timestamp));
        bytes32 saltB = keccak256("operator B");
        IDeviceAccount.Setup memory setupB = _setupOf(operatorB);
        DeviceAccount accountB = DeviceAccount(payable(factory.createAccount(setupB, saltB)));
        token.mint(address(accountB), 10_000 ether);
        // Created by operator B for operator A, never registered: nobody's to sponsor.
        vm.prank(operatorB);
        DeviceAccount foreign = DeviceAccount(payable(factory.createAccount(_defaultSetup(), keccak256("foreign"))));
        token.mint(address(foreign), 10_000 ether);

        vm.startPrank(operatorB);
        paymaster.registerAccount(setupB, saltB);
        paymaster.setOperatorBudget(uint96(3 * maxCost), 1 hours);
        vm.stopPrank();
        vm.startPrank(accountOperator);
        paymaster.setOperatorBudget(uint96(4 * maxCost), 1 days);
        paymaster.setAccountBudget(address(account), uint96(2 * maxCost), 30 minutes);
        vm.stopPrank();
        _fund(operatorB, 10 * maxCost);

        handler = new PaymasterHandler(paymaster, registry, this, bundler, operator, governor, maxCost);
        handler.init(
            [address(account), address(accountB), address(foreign)],
            [accountOperator, operatorB],
            ids,
            [SALT, saltB],
            abi.encode(_defaultSetup()),
            abi.encode(setupB),
            [FUNDS, 10 * maxCost]
        );

        bytes4[] memory selectors = new bytes4[](17);
        selectors[0] = PaymasterHandler.sponsoredOp.selector;
        selectors[1] = PaymasterHandler.raceBoundary.selector;
        selectors[2] = PaymasterHandler.fund.selector;
        selectors[3] = PaymasterHandler.withdraw.selector;
        selectors[4] = PaymasterHandler.setOperatorBudget.selector;
        selectors[5] = PaymasterHandler.setAccountBudget.selector;
        selectors[6] = PaymasterHandler.warp.selector;
        selectors[7] = PaymasterHandler.reattest.selector;
        selectors[8] = PaymasterHandler.suspend.selector;
        selectors[9] = PaymasterHandler.reinstate.selector;
        selectors[10] = PaymasterHandler.attackAccount.selector;
        selectors[11] = PaymasterHandler.attackWithdraw.selector;
        selectors[12] = PaymasterHandler.attackForeign.selector;
        // Operations four times as often as any other action, boundary races twice.
        selectors[13] = PaymasterHandler.sponsoredOp.selector;
        selectors[14] = PaymasterHandler.sponsoredOp.selector;
        selectors[15] = PaymasterHandler.sponsoredOp.selector;
        selectors[16] = PaymasterHandler.raceBoundary.selector;
        targetContract(address(handler));
        targetSelector(StdInvariant.FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    // ------------------------------------------------------------------ the scene (called by the handler)

    function signedOp(
        address sender,
        uint256 device,
        uint256 landsAt
    ) external view returns (PackedUserOperation memory op) {
        op = _sponsoredOp(sender, _transfer(seller, 1), landsAt);
        _signOp(op, _one(device), false);
    }

    function reattest(uint256 device) external {
        _attest(keys[device], MEASUREMENT_V1, ++_bootCounts[device]);
    }

    // ------------------------------------------------------------------ invariants

    /// @notice No operator is ever charged more than it funded, and its balance is exactly funded - withdrawn -
    /// charged: no operation of one operator's accounts is paid from another's balance.
    function invariant_chargesNeverExceedWhatEachOperatorFunded() public view {
        for (uint256 i; i < 2; ++i) {
            address o = handler.operators(i);
            uint256 funded = handler.ghostFunded(o);
            uint256 spent = handler.ghostCharged(o) + handler.ghostWithdrawn(o);
            assertLe(spent, funded, "charged + withdrawn <= funded");
            assertEq(paymaster.fundsOf(o), funded - spent, "balance = funded - withdrawn - charged");
        }
        assertEq(handler.ghostCrossCharges(), 0, "an operation charged another operator");
    }

    /// @notice What a budget window is charged never exceeds the budget's cap.
    function invariant_windowChargesStayWithinTheBudget() public view {
        assertEq(handler.ghostOverCap(), 0);
        assertEq(handler.ghostOutOfWindow(), 0, "an operation landed outside the window it reserved in");
    }

    /// @notice The EntryPoint deposit always covers every operator's balance (the charge covers what it paid).
    function invariant_depositCoversEveryBalance() public view {
        uint256 sum = paymaster.fundsOf(handler.operators(0)) + paymaster.fundsOf(handler.operators(1));
        assertEq(paymaster.totalFunds(), sum);
        assertGe(entryPoint.balanceOf(address(paymaster)), sum);
    }

    /// @notice No attack succeeds: nothing sponsored for an untrusted device or an unregistered account, no
    /// account claimed, budgeted or dropped by another operator, no withdrawal beyond one's balance.
    function invariant_attacksNeverSucceed() public view {
        assertEq(handler.ghostUntrustedSponsored(), 0, "untrusted device sponsored");
        assertEq(handler.ghostForeignSponsored(), 0, "unregistered account sponsored");
        assertEq(handler.ghostAttacksAccepted(), 0, "attack accepted");
    }

    /// @notice The handler's concrete twin: every action and attack once, operations sponsored and refused.
    function test_handler_everyActionKeepsInvariants() public {
        handler.sponsoredOp(0, 0, 1 days, 0); // A's account, device 0, now: sponsored
        handler.sponsoredOp(1, 2, 1 days, 0); // B's account, device 2, now: sponsored
        handler.sponsoredOp(2, 1, 1 days, 0); // the unregistered account: refused
        assertEq(handler.ghostSponsored(), 2);
        assertEq(handler.ghostRefused(), 1);
        handler.raceBoundary(1, 1, 1, 10); // late: lands in the next window, refused
        assertEq(handler.ghostRefused(), 2);
        handler.suspend(0);
        handler.sponsoredOp(0, 0, 1 days, 0); // suspended device: refused
        assertEq(handler.ghostRefused(), 3);
        handler.reinstate(0);
        handler.reattest(0);
        handler.fund(1, 1 ether);
        handler.withdraw(0, 1 ether);
        handler.setOperatorBudget(1, 0, 0);
        handler.sponsoredOp(1, 2, 1 days, 0); // B's cap is zero: refused
        assertEq(handler.ghostRefused(), 4);
        handler.setAccountBudget(0, 1, 1, false);
        handler.setAccountBudget(0, 0, 0, true);
        handler.attackAccount(0, 0);
        handler.attackAccount(1, 1);
        handler.attackAccount(0, 2);
        handler.attackWithdraw(1, 1);
        handler.attackForeign();
        handler.warp(7 hours);
        handler.reattest(0);
        handler.sponsoredOp(0, 0, 1 days, 0);
        assertEq(handler.ghostSponsored(), 3);
        invariant_chargesNeverExceedWhatEachOperatorFunded();
        invariant_windowChargesStayWithinTheBudget();
        invariant_depositCoversEveryBalance();
        invariant_attacksNeverSucceed();
    }
}
