// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title FeeOnTransferToken
/// @notice An ERC-20 that burns a fee (1% as tests deploy it) of every transfer; mints and burns are exact.
/// The recipient gets less than the sender pays, so a contract that credits `amount` instead of what
/// arrived creates value from nothing.
contract FeeOnTransferToken is ERC20 {
    /// @notice The fee in basis points of each transfer (100 = 1%; 10_000 delivers nothing).
    uint256 public immutable FEE_BPS;

    /// @notice Deploys the token with a fee of `feeBps` basis points.
    constructor(uint256 feeBps) ERC20("Fee Token", "FEE") {
        FEE_BPS = feeBps;
    }

    /// @notice Mints `amount` to `to`.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @dev Transfers between accounts pay the fee out of the amount sent.
    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) {
            super._update(from, to, value);
            return;
        }
        uint256 fee = (value * FEE_BPS) / 10_000;
        super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}
