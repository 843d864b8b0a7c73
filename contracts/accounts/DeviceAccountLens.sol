// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {DeviceSignerLib} from "../libraries/DeviceSignerLib.sol";
import {DeviceId} from "../types/DeviceId.sol";

/// @title IAccountView
/// @notice What the lens reads of a DeviceAccount (an interface, so that this file does not compile the
/// account); see DeviceAccount and OpenZeppelin's MultiSignerERC7913Weighted for each function.
interface IAccountView {
    /// @notice The signers from `start` to `end`.
    function getSigners(uint64 start, uint64 end) external view returns (bytes[] memory);
    /// @notice A signer's weight (0 if not a signer).
    function signerWeight(bytes memory signer) external view returns (uint64);
    /// @notice The low threshold.
    function threshold() external view returns (uint64);
    /// @notice The account's max attestation age.
    function maxAttestationAge() external view returns (uint256);
    /// @notice The account's copy of a device's key hash (high bits) and its distrust cooldown.
    function deviceSlot(DeviceId deviceId) external view returns (uint256 keyHashHigh, uint256 distrustedUntil);
    // solhint-disable-next-line func-name-mixedcase, use-natspec
    function REGISTRY() external view returns (IDeviceRegistry);
    // solhint-disable-next-line func-name-mixedcase, use-natspec
    function VERIFIER() external view returns (address);
}

/// @title DeviceAccountLens
/// @notice Views over a DeviceAccount that read the registry for every signer: kept out of the account so
/// that its code stays under the 24 KiB limit. Stateless; one deployment serves every account.
contract DeviceAccountLens {
    /// @notice The weight of the account's device signers trusted now (the registry's current key is the
    /// account's copy of it, and isTrustedKey within the account's max attestation age), and whether the
    /// account is frozen: that weight below the low threshold, so devices cannot pay. The high threshold,
    /// if other signers (the operator) reach it, keeps full control: it is the owner's path.
    function trustedWeight(address deviceAccount) external view returns (uint256 weight, bool frozen) {
        IAccountView account = IAccountView(deviceAccount);
        bytes[] memory signers = account.getSigners(0, type(uint64).max);
        IDeviceRegistry registry = account.REGISTRY();
        address verifier = account.VERIFIER();
        uint256 maxAge = account.maxAttestationAge();
        for (uint256 i; i < signers.length; ++i) {
            (bool isDevice, DeviceId deviceId) = DeviceSignerLib.deviceOfMemory(signers[i], verifier);
            if (isDevice && _trusted(account, registry, deviceId, maxAge)) weight += account.signerWeight(signers[i]);
        }
        frozen = weight < account.threshold();
    }

    function _trusted(
        IAccountView account,
        IDeviceRegistry registry,
        DeviceId deviceId,
        uint256 maxAge
    ) private view returns (bool) {
        bytes32 keyHash = registry.currentKeyHash(deviceId);
        (uint256 high, ) = account.deviceSlot(deviceId);
        bool accountKey = high == 0 ? keyHash == DeviceId.unwrap(deviceId) : uint256(keyHash) >> 48 == high;
        return accountKey && registry.isTrustedKey(deviceId, keyHash, maxAge);
    }
}
