// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC7913SignatureVerifier} from "@openzeppelin/contracts/interfaces/IERC7913.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {DeviceKeyLib} from "../libraries/DeviceKeyLib.sol";
import {DeviceSignerLib} from "../libraries/DeviceSignerLib.sol";
import {DeviceId} from "../types/DeviceId.sol";
import {KeyType} from "../types/KeyType.sol";

/// @title DeviceSignerVerifier
/// @notice ERC-7913 verifier for DeviceTrust devices: the key is a 32-byte device id, and a signature is
/// valid only if the registry says it is by the device's CURRENT key, the device is trusted now (isTrusted
/// within the caller's max attestation age) and no incident was ever recorded against it. Both curves.
/// @dev An ERC-7913 signer is `address(this) ‖ deviceId`; the signature encoding is DeviceSignerLib's.
/// The caller's max attestation age is `maxAttestationAge()` of the caller when it answers one (a
/// DeviceAccount does), DEFAULT_MAX_AGE otherwise (an off-chain eth_call, a contract that does not say).
contract DeviceSignerVerifier is IERC7913SignatureVerifier {
    /// @notice The registry that answers isTrustedKey.
    IDeviceRegistry public immutable REGISTRY;
    /// @notice The max attestation age for callers that do not say theirs.
    uint256 public immutable DEFAULT_MAX_AGE;

    /// @notice The registry is the zero address or the default age is zero.
    error DeviceSignerVerifierInvalidSetup();

    constructor(IDeviceRegistry registry, uint256 defaultMaxAge) {
        if (address(registry) == address(0) || defaultMaxAge == 0) revert DeviceSignerVerifierInvalidSetup();
        REGISTRY = registry;
        DEFAULT_MAX_AGE = defaultMaxAge;
    }

    /// @inheritdoc IERC7913SignatureVerifier
    function verify(bytes calldata key, bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        if (key.length != 32) return 0xffffffff;
        (bool ok, KeyType keyType, bytes calldata deviceKey, bytes calldata sig) = DeviceSignerLib.split(signature);
        if (!ok) return 0xffffffff;
        DeviceId deviceId = DeviceId.wrap(bytes32(key));
        bytes32 keyHash = DeviceKeyLib.keyHash(keyType, deviceKey);
        // The trust check first: it is cheaper than a P-256 verification and refuses most forgeries.
        if (!REGISTRY.isTrustedKey(deviceId, keyHash, _maxAgeOf(msg.sender))) return 0xffffffff;
        if (!DeviceKeyLib.isValidSignature(keyType, deviceKey, hash, sig)) return 0xffffffff;
        return IERC7913SignatureVerifier.verify.selector;
    }

    /// @dev The caller's maxAttestationAge() if it answers one (nonzero), else the default. A plain
    /// staticcall: try/catch would revert on an address without code or an undecodable answer.
    function _maxAgeOf(address caller) private view returns (uint256 age) {
        (bool success, bytes memory answer) = caller.staticcall(abi.encodeWithSignature("maxAttestationAge()"));
        if (success && answer.length == 32) age = abi.decode(answer, (uint256));
        if (age == 0) age = DEFAULT_MAX_AGE;
    }
}
