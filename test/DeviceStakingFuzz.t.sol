// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IDeviceStaking} from "../contracts/interfaces/IDeviceStaking.sol";
import {FeeOnTransferToken} from "../contracts/mocks/FeeOnTransferToken.sol";
import {MockERC20} from "../contracts/mocks/MockERC20.sol";
import {MockProofs} from "../contracts/mocks/MockProofs.sol";
import {DeviceStaking} from "../contracts/staking/DeviceStaking.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";

/// @notice Fuzzes every amount and time input of staking; each property has a concrete twin with fixed values.
contract DeviceStakingFuzzTest is RegistryFixture {
    DeviceStaking internal staking;
    MockERC20 internal token;
    MockProofs internal proofs;
    DeviceId internal id;

    address internal gov = makeAddr("stakingGovernance");
    address internal pool = makeAddr("insurancePool");
    address internal prover = makeAddr("prover");

    uint96 internal constant MIN = 100e18;
    uint64 internal constant UNBONDING = 7 days;
    /// @dev Two of these still fit the uint96 stake record (~7.9e28).
    uint256 internal constant MAX_AMOUNT = 1e28;

    function setUp() public override {
        super.setUp();
        token = new MockERC20("Collateral", "COL");
        proofs = new MockProofs(1 days);
        staking = _deploy(IERC20(address(token)), 1_000);
        id = _register(_secpKey(SECP_PK));
        token.mint(operator, 10 * MAX_AMOUNT);
        vm.prank(operator);
        token.approve(address(staking), type(uint256).max);
    }

    function _deploy(IERC20 collateral, uint16 bountyBps) internal returns (DeviceStaking s) {
        s = new DeviceStaking(
            registry,
            collateral,
            gov,
            IDeviceStaking.Params({
                minStake: MIN,
                unbondingPeriod: UNBONDING,
                bountyBps: bountyBps,
                lossRecipient: pool
            })
        );
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

    // ================================================================ stake

    /// @dev Any amount at or above the minimum is credited in full and held by staking.
    function _checkStakeCredits(uint256 amount, uint256 topUp) internal {
        _stake(amount);
        _stake(topUp);
        assertEq(staking.stakeOf(id).active, amount + topUp);
        assertEq(token.balanceOf(address(staking)), amount + topUp);
    }

    function testFuzz_stake_CreditsAmount(uint256 amount, uint256 topUp) public {
        _checkStakeCredits(bound(amount, MIN, MAX_AMOUNT), bound(topUp, 1, MAX_AMOUNT));
    }

    function test_stake_CreditsAmount_Concrete() public {
        _checkStakeCredits(MIN, 1);
    }

    /// @dev Below the minimum a first stake reverts with the exact shortfall.
    function _checkStakeBelowMinimum(uint256 amount) internal {
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingBelowMinimum.selector, id, amount, MIN));
        _stake(amount);
    }

    function testFuzz_stake_RevertsBelowMinimum(uint256 amount) public {
        _checkStakeBelowMinimum(bound(amount, 1, MIN - 1));
    }

    function test_stake_RevertsBelowMinimum_Concrete() public {
        _checkStakeBelowMinimum(1);
    }

    /// @dev A fee-on-transfer token credits exactly what arrived, never the amount asked.
    function _checkFeeCredits(uint256 amount) internal {
        FeeOnTransferToken fee = new FeeOnTransferToken(100);
        staking = _deploy(IERC20(address(fee)), 1_000);
        fee.mint(operator, amount);
        vm.prank(operator);
        fee.approve(address(staking), amount);
        uint256 received = amount - (amount * 100) / 10_000;
        _stake(amount);
        assertEq(staking.stakeOf(id).active, received);
        assertEq(fee.balanceOf(address(staking)), received);
    }

    function testFuzz_stake_FeeOnTransferCreditsReceived(uint256 amount) public {
        // 102e18 delivers 100.98e18, above the minimum.
        _checkFeeCredits(bound(amount, 102e18, MAX_AMOUNT));
    }

    function test_stake_FeeOnTransferCreditsReceived_Concrete() public {
        _checkFeeCredits(123_456_789e12);
    }

    // ================================================================ requestWithdrawal

    /// @dev A request succeeds exactly when it leaves 0 or at least the minimum active, and moves the amount.
    function _checkRequest(uint256 staked, uint256 amount) internal {
        _stake(staked);
        uint256 remaining = staked - amount;
        if (remaining != 0 && remaining < MIN) {
            vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingBelowMinimum.selector, id, remaining, MIN));
        }
        vm.prank(operator);
        staking.requestWithdrawal(id, amount);
        if (remaining != 0 && remaining < MIN) return;
        IDeviceStaking.DeviceStake memory s = staking.stakeOf(id);
        assertEq(s.active, remaining);
        assertEq(s.pending, amount);
        assertEq(s.unlockAt, block.timestamp + UNBONDING);
        assertEq(staking.slashableOf(id), staked);
    }

    function testFuzz_requestWithdrawal_KeepsMinimumOrExits(uint256 staked, uint256 amount) public {
        staked = bound(staked, MIN, MAX_AMOUNT);
        _checkRequest(staked, bound(amount, 1, staked));
    }

    function test_requestWithdrawal_KeepsMinimumOrExits_Concrete() public {
        _checkRequest(250e18, 200e18);
    }

    /// @dev Asking for more than the active stake reverts with both figures.
    function _checkRequestTooMuch(uint256 staked, uint256 amount) internal {
        _stake(staked);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingInsufficientStake.selector, id, staked, amount));
        vm.prank(operator);
        staking.requestWithdrawal(id, amount);
    }

    function testFuzz_requestWithdrawal_RevertsAboveActive(uint256 staked, uint256 amount) public {
        staked = bound(staked, MIN, MAX_AMOUNT);
        _checkRequestTooMuch(staked, bound(amount, staked + 1, type(uint256).max));
    }

    function test_requestWithdrawal_RevertsAboveActive_Concrete() public {
        _checkRequestTooMuch(MIN, type(uint256).max);
    }

    // ================================================================ withdraw

    /// @dev Before its unlock time a withdrawal reverts; from it on, the whole pending amount is paid.
    function _checkWithdrawTiming(uint256 amount, uint256 elapsed) internal {
        _stake(amount);
        vm.prank(operator);
        staking.requestWithdrawal(id, amount);
        uint64 unlockAt = uint64(block.timestamp + UNBONDING);
        vm.warp(block.timestamp + elapsed);
        uint256 before = token.balanceOf(operator);
        if (block.timestamp < unlockAt) {
            vm.expectRevert(
                abi.encodeWithSelector(IDeviceStaking.StakingStillUnbonding.selector, id, unlockAt, block.timestamp)
            );
        }
        vm.prank(operator);
        staking.withdraw(id);
        if (block.timestamp < unlockAt) return;
        assertEq(token.balanceOf(operator), before + amount);
        assertEq(staking.slashableOf(id), 0);
    }

    function testFuzz_withdraw_OnlyAfterUnlock(uint256 amount, uint256 elapsed) public {
        _checkWithdrawTiming(bound(amount, MIN, MAX_AMOUNT), bound(elapsed, 0, 2 * UNBONDING));
    }

    function test_withdraw_OnlyAfterUnlock_Concrete() public {
        _checkWithdrawTiming(MIN, UNBONDING - 1);
    }

    function test_withdraw_AtUnlock_Concrete() public {
        _checkWithdrawTiming(MIN, UNBONDING);
    }

    // ================================================================ slash

    /// @dev A slash takes active + pending, pays floor(slashed * bps / 10_000) to the beneficiary and the
    /// rest to the loss recipient, and never pays out more than it took.
    function _checkSlash(uint256 staked, uint256 requested, uint16 bps) internal {
        staking = _deploy(IERC20(address(token)), bps);
        vm.prank(operator);
        token.approve(address(staking), type(uint256).max);
        _stake(staked);
        if (requested != 0) {
            vm.prank(operator);
            staking.requestWithdrawal(id, requested);
        }
        uint256 bounty = (staked * bps) / 10_000;
        vm.expectEmit(address(staking));
        emit IDeviceStaking.Slashed(id, prover, bytes32(uint256(1)), bounty, staked - bounty);
        vm.prank(address(proofs));
        uint256 slashed = staking.slash(id, prover, bytes32(uint256(1)));
        assertEq(slashed, staked);
        assertEq(token.balanceOf(prover), bounty);
        assertEq(token.balanceOf(pool), staked - bounty);
        assertEq(token.balanceOf(address(staking)), 0);
    }

    function testFuzz_slash_BountyMath(uint256 staked, uint256 requested, uint16 bps) public {
        staked = bound(staked, MIN, MAX_AMOUNT);
        // Either a full exit or a request that leaves at least the minimum.
        requested = bound(requested, 0, staked);
        if (requested != staked && staked - requested < MIN) requested = staked - MIN;
        _checkSlash(staked, requested, uint16(bound(bps, 0, 10_000)));
    }

    function test_slash_BountyMath_Concrete() public {
        _checkSlash(333e18 + 7, 200e18, 333);
    }

    // ================================================================ scheduleParams

    /// @dev New parameters take effect exactly at now + unbonding in force + 1 day, never earlier.
    function _checkParamsDelay(uint64 unbonding, uint256 elapsed) internal {
        IDeviceStaking.Params memory p = IDeviceStaking.Params({
            minStake: 1,
            unbondingPeriod: unbonding,
            bountyBps: 42,
            lossRecipient: stranger
        });
        vm.prank(gov);
        staking.scheduleParams(p);
        uint64 effectiveAt = uint64(block.timestamp + UNBONDING + 1 days);
        vm.warp(block.timestamp + elapsed);
        if (block.timestamp < effectiveAt) {
            assertEq(staking.params().bountyBps, 1_000);
            vm.expectRevert(
                abi.encodeWithSelector(
                    IDeviceStaking.StakingParamsNotYetEffective.selector,
                    effectiveAt,
                    block.timestamp
                )
            );
            staking.applyParams();
            return;
        }
        assertEq(staking.params().unbondingPeriod, unbonding);
        staking.applyParams();
        assertEq(staking.params().bountyBps, 42);
    }

    function testFuzz_scheduleParams_DelayLongerThanUnbonding(uint64 unbonding, uint256 elapsed) public {
        _checkParamsDelay(uint64(bound(unbonding, 1 days + 1, 365 days)), bound(elapsed, 0, 30 days));
    }

    function test_scheduleParams_DelayLongerThanUnbonding_Concrete() public {
        _checkParamsDelay(30 days, UNBONDING + 1 days - 1);
    }

    /// @dev Any unbonding period not longer than the evidence window is refused.
    function _checkWindow(uint64 unbonding) internal {
        IDeviceStaking.Params memory p = IDeviceStaking.Params({
            minStake: MIN,
            unbondingPeriod: unbonding,
            bountyBps: 0,
            lossRecipient: pool
        });
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceStaking.StakingWindowNotShorter.selector, uint256(1 days), uint256(unbonding))
        );
        vm.prank(gov);
        staking.scheduleParams(p);
    }

    function testFuzz_scheduleParams_RevertsWhenNotLongerThanWindow(uint64 unbonding) public {
        _checkWindow(uint64(bound(unbonding, 1, 1 days)));
    }

    function test_scheduleParams_RevertsWhenNotLongerThanWindow_Concrete() public {
        _checkWindow(1 days);
    }

    // ---------------------------------------------------------------- setLossRecipient

    /// @dev Only governance, only before the proofs contract is set, never zero; otherwise nothing changes.
    function _checkSetLossRecipient(address caller, address recipient, bool proofsSet) internal {
        DeviceStaking fresh = new DeviceStaking(
            registry,
            IERC20(address(token)),
            gov,
            IDeviceStaking.Params({minStake: MIN, unbondingPeriod: UNBONDING, bountyBps: 1_000, lossRecipient: pool})
        );
        if (proofsSet) {
            vm.prank(gov);
            fresh.setProofs(address(proofs));
        }
        if (caller != gov) {
            vm.expectRevert(
                abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, bytes32(0))
            );
        } else if (proofsSet) {
            vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingProofsAlreadySet.selector, address(proofs)));
        } else if (recipient == address(0)) {
            vm.expectRevert(IDeviceStaking.StakingInvalidParams.selector);
        }
        vm.prank(caller);
        fresh.setLossRecipient(recipient);
        bool accepted = caller == gov && !proofsSet && recipient != address(0);
        assertEq(fresh.params().lossRecipient, accepted ? recipient : pool);
    }

    function testFuzz_setLossRecipient_OnlyGovernanceBeforeProofs(
        address caller,
        address recipient,
        bool proofsSet,
        bool asGovernance
    ) public {
        _checkSetLossRecipient(asGovernance ? gov : caller, recipient, proofsSet);
    }

    function test_setLossRecipient_OnlyGovernanceBeforeProofs_Concrete() public {
        _checkSetLossRecipient(gov, address(0xBEEF), false);
        _checkSetLossRecipient(gov, address(0xBEEF), true);
        _checkSetLossRecipient(gov, address(0), false);
        _checkSetLossRecipient(address(0xCAFE), address(0xBEEF), false);
    }
}
