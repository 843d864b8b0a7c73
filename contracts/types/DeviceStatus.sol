// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @notice Lifecycle of a device. Revoked (key compromised) and Decommissioned are terminal.
enum DeviceStatus {
    Unknown,
    Active,
    Suspended,
    Revoked,
    Decommissioned
}
