// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title StreamLib
/// @notice Value a vault received but earns over time: linear streams that end at a midnight, and a single
/// held-back amount released linearly.
/// @dev Streams run at a summed per-second rate that drops at day boundaries (each stream ends at the first
/// midnight at or after its end), so settling walks one slot per elapsed day and a stream costs one slot per
/// distinct end day. The rate, the settling time and the amount still unearned share one slot: a sale or an
/// accrual writes one slot for all three.
library StreamLib {
    using SafeCast for uint256;

    uint256 internal constant DAY = 1 days;
    /// @dev Rates are tokens per second times this (a rate's rounding rest is earned when the streams end).
    uint256 internal constant RATE_SCALE = 1e9;

    /// @notice The running streams: their summed rate, when they were last settled, what they have still to
    /// earn, and the rate that stops at the start of each day.
    struct Streams {
        uint112 rate;
        uint40 lastAccrual;
        uint104 unearned;
        mapping(uint256 day => uint256 rate) ends;
    }

    /// @notice An amount released linearly from `from` to `until`.
    struct HeldBack {
        uint128 amount;
        uint40 from;
        uint40 until;
    }

    /// @notice Streams `amount` from now until the first midnight at or after `endTime` (> now).
    function add(Streams storage s, uint256 amount, uint256 endTime) internal {
        if (amount == 0) return;
        uint256 endDay = Math.ceilDiv(endTime, DAY);
        // endTime > now, so the duration is at least a second.
        uint256 rate = (amount * RATE_SCALE) / (endDay * DAY - block.timestamp);
        s.rate = (s.rate + rate).toUint112();
        s.unearned = (s.unearned + amount).toUint104();
        s.ends[endDay] += rate;
    }

    /// @notice What the streams earned since they were last settled (at most what they had to earn), and
    /// their rate now. Walks the day boundaries passed, dropping the streams that ended there; once none runs,
    /// the rounding rest is earned too.
    function earnedSince(Streams storage s) internal view returns (uint256 earned, uint256 rate) {
        rate = s.rate;
        uint256 unearned = s.unearned;
        uint256 t = s.lastAccrual;
        if (t == block.timestamp) return (0, rate);
        uint256 sum;
        while (t < block.timestamp && rate != 0) {
            uint256 boundary = (t / DAY + 1) * DAY;
            uint256 until = boundary < block.timestamp ? boundary : block.timestamp;
            sum += rate * (until - t);
            if (until == boundary) rate -= s.ends[boundary / DAY];
            t = until;
        }
        earned = sum / RATE_SCALE;
        if (rate == 0 || earned > unearned) earned = unearned;
    }

    /// @notice Records that the streams were settled now: `earned` and `rate` as earnedSince returned them.
    function settle(Streams storage s, uint256 earned, uint256 rate) internal {
        // rate <= s.rate and earned <= s.unearned (earnedSince): the casts cannot truncate.
        s.rate = uint112(rate);
        s.lastAccrual = uint40(block.timestamp);
        s.unearned = uint104(s.unearned - earned);
    }

    /// @notice What is still held back now.
    function remaining(HeldBack storage h) internal view returns (uint256) {
        uint256 until = h.until;
        if (block.timestamp >= until) return 0;
        return (uint256(h.amount) * (until - block.timestamp)) / (until - h.from);
    }

    /// @notice Adds `amount` to what is held back and releases it all, from now, over `duration` (> 0).
    function hold(HeldBack storage h, uint256 amount, uint256 duration) internal {
        h.amount = (remaining(h) + amount).toUint128();
        h.from = uint40(block.timestamp);
        h.until = uint40(block.timestamp + duration);
    }
}
