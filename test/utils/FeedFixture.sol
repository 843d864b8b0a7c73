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
/// secp256k1 at odd ones), every device registered to `operator`, attested on Good firmware, staked and a
/// member: the feed owner (who does not operate them) invites each device and `operator` joins it.
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
    uint16 internal constant MAX_SPREAD_BPS = 2_000;
    uint16 internal constant DEVIATION_THRESHOLD_BPS = 50;
    uint32 internal constant HEARTBEAT = 10 minutes;
    uint32 internal constant QUARANTINE_PERIOD = 1 days;
    uint8 internal constant MAX_QUARANTINES = 2;
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
            _inviteAndJoin(id);
            keys.push(k);
            ids.push(id);
        }
        // Readings are made after every attestation, at a time every test starts from.
        vm.warp(block.timestamp + 100);
    }

    /// @notice The feed owner invites `id` and the device's operator accepts: membership with consent.
    function _inviteAndJoin(DeviceId id) internal {
        vm.prank(feedOwner);
        feed.addMember(id);
        vm.prank(registry.operatorOf(id));
        feed.join(id);
    }

    /// @notice Registers `k` (unattested) to `op` with a maker signature.
    function _registerTo(TestKey memory k, address op) internal returns (DeviceId) {
        return registry.register(_registration(k, op, MODEL, block.timestamp + 1 hours), maker, _endorsement(k, MODEL));
    }

    /// @notice Moves the custody of `id` from its operator to `to` (both steps of the registry's transfer).
    function _transferCustody(DeviceId id, address to) internal {
        address from = registry.operatorOf(id);
        if (from == to) return;
        vm.prank(from);
        registry.startCustodyTransfer(id, to);
        vm.prank(to);
        registry.acceptCustody(id);
    }

    /// @notice The `index`th of a set of distinct operator addresses, none of them the fixture's `operator`.
    function _operatorAt(uint256 index) internal pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encode("feed operator", index)))));
    }

    /// @notice Gives every fixture device an operator of its own (device i to `_operatorAt(i)`).
    function _separateOperators() internal {
        for (uint256 i; i < DEVICES; ++i) _transferCustody(ids[i], _operatorAt(i));
    }

    function _config() internal pure returns (IDeviceFeed.Config memory) {
        return
            IDeviceFeed.Config({
                quorum: QUORUM,
                decimals: 8,
                maxDeviationBps: MAX_DEVIATION_BPS,
                maxSpreadBps: MAX_SPREAD_BPS,
                deviationThresholdBps: DEVIATION_THRESHOLD_BPS,
                heartbeat: HEARTBEAT,
                maxReadingAge: MAX_READING_AGE,
                minInterval: MIN_INTERVAL,
                maxAttestationAge: MAX_ATTESTATION_AGE,
                quarantinePeriod: QUARANTINE_PERIOD,
                maxQuarantines: MAX_QUARANTINES,
                lockdown: false,
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
