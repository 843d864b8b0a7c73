// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceId} from "../types/DeviceId.sol";

/// @title IStakeBacker
/// @notice What the staking contract asks of a backer (an insurance pool) that device operators allocate
/// stake to. Governance approves backers in the staking contract; only approved backers take allocations,
/// and each must be an ERC-4626 vault whose `asset()` is the staking collateral.
/// @dev The unique-stake rule between the two: coverage the backer sells against an allocation
/// `(device, scope)` never exceeds the allocation times the backer's cover factor, and the backer's
/// `requiredAllocation` tells the staking contract how much of the allocation live coverage still uses, so
/// that part can be neither deallocated nor withdrawn.
interface IStakeBacker {
    /// @notice The highest cover factor (bps) the backer ever sold coverage at. It never decreases: the
    /// staking contract keeps `bounty + ceiling < 100%` for every approved backer.
    function coverFactorCeilingBps() external view returns (uint256);

    /// @notice The part of the allocation `(deviceId, scope)` that coverage not yet released uses.
    function requiredAllocation(DeviceId deviceId, bytes32 scope) external view returns (uint256);

    /// @notice Called by the staking contract in the slash's transaction, after it transferred `recovery`
    /// (the allocation's share of the slash, net of the prover's bounty) to the backer. `scope` is zero
    /// for stake that was not allocated (the backer is then the staking contract's loss recipient).
    function onStakeSlashed(DeviceId deviceId, bytes32 scope, bytes32 incident, uint256 recovery) external;
}
