// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceId} from "../types/DeviceId.sol";
import {IDeviceRegistry} from "./IDeviceRegistry.sol";

/// @title ITpmAttestation
/// @notice Evidence from a TPM 2.0: a quote (TPMS_ATTEST) of the PCR that holds the measured-boot chain,
/// signed by the device's Attestation Key. The AK is the device's registered key (P-256), registered
/// through the maker's endorsement once the maker checked the TPM's EK certificate and ran credential
/// activation. An accepted quote becomes the same evidence record `attest` writes (the registry's
/// `recordAppraisedEvidence`), so `isTrusted` and everything above it read it unchanged.
interface ITpmAttestation {
    /// @notice The AK given is not a 64-byte P-256 key x‖y.
    error TpmAttestationBadKey(uint256 length);
    /// @notice The AK did not sign this quote.
    error TpmAttestationInvalidSignature(DeviceId deviceId);
    /// @notice The quote's resetCount is below the latest evidence's: an old quote, or a rolled-back TPM.
    error TpmAttestationResetCountWentBack(DeviceId deviceId, uint32 resetCount, uint32 latest);
    /// @notice Within one reset, the quote's clock (in seconds) is not after the latest evidence's: a quote
    /// recorded already, or an older one.
    error TpmAttestationClockWentBack(DeviceId deviceId, uint64 clockSeconds, uint64 latest);
    /// @notice As many PCR values must be given as the quote selects.
    error TpmAttestationPcrCountMismatch(uint256 selected, uint256 given);
    /// @notice The PCR values given do not hash to the quote's PCR digest.
    error TpmAttestationPcrDigestMismatch(bytes32 quoted, bytes32 computed);

    /// @notice Accepts a TPM quote as the device's evidence. `quote` is the TPMS_ATTEST the TPM signed;
    /// `signature` the AK's ECDSA signature over SHA-256 of it (TPMT_SIGNATURE or DER, high s accepted:
    /// TPMs do not normalise it); `ak` the device's current key (P-256 x‖y); `pcrValues` the values of the
    /// selected PCRs in ascending order, BOOT_PCR (16) among them, its value the firmware's measurement.
    /// The quote's extraData is the challenge: an issued nonce (`challengeBlock` 0) or the hash of
    /// `challengeBlock`. The evidence's bootCount is the TPM's counter `tpmCounter(resetCount, clock)`,
    /// which must move forward from the latest evidence's: a quote is recorded once, an older one never.
    /// Anyone may submit (the quote carries its own authority).
    function attestTpmQuote(
        DeviceId deviceId,
        bytes calldata quote,
        bytes calldata signature,
        bytes calldata ak,
        bytes32[] calldata pcrValues,
        uint256 challengeBlock
    ) external;

    /// @notice The registry whose devices and evidence this appraiser serves.
    function registry() external view returns (IDeviceRegistry);

    /// @notice The evidence counter of a TPM quote, as the registry's bootCount keeps it: resetCount in the
    /// high 32 bits, the clock in whole seconds (milliseconds / 1000) in the low 32 (136 years).
    function tpmCounter(uint32 resetCount, uint64 clock) external pure returns (uint64);
}
