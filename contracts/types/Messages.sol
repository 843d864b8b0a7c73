// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceId} from "./DeviceId.sol";

/// @notice Evidence of what a device booted: the final digest of its measured-boot chain, fresh for
/// `challenge` (a recent block hash or an issued nonce). `bootCount` is a monotonic counter the device
/// supplies when it has one (0 when it has none).
struct Attestation {
    DeviceId deviceId;
    bytes32 measurement;
    bytes32 challenge;
    uint64 timestamp;
    uint64 bootCount;
}

/// @notice One signed reading of a feed. `sequence` strictly increases per device and feed.
struct Reading {
    DeviceId deviceId;
    bytes32 feedId;
    uint64 sequence;
    uint64 timestamp;
    int256 value;
}

/// @notice A device-signed Merkle root over the struct hashes of readings `firstSequence..lastSequence`
/// (`count` of them, timestamps within `fromTimestamp..toTimestamp`) of one feed.
struct ReadingBatch {
    DeviceId deviceId;
    bytes32 feedId;
    uint64 firstSequence;
    uint64 lastSequence;
    uint64 count;
    uint64 fromTimestamp;
    uint64 toTimestamp;
    bytes32 root;
}

/// @notice A payment channel voucher: the buyer's device owes the seller `cumulativeAmount` in total on channel
/// `channel` (the id PaymentChannel derives from the channel's terms). Cumulative, so only the latest one
/// matters and a lost one costs nothing. Signed under the PaymentChannel contract's EIP-712 domain.
struct Voucher {
    bytes32 channel;
    uint256 cumulativeAmount;
}
