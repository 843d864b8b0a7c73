// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IDeviceStaking} from "../contracts/interfaces/IDeviceStaking.sol";
import {IStakeBacker} from "../contracts/interfaces/IStakeBacker.sol";
import {MockERC20} from "../contracts/mocks/MockERC20.sol";
import {MockProofs} from "../contracts/mocks/MockProofs.sol";
import {DeviceStaking} from "../contracts/staking/DeviceStaking.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";

/// @notice A stand-in insurance pool for staking tests: it answers `asset()` and the IStakeBacker views
/// with values the test sets, and records every `onStakeSlashed` call with its own token balance at that
/// moment (so a test sees whether the recovery had arrived before the call).
contract MockStakeBacker is IStakeBacker {
    /// @notice One `onStakeSlashed` call as received.
    struct SlashCall {
        address caller;
        DeviceId deviceId;
        bytes32 scope;
        bytes32 incident;
        uint256 recovery;
        uint256 balanceAtCall;
    }

    IERC20 private immutable TOKEN;
    address private _asset;
    uint256 private _ceiling;
    mapping(DeviceId deviceId => mapping(bytes32 scope => uint256)) private _required;
    SlashCall[] private _calls;

    /// @notice A backer whose `asset()` and balance token is `token`, at cover factor ceiling `ceilingBps`.
    constructor(IERC20 token, uint256 ceilingBps) {
        TOKEN = token;
        _asset = address(token);
        _ceiling = ceilingBps;
    }

    /// @notice Makes `asset()` answer `asset_` (the balance is still read from the constructor's token).
    function setAsset(address asset_) external {
        _asset = asset_;
    }

    /// @notice Sets what `coverFactorCeilingBps()` answers.
    function setCoverFactorCeilingBps(uint256 ceilingBps) external {
        _ceiling = ceilingBps;
    }

    /// @notice Sets what `requiredAllocation(deviceId, scope)` answers.
    function setRequiredAllocation(DeviceId deviceId, bytes32 scope, uint256 required) external {
        _required[deviceId][scope] = required;
    }

    /// @notice The ERC-4626 asset the staking contract compares with its collateral.
    function asset() external view returns (address) {
        return _asset;
    }

    /// @inheritdoc IStakeBacker
    function coverFactorCeilingBps() external view returns (uint256) {
        return _ceiling;
    }

    /// @inheritdoc IStakeBacker
    function requiredAllocation(DeviceId deviceId, bytes32 scope) external view returns (uint256) {
        return _required[deviceId][scope];
    }

    /// @inheritdoc IStakeBacker
    function onStakeSlashed(DeviceId deviceId, bytes32 scope, bytes32 incident, uint256 recovery) external {
        _calls.push(
            SlashCall({
                caller: msg.sender,
                deviceId: deviceId,
                scope: scope,
                incident: incident,
                recovery: recovery,
                balanceAtCall: TOKEN.balanceOf(address(this))
            })
        );
    }

    /// @notice How many `onStakeSlashed` calls arrived.
    function slashCallCount() external view returns (uint256) {
        return _calls.length;
    }

    /// @notice The `i`-th `onStakeSlashed` call.
    function slashCall(uint256 i) external view returns (SlashCall memory) {
        return _calls[i];
    }

    /// @notice The sum of the recoveries announced so far.
    function totalRecovered() external view returns (uint256 total) {
        for (uint256 i; i < _calls.length; ++i) total += _calls[i].recovery;
    }
}

/// @notice A registry with one registered device owned by `operator`, a real DeviceStaking over a plain
/// token (proofs: a MockProofs with a 1-day window; SUSPENDER_ROLE granted) and two approved backers
/// (cover factor ceiling 50%). The loss recipient is a plain address.
abstract contract AllocationFixture is RegistryFixture {
    DeviceStaking internal staking;
    MockERC20 internal token;
    MockProofs internal proofs;
    MockStakeBacker internal backerA;
    MockStakeBacker internal backerB;
    DeviceId internal id;

    address internal gov = makeAddr("stakingGovernance");
    address internal lossRecipient = makeAddr("lossRecipient");
    address internal prover = makeAddr("prover");

    uint96 internal constant MIN = 100e18;
    uint64 internal constant UNBONDING = 7 days;
    uint16 internal constant BOUNTY_BPS = 1_000;
    uint256 internal constant WINDOW = 1 days;
    uint256 internal constant CEILING_BPS = 5_000;
    uint256 internal constant BPS = 10_000;
    bytes32 internal constant INCIDENT = keccak256("incident");
    bytes32 internal constant FEED = keccak256("feed");

    function setUp() public virtual override {
        super.setUp();
        token = new MockERC20("Collateral", "COL");
        proofs = new MockProofs(WINDOW);
        staking = _deploy(_params(BOUNTY_BPS, lossRecipient));
        id = _register(_secpKey(SECP_PK));
        token.mint(operator, 1e30);
        vm.prank(operator);
        token.approve(address(staking), type(uint256).max);
        backerA = _approvedBacker(CEILING_BPS);
        backerB = _approvedBacker(CEILING_BPS);
    }

    function _params(uint16 bountyBps, address recipient) internal pure returns (IDeviceStaking.Params memory) {
        return
            IDeviceStaking.Params({
                minStake: MIN,
                unbondingPeriod: UNBONDING,
                bountyBps: bountyBps,
                lossRecipient: recipient
            });
    }

    /// @dev A staking contract with proofs set and the registry's SUSPENDER_ROLE; the operator approves it.
    function _deploy(IDeviceStaking.Params memory p) internal returns (DeviceStaking s) {
        s = new DeviceStaking(registry, IERC20(address(token)), gov, p);
        vm.prank(gov);
        s.setProofs(address(proofs));
        bytes32 role = registry.SUSPENDER_ROLE();
        vm.prank(governor);
        registry.grantRole(role, address(s));
        vm.prank(operator);
        token.approve(address(s), type(uint256).max);
    }

    /// @dev Replaces `staking` with one of bounty `bountyBps` and loss recipient `recipient`, with backers A
    /// and B approved again.
    function _redeploy(uint16 bountyBps, address recipient) internal {
        staking = _deploy(_params(bountyBps, recipient));
        _approve(address(backerA));
        _approve(address(backerB));
    }

    function _approvedBacker(uint256 ceilingBps) internal returns (MockStakeBacker b) {
        b = new MockStakeBacker(IERC20(address(token)), ceilingBps);
        _approve(address(b));
    }

    function _approve(address backer) internal {
        vm.prank(gov);
        staking.setBacker(backer, true);
    }

    function _scope() internal view returns (bytes32) {
        return DeviceId.unwrap(id);
    }

    function _stake(uint256 amount) internal {
        vm.prank(operator);
        staking.stake(id, amount);
    }

    function _request(uint256 amount) internal {
        vm.prank(operator);
        staking.requestWithdrawal(id, amount);
    }

    function _allocate(MockStakeBacker backer, bytes32 scope, uint256 amount) internal {
        vm.prank(operator);
        staking.allocate(id, address(backer), scope, amount);
    }

    function _deallocate(MockStakeBacker backer, bytes32 scope, uint256 amount) internal {
        vm.prank(operator);
        staking.deallocate(id, address(backer), scope, amount);
    }

    function _slash() internal returns (uint256) {
        vm.prank(address(proofs));
        return staking.slash(id, prover, INCIDENT);
    }

    /// @dev The device's allocation list is exactly `backers`/`scopes`/`amounts`, in that order, and its
    /// count, sum and per-key views agree.
    function _assertAllocations(
        address[] memory backers,
        bytes32[] memory scopes,
        uint256[] memory amounts
    ) internal view {
        IDeviceStaking.Allocation[] memory list = staking.allocationsOf(id);
        assertEq(list.length, backers.length, "allocation count");
        assertEq(staking.stakeOf(id).allocations, backers.length, "stake record count");
        uint256 sum;
        for (uint256 i; i < list.length; ++i) {
            assertEq(list[i].backer, backers[i], "backer");
            assertEq(list[i].scope, scopes[i], "scope");
            assertEq(list[i].amount, amounts[i], "amount");
            assertEq(staking.allocationOf(id, backers[i], scopes[i]), amounts[i], "allocationOf");
            sum += amounts[i];
        }
        assertEq(staking.allocatedOf(id), sum, "allocatedOf");
    }

    /// @dev The recorded `onStakeSlashed` call `i` of `backer`.
    function _assertSlashCall(
        MockStakeBacker backer,
        uint256 i,
        bytes32 scope,
        uint256 recovery,
        uint256 balanceAtCall
    ) internal view {
        MockStakeBacker.SlashCall memory c = backer.slashCall(i);
        assertEq(c.caller, address(staking), "caller");
        assertEq(DeviceId.unwrap(c.deviceId), DeviceId.unwrap(id), "device");
        assertEq(c.scope, scope, "scope");
        assertEq(c.incident, INCIDENT, "incident");
        assertEq(c.recovery, recovery, "recovery");
        assertEq(c.balanceAtCall, balanceAtCall, "tokens arrived before the call");
    }
}

contract StakingAllocationTest is AllocationFixture {
    // ================================================================ allocate

    function test_allocate_RecordsAllocationAndEmits() public {
        _stake(1_000e18);
        vm.expectEmit(address(staking));
        emit IDeviceStaking.Allocated(id, address(backerA), _scope(), 300e18, 300e18);
        _allocate(backerA, _scope(), 300e18);
        address[] memory b = new address[](1);
        bytes32[] memory s = new bytes32[](1);
        uint256[] memory a = new uint256[](1);
        (b[0], s[0], a[0]) = (address(backerA), _scope(), 300e18);
        _assertAllocations(b, s, a);
        // Allocation moves no stake: the device's active stake and the staking balance are unchanged.
        assertEq(staking.activeOf(id), 1_000e18);
        assertEq(token.balanceOf(address(staking)), 1_000e18);
    }

    function test_allocate_TopUpAddsToExistingAllocation() public {
        _stake(1_000e18);
        _allocate(backerA, FEED, 300e18);
        vm.expectEmit(address(staking));
        emit IDeviceStaking.Allocated(id, address(backerA), FEED, 200e18, 500e18);
        _allocate(backerA, FEED, 200e18);
        address[] memory b = new address[](1);
        bytes32[] memory s = new bytes32[](1);
        uint256[] memory a = new uint256[](1);
        (b[0], s[0], a[0]) = (address(backerA), FEED, 500e18);
        _assertAllocations(b, s, a);
    }

    function test_allocate_EachBackerAndScopeIsItsOwnAllocation() public {
        _stake(1_000e18);
        _allocate(backerA, _scope(), 100e18);
        _allocate(backerA, FEED, 200e18);
        _allocate(backerB, FEED, 300e18);
        address[] memory b = new address[](3);
        bytes32[] memory s = new bytes32[](3);
        uint256[] memory a = new uint256[](3);
        (b[0], s[0], a[0]) = (address(backerA), _scope(), 100e18);
        (b[1], s[1], a[1]) = (address(backerA), FEED, 200e18);
        (b[2], s[2], a[2]) = (address(backerB), FEED, 300e18);
        _assertAllocations(b, s, a);
        assertEq(staking.allocationOf(id, address(backerB), _scope()), 0);
    }

    function test_allocate_AllUnallocatedActiveStake() public {
        _stake(1_000e18);
        _allocate(backerA, _scope(), 600e18);
        _allocate(backerB, FEED, 400e18);
        assertEq(staking.allocatedOf(id), staking.activeOf(id));
    }

    function test_allocate_NewOperatorAfterCustodyTransfer() public {
        _stake(1_000e18);
        vm.prank(operator);
        registry.startCustodyTransfer(id, newOperator);
        vm.prank(newOperator);
        registry.acceptCustody(id);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingNotOperator.selector, id, operator));
        _allocate(backerA, _scope(), 1);
        vm.prank(newOperator);
        staking.allocate(id, address(backerA), _scope(), 1);
        assertEq(staking.allocatedOf(id), 1);
    }

    function test_allocate_RevertWhen_ZeroAmount() public {
        _stake(1_000e18);
        vm.expectRevert(IDeviceStaking.StakingZeroAmount.selector);
        _allocate(backerA, _scope(), 0);
    }

    function test_allocate_RevertWhen_NotOperator() public {
        _stake(1_000e18);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingNotOperator.selector, id, stranger));
        vm.prank(stranger);
        staking.allocate(id, address(backerA), _scope(), 1);
    }

    function test_allocate_RevertWhen_BackerNeverApproved() public {
        _stake(1_000e18);
        MockStakeBacker unknown = new MockStakeBacker(IERC20(address(token)), 0);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingNotBacker.selector, address(unknown)));
        _allocate(unknown, _scope(), 1);
    }

    function test_allocate_RevertWhen_BackerNoLongerApproved() public {
        _stake(1_000e18);
        _allocate(backerA, _scope(), 100e18);
        vm.prank(gov);
        staking.setBacker(address(backerA), false);
        // Not even a top-up of an allocation that already exists.
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingNotBacker.selector, address(backerA)));
        _allocate(backerA, _scope(), 1);
    }

    function test_allocate_RevertWhen_MoreThanUnallocatedActive() public {
        _stake(1_000e18);
        _allocate(backerA, _scope(), 600e18);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingStakeAllocated.selector, id, 400e18, 400e18 + 1));
        _allocate(backerB, FEED, 400e18 + 1);
    }

    function test_allocate_RevertWhen_OnlyPendingStakeLeft() public {
        _stake(1_000e18);
        _request(400e18);
        // Pending stake backs nothing: only the 600e18 still active can be allocated.
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingStakeAllocated.selector, id, 600e18, 600e18 + 1));
        _allocate(backerA, _scope(), 600e18 + 1);
    }

    function test_allocate_RevertWhen_NoStake() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingStakeAllocated.selector, id, 0, 1));
        _allocate(backerA, _scope(), 1);
    }

    /// @dev Fills the device's eight allocations: backer A, scopes 1..8, 10e18 each.
    function _fillAllocations() internal {
        for (uint256 i = 1; i <= 8; ++i) _allocate(backerA, bytes32(i), 10e18);
    }

    function test_allocate_RevertWhen_NinthAllocation() public {
        _stake(1_000e18);
        assertEq(staking.MAX_ALLOCATIONS(), 8);
        _fillAllocations();
        assertEq(staking.stakeOf(id).allocations, 8);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingTooManyAllocations.selector, id, 8));
        _allocate(backerB, bytes32(uint256(9)), 1);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingTooManyAllocations.selector, id, 8));
        _allocate(backerB, bytes32(uint256(1)), 1);
    }

    function test_allocate_TopUpAtMaxAllocations() public {
        _stake(1_000e18);
        _fillAllocations();
        _allocate(backerA, bytes32(uint256(8)), 5e18);
        assertEq(staking.allocationOf(id, address(backerA), bytes32(uint256(8))), 15e18);
        assertEq(staking.allocatedOf(id), 85e18);
        assertEq(staking.stakeOf(id).allocations, 8);
    }

    function test_allocate_FreedSlotTakesANewAllocation() public {
        _stake(1_000e18);
        _fillAllocations();
        _deallocate(backerA, bytes32(uint256(3)), 10e18);
        _allocate(backerB, FEED, 1e18);
        IDeviceStaking.Allocation[] memory list = staking.allocationsOf(id);
        assertEq(list.length, 8);
        // Slot 3 got the last entry (scope 8); the new allocation is appended.
        assertEq(list[2].scope, bytes32(uint256(8)));
        assertEq(list[7].backer, address(backerB));
        assertEq(list[7].scope, FEED);
        assertEq(list[7].amount, 1e18);
    }

    // ================================================================ deallocate

    function test_deallocate_PartialKeepsAllocation() public {
        _stake(1_000e18);
        _allocate(backerA, _scope(), 500e18);
        backerA.setRequiredAllocation(id, _scope(), 200e18);
        vm.expectEmit(address(staking));
        emit IDeviceStaking.Deallocated(id, address(backerA), _scope(), 300e18, 200e18);
        _deallocate(backerA, _scope(), 300e18);
        address[] memory b = new address[](1);
        bytes32[] memory s = new bytes32[](1);
        uint256[] memory a = new uint256[](1);
        (b[0], s[0], a[0]) = (address(backerA), _scope(), 200e18);
        _assertAllocations(b, s, a);
    }

    function test_deallocate_RevertWhen_BelowRequiredAllocation() public {
        _stake(1_000e18);
        _allocate(backerA, FEED, 500e18);
        backerA.setRequiredAllocation(id, FEED, 300e18);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeviceStaking.StakingAllocationInUse.selector,
                id,
                address(backerA),
                FEED,
                300e18 - 1,
                300e18
            )
        );
        _deallocate(backerA, FEED, 200e18 + 1);
        assertEq(staking.allocationOf(id, address(backerA), FEED), 500e18);
    }

    function test_deallocate_DownToRequiredAllocation() public {
        _stake(1_000e18);
        _allocate(backerA, FEED, 500e18);
        backerA.setRequiredAllocation(id, FEED, 300e18);
        _deallocate(backerA, FEED, 200e18);
        assertEq(staking.allocationOf(id, address(backerA), FEED), 300e18);
        assertEq(staking.allocatedOf(id), 300e18);
    }

    function test_deallocate_RequirementIsPerScope() public {
        // The requirement is per (device, scope): coverage on the feed does not pin the device-scope slice,
        // but it pins the feed slice.
        _stake(1_000e18);
        _allocate(backerA, _scope(), 100e18);
        _allocate(backerA, FEED, 100e18);
        backerA.setRequiredAllocation(id, FEED, 100e18);
        _deallocate(backerA, _scope(), 100e18);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeviceStaking.StakingAllocationInUse.selector,
                id,
                address(backerA),
                FEED,
                0,
                100e18
            )
        );
        _deallocate(backerA, FEED, 100e18);
    }

    function test_deallocate_ToZeroRemovesWithSwapAndPop() public {
        _stake(1_000e18);
        _allocate(backerA, _scope(), 10e18); // x0
        _allocate(backerA, FEED, 20e18); // x1
        _allocate(backerB, _scope(), 30e18); // x2
        _allocate(backerB, FEED, 40e18); // x3

        // Removing x1 moves the last entry (x3) into its place.
        vm.expectEmit(address(staking));
        emit IDeviceStaking.Deallocated(id, address(backerA), FEED, 20e18, 0);
        _deallocate(backerA, FEED, 20e18);
        address[] memory b = new address[](3);
        bytes32[] memory s = new bytes32[](3);
        uint256[] memory a = new uint256[](3);
        (b[0], s[0], a[0]) = (address(backerA), _scope(), 10e18);
        (b[1], s[1], a[1]) = (address(backerB), FEED, 40e18);
        (b[2], s[2], a[2]) = (address(backerB), _scope(), 30e18);
        _assertAllocations(b, s, a);
        assertEq(staking.allocationOf(id, address(backerA), FEED), 0);

        // The moved entry knows its new place: removing it moves x2 into slot 2.
        _deallocate(backerB, FEED, 40e18);
        b = new address[](2);
        s = new bytes32[](2);
        a = new uint256[](2);
        (b[0], s[0], a[0]) = (address(backerA), _scope(), 10e18);
        (b[1], s[1], a[1]) = (address(backerB), _scope(), 30e18);
        _assertAllocations(b, s, a);

        // Removing the last entry just pops it; then the first.
        _deallocate(backerB, _scope(), 30e18);
        _deallocate(backerA, _scope(), 10e18);
        _assertAllocations(new address[](0), new bytes32[](0), new uint256[](0));

        // A removed allocation starts afresh.
        _allocate(backerA, FEED, 5e18);
        b = new address[](1);
        s = new bytes32[](1);
        a = new uint256[](1);
        (b[0], s[0], a[0]) = (address(backerA), FEED, 5e18);
        _assertAllocations(b, s, a);
    }

    function test_deallocate_AfterBackerUnapproved() public {
        _stake(1_000e18);
        _allocate(backerA, _scope(), 100e18);
        vm.prank(gov);
        staking.setBacker(address(backerA), false);
        _deallocate(backerA, _scope(), 100e18);
        assertEq(staking.allocatedOf(id), 0);
        assertEq(staking.allocationsOf(id).length, 0);
    }

    function test_deallocate_RevertWhen_MoreThanAllocation() public {
        _stake(1_000e18);
        _allocate(backerA, _scope(), 100e18);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeviceStaking.StakingInsufficientAllocation.selector,
                id,
                address(backerA),
                _scope(),
                100e18
            )
        );
        _deallocate(backerA, _scope(), 100e18 + 1);
    }

    function test_deallocate_RevertWhen_NoAllocation() public {
        _stake(1_000e18);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceStaking.StakingInsufficientAllocation.selector, id, address(backerB), FEED, 0)
        );
        _deallocate(backerB, FEED, 1);
    }

    function test_deallocate_RevertWhen_ZeroAmount() public {
        _stake(1_000e18);
        _allocate(backerA, _scope(), 100e18);
        vm.expectRevert(IDeviceStaking.StakingZeroAmount.selector);
        _deallocate(backerA, _scope(), 0);
    }

    function test_deallocate_RevertWhen_NotOperator() public {
        _stake(1_000e18);
        _allocate(backerA, _scope(), 100e18);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingNotOperator.selector, id, stranger));
        vm.prank(stranger);
        staking.deallocate(id, address(backerA), _scope(), 100e18);
    }

    // ================================================================ requestWithdrawal

    function test_requestWithdrawal_RevertWhen_StakeAllocated() public {
        _stake(1_000e18);
        _allocate(backerA, _scope(), 700e18);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingStakeAllocated.selector, id, 300e18, 300e18 + 1));
        _request(300e18 + 1);
    }

    function test_requestWithdrawal_RevertWhen_FullyAllocated() public {
        _stake(1_000e18);
        _allocate(backerA, _scope(), 400e18);
        _allocate(backerB, FEED, 600e18);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingStakeAllocated.selector, id, 0, 1));
        _request(1);
    }

    function test_requestWithdrawal_UnallocatedStakeOnly() public {
        _stake(1_000e18);
        _allocate(backerA, _scope(), 700e18);
        _request(300e18);
        IDeviceStaking.DeviceStake memory st = staking.stakeOf(id);
        assertEq(st.active, 700e18);
        assertEq(st.pending, 300e18);
        assertEq(st.allocations, 1);
        assertEq(staking.allocatedOf(id), st.active);
    }

    function test_requestWithdrawal_AfterDeallocation() public {
        _stake(1_000e18);
        _allocate(backerA, _scope(), 1_000e18);
        _deallocate(backerA, _scope(), 400e18);
        _request(400e18);
        assertEq(staking.stakeOf(id).pending, 400e18);
    }

    function test_requestWithdrawal_RevertWhen_UnlockBeyondUint40() public {
        // unlockAt is a uint40 (good for ~34,000 years); an unbonding period that overflows it is refused.
        IDeviceStaking.Params memory p = _params(BOUNTY_BPS, lossRecipient);
        p.unbondingPeriod = uint64(type(uint40).max);
        staking = _deploy(p);
        _stake(MIN);
        uint256 unlockAt = block.timestamp + type(uint40).max;
        vm.expectRevert(abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintDowncast.selector, 40, unlockAt));
        _request(MIN);
    }

    // ================================================================ setBacker

    function test_setBacker_ApprovesAndLists() public {
        MockStakeBacker c = new MockStakeBacker(IERC20(address(token)), 8_999);
        vm.expectEmit(address(staking));
        emit IDeviceStaking.BackerSet(address(c), true);
        _approve(address(c));
        assertTrue(staking.isBacker(address(c)));
        address[] memory list = staking.backers();
        assertEq(list.length, 3);
        assertEq(list[0], address(backerA));
        assertEq(list[1], address(backerB));
        assertEq(list[2], address(c));
    }

    function test_setBacker_UnapprovingKeepsExistingAllocations() public {
        _stake(1_000e18);
        _allocate(backerA, _scope(), 300e18);
        vm.expectEmit(address(staking));
        emit IDeviceStaking.BackerSet(address(backerA), false);
        vm.prank(gov);
        staking.setBacker(address(backerA), false);
        assertFalse(staking.isBacker(address(backerA)));
        // Still listed (its ceiling still bounds the bounty) and its allocation still stands.
        assertEq(staking.backers().length, 2);
        assertEq(staking.allocationOf(id, address(backerA), _scope()), 300e18);
        assertEq(staking.allocatedOf(id), 300e18);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingStakeAllocated.selector, id, 700e18, 700e18 + 1));
        _request(700e18 + 1);
        // A slash still pays it and tells it.
        _slash();
        assertEq(token.balanceOf(address(backerA)), 270e18);
        _assertSlashCall(backerA, 0, _scope(), 270e18, 270e18);
    }

    function test_setBacker_ReapprovalDoesNotListTwice() public {
        vm.startPrank(gov);
        staking.setBacker(address(backerA), false);
        staking.setBacker(address(backerA), true);
        vm.stopPrank();
        assertTrue(staking.isBacker(address(backerA)));
        assertEq(staking.backers().length, 2);
    }

    function test_setBacker_UnapprovalSkipsChecks() public {
        // A backer whose ceiling rose (or whose asset changed) can still be unapproved.
        backerA.setCoverFactorCeilingBps(BPS);
        backerA.setAsset(address(0xdead));
        vm.prank(gov);
        staking.setBacker(address(backerA), false);
        assertFalse(staking.isBacker(address(backerA)));
    }

    function test_setBacker_RevertWhen_AssetMismatch() public {
        MockStakeBacker c = new MockStakeBacker(IERC20(address(token)), 0);
        MockERC20 other = new MockERC20("Other", "OTH");
        c.setAsset(address(other));
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceStaking.StakingBackerAssetMismatch.selector, address(c), address(other))
        );
        _approve(address(c));
        assertFalse(staking.isBacker(address(c)));
    }

    function test_setBacker_RevertWhen_BountyPlusCeilingReachesMax() public {
        MockStakeBacker c = new MockStakeBacker(IERC20(address(token)), BPS - BOUNTY_BPS);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceStaking.StakingBountyTooHigh.selector, BOUNTY_BPS, BPS - BOUNTY_BPS)
        );
        _approve(address(c));
        // One basis point less passes.
        c.setCoverFactorCeilingBps(BPS - BOUNTY_BPS - 1);
        _approve(address(c));
        assertTrue(staking.isBacker(address(c)));
    }

    function test_setBacker_RevertWhen_ScheduledBountyPlusCeilingReachesMax() public {
        IDeviceStaking.Params memory p = _params(3_000, lossRecipient);
        vm.prank(gov);
        staking.scheduleParams(p);
        // 10% in force + 70% passes, but the scheduled 30% + 70% would let corruption pay.
        MockStakeBacker c = new MockStakeBacker(IERC20(address(token)), 7_000);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingBountyTooHigh.selector, 3_000, 7_000));
        _approve(address(c));
        c.setCoverFactorCeilingBps(6_999);
        _approve(address(c));
    }

    function test_setBacker_RevertWhen_BountyInForceAboveScheduled() public {
        // A lower scheduled bounty does not loosen the check while the higher one is in force.
        vm.prank(gov);
        staking.scheduleParams(_params(0, lossRecipient));
        MockStakeBacker c = new MockStakeBacker(IERC20(address(token)), 9_000);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingBountyTooHigh.selector, BOUNTY_BPS, 9_000));
        _approve(address(c));
    }

    function test_setBacker_RevertWhen_EffectiveBountyNotYetApplied() public {
        vm.prank(gov);
        staking.scheduleParams(_params(3_000, lossRecipient));
        vm.warp(block.timestamp + UNBONDING + 1 days);
        MockStakeBacker c = new MockStakeBacker(IERC20(address(token)), 7_000);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingBountyTooHigh.selector, 3_000, 7_000));
        _approve(address(c));
    }

    function test_setBacker_RevertWhen_TooManyBackers() public {
        // A and B are listed; six more fill the list.
        for (uint256 i; i < 6; ++i) _approvedBacker(0);
        assertEq(staking.backers().length, staking.MAX_BACKERS());
        MockStakeBacker ninth = new MockStakeBacker(IERC20(address(token)), 0);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingTooManyBackers.selector, 8));
        _approve(address(ninth));
        // Unapproving frees no place in the list (its ceiling still counts), but re-approving fits.
        vm.prank(gov);
        staking.setBacker(address(backerA), false);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingTooManyBackers.selector, 8));
        _approve(address(ninth));
        _approve(address(backerA));
        assertTrue(staking.isBacker(address(backerA)));
    }

    function test_setBacker_RevertWhen_NotGovernance() public {
        MockStakeBacker c = new MockStakeBacker(IERC20(address(token)), 0);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, operator, bytes32(0))
        );
        vm.prank(operator);
        staking.setBacker(address(c), true);
    }

    function test_setBacker_RevertWhen_ZeroAddress() public {
        vm.expectRevert(IDeviceStaking.StakingInvalidParams.selector);
        _approve(address(0));
    }

    // ================================================================ scheduleParams

    function test_scheduleParams_RevertWhen_BountyReachesAListedCeiling() public {
        backerB.setCoverFactorCeilingBps(8_000);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingBountyTooHigh.selector, 2_000, 8_000));
        vm.prank(gov);
        staking.scheduleParams(_params(2_000, lossRecipient));
        vm.prank(gov);
        staking.scheduleParams(_params(1_999, lossRecipient));
        (IDeviceStaking.Params memory pending, ) = staking.pendingParams();
        assertEq(pending.bountyBps, 1_999);
    }

    function test_scheduleParams_RevertWhen_BountyReachesAnUnapprovedBackersCeiling() public {
        // An unapproved backer may still hold coverage sold at its ceiling.
        vm.prank(gov);
        staking.setBacker(address(backerA), false);
        backerA.setCoverFactorCeilingBps(9_000);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingBountyTooHigh.selector, 1_000, 9_000));
        vm.prank(gov);
        staking.scheduleParams(_params(1_000, lossRecipient));
    }

    // ================================================================ slash

    function test_slash_PaysBountyBackersAndLossRecipient() public {
        _stake(1_000e18);
        _allocate(backerA, _scope(), 300e18);
        _allocate(backerB, FEED, 200e18);
        _request(100e18);
        // 1,000 slashed: 100 bounty; A 300 * 90% = 270; B 200 * 90% = 180; the rest, 450, to the loss recipient.
        vm.expectEmit(address(staking));
        emit IDeviceStaking.Slashed(id, prover, INCIDENT, 100e18, 450e18);
        vm.expectEmit(address(staking));
        emit IDeviceStaking.BackerPaid(id, address(backerA), _scope(), 270e18);
        vm.expectEmit(address(staking));
        emit IDeviceStaking.BackerPaid(id, address(backerB), FEED, 180e18);
        assertEq(_slash(), 1_000e18);

        assertEq(token.balanceOf(prover), 100e18, "bounty");
        assertEq(token.balanceOf(address(backerA)), 270e18, "backer A");
        assertEq(token.balanceOf(address(backerB)), 180e18, "backer B");
        assertEq(token.balanceOf(lossRecipient), 450e18, "loss recipient");
        assertEq(token.balanceOf(address(staking)), 0, "nothing left behind");
        assertEq(backerA.slashCallCount(), 1);
        assertEq(backerB.slashCallCount(), 1);
        _assertSlashCall(backerA, 0, _scope(), 270e18, 270e18);
        _assertSlashCall(backerB, 0, FEED, 180e18, 180e18);
    }

    function test_slash_ClearsAllocations() public {
        _stake(1_000e18);
        _allocate(backerA, _scope(), 300e18);
        _allocate(backerB, FEED, 200e18);
        _slash();
        _assertAllocations(new address[](0), new bytes32[](0), new uint256[](0));
        assertEq(staking.allocationOf(id, address(backerA), _scope()), 0);
        assertEq(staking.allocationOf(id, address(backerB), FEED), 0);
        IDeviceStaking.DeviceStake memory st = staking.stakeOf(id);
        assertEq(st.active, 0);
        assertEq(st.pending, 0);
        assertEq(st.unlockAt, 0);

        // Back in service, the device starts a fresh list: nothing of the old allocations survives.
        vm.prank(governor);
        registry.reinstate(id);
        _stake(500e18);
        _allocate(backerB, FEED, 50e18);
        address[] memory b = new address[](1);
        bytes32[] memory s = new bytes32[](1);
        uint256[] memory a = new uint256[](1);
        (b[0], s[0], a[0]) = (address(backerB), FEED, 50e18);
        _assertAllocations(b, s, a);
        _request(400e18);
        assertEq(staking.stakeOf(id).pending, 400e18);
    }

    function test_slash_BackerCalledAfterItsTokensArrived() public {
        _stake(1_000e18);
        _allocate(backerA, _scope(), 300e18);
        _allocate(backerA, FEED, 100e18);
        _slash();
        // Each call sees its own recovery already in the backer's balance (the second sees both).
        assertEq(backerA.slashCallCount(), 2);
        _assertSlashCall(backerA, 0, _scope(), 270e18, 270e18);
        _assertSlashCall(backerA, 1, FEED, 90e18, 360e18);
    }

    function test_slash_RoundsEachBackerShareDown() public {
        _stake(uint256(MIN) + 3);
        _allocate(backerA, _scope(), 7);
        _allocate(backerB, FEED, 13);
        uint256 slashed = _slash();
        // floor(7 * 0.9) = 6, floor(13 * 0.9) = 11; the rounding dust goes to the loss recipient.
        uint256 bounty = (slashed * BOUNTY_BPS) / BPS;
        assertEq(token.balanceOf(address(backerA)), 6);
        assertEq(token.balanceOf(address(backerB)), 11);
        assertEq(token.balanceOf(prover), bounty);
        assertEq(token.balanceOf(lossRecipient), slashed - bounty - 17);
        assertEq(token.balanceOf(prover) + 17 + token.balanceOf(lossRecipient), slashed, "conservation");
    }

    function test_slash_ZeroShareStillNotifiesBacker() public {
        _stake(MIN);
        _allocate(backerA, _scope(), 1);
        vm.expectEmit(address(staking));
        emit IDeviceStaking.BackerPaid(id, address(backerA), _scope(), 0);
        _slash();
        assertEq(token.balanceOf(address(backerA)), 0);
        _assertSlashCall(backerA, 0, _scope(), 0, 0);
    }

    function test_slash_ZeroBountyPaysBackersTheirWholeAllocation() public {
        _redeploy(0, lossRecipient);
        _stake(1_000e18);
        _allocate(backerA, _scope(), 333e18);
        _slash();
        assertEq(token.balanceOf(prover), 0);
        assertEq(token.balanceOf(address(backerA)), 333e18);
        assertEq(token.balanceOf(lossRecipient), 667e18);
    }

    function test_slash_LossRecipientBackerNotifiedWithScopeZero() public {
        MockStakeBacker recipient = new MockStakeBacker(IERC20(address(token)), CEILING_BPS);
        _redeploy(BOUNTY_BPS, address(recipient));
        _approve(address(recipient));
        _stake(1_000e18);
        _allocate(backerA, _scope(), 400e18);
        vm.expectEmit(address(staking));
        emit IDeviceStaking.BackerPaid(id, address(backerA), _scope(), 360e18);
        vm.expectEmit(address(staking));
        emit IDeviceStaking.BackerPaid(id, address(recipient), bytes32(0), 540e18);
        _slash();
        assertEq(token.balanceOf(address(recipient)), 540e18);
        assertEq(recipient.slashCallCount(), 1);
        MockStakeBacker.SlashCall memory c = recipient.slashCall(0);
        assertEq(c.caller, address(staking));
        assertEq(DeviceId.unwrap(c.deviceId), DeviceId.unwrap(id));
        assertEq(c.scope, bytes32(0));
        assertEq(c.incident, INCIDENT);
        assertEq(c.recovery, 540e18);
        assertEq(c.balanceAtCall, 540e18);
    }

    function test_slash_LossRecipientAlsoAllocatedBackerGetsBothCalls() public {
        MockStakeBacker recipient = new MockStakeBacker(IERC20(address(token)), CEILING_BPS);
        _redeploy(BOUNTY_BPS, address(recipient));
        _approve(address(recipient));
        _stake(1_000e18);
        vm.prank(operator);
        staking.allocate(id, address(recipient), FEED, 100e18);
        _slash();
        // First its allocation (90), then the unallocated rest (1,000 - 100 - 90 = 810) with scope 0.
        assertEq(recipient.slashCallCount(), 2);
        assertEq(recipient.slashCall(0).scope, FEED);
        assertEq(recipient.slashCall(0).recovery, 90e18);
        assertEq(recipient.slashCall(1).scope, bytes32(0));
        assertEq(recipient.slashCall(1).recovery, 810e18);
        assertEq(recipient.slashCall(1).balanceAtCall, 900e18);
        assertEq(token.balanceOf(address(recipient)), 900e18);
    }

    /// @dev A staking contract as the deployment wires it: a placeholder loss recipient (gov), then a pool
    /// approved as a backer and made the recipient (in either order), and only then the proofs contract.
    /// The operator stakes 1,000 and the device is slashed; returns the pool.
    function _wiredThenSlashed(bool approveFirst) internal returns (MockStakeBacker pool) {
        DeviceStaking s = new DeviceStaking(registry, IERC20(address(token)), gov, _params(BOUNTY_BPS, gov));
        pool = new MockStakeBacker(IERC20(address(token)), CEILING_BPS);
        vm.startPrank(gov);
        if (approveFirst) s.setBacker(address(pool), true);
        s.setLossRecipient(address(pool));
        if (!approveFirst) s.setBacker(address(pool), true);
        s.setProofs(address(proofs));
        vm.stopPrank();
        bytes32 role = registry.SUSPENDER_ROLE();
        vm.prank(governor);
        registry.grantRole(role, address(s));
        staking = s;
        vm.prank(operator);
        token.approve(address(s), type(uint256).max);
        _stake(1_000e18);
        _slash();
    }

    /// @dev The deployment's order: the pool approved, made the loss recipient at once, and only then the
    /// proofs contract. The pool is told of the rest of every slash.
    function test_setLossRecipient_BeforeProofsMakesAnApprovedBackerNotified() public {
        MockStakeBacker pool = _wiredThenSlashed(true);
        assertEq(token.balanceOf(address(pool)), 900e18);
        assertEq(pool.slashCallCount(), 1);
        assertEq(pool.slashCall(0).scope, bytes32(0));
        assertEq(pool.slashCall(0).recovery, 900e18);
        assertEq(token.balanceOf(gov), 0, "the placeholder recipient got nothing");
    }

    /// @dev Made the recipient first and approved afterwards: setBacker keeps the notification in step.
    function test_setLossRecipient_ThenApprovedIsNotified() public {
        MockStakeBacker pool = _wiredThenSlashed(false);
        assertEq(pool.slashCallCount(), 1);
        assertEq(pool.slashCall(0).recovery, 900e18);
    }

    function test_slash_UnapprovedLossRecipientGetsAPlainTransfer() public {
        MockStakeBacker recipient = new MockStakeBacker(IERC20(address(token)), CEILING_BPS);
        _redeploy(BOUNTY_BPS, address(recipient));
        _stake(1_000e18);
        _slash();
        assertEq(token.balanceOf(address(recipient)), 900e18);
        assertEq(recipient.slashCallCount(), 0, "not a backer: not called");
    }

    function test_slash_NoRestLeavesLossRecipientUncalled() public {
        MockStakeBacker recipient = new MockStakeBacker(IERC20(address(token)), CEILING_BPS);
        _redeploy(BOUNTY_BPS, address(recipient));
        _approve(address(recipient));
        _stake(1_000e18);
        _allocate(backerA, _scope(), 1_000e18);
        vm.expectEmit(address(staking));
        emit IDeviceStaking.Slashed(id, prover, INCIDENT, 100e18, 0);
        _slash();
        assertEq(token.balanceOf(address(backerA)), 900e18);
        assertEq(recipient.slashCallCount(), 0);
        assertEq(token.balanceOf(address(recipient)), 0);
    }

    function test_slash_OtherDevicesAllocationsUntouched() public {
        DeviceId second = _register(_secpKey(SECP_PK_2));
        _stake(1_000e18);
        _allocate(backerA, _scope(), 100e18);
        vm.startPrank(operator);
        staking.stake(second, 500e18);
        staking.allocate(second, address(backerA), DeviceId.unwrap(second), 200e18);
        vm.stopPrank();
        _slash();
        assertEq(staking.allocatedOf(second), 200e18);
        assertEq(staking.allocationOf(second, address(backerA), DeviceId.unwrap(second)), 200e18);
        assertEq(staking.allocationsOf(second).length, 1);
        assertEq(token.balanceOf(address(staking)), 500e18);
    }

    // ================================================================ views

    function test_views_CostCountsActiveStakeOnly() public {
        _stake(1_000e18);
        _allocate(backerA, _scope(), 400e18);
        _request(600e18);
        DeviceId[] memory ids = new DeviceId[](1);
        ids[0] = id;
        assertEq(staking.activeOf(id), 400e18);
        assertEq(staking.slashableOf(id), 1_000e18);
        assertEq(staking.costOfCorruption(ids), 400e18);
        assertEq(staking.slashableOfOperator(operator, ids), 400e18);
    }
}
