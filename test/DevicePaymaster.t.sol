// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IEntryPoint as AAEntryPoint} from "@account-abstraction/contracts/interfaces/IEntryPoint.sol";
import {PackedUserOperation} from "@account-abstraction/contracts/interfaces/PackedUserOperation.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Paymaster} from "@openzeppelin/contracts/account/paymaster/Paymaster.sol";
import {
    IPaymaster,
    PackedUserOperation as OZPackedUserOperation
} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
// solhint-disable-next-line no-console
import {console} from "forge-std/console.sol";
import {DeviceAccount} from "../contracts/accounts/DeviceAccount.sol";
import {DeviceAccountFactory} from "../contracts/accounts/DeviceAccountFactory.sol";
import {DevicePaymaster} from "../contracts/accounts/DevicePaymaster.sol";
import {IDeviceAccount, IDeviceAccountChanges} from "../contracts/interfaces/IDeviceAccount.sol";
import {IDevicePaymaster} from "../contracts/interfaces/IDevicePaymaster.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {PaymasterFixture} from "./utils/PaymasterFixture.sol";

contract DevicePaymasterTest is PaymasterFixture {
    address internal otherOperator = makeAddr("otherOperator");

    // ------------------------------------------------------------------ helpers

    function _preview(
        PackedUserOperation memory op
    ) internal view returns (IDevicePaymaster.Refusal refusal, uint48 validAfter, uint48 validUntil) {
        // The two PackedUserOperation declarations (account-abstraction's, OpenZeppelin's) share one ABI.
        (bool ok, bytes memory answer) = address(paymaster).staticcall(
            abi.encodeWithSelector(IDevicePaymaster.previewSponsorship.selector, op)
        );
        assertTrue(ok, "previewSponsorship reverted");
        (refusal, validAfter, validUntil, ) = abi.decode(answer, (IDevicePaymaster.Refusal, uint48, uint48, uint256));
    }

    function _handleFails(PackedUserOperation memory op, string memory reason) internal {
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        vm.prank(bundler, bundler);
        vm.expectRevert(abi.encodeWithSelector(AAEntryPoint.FailedOp.selector, 0, reason));
        entryPoint.handleOps(ops, payable(bundler));
    }

    /// @dev The preview names the refusal and the EntryPoint refuses the operation (AA34: SIG_VALIDATION_FAILED).
    function _assertRefused(PackedUserOperation memory op, IDevicePaymaster.Refusal expected) internal {
        (IDevicePaymaster.Refusal refusal, , ) = _preview(op);
        assertEq(uint8(refusal), uint8(expected), "refusal");
        _handleFails(op, "AA34 signature error");
    }

    function _pay1() internal view returns (PackedUserOperation memory) {
        return _signedSponsoredOp(address(account), _transfer(seller, 1 ether), _one(0));
    }

    function _deposit() internal view returns (uint256) {
        return entryPoint.balanceOf(address(paymaster));
    }

    /// @dev Sends `op` and checks what the operator was charged against what the deposit paid.
    function _handleAndCheckCharge(PackedUserOperation memory op) internal returns (uint256 charged, uint256 paid) {
        uint256 funds = paymaster.fundsOf(accountOperator);
        uint256 deposit = _deposit();
        uint256 surplus = paymaster.surplus();
        _handle(op);
        charged = funds - paymaster.fundsOf(accountOperator);
        paid = deposit - _deposit();
        assertGe(charged, paid, "charged at least what the deposit paid");
        assertEq(paymaster.surplus(), surplus + charged - paid, "the margin stays in the surplus");
        assertLe(charged, _maxCost(op), "charged at most the reservation");
    }

    // ------------------------------------------------------------------ construction

    function test_constructor_readsTheFactory() public view {
        assertEq(address(paymaster.FACTORY()), address(factory));
        assertEq(address(paymaster.REGISTRY()), address(registry));
        assertEq(paymaster.VERIFIER(), address(verifier));
        assertEq(address(paymaster.entryPoint()), address(entryPoint));
        assertEq(paymaster.owner(), paymasterOwner);
        assertEq(entryPoint.getDepositInfo(address(paymaster)).stake, STAKE);
    }

    function test_constructor_RevertWhen_FactoryHasNoCode() public {
        vm.expectRevert(IDevicePaymaster.DevicePaymasterInvalidSetup.selector);
        new DevicePaymaster(DeviceAccountFactory(address(0)), paymasterOwner);
    }

    // ------------------------------------------------------------------ registration

    function test_registerAccount_byItsOperator() public {
        DeviceAccount other = _createOther(keccak256("vehicle-2"));
        vm.expectEmit(true, true, false, true, address(paymaster));
        emit IDevicePaymaster.AccountRegistered(address(other), accountOperator);
        vm.prank(accountOperator);
        address registered = paymaster.registerAccount(_defaultSetup(), keccak256("vehicle-2"));
        assertEq(registered, address(other));
        assertEq(paymaster.sponsorOf(address(other)), accountOperator);
    }

    function test_registerAccount_RevertWhen_CallerIsNotTheOperator() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IDevicePaymaster.DevicePaymasterNotAccountOperator.selector,
                address(account),
                accountOperator,
                otherOperator
            )
        );
        vm.prank(otherOperator);
        paymaster.registerAccount(_defaultSetup(), SALT);
    }

    function test_registerAccount_RevertWhen_CounterfactualAccountOfAnotherOperator() public {
        IDeviceAccount.Setup memory setup = _setupOf(otherOperator);
        address predicted = factory.accountAddress(setup, SALT);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDevicePaymaster.DevicePaymasterNotAccountOperator.selector,
                predicted,
                otherOperator,
                accountOperator
            )
        );
        vm.prank(accountOperator);
        paymaster.registerAccount(setup, SALT);
    }

    function test_registerAccount_beforeDeployment_sponsorsTheFirstOperation() public {
        IDeviceAccount.Setup memory setup = _defaultSetup();
        bytes32 salt = keccak256("vehicle-3");
        address predicted = factory.accountAddress(setup, salt);
        vm.prank(accountOperator);
        paymaster.registerAccount(setup, salt);
        token.mint(predicted, 100 ether);
        PackedUserOperation memory op = _sponsoredOp(predicted, _transfer(seller, 10 ether), block.timestamp);
        op.accountGasLimits = bytes32((uint256(2_000_000) << 128) | 600_000);
        op.initCode = abi.encodePacked(address(factory), abi.encodeCall(factory.createAccount, (setup, salt)));
        _signOp(op, _one(0), false);
        _handleAndCheckCharge(op);
        assertEq(token.balanceOf(seller), 10 ether);
        assertEq(predicted.balance, 0, "the account paid no gas");
    }

    function test_registerAccount_followsAnOperatorChange() public {
        IDeviceAccount.Config memory moved = _config();
        moved.operator = otherOperator;
        _change(account, abi.encodeCall(IDeviceAccountChanges.setConfig, (moved)));
        _attest(keys[0], MEASUREMENT_V1, 2);
        _assertRefused(_pay1(), IDevicePaymaster.Refusal.OperatorChanged);

        vm.expectRevert(
            abi.encodeWithSelector(
                IDevicePaymaster.DevicePaymasterNotAccountOperator.selector,
                address(account),
                otherOperator,
                accountOperator
            )
        );
        vm.prank(accountOperator);
        paymaster.registerAccount(_defaultSetup(), SALT);

        // The new operator takes over with the original setup (the address commits to it) and its own money.
        vm.startPrank(otherOperator);
        paymaster.registerAccount(_defaultSetup(), SALT);
        paymaster.setOperatorBudget(OPERATOR_CAP, BUDGET_PERIOD);
        vm.stopPrank();
        _fund(otherOperator, 1 ether);
        uint256 before = paymaster.fundsOf(accountOperator);
        _handle(_pay1());
        assertEq(paymaster.fundsOf(accountOperator), before, "the former operator pays nothing");
        assertLt(paymaster.fundsOf(otherOperator), 1 ether);
    }

    function test_unregisterAccount_onlyBySponsor() public {
        vm.expectRevert(
            abi.encodeWithSelector(IDevicePaymaster.DevicePaymasterNotSponsor.selector, address(account), stranger)
        );
        vm.prank(stranger);
        paymaster.unregisterAccount(address(account));

        vm.expectEmit(true, true, false, true, address(paymaster));
        emit IDevicePaymaster.AccountUnregistered(address(account), accountOperator);
        vm.prank(accountOperator);
        paymaster.unregisterAccount(address(account));
        assertEq(paymaster.sponsorOf(address(account)), address(0));
        _assertRefused(_pay1(), IDevicePaymaster.Refusal.NotSponsored);
    }

    // ------------------------------------------------------------------ budgets

    function test_setOperatorBudget_RevertWhen_PeriodIsZero() public {
        vm.expectRevert(abi.encodeWithSelector(IDevicePaymaster.DevicePaymasterInvalidBudget.selector, 1, 0));
        vm.prank(accountOperator);
        paymaster.setOperatorBudget(1, 0);
    }

    function test_setOperatorBudget_storesAndEmits() public {
        vm.expectEmit(true, false, false, true, address(paymaster));
        emit IDevicePaymaster.OperatorBudgetSet(otherOperator, 7, 3_600);
        vm.prank(otherOperator);
        paymaster.setOperatorBudget(7, 3_600);
        IDevicePaymaster.Budget memory b = paymaster.operatorBudget(otherOperator);
        assertEq(b.cap, 7);
        assertEq(b.period, 3_600);
        assertEq(b.window, block.timestamp / 3_600);
        assertEq(b.spent, 0);
    }

    function test_setOperatorBudget_newPeriodKeepsWhatTheWindowSpent() public {
        (uint256 charged, ) = _handleAndCheckCharge(_pay1());
        assertEq(paymaster.operatorBudget(accountOperator).spent, charged, "the reservation's rest was released");
        vm.prank(accountOperator);
        paymaster.setOperatorBudget(OPERATOR_CAP, 1 hours);
        IDevicePaymaster.Budget memory b = paymaster.operatorBudget(accountOperator);
        assertEq(b.spent, charged, "a new period buys no new room");
        assertEq(b.window, block.timestamp / 1 hours);
        assertEq(paymaster.remaining(b, block.timestamp), OPERATOR_CAP - charged);
        assertEq(paymaster.remaining(b, block.timestamp + 1 hours), OPERATOR_CAP);
    }

    function test_setAccountBudget_onlyBySponsor() public {
        vm.expectRevert(
            abi.encodeWithSelector(IDevicePaymaster.DevicePaymasterNotSponsor.selector, address(account), otherOperator)
        );
        vm.prank(otherOperator);
        paymaster.setAccountBudget(address(account), 1 ether, 1 days);
    }

    function test_setAccountBudget_RevertWhen_CapWithoutPeriod() public {
        vm.expectRevert(abi.encodeWithSelector(IDevicePaymaster.DevicePaymasterInvalidBudget.selector, 5, 0));
        vm.prank(accountOperator);
        paymaster.setAccountBudget(address(account), 5, 0);
    }

    function test_setAccountBudget_setsAndClears() public {
        vm.expectEmit(true, true, false, true, address(paymaster));
        emit IDevicePaymaster.AccountBudgetSet(address(account), accountOperator, 0.01 ether, 1 hours);
        vm.prank(accountOperator);
        paymaster.setAccountBudget(address(account), 0.01 ether, 1 hours);
        assertEq(paymaster.accountBudget(address(account)).cap, 0.01 ether);
        vm.prank(accountOperator);
        paymaster.setAccountBudget(address(account), 0, 0);
        assertEq(paymaster.accountBudget(address(account)).period, 0);
    }

    // ------------------------------------------------------------------ funds

    function test_fund_anyoneFundsAnOperator() public {
        vm.deal(stranger, 2 ether);
        vm.expectEmit(true, true, false, true, address(paymaster));
        emit IDevicePaymaster.Funded(otherOperator, stranger, 2 ether, 2 ether);
        vm.prank(stranger);
        paymaster.fund{value: 2 ether}(otherOperator);
        assertEq(paymaster.fundsOf(otherOperator), 2 ether);
        assertEq(paymaster.totalFunds(), FUNDS + 2 ether);
        assertEq(_deposit(), FUNDS + 2 ether);
        assertEq(paymaster.surplus(), 0);
    }

    function test_fund_RevertWhen_ZeroValueOrOperator() public {
        vm.expectRevert(IDevicePaymaster.DevicePaymasterZeroAmount.selector);
        paymaster.fund(otherOperator);
        vm.deal(address(this), 1);
        vm.expectRevert(IDevicePaymaster.DevicePaymasterZeroAmount.selector);
        paymaster.fund{value: 1}(address(0));
    }

    function test_withdraw_onlyTheCallersOwnFunds() public {
        address payable to = payable(makeAddr("treasury"));
        vm.expectRevert(
            abi.encodeWithSelector(IDevicePaymaster.DevicePaymasterInsufficientFunds.selector, otherOperator, 0, 1)
        );
        vm.prank(otherOperator);
        paymaster.withdraw(to, 1);

        vm.expectEmit(true, true, false, true, address(paymaster));
        emit IDevicePaymaster.Withdrawn(accountOperator, to, 2 ether, FUNDS - 2 ether);
        vm.prank(accountOperator);
        paymaster.withdraw(to, 2 ether);
        assertEq(to.balance, 2 ether);
        assertEq(paymaster.fundsOf(accountOperator), FUNDS - 2 ether);
        assertEq(_deposit(), FUNDS - 2 ether);
    }

    function test_withdraw_RevertWhen_MoreThanTheFundsOrZero() public {
        vm.startPrank(accountOperator);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDevicePaymaster.DevicePaymasterInsufficientFunds.selector,
                accountOperator,
                FUNDS,
                FUNDS + 1
            )
        );
        paymaster.withdraw(payable(accountOperator), FUNDS + 1);
        vm.expectRevert(IDevicePaymaster.DevicePaymasterZeroAmount.selector);
        paymaster.withdraw(payable(accountOperator), 0);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ owner

    function test_ownerFunctions_RevertWhen_NotOwner() public {
        vm.deal(stranger, 1 ether);
        vm.startPrank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        paymaster.addStake{value: 1 ether}(UNSTAKE_DELAY);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        paymaster.unlockStake();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        paymaster.withdrawStake(payable(stranger));
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        paymaster.withdrawSurplus(payable(stranger), 1);
        vm.stopPrank();
    }

    function test_unlockAndWithdrawStake() public {
        vm.prank(paymasterOwner);
        paymaster.unlockStake();
        vm.warp(block.timestamp + UNSTAKE_DELAY);
        vm.prank(paymasterOwner);
        paymaster.withdrawStake(payable(paymasterOwner));
        assertEq(paymasterOwner.balance, STAKE);
        assertEq(_deposit(), FUNDS, "operators' balances untouched");
    }

    function test_withdrawSurplus_onlyWhatBelongsToNoOperator() public {
        vm.deal(address(this), 1 ether);
        entryPoint.depositTo{value: 1 ether}(address(paymaster));
        assertEq(paymaster.surplus(), 1 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IDevicePaymaster.DevicePaymasterInsufficientSurplus.selector, 1 ether, 1 ether + 1)
        );
        vm.prank(paymasterOwner);
        paymaster.withdrawSurplus(payable(paymasterOwner), 1 ether + 1);
        vm.expectEmit(true, false, false, true, address(paymaster));
        emit IDevicePaymaster.SurplusWithdrawn(paymasterOwner, 1 ether);
        vm.prank(paymasterOwner);
        paymaster.withdrawSurplus(payable(paymasterOwner), 1 ether);
        assertEq(paymasterOwner.balance, 1 ether);
        assertEq(_deposit(), paymaster.totalFunds());
    }

    // ------------------------------------------------------------------ ERC-4337 entry points

    function test_validateAndPostOp_RevertWhen_NotEntryPoint() public {
        OZPackedUserOperation memory op = abi.decode(abi.encode(_pay1()), (OZPackedUserOperation));
        vm.expectRevert(abi.encodeWithSelector(Paymaster.PaymasterUnauthorized.selector, stranger));
        vm.prank(stranger);
        paymaster.validatePaymasterUserOp(op, bytes32(0), 1 ether);
        vm.expectRevert(abi.encodeWithSelector(Paymaster.PaymasterUnauthorized.selector, stranger));
        vm.prank(stranger);
        paymaster.postOp(IPaymaster.PostOpMode.opSucceeded, new bytes(97), 0, 0);
    }

    // ------------------------------------------------------------------ sponsoring

    function test_sponsoredPayment_chargesTheOperatorNotTheAccount() public {
        PackedUserOperation memory op = _pay1();
        uint256 accountBalance = address(account).balance;
        vm.expectEmit(true, true, true, true, address(paymaster));
        emit IDevicePaymaster.SponsorshipReserved(_hash(op), address(account), accountOperator, _maxCost(op));
        vm.expectEmit(true, true, true, false, address(paymaster));
        emit IDevicePaymaster.UserOperationSponsored(_hash(op), address(account), accountOperator, 0, 0);
        (uint256 charged, uint256 paid) = _handleAndCheckCharge(op);
        assertEq(token.balanceOf(seller), 1 ether);
        assertEq(address(account).balance, accountBalance, "the account paid no gas");
        assertLt(charged - paid, 10_000 gwei, "the margin is small (under 10k gas at 1 gwei)");
        assertEq(paymaster.operatorBudget(accountOperator).spent, charged);
        // solhint-disable-next-line no-console
        console.log("charged %d, deposit paid %d, margin (gas) %d", charged, paid, (charged - paid) / 1 gwei);
    }

    function test_sponsoredPayment_chargedWhenTheExecutionReverts() public {
        // A stranger is not an allowed counterparty: the account's execution reverts (opReverted), gas is spent.
        PackedUserOperation memory op = _signedSponsoredOp(address(account), _transfer(stranger, 1 ether), _one(0));
        (uint256 charged, ) = _handleAndCheckCharge(op);
        assertGt(charged, 0);
        assertEq(token.balanceOf(stranger), 0);
    }

    function test_sponsoredPayment_chargesTheWorstPostOpPenalty() public {
        PackedUserOperation memory op = _sponsoredOp(address(account), _transfer(seller, 1 ether), block.timestamp);
        op.paymasterAndData = _paymasterAndData(block.timestamp, 400_000);
        _signOp(op, _one(0), false);
        (uint256 charged, uint256 paid) = _handleAndCheckCharge(op);
        // The EntryPoint took ~10% of the ~390k unused postOp gas; the charge priced 40k.
        assertGt(paid, 40_000 gwei);
        assertGe(charged, paid);
    }

    function test_operatorSignedOperationIsSponsored() public {
        PackedUserOperation memory op = _sponsoredOp(
            address(account),
            _transfer(accountOperator, 5 ether),
            block.timestamp
        );
        _signOp(op, new uint256[](0), true);
        _handleAndCheckCharge(op);
        assertEq(token.balanceOf(accountOperator), 5 ether);
    }

    function test_secp256k1DeviceIsSponsored() public {
        _handleAndCheckCharge(_signedSponsoredOp(address(account), _transfer(seller, 1 ether), _one(2)));
        assertEq(token.balanceOf(seller), 1 ether);
    }

    // ------------------------------------------------------------------ refusals, one per rule

    function test_refuses_InvalidPaymasterData() public {
        PackedUserOperation memory op = _pay1();
        op.paymasterAndData = abi.encodePacked(address(paymaster), PM_VERIFICATION_GAS, PM_POST_OP_GAS);
        _signOp(op, _one(0), false);
        _assertRefused(op, IDevicePaymaster.Refusal.InvalidPaymasterData);
        op.paymasterAndData = abi.encodePacked(_paymasterAndData(block.timestamp, PM_POST_OP_GAS), uint8(0));
        _signOp(op, _one(0), false);
        _assertRefused(op, IDevicePaymaster.Refusal.InvalidPaymasterData);
    }

    function test_refuses_PostOpGasTooLow() public {
        PackedUserOperation memory op = _pay1();
        op.paymasterAndData = _paymasterAndData(block.timestamp, uint128(paymaster.MIN_POST_OP_GAS() - 1));
        _signOp(op, _one(0), false);
        _assertRefused(op, IDevicePaymaster.Refusal.PostOpGasTooLow);
    }

    function test_refuses_NotSponsored() public {
        DeviceAccount other = _createOther(keccak256("unregistered"));
        _assertRefused(
            _signedSponsoredOp(address(other), _transfer(seller, 1 ether), _one(0)),
            IDevicePaymaster.Refusal.NotSponsored
        );
    }

    function test_refuses_InvalidSignature() public view {
        PackedUserOperation memory op = _pay1();
        op.signature = hex"1234";
        (IDevicePaymaster.Refusal refusal, , ) = _preview(op);
        assertEq(uint8(refusal), uint8(IDevicePaymaster.Refusal.InvalidSignature));
        op.signature = abi.encode(new bytes[](1), new bytes[](0));
        (refusal, , ) = _preview(op);
        assertEq(uint8(refusal), uint8(IDevicePaymaster.Refusal.InvalidSignature));
    }

    function test_refuses_SuspendedDevice() public {
        vm.prank(operator);
        registry.suspend(ids[0], "maintenance");
        _assertRefused(_pay1(), IDevicePaymaster.Refusal.Untrusted);
        // Another, trusted device of the account is still sponsored.
        _handleAndCheckCharge(_signedSponsoredOp(address(account), _transfer(seller, 1 ether), _one(1)));
    }

    function test_refuses_DeviceWithAnIncident() public {
        vm.prank(suspender);
        registry.recordIncident(ids[0], "slashed");
        vm.prank(governor);
        registry.reinstate(ids[0]);
        _attest(keys[0], MEASUREMENT_V1, 2);
        assertTrue(registry.isTrusted(ids[0], MAX_AGE));
        _assertRefused(_pay1(), IDevicePaymaster.Refusal.Untrusted);
    }

    function test_refuses_RevokedFirmware() public {
        _revokeFirmware(1);
        _assertRefused(_pay1(), IDevicePaymaster.Refusal.Untrusted);
    }

    function test_refuses_RotatedAwayKey() public {
        _rotate(ids[0], keys[0], _p256Key(0xF256_3));
        // The old key still validates in the account (its own copy), but it is no longer the device's.
        _assertRefused(_pay1(), IDevicePaymaster.Refusal.Untrusted);
    }

    function test_refuses_LockedAccountBelowTheHighThreshold() public {
        _pay(account, 0, _transfer(seller, 300 ether));
        vm.warp(block.timestamp + 10 minutes);
        _pay(account, 1, _transfer(seller, 300 ether)); // trips the breaker
        assertTrue(account.locked());
        _assertRefused(_pay1(), IDevicePaymaster.Refusal.Untrusted);
        // The operator (high threshold) still gets its operation sponsored.
        PackedUserOperation memory op = _sponsoredOp(
            address(account),
            _call(address(account), 0, abi.encodeCall(account.unlock, ())),
            block.timestamp
        );
        _signOp(op, new uint256[](0), true);
        _handleAndCheckCharge(op);
        assertFalse(account.locked());
    }

    function test_refuses_StaleAttestation_throughValidUntil() public {
        uint256 attestedAt = _attestedAt(ids[0]);
        vm.warp(attestedAt + MAX_AGE + 1);
        PackedUserOperation memory op = _pay1();
        (IDevicePaymaster.Refusal refusal, , uint48 validUntil) = _preview(op);
        assertEq(uint8(refusal), uint8(IDevicePaymaster.Refusal.OutOfTimeRange));
        assertEq(validUntil, attestedAt + MAX_AGE, "trusted up to the attestation's last second");
        _handleFails(op, "AA32 paymaster expired or not due");
    }

    function test_deprecatedFirmware_validUntilItsSunset() public {
        uint64 sunset = uint64(block.timestamp + 1 hours);
        assertLt(sunset, _nextWindow(BUDGET_PERIOD), "the sunset falls inside the budget window");
        _deprecate(1, sunset);
        (IDevicePaymaster.Refusal refusal, , uint48 validUntil) = _preview(_pay1());
        assertEq(uint8(refusal), uint8(IDevicePaymaster.Refusal.None));
        assertEq(validUntil, sunset - 1);
        vm.warp(sunset);
        assertFalse(registry.isTrustedKey(ids[0], DeviceId.unwrap(ids[0]), MAX_AGE));
        _handleFails(_pay1(), "AA32 paymaster expired or not due");
    }

    function test_refuses_NoOperatorBudget() public {
        vm.startPrank(otherOperator);
        DeviceAccount other = DeviceAccount(payable(factory.createAccount(_setupOf(otherOperator), SALT)));
        paymaster.registerAccount(_setupOf(otherOperator), SALT);
        vm.stopPrank();
        token.mint(address(other), 100 ether);
        _fund(otherOperator, 1 ether);
        _assertRefused(
            _signedSponsoredOp(address(other), _transfer(seller, 1 ether), _one(0)),
            IDevicePaymaster.Refusal.OperatorBudgetExceeded
        );
    }

    function test_refuses_OperatorBudgetExceeded() public {
        PackedUserOperation memory op = _pay1();
        vm.prank(accountOperator);
        paymaster.setOperatorBudget(uint96(_maxCost(op) - 1), BUDGET_PERIOD);
        _assertRefused(op, IDevicePaymaster.Refusal.OperatorBudgetExceeded);
    }

    function test_refuses_AccountBudgetExceeded() public {
        PackedUserOperation memory op = _pay1();
        vm.prank(accountOperator);
        paymaster.setAccountBudget(address(account), uint96(_maxCost(op) - 1), 1 hours);
        _assertRefused(op, IDevicePaymaster.Refusal.AccountBudgetExceeded);
    }

    function test_refuses_InsufficientFunds() public {
        PackedUserOperation memory op = _pay1();
        vm.prank(accountOperator);
        paymaster.withdraw(payable(accountOperator), FUNDS - _maxCost(op) + 1);
        // The shared deposit could pay (another operator's balance is in it): the operator's own balance cannot.
        _fund(otherOperator, 1 ether);
        assertGe(_deposit(), _maxCost(op));
        _assertRefused(op, IDevicePaymaster.Refusal.InsufficientFunds);
        assertEq(paymaster.fundsOf(otherOperator), 1 ether);
    }

    function test_accountBudget_capsOneAccountWithinTheOperators() public {
        uint256 maxCost = _maxCost(_pay1());
        vm.prank(accountOperator);
        paymaster.setAccountBudget(address(account), uint96(maxCost + maxCost / 2), 1 hours);
        _handleAndCheckCharge(_pay1());
        // One charged operation (well below its reservation) leaves room for a second reservation.
        _handleAndCheckCharge(_pay1());
        IDevicePaymaster.Budget memory b = paymaster.accountBudget(address(account));
        assertLe(b.spent, b.cap);
        if (b.cap - b.spent < maxCost) _assertRefused(_pay1(), IDevicePaymaster.Refusal.AccountBudgetExceeded);
        // The next hour's window has room again.
        vm.warp(_nextWindow(1 hours));
        _handleAndCheckCharge(_pay1());
    }

    // ------------------------------------------------------------------ time: windows and horizons

    function test_periodBoundary_operationThatMissesItsWindowIsNotIncluded() public {
        uint256 boundary = _nextWindow(BUDGET_PERIOD);
        vm.warp(boundary - 1);
        PackedUserOperation memory op = _pay1(); // at = the window's last second
        (, uint48 validAfter, uint48 validUntil) = _preview(op);
        assertEq(validAfter, boundary - BUDGET_PERIOD - 1);
        assertEq(validUntil, boundary - 1);
        vm.warp(boundary);
        _attest(keys[0], MEASUREMENT_V1, 2);
        _handleFails(op, "AA32 paymaster expired or not due");
        // Re-signed for the new window, it lands there, in the new window's budget.
        op = _pay1();
        (uint256 charged, ) = _handleAndCheckCharge(op);
        assertEq(paymaster.operatorBudget(accountOperator).window, boundary / BUDGET_PERIOD);
        assertEq(paymaster.operatorBudget(accountOperator).spent, charged);
    }

    function test_futureWindow_notDueYet() public {
        PackedUserOperation memory op = _sponsoredOp(
            address(account),
            _transfer(seller, 1 ether),
            _nextWindow(BUDGET_PERIOD)
        );
        _signOp(op, _one(0), false);
        _handleFails(op, "AA32 paymaster expired or not due");
    }

    function test_horizon_isWhereTheTrustedWeightFallsBelowTheThreshold() public {
        // An account whose low threshold is two devices; the devices' attestations age at different times.
        IDeviceAccount.Setup memory setup = _defaultSetup();
        setup.lowThreshold = 2;
        bytes32 salt = keccak256("two of three");
        DeviceAccount two = DeviceAccount(payable(factory.createAccount(setup, salt)));
        token.mint(address(two), 100 ether);
        vm.prank(accountOperator);
        paymaster.registerAccount(setup, salt);
        uint256 t0 = block.timestamp;
        vm.warp(t0 + 1 hours);
        _attest(keys[1], MEASUREMENT_V1, 2);
        vm.warp(t0 + 2 hours);
        _attest(keys[2], MEASUREMENT_V1, 2);
        PackedUserOperation memory op = _sponsoredOp(address(two), _transfer(seller, 1 ether), block.timestamp);
        _signOp(op, _all(), false);
        (IDevicePaymaster.Refusal refusal, , uint48 validUntil) = _preview(op);
        assertEq(uint8(refusal), uint8(IDevicePaymaster.Refusal.None));
        assertEq(validUntil, _attestedAt(ids[1]) + MAX_AGE, "two devices stay trusted until the second-latest expiry");
        _handleAndCheckCharge(op);
    }

    /// @notice deviceTrustedUntil is isTrustedKey without the clock, in every state the registry can be in.
    function testFuzz_deviceTrustedUntil_matchesIsTrustedKey(uint8 scenario, uint256 elapsed) public {
        scenario = uint8(bound(scenario, 0, 5));
        elapsed = bound(elapsed, 0, 3 * MAX_AGE);
        _trustScenario(scenario);
        vm.warp(block.timestamp + elapsed);
        for (uint256 i; i < 3; ++i) {
            bytes32 keyHash = registry.deviceInfo(ids[i]).keyHash;
            uint256 until = paymaster.deviceTrustedUntil(ids[i], keyHash, MAX_AGE);
            assertEq(registry.isTrustedKey(ids[i], keyHash, MAX_AGE), block.timestamp <= until, "current key");
            // The device's first key after a rotation: never trusted.
            bytes32 first = DeviceId.unwrap(ids[i]);
            if (first != keyHash) assertEq(paymaster.deviceTrustedUntil(ids[i], first, MAX_AGE), 0);
        }
    }

    function test_deviceTrustedUntil_matchesIsTrustedKey() public {
        for (uint8 s; s < 6; ++s) {
            uint256 snapshot = vm.snapshotState();
            testFuzz_deviceTrustedUntil_matchesIsTrustedKey(s, MAX_AGE);
            vm.revertToState(snapshot);
            snapshot = vm.snapshotState();
            testFuzz_deviceTrustedUntil_matchesIsTrustedKey(s, 10 minutes);
            vm.revertToState(snapshot);
        }
    }

    function _trustScenario(uint8 scenario) internal {
        if (scenario == 1) {
            vm.prank(operator);
            registry.suspend(ids[0], "maintenance");
        } else if (scenario == 2) {
            _revokeFirmware(1);
        } else if (scenario == 3) {
            _deprecate(1, uint64(block.timestamp + 3 hours));
        } else if (scenario == 4) {
            _rotate(ids[1], keys[1], _p256Key(0xF256_3));
        } else if (scenario == 5) {
            vm.prank(suspender);
            registry.recordIncident(ids[2], "slashed");
            vm.prank(governor);
            registry.reinstate(ids[2]);
            _attest(keys[2], MEASUREMENT_V1, 2);
        }
    }

    function _attestedAt(DeviceId id) internal view returns (uint256) {
        return registry.evidenceOf(id).timestamp;
    }

    // ------------------------------------------------------------------ fuzz: budgets and charges

    /// @notice Whatever the cap and period, a window's charges never exceed its cap, and an operation is refused
    /// exactly when the window has less room than its maximum cost.
    function testFuzz_budget_chargesStayWithinTheCap(uint96 cap, uint32 period, uint256 spacing) public {
        uint256 maxCost = _maxCost(_pay1());
        cap = uint96(bound(cap, 0, 6 * maxCost));
        period = uint32(bound(period, 1 minutes, 2 days));
        spacing = bound(spacing, 0, period);
        vm.prank(accountOperator);
        paymaster.setOperatorBudget(cap, period);
        uint256 window = type(uint256).max;
        uint256 windowCharges;
        for (uint256 i; i < 6; ++i) {
            if (block.timestamp / period != window) {
                window = block.timestamp / period;
                windowCharges = 0;
            }
            IDevicePaymaster.Budget memory b = paymaster.operatorBudget(accountOperator);
            uint256 room = paymaster.remaining(b, block.timestamp);
            PackedUserOperation memory op = _signedSponsoredOp(address(account), _transfer(seller, 1), _one(2));
            if (room < maxCost) {
                _assertRefused(op, IDevicePaymaster.Refusal.OperatorBudgetExceeded);
            } else {
                (uint256 charged, ) = _handleAndCheckCharge(op);
                windowCharges += charged;
            }
            assertLe(windowCharges, cap, "a window's charges stay within the cap");
            b = paymaster.operatorBudget(accountOperator);
            if (b.window == window) assertEq(b.spent, windowCharges, "spent is what the window charged");
            vm.warp(block.timestamp + spacing);
            _attest(keys[2], MEASUREMENT_V1, uint64(2 + i));
        }
    }

    function test_budget_chargesStayWithinTheCap() public {
        testFuzz_budget_chargesStayWithinTheCap(uint96(3 * _maxCost(_pay1())), 1 hours, 20 minutes);
    }

    /// @notice The validity range is the budget window that contains `at` (validAfter exclusive).
    function testFuzz_validRange_isTheWindowOfAt(uint32 period, uint256 offset) public {
        period = uint32(bound(period, 1, 30 days));
        offset = bound(offset, 0, 10 * uint256(period));
        vm.prank(accountOperator);
        paymaster.setOperatorBudget(OPERATOR_CAP, period);
        uint256 landsAt = block.timestamp + offset;
        PackedUserOperation memory op = _sponsoredOp(address(account), _transfer(seller, 1), landsAt);
        _signOp(op, _one(2), false);
        (IDevicePaymaster.Refusal refusal, uint48 validAfter, uint48 validUntil) = _preview(op);
        uint256 start = (landsAt / period) * period;
        assertEq(uint256(validAfter) + 1, start);
        uint256 trusted = _attestedAt(ids[2]) + MAX_AGE;
        if (start > trusted) {
            assertEq(
                uint8(refusal),
                uint8(IDevicePaymaster.Refusal.Untrusted),
                "the window opens after the trust ends"
            );
            return;
        }
        assertEq(validUntil, _min(start + period - 1, trusted));
        bool now_ = start <= block.timestamp && block.timestamp <= validUntil;
        assertEq(uint8(refusal), uint8(now_ ? IDevicePaymaster.Refusal.None : IDevicePaymaster.Refusal.OutOfTimeRange));
    }

    function test_validRange_isTheWindowOfAt() public {
        testFuzz_validRange_isTheWindowOfAt(1 hours, 0);
        testFuzz_validRange_isTheWindowOfAt(1 hours, 5 hours);
    }

    /// @notice Whatever postOp gas limit and fee the operation names, the operator is charged at least what
    /// the deposit paid (no operator's operations are paid from another's balance) and at most its reservation.
    function testFuzz_charge_coversTheDeposit(uint128 postOpGas, uint128 fee, bool reverts) public {
        postOpGas = uint128(bound(postOpGas, paymaster.MIN_POST_OP_GAS(), 1_000_000));
        fee = uint128(bound(fee, 1, 100 gwei));
        PackedUserOperation memory op = _sponsoredOp(
            address(account),
            _transfer(reverts ? stranger : seller, 1 ether),
            block.timestamp
        );
        op.paymasterAndData = _paymasterAndData(block.timestamp, postOpGas);
        op.gasFees = bytes32((uint256(fee) << 128) | fee);
        _signOp(op, _one(2), false);
        _handleAndCheckCharge(op);
    }

    function test_charge_coversTheDeposit() public {
        testFuzz_charge_coversTheDeposit(30_000, 1 gwei, false);
        testFuzz_charge_coversTheDeposit(1_000_000, 50 gwei, true);
    }

    // ------------------------------------------------------------------ gas

    /// @dev Calldata gas as a transaction pays it: 4 per zero byte, 16 per other byte.
    function _calldataGas(bytes memory data) private pure returns (uint256 gas) {
        for (uint256 i; i < data.length; ++i) gas += data[i] == 0 ? 4 : 16;
    }

    function _measure(string memory label, PackedUserOperation memory op) internal returns (uint256 total) {
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        bytes memory data = abi.encodeCall(AAEntryPoint.handleOps, (ops, payable(bundler)));
        vm.prank(bundler, bundler);
        uint256 before = gasleft();
        entryPoint.handleOps(ops, payable(bundler));
        uint256 used = before - gasleft();
        // A transaction pays 21,000 plus its calldata and finds the EntryPoint warm (the test paid 2,600 to
        // touch it cold).
        total = 21_000 + _calldataGas(data) + used - 2_600;
        // solhint-disable no-console
        console.log(label);
        console.log("  handleOps execution gas:", used, " calldata bytes:", data.length);
        console.log("  estimated whole tx:", total);
        // solhint-enable no-console
    }

    function test_gas_accountsPayErc20P256OneOfOneSponsored() public {
        PackedUserOperation memory op = _pay1();
        uint256 total = _measure("gas accounts.pay.erc20.p256.1of1.sponsored:", op);
        assertEq(token.balanceOf(seller), 1 ether);
        assertGt(total, 0);
    }

    function test_gas_accountsPayErc20P256OneOfOneUnsponsored() public {
        PackedUserOperation memory op = _op(address(account), _transfer(seller, 1 ether));
        _signOp(op, _one(0), false);
        _measure("gas accounts.pay.erc20.p256.1of1 (self-paid, same test conditions):", op);
        assertEq(token.balanceOf(seller), 1 ether);
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }
}
