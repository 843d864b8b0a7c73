// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {PackedUserOperation} from "@account-abstraction/contracts/interfaces/PackedUserOperation.sol";
import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {DeviceAccount} from "../../contracts/accounts/DeviceAccount.sol";
import {DevicePaymaster} from "../../contracts/accounts/DevicePaymaster.sol";
import {IDeviceAccount} from "../../contracts/interfaces/IDeviceAccount.sol";
import {AccountFixture} from "./AccountFixture.sol";

/// @notice The account fixture plus a staked DevicePaymaster, the default account registered by its operator
/// with an operator budget and a balance, and helpers that build sponsored UserOperations.
abstract contract PaymasterFixture is AccountFixture {
    uint256 internal constant STAKE = 1 ether;
    uint32 internal constant UNSTAKE_DELAY = 1 days;
    uint96 internal constant OPERATOR_CAP = 1 ether;
    uint32 internal constant BUDGET_PERIOD = 1 days;
    uint256 internal constant FUNDS = 5 ether;
    uint128 internal constant PM_VERIFICATION_GAS = 300_000;
    uint128 internal constant PM_POST_OP_GAS = 40_000;

    DevicePaymaster internal paymaster;
    DeviceAccount internal account;
    address internal paymasterOwner = makeAddr("paymasterOwner");

    function setUp() public virtual override {
        super.setUp();
        paymaster = new DevicePaymaster(factory, paymasterOwner);
        vm.deal(paymasterOwner, STAKE);
        vm.prank(paymasterOwner);
        paymaster.addStake{value: STAKE}(UNSTAKE_DELAY);
        account = _createDefault();
        vm.startPrank(accountOperator);
        paymaster.registerAccount(_defaultSetup(), SALT);
        paymaster.setOperatorBudget(OPERATOR_CAP, BUDGET_PERIOD);
        vm.stopPrank();
        _fund(accountOperator, FUNDS);
    }

    function _fund(address who, uint256 amount) internal {
        vm.deal(address(this), amount);
        paymaster.fund{value: amount}(who);
    }

    /// @notice paymasterAndData for EntryPoint v0.8: paymaster ‖ verification gas ‖ postOp gas ‖ uint48 landsAt.
    function _paymasterAndData(uint256 landsAt, uint128 postOpGas) internal view returns (bytes memory) {
        return abi.encodePacked(address(paymaster), PM_VERIFICATION_GAS, postOpGas, uint48(landsAt));
    }

    /// @notice An unsigned sponsored operation meant to land at `at`.
    function _sponsoredOp(
        address sender,
        Execution[] memory batch,
        uint256 landsAt
    ) internal view returns (PackedUserOperation memory op) {
        op = _op(sender, batch);
        op.paymasterAndData = _paymasterAndData(landsAt, PM_POST_OP_GAS);
    }

    /// @notice A sponsored operation meant to land now, signed by the given devices.
    function _signedSponsoredOp(
        address sender,
        Execution[] memory batch,
        uint256[] memory devices
    ) internal view returns (PackedUserOperation memory op) {
        op = _sponsoredOp(sender, batch, block.timestamp);
        op.signature = _signature(_hash(op), devices, false);
    }

    function _signOp(PackedUserOperation memory op, uint256[] memory devices, bool withOperator) internal view {
        op.signature = _signature(_hash(op), devices, withOperator);
    }

    /// @notice The EntryPoint's requiredPreFund of `op` (what validation reserves).
    function _maxCost(PackedUserOperation memory op) internal pure returns (uint256) {
        uint256 gas =
            uint128(uint256(op.accountGasLimits >> 128)) +
                uint128(uint256(op.accountGasLimits)) +
                op.preVerificationGas;
        if (op.paymasterAndData.length >= 52) {
            bytes memory pad = op.paymasterAndData;
            uint256 word1;
            uint256 word2;
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                word1 := mload(add(pad, 52)) // bytes 20..51: verification gas ‖ postOp gas
                word2 := mload(add(pad, 68)) // bytes 36..67
            }
            gas += (word1 >> 128) + (word2 >> 128);
        }
        return gas * uint128(uint256(op.gasFees));
    }

    /// @notice A second account of the same operator (another salt).
    function _createOther(bytes32 salt) internal returns (DeviceAccount other) {
        other = DeviceAccount(payable(factory.createAccount(_defaultSetup(), salt)));
        token.mint(address(other), 10_000 ether);
    }

    /// @notice The default setup run by another operator.
    function _setupOf(address op) internal view returns (IDeviceAccount.Setup memory setup) {
        setup = _defaultSetup();
        setup.config.operator = op;
    }

    /// @notice The start of the budget window after the current one.
    function _nextWindow(uint256 period) internal view returns (uint256) {
        return (block.timestamp / period + 1) * period;
    }
}
