// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

// Chainlink's name is kept so consumers' code ports unchanged.
// solhint-disable interface-starts-with-i

/// @title AggregatorV3Interface
/// @notice Chainlink's price-feed read interface, with its name and the same signatures as the chainlink
/// contracts package (not a dependency), so existing DeFi consumers read a DeviceFeed unchanged.
interface AggregatorV3Interface {
    /// @notice How many decimals the answer has.
    function decimals() external view returns (uint8);

    /// @notice What the feed measures.
    function description() external view returns (string memory);

    /// @notice The version of the feed's interface implementation.
    function version() external view returns (uint256);

    /// @notice The answer of round `_roundId`.
    function getRoundData(
        uint80 _roundId
    )
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);

    /// @notice The latest answer.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}
