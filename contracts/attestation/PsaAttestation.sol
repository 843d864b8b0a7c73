// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {P256} from "@openzeppelin/contracts/utils/cryptography/P256.sol";
import {IDeviceAttestation} from "../interfaces/IDeviceAttestation.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {IPsaAttestation} from "../interfaces/IPsaAttestation.sol";
import {DeviceKeyLib} from "../libraries/DeviceKeyLib.sol";
import {PsaTokenLib} from "../libraries/PsaTokenLib.sol";
import {DeviceId} from "../types/DeviceId.sol";
import {KeyType} from "../types/KeyType.sol";

/// @title PsaAttestation
/// @notice Appraises Arm PSA attestation tokens (RFC 9783) and records them as evidence in the registry. See
/// IPsaAttestation.
/// @dev Holds the registry's APPRAISER_ROLE and no state: status, key, challenge, firmware, the counter and
/// the evidence record are the registry's, checked there with `attest`'s rules.
contract PsaAttestation is IPsaAttestation {
    /// @dev RFC 9783 §4.3.1's major lifecycle states whose PSA RoT evidence is trusted.
    uint256 private constant _SECURED = 0x30;
    uint256 private constant _NON_PSA_ROT_DEBUG = 0x40;

    IDeviceRegistry private immutable _REGISTRY;

    constructor(IDeviceRegistry registry_) {
        _REGISTRY = registry_;
    }

    /// @inheritdoc IPsaAttestation
    function attestPsaToken(DeviceId deviceId, bytes calldata token, bytes calldata key) external {
        if (key.length != DeviceKeyLib.P256_KEY_LENGTH) revert PsaAttestationBadKey(key.length);
        PsaTokenLib.Token memory t = PsaTokenLib.parse(token);
        _checkSignature(deviceId, t, key);
        uint256 state = t.securityLifecycle >> 8;
        if (state != _SECURED && state != _NON_PSA_ROT_DEBUG) {
            revert PsaAttestationUntrustedLifecycle(deviceId, t.securityLifecycle);
        }
        // The instance id names the attestation key: it must be the key that signed, the device's.
        bytes32 expected = sha256(abi.encodePacked(bytes1(0x04), key));
        if (t.instanceId != expected) revert PsaAttestationWrongInstanceId(deviceId, t.instanceId, expected);
        // The registry checks status, key, the nonce (only an issued one: challengeBlock 0), firmware and
        // recency, and records. The nonce's issue time is the counter: a token is recorded once.
        IDeviceAttestation(address(_REGISTRY)).recordAppraisedEvidence(
            deviceId,
            DeviceKeyLib.keyHash(KeyType.P256, key),
            t.measurement,
            uint64(uint256(t.nonce)),
            t.nonce,
            0
        );
    }

    /// @inheritdoc IPsaAttestation
    function registry() external view returns (IDeviceRegistry) {
        return _REGISTRY;
    }

    /// @inheritdoc IPsaAttestation
    function psaProfile() external pure returns (string memory) {
        return PsaTokenLib.PSA_PROFILE;
    }

    /// @dev ES256 by `key` over the Sig_structure: r and s in range and s low, as the chain takes every P-256
    /// signature (the TypeScript verifier likewise refuses high s).
    function _checkSignature(DeviceId deviceId, PsaTokenLib.Token memory t, bytes calldata key) private view {
        (bytes32 r, bytes32 s) = (t.r, t.s);
        if (uint256(r) == 0 || uint256(r) >= P256.N || uint256(s) == 0 || uint256(s) >= P256.N) {
            revert DeviceKeyLib.DeviceKeySignatureOutOfRange(r, s);
        }
        if (uint256(s) > DeviceKeyLib.P256_HALF_N) revert DeviceKeyLib.DeviceKeyHighS(s);
        // A key off the curve fails verification: the precompile and P256.verify both check the point.
        if (!DeviceKeyLib.p256Verify(t.messageHash, r, s, bytes32(key[:32]), bytes32(key[32:]))) {
            revert PsaAttestationInvalidSignature(deviceId);
        }
    }
}
