// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceFeed} from "../contracts/feeds/DeviceFeed.sol";
import {DeviceFeedFactory} from "../contracts/feeds/DeviceFeedFactory.sol";
import {IDeviceFeed} from "../contracts/interfaces/IDeviceFeed.sol";
import {IDeviceStaking} from "../contracts/interfaces/IDeviceStaking.sol";
import {Reading} from "../contracts/types/Messages.sol";
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
        // The new feed works: the creator invites a device, its operator joins, and it submits.
        vm.prank(stranger);
        created.addMember(ids[0]);
        assertEq(created.members().length, 0, "an invitation is no membership");
        vm.prank(operator);
        created.join(ids[0]);
        assertEq(created.members().length, 1);
        Reading memory r = Reading({
            deviceId: ids[0],
            feedId: created.feedId(),
            sequence: 1,
            timestamp: uint64(block.timestamp),
            value: 21e8
        });
        assertTrue(created.submit(r, _deviceKey(keys[0]), _signReading(keys[0], r)));
        assertEq(created.sequenceOf(ids[0]), 1);
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

    /// @notice The factory's feeds get the constructor's evidence-window check too.
    function test_createFeed_RevertWhen_ReadingOutlivesEvidence() public {
        staking.setEvidenceWindow(MAX_READING_AGE - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeviceFeed.DeviceFeedReadingOutlivesEvidence.selector,
                MAX_READING_AGE,
                MAX_READING_AGE - 1
            )
        );
        factory.createFeed(_config());
        assertEq(factory.feedCount(), 0);
    }

    function test_constructor_RevertWhen_ZeroAddress() public {
        vm.expectRevert(DeviceFeedFactory.DeviceFeedFactoryZeroAddress.selector);
        new DeviceFeedFactory(address(0), IDeviceStaking(address(staking)));
    }
}
