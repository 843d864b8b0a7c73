// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IEntryPoint as AAEntryPoint} from "@account-abstraction/contracts/interfaces/IEntryPoint.sol";
import {PackedUserOperation} from "@account-abstraction/contracts/interfaces/PackedUserOperation.sol";
import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {ERC7739Utils} from "@openzeppelin/contracts/utils/cryptography/draft-ERC7739Utils.sol";
import {DeviceAccount} from "../contracts/accounts/DeviceAccount.sol";
import {DeviceAccountLens} from "../contracts/accounts/DeviceAccountLens.sol";
import {IDeviceAccount, IDeviceAccountChanges} from "../contracts/interfaces/IDeviceAccount.sol";
import {DeviceStatus} from "../contracts/types/DeviceStatus.sol";
import {AccountFixture} from "./utils/AccountFixture.sol";
import {TestKey} from "./utils/RegistryFixture.sol";

/// @notice A counterparty that tries to reenter the account and the EntryPoint when paid.
contract ReenteringCounterparty {
    DeviceAccount internal immutable ACCOUNT;
    AAEntryPoint internal immutable ENTRY_POINT;
    bool public reentered;

    constructor(DeviceAccount account, AAEntryPoint entryPoint) {
        ACCOUNT = account;
        ENTRY_POINT = entryPoint;
    }

    // solhint-disable no-complex-fallback, avoid-low-level-calls
    receive() external payable {
        if (msg.value != 1 ether || reentered) return;
        // Every way back in must fail; the payment itself is accepted.
        PackedUserOperation[] memory none = new PackedUserOperation[](0);
        (bool a, ) = address(ENTRY_POINT).call(abi.encodeCall(ENTRY_POINT.handleOps, (none, payable(address(this)))));
        (bool b, ) = address(ACCOUNT).call(abi.encodeCall(ACCOUNT.unlock, ()));
        (bool c, ) = address(ACCOUNT).call(abi.encodeCall(ACCOUNT.applyChange, (hex"")));
        // The account's ERC-7821 execute while its batch runs: a batch of its own, paying itself.
        Execution[] memory batch = new Execution[](1);
        batch[0] = Execution(address(this), 1 ether, "");
        (bool d, ) = address(ACCOUNT).call(
            abi.encodeCall(ACCOUNT.execute, (bytes32(uint256(1) << 248), abi.encode(batch)))
        );
        reentered = a || b || c || d;
    }
    // solhint-enable no-complex-fallback, avoid-low-level-calls
}

contract DeviceAccountTest is AccountFixture {
    DeviceAccountLens internal lens = new DeviceAccountLens();
    event UserOperationRevertReason(
        bytes32 indexed userOpHash,
        address indexed sender,
        uint256 nonce,
        bytes revertReason
    );

    DeviceAccount internal account;

    function setUp() public override {
        super.setUp();
        account = _createDefault();
    }

    /// @dev Sends `batch` signed by device `device`, expecting the execution to revert with `reason`.
    function _payReverts(uint256 device, Execution[] memory batch, bytes memory reason) internal {
        PackedUserOperation memory op = _op(address(account), batch);
        op.signature = _signature(_hash(op), _one(device), false);
        vm.expectEmit(true, true, false, true, address(entryPoint));
        emit UserOperationRevertReason(_hash(op), address(account), op.nonce, reason);
        _handle(op);
    }

    function _expectRefused(PackedUserOperation memory op, IDeviceAccount.Refusal reason, uint256 weight) internal {
        vm.expectEmit(true, false, false, true, address(account));
        emit IDeviceAccount.UserOperationRefused(_hash(op), reason, weight);
    }

    // ------------------------------------------------------------------ creation

    function test_factoryAddressIsCounterfactualAndCommitsToTheSetup() public {
        IDeviceAccount.Setup memory setup = _defaultSetup();
        address predicted = factory.accountAddress(setup, keccak256("other"));
        assertEq(predicted.code.length, 0);
        setup.lowThreshold = 2;
        assertTrue(factory.accountAddress(setup, keccak256("other")) != predicted, "the address commits to the setup");
        assertEq(factory.createAccount(_defaultSetup(), SALT), address(account), "existing account returned");
    }

    function test_firstUserOperationDeploysThroughInitCode() public {
        IDeviceAccount.Setup memory setup = _defaultSetup();
        bytes32 salt = keccak256("vehicle-2");
        address predicted = factory.accountAddress(setup, salt);
        token.mint(predicted, 1_000 ether);
        vm.deal(predicted, 1 ether);
        PackedUserOperation memory op = _op(predicted, _transfer(seller, 10 ether));
        op.accountGasLimits = bytes32((uint256(2_000_000) << 128) | 600_000);
        op.initCode = abi.encodePacked(address(factory), abi.encodeCall(factory.createAccount, (setup, salt)));
        _send(op, _one(0), false);
        assertGt(predicted.code.length, 0);
        assertEq(token.balanceOf(seller), 10 ether);
        assertEq(DeviceAccount(payable(predicted)).threshold(), 1);
        assertEq(DeviceAccount(payable(predicted)).highThreshold(), 3);
    }

    function test_initializeOnlyOnce() public {
        vm.expectRevert();
        account.initialize(_defaultSetup());
        vm.expectRevert();
        implementation.initialize(_defaultSetup());
    }

    // ------------------------------------------------------------------ paying inside the policy

    function test_oneDevicePaysAnAllowedCounterparty() public {
        for (uint256 d; d < 3; ++d) {
            PackedUserOperation memory op = _op(address(account), _transfer(seller, 10 ether));
            vm.expectEmit(true, true, false, true, address(account));
            emit IDeviceAccount.Spent(address(token), seller, 10 ether, (d + 1) * 10 ether);
            _send(op, _one(d), false);
        }
        assertEq(token.balanceOf(seller), 30 ether);
        assertEq(account.spentThisPeriod(address(token)), 30 ether);
        assertEq(account.spentThisPeriod(address(token), seller), 30 ether);
    }

    function test_nativePayment() public {
        _pay(account, 0, _call(seller, 5 ether, ""));
        assertEq(seller.balance, 5 ether);
        assertEq(account.spentThisPeriod(address(0)), 5 ether);
    }

    function test_approveCountsAsSpending() public {
        _pay(account, 0, _call(address(token), 0, abi.encodeCall(IERC20.approve, (seller, 50 ether))));
        assertEq(token.allowance(address(account), seller), 50 ether);
        assertEq(account.spentThisPeriod(address(token), seller), 50 ether);
    }

    function test_periodResetsAtTheWindowTurn() public {
        _pay(account, 0, _transfer(seller, 300 ether));
        uint256 nextWindow = (block.timestamp / PERIOD + 1) * PERIOD;
        vm.warp(nextWindow);
        _attest(keys[0], MEASUREMENT_V1, 2);
        assertEq(account.spentThisPeriod(address(token)), 0);
        _pay(account, 0, _transfer(seller, 300 ether));
        assertEq(account.spentThisPeriod(address(token)), 300 ether);
    }

    // ------------------------------------------------------------------ every rule of the policy

    function test_counterpartyNotAllowed() public {
        address stranger_ = makeAddr("unknown");
        _payReverts(
            0,
            _transfer(stranger_, 1 ether),
            abi.encodeWithSelector(IDeviceAccount.AccountCounterpartyNotAllowed.selector, address(token), stranger_)
        );
        _payReverts(
            0,
            _call(stranger_, 1 ether, ""),
            abi.encodeWithSelector(IDeviceAccount.AccountCounterpartyNotAllowed.selector, address(0), stranger_)
        );
        _payReverts(
            0,
            _call(stranger_, 0, hex"12345678"),
            abi.encodeWithSelector(IDeviceAccount.AccountCounterpartyNotAllowed.selector, address(0), stranger_)
        );
        assertEq(token.balanceOf(stranger_), 0);
    }

    function test_perCallCaps() public {
        uint256 tooMuch = uint256(SELLER_PER_CALL_CAP) + 1;
        _payReverts(
            0,
            _transfer(seller, tooMuch),
            abi.encodeWithSelector(
                IDeviceAccount.AccountCounterpartyPerCallCapExceeded.selector,
                address(token),
                seller,
                tooMuch,
                SELLER_PER_CALL_CAP
            )
        );
        uint256 aboveToken = uint256(PER_CALL_CAP) + 1;
        _payReverts(
            0,
            _transfer(seller, aboveToken),
            abi.encodeWithSelector(
                IDeviceAccount.AccountPerCallCapExceeded.selector,
                address(token),
                aboveToken,
                PER_CALL_CAP
            )
        );
    }

    function test_periodCaps() public {
        // At the start of a window, spread out so the velocity breaker stays quiet.
        vm.warp((block.timestamp / PERIOD + 1) * PERIOD);
        _attest(keys[0], MEASUREMENT_V1, 2);
        for (uint256 i; i < 2; ++i) {
            _pay(account, 0, _transfer(seller, 300 ether));
            vm.warp(block.timestamp + 2 hours);
            _attest(keys[0], MEASUREMENT_V1, uint64(3 + i));
        }
        _payReverts(
            0,
            _transfer(seller, 250 ether),
            abi.encodeWithSelector(
                IDeviceAccount.AccountCounterpartyPeriodCapExceeded.selector,
                address(token),
                seller,
                600 ether,
                250 ether,
                SELLER_PERIOD_CAP
            )
        );
        address other = makeAddr("other seller");
        IDeviceAccount.CounterpartyLimits memory wide = IDeviceAccount.CounterpartyLimits(1_000 ether, 400 ether, true);
        _change(account, abi.encodeCall(IDeviceAccountChanges.setCounterpartyLimits, (address(token), other, wide)));
        _attest(keys[0], MEASUREMENT_V1, 10);
        // A new day after the change: spend 400 + 400 to the two, then the token's cap refuses 300 more.
        vm.warp((block.timestamp / PERIOD + 1) * PERIOD);
        _attest(keys[0], MEASUREMENT_V1, 11);
        _pay(account, 0, _transfer(other, 400 ether));
        vm.warp(block.timestamp + 2 hours);
        _attest(keys[0], MEASUREMENT_V1, 12);
        _pay(account, 0, _transfer(seller, 300 ether));
        vm.warp(block.timestamp + 2 hours);
        _attest(keys[0], MEASUREMENT_V1, 13);
        _payReverts(
            0,
            _transfer(other, 301 ether),
            abi.encodeWithSelector(
                IDeviceAccount.AccountPeriodCapExceeded.selector,
                address(token),
                700 ether,
                301 ether,
                PERIOD_CAP
            )
        );
    }

    function test_tokenCallsOtherThanTransferAndApproveAreRefused() public {
        bytes memory transferFrom = abi.encodeCall(IERC20.transferFrom, (address(account), seller, 1 ether));
        _payReverts(
            0,
            _call(address(token), 0, transferFrom),
            abi.encodeWithSelector(
                IDeviceAccount.AccountTokenCallNotAllowed.selector,
                address(token),
                IERC20.transferFrom.selector
            )
        );
        _payReverts(
            0,
            _call(address(token), 0, ""),
            abi.encodeWithSelector(IDeviceAccount.AccountTokenCallNotAllowed.selector, address(token), bytes4(0))
        );
    }

    function test_batchesAddUp() public {
        Execution[] memory batch = new Execution[](3);
        for (uint256 i; i < 3; ++i) {
            batch[i] = Execution(address(token), 0, abi.encodeCall(IERC20.transfer, (seller, 290 ether)));
        }
        // The second call overflows the breaker's bucket (500): nothing of the batch runs or is recorded.
        _pay(account, 0, batch);
        assertTrue(account.locked());
        assertEq(token.balanceOf(seller), 0);
        assertEq(account.spentThisPeriod(address(token)), 0);

        // Without the breaker, the third call sees the first two against the counterparty's cap.
        IDeviceAccount.Setup memory setup = _defaultSetup();
        setup.config.velocityShareBps = 0;
        // solhint-disable-next-line reentrancy
        account = DeviceAccount(payable(factory.createAccount(setup, keccak256("no breaker"))));
        token.mint(address(account), 1_000 ether);
        vm.deal(address(account), 1 ether);
        _payReverts(
            0,
            batch,
            abi.encodeWithSelector(
                IDeviceAccount.AccountCounterpartyPeriodCapExceeded.selector,
                address(token),
                seller,
                580 ether,
                290 ether,
                SELLER_PERIOD_CAP
            )
        );
        assertEq(token.balanceOf(seller), 0);
    }

    function test_policyChangeSlippedIntoABatchNeedsTheHighThreshold() public {
        Execution[] memory batch = new Execution[](2);
        batch[0] = Execution(address(token), 0, abi.encodeCall(IERC20.transfer, (seller, 1 ether)));
        bytes memory raise = abi.encodeCall(IDeviceAccountChanges.setTokenLimits, (address(token), _tokenLimits()));
        batch[1] = Execution(address(account), 0, abi.encodeCall(account.proposeChange, (raise)));
        _payReverts(0, batch, abi.encodeWithSelector(IDeviceAccount.AccountNeedsHighThreshold.selector, 1, 3));
    }

    // ------------------------------------------------------------------ the high threshold

    function test_operatorAloneReachesTheHighThresholdAndIsNotBoundByThePolicy() public {
        address stranger_ = makeAddr("anywhere");
        _send(_op(address(account), _transfer(stranger_, 5_000 ether)), new uint256[](0), true);
        assertEq(token.balanceOf(stranger_), 5_000 ether);
        assertEq(account.spentThisPeriod(address(token)), 0, "the high threshold is not counted");
    }

    function test_allThreeDevicesReachTheHighThreshold() public {
        address stranger_ = makeAddr("anywhere");
        _send(_op(address(account), _transfer(stranger_, 2_000 ether)), _all(), false);
        assertEq(token.balanceOf(stranger_), 2_000 ether);
    }

    function test_highThresholdMayNotCallSettersOrExecuteDirectly() public {
        bytes memory call = abi.encodeCall(IDeviceAccountChanges.setTokenLimits, (address(token), _tokenLimits()));
        PackedUserOperation memory op = _op(address(account), _call(address(account), 0, call));
        op.signature = _signature(_hash(op), new uint256[](0), true);
        vm.expectEmit(true, true, false, true, address(entryPoint));
        emit UserOperationRevertReason(
            _hash(op),
            address(account),
            op.nonce,
            abi.encodeWithSelector(
                IDeviceAccount.AccountSelfCallNotAllowed.selector,
                IDeviceAccountChanges.setTokenLimits.selector
            )
        );
        _handle(op);
    }

    // ------------------------------------------------------------------ changes wait out the delay

    function test_changeWaitsOutTheDelay() public {
        IDeviceAccount.TokenLimits memory raised = _tokenLimits();
        raised.perCallCap = 900 ether;
        bytes memory data = abi.encodeCall(IDeviceAccountChanges.setTokenLimits, (address(token), raised));
        bytes32 id = keccak256(data);
        _propose(account, data);
        assertEq(account.pendingChange(id), block.timestamp + DELAY);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeviceAccount.AccountChangeNotReady.selector,
                id,
                block.timestamp + DELAY,
                block.timestamp
            )
        );
        account.applyChange(data);
        vm.warp(block.timestamp + DELAY - 1);
        vm.expectRevert();
        account.applyChange(data);
        vm.warp(block.timestamp + 1);
        account.applyChange(data);
        assertEq(account.tokenLimits(address(token)).perCallCap, 900 ether);
        vm.expectRevert(abi.encodeWithSelector(IDeviceAccount.AccountUnknownChange.selector, id));
        account.applyChange(data);
    }

    function test_operatorCancelsAPendingChange() public {
        bytes memory data = abi.encodeCall(IDeviceAccountChanges.setThresholds, (1, 1));
        _propose(account, data);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IDeviceAccount.AccountOnlyOperator.selector, stranger));
        account.cancelChange(keccak256(data));
        vm.prank(accountOperator);
        account.cancelChange(keccak256(data));
        vm.warp(block.timestamp + DELAY);
        vm.expectRevert(abi.encodeWithSelector(IDeviceAccount.AccountUnknownChange.selector, keccak256(data)));
        account.applyChange(data);
    }

    function test_settersOnlyThroughApplyChange() public {
        // The account has no setter functions: a change's data is only ever run by applyChange.
        vm.prank(address(account));
        // solhint-disable-next-line avoid-low-level-calls
        (bool ok, ) = address(account).call(abi.encodeCall(IDeviceAccountChanges.setThresholds, (1, 1)));
        assertFalse(ok);
        assertEq(account.highThreshold(), 3);
        vm.expectRevert(abi.encodeWithSelector(IDeviceAccount.AccountOnlySelf.selector, address(this)));
        account.proposeChange(abi.encodeCall(IDeviceAccountChanges.setThresholds, (1, 1)));
        vm.prank(address(account));
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceAccount.AccountSelfCallNotAllowed.selector, account.unlock.selector)
        );
        account.proposeChange(abi.encodeCall(account.unlock, ()));
    }

    function test_thresholdsMustStayReachableAndOrdered() public {
        bytes memory data = abi.encodeCall(IDeviceAccountChanges.setThresholds, (4, 3));
        _propose(account, data);
        vm.warp(block.timestamp + DELAY);
        vm.expectRevert(abi.encodeWithSelector(IDeviceAccount.AccountInvalidThresholds.selector, 4, 3, 6));
        account.applyChange(data);
        // Equal thresholds would let one device's payments bypass the policy: refused too.
        data = abi.encodeCall(IDeviceAccountChanges.setThresholds, (3, 3));
        _propose(account, data);
        vm.warp(block.timestamp + DELAY);
        vm.expectRevert(abi.encodeWithSelector(IDeviceAccount.AccountInvalidThresholds.selector, 3, 3, 6));
        account.applyChange(data);
    }

    // ------------------------------------------------------------------ trust and the automatic freeze

    function test_suspendedDeviceIsRefusedAndCoolsDown() public {
        vm.prank(operator);
        registry.suspend(ids[0], "maintenance");
        PackedUserOperation memory op = _op(address(account), _transfer(seller, 1 ether));
        op.signature = _signature(_hash(op), _one(0), false);
        _expectRefused(op, IDeviceAccount.Refusal.Untrusted, 0);
        _handle(op);
        assertEq(token.balanceOf(seller), 0);
        (, uint256 until) = account.deviceSlot(ids[0]);
        assertEq(until, block.timestamp + account.DISTRUST_COOLDOWN());
        (uint256 weight, bool frozen) = lens.trustedWeight(address(account));
        assertEq(weight, 2);
        assertFalse(frozen);

        // During the cooldown its operations do not even validate (ERC-4337 validAfter).
        PackedUserOperation memory again = _op(address(account), _transfer(seller, 1 ether));
        again.signature = _signature(_hash(again), _one(0), false);
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = again;
        vm.prank(bundler, bundler);
        vm.expectRevert(abi.encodeWithSelector(AAEntryPoint.FailedOp.selector, 0, "AA22 expired or not due"));
        entryPoint.handleOps(ops, payable(bundler));

        // Reinstated and past the cooldown, it signs again by itself.
        vm.prank(governor);
        registry.reinstate(ids[0]);
        vm.warp(block.timestamp + account.DISTRUST_COOLDOWN());
        _attest(keys[0], MEASUREMENT_V1, 2);
        _pay(account, 0, _transfer(seller, 1 ether));
        assertEq(token.balanceOf(seller), 1 ether);
        (, until) = account.deviceSlot(ids[0]);
        assertEq(until, 0);
    }

    function test_recordedIncidentExcludesTheDeviceForGood() public {
        vm.prank(suspender);
        registry.recordIncident(ids[1], "slashed");
        assertEq(uint8(registry.statusOf(ids[1])), uint8(DeviceStatus.Suspended));
        vm.prank(governor);
        registry.reinstate(ids[1]);
        _attest(keys[1], MEASUREMENT_V1, 2);
        assertTrue(registry.isTrusted(ids[1], MAX_AGE), "trusted for feeds again");
        PackedUserOperation memory op = _op(address(account), _transfer(seller, 1 ether));
        op.signature = _signature(_hash(op), _one(1), false);
        _expectRefused(op, IDeviceAccount.Refusal.Untrusted, 0);
        _handle(op);
        assertEq(token.balanceOf(seller), 0);
    }

    function test_staleAttestationAndRevokedFirmwareAreRefused() public {
        vm.warp(block.timestamp + MAX_AGE + 1);
        PackedUserOperation memory op = _op(address(account), _transfer(seller, 1 ether));
        op.signature = _signature(_hash(op), _one(2), false);
        _expectRefused(op, IDeviceAccount.Refusal.Untrusted, 0);
        _handle(op);

        _attest(keys[0], MEASUREMENT_V1, 2);
        _revokeFirmware(1);
        op = _op(address(account), _transfer(seller, 1 ether));
        op.signature = _signature(_hash(op), _one(0), false);
        _expectRefused(op, IDeviceAccount.Refusal.Untrusted, 0);
        _handle(op);
        assertEq(token.balanceOf(seller), 0);
        (uint256 weight, bool frozen) = lens.trustedWeight(address(account));
        assertEq(weight, 0);
        assertTrue(frozen);
    }

    function test_frozenAccountStillObeysTheOperator() public {
        _revokeFirmware(1);
        (, bool frozen) = lens.trustedWeight(address(account));
        assertTrue(frozen);
        _send(_op(address(account), _transfer(accountOperator, 100 ether)), new uint256[](0), true);
        assertEq(token.balanceOf(accountOperator), 100 ether);
    }

    // ------------------------------------------------------------------ the velocity breaker

    function test_burstTripsTheBreakerAndLocksUntilUnlocked() public {
        // Capacity: 50% of 1,000 = 500. 300 passes; 300 more within the hour overflows.
        _pay(account, 0, _transfer(seller, 300 ether));
        vm.warp(block.timestamp + 10 minutes);
        PackedUserOperation memory op = _op(address(account), _transfer(seller, 300 ether));
        op.signature = _signature(_hash(op), _one(1), false);
        vm.expectEmit(true, false, false, false, address(account));
        emit IDeviceAccount.VelocityBreakerTripped(address(token), 0, 0);
        _handle(op);
        assertTrue(account.locked());
        assertEq(token.balanceOf(seller), 300 ether);
        assertEq(account.spentThisPeriod(address(token)), 300 ether, "the tripping batch recorded nothing");

        // Locked: even a small payment is refused, until the operator unlocks.
        op = _op(address(account), _transfer(seller, 1 ether));
        op.signature = _signature(_hash(op), _one(0), false);
        _expectRefused(op, IDeviceAccount.Refusal.Locked, 1);
        _handle(op);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IDeviceAccount.AccountOnlyOperator.selector, stranger));
        account.unlock();
        vm.prank(accountOperator);
        account.unlock();
        _pay(account, 0, _transfer(seller, 1 ether));
        assertEq(token.balanceOf(seller), 301 ether);
    }

    function test_bucketDrainsOverTheWindow() public {
        _pay(account, 0, _transfer(seller, 300 ether));
        vm.warp(block.timestamp + 36 minutes); // 60% of the hour: 300 drained, 0 left
        _pay(account, 0, _transfer(seller, 300 ether));
        assertFalse(account.locked());
    }

    // ------------------------------------------------------------------ keys: clones, rotation, replay

    function test_clonedKeyCannotPayAStrangerNorDrainTheCap() public {
        // The clone holds device 0's key: both it and the device make valid signatures.
        address thief = makeAddr("thief");
        _payReverts(
            0,
            _transfer(thief, 100 ether),
            abi.encodeWithSelector(IDeviceAccount.AccountCounterpartyNotAllowed.selector, address(token), thief)
        );
        _pay(account, 0, _transfer(seller, 300 ether));
        PackedUserOperation memory op = _op(address(account), _transfer(seller, 300 ether));
        op.signature = _signature(_hash(op), _one(0), false);
        _handle(op);
        assertTrue(account.locked());
        assertEq(token.balanceOf(seller), 300 ether);
        assertEq(token.balanceOf(thief), 0);
    }

    function test_rotatedKeyNeedsSync() public {
        TestKey memory next = _p256Key(0xF256_3);
        _rotate(ids[0], keys[0], next);
        // The old key still validates against the account's copy, but the registry refuses it at execution.
        PackedUserOperation memory op = _op(address(account), _transfer(seller, 1 ether));
        op.signature = _signature(_hash(op), _one(0), false);
        _expectRefused(op, IDeviceAccount.Refusal.Untrusted, 0);
        _handle(op);
        // The new key does not validate until syncDevice copies it.
        keys[0] = next;
        op = _op(address(account), _transfer(seller, 1 ether));
        op.signature = _signature(_hash(op), _one(0), false);
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        vm.prank(bundler, bundler);
        vm.expectRevert();
        entryPoint.handleOps(ops, payable(bundler));
        account.syncDevice(ids[0]);
        _pay(account, 0, _transfer(seller, 1 ether));
        assertEq(token.balanceOf(seller), 1 ether);
    }

    function test_replayedOperationIsRefused() public {
        PackedUserOperation memory op = _op(address(account), _transfer(seller, 1 ether));
        op.signature = _signature(_hash(op), _one(0), false);
        _handle(op);
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        vm.prank(bundler, bundler);
        vm.expectRevert(abi.encodeWithSelector(AAEntryPoint.FailedOp.selector, 0, "AA25 invalid account nonce"));
        entryPoint.handleOps(ops, payable(bundler));
    }

    function test_signatureForAnotherAccountOrChainIsRefused() public {
        IDeviceAccount.Setup memory setup = _defaultSetup();
        DeviceAccount other = DeviceAccount(payable(factory.createAccount(setup, keccak256("other"))));
        vm.deal(address(other), 1 ether);
        PackedUserOperation memory op = _op(address(account), _transfer(seller, 1 ether));
        bytes memory signature = _signature(_hash(op), _one(0), false);
        PackedUserOperation memory moved = _op(address(other), _transfer(seller, 1 ether));
        moved.signature = signature;
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = moved;
        vm.prank(bundler, bundler);
        vm.expectRevert(abi.encodeWithSelector(AAEntryPoint.FailedOp.selector, 0, "AA24 signature error"));
        entryPoint.handleOps(ops, payable(bundler));

        op.signature = signature;
        vm.chainId(block.chainid + 1);
        ops[0] = op;
        vm.prank(bundler, bundler);
        vm.expectRevert(abi.encodeWithSelector(AAEntryPoint.FailedOp.selector, 0, "AA24 signature error"));
        entryPoint.handleOps(ops, payable(bundler));
    }

    function test_onlyExecuteUserOpCallDataValidates() public {
        PackedUserOperation memory op = _op(address(account), _transfer(seller, 1 ether));
        op.callData = abi.encodeCall(
            account.execute,
            (bytes32(uint256(1) << 248), abi.encode(_transfer(seller, 1 ether)))
        );
        op.signature = _signature(_hash(op), _one(0), false);
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        vm.prank(bundler, bundler);
        vm.expectRevert(abi.encodeWithSelector(AAEntryPoint.FailedOp.selector, 0, "AA24 signature error"));
        entryPoint.handleOps(ops, payable(bundler));
        vm.expectRevert();
        account.execute(bytes32(uint256(1) << 248), abi.encode(_transfer(seller, 1 ether)));
    }

    function test_unsortedOrDuplicateSignersAreRefused() public {
        PackedUserOperation memory op = _op(address(account), _transfer(seller, 1 ether));
        bytes32 hash = _hash(op);
        bytes[] memory signers = new bytes[](2);
        bytes[] memory signatures = new bytes[](2);
        signers[0] = _signer(ids[0]);
        signers[1] = _signer(ids[0]);
        signatures[0] = _deviceBlob(keys[0], hash);
        signatures[1] = signatures[0];
        op.signature = abi.encode(signers, signatures);
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        vm.prank(bundler, bundler);
        vm.expectRevert(abi.encodeWithSelector(AAEntryPoint.FailedOp.selector, 0, "AA24 signature error"));
        entryPoint.handleOps(ops, payable(bundler));
    }

    // ------------------------------------------------------------------ ERC-1271 needs the high threshold

    function _personalDigest(bytes32 hash) internal view returns (bytes32) {
        (, string memory name, string memory version, uint256 chainId, address verifying, , ) = account.eip712Domain();
        bytes32 domain = keccak256(
            abi.encode(EIP712_DOMAIN_TYPEHASH, keccak256(bytes(name)), keccak256(bytes(version)), chainId, verifying)
        );
        return MessageHashUtils.toTypedDataHash(domain, ERC7739Utils.personalSignStructHash(hash));
    }

    function test_erc1271NeedsTheHighThreshold() public view {
        bytes32 hash = keccak256("permit: spender may take 10,000");
        bytes32 digest = _personalDigest(hash);
        bytes memory oneDevice = _signature(digest, _one(0), false);
        assertEq(account.isValidSignature(hash, oneDevice), bytes4(0xffffffff), "one device cannot sign a permit");
        bytes memory operatorSig = _signature(digest, new uint256[](0), true);
        assertEq(account.isValidSignature(hash, operatorSig), IERC1271.isValidSignature.selector);
        bytes memory allDevices = _signature(digest, _all(), false);
        assertEq(account.isValidSignature(hash, allDevices), IERC1271.isValidSignature.selector);
    }

    // ------------------------------------------------------------------ reentrancy

    function test_reenteringCounterpartyGetsNothingMore() public {
        ReenteringCounterparty evil = new ReenteringCounterparty(account, AAEntryPoint(address(entryPoint)));
        IDeviceAccount.CounterpartyLimits memory limits = _sellerLimits();
        _change(
            account,
            abi.encodeCall(IDeviceAccountChanges.setCounterpartyLimits, (address(0), address(evil), limits))
        );
        _attest(keys[0], MEASUREMENT_V1, 5);
        _pay(account, 0, _call(address(evil), 1 ether, ""));
        assertEq(address(evil).balance, 1 ether);
        assertFalse(evil.reentered());
    }
}
