// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;
import {RegistryFixture, TestKey} from "./utils/RegistryFixture.sol";
import {console} from "forge-std/console.sol";
contract SmokeTest is RegistryFixture {
    function test_smoke() public {
        TestKey memory a = _secpKey(SECP_PK);
        TestKey memory b = _p256Key(P256_PK);
        _register(a);
        _register(b);
        assertEq(registry.DOMAIN_SEPARATOR(), _domainSeparator(block.chainid, address(registry)));
        console.log(block.chainid);
        (bool ok, bytes memory ret) = address(0x100).staticcall(hex"00");
        console.log(ok, ret.length);
    }
}
