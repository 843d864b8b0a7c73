// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IDeviceAccount} from "../interfaces/IDeviceAccount.sol";

/// @title SpendingPolicyLib
/// @notice A machine account's spending policy, applied to every call of a batch the low threshold signs.
/// - What a call spends: its native value (token address(0), to the call's target), and for a call to a
///   policy token, `transfer(to, amount)` (to `to`) or `approve(spender, amount)` (to `spender`: an
///   allowance is spending power). Any other function of a policy token is refused, and so is a call to a
///   target that is neither a policy token nor an allowed counterparty of the native coin.
/// - Per token: a per-call cap and a cap per period. Periods are FIXED windows (`timestamp / period`), not
///   rolling ones: one slot per token holds the whole state, gas is constant, and the reset time is known in
///   advance. A fixed window lets up to twice the cap through around a window's turn; the velocity breaker
///   is what stops that burst (see below).
/// - Per counterparty (allow-listed per token): its own per-call cap and a cap per period (the token's
///   windows).
/// - Velocity breaker, per token: a bucket of capacity `periodCap × velocityShareBps / 10,000` that drains at
///   `capacity / velocityWindow` per second. Each spend pours its amount in; if it would overflow, the
///   breaker trips: nothing of the batch runs and the account locks until the operator or the high threshold
///   unlocks it. In any interval of t seconds it lets through at most `capacity × (1 + t / velocityWindow)`,
///   and a single burst above the capacity always trips it.
/// The calls of one batch are applied in order, each seeing what the earlier ones spent; the account runs a
/// batch of several calls atomically (a breach or a trip anywhere refuses all of it).
library SpendingPolicyLib {
    uint256 internal constant BPS = 10_000;

    struct Policy {
        mapping(address token => IDeviceAccount.TokenLimits) tokens;
        mapping(address token => IDeviceAccount.Spending) tokenSpending;
        mapping(address token => mapping(address counterparty => IDeviceAccount.CounterpartyLimits)) counterparties;
        mapping(address token => mapping(address counterparty => IDeviceAccount.Spending)) counterpartySpending;
    }

    /// @dev The first token whose velocity bucket overflows.
    struct Trip {
        bool tripped;
        address token;
        uint256 level;
        uint256 capacity;
    }

    /// @notice Applies one call: checks it against the policy and records what it spends. Reverts with the
    /// rule broken and its figures; returns tripped (recording nothing of the spend that tripped) if the
    /// velocity breaker trips. A call with native value to a policy token spends twice: see spendsOnce.
    function spend(
        Policy storage p,
        Execution calldata e,
        uint256 velocityShareBps
    ) internal returns (bool tripped, address token, uint256 level, uint256 capacity) {
        address target = e.target;
        bool isToken = _isToken(p, target);
        if (e.value != 0) {
            (tripped, token, level, capacity) = _spendOne(p, address(0), target, e.value, velocityShareBps);
            if (tripped || !isToken) return (tripped, token, level, capacity);
        }
        if (isToken) {
            (address to, uint256 amount) = _tokenCall(target, e.callData);
            return _spendOne(p, target, to, amount, velocityShareBps);
        }
        // Any other call: its target must be an allowed counterparty of the native coin.
        if (!p.counterparties[address(0)][target].allowed) {
            revert IDeviceAccount.AccountCounterpartyNotAllowed(address(0), target);
        }
    }

    /// @notice Whether `spend` of this call records at most one spend (so a trip leaves nothing recorded).
    function spendsOnce(Policy storage p, Execution calldata e) internal view returns (bool) {
        return e.value == 0 || !_isToken(p, e.target);
    }

    /// @notice Sets (or, with period 0 and zero caps, removes) a token's limits; the spending record stays.
    function setTokenLimits(Policy storage p, address token, IDeviceAccount.TokenLimits memory limits) internal {
        bool removing = limits.period == 0;
        if (removing ? (limits.periodCap != 0 || limits.perCallCap != 0 || limits.velocityWindow != 0) : false) {
            revert IDeviceAccount.AccountInvalidLimits(token);
        }
        p.tokens[token] = limits;
    }

    /// @notice Sets a counterparty's limits for a token (allowed false removes it).
    function setCounterpartyLimits(
        Policy storage p,
        address token,
        address counterparty,
        IDeviceAccount.CounterpartyLimits memory limits
    ) internal {
        if (!limits.allowed && (limits.periodCap != 0 || limits.perCallCap != 0)) {
            revert IDeviceAccount.AccountInvalidLimits(token);
        }
        p.counterparties[token][counterparty] = limits;
    }

    /// @notice Spent on `token` in the current window.
    function spentThisPeriod(Policy storage p, address token) internal view returns (uint256) {
        uint256 period = p.tokens[token].period;
        if (period == 0) return 0;
        IDeviceAccount.Spending memory state = p.tokenSpending[token];
        return state.window == block.timestamp / period ? state.spent : 0;
    }

    /// @notice Spent on `token` to `counterparty` in the current window.
    function spentThisPeriod(Policy storage p, address token, address counterparty) internal view returns (uint256) {
        uint256 period = p.tokens[token].period;
        if (period == 0) return 0;
        IDeviceAccount.Spending memory state = p.counterpartySpending[token][counterparty];
        return state.window == block.timestamp / period ? state.spent : 0;
    }

    /// @dev One spend of `amount` of `token` to `counterparty`: every rule, read straight from storage;
    /// records it unless the breaker trips.
    function _spendOne(
        Policy storage p,
        address token,
        address counterparty,
        uint256 amount,
        uint256 velocityShareBps
    ) private returns (bool, address, uint256, uint256) {
        IDeviceAccount.TokenLimits memory limits = p.tokens[token];
        if (limits.period == 0) revert IDeviceAccount.AccountTokenNotInPolicy(token);
        if (amount > limits.perCallCap) {
            revert IDeviceAccount.AccountPerCallCapExceeded(token, amount, limits.perCallCap);
        }
        uint32 window = uint32(block.timestamp / limits.period);
        uint256 pairSpent = _checkPair(p, token, counterparty, amount, window);
        (IDeviceAccount.Spending memory state, Trip memory trip) = _tokenState(
            p,
            token,
            limits,
            window,
            amount,
            velocityShareBps
        );
        // A trip records nothing: the account refuses the batch without reverting (to keep its lock).
        if (trip.tripped) return (true, trip.token, trip.level, trip.capacity);
        p.tokenSpending[token] = state;
        IDeviceAccount.Spending storage pair = p.counterpartySpending[token][counterparty];
        (pair.spent, pair.window) = (uint96(pairSpent), window);
        emit IDeviceAccount.Spent(token, counterparty, amount, state.spent);
        return (false, address(0), 0, 0);
    }

    /// @dev The token's period cap for a spend and its new spending state (the velocity bucket poured).
    function _tokenState(
        Policy storage p,
        address token,
        IDeviceAccount.TokenLimits memory limits,
        uint32 window,
        uint256 amount,
        uint256 velocityShareBps
    ) private view returns (IDeviceAccount.Spending memory state, Trip memory trip) {
        state = p.tokenSpending[token];
        uint256 spent = state.window == window ? state.spent : 0;
        uint256 cap = limits.periodCap;
        if (spent + amount > cap) revert IDeviceAccount.AccountPeriodCapExceeded(token, spent, amount, cap);
        state.spent = uint96(spent + amount);
        state.window = window;
        _pour(state, token, limits, velocityShareBps, amount, trip);
    }

    /// @dev The counterparty's rules for a single spend; returns what it will have been paid this window.
    function _checkPair(
        Policy storage p,
        address token,
        address counterparty,
        uint256 amount,
        uint32 window
    ) private view returns (uint256) {
        IDeviceAccount.CounterpartyLimits storage cl = p.counterparties[token][counterparty];
        if (!cl.allowed) revert IDeviceAccount.AccountCounterpartyNotAllowed(token, counterparty);
        if (amount > cl.perCallCap) {
            revert IDeviceAccount.AccountCounterpartyPerCallCapExceeded(token, counterparty, amount, cl.perCallCap);
        }
        IDeviceAccount.Spending storage pair = p.counterpartySpending[token][counterparty];
        uint256 spent = pair.window == window ? pair.spent : 0;
        if (spent + amount > cl.periodCap) {
            revert IDeviceAccount.AccountCounterpartyPeriodCapExceeded(
                token,
                counterparty,
                spent,
                amount,
                cl.periodCap
            );
        }
        return spent + amount;
    }

    /// @dev The recipient and amount of a policy token's transfer or approve; any other call is refused.
    function _tokenCall(address token, bytes calldata data) private pure returns (address to, uint256 amount) {
        bytes4 selector = data.length < 4 ? bytes4(0) : bytes4(data[:4]);
        if (data.length < 68 || (selector != IERC20.transfer.selector && selector != IERC20.approve.selector)) {
            revert IDeviceAccount.AccountTokenCallNotAllowed(token, selector);
        }
        return abi.decode(data[4:], (address, uint256));
    }

    function _isToken(Policy storage p, address target) private view returns (bool) {
        return target != address(0) && p.tokens[target].period != 0;
    }

    /// @dev Pours `amount` into the token's velocity bucket (state is updated in memory); records the first
    /// overflow in `trip`.
    function _pour(
        IDeviceAccount.Spending memory state,
        address token,
        IDeviceAccount.TokenLimits memory limits,
        uint256 velocityShareBps,
        uint256 amount,
        Trip memory trip
    ) private view {
        if (velocityShareBps == 0 || limits.velocityWindow == 0) return;
        uint256 capacity = (uint256(limits.periodCap) * velocityShareBps) / BPS;
        uint256 drained = ((block.timestamp - state.bucketAt) * capacity) / limits.velocityWindow;
        uint256 level = (state.bucket > drained ? state.bucket - drained : 0) + amount;
        if (level > capacity) {
            if (!trip.tripped) (trip.tripped, trip.token, trip.level, trip.capacity) = (true, token, level, capacity);
            return;
        }
        state.bucket = uint96(level);
        state.bucketAt = uint32(block.timestamp);
    }
}
