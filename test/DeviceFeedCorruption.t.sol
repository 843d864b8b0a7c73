// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceId} from "../contracts/types/DeviceId.sol";
import {FeedFixture} from "./utils/FeedFixture.sol";

/// @notice Unit and fuzz tests of DeviceFeed.corruption(): the members grouped by registry operator (one
/// operator controls all its devices, its active stake summed), the cheapest set of operators holding
/// ceil((n + 1) / 2) members, and the fewest operators that can control the median. The fuzz test checks
/// both against a brute-force enumeration of every set of operators.
contract DeviceFeedCorruptionTest is FeedFixture {
    /// @dev The fixture's seven devices plus one more (secp256k1, unattested: corruption() asks only the
    /// registry's operator and the active stake).
    uint256 internal constant MEMBERS = 8;
    uint256 internal constant MAX_OPERATORS = 4;

    function setUp() public override {
        super.setUp();
        DeviceId extra = _registerTo(_secpKey(0xC0FFEE), operator);
        staking.setSlashable(extra, MIN_STAKE + 7e18);
        _inviteAndJoin(extra);
        ids.push(extra);
        assertEq(feed.members().length, MEMBERS);
    }

    /// @dev Active stake of device i: MIN_STAKE + i (the fixture's stakes, device 7 included).
    function _stake(uint256 i) internal pure returns (uint256) {
        return uint256(MIN_STAKE) + i * 1e18;
    }

    function _stakes(uint256 from, uint256 to) internal pure returns (uint256 total) {
        for (uint256 i = from; i < to; ++i) total += _stake(i);
    }

    function _assign(uint256 from, uint256 to, address op) internal {
        for (uint256 i = from; i < to; ++i) _transferCustody(ids[i], op);
    }

    function _assertCorruption(uint256 cost, uint256 operators) internal view {
        (uint256 actualCost, uint256 actualOperators) = feed.corruption();
        assertEq(actualCost, cost, "cost");
        assertEq(actualOperators, operators, "operators");
        assertEq(feed.costOfCorruption(), cost, "costOfCorruption agrees");
    }

    // ------------------------------------------------------------------ concrete cases

    /// @notice All devices of one operator: that operator alone controls the feed, and corrupting it costs
    /// its whole active stake, not only that of a majority of devices.
    function test_corruption_OneOperatorOwnsAll() public view {
        _assertCorruption(_stakes(0, MEMBERS), 1);
    }

    /// @notice An operator holding a majority controls the median alone; every controlling set contains it,
    /// so the cost is its total stake over all six of its devices, more than the cheapest five devices.
    function test_corruption_MajorityOperatorPaysAllItsDevices() public {
        _assign(0, 6, _operatorAt(0));
        _transferCustody(ids[6], _operatorAt(1));
        _transferCustody(ids[7], _operatorAt(2));
        _assertCorruption(_stakes(0, 6), 1);
        assertGt(_stakes(0, 6), _stakes(0, 5));
    }

    /// @notice The cheapest controlling set is not the smallest: three cheap operators (devices 0..4) cost
    /// less than the rich operator of devices 5..7 with any partner, yet two operators can control the median.
    function test_corruption_CheapestSetIsNotTheFewest() public {
        _assign(5, 8, _operatorAt(0));
        _assign(0, 2, _operatorAt(1));
        _assign(2, 4, _operatorAt(2));
        _transferCustody(ids[4], _operatorAt(3));
        _assertCorruption(_stakes(0, 5), 2);
    }

    /// @notice One operator per device: the cheapest five of eight devices, five operators.
    function test_corruption_OneOperatorPerDevice() public {
        for (uint256 i; i < MEMBERS; ++i) _transferCustody(ids[i], _operatorAt(i));
        staking.setActive(ids[7], 1);
        // Five needed: device 7 (stake 1) and devices 0..3.
        _assertCorruption(1 + _stakes(0, 4), 5);
    }

    /// @notice Whether the two devices a two-member feed needs belong to two operators or one, their stakes
    /// are summed; only the number of operators that must collude changes.
    function test_corruption_GroupsSumStake() public {
        // Two members only: both are needed (ceil(3 / 2) = 2).
        vm.startPrank(feedOwner);
        for (uint256 i = 2; i < MEMBERS; ++i) feed.removeMember(ids[i]);
        vm.stopPrank();
        _transferCustody(ids[0], _operatorAt(0));
        _transferCustody(ids[1], _operatorAt(1));
        _assertCorruption(_stakes(0, 2), 2);
        _transferCustody(ids[1], _operatorAt(0));
        _assertCorruption(_stakes(0, 2), 1);
    }

    /// @notice Only active stake counts: stake pending withdrawal may unlock before a proof lands.
    function test_corruption_CountsActiveStakeOnly() public {
        for (uint256 i; i < MEMBERS; ++i) staking.setActive(ids[i], i + 1);
        _assertCorruption(36, 1);
    }

    // ------------------------------------------------------------------ fuzz against brute force

    /// @notice corruption() equals the brute-force minimum over every set of operators, for the cost (sum of
    /// the set's active stake) and for the fewest operators, whatever the members, stakes and operators.
    function testFuzz_corruption_MatchesBruteForce(
        uint256 n,
        uint256 operatorCount,
        uint256[8] memory stakes,
        uint256[8] memory owners,
        uint256[8] memory pending
    ) public {
        n = bound(n, 1, MEMBERS);
        operatorCount = bound(operatorCount, 1, MAX_OPERATORS);
        // Members ids[0..n-1]: removing from the end keeps the others in place.
        vm.startPrank(feedOwner);
        for (uint256 i = MEMBERS; i > n; --i) feed.removeMember(ids[i - 1]);
        vm.stopPrank();
        uint256[] memory owner = new uint256[](n);
        uint256[] memory active = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            owner[i] = bound(owners[i], 0, operatorCount - 1);
            active[i] = bound(stakes[i], 0, 1e30);
            _transferCustody(ids[i], _operatorAt(owner[i]));
            staking.setSlashable(ids[i], active[i] + bound(pending[i], 0, 1e30));
            staking.setActive(ids[i], active[i]);
        }
        (uint256 cost, uint256 fewest) = _bruteForce(n, operatorCount, owner, active);
        _assertCorruption(cost, fewest);
    }

    /// @dev Every non-empty set of operators (a bit mask): the cheapest and the smallest holding a majority.
    function _bruteForce(
        uint256 n,
        uint256 operatorCount,
        uint256[] memory owner,
        uint256[] memory active
    ) internal pure returns (uint256 cost, uint256 fewest) {
        uint256 needed = n / 2 + 1;
        cost = type(uint256).max;
        fewest = type(uint256).max;
        for (uint256 mask = 1; mask < 1 << operatorCount; ++mask) {
            uint256 held;
            uint256 stake;
            for (uint256 i; i < n; ++i) {
                if (mask & (1 << owner[i]) == 0) continue;
                ++held;
                stake += active[i];
            }
            if (held < needed) continue;
            if (stake < cost) cost = stake;
            uint256 size;
            for (uint256 o; o < operatorCount; ++o) if (mask & (1 << o) != 0) ++size;
            if (size < fewest) fewest = size;
        }
    }

    /// @notice Concrete twin: the case where the cheapest set (three operators) is not the smallest (two).
    function test_corruption_BruteForceTwin() public {
        uint256[8] memory stakes;
        uint256[8] memory owners = [uint256(1), 1, 2, 2, 3, 0, 0, 0];
        uint256[8] memory pending;
        for (uint256 i; i < MEMBERS; ++i) stakes[i] = _stake(i);
        testFuzz_corruption_MatchesBruteForce(MEMBERS, MAX_OPERATORS, stakes, owners, pending);
        _assertCorruption(_stakes(0, 5), 2);
    }
}
