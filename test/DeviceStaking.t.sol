// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

// solhint-disable-next-line no-console
import {console} from "forge-std/console.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {IDeviceStaking} from "../contracts/interfaces/IDeviceStaking.sol";
import {FeeOnTransferToken} from "../contracts/mocks/FeeOnTransferToken.sol";
import {MockERC20} from "../contracts/mocks/MockERC20.sol";
import {MockProofs} from "../contracts/mocks/MockProofs.sol";
import {ReentrantToken} from "../contracts/mocks/ReentrantToken.sol";
import {DeviceStaking} from "../contracts/staking/DeviceStaking.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {DeviceStatus} from "../contracts/types/DeviceStatus.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";

/// @notice A registry with one registered device owned by `operator`, a staking contract over a plain
/// token whose proofs contract is a MockProofs (evidence window 1 day) and which holds SUSPENDER_ROLE.
abstract contract StakingUnitFixture is RegistryFixture {
    DeviceStaking internal staking;
    MockERC20 internal token;
    MockProofs internal proofs;
    DeviceId internal id;

    address internal gov = makeAddr("stakingGovernance");
    address internal pool = makeAddr("insurancePool");
    address internal prover = makeAddr("prover");

    uint96 internal constant MIN = 100e18;
    uint64 internal constant UNBONDING = 7 days;
    uint16 internal constant BOUNTY_BPS = 1_000;
    uint256 internal constant WINDOW = 1 days;
    bytes32 internal constant INCIDENT = keccak256("incident");

    function setUp() public virtual override {
        super.setUp();
        token = new MockERC20("Collateral", "COL");
        proofs = new MockProofs(WINDOW);
        staking = _deploy(IERC20(address(token)), _defaultParams());
        id = _register(_secpKey(SECP_PK));
        token.mint(operator, 1_000_000e18);
        vm.prank(operator);
        token.approve(address(staking), type(uint256).max);
    }

    function _defaultParams() internal view returns (IDeviceStaking.Params memory) {
        return
            IDeviceStaking.Params({
                minStake: MIN,
                unbondingPeriod: UNBONDING,
                bountyBps: BOUNTY_BPS,
                lossRecipient: pool
            });
    }

    /// @dev A staking contract over `collateral` with proofs set and the registry's SUSPENDER_ROLE.
    function _deploy(IERC20 collateral, IDeviceStaking.Params memory p) internal returns (DeviceStaking s) {
        s = new DeviceStaking(registry, collateral, gov, p);
        vm.prank(gov);
        s.setProofs(address(proofs));
        bytes32 role = registry.SUSPENDER_ROLE();
        vm.prank(governor);
        registry.grantRole(role, address(s));
    }

    function _stake(uint256 amount) internal {
        vm.prank(operator);
        staking.stake(id, amount);
    }

    function _request(uint256 amount) internal {
        vm.prank(operator);
        staking.requestWithdrawal(id, amount);
    }

    function _slash() internal returns (uint256) {
        vm.prank(address(proofs));
        return staking.slash(id, prover, INCIDENT);
    }

    function _transferCustody(DeviceId deviceId, address from, address to) internal {
        vm.prank(from);
        registry.startCustodyTransfer(deviceId, to);
        vm.prank(to);
        registry.acceptCustody(deviceId);
    }

    function _assertStake(uint256 active, uint256 pending, uint256 unlockAt) internal view {
        IDeviceStaking.DeviceStake memory s = staking.stakeOf(id);
        assertEq(s.active, active, "active");
        assertEq(s.pending, pending, "pending");
        assertEq(s.unlockAt, unlockAt, "unlockAt");
        assertEq(staking.activeOf(id), active, "activeOf");
        assertEq(staking.slashableOf(id), active + pending, "slashableOf");
    }

    function _assertParams(IDeviceStaking.Params memory a, IDeviceStaking.Params memory b) internal pure {
        assertEq(a.minStake, b.minStake, "minStake");
        assertEq(a.unbondingPeriod, b.unbondingPeriod, "unbondingPeriod");
        assertEq(a.bountyBps, b.bountyBps, "bountyBps");
        assertEq(a.lossRecipient, b.lossRecipient, "lossRecipient");
    }
}

contract DeviceStakingTest is StakingUnitFixture {
    // ================================================================ constructor

    function test_constructor_SetsParamsTokenAndGovernance() public view {
        assertEq(address(staking.REGISTRY()), address(registry));
        assertEq(address(staking.TOKEN()), address(token));
        assertTrue(staking.hasRole(staking.DEFAULT_ADMIN_ROLE(), gov));
        _assertParams(staking.params(), _defaultParams());
        (, uint64 effectiveAt) = staking.pendingParams();
        assertEq(effectiveAt, 0);
        assertEq(staking.proofs(), address(proofs));
    }

    function test_constructor_RevertWhen_BountyAboveMax() public {
        IDeviceStaking.Params memory p = _defaultParams();
        p.bountyBps = 10_001;
        vm.expectRevert(IDeviceStaking.StakingInvalidParams.selector);
        new DeviceStaking(registry, IERC20(address(token)), gov, p);
    }

    function test_constructor_RevertWhen_ZeroUnbonding() public {
        IDeviceStaking.Params memory p = _defaultParams();
        p.unbondingPeriod = 0;
        vm.expectRevert(IDeviceStaking.StakingInvalidParams.selector);
        new DeviceStaking(registry, IERC20(address(token)), gov, p);
    }

    function test_constructor_RevertWhen_ZeroLossRecipient() public {
        IDeviceStaking.Params memory p = _defaultParams();
        p.lossRecipient = address(0);
        vm.expectRevert(IDeviceStaking.StakingInvalidParams.selector);
        new DeviceStaking(registry, IERC20(address(token)), gov, p);
    }

    function test_constructor_RevertWhen_ZeroAddress() public {
        vm.expectRevert(IDeviceStaking.StakingInvalidParams.selector);
        new DeviceStaking(registry, IERC20(address(token)), address(0), _defaultParams());
        vm.expectRevert(IDeviceStaking.StakingInvalidParams.selector);
        new DeviceStaking(registry, IERC20(address(0)), gov, _defaultParams());
        vm.expectRevert(IDeviceStaking.StakingInvalidParams.selector);
        new DeviceStaking(IDeviceRegistry(address(0)), IERC20(address(token)), gov, _defaultParams());
    }

    // ================================================================ stake

    function test_stake_CreditsActiveAndPulls() public {
        vm.expectEmit(address(staking));
        emit IDeviceStaking.Staked(id, operator, MIN, MIN);
        _stake(MIN);
        _assertStake(MIN, 0, 0);
        assertEq(token.balanceOf(address(staking)), MIN);
        assertEq(token.balanceOf(operator), 1_000_000e18 - MIN);
    }

    function test_stake_TopUpAddsToActive() public {
        _stake(MIN);
        vm.expectEmit(address(staking));
        emit IDeviceStaking.Staked(id, operator, 1, uint256(MIN) + 1);
        _stake(1);
        _assertStake(uint256(MIN) + 1, 0, 0);
    }

    function test_stake_SuspendedDeviceMayStake() public {
        vm.prank(operator);
        registry.suspend(id, "maintenance");
        _stake(MIN);
        _assertStake(MIN, 0, 0);
    }

    function test_stake_RevertWhen_ZeroAmount() public {
        vm.expectRevert(IDeviceStaking.StakingZeroAmount.selector);
        _stake(0);
    }

    function test_stake_RevertWhen_NotOperator() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingNotOperator.selector, id, stranger));
        vm.prank(stranger);
        staking.stake(id, MIN);
    }

    function test_stake_RevertWhen_UnknownDevice() public {
        DeviceId unknown = DeviceId.wrap(keccak256("nobody"));
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingNotOperator.selector, unknown, operator));
        vm.prank(operator);
        staking.stake(unknown, MIN);
    }

    function test_stake_RevertWhen_BelowMinimum() public {
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceStaking.StakingBelowMinimum.selector, id, uint256(MIN) - 1, uint256(MIN))
        );
        _stake(uint256(MIN) - 1);
    }

    function test_stake_RevertWhen_RevokedDevice() public {
        vm.prank(operator);
        registry.revoke(id, "stolen");
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingTerminalDevice.selector, id));
        _stake(MIN);
    }

    function test_stake_RevertWhen_DecommissionedDevice() public {
        vm.prank(operator);
        registry.decommission(id);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingTerminalDevice.selector, id));
        _stake(MIN);
    }

    function test_stake_RevertWhen_ActiveAboveUint96() public {
        uint256 huge = uint256(type(uint96).max) + 1;
        token.mint(operator, huge);
        vm.expectRevert(abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintDowncast.selector, 96, huge));
        _stake(huge);
    }

    function test_stake_FeeOnTransferCreditsReceived() public {
        FeeOnTransferToken fee = new FeeOnTransferToken(100);
        staking = _deploy(IERC20(address(fee)), _defaultParams());
        fee.mint(operator, 1_000e18);
        vm.prank(operator);
        fee.approve(address(staking), type(uint256).max);
        vm.expectEmit(address(staking));
        emit IDeviceStaking.Staked(id, operator, 198e18, 198e18);
        _stake(200e18);
        _assertStake(198e18, 0, 0);
        assertEq(fee.balanceOf(address(staking)), 198e18);
    }

    function test_stake_RevertWhen_FeeOnTransferLeavesBelowMinimum() public {
        FeeOnTransferToken fee = new FeeOnTransferToken(100);
        staking = _deploy(IERC20(address(fee)), _defaultParams());
        fee.mint(operator, 1_000e18);
        vm.prank(operator);
        fee.approve(address(staking), type(uint256).max);
        // Sending exactly the minimum delivers 99% of it.
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingBelowMinimum.selector, id, 99e18, uint256(MIN)));
        _stake(MIN);
    }

    function test_stake_RevertWhen_NothingReceived() public {
        FeeOnTransferToken fee = new FeeOnTransferToken(10_000);
        staking = _deploy(IERC20(address(fee)), _defaultParams());
        fee.mint(operator, 1_000e18);
        vm.prank(operator);
        fee.approve(address(staking), type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingNothingReceived.selector, uint256(MIN)));
        _stake(MIN);
    }

    function test_stake_RevertWhen_TokenReenters() public {
        ReentrantToken evil = new ReentrantToken();
        staking = _deploy(IERC20(address(evil)), _defaultParams());
        evil.mint(operator, 1_000e18);
        vm.prank(operator);
        evil.approve(address(staking), type(uint256).max);
        evil.arm(address(staking), abi.encodeCall(IDeviceStaking.stake, (id, MIN)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        _stake(MIN);
    }

    // ================================================================ requestWithdrawal

    function test_requestWithdrawal_MovesActiveToPending() public {
        _stake(300e18);
        uint64 unlockAt = uint64(block.timestamp + UNBONDING);
        vm.expectEmit(address(staking));
        emit IDeviceStaking.WithdrawalRequested(id, operator, 200e18, unlockAt);
        _request(200e18);
        _assertStake(100e18, 200e18, unlockAt);
        assertEq(staking.slashableOf(id), 300e18);
    }

    function test_requestWithdrawal_FullExitAllowed() public {
        _stake(MIN);
        _request(MIN);
        _assertStake(0, MIN, block.timestamp + UNBONDING);
    }

    function test_requestWithdrawal_AddsToPendingAndRestartsClock() public {
        _stake(500e18);
        _request(100e18);
        vm.warp(block.timestamp + 3 days);
        _request(100e18);
        _assertStake(300e18, 200e18, block.timestamp + UNBONDING);
    }

    function test_requestWithdrawal_TerminalDeviceMayExit() public {
        _stake(MIN);
        vm.prank(operator);
        registry.decommission(id);
        _request(MIN);
        _assertStake(0, MIN, block.timestamp + UNBONDING);
    }

    function test_requestWithdrawal_RevertWhen_ZeroAmount() public {
        _stake(MIN);
        vm.expectRevert(IDeviceStaking.StakingZeroAmount.selector);
        _request(0);
    }

    function test_requestWithdrawal_RevertWhen_NotOperator() public {
        _stake(MIN);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingNotOperator.selector, id, stranger));
        vm.prank(stranger);
        staking.requestWithdrawal(id, MIN);
    }

    function test_requestWithdrawal_RevertWhen_InsufficientStake() public {
        _stake(MIN);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceStaking.StakingInsufficientStake.selector, id, uint256(MIN), uint256(MIN) + 1)
        );
        _request(uint256(MIN) + 1);
    }

    function test_requestWithdrawal_RevertWhen_RemainderBelowMinimum() public {
        _stake(150e18);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingBelowMinimum.selector, id, 99e18, uint256(MIN)));
        _request(51e18);
    }

    // ================================================================ withdraw

    function test_withdraw_PaysOperatorAtUnlock() public {
        _stake(300e18);
        _request(200e18);
        vm.warp(block.timestamp + UNBONDING);
        uint256 before = token.balanceOf(operator);
        vm.expectEmit(address(staking));
        emit IDeviceStaking.Withdrawn(id, operator, 200e18);
        vm.prank(operator);
        staking.withdraw(id);
        _assertStake(100e18, 0, 0);
        assertEq(token.balanceOf(operator), before + 200e18);
        assertEq(token.balanceOf(address(staking)), 100e18);
    }

    function test_withdraw_RevertWhen_StillUnbonding() public {
        _stake(MIN);
        _request(MIN);
        uint64 unlockAt = uint64(block.timestamp + UNBONDING);
        vm.warp(unlockAt - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceStaking.StakingStillUnbonding.selector, id, unlockAt, uint256(unlockAt) - 1)
        );
        vm.prank(operator);
        staking.withdraw(id);
    }

    function test_withdraw_RevertWhen_NoWithdrawal() public {
        _stake(MIN);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingNoWithdrawal.selector, id));
        vm.prank(operator);
        staking.withdraw(id);
    }

    function test_withdraw_RevertWhen_NotOperator() public {
        _stake(MIN);
        _request(MIN);
        vm.warp(block.timestamp + UNBONDING);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingNotOperator.selector, id, stranger));
        vm.prank(stranger);
        staking.withdraw(id);
    }

    function test_withdraw_CustodyTransferMovesBond() public {
        _stake(MIN);
        _request(MIN);
        _transferCustody(id, operator, newOperator);
        vm.warp(block.timestamp + UNBONDING);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingNotOperator.selector, id, operator));
        vm.prank(operator);
        staking.withdraw(id);
        vm.expectEmit(address(staking));
        emit IDeviceStaking.Withdrawn(id, newOperator, MIN);
        vm.prank(newOperator);
        staking.withdraw(id);
        assertEq(token.balanceOf(newOperator), MIN);
    }

    function test_withdraw_RevokedDeviceMayWithdraw() public {
        _stake(MIN);
        _request(MIN);
        vm.prank(operator);
        registry.revoke(id, "stolen");
        vm.warp(block.timestamp + UNBONDING);
        vm.prank(operator);
        staking.withdraw(id);
        _assertStake(0, 0, 0);
    }

    function test_withdraw_RevertWhen_TokenReenters() public {
        ReentrantToken evil = new ReentrantToken();
        staking = _deploy(IERC20(address(evil)), _defaultParams());
        evil.mint(operator, 1_000e18);
        vm.prank(operator);
        evil.approve(address(staking), type(uint256).max);
        _stake(MIN);
        _request(MIN);
        vm.warp(block.timestamp + UNBONDING);
        // The payout's transfer calls withdraw again (the guard must stop it before any check).
        evil.arm(address(staking), abi.encodeCall(IDeviceStaking.withdraw, (id)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(operator);
        staking.withdraw(id);
    }

    // ================================================================ slash

    function test_slash_TakesActiveThenPendingAndPays() public {
        _stake(1_000e18);
        _request(300e18);
        vm.expectEmit(address(staking));
        emit IDeviceStaking.Slashed(id, prover, INCIDENT, 100e18, 900e18);
        vm.expectEmit(address(registry));
        emit IDeviceRegistry.DeviceSuspended(id, address(staking), "slashed");
        uint256 slashed = _slash();
        assertEq(slashed, 1_000e18);
        _assertStake(0, 0, 0);
        assertEq(token.balanceOf(prover), 100e18);
        assertEq(token.balanceOf(pool), 900e18);
        assertEq(token.balanceOf(address(staking)), 0);
        assertEq(uint8(registry.statusOf(id)), uint8(DeviceStatus.Suspended));
    }

    function test_slash_TakesPendingWhenNoActive() public {
        _stake(MIN);
        _request(MIN);
        vm.warp(block.timestamp + UNBONDING - 1);
        assertEq(_slash(), MIN);
        _assertStake(0, 0, 0);
        assertEq(token.balanceOf(pool), 90e18);
        vm.warp(block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingNoWithdrawal.selector, id));
        vm.prank(operator);
        staking.withdraw(id);
    }

    function test_slash_SuspendedDeviceStaysSuspended() public {
        _stake(MIN);
        vm.prank(operator);
        registry.suspend(id, "maintenance");
        assertEq(_slash(), MIN);
        assertEq(uint8(registry.statusOf(id)), uint8(DeviceStatus.Suspended));
    }

    function test_slash_RevokedDeviceStaysRevoked() public {
        _stake(MIN);
        vm.prank(operator);
        registry.revoke(id, "stolen");
        assertEq(_slash(), MIN);
        assertEq(uint8(registry.statusOf(id)), uint8(DeviceStatus.Revoked));
    }

    function test_slash_FullBountyPaysNoLoss() public {
        IDeviceStaking.Params memory p = _defaultParams();
        p.bountyBps = 10_000;
        staking = _deploy(IERC20(address(token)), p);
        vm.prank(operator);
        token.approve(address(staking), type(uint256).max);
        _stake(MIN);
        _slash();
        assertEq(token.balanceOf(prover), MIN);
        assertEq(token.balanceOf(pool), 0);
    }

    function test_slash_ZeroBountyPaysAllToLossRecipient() public {
        IDeviceStaking.Params memory p = _defaultParams();
        p.bountyBps = 0;
        staking = _deploy(IERC20(address(token)), p);
        vm.prank(operator);
        token.approve(address(staking), type(uint256).max);
        _stake(MIN);
        _slash();
        assertEq(token.balanceOf(prover), 0);
        assertEq(token.balanceOf(pool), MIN);
    }

    function test_slash_OperatorCannotReinstate() public {
        _stake(MIN);
        _slash();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                operator,
                registry.GOVERNOR_ROLE()
            )
        );
        vm.prank(operator);
        registry.reinstate(id);
    }

    function test_slash_RevertWhen_NotProofs() public {
        _stake(MIN);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingNotProofs.selector, gov));
        vm.prank(gov);
        staking.slash(id, prover, INCIDENT);
    }

    function test_slash_RevertWhen_NothingToSlash() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingNothingToSlash.selector, id));
        _slash();
    }

    // ================================================================ setProofs

    function test_setProofs_SetsOnce() public {
        DeviceStaking fresh = new DeviceStaking(registry, IERC20(address(token)), gov, _defaultParams());
        vm.expectEmit(address(fresh));
        emit IDeviceStaking.ProofsSet(address(proofs));
        vm.prank(gov);
        fresh.setProofs(address(proofs));
        assertEq(fresh.proofs(), address(proofs));
    }

    function test_setProofs_RevertWhen_AlreadySet() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingProofsAlreadySet.selector, address(proofs)));
        vm.prank(gov);
        staking.setProofs(stranger);
    }

    function test_setProofs_RevertWhen_NotGovernance() public {
        DeviceStaking fresh = new DeviceStaking(registry, IERC20(address(token)), gov, _defaultParams());
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0))
        );
        vm.prank(stranger);
        fresh.setProofs(address(proofs));
    }

    function test_setProofs_RevertWhen_ZeroAddress() public {
        DeviceStaking fresh = new DeviceStaking(registry, IERC20(address(token)), gov, _defaultParams());
        vm.expectRevert(IDeviceStaking.StakingInvalidParams.selector);
        vm.prank(gov);
        fresh.setProofs(address(0));
    }

    function test_setProofs_RevertWhen_WindowNotShorter() public {
        DeviceStaking fresh = new DeviceStaking(registry, IERC20(address(token)), gov, _defaultParams());
        MockProofs slow = new MockProofs(UNBONDING);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceStaking.StakingWindowNotShorter.selector, uint256(UNBONDING), UNBONDING)
        );
        vm.prank(gov);
        fresh.setProofs(address(slow));
    }

    function test_setProofs_RevertWhen_ScheduledUnbondingNotLonger() public {
        DeviceStaking fresh = new DeviceStaking(registry, IERC20(address(token)), gov, _defaultParams());
        IDeviceStaking.Params memory p = _defaultParams();
        p.unbondingPeriod = 12 hours;
        vm.prank(gov);
        fresh.scheduleParams(p);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceStaking.StakingWindowNotShorter.selector, WINDOW, uint256(12 hours))
        );
        vm.prank(gov);
        fresh.setProofs(address(proofs));
    }

    // ================================================================ setLossRecipient

    function test_setLossRecipient_SetsAtOnceBeforeProofs() public {
        DeviceStaking fresh = new DeviceStaking(registry, IERC20(address(token)), gov, _defaultParams());
        address next = makeAddr("nextRecipient");
        vm.expectEmit(address(fresh));
        emit IDeviceStaking.LossRecipientSet(next);
        vm.prank(gov);
        fresh.setLossRecipient(next);
        assertEq(fresh.params().lossRecipient, next);
        (, uint64 effectiveAt) = fresh.pendingParams();
        assertEq(effectiveAt, 0, "nothing scheduled");
    }

    function test_setLossRecipient_RevertWhen_ProofsSet() public {
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingProofsAlreadySet.selector, address(proofs)));
        vm.prank(gov);
        staking.setLossRecipient(stranger);
        assertEq(staking.params().lossRecipient, pool);
    }

    function test_setLossRecipient_RevertWhen_NotGovernance() public {
        DeviceStaking fresh = new DeviceStaking(registry, IERC20(address(token)), gov, _defaultParams());
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0))
        );
        vm.prank(stranger);
        fresh.setLossRecipient(stranger);
    }

    function test_setLossRecipient_RevertWhen_ZeroAddress() public {
        DeviceStaking fresh = new DeviceStaking(registry, IERC20(address(token)), gov, _defaultParams());
        vm.expectRevert(IDeviceStaking.StakingInvalidParams.selector);
        vm.prank(gov);
        fresh.setLossRecipient(address(0));
    }

    // ================================================================ scheduleParams / applyParams / params

    function _newParams() internal pure returns (IDeviceStaking.Params memory) {
        return
            IDeviceStaking.Params({
                minStake: 500e18,
                unbondingPeriod: 14 days,
                bountyBps: 2_500,
                lossRecipient: address(0x9001)
            });
    }

    function test_scheduleParams_StoresPendingAfterUnbondingPlusADay() public {
        IDeviceStaking.Params memory p = _newParams();
        uint64 effectiveAt = uint64(block.timestamp + UNBONDING + 1 days);
        vm.expectEmit(address(staking));
        emit IDeviceStaking.ParamsScheduled(p, effectiveAt);
        vm.prank(gov);
        staking.scheduleParams(p);
        (IDeviceStaking.Params memory pending, uint64 scheduledAt) = staking.pendingParams();
        _assertParams(pending, p);
        assertEq(scheduledAt, effectiveAt);
        _assertParams(staking.params(), _defaultParams());
    }

    function test_scheduleParams_RevertWhen_NotGovernance() public {
        IDeviceStaking.Params memory p = _newParams();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, bytes32(0))
        );
        vm.prank(stranger);
        staking.scheduleParams(p);
    }

    function test_scheduleParams_RevertWhen_InvalidParams() public {
        IDeviceStaking.Params memory p = _newParams();
        p.bountyBps = 10_001;
        vm.expectRevert(IDeviceStaking.StakingInvalidParams.selector);
        vm.prank(gov);
        staking.scheduleParams(p);
        p = _newParams();
        p.lossRecipient = address(0);
        vm.expectRevert(IDeviceStaking.StakingInvalidParams.selector);
        vm.prank(gov);
        staking.scheduleParams(p);
        p = _newParams();
        p.unbondingPeriod = 0;
        vm.expectRevert(IDeviceStaking.StakingInvalidParams.selector);
        vm.prank(gov);
        staking.scheduleParams(p);
    }

    function test_scheduleParams_RevertWhen_UnbondingNotLongerThanWindow() public {
        IDeviceStaking.Params memory p = _newParams();
        p.unbondingPeriod = uint64(WINDOW);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceStaking.StakingWindowNotShorter.selector, WINDOW, uint256(WINDOW))
        );
        vm.prank(gov);
        staking.scheduleParams(p);
    }

    function test_scheduleParams_FoldsEffectiveParamsFirst() public {
        IDeviceStaking.Params memory a = _newParams();
        vm.prank(gov);
        staking.scheduleParams(a);
        vm.warp(block.timestamp + UNBONDING + 1 days);
        IDeviceStaking.Params memory b = _defaultParams();
        b.bountyBps = 5;
        vm.expectEmit(address(staking));
        emit IDeviceStaking.ParamsApplied(a);
        vm.prank(gov);
        staking.scheduleParams(b);
        _assertParams(staking.params(), a);
        (, uint64 scheduledAt) = staking.pendingParams();
        // The delay now follows the unbonding period of the parameters in force (a's 14 days).
        assertEq(scheduledAt, block.timestamp + 14 days + 1 days);
    }

    function test_applyParams_AppliesWhenEffective() public {
        IDeviceStaking.Params memory p = _newParams();
        vm.prank(gov);
        staking.scheduleParams(p);
        vm.warp(block.timestamp + UNBONDING + 1 days);
        vm.expectEmit(address(staking));
        emit IDeviceStaking.ParamsApplied(p);
        staking.applyParams();
        _assertParams(staking.params(), p);
        (, uint64 scheduledAt) = staking.pendingParams();
        assertEq(scheduledAt, 0);
    }

    function test_applyParams_RevertWhen_NotYetEffective() public {
        vm.prank(gov);
        staking.scheduleParams(_newParams());
        uint64 effectiveAt = uint64(block.timestamp + UNBONDING + 1 days);
        vm.warp(effectiveAt - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeviceStaking.StakingParamsNotYetEffective.selector,
                effectiveAt,
                uint256(effectiveAt) - 1
            )
        );
        staking.applyParams();
        _assertParams(staking.params(), _defaultParams());
    }

    function test_applyParams_RevertWhen_NoPending() public {
        vm.expectRevert(IDeviceStaking.StakingNoPendingParams.selector);
        staking.applyParams();
    }

    function test_params_PendingCountOnceEffectiveBeforeApply() public {
        IDeviceStaking.Params memory p = _newParams();
        vm.prank(gov);
        staking.scheduleParams(p);
        vm.warp(block.timestamp + UNBONDING + 1 days);
        _assertParams(staking.params(), p);
        // Internal logic uses them too: the new minimum applies to a stake made now.
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingBelowMinimum.selector, id, 200e18, 500e18));
        _stake(200e18);
        _stake(500e18);
        _stake(1_000e18);
        _slash();
        assertEq(token.balanceOf(p.lossRecipient), 1_125e18);
        assertEq(token.balanceOf(prover), 375e18);
    }

    function test_params_WithdrawalRequestedBeforeScheduleUnlocksFirst() public {
        _stake(1_000e18);
        _request(1_000e18);
        uint256 unlockAt = block.timestamp + UNBONDING;
        // Governance raises the bounty to 100% right after: the withdrawal must escape the new terms.
        IDeviceStaking.Params memory p = _newParams();
        p.bountyBps = 10_000;
        vm.prank(gov);
        staking.scheduleParams(p);
        (, uint64 effectiveAt) = staking.pendingParams();
        assertLt(unlockAt, effectiveAt);
        vm.warp(unlockAt);
        _assertParams(staking.params(), _defaultParams());
        vm.prank(operator);
        staking.withdraw(id);
        assertEq(token.balanceOf(operator), 1_000_000e18);
    }

    // ================================================================ views

    function test_views_SlashableByDeviceOperatorAndCost() public {
        DeviceId second = registry.register(
            _registration(_secpKey(SECP_PK_2)),
            maker,
            _endorsement(_secpKey(SECP_PK_2), MODEL)
        );
        _stake(300e18);
        _request(100e18);
        vm.prank(operator);
        staking.stake(second, 150e18);
        _transferCustody(second, operator, newOperator);

        DeviceId[] memory ids = new DeviceId[](2);
        ids[0] = id;
        ids[1] = second;
        assertEq(staking.slashableOf(id), 300e18);
        assertEq(staking.slashableOf(second), 150e18);
        assertEq(staking.activeOf(id), 200e18);
        assertEq(staking.activeOf(second), 150e18);
        // Only active stake counts: the 100e18 pending may unlock before a proof lands.
        assertEq(staking.slashableOfOperator(operator, ids), 200e18);
        assertEq(staking.slashableOfOperator(newOperator, ids), 150e18);
        assertEq(staking.slashableOfOperator(stranger, ids), 0);
        assertEq(staking.costOfCorruption(ids), 350e18);
        assertEq(staking.costOfCorruption(new DeviceId[](0)), 0);
    }
}

/// @notice Gas of the three operator calls, each measured in a test of its own so the state it needs was
/// written in setUp (another transaction): every slot the call touches is cold, as in a real transaction.
/// @dev Logged figures are execution gas from here, including the call into staking; a whole transaction
/// adds 21,000 and the calldata (~1,100) and saves 2,500 (its `to` account starts warm). The bench
/// measures whole transactions; the asserts hold the budgets with that allowance.
contract DeviceStakingGasTest is StakingUnitFixture {
    uint256 internal constant TX_OVERHEAD = 21_000 + 1_100 - 2_500;

    function setUp() public override {
        super.setUp();
        // Another device already bonded: the staking contract's token balance slot exists.
        DeviceId second = registry.register(
            _registration(_secpKey(SECP_PK_2)),
            maker,
            _endorsement(_secpKey(SECP_PK_2), MODEL)
        );
        vm.prank(operator);
        staking.stake(second, MIN);
    }

    function test_gas_stakeFirst() public {
        vm.prank(operator);
        uint256 g = gasleft();
        staking.stake(id, MIN);
        g -= gasleft();
        // solhint-disable-next-line no-console
        console.log("gas: first stake, call", g, "tx estimate", g + TX_OVERHEAD);
        assertLe(g + TX_OVERHEAD, 100_000);
    }
}

contract DeviceStakingRequestGasTest is StakingUnitFixture {
    uint256 internal constant TX_OVERHEAD = 21_000 + 1_100 - 2_500;

    function setUp() public override {
        super.setUp();
        _stake(300e18);
    }

    function test_gas_requestWithdrawal() public {
        vm.prank(operator);
        uint256 g = gasleft();
        staking.requestWithdrawal(id, 200e18);
        g -= gasleft();
        // solhint-disable-next-line no-console
        console.log("gas: requestWithdrawal, call", g, "tx estimate", g + TX_OVERHEAD);
        assertLe(g + TX_OVERHEAD, 55_000);
    }
}

contract DeviceStakingWithdrawGasTest is StakingUnitFixture {
    uint256 internal constant TX_OVERHEAD = 21_000 + 1_000 - 2_500;

    function setUp() public override {
        super.setUp();
        _stake(300e18);
        _request(200e18);
        vm.warp(block.timestamp + UNBONDING);
    }

    function test_gas_withdraw() public {
        vm.prank(operator);
        uint256 g = gasleft();
        staking.withdraw(id);
        g -= gasleft();
        // solhint-disable-next-line no-console
        console.log("gas: withdraw, call", g, "tx estimate", g + TX_OVERHEAD);
        assertLe(g + TX_OVERHEAD, 70_000);
    }
}

/// @notice The very first stake of a deployment, which also creates the staking contract's token balance.
contract DeviceStakingEmptyGasTest is StakingUnitFixture {
    uint256 internal constant TX_OVERHEAD = 21_000 + 1_100 - 2_500;

    /// @dev The very first stake into a contract holding no tokens also creates its token balance slot.
    function test_gas_stakeIntoEmptyContract() public {
        vm.prank(operator);
        uint256 g = gasleft();
        staking.stake(id, MIN);
        g -= gasleft();
        // solhint-disable-next-line no-console
        console.log("gas: first stake into an empty contract, call", g, "tx estimate", g + TX_OVERHEAD);
        // Once per deployment, on top of a device's first stake (<= 100,000, test_gas_stakeFirst and the
        // bench): the token creates the staking contract's balance slot (22,100, paid in the token).
        assertLe(g + TX_OVERHEAD, 105_000);
    }
}
