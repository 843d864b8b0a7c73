// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {MockERC20} from "../contracts/mocks/MockERC20.sol";

/// @notice The mintable mock deploys on the local chain only: a public deployment cannot get one.
contract MockERC20Test is Test {
    function test_constructor_DeploysOnTheLocalChain() public {
        assertEq(block.chainid, 31_337);
        MockERC20 token = new MockERC20("Collateral", "COL");
        token.mint(address(this), 5);
        assertEq(token.balanceOf(address(this)), 5);
    }

    function testFuzz_constructor_RevertWhen_NotTheLocalChain(uint64 chainId) public {
        vm.assume(chainId != 31_337);
        vm.chainId(chainId);
        vm.expectRevert(abi.encodeWithSelector(MockERC20.MockERC20NotLocalChain.selector, uint256(chainId)));
        new MockERC20("Collateral", "COL");
    }
}
