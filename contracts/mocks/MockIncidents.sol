// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IFraudProofs} from "../interfaces/IFraudProofs.sol";
import {DeviceId} from "../types/DeviceId.sol";

/// @title MockIncidents
/// @notice Stands in for the fraud-proofs contract where a test needs incidents at will (several on one
/// device, any kind, any time): `incident(id)` answers what the test recorded, kind None otherwise.
contract MockIncidents {
    mapping(bytes32 id => IFraudProofs.Incident) private _incidents;

    /// @notice Records (or overwrites) incident `id`.
    function setIncident(
        bytes32 id,
        DeviceId deviceId,
        IFraudProofs.IncidentKind kind,
        uint64 time,
        uint128 slashed
    ) external {
        _incidents[id] = IFraudProofs.Incident({deviceId: deviceId, kind: kind, time: time, slashed: slashed});
    }

    /// @notice The recorded incident (kind None if none).
    function incident(bytes32 id) external view returns (IFraudProofs.Incident memory) {
        return _incidents[id];
    }
}
