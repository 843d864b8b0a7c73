// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdInvariant} from "forge-std/StdInvariant.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {IEntryPoint as AAEntryPoint} from "@account-abstraction/contracts/interfaces/IEntryPoint.sol";
import {PackedUserOperation} from "@account-abstraction/contracts/interfaces/PackedUserOperation.sol";
import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {DeviceAccount} from "../contracts/accounts/DeviceAccount.sol";
import {DeviceRegistry} from "../contracts/identity/DeviceRegistry.sol";
import {IDeviceAccount, IDeviceAccountChanges} from "../contracts/interfaces/IDeviceAccount.sol";
import {MockERC20} from "../contracts/mocks/MockERC20.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {DeviceStatus} from "../contracts/types/DeviceStatus.sol";
import {AccountFixture} from "./utils/AccountFixture.sol";
import {TestKey} from "./utils/RegistryFixture.sol";
import {UserOpBuilder} from "./utils/UserOpBuilder.sol";

/// @notice What the invariant test lends its handler: fresh attestations (the fixture's helpers).
interface IAttester {
    function attestAgain() external;
}

/// @notice The attacker: it holds a clone of device 0's key (both it and the device make valid signatures)
/// and pays whom it likes, as much as it likes, at any time, in single calls and batches; around it the
/// operator suspends and reinstates the device, incidents get recorded, attestations age and are renewed,
/// the account's operator proposes changes and unlocks the breaker, and anyone tries to apply changes early.
contract DeviceAccountHandler is CommonBase, StdUtils, UserOpBuilder {
    uint256 internal constant MAX_AGE = 1 days;
    uint256 internal constant PERIOD = 1 days;

    AAEntryPoint internal immutable EP;
    DeviceAccount internal immutable ACCOUNT;
    DeviceRegistry internal immutable REGISTRY;
    MockERC20 internal immutable TOKEN;
    address internal immutable VERIFIER;
    IAttester internal immutable ATTESTER;
    address internal immutable DEVICE_OPERATOR;
    address internal immutable GOVERNOR;
    address internal immutable SUSPENDER;
    uint256 internal immutable ACCOUNT_OPERATOR_KEY;

    TestKey internal clone;
    DeviceId internal immutable ID;
    address[3] internal recipients;
    address public immutable THIEF = address(0x7417);
    address public immutable PARTNER = address(0x9A97);
    address internal immutable BUNDLER = address(0xB0D1E);

    bytes internal pendingData;
    uint256 internal pendingEta;

    uint256 public ghostPaidToThief;
    uint256 public ghostMovedWhileUntrusted;
    uint256 public ghostMovedWhileLocked;
    uint256 public ghostEarlyApplies;
    uint256 public ghostLowProposals;
    uint256 public ghostPayments;
    /// @dev Low-threshold spending per token (and per token and recipient) per window, and the most any
    /// window saw.
    mapping(address token => mapping(uint256 window => uint256)) public ghostWindowSpent;
    mapping(address token => mapping(address to => mapping(uint256 window => uint256))) public ghostPairSpent;
    mapping(address token => uint256) public ghostMaxWindowSpent;
    mapping(address token => mapping(address to => uint256)) public ghostMaxPairSpent;

    constructor(
        AAEntryPoint ep,
        DeviceAccount account,
        DeviceRegistry registry,
        MockERC20 token,
        IAttester attester,
        TestKey memory key,
        address[5] memory roles, // seller, other seller, device operator, governor, suspender
        uint256 accountOperatorKey
    ) {
        (EP, ACCOUNT, REGISTRY, TOKEN, ATTESTER) = (ep, account, registry, token, attester);
        VERIFIER = account.VERIFIER();
        clone = key;
        ID = DeviceId.wrap(key.keyHash);
        recipients = [roles[0], roles[1], THIEF];
        (DEVICE_OPERATOR, GOVERNOR, SUSPENDER) = (roles[2], roles[3], roles[4]);
        ACCOUNT_OPERATOR_KEY = accountOperatorKey;
    }

    // ------------------------------------------------------------------ the attacker pays

    function pay(uint256 amountSeed, uint256 toSeed, bool native) external {
        address to = recipients[toSeed % 3];
        uint256 amount = bound(amountSeed, 0, 500 ether);
        _payBatch(native ? _call(to, amount, "") : _tokenTransfer(address(TOKEN), to, amount), native);
    }

    function payTwice(uint256 a, uint256 b, uint256 toSeed) external {
        Execution[] memory batch = new Execution[](2);
        batch[0] = _tokenTransfer(address(TOKEN), recipients[toSeed % 3], bound(a, 0, 400 ether))[0];
        batch[1] = _tokenTransfer(address(TOKEN), recipients[(toSeed / 3) % 3], bound(b, 0, 400 ether))[0];
        _payBatch(batch, false);
    }

    /// @notice The clone tries to raise its own limits or allow itself.
    function proposeAsClone(uint256 capSeed) external {
        IDeviceAccount.CounterpartyLimits memory limits = IDeviceAccount.CounterpartyLimits(
            uint96(bound(capSeed, 1, 1e24)),
            uint96(bound(capSeed, 1, 1e24)),
            true
        );
        bytes memory data = abi.encodeCall(
            IDeviceAccountChanges.setCounterpartyLimits,
            (address(TOKEN), THIEF, limits)
        );
        Execution[] memory batch = _call(address(ACCOUNT), 0, abi.encodeCall(ACCOUNT.proposeChange, (data)));
        _send(batch, false);
        if (ACCOUNT.pendingChange(keccak256(data)) != 0) ++ghostLowProposals;
    }

    function _payBatch(Execution[] memory batch, bool native) internal {
        uint256[3] memory before;
        for (uint256 i; i < 3; ++i) before[i] = _balance(recipients[i], native);
        bool trusted = REGISTRY.isTrustedKey(ID, clone.keyHash, MAX_AGE);
        bool locked = ACCOUNT.locked();
        _send(batch, false);
        address token = native ? address(0) : address(TOKEN);
        uint256 window = block.timestamp / PERIOD;
        for (uint256 i; i < 3; ++i) {
            uint256 moved = _balance(recipients[i], native) - before[i];
            if (moved == 0) continue;
            ++ghostPayments;
            if (!trusted) ghostMovedWhileUntrusted += moved;
            if (locked) ghostMovedWhileLocked += moved;
            if (recipients[i] == THIEF) ghostPaidToThief += moved;
            uint256 spent = ghostWindowSpent[token][window] += moved;
            if (spent > ghostMaxWindowSpent[token]) ghostMaxWindowSpent[token] = spent;
            uint256 pair = ghostPairSpent[token][recipients[i]][window] += moved;
            if (pair > ghostMaxPairSpent[token][recipients[i]]) ghostMaxPairSpent[token][recipients[i]] = pair;
        }
    }

    function _balance(address who, bool native) internal view returns (uint256) {
        return native ? who.balance : TOKEN.balanceOf(who);
    }

    /// @dev Signs with the clone (or the account's operator) and sends; a refused bundle is just refused.
    function _send(Execution[] memory batch, bool asOperator) internal {
        PackedUserOperation memory op = _userOp(EP, address(ACCOUNT), batch);
        bytes32 hash = EP.getUserOpHash(op);
        TestKey[] memory devices = new TestKey[](asOperator ? 0 : 1);
        DeviceId[] memory ids = new DeviceId[](devices.length);
        if (!asOperator) (devices[0], ids[0]) = (clone, ID);
        op.signature = _multisig(VERIFIER, hash, devices, ids, asOperator ? ACCOUNT_OPERATOR_KEY : 0);
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        vm.prank(BUNDLER, BUNDLER);
        try EP.handleOps(ops, payable(BUNDLER)) {} catch {} // solhint-disable-line no-empty-blocks
    }

    // ------------------------------------------------------------------ the world around it

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 6 hours));
    }

    function attest() external {
        if (REGISTRY.statusOf(ID) == DeviceStatus.Active) ATTESTER.attestAgain();
    }

    function suspend() external {
        if (REGISTRY.statusOf(ID) != DeviceStatus.Active) return;
        vm.prank(DEVICE_OPERATOR);
        REGISTRY.suspend(ID, "maintenance");
    }

    function reinstate() external {
        if (REGISTRY.statusOf(ID) != DeviceStatus.Suspended) return;
        vm.prank(GOVERNOR);
        REGISTRY.reinstate(ID);
    }

    function recordIncident(uint256 seed) external {
        if (seed % 8 != 0) return; // rare: the device is out for good afterwards
        vm.prank(SUSPENDER);
        REGISTRY.recordIncident(ID, "slashed");
    }

    function unlock() external {
        vm.prank(_addrOf(ACCOUNT_OPERATOR_KEY));
        ACCOUNT.unlock();
    }

    /// @notice The account's operator (high threshold) proposes allowing a new partner.
    function proposeAsOperator(uint256 capSeed) external {
        IDeviceAccount.CounterpartyLimits memory limits = IDeviceAccount.CounterpartyLimits(
            uint96(bound(capSeed, 1 ether, 100 ether)),
            uint96(bound(capSeed, 1 ether, 100 ether)),
            true
        );
        bytes memory data = abi.encodeCall(
            IDeviceAccountChanges.setCounterpartyLimits,
            (address(TOKEN), PARTNER, limits)
        );
        _send(_call(address(ACCOUNT), 0, abi.encodeCall(ACCOUNT.proposeChange, (data))), true);
        uint256 eta = ACCOUNT.pendingChange(keccak256(data));
        if (eta != 0) (pendingData, pendingEta) = (data, eta);
    }

    /// @notice Anyone applies the last proposal, whenever.
    function applyPending() external {
        if (pendingData.length == 0) return;
        try ACCOUNT.applyChange(pendingData) {
            if (block.timestamp < pendingEta) ++ghostEarlyApplies;
            delete pendingData;
        } catch {} // solhint-disable-line no-empty-blocks
    }
}

contract DeviceAccountInvariantTest is StdInvariant, AccountFixture, IAttester {
    /// @notice attestAgain is the handler's alone.
    error DeviceAccountInvariantNotHandler(address caller);

    DeviceAccountHandler internal handler;
    DeviceAccount internal account;
    address internal otherSeller = makeAddr("other seller");
    uint64 internal bootCount = 10;

    function setUp() public override {
        super.setUp();
        IDeviceAccount.Setup memory setup = _defaultSetup();
        IDeviceAccount.CounterpartySetup[] memory cps = new IDeviceAccount.CounterpartySetup[](4);
        for (uint256 i; i < 2; ++i) cps[i] = setup.counterparties[i];
        IDeviceAccount.CounterpartyLimits memory small = IDeviceAccount.CounterpartyLimits(200 ether, 150 ether, true);
        cps[2] = IDeviceAccount.CounterpartySetup(address(token), otherSeller, small);
        cps[3] = IDeviceAccount.CounterpartySetup(address(0), otherSeller, small);
        setup.counterparties = cps;
        account = _create(setup);
        handler = new DeviceAccountHandler(
            AAEntryPoint(address(entryPoint)),
            account,
            registry,
            token,
            this,
            keys[0],
            [seller, otherSeller, operator, governor, suspender],
            OPERATOR_PK
        );
        bytes4[] memory selectors = new bytes4[](13);
        selectors[0] = handler.pay.selector;
        selectors[1] = handler.pay.selector;
        selectors[2] = handler.pay.selector;
        selectors[3] = handler.payTwice.selector;
        selectors[4] = handler.proposeAsClone.selector;
        selectors[5] = handler.warp.selector;
        selectors[6] = handler.attest.selector;
        selectors[7] = handler.suspend.selector;
        selectors[8] = handler.reinstate.selector;
        selectors[9] = handler.recordIncident.selector;
        selectors[10] = handler.unlock.selector;
        selectors[11] = handler.proposeAsOperator.selector;
        selectors[12] = handler.applyPending.selector;
        targetContract(address(handler));
        targetSelector(StdInvariant.FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @inheritdoc IAttester
    function attestAgain() external {
        if (msg.sender != address(handler)) revert DeviceAccountInvariantNotHandler(msg.sender);
        _attest(keys[0], MEASUREMENT_V1, ++bootCount);
    }

    /// @notice The handler's actions do what they say (else the invariants would hold vacuously): the clone
    /// pays an allowed seller, is refused a stranger, and trips the breaker on a burst.
    function test_handlerActsAsTheAttacker() public {
        handler.pay(100 ether, 0, false);
        assertEq(handler.ghostPayments(), 1);
        assertEq(token.balanceOf(seller), 100 ether);
        handler.pay(100 ether, 2, false);
        assertEq(token.balanceOf(handler.THIEF()), 0);
        handler.payTwice(300 ether, 300 ether, 0);
        assertTrue(account.locked());
        handler.unlock();
        assertFalse(account.locked());
        handler.proposeAsOperator(5 ether);
        handler.applyPending();
        assertEq(handler.ghostEarlyApplies(), 0);
    }

    /// @notice No call to a counterparty outside the allow-list ever succeeds.
    function invariant_nothingReachesAStranger() public view {
        assertEq(handler.ghostPaidToThief(), 0);
        assertEq(token.balanceOf(handler.THIEF()), 0);
        assertEq(handler.THIEF().balance, 0);
    }

    /// @notice Spent in any window never exceeds its cap, per token and per counterparty.
    function invariant_spentNeverExceedsTheCaps() public view {
        assertLe(handler.ghostMaxWindowSpent(address(token)), PERIOD_CAP);
        assertLe(handler.ghostMaxWindowSpent(address(0)), PERIOD_CAP);
        assertLe(handler.ghostMaxPairSpent(address(token), seller), SELLER_PERIOD_CAP);
        assertLe(handler.ghostMaxPairSpent(address(token), otherSeller), 200 ether);
        assertLe(handler.ghostMaxPairSpent(address(0), otherSeller), 200 ether);
        assertLe(account.spentThisPeriod(address(token)), PERIOD_CAP);
    }

    /// @notice A device the registry does not trust now moves nothing; a locked account moves nothing on
    /// device signatures.
    function invariant_untrustedOrLockedMovesNothing() public view {
        assertEq(handler.ghostMovedWhileUntrusted(), 0);
        assertEq(handler.ghostMovedWhileLocked(), 0);
    }

    /// @notice Changes never take effect before their delay, and devices alone never propose one.
    function invariant_changesWaitAndNeedTheHighThreshold() public view {
        assertEq(handler.ghostEarlyApplies(), 0);
        assertEq(handler.ghostLowProposals(), 0);
    }
}
