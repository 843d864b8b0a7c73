// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IDeviceFeed} from "../interfaces/IDeviceFeed.sol";
import {IDeviceStaking} from "../interfaces/IDeviceStaking.sol";
import {DeviceFeed} from "./DeviceFeed.sol";

/// @title DeviceFeedFactory
/// @notice Creates DeviceFeeds bound to one registry and one staking contract; the creator owns the feed
/// (adds members and guardians). Keeps the list of feeds it created so indexers and the CLI find them.
contract DeviceFeedFactory {
    /// @notice The DeviceRegistry every feed of this factory checks devices against.
    address public immutable REGISTRY;
    /// @notice The staking contract every feed of this factory reads stake from.
    IDeviceStaking public immutable STAKING;

    address[] private _feeds;
    mapping(address feed => bool) private _created;

    error DeviceFeedFactoryZeroAddress();

    /// @notice A feed was created; its readings carry `feedId`.
    event FeedCreated(address indexed feed, address indexed owner, bytes32 indexed feedId, string description);

    /// @notice Binds the factory to a registry and a staking contract.
    constructor(address registry, IDeviceStaking staking) {
        if (registry == address(0) || address(staking) == address(0)) revert DeviceFeedFactoryZeroAddress();
        REGISTRY = registry;
        STAKING = staking;
    }

    /// @notice Creates a feed with `cfg`, owned by the caller. Reverts as the DeviceFeed constructor does
    /// on an invalid configuration.
    function createFeed(IDeviceFeed.Config calldata cfg) external returns (DeviceFeed feed) {
        feed = new DeviceFeed(REGISTRY, STAKING, cfg, msg.sender);
        _feeds.push(address(feed));
        _created[address(feed)] = true;
        emit FeedCreated(address(feed), msg.sender, feed.feedId(), cfg.description);
    }

    /// @notice How many feeds this factory created.
    function feedCount() external view returns (uint256) {
        return _feeds.length;
    }

    /// @notice The `index`th feed created.
    function feedAt(uint256 index) external view returns (address) {
        return _feeds[index];
    }

    /// @notice Whether `feed` was created by this factory.
    function isFeed(address feed) external view returns (bool) {
        return _created[feed];
    }
}
