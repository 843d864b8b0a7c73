// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title MockERC20
/// @notice A plain ERC-20 whose `mint` anyone may call: collateral for tests and local demos. It deploys on
/// a local chain only (chain id 31337: the in-process network and `hardhat node`), so a deployment meant
/// for a public chain can never end up with a token anyone mints.
contract MockERC20 is ERC20 {
    /// @notice The chain id of the in-process network and of `hardhat node`.
    uint256 public constant LOCAL_CHAIN_ID = 31_337;

    /// @notice Deployed on a chain other than the local one.
    error MockERC20NotLocalChain(uint256 chainId);

    /// @notice Deploys the token with `name_` and `symbol_`.
    constructor(string memory name_, string memory symbol_) ERC20(name_, symbol_) {
        if (block.chainid != LOCAL_CHAIN_ID) revert MockERC20NotLocalChain(block.chainid);
    }

    /// @notice Mints `amount` to `to`.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
