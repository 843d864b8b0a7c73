// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @notice A device's identity for life: the key hash of its first key (see DeviceKeyLib.keyHash). It
/// survives key rotation and custody transfers.
type DeviceId is bytes32;

using {eq as ==, neq as !=} for DeviceId global;

function eq(DeviceId a, DeviceId b) pure returns (bool) {
    return DeviceId.unwrap(a) == DeviceId.unwrap(b);
}

function neq(DeviceId a, DeviceId b) pure returns (bool) {
    return DeviceId.unwrap(a) != DeviceId.unwrap(b);
}
