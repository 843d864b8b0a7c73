// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AggregatorV3Interface} from "../../contracts/interfaces/AggregatorV3Interface.sol";

/// @title ChainlinkConsumer
/// @notice A consumer written only against AggregatorV3Interface's documented semantics, with the checks
/// DeFi consumers of Chainlink feeds make: a positive answer, a complete round (`updatedAt != 0`), an answer
/// not carried over from an earlier round (`answeredInRound >= roundId`), and staleness judged from
/// `updatedAt` against the consumer's own threshold. Its historical lookup walks back from the latest round
/// through `getRoundData(roundId - 1)` to the round at or before a time, as lending protocols settle at a
/// past price. Nothing here knows DeviceFeed: the same contract reads any aggregator.
/// @dev Kept in test/utils as a test helper (it has no test functions, so Hardhat runs nothing of it).
contract ChainlinkConsumer {
    AggregatorV3Interface public immutable AGGREGATOR;
    /// @notice The oldest `updatedAt` the consumer accepts for the latest round, in seconds (Chainlink's
    /// advice: the feed's heartbeat plus a margin).
    uint256 public immutable MAX_STALENESS;

    /// @notice A round answered zero or less: no price.
    error ChainlinkConsumerNonPositiveAnswer(uint80 roundId, int256 answer);
    /// @notice A round without a timestamp: not complete.
    error ChainlinkConsumerIncompleteRound(uint80 roundId);
    /// @notice The answer was carried over from an earlier round.
    error ChainlinkConsumerCarriedOver(uint80 roundId, uint80 answeredInRound);
    /// @notice The latest round is older than MAX_STALENESS.
    error ChainlinkConsumerStale(uint80 roundId, uint256 updatedAt, uint256 maxStaleness);
    /// @notice No round at or before `timestamp` within `maxSteps` rounds back from the latest.
    error ChainlinkConsumerNoRoundAtOrBefore(uint256 timestamp, uint256 maxSteps);
    /// @notice Walking back, an earlier round was updated later than the round after it.
    error ChainlinkConsumerRoundsOutOfOrder(uint80 roundId, uint256 updatedAt, uint256 nextUpdatedAt);

    /// @param aggregator The feed read.
    /// @param maxStaleness See MAX_STALENESS.
    constructor(AggregatorV3Interface aggregator, uint256 maxStaleness) {
        AGGREGATOR = aggregator;
        MAX_STALENESS = maxStaleness;
    }

    /// @notice The latest answer, checked and fresh; reverts (bubbling the aggregator's revert when it has no
    /// data) otherwise.
    function latestPrice() public view returns (uint80 roundId, int256 answer, uint256 updatedAt) {
        uint256 startedAt;
        uint80 answeredInRound;
        (roundId, answer, startedAt, updatedAt, answeredInRound) = AGGREGATOR.latestRoundData();
        _checkRound(roundId, answer, updatedAt, answeredInRound);
        if (block.timestamp - updatedAt > MAX_STALENESS) {
            revert ChainlinkConsumerStale(roundId, updatedAt, MAX_STALENESS);
        }
    }

    /// @notice latestPrice that never reverts: `ok` false when the aggregator has no usable fresh answer.
    function tryLatestPrice() external view returns (bool ok, int256 answer) {
        try this.latestPrice() returns (uint80, int256 a, uint256) {
            return (true, a);
        } catch {
            return (false, 0);
        }
    }

    /// @notice The latest answer scaled to 18 decimals by the aggregator's `decimals()`.
    function latestPriceE18() external view returns (int256) {
        (, int256 answer, ) = latestPrice();
        uint8 d = AGGREGATOR.decimals();
        return d <= 18 ? answer * int256(10 ** (18 - d)) : answer / int256(10 ** (d - 18));
    }

    /// @notice Round `roundId`, checked (no staleness: it is history); `ok` false when the aggregator
    /// reverts for it (no data) or it fails a check.
    function tryRound(uint80 roundId) public view returns (bool ok, int256 answer, uint256 updatedAt) {
        try AGGREGATOR.getRoundData(roundId) returns (uint80 id, int256 a, uint256, uint256 u, uint80 answeredInRound) {
            if (id != roundId || a <= 0 || u == 0 || answeredInRound < id) return (false, 0, 0);
            return (true, a, u);
        } catch {
            return (false, 0, 0);
        }
    }

    /// @notice The round in force at `timestamp`: the latest round updated at or before it, found by walking
    /// back at most `maxSteps` rounds from the latest one. Every round on the way is checked; a round the
    /// aggregator has no data for ends the walk (as a proxy's phase start does).
    function priceAt(
        uint256 timestamp,
        uint256 maxSteps
    ) external view returns (uint80 roundId, int256 answer, uint256 updatedAt) {
        uint80 answeredInRound;
        (roundId, answer, , updatedAt, answeredInRound) = AGGREGATOR.latestRoundData();
        _checkRound(roundId, answer, updatedAt, answeredInRound);
        // Bounded by maxSteps: a consumer never walks an unbounded history in one call.
        for (uint256 steps; updatedAt > timestamp; ++steps) {
            if (steps == maxSteps || roundId == 0) revert ChainlinkConsumerNoRoundAtOrBefore(timestamp, maxSteps);
            uint256 nextUpdatedAt = updatedAt;
            --roundId;
            bool ok;
            (ok, answer, updatedAt) = tryRound(roundId);
            if (!ok) revert ChainlinkConsumerNoRoundAtOrBefore(timestamp, maxSteps);
            if (updatedAt > nextUpdatedAt) revert ChainlinkConsumerRoundsOutOfOrder(roundId, updatedAt, nextUpdatedAt);
        }
    }

    function _checkRound(uint80 roundId, int256 answer, uint256 updatedAt, uint80 answeredInRound) private pure {
        if (answer <= 0) revert ChainlinkConsumerNonPositiveAnswer(roundId, answer);
        if (updatedAt == 0) revert ChainlinkConsumerIncompleteRound(roundId);
        if (answeredInRound < roundId) revert ChainlinkConsumerCarriedOver(roundId, answeredInRound);
    }
}
