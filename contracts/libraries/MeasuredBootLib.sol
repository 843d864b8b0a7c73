// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title MeasuredBootLib
/// @notice The measured-boot chain, as a TPM extends a SHA-256 PCR: m_0 = 0, m_i = sha256(m_{i-1} ‖
/// sha256(stage_i)); the final m_n is the measurement a maker publishes and a device attests. The
/// TypeScript twin is src/protocol/measured-boot.ts.
library MeasuredBootLib {
    /// @notice One step: the chain after measuring a stage whose image digest is `stageDigest`.
    function extend(bytes32 measurement, bytes32 stageDigest) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(measurement, stageDigest));
    }

    /// @notice The final measurement of stages with these image digests, in boot order.
    function measure(bytes32[] memory stageDigests) internal pure returns (bytes32 measurement) {
        for (uint256 i; i < stageDigests.length; ++i) {
            measurement = extend(measurement, stageDigests[i]);
        }
    }
}
