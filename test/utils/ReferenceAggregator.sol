// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AggregatorV3Interface} from "../../contracts/interfaces/AggregatorV3Interface.sol";

/// @title ReferenceAggregator
/// @notice A minimal aggregator that stores rounds as Chainlink's do: each transmission is a new round id
/// (latest + 1) holding its answer, the time its observations started and the time it was written, and is
/// never rewritten; `answeredInRound` is the round itself; `getRoundData` and `latestRoundData` revert with
/// "No data present" when they have nothing to report, as AggregatorV3Interface's comment asks of them. It is
/// the yardstick ChainlinkConsumer's test runs against beside DeviceFeed: an assertion that holds here is the
/// standard's, not DeviceFeed's.
/// @dev Test helper: anyone transmits.
contract ReferenceAggregator is AggregatorV3Interface {
    struct Transmission {
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
    }

    uint8 private immutable DECIMALS;
    string private _description;
    uint80 private _latestRoundId;
    mapping(uint80 roundId => Transmission) private _transmissions;

    /// @param decimals_ What `decimals()` answers.
    /// @param description_ What `description()` answers.
    constructor(uint8 decimals_, string memory description_) {
        DECIMALS = decimals_;
        _description = description_;
    }

    /// @notice Writes the next round: `answer`, observed from `startedAt`, updated now.
    function transmit(int256 answer, uint256 startedAt) external returns (uint80 roundId) {
        roundId = _latestRoundId + 1;
        _transmissions[roundId] = Transmission({answer: answer, startedAt: startedAt, updatedAt: block.timestamp});
        _latestRoundId = roundId;
    }

    /// @inheritdoc AggregatorV3Interface
    function decimals() external view returns (uint8) {
        return DECIMALS;
    }

    /// @inheritdoc AggregatorV3Interface
    function description() external view returns (string memory) {
        return _description;
    }

    /// @inheritdoc AggregatorV3Interface
    function version() external pure returns (uint256) {
        return 4;
    }

    /// @inheritdoc AggregatorV3Interface
    function getRoundData(
        uint80 roundId_
    )
        public
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Transmission memory t = _transmissions[roundId_];
        // Chainlink's own message (a string, not a custom error): consumers must handle any revert.
        // solhint-disable-next-line gas-custom-errors
        require(t.updatedAt != 0, "No data present");
        return (roundId_, t.answer, t.startedAt, t.updatedAt, roundId_);
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return getRoundData(_latestRoundId);
    }
}
