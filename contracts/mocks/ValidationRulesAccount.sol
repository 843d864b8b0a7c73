// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IAccount} from "@account-abstraction/contracts/interfaces/IAccount.sol";
import {PackedUserOperation} from "@account-abstraction/contracts/interfaces/PackedUserOperation.sol";
import {MockERC20} from "./MockERC20.sol";

/// @title ValidationRulesAccount
/// @notice An ERC-4337 account for testing an ERC-7562 checker: its validateUserOp does what the first byte
/// of the signature asks (a `Probe`), then accepts the operation. Never use it to hold funds.
contract ValidationRulesAccount is IAccount {
    /// @notice What validateUserOp touches besides paying its prefund.
    enum Probe {
        Nothing,
        /// @dev token.totalSupply(): another contract's storage, not associated with this account.
        ForeignRead,
        /// @dev token.mint(token, 1): writes another contract's unassociated storage (totalSupply).
        ForeignWrite,
        /// @dev token.balanceOf(this): keccak(this ‖ slot), storage associated with this account.
        AssociatedRead,
        /// @dev block.timestamp: an opcode banned in validation.
        Timestamp
    }

    /// @notice The caller is not the EntryPoint this account trusts.
    error ValidationRulesAccountNotEntryPoint(address caller);

    address private immutable _ENTRY_POINT;
    MockERC20 private immutable _TOKEN;

    /// @notice An account validated by `entryPoint` that probes `token`.
    constructor(address entryPoint, MockERC20 token) {
        _ENTRY_POINT = entryPoint;
        _TOKEN = token;
    }

    /// @notice Accepts any ETH (the prefund comes from here).
    receive() external payable {}

    /// @inheritdoc IAccount
    function validateUserOp(
        PackedUserOperation calldata userOp,
        bytes32,
        uint256 missingAccountFunds
    ) external returns (uint256 validationData) {
        if (msg.sender != _ENTRY_POINT) revert ValidationRulesAccountNotEntryPoint(msg.sender);
        Probe probe = userOp.signature.length == 0 ? Probe.Nothing : Probe(uint8(userOp.signature[0]));
        if (probe == Probe.ForeignRead) {
            validationData = _TOKEN.totalSupply() == type(uint256).max ? 1 : 0;
        } else if (probe == Probe.ForeignWrite) {
            _TOKEN.mint(address(_TOKEN), 1);
        } else if (probe == Probe.AssociatedRead) {
            validationData = _TOKEN.balanceOf(address(this)) == type(uint256).max ? 1 : 0;
        } else if (probe == Probe.Timestamp) {
            // solhint-disable-next-line not-rely-on-time
            validationData = block.timestamp == 0 ? 1 : 0;
        }
        if (missingAccountFunds > 0) {
            // The EntryPoint checks the deposit it received: the call's result adds nothing.
            // solhint-disable-next-line avoid-low-level-calls
            (bool paid, ) = payable(msg.sender).call{value: missingAccountFunds}("");
            (paid);
        }
    }
}
