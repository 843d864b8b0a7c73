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
/// Caps and the breaker see the batch as a whole: the calls of one batch add up.
library SpendingPolicyLib {
    uint256 internal constant BPS = 10_000;

    struct Policy {
        mapping(address token => IDeviceAccount.TokenLimits) tokens;
        mapping(address token => IDeviceAccount.Spending) tokenSpending;
        mapping(address token => mapping(address counterparty => IDeviceAccount.CounterpartyLimits)) counterparties;
        mapping(address token => mapping(address counterparty => IDeviceAccount.Spending)) counterpartySpending;
    }

    /// @dev One spend of a batch.
    struct Spend {
        address token;
        address counterparty;
        uint256 amount;
    }

    /// @dev A batch's spends and, at the first spend of each token and of each (token, counterparty), the
    /// new spending state of that token or pair.
    struct Tally {
        Spend[] spends;
        uint256 n;
        IDeviceAccount.Spending[] tokenStates;
        IDeviceAccount.Spending[] pairStates;
        bool[] firstToken;
        bool[] firstPair;
    }

    /// @dev The first token whose velocity bucket overflows.
    struct Trip {
        bool tripped;
        address token;
        uint256 level;
        uint256 capacity;
    }

    /// @notice Checks `batch` against the policy and records what it spends. Reverts with the rule broken
    /// and its figures; returns tripped (and records nothing) if the velocity breaker trips.
    function spend(
        Policy storage p,
        Execution[] calldata batch,
        uint256 velocityShareBps
    ) internal returns (bool tripped, address token, uint256 level, uint256 capacity) {
        // One call that spends at most once (the usual payment): no tally needed.
        if (batch.length == 1) {
            Execution calldata e = batch[0];
            if (e.value == 0 || !_isToken(p, e.target)) {
                Spend[] memory one = new Spend[](2);
                if (_collect(p, e, one, 0) == 0) return (false, address(0), 0, 0);
                return _spendOne(p, one[0], velocityShareBps);
            }
        }
        Tally memory t = _collectAll(p, batch);
        Trip memory trip;
        for (uint256 i; i < t.n; ++i) _tally(p, t, i, velocityShareBps, trip);
        if (trip.tripped) return (true, trip.token, trip.level, trip.capacity);
        for (uint256 i; i < t.n; ++i) {
            Spend memory s = t.spends[i];
            if (t.firstToken[i]) p.tokenSpending[s.token] = t.tokenStates[i];
            if (t.firstPair[i]) p.counterpartySpending[s.token][s.counterparty] = t.pairStates[i];
            emit IDeviceAccount.Spent(s.token, s.counterparty, s.amount, t.tokenStates[_firstOf(t, i)].spent);
        }
        return (false, address(0), 0, 0);
    }

    /// @dev spend() for a batch with a single spend, whose per-call caps and allow-list _collect checked.
    function _spendOne(
        Policy storage p,
        Spend memory s,
        uint256 velocityShareBps
    ) private returns (bool, address, uint256, uint256) {
        IDeviceAccount.TokenLimits memory limits = p.tokens[s.token];
        uint32 window = uint32(block.timestamp / limits.period);
        Trip memory trip;
        IDeviceAccount.Spending memory state = _tallyToken(
            p,
            s.token,
            limits,
            window,
            s.amount,
            velocityShareBps,
            trip
        );
        IDeviceAccount.Spending memory pair = _tallyPair(p, s, window, s.amount);
        if (trip.tripped) return (true, trip.token, trip.level, trip.capacity);
        p.tokenSpending[s.token] = state;
        p.counterpartySpending[s.token][s.counterparty] = pair;
        emit IDeviceAccount.Spent(s.token, s.counterparty, s.amount, state.spent);
        return (false, address(0), 0, 0);
    }

    function _isToken(Policy storage p, address target) private view returns (bool) {
        return target != address(0) && p.tokens[target].period != 0;
    }

    function _collectAll(Policy storage p, Execution[] calldata batch) private view returns (Tally memory t) {
        t.spends = new Spend[](batch.length * 2);
        for (uint256 i; i < batch.length; ++i) t.n = _collect(p, batch[i], t.spends, t.n);
        t.tokenStates = new IDeviceAccount.Spending[](t.n);
        t.pairStates = new IDeviceAccount.Spending[](t.n);
        t.firstToken = new bool[](t.n);
        t.firstPair = new bool[](t.n);
    }

    /// @dev At the first spend of a token (of a pair), checks the batch's total for it against the period
    /// cap and computes the new state; pours the token's total into its velocity bucket.
    function _tally(
        Policy storage p,
        Tally memory t,
        uint256 i,
        uint256 velocityShareBps,
        Trip memory trip
    ) private view {
        (bool firstToken, bool firstPair, uint256 tokenTotal, uint256 pairTotal) = _totals(t, i);
        (t.firstToken[i], t.firstPair[i]) = (firstToken, firstPair);
        Spend memory s = t.spends[i];
        IDeviceAccount.TokenLimits memory limits = p.tokens[s.token];
        uint32 window = uint32(block.timestamp / limits.period);
        if (firstToken) t.tokenStates[i] = _tallyToken(p, s.token, limits, window, tokenTotal, velocityShareBps, trip);
        if (firstPair) t.pairStates[i] = _tallyPair(p, s, window, pairTotal);
    }

    function _tallyToken(
        Policy storage p,
        address token,
        IDeviceAccount.TokenLimits memory limits,
        uint32 window,
        uint256 total,
        uint256 velocityShareBps,
        Trip memory trip
    ) private view returns (IDeviceAccount.Spending memory state) {
        state = p.tokenSpending[token];
        uint256 spent = state.window == window ? state.spent : 0;
        if (spent + total > limits.periodCap) {
            revert IDeviceAccount.AccountPeriodCapExceeded(token, spent, total, limits.periodCap);
        }
        state.spent = uint96(spent + total);
        state.window = window;
        _pour(state, token, limits, velocityShareBps, total, trip);
    }

    function _tallyPair(
        Policy storage p,
        Spend memory s,
        uint32 window,
        uint256 total
    ) private view returns (IDeviceAccount.Spending memory state) {
        uint256 cap = p.counterparties[s.token][s.counterparty].periodCap;
        state = p.counterpartySpending[s.token][s.counterparty];
        uint256 spent = state.window == window ? state.spent : 0;
        if (spent + total > cap) {
            revert IDeviceAccount.AccountCounterpartyPeriodCapExceeded(s.token, s.counterparty, spent, total, cap);
        }
        state.spent = uint96(spent + total);
        state.window = window;
    }

    /// @notice Sets (or, with period 0 and zero caps, removes) a token's limits; the spending record stays.
    function setTokenLimits(Policy storage p, address token, IDeviceAccount.TokenLimits calldata limits) internal {
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
        IDeviceAccount.CounterpartyLimits calldata limits
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

    /// @dev The spends of one call, appended to `spends` at `n`, each checked against the per-call caps and
    /// the allow-list. Returns the new count.
    function _collect(
        Policy storage p,
        Execution calldata e,
        Spend[] memory spends,
        uint256 n
    ) private view returns (uint256) {
        address target = e.target;
        if (e.value != 0) n = _add(p, spends, n, address(0), target, e.value);
        if (_isToken(p, target)) {
            bytes calldata data = e.callData;
            bytes4 selector = data.length < 4 ? bytes4(0) : bytes4(data[:4]);
            if (data.length < 68 || (selector != IERC20.transfer.selector && selector != IERC20.approve.selector)) {
                revert IDeviceAccount.AccountTokenCallNotAllowed(target, selector);
            }
            (address to, uint256 amount) = abi.decode(data[4:], (address, uint256));
            return _add(p, spends, n, target, to, amount);
        }
        // Any other call: its target must be an allowed counterparty of the native coin.
        if (e.value == 0 && !p.counterparties[address(0)][target].allowed) {
            revert IDeviceAccount.AccountCounterpartyNotAllowed(address(0), target);
        }
        return n;
    }

    function _add(
        Policy storage p,
        Spend[] memory spends,
        uint256 n,
        address token,
        address counterparty,
        uint256 amount
    ) private view returns (uint256) {
        IDeviceAccount.TokenLimits memory limits = p.tokens[token];
        if (limits.period == 0) revert IDeviceAccount.AccountTokenNotInPolicy(token);
        if (amount > limits.perCallCap)
            revert IDeviceAccount.AccountPerCallCapExceeded(token, amount, limits.perCallCap);
        IDeviceAccount.CounterpartyLimits memory cl = p.counterparties[token][counterparty];
        if (!cl.allowed) revert IDeviceAccount.AccountCounterpartyNotAllowed(token, counterparty);
        if (amount > cl.perCallCap) {
            revert IDeviceAccount.AccountCounterpartyPerCallCapExceeded(token, counterparty, amount, cl.perCallCap);
        }
        spends[n] = Spend(token, counterparty, amount);
        return n + 1;
    }

    /// @dev Whether spend i is the first of its token and of its (token, counterparty) pair, and the totals
    /// of each over the batch.
    function _totals(
        Tally memory t,
        uint256 i
    ) private pure returns (bool firstToken, bool firstPair, uint256 tokenTotal, uint256 pairTotal) {
        Spend memory s = t.spends[i];
        firstToken = true;
        firstPair = true;
        for (uint256 j; j < t.n; ++j) {
            Spend memory o = t.spends[j];
            if (o.token != s.token) continue;
            bool samePair = o.counterparty == s.counterparty;
            if (j < i) {
                firstToken = false;
                if (samePair) firstPair = false;
            }
            tokenTotal += o.amount;
            if (samePair) pairTotal += o.amount;
        }
    }

    /// @dev Index of the first spend of spend i's token.
    function _firstOf(Tally memory t, uint256 i) private pure returns (uint256 j) {
        while (t.spends[j].token != t.spends[i].token) ++j;
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
