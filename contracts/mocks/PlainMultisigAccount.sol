// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Account} from "@openzeppelin/contracts/account/Account.sol";
import {ERC7821} from "@openzeppelin/contracts/account/extensions/draft-ERC7821.sol";
import {IEntryPoint} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
// solhint-disable-next-line max-line-length
import {MultiSignerERC7913Weighted} from "@openzeppelin/contracts/utils/cryptography/signers/MultiSignerERC7913Weighted.sol";

/// @title PlainMultisigAccount
/// @notice The bench's baseline: OpenZeppelin's account stack with nothing of DeviceAccount's (no policy, no
/// registry, no freeze), the same EntryPoint and the same optimizer settings, so that the bench can say what
/// the weighted multisigner itself costs on this chain. Signers are OpenZeppelin ERC-7913 signers (e.g.
/// ERC7913P256Verifier ‖ qx ‖ qy). Not part of the system.
contract PlainMultisigAccount is Account, ERC7821, MultiSignerERC7913Weighted {
    IEntryPoint private immutable _ENTRY_POINT;

    constructor(
        IEntryPoint entryPoint_,
        bytes[] memory signers,
        uint64[] memory weights,
        uint64 threshold_
    ) MultiSignerERC7913Weighted(signers, weights, threshold_) {
        _ENTRY_POINT = entryPoint_;
    }

    /// @inheritdoc Account
    function entryPoint() public view override returns (IEntryPoint) {
        return _ENTRY_POINT;
    }

    /// @dev The EntryPoint runs ERC-7821 batches (OpenZeppelin's default allows only the account itself).
    function _erc7821AuthorizedExecutor(
        address caller,
        bytes32 mode,
        bytes calldata executionData
    ) internal view override returns (bool) {
        return caller == address(entryPoint()) || super._erc7821AuthorizedExecutor(caller, mode, executionData);
    }
}
