// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {StreamLib} from "../contracts/libraries/StreamLib.sol";

/// @notice Drives StreamLib as a vault does: it keeps the unearned total and books what is earned.
contract StreamHarness {
    using StreamLib for StreamLib.Streams;
    using StreamLib for StreamLib.HeldBack;

    StreamLib.Streams private _streams;
    StreamLib.HeldBack private _held;
    uint256 public earned;

    constructor() {
        _streams.settle(0, 0);
    }

    function add(uint256 amount, uint256 endTime) external {
        settle();
        _streams.add(amount, endTime);
    }

    function settle() public {
        (uint256 e, uint256 rate) = _streams.earnedSince();
        _streams.settle(e, rate);
        earned += e;
    }

    function unearned() external view returns (uint256) {
        return _streams.unearned;
    }

    function pending() external view returns (uint256 e) {
        (e, ) = _streams.earnedSince();
    }

    function hold(uint256 amount, uint256 duration) external {
        _held.hold(amount, duration);
    }

    function remaining() external view returns (uint256) {
        return _held.remaining();
    }
}

contract StreamLibTest is Test {
    uint256 internal constant DAY = 1 days;
    StreamHarness internal h;

    function setUp() public {
        vm.warp(1_700_000_000); // 22:13:20 UTC: not a midnight
        h = new StreamHarness();
    }

    /// @notice A stream earns linearly until the first midnight at or after its end, then all of it.
    function test_add_EarnsLinearlyToTheMidnightAfterItsEnd() public {
        uint256 end = block.timestamp + 10 days;
        uint256 stop = _midnightAtOrAfter(end);
        uint256 duration = stop - block.timestamp;
        h.add(1_000e18, end);
        vm.warp(block.timestamp + duration / 2);
        assertApproxEqAbs(h.pending(), 500e18, 1e18 / 1e6);
        vm.warp(stop - 1);
        assertLt(h.pending(), 1_000e18);
        vm.warp(stop);
        assertEq(h.pending(), 1_000e18);
        h.settle();
        assertEq(h.earned(), 1_000e18);
        assertEq(h.unearned(), 0);
    }

    /// @notice Streams ending on different days stop at their own midnight; settling in between changes
    /// nothing of the total.
    function test_add_StreamsStopAtTheirOwnDay() public {
        uint256 firstStop = _midnightAtOrAfter(block.timestamp + 2 days);
        h.add(100e18, block.timestamp + 2 days);
        h.add(300e18, block.timestamp + 5 days);
        vm.warp(firstStop + 1 days);
        h.settle();
        assertGe(h.earned(), 100e18, "the first stream is all earned after its midnight");
        vm.warp(block.timestamp + 10 days);
        h.settle();
        assertEq(h.earned(), 400e18);
        assertEq(h.unearned(), 0);
    }

    /// @notice Whatever the amounts, ends and settling times, what is earned never decreases, never passes
    /// what was streamed, and is all of it once every stream has ended.
    function testFuzz_earned_MonotonicAndComplete(uint96 a, uint96 b, uint32 endA, uint32 endB, uint32 step) public {
        // At least a day, as every stream of the pool is (a term and a recovery vesting of a day or more).
        endA = uint32(bound(endA, 1 days, 400 days));
        endB = uint32(bound(endB, 1 days, 400 days));
        step = uint32(bound(step, 1 hours, 60 days));
        _checkStreams(a, b, endA, endB, step);
    }

    /// @notice Concrete twin of testFuzz_earned_MonotonicAndComplete.
    function test_earned_MonotonicAndComplete_Concrete() public {
        _checkStreams(123e18 + 7, 1, 1 days + 17 hours, 33 days + 5, 3 days);
    }

    /// @notice A held-back amount is released linearly; holding more restarts the clock on the remainder.
    function test_hold_ReleasesLinearly() public {
        h.hold(100e18, 10 days);
        assertEq(h.remaining(), 100e18);
        vm.warp(block.timestamp + 5 days);
        assertEq(h.remaining(), 50e18);
        h.hold(20e18, 10 days);
        assertEq(h.remaining(), 70e18);
        vm.warp(block.timestamp + 10 days);
        assertEq(h.remaining(), 0);
    }

    function _checkStreams(uint256 a, uint256 b, uint256 endA, uint256 endB, uint256 step) internal {
        h.add(a, block.timestamp + endA);
        h.add(b, block.timestamp + endB);
        uint256 stop = _midnightAtOrAfter(block.timestamp + (endA > endB ? endA : endB));
        uint256 last;
        while (block.timestamp < stop) {
            vm.warp(block.timestamp + step);
            h.settle();
            assertGe(h.earned(), last, "never decreases");
            assertLe(h.earned(), a + b, "never more than streamed");
            last = h.earned();
        }
        assertEq(h.earned(), a + b, "all of it once every stream ended");
    }

    function _midnightAtOrAfter(uint256 t) internal pure returns (uint256) {
        return ((t + DAY - 1) / DAY) * DAY;
    }
}
