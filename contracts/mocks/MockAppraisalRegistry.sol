// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceId} from "../types/DeviceId.sol";

/// @title MockAppraisalRegistry
/// @notice Stands in for the registry's `recordAppraisedEvidence` in appraiser tests that use fixed evidence
/// (real TPM quotes made once): it accepts exactly the expected device, key, measurement and challenge, so a
/// mutation anywhere in the evidence is refused by the appraiser or here.
contract MockAppraisalRegistry {
    struct Expected {
        DeviceId deviceId;
        bytes32 keyHash;
        bytes32 measurement;
        bytes32 challenge;
    }

    Expected private _expected;
    /// @notice How many records it accepted.
    uint256 public recorded;

    error MockAppraisalUnexpected(DeviceId deviceId, bytes32 keyHash, bytes32 measurement, bytes32 challenge);

    /// @notice The one device, key, measurement and challenge to accept from now on.
    function expect(DeviceId deviceId, bytes32 keyHash, bytes32 measurement, bytes32 challenge) external {
        _expected = Expected(deviceId, keyHash, measurement, challenge);
    }

    /// @notice Accepts exactly the expected record; returns firmware 1 and the block's time.
    function recordAppraisedEvidence(
        DeviceId deviceId,
        bytes32 keyHash,
        bytes32 measurement,
        uint64,
        bytes32 challenge,
        uint256
    ) external returns (uint32 firmwareId, uint64 timestamp) {
        Expected memory e = _expected;
        if (
            DeviceId.unwrap(deviceId) != DeviceId.unwrap(e.deviceId) ||
            keyHash != e.keyHash ||
            measurement != e.measurement ||
            challenge != e.challenge
        ) revert MockAppraisalUnexpected(deviceId, keyHash, measurement, challenge);
        ++recorded;
        return (1, uint64(block.timestamp));
    }
}
