// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title FixedSupplyToken
/// @notice An ERC-20 with a fixed supply minted to its deployer and no mint function: a stand-in for a
/// public chain's stablecoin in tests of public-chain deployments (unlike MockERC20, it deploys on any
/// chain, since nobody can mint it).
contract FixedSupplyToken is ERC20 {
    uint8 private immutable DECIMALS;

    /// @notice Deploys the token and mints `supply` base units to the deployer.
    constructor(string memory name_, string memory symbol_, uint8 decimals_, uint256 supply) ERC20(name_, symbol_) {
        DECIMALS = decimals_;
        _mint(msg.sender, supply);
    }

    /// @inheritdoc ERC20
    function decimals() public view override returns (uint8) {
        return DECIMALS;
    }
}
