// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceFeed} from "../contracts/feeds/DeviceFeed.sol";
import {DeviceFeedFactory} from "../contracts/feeds/DeviceFeedFactory.sol";
import {IDeviceFeed} from "../contracts/interfaces/IDeviceFeed.sol";
import {IDeviceStaking} from "../contracts/interfaces/IDeviceStaking.sol";
import {FeedFixture} from "./utils/FeedFixture.sol";

/// @notice Unit tests of DeviceFeedFactory.
contract DeviceFeedFactoryTest is FeedFixture {
    DeviceFeedFactory internal factory;

    function setUp() public override {
        super.setUp();
        factory = new DeviceFeedFactory(address(registry), IDeviceStaking(address(staking)));
    }

    function test_createFeed_CreatorOwnsAndListed() public {
        vm.recordLogs();
        vm.prank(stranger);
        DeviceFeed created = factory.createFeed(_config());
        assertEq(created.owner(), stranger);
        assertEq(factory.feedCount(), 1);
        assertEq(factory.feedAt(0), address(created));
        assertTrue(factory.isFeed(address(created)));
        assertFalse(factory.isFeed(address(feed)));
        assertEq(created.description(), _config().description);
        // The new feed works: the creator adds a device and it submits.
        vm.prank(stranger);
        created.addMember(ids[0]);
        assertEq(created.members().length, 1);
    }

    function test_createFeed_EmitsFeedCreated() public {
        address predicted = vm.computeCreateAddress(address(factory), 1);
        vm.expectEmit(address(factory));
        emit DeviceFeedFactory.FeedCreated(
            predicted,
            stranger,
            bytes32(uint256(uint160(predicted))),
            _config().description
        );
        vm.prank(stranger);
        factory.createFeed(_config());
    }

    function test_createFeed_RevertWhen_InvalidConfig() public {
        IDeviceFeed.Config memory c = _config();
        c.quorum = 0;
        vm.expectRevert(IDeviceFeed.DeviceFeedInvalidConfig.selector);
        factory.createFeed(c);
    }

    function test_constructor_RevertWhen_ZeroAddress() public {
        vm.expectRevert(DeviceFeedFactory.DeviceFeedFactoryZeroAddress.selector);
        new DeviceFeedFactory(address(0), IDeviceStaking(address(staking)));
    }
}
