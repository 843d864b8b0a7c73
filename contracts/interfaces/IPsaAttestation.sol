// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceId} from "../types/DeviceId.sol";
import {IDeviceRegistry} from "./IDeviceRegistry.sol";

/// @title IPsaAttestation
/// @notice Evidence from an Arm PSA Root of Trust: an Initial Attestation Token (RFC 9783), a COSE_Sign1
/// signed with ES256 by the device's registered P-256 key, in any serialization RFC 9783 §5 lets an attester
/// emit (parsed by PsaTokenLib; DeviceTrust devices emit core deterministic CBOR, src/device/psa-token.ts).
/// An accepted token becomes the same evidence record `attest` writes (the registry's
/// `recordAppraisedEvidence`), so `isTrusted` and everything above it read it unchanged.
///
/// Freshness and the counter: a PSA token carries no clock and no counter of its own, so a token over a
/// block hash could be submitted again for as long as the hash is recent. PSA evidence therefore takes only
/// nonces the registry issued (`issueChallenge`: single use, consumed by the registry, at most
/// MAX_EVIDENCE_AGE old): the token's nonce claim is the challenge, and the evidence's bootCount (the
/// registry's strictly increasing counter) is the nonce's issue time, its low 64 bits. A token is recorded
/// once; a device that also sends other evidence kinds sees its counter at least at that time afterwards.
interface IPsaAttestation {
    /// @notice The key given is not a 64-byte P-256 key x‖y.
    error PsaAttestationBadKey(uint256 length);
    /// @notice The key did not sign this token (or the key is not on the curve).
    error PsaAttestationInvalidSignature(DeviceId deviceId);
    /// @notice The token's instance id is not 0x01 ‖ sha256(0x04 ‖ x ‖ y) of the key given: the token names
    /// another attestation key than the device's. `instance` is the token's hash, `expected` the key's.
    error PsaAttestationWrongInstanceId(DeviceId deviceId, bytes32 instance, bytes32 expected);
    /// @notice The PSA RoT is in a lifecycle state whose evidence is not trusted: only SECURED
    /// (0x3000-0x30ff) and NON_PSA_ROT_DEBUG (0x4000-0x40ff) are.
    error PsaAttestationUntrustedLifecycle(DeviceId deviceId, uint16 lifecycle);

    /// @notice Accepts a PSA attestation token as the device's evidence. `token` is the COSE_Sign1 (tag 18
    /// included); `key` the device's current key (P-256 x‖y), which signed it (ES256, r‖s, low s).
    /// Appraised here: the signature over the COSE Sig_structure; the instance id, which must be
    /// 0x01 ‖ sha256(0x04 ‖ key) (the token is bound to the device's key); the security lifecycle, SECURED or
    /// NON_PSA_ROT_DEBUG (RFC 9783 §4.3.1, the default of src/protocol/psa-claims.ts). Then the registry
    /// checks, as for any evidence: the device's status and current key; the nonce, which must be the
    /// device's pending issued challenge (32 bytes); its issue time as the counter (see the interface
    /// notice); and the measurement, `psaMeasurement` of the software components (m_0 = 32 zero bytes,
    /// m_i = sha256(m_{i-1} ‖ measurementValue_i), every measurement value SHA-256), against the device
    /// model's published firmware. Implementation id, signer ids and versions are for off-chain appraisal
    /// (src/verify/psa-token.ts); the measurement commits to the measurement values and their order.
    /// Anyone may submit (the token carries its own authority).
    function attestPsaToken(DeviceId deviceId, bytes calldata token, bytes calldata key) external;

    /// @notice The registry whose devices and evidence this appraiser serves.
    function registry() external view returns (IDeviceRegistry);

    /// @notice The one EAT profile accepted: "tag:psacertified.org,2023:psa#tfm" (RFC 9783).
    function psaProfile() external pure returns (string memory);
}
