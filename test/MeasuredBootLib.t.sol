// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {MeasuredBootLib} from "../contracts/libraries/MeasuredBootLib.sol";

/// @notice The measured-boot chain: known answers (by hand and from node:crypto) and order sensitivity.
contract MeasuredBootLibTest is Test {
    /// @dev sha256 of the ASCII strings "bootloader", "kernel", "application", and the chain over them,
    /// computed off chain with node:crypto (independent of Solidity).
    bytes32 private constant BOOTLOADER = 0x3b4a12881d11f33cff968a24d7c53723a8232cde9a8d91e29fdbd6a95ae6adf0;
    bytes32 private constant KERNEL = 0x6923dd1bc0460082c5d55a831908c24a282860b7f1cd6c2b79cf1bc8857c639c;
    bytes32 private constant APPLICATION = 0x1fe289205936c3fdb61158223892c7a8bee6ff4dfa085ea1c094ce0294e32114;
    bytes32 private constant M1 = 0xb21f9de58b814da1f689884e00151fb95745a10dcf7896f04aedfbaf8a4b2834;
    bytes32 private constant M3 = 0xa97b5f2077f6e6bba768d91c23234091f9bbbc436fb578e5377b5f94ec57d6a9;

    function _stages() private pure returns (bytes32[] memory stages) {
        stages = new bytes32[](3);
        stages[0] = sha256("bootloader");
        stages[1] = sha256("kernel");
        stages[2] = sha256("application");
    }

    function test_extend_isSha256OfRegisterAndDigest() public pure {
        bytes32 register = keccak256("register");
        bytes32 digest = keccak256("digest");
        assertEq(MeasuredBootLib.extend(register, digest), sha256(abi.encodePacked(register, digest)));
    }

    function test_extend_knownAnswerFromReset() public pure {
        assertEq(MeasuredBootLib.extend(bytes32(0), BOOTLOADER), M1);
    }

    function test_measure_knownAnswerByHand() public pure {
        bytes32[] memory stages = _stages();
        assertEq(stages[0], BOOTLOADER);
        assertEq(stages[1], KERNEL);
        assertEq(stages[2], APPLICATION);
        bytes32 m0 = bytes32(0);
        bytes32 m1 = sha256(abi.encodePacked(m0, stages[0]));
        bytes32 m2 = sha256(abi.encodePacked(m1, stages[1]));
        bytes32 m3 = sha256(abi.encodePacked(m2, stages[2]));
        assertEq(MeasuredBootLib.measure(stages), m3);
        assertEq(m3, M3, "matches node:crypto");
    }

    function test_measure_emptyChainIsReset() public pure {
        assertEq(MeasuredBootLib.measure(new bytes32[](0)), bytes32(0));
    }

    function test_measure_oneStageIsOneExtend() public pure {
        bytes32[] memory stages = new bytes32[](1);
        stages[0] = BOOTLOADER;
        assertEq(MeasuredBootLib.measure(stages), M1);
    }

    function test_measure_orderMatters() public pure {
        bytes32[] memory stages = _stages();
        bytes32[] memory swapped = _stages();
        (swapped[1], swapped[2]) = (swapped[2], swapped[1]);
        assertTrue(MeasuredBootLib.measure(stages) != MeasuredBootLib.measure(swapped));
    }

    function test_measure_extraStageChangesMeasurement() public pure {
        bytes32[] memory stages = _stages();
        bytes32[] memory longer = new bytes32[](4);
        for (uint256 i; i < 3; ++i) longer[i] = stages[i];
        longer[3] = bytes32(0);
        assertTrue(MeasuredBootLib.measure(stages) != MeasuredBootLib.measure(longer), "even a zero stage counts");
    }

    /// Swapping any two different stages changes the final measurement.
    function testFuzz_measure_orderSensitive(bytes32 a, bytes32 b, bytes32 c) public pure {
        if (a == b) b = ~a; // keep every run (bound() over assume)
        bytes32[] memory ab = new bytes32[](3);
        bytes32[] memory ba = new bytes32[](3);
        (ab[0], ab[1], ab[2]) = (a, b, c);
        (ba[0], ba[1], ba[2]) = (b, a, c);
        assertTrue(MeasuredBootLib.measure(ab) != MeasuredBootLib.measure(ba));
        assertEq(
            MeasuredBootLib.measure(ab),
            MeasuredBootLib.extend(MeasuredBootLib.extend(MeasuredBootLib.extend(bytes32(0), a), b), c)
        );
    }
}
