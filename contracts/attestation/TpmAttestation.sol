// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IDeviceAttestation} from "../interfaces/IDeviceAttestation.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {ITpmAttestation} from "../interfaces/ITpmAttestation.sol";
import {DeviceKeyLib} from "../libraries/DeviceKeyLib.sol";
import {TpmQuoteLib} from "../libraries/TpmQuoteLib.sol";
import {DeviceId} from "../types/DeviceId.sol";
import {KeyType} from "../types/KeyType.sol";

/// @title TpmAttestation
/// @notice Appraises TPM 2.0 quotes and records them as evidence in the registry. See ITpmAttestation.
/// @dev Holds the registry's APPRAISER_ROLE and no state: status, key, challenge, firmware, the TPM's
/// counter and the evidence record are the registry's, checked there with `attest`'s rules.
contract TpmAttestation is ITpmAttestation {
    IDeviceRegistry private immutable _REGISTRY;

    constructor(IDeviceRegistry registry_) {
        _REGISTRY = registry_;
    }

    /// @inheritdoc ITpmAttestation
    function attestTpmQuote(
        DeviceId deviceId,
        bytes calldata quote,
        bytes calldata signature,
        bytes calldata ak,
        bytes32[] calldata pcrValues,
        uint256 challengeBlock
    ) external {
        TpmQuoteLib.Quote memory q = _signedQuote(deviceId, quote, signature, ak);
        uint64 counter = _counter(q.resetCount, q.clock);
        // The registry checks status, key, challenge (extraData), firmware, recency and the counter, and
        // records. Its generic "counter not higher" is told apart here into the TPM's two reasons.
        try
            IDeviceAttestation(address(_REGISTRY)).recordAppraisedEvidence(
                deviceId,
                DeviceKeyLib.keyHash(KeyType.P256, ak),
                _bootPcrValue(q, pcrValues),
                counter,
                q.extraData,
                challengeBlock
            )
        // solhint-disable-next-line no-empty-blocks
        returns (uint32, uint64) {} catch (bytes memory reason) {
            _revertWithReason(deviceId, counter, reason);
        }
    }

    /// @inheritdoc ITpmAttestation
    function registry() external view returns (IDeviceRegistry) {
        return _REGISTRY;
    }

    /// @inheritdoc ITpmAttestation
    function tpmCounter(uint32 resetCount, uint64 clock) external pure returns (uint64) {
        return _counter(resetCount, clock);
    }

    /// @dev Parses the quote and its signature and checks the AK signed it.
    function _signedQuote(
        DeviceId deviceId,
        bytes calldata quote,
        bytes calldata signature,
        bytes calldata ak
    ) private view returns (TpmQuoteLib.Quote memory q) {
        q = TpmQuoteLib.parse(quote);
        (bytes32 r, bytes32 s) = TpmQuoteLib.parseSignature(signature);
        if (ak.length != DeviceKeyLib.P256_KEY_LENGTH) revert TpmAttestationBadKey(ak.length);
        // A key off the curve fails verification: the precompile and P256.verify both check the point.
        if (!DeviceKeyLib.p256Verify(sha256(quote), r, s, bytes32(ak[:32]), bytes32(ak[32:]))) {
            revert TpmAttestationInvalidSignature(deviceId);
        }
    }

    /// @dev Checks the PCR values against the quote's digest and returns BOOT_PCR's value.
    function _bootPcrValue(TpmQuoteLib.Quote memory q, bytes32[] calldata pcrValues) private pure returns (bytes32) {
        uint32 select = q.pcrSelect;
        if ((select >> TpmQuoteLib.BOOT_PCR) & 1 == 0) revert TpmQuoteLib.TpmQuoteBootPcrNotSelected(select);
        uint256 selected = _popcount(select);
        if (pcrValues.length != selected) revert TpmAttestationPcrCountMismatch(selected, pcrValues.length);
        bytes32 computed = sha256(abi.encodePacked(pcrValues));
        if (computed != q.pcrDigest) revert TpmAttestationPcrDigestMismatch(q.pcrDigest, computed);
        // PCRs come in ascending order: BOOT_PCR's value is preceded by one per lower selected PCR.
        return pcrValues[_popcount(select & uint32((1 << TpmQuoteLib.BOOT_PCR) - 1))];
    }

    /// @dev The registry's refusal, as the TPM's reason when it is the counter; as it came otherwise.
    function _revertWithReason(DeviceId deviceId, uint64 counter, bytes memory reason) private pure {
        if (reason.length == 100 && bytes4(reason) == IDeviceAttestation.AttestationBootCountDecreased.selector) {
            uint64 latest;
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                // The error's third word: (deviceId, bootCount, latest) after the 4-byte selector.
                latest := mload(add(reason, 100))
            }
            if (counter >> 32 < latest >> 32) {
                revert TpmAttestationResetCountWentBack(deviceId, uint32(counter >> 32), uint32(latest >> 32));
            }
            revert TpmAttestationClockWentBack(deviceId, uint32(counter), uint32(latest));
        }
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            revert(add(reason, 32), mload(reason))
        }
    }

    function _counter(uint32 resetCount, uint64 clock) private pure returns (uint64) {
        // Whole seconds fit 32 bits for 136 years of powered-on time.
        return (uint64(resetCount) << 32) | uint32(clock / 1000);
    }

    function _popcount(uint32 x) private pure returns (uint256 n) {
        for (; x != 0; x &= x - 1) ++n;
    }
}
