// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";

/// @title ReentrantToken
/// @notice An ERC-20 that, once armed, calls back into `target` with `data` during its next transfer and
/// bubbles up any revert: shows that a token cannot reenter the contract moving it.
contract ReentrantToken is ERC20 {
    address private _target;
    bytes private _data;

    /// @notice Deploys the token.
    constructor() ERC20("Reentrant Token", "REENT") {}

    /// @notice Mints `amount` to `to`.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice The next transfer between accounts calls `target` with `data` (once).
    function arm(address target, bytes calldata data) external {
        _target = target;
        _data = data;
    }

    /// @dev Transfers as usual, then makes the armed call (disarmed first, so it happens once).
    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        address target = _target;
        if (target == address(0) || from == address(0) || to == address(0)) return;
        bytes memory data = _data;
        delete _target;
        delete _data;
        Address.functionCall(target, data);
    }
}
