// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {DeviceId} from "../types/DeviceId.sol";
import {IDeviceAccount} from "./IDeviceAccount.sol";

/// @title IDevicePaymaster
/// @notice An ERC-4337 paymaster through which device operators sponsor the gas of their machines' accounts
/// (DeviceAccounts from one DeviceAccountFactory). Each operator funds its own balance (ETH the paymaster
/// keeps in the EntryPoint, withdrawable by the operator alone), registers the accounts it sponsors, and caps
/// what they may cost per period: one budget for all its accounts and, optionally, one per account. An
/// operation is sponsored only if it will run: its device signers are trusted now with enough weight for the
/// account's low threshold (the account would refuse it otherwise, at the operator's expense).
/// @dev The client puts one field in paymasterData: `uint48 landsAt`, the time the operation is meant to land. The
/// paymaster reserves the operation's maximum cost in the budget windows that contain `landsAt` and returns that
/// window (and the signers' trust horizon) as validAfter/validUntil: the EntryPoint, not the paymaster, reads
/// the clock (ERC-7562 bans TIMESTAMP in validation), so an operation that misses its window is not included.
interface IDevicePaymaster {
    /// @notice A gas budget: at most `cap` wei of gas cost per fixed window of `period` seconds (window n is
    /// [n·period, (n+1)·period)). One storage slot.
    /// @param spent Charged (and reserved, within a transaction) in window `window`.
    struct Budget {
        uint96 cap;
        uint96 spent;
        uint32 period;
        uint32 window;
    }

    /// @notice Why an operation is not sponsored (validatePaymasterUserOp then returns SIG_VALIDATION_FAILED).
    enum Refusal {
        None,
        /// paymasterData is not `uint48 landsAt`, or `landsAt` lies in a window beyond the uint32 range.
        InvalidPaymasterData,
        /// paymasterPostOpGasLimit is below MIN_POST_OP_GAS: postOp could run out of gas.
        PostOpGasTooLow,
        /// The sender is not a registered account.
        NotSponsored,
        /// The account's operator is no longer the operator that registered it.
        OperatorChanged,
        /// The signature is not `abi.encode(bytes[] signers, bytes[] signatures)`.
        InvalidSignature,
        /// The weight of the signers trusted within the window is below the low threshold (or, the account
        /// being locked, below the high threshold): the account would refuse the operation.
        Untrusted,
        /// The operator's budget has no room for the maximum cost in the window (or no budget is set).
        OperatorBudgetExceeded,
        /// The account's budget has no room for the maximum cost in the window.
        AccountBudgetExceeded,
        /// The operator's balance is below the maximum cost.
        InsufficientFunds,
        /// Only from previewSponsorship: the current time is outside [validAfter, validUntil].
        OutOfTimeRange
    }

    // ---------------------------------------------------------------- errors

    /// @notice The account's operator is `operator`, not the caller.
    error DevicePaymasterNotAccountOperator(address account, address operator, address caller);
    /// @notice The caller is not the operator that sponsors `account`.
    error DevicePaymasterNotSponsor(address account, address caller);
    /// @notice The period is zero (a budget needs one) or the cap does not fit.
    error DevicePaymasterInvalidBudget(uint256 cap, uint256 period);
    /// @notice The operator asked for `amount`; its balance is `funds`.
    error DevicePaymasterInsufficientFunds(address operator, uint256 funds, uint256 amount);
    /// @notice The owner asked for `amount` of surplus; there is `surplus`.
    error DevicePaymasterInsufficientSurplus(uint256 surplus, uint256 amount);
    /// @notice A zero amount or the zero address where a real one is needed.
    error DevicePaymasterZeroAmount();
    /// @notice The factory's implementation or its entry point is the zero address.
    error DevicePaymasterInvalidSetup();

    // ---------------------------------------------------------------- events

    /// @notice `from` added `amount` to `operator`'s balance (now `funds`).
    event Funded(address indexed operator, address indexed from, uint256 amount, uint256 funds);
    /// @notice `operator` withdrew `amount` of its balance to `to` (now `funds`).
    event Withdrawn(address indexed operator, address indexed to, uint256 amount, uint256 funds);
    /// @notice `operator` sponsors `account` from now on (its account budget starts unset).
    event AccountRegistered(address indexed account, address indexed operator);
    /// @notice `operator` stopped sponsoring `account`.
    event AccountUnregistered(address indexed account, address indexed operator);
    /// @notice The operator-wide budget of `operator` changed.
    event OperatorBudgetSet(address indexed operator, uint256 cap, uint256 period);
    /// @notice The budget of `account` changed (period 0: the account has no budget of its own).
    event AccountBudgetSet(address indexed account, address indexed operator, uint256 cap, uint256 period);
    /// @notice Validation reserved `maxCost` of `operator`'s balance and budgets for the operation; postOp
    /// charges the actual cost and releases the rest (if postOp never runs, the whole reservation is charged).
    event SponsorshipReserved(
        bytes32 indexed userOpHash,
        address indexed account,
        address indexed operator,
        uint256 maxCost
    );
    /// @notice The operation cost `operator` `charged` wei (the EntryPoint's actualGasCost plus postOp's own
    /// gas and its worst-case unused-gas penalty, at the operation's fee); `released` went back.
    event UserOperationSponsored(
        bytes32 indexed userOpHash,
        address indexed account,
        address indexed operator,
        uint256 charged,
        uint256 released
    );
    /// @notice The owner took `amount` of the deposit that belongs to no operator.
    event SurplusWithdrawn(address indexed to, uint256 amount);

    // ---------------------------------------------------------------- operators

    /// @notice Sponsors the DeviceAccount that the factory deploys (or deployed) for (setup, salt), whose
    /// operator must be the caller: its current operator if it exists, else setup.config.operator. It may be
    /// registered before it exists (its first operation, with initCode, is then sponsored). Replaces a
    /// previous sponsor (which is no longer the account's operator) and clears the account budget.
    function registerAccount(IDeviceAccount.Setup calldata setup, bytes32 salt) external returns (address account);

    /// @notice Stops sponsoring `account`. Its sponsor only.
    function unregisterAccount(address account) external;

    /// @notice Sets the caller's operator-wide budget. Nothing is sponsored until it is set. Changing the period
    /// keeps what the current window has spent (a new period buys no new room).
    function setOperatorBudget(uint96 cap, uint32 period) external;

    /// @notice Sets the budget of one of the caller's accounts (period 0 and cap 0: none, the operator's
    /// alone applies). Its sponsor only.
    function setAccountBudget(address account, uint96 cap, uint32 period) external;

    /// @notice Adds msg.value to `operator`'s balance (deposited in the EntryPoint). Anyone may fund.
    function fund(address operator) external payable;

    /// @notice Withdraws `amount` of the caller's balance from the EntryPoint to `to`.
    function withdraw(address payable to, uint256 amount) external;

    // ---------------------------------------------------------------- owner (the stake)

    /// @notice Adds msg.value to the paymaster's EntryPoint stake (the owner's money: a staked paymaster may
    /// read the registry and its own storage during validation under ERC-7562). Owner only.
    function addStake(uint32 unstakeDelaySec) external payable;

    /// @notice Starts the stake's unstake delay. Owner only.
    function unlockStake() external;

    /// @notice Withdraws the unlocked stake to `to`. Owner only.
    function withdrawStake(address payable to) external;

    /// @notice Withdraws deposit that belongs to no operator (the margin of the postOp estimate, direct
    /// EntryPoint deposits) to `to`. Owner only.
    function withdrawSurplus(address payable to, uint256 amount) external;

    // ---------------------------------------------------------------- views

    /// @notice The operator that sponsors `account` (zero if none).
    function sponsorOf(address account) external view returns (address);

    /// @notice `operator`'s balance: funded, minus charged, reserved and withdrawn.
    function fundsOf(address operator) external view returns (uint256);

    /// @notice The sum of every operator's balance; the EntryPoint deposit never falls below it.
    function totalFunds() external view returns (uint256);

    /// @notice The EntryPoint deposit above totalFunds.
    function surplus() external view returns (uint256);

    /// @notice `operator`'s budget as stored (spent counts for `window` only).
    function operatorBudget(address operator) external view returns (Budget memory);

    /// @notice `account`'s budget as stored.
    function accountBudget(address account) external view returns (Budget memory);

    /// @notice What is left of a budget in the window that contains `landsAt` (type(uint256).max for no budget).
    function remaining(Budget memory budget, uint256 landsAt) external pure returns (uint256);

    /// @notice The last second at which the registry trusts the device with the key `keyHash`, given the
    /// evidence it holds now (0: not trusted at all): the clock-free form of isTrustedKey, which validation
    /// hands to the EntryPoint as validUntil. isTrustedKey(d, k, maxAge) == (block.timestamp <= this).
    function deviceTrustedUntil(DeviceId deviceId, bytes32 keyHash, uint256 maxAge) external view returns (uint256);

    /// @notice What validatePaymasterUserOp would decide for `userOp` now (its maximum cost computed as the
    /// EntryPoint does), and the validity range it would return; also checks the range against the clock.
    function previewSponsorship(
        PackedUserOperation calldata userOp
    ) external view returns (Refusal refusal, uint48 validAfter, uint48 validUntil, uint256 maxCost);
}
