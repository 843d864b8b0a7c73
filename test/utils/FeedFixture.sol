// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceFeed} from "../../contracts/feeds/DeviceFeed.sol";
import {IDeviceFeed} from "../../contracts/interfaces/IDeviceFeed.sol";
import {IDeviceStaking} from "../../contracts/interfaces/IDeviceStaking.sol";
import {DeviceMessageLib} from "../../contracts/libraries/DeviceMessageLib.sol";
import {MockStaking} from "../../contracts/mocks/MockStaking.sol";
import {DeviceId} from "../../contracts/types/DeviceId.sol";
import {Reading} from "../../contracts/types/Messages.sol";
import {AttestationFixture} from "./AttestationFixture.sol";
import {TestKey} from "./RegistryFixture.sol";

/// @notice The attestation fixture plus a MockStaking and a 7-device feed (P-256 at even indices,
/// secp256k1 at odd ones), every device registered, attested on Good firmware, staked and a member.
abstract contract FeedFixture is AttestationFixture {
    uint256 internal constant DEVICES = 7;
    uint96 internal constant MIN_STAKE = 100e18;
    uint32 internal constant MAX_READING_AGE = 1 hours;
    uint32 internal constant MIN_INTERVAL = 10;
    uint32 internal constant MAX_ATTESTATION_AGE = 30 days;
    uint16 internal constant MAX_DEVIATION_BPS = 1_000;
    int128 internal constant MIN_VALUE = -1_000e8;
    int128 internal constant MAX_VALUE = 1_000_000e8;
    uint8 internal constant QUORUM = 4;
    address internal feedOwner = makeAddr("feedOwner");
    address internal guardian = makeAddr("guardian");

    MockStaking internal staking;
    DeviceFeed internal feed;
    /// @dev The feed's id, read once so building a reading makes no call (vm.expectRevert applies to submit).
    bytes32 internal feedId;
    uint32 internal firmwareId;
    TestKey[] internal keys;
    DeviceId[] internal ids;

    function setUp() public virtual override {
        super.setUp();
        staking = new MockStaking();
        firmwareId = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        feed = new DeviceFeed(address(registry), IDeviceStaking(address(staking)), _config(), feedOwner);
        feedId = feed.feedId();
        vm.prank(feedOwner);
        feed.setGuardian(guardian, true);
        for (uint256 i; i < DEVICES; ++i) {
            TestKey memory k = _keyFor(i % 2 == 0, 0xFEED00 + i);
            DeviceId id = _register(k);
            _attest(k, MEASUREMENT_V1, 1);
            staking.setSlashable(id, MIN_STAKE + i * 1e18);
            vm.prank(feedOwner);
            feed.addMember(id);
            keys.push(k);
            ids.push(id);
        }
        // Readings are made after every attestation, at a time every test starts from.
        vm.warp(block.timestamp + 100);
    }

    function _config() internal pure returns (IDeviceFeed.Config memory) {
        return
            IDeviceFeed.Config({
                quorum: QUORUM,
                decimals: 8,
                maxDeviationBps: MAX_DEVIATION_BPS,
                maxReadingAge: MAX_READING_AGE,
                minInterval: MIN_INTERVAL,
                maxAttestationAge: MAX_ATTESTATION_AGE,
                minStake: MIN_STAKE,
                minValue: MIN_VALUE,
                maxValue: MAX_VALUE,
                description: "Temperature, Hall 3 (C, 8 decimals)"
            });
    }

    function _reading(uint256 device, uint64 sequence, int256 value) internal view returns (Reading memory) {
        return
            Reading({
                deviceId: ids[device],
                feedId: feedId,
                sequence: sequence,
                timestamp: uint64(block.timestamp),
                value: value
            });
    }

    function _signReading(TestKey memory k, Reading memory r) internal view returns (bytes memory) {
        return _sign(k, _typedDigest(domainSeparator, DeviceMessageLib.hashReading(r)));
    }

    /// @notice Device `device` submits `value` at the current time with sequence `sequence`.
    function _submit(uint256 device, uint64 sequence, int256 value) internal returns (bool) {
        Reading memory r = _reading(device, sequence, value);
        return feed.submit(r, _deviceKey(keys[device]), _signReading(keys[device], r));
    }

    function _signed(Reading memory r, uint256 device) internal view returns (IDeviceFeed.SignedReading memory) {
        return
            IDeviceFeed.SignedReading({
                reading: r,
                key: _deviceKey(keys[device]),
                signature: _signReading(keys[device], r)
            });
    }
}
