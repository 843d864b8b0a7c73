// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title MockProofs
/// @notice Stands in for the fraud-proofs contract in staking tests: only its evidence window is read;
/// tests call `slash` from its address.
contract MockProofs {
    /// @notice The evidence window staking checks against its unbonding period.
    uint256 public evidenceWindow;

    /// @notice Deploys with `window` as the evidence window.
    constructor(uint256 window) {
        evidenceWindow = window;
    }

    /// @notice Changes the evidence window.
    function setEvidenceWindow(uint256 window) external {
        evidenceWindow = window;
    }
}
