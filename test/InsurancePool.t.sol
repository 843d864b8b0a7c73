// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

// solhint-disable-next-line no-console
import {console} from "forge-std/console.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IDeviceStaking} from "../contracts/interfaces/IDeviceStaking.sol";
import {IFraudProofs} from "../contracts/interfaces/IFraudProofs.sol";
import {IInsurancePool} from "../contracts/interfaces/IInsurancePool.sol";
import {FeeOnTransferToken} from "../contracts/mocks/FeeOnTransferToken.sol";
import {MockIncidents} from "../contracts/mocks/MockIncidents.sol";
import {ReentrantToken} from "../contracts/mocks/ReentrantToken.sol";
import {DeviceFeedFactory} from "../contracts/feeds/DeviceFeedFactory.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {InsuranceFixture, IPoolUnderTest, WindowedIncidents} from "./utils/InsuranceFixture.sol";
import {TestKey} from "./utils/RegistryFixture.sol";

/// @notice Constructor, governance, the ERC-4626 vault and the withdrawal request flow.
contract InsurancePoolVaultTest is InsuranceFixture {
    address internal insurer2 = makeAddr("insurer2");

    /// @notice The constructor sets the share token, the dependencies, the parameters and the payouts.
    function test_constructor_SetsState() public view {
        assertEq(pool.name(), "DeviceTrust Insurance Share");
        assertEq(pool.symbol(), "dtINS");
        assertEq(pool.decimals(), 18 + 6);
        assertEq(pool.asset(), address(usd));
        assertEq(address(pool.REGISTRY()), address(registry));
        assertEq(address(pool.STAKING()), address(deviceStaking));
        assertEq(address(pool.PROOFS()), address(proofs));
        assertEq(address(pool.FEED_FACTORY()), address(factory));
        assertTrue(pool.hasRole(pool.DEFAULT_ADMIN_ROLE(), poolGovernor));
        assertEq(abi.encode(pool.params()), abi.encode(_poolParams()));
        uint16[5] memory payouts = _payouts();
        for (uint256 k; k < 5; ++k) assertEq(pool.payoutBps(IFraudProofs.IncidentKind(k)), payouts[k]);
        assertEq(pool.totalAssets(), CAPITAL);
        assertEq(pool.lockedCapital(), 0);
        assertEq(pool.freeCapital(), CAPITAL);
        assertEq(pool.coverFactorCeilingBps(), COVER_FACTOR_BPS);
        assertTrue(deviceStaking.isBacker(address(pool)));
    }

    /// @notice The constructor refuses a zero dependency.
    function test_constructor_RevertWhen_ZeroAddress() public {
        vm.expectRevert(IInsurancePool.InsuranceZeroAddress.selector);
        _newPool(IERC20(address(usd)), proofs, DeviceFeedFactory(address(0)), poolGovernor, _poolParams(), _payouts());
        vm.expectRevert(IInsurancePool.InsuranceZeroAddress.selector);
        _newPool(IERC20(address(usd)), proofs, factory, address(0), _poolParams(), _payouts());
    }

    /// @notice The constructor refuses a payout for kind None and a payout above 100%.
    function test_constructor_RevertWhen_InvalidPayouts() public {
        uint16[5] memory payouts = _payouts();
        payouts[0] = 1;
        vm.expectRevert(IInsurancePool.InsuranceInvalidParams.selector);
        _newPool(IERC20(address(usd)), proofs, factory, poolGovernor, _poolParams(), payouts);
        payouts[0] = 0;
        payouts[3] = 10_001;
        vm.expectRevert(IInsurancePool.InsuranceInvalidParams.selector);
        _newPool(IERC20(address(usd)), proofs, factory, poolGovernor, _poolParams(), payouts);
    }

    /// @notice The constructor validates the parameters as setParams does.
    function test_constructor_RevertWhen_InvalidParams() public {
        IInsurancePool.PoolParams memory p = _poolParams();
        p.withdrawalWindow = 0;
        vm.expectRevert(IInsurancePool.InsuranceInvalidParams.selector);
        _newPool(IERC20(address(usd)), proofs, factory, poolGovernor, p, _payouts());
    }

    /// @notice Governance sets new parameters and the event carries them.
    function test_setParams_UpdatesAndEmits() public {
        IInsurancePool.PoolParams memory p = _poolParams();
        p.baseRateBps = 333;
        p.cooldown = 3 days;
        vm.expectEmit(address(pool));
        emit IInsurancePool.ParamsSet(p);
        vm.prank(poolGovernor);
        pool.setParams(p);
        assertEq(abi.encode(pool.params()), abi.encode(p));
    }

    /// @notice Only the admin sets parameters.
    function test_setParams_RevertWhen_NotAdmin() public {
        IInsurancePool.PoolParams memory p = _poolParams();
        bytes32 role = pool.DEFAULT_ADMIN_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
        );
        vm.prank(stranger);
        pool.setParams(p);
    }

    /// @notice Each invalid field is refused: utilization or minimum premium above 100%, zero cover factor,
    /// min term above max term, zero min term, zero withdrawal window, waiting period or max attestation
    /// age, a recovery vesting shorter than a day (zero, or a day less a second).
    function test_setParams_RevertWhen_Invalid() public {
        for (uint256 i; i < 10; ++i) {
            IInsurancePool.PoolParams memory p = _poolParams();
            if (i == 0) p.maxUtilizationBps = 10_001;
            if (i == 1) p.coverFactorBps = 0;
            if (i == 2) p.minTerm = p.maxTerm + 1;
            if (i == 3) (p.minTerm, p.maxTerm) = (0, 0);
            if (i == 4) p.withdrawalWindow = 0;
            if (i == 5) p.maxAttestationAge = 0;
            if (i == 6) p.minPremiumBps = 10_001;
            if (i == 7) p.waitingPeriod = 0;
            if (i == 8) p.recoveryVesting = 0;
            if (i == 9) p.recoveryVesting = 1 days - 1;
            vm.expectRevert(IInsurancePool.InsuranceInvalidParams.selector);
            vm.prank(poolGovernor);
            pool.setParams(p);
        }
    }

    /// @notice A deposit mints exactly the previewed shares, books the assets and emits Deposit.
    function test_deposit_MintsPreviewedShares() public {
        uint256 amount = 2_500e18;
        uint256 expected = pool.previewDeposit(amount);
        usd.mint(insurer2, amount);
        vm.startPrank(insurer2);
        usd.approve(address(pool), amount);
        vm.expectEmit(address(pool));
        emit IERC4626.Deposit(insurer2, insurer2, amount, expected);
        uint256 shares = pool.deposit(amount, insurer2);
        vm.stopPrank();
        assertEq(shares, expected);
        assertEq(pool.balanceOf(insurer2), expected);
        assertEq(pool.totalAssets(), CAPITAL + amount);
        assertEq(usd.balanceOf(address(pool)), CAPITAL + amount);
    }

    /// @notice The first deposit mints 10^6 shares per asset unit (the decimals offset).
    function test_deposit_FirstDepositUsesDecimalsOffset() public {
        (IPoolUnderTest fresh, ) = _emptyPool();
        uint256 shares = _deposit(fresh, insurer2, 1e18);
        assertEq(shares, 1e24);
        assertEq(fresh.convertToAssets(shares), 1e18);
    }

    /// @notice mint pulls exactly the previewed assets (rounded up).
    function test_mint_PullsPreviewedAssets() public {
        _buyDevice(p256Id, 100e18, 30 days);
        vm.warp(block.timestamp + 3 days + 17); // the earned premium makes the share price not a round number
        uint256 shares = 1e24 + 1;
        uint256 expected = pool.previewMint(shares);
        usd.mint(insurer2, expected);
        vm.startPrank(insurer2);
        usd.approve(address(pool), expected);
        uint256 assets = pool.mint(shares, insurer2);
        vm.stopPrank();
        assertEq(assets, expected);
        assertEq(pool.balanceOf(insurer2), shares);
        assertEq(usd.balanceOf(insurer2), 0);
    }

    /// @notice maxDeposit is what fits the uint128 of booked assets; one more reverts; maxMint agrees with it.
    function test_deposit_RevertWhen_AboveMaxDeposit() public {
        uint256 max = pool.maxDeposit(insurer2);
        assertEq(max, type(uint128).max - CAPITAL);
        assertLe(pool.previewMint(pool.maxMint(insurer2)), max);
        vm.expectRevert(abi.encodeWithSelector(ERC4626.ERC4626ExceededMaxDeposit.selector, insurer2, max + 1, max));
        vm.prank(insurer2);
        pool.deposit(max + 1, insurer2);
    }

    /// @notice A fee-on-transfer asset is refused: the deposit reverts with what arrived.
    function test_deposit_RevertWhen_FeeOnTransfer() public {
        FeeOnTransferToken fee = new FeeOnTransferToken(100);
        IPoolUnderTest feePool = _deployPool(IERC20(address(fee)), proofs);
        fee.mint(insurer2, 1_000e18);
        vm.startPrank(insurer2);
        fee.approve(address(feePool), 1_000e18);
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceTransferShortfall.selector, 1_000e18, 990e18));
        feePool.deposit(1_000e18, insurer2);
        vm.stopPrank();
    }

    /// @notice A token calling back into the pool during a deposit's pull is stopped by the guard.
    function test_deposit_RevertWhen_Reentered() public {
        ReentrantToken token = new ReentrantToken();
        IPoolUnderTest p = _deployPool(IERC20(address(token)), proofs);
        token.mint(insurer2, 2_000e18);
        vm.prank(insurer2);
        token.approve(address(p), 2_000e18);
        token.arm(address(p), abi.encodeCall(IERC4626.deposit, (1e18, insurer2)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(insurer2);
        p.deposit(1_000e18, insurer2);
    }

    /// @notice A direct transfer to the pool changes neither totalAssets nor any share's value.
    function test_donation_ChangesNoShareValue() public {
        uint256 shares = pool.balanceOf(insurer);
        uint256 before = pool.previewRedeem(shares);
        usd.mint(stranger, 50_000e18);
        vm.prank(stranger);
        assertTrue(usd.transfer(address(pool), 50_000e18));
        assertEq(pool.totalAssets(), CAPITAL);
        assertEq(pool.previewRedeem(shares), before);
    }

    /// @notice The classic inflation attack (1 wei deposit, then a large donation) leaves the victim whole.
    function test_deposit_InflationAttackFails() public {
        (IPoolUnderTest fresh, ) = _emptyPool();
        _deposit(fresh, stranger, 1);
        usd.mint(stranger, 10_000e18);
        vm.prank(stranger);
        assertTrue(usd.transfer(address(fresh), 10_000e18));
        uint256 shares = _deposit(fresh, insurer2, 1_000e18);
        assertApproxEqAbs(fresh.previewRedeem(shares), 1_000e18, 1, "the victim loses at most 1 wei");
    }

    /// @notice A request escrows the shares in the pool and starts the cooldown.
    function test_requestWithdrawal_EscrowsShares() public {
        uint256 shares = pool.balanceOf(insurer);
        uint40 unlockAt = uint40(block.timestamp + COOLDOWN);
        vm.expectEmit(address(pool));
        emit IERC20.Transfer(insurer, address(pool), shares / 2);
        vm.expectEmit(address(pool));
        emit IInsurancePool.WithdrawalRequested(insurer, shares / 2, unlockAt, unlockAt + WITHDRAWAL_WINDOW);
        vm.prank(insurer);
        pool.requestWithdrawal(shares / 2);
        IInsurancePool.WithdrawalRequest memory r = pool.withdrawalRequest(insurer);
        assertEq(r.shares, shares / 2);
        assertEq(r.unlockAt, unlockAt);
        assertEq(r.expiresAt, unlockAt + WITHDRAWAL_WINDOW);
        assertEq(pool.balanceOf(insurer), shares - shares / 2);
        assertEq(pool.balanceOf(address(pool)), shares / 2);
        assertEq(pool.maxRedeem(insurer), 0, "nothing redeemable during the cooldown");
        assertEq(pool.maxWithdraw(insurer), 0);
    }

    /// @notice Topping up a request adds the shares and restarts the cooldown and the window.
    function test_requestWithdrawal_TopUpRestartsCooldown() public {
        vm.prank(insurer);
        pool.requestWithdrawal(1e24);
        vm.warp(block.timestamp + COOLDOWN - 1);
        vm.prank(insurer);
        pool.requestWithdrawal(2e24);
        IInsurancePool.WithdrawalRequest memory r = pool.withdrawalRequest(insurer);
        assertEq(r.shares, 3e24);
        assertEq(r.unlockAt, block.timestamp + COOLDOWN);
        assertEq(r.expiresAt, block.timestamp + COOLDOWN + WITHDRAWAL_WINDOW);
    }

    /// @notice A request of zero shares is refused.
    function test_requestWithdrawal_RevertWhen_Zero() public {
        vm.expectRevert(IInsurancePool.InsuranceZeroAmount.selector);
        vm.prank(insurer);
        pool.requestWithdrawal(0);
    }

    /// @notice A request above the balance is refused by the share token.
    function test_requestWithdrawal_RevertWhen_AboveBalance() public {
        uint256 balance = pool.balanceOf(insurer);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, insurer, balance, balance + 1)
        );
        vm.prank(insurer);
        pool.requestWithdrawal(balance + 1);
    }

    /// @notice Cancelling returns every escrowed share and clears the request.
    function test_cancelWithdrawal_ReturnsShares() public {
        uint256 shares = pool.balanceOf(insurer);
        vm.prank(insurer);
        pool.requestWithdrawal(shares);
        vm.expectEmit(address(pool));
        emit IInsurancePool.WithdrawalCancelled(insurer, shares);
        vm.prank(insurer);
        pool.cancelWithdrawal();
        assertEq(pool.balanceOf(insurer), shares);
        assertEq(pool.withdrawalRequest(insurer).shares, 0);
    }

    /// @notice Cancelling without a request is refused.
    function test_cancelWithdrawal_RevertWhen_NoRequest() public {
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceNoWithdrawalRequest.selector, insurer));
        vm.prank(insurer);
        pool.cancelWithdrawal();
    }

    /// @notice After the cooldown the owner redeems the whole request for exactly the previewed assets.
    function test_redeem_PaysAfterCooldown() public {
        uint256 shares = pool.balanceOf(insurer);
        vm.prank(insurer);
        pool.requestWithdrawal(shares);
        vm.warp(block.timestamp + COOLDOWN);
        assertEq(pool.maxRedeem(insurer), shares);
        assertEq(pool.maxWithdraw(insurer), CAPITAL);
        uint256 expected = pool.previewRedeem(shares);
        vm.expectEmit(address(pool));
        emit IERC4626.Withdraw(insurer, insurer, insurer, expected, shares);
        vm.prank(insurer);
        uint256 assets = pool.redeem(shares, insurer, insurer);
        assertEq(assets, expected);
        assertEq(assets, CAPITAL);
        assertEq(usd.balanceOf(insurer), CAPITAL);
        assertEq(pool.totalAssets(), 0);
        assertEq(pool.totalSupply(), 0);
        assertEq(pool.withdrawalRequest(insurer).shares, 0);
    }

    /// @notice withdraw burns exactly the previewed shares and leaves the rest of the request.
    function test_withdraw_BurnsPreviewedShares() public {
        _buyDevice(p256Id, 100e18, 30 days);
        uint256 shares = pool.balanceOf(insurer);
        vm.prank(insurer);
        pool.requestWithdrawal(shares);
        vm.warp(block.timestamp + COOLDOWN);
        uint256 expected = pool.previewWithdraw(1_000e18);
        vm.prank(insurer);
        uint256 burnt = pool.withdraw(1_000e18, insurer, insurer);
        assertEq(burnt, expected);
        assertEq(usd.balanceOf(insurer), 1_000e18);
        assertEq(pool.withdrawalRequest(insurer).shares, shares - burnt);
    }

    /// @notice Redeeming without a request is refused.
    function test_redeem_RevertWhen_NoRequest() public {
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceNoWithdrawalRequest.selector, insurer));
        vm.prank(insurer);
        pool.redeem(1, insurer, insurer);
    }

    /// @notice Redeeming one second before the cooldown ends is refused with the unlock time.
    function test_redeem_RevertWhen_Cooldown() public {
        vm.prank(insurer);
        pool.requestWithdrawal(1e24);
        uint40 unlockAt = uint40(block.timestamp + COOLDOWN);
        vm.warp(unlockAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceCooldown.selector, insurer, unlockAt));
        vm.prank(insurer);
        pool.redeem(1e24, insurer, insurer);
    }

    /// @notice withdraw applies the same checks: during the cooldown it is refused with the unlock time, and
    /// above the free capital with both amounts.
    function test_withdraw_RevertWhen_CooldownOrLocked() public {
        _buyDevice(p256Id, 200e18, 30 days);
        uint256 shares = pool.balanceOf(insurer);
        vm.prank(insurer);
        pool.requestWithdrawal(shares);
        uint40 unlockAt = uint40(block.timestamp + COOLDOWN);
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceCooldown.selector, insurer, unlockAt));
        vm.prank(insurer);
        pool.withdraw(1e18, insurer, insurer);
        vm.warp(unlockAt);
        uint256 free = pool.freeCapital();
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceCapitalLocked.selector, free + 1, free));
        vm.prank(insurer);
        pool.withdraw(free + 1, insurer, insurer);
    }

    /// @notice mint above maxMint is refused by the ERC-4626 check.
    function test_mint_RevertWhen_AboveMaxMint() public {
        uint256 max = pool.maxMint(insurer2);
        vm.expectRevert(abi.encodeWithSelector(ERC4626.ERC4626ExceededMaxMint.selector, insurer2, max + 1, max));
        vm.prank(insurer2);
        pool.mint(max + 1, insurer2);
    }

    /// @notice Redeeming more than the request is refused.
    function test_redeem_RevertWhen_ExceedsRequest() public {
        vm.prank(insurer);
        pool.requestWithdrawal(1e24);
        vm.warp(block.timestamp + COOLDOWN);
        vm.expectRevert(
            abi.encodeWithSelector(IInsurancePool.InsuranceExceedsRequest.selector, insurer, 1e24 + 1, 1e24)
        );
        vm.prank(insurer);
        pool.redeem(1e24 + 1, insurer, insurer);
    }

    /// @notice Capital locked by coverage cannot leave; maxRedeem and maxWithdraw stop at the free capital.
    function test_redeem_RevertWhen_CapitalLocked() public {
        _buyDevice(p256Id, 200e18, 30 days);
        _buyDevice(secpId, 200e18, 30 days);
        uint256 shares = pool.balanceOf(insurer);
        vm.prank(insurer);
        pool.requestWithdrawal(shares);
        vm.warp(block.timestamp + COOLDOWN);
        uint256 free = pool.freeCapital();
        assertEq(free, pool.totalAssets() - 400e18);
        uint256 all = pool.previewRedeem(shares);
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceCapitalLocked.selector, all, free));
        vm.prank(insurer);
        pool.redeem(shares, insurer, insurer);

        assertEq(pool.maxWithdraw(insurer), free);
        uint256 maxShares = pool.maxRedeem(insurer);
        assertLt(maxShares, shares);
        vm.prank(insurer);
        uint256 assets = pool.redeem(maxShares, insurer, insurer);
        assertLe(assets, free);
        assertGe(pool.totalAssets(), pool.lockedCapital());
        assertLe(pool.freeCapital(), 1, "all free capital left, up to rounding");
    }

    /// @notice withdraw(maxWithdraw) succeeds when the free capital is the limit.
    function test_withdraw_MaxWithdrawSucceeds() public {
        _buyDevice(p256Id, 200e18, 30 days);
        uint256 shares = pool.balanceOf(insurer);
        vm.prank(insurer);
        pool.requestWithdrawal(shares);
        vm.warp(block.timestamp + COOLDOWN);
        uint256 max = pool.maxWithdraw(insurer);
        assertEq(max, pool.freeCapital());
        vm.prank(insurer);
        pool.withdraw(max, insurer, insurer);
        assertEq(pool.freeCapital(), 0);
        assertEq(pool.totalAssets(), pool.lockedCapital());
    }

    /// @notice An approved spender redeems a matured request for the owner, spending the share allowance.
    function test_redeem_ByApprovedSpender() public {
        vm.startPrank(insurer);
        pool.requestWithdrawal(1e24);
        pool.approve(stranger, 1e24);
        vm.stopPrank();
        vm.warp(block.timestamp + COOLDOWN);
        vm.prank(stranger);
        uint256 assets = pool.redeem(1e24, stranger, insurer);
        assertEq(usd.balanceOf(stranger), assets);
        assertEq(pool.allowance(insurer, stranger), 0);
    }

    /// @notice A spender without allowance cannot redeem someone's request.
    function test_redeem_RevertWhen_NoAllowance() public {
        vm.prank(insurer);
        pool.requestWithdrawal(1e24);
        vm.warp(block.timestamp + COOLDOWN);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, stranger, 0, 1e24));
        vm.prank(stranger);
        pool.redeem(1e24, stranger, insurer);
    }

    /// @notice A token calling back into the pool while paying a redemption is stopped by the guard.
    function test_redeem_RevertWhen_Reentered() public {
        ReentrantToken token = new ReentrantToken();
        IPoolUnderTest p = _deployPool(IERC20(address(token)), proofs);
        uint256 shares = _deposit(p, insurer2, 1_000e18);
        vm.prank(insurer2);
        p.requestWithdrawal(shares);
        vm.warp(block.timestamp + COOLDOWN);
        token.arm(address(p), abi.encodeCall(IERC4626.redeem, (1, insurer2, insurer2)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(insurer2);
        p.redeem(shares, insurer2, insurer2);
    }

    /// @dev A pool over `usd` with no capital.
    function _emptyPool() internal returns (IPoolUnderTest p, MockIncidents incidents) {
        incidents = new WindowedIncidents();
        p = _deployPool(IERC20(address(usd)), IFraudProofs(address(incidents)));
    }
}

/// @notice Selling coverage: validation, capacity, utilization, the premium formula and the security report.
contract InsurancePoolCoverageTest is InsuranceFixture {
    /// @notice A device policy is stored (coverage starts after the waiting period), locks its amount and
    /// streams the quoted premium: the tokens arrive now, the assets grow over the term.
    function test_buyCoverage_Device_StoresPolicy() public {
        uint256 quoted = pool.quote(IInsurancePool.TargetKind.Device, deviceTarget, 100e18, 30 days);
        uint40 start = uint40(block.timestamp + WAITING_PERIOD);
        uint40 end = start + 30 days;
        vm.expectEmit(address(pool));
        emit IInsurancePool.CoverageBought(
            deviceTarget,
            0,
            insured,
            IInsurancePool.TargetKind.Device,
            100e18,
            quoted,
            start,
            end
        );
        (uint32 serial, uint256 premium) = _buyDevice(p256Id, 100e18, 30 days);
        assertEq(serial, 0);
        assertEq(premium, quoted);
        IInsurancePool.Policy memory p = pool.policy(deviceTarget, 0);
        assertEq(p.beneficiary, insured);
        assertEq(p.start, start);
        assertEq(p.end, end);
        assertEq(uint8(p.kind), uint8(IInsurancePool.TargetKind.Device));
        assertFalse(p.released);
        assertEq(p.amount, 100e18);
        assertEq(p.paid, 0);
        assertEq(p.members, bytes32(0));
        IInsurancePool.TargetState memory t = pool.targetState(deviceTarget);
        assertEq(t.covered, 100e18);
        assertEq(t.policies, 1);
        assertEq(t.incidentAt, 0);
        (uint256 exposure, uint256 reserved) = pool.exposureOf(p256Id, deviceTarget);
        assertEq(exposure, 100e18);
        assertEq(reserved, 0);
        assertEq(pool.lockedCapital(), 100e18);
        assertEq(pool.totalAssets(), CAPITAL, "the premium is not earned at the sale");
        assertEq(pool.unearned(), premium);
        assertEq(usd.balanceOf(address(pool)), CAPITAL + premium);
        assertEq(usd.balanceOf(buyer), 1_000_000e18 - premium);
    }

    /// @notice The second policy on a target gets the next serial and adds to the coverage in force.
    function test_buyCoverage_NextSerial() public {
        _buyDevice(p256Id, 100e18, 30 days);
        (uint32 serial, ) = _buyDevice(p256Id, 50e18, 10 days);
        assertEq(serial, 1);
        assertEq(pool.targetState(deviceTarget).covered, 150e18);
        assertEq(pool.targetState(deviceTarget).policies, 2);
    }

    /// @notice The premium, in concrete numbers: 100 on a device with 200 of capacity in a 100,000 pool,
    /// attested 15 days ago: 200 + 1000*(0+100)/(2*100000) + 500*(0+100)/(2*200) + 300*15/30 = 475.5 bps a
    /// year: 4.755 for a year. For 30 days each of the four terms is 100e18 * rate_i * 30 / (10000 * 365),
    /// rounded up on its own: 12e18/73, 0.03e18/73, 7.5e18/73 and 9e18/73 each round up by a fraction of
    /// a wei, 0.39082191780821917808... in all, so 390821917808219181.
    function test_quote_ConcreteNumbers() public {
        vm.warp(registry.trustReport(p256Id, MAX_ATTESTATION_AGE).attestedAt + 15 days);
        assertEq(pool.quote(IInsurancePool.TargetKind.Device, deviceTarget, 100e18, 365 days), 4.755e18);
        assertEq(pool.quote(IInsurancePool.TargetKind.Device, deviceTarget, 100e18, 30 days), 390821917808219181);
        (, uint256 premium) = _buyDevice(p256Id, 100e18, 365 days);
        assertEq(premium, 4.755e18);
    }

    /// @notice A feed policy of 200 on two members (k = 2, share 100 each, 200 of capacity each) in a 100,000
    /// pool, its age term 0: 200 + 1000*(0+200)/(2*100000) + 500*(0+200)/(2*400) = 326 bps a year.
    function test_buyCoverage_Feed_ConcreteNumbers() public {
        (uint32 serial, uint256 premium) = _buyFeed(200e18, 365 days);
        assertEq(serial, 0);
        assertEq(premium, (200e18 * 326) / 10_000);
        assertEq(uint8(pool.policy(feedTarget, 0).kind), uint8(IInsurancePool.TargetKind.Feed));
        assertEq(pool.targetState(feedTarget).covered, 200e18);
        (uint256 exposure, ) = pool.exposureOf(secpId, feedTarget);
        assertEq(exposure, 100e18);
    }

    /// @notice Zero coverage is refused.
    function test_buyCoverage_RevertWhen_ZeroAmount() public {
        vm.expectRevert(IInsurancePool.InsuranceZeroAmount.selector);
        _buyDevice(p256Id, 0, 30 days);
    }

    /// @notice A zero beneficiary is refused.
    function test_buyCoverage_RevertWhen_ZeroBeneficiary() public {
        vm.expectRevert(IInsurancePool.InsuranceZeroAddress.selector);
        vm.prank(buyer);
        pool.buyCoverage(IInsurancePool.TargetKind.Device, deviceTarget, 1e18, 30 days, address(0), 1e30);
    }

    /// @notice A term below the minimum or above the maximum is refused with both bounds.
    function test_buyCoverage_RevertWhen_InvalidTerm() public {
        vm.expectRevert(
            abi.encodeWithSelector(IInsurancePool.InsuranceInvalidTerm.selector, MIN_TERM - 1, MIN_TERM, MAX_TERM)
        );
        _buyDevice(p256Id, 1e18, MIN_TERM - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IInsurancePool.InsuranceInvalidTerm.selector, MAX_TERM + 1, MIN_TERM, MAX_TERM)
        );
        _buyDevice(p256Id, 1e18, MAX_TERM + 1);
    }

    /// @notice Reason 1: a suspended device is not insurable.
    function test_buyCoverage_RevertWhen_DeviceNotActive() public {
        vm.prank(suspender);
        registry.suspend(p256Id, "maintenance");
        _expectNotInsurable(deviceTarget, 1);
        _buyDevice(p256Id, 1e18, 30 days);
    }

    /// @notice Reason 2: a device whose attestation is older than maxAttestationAge is not insurable.
    function test_buyCoverage_RevertWhen_DeviceNotTrusted() public {
        vm.warp(block.timestamp + MAX_ATTESTATION_AGE + 1);
        _expectNotInsurable(deviceTarget, 2);
        _buyDevice(p256Id, 1e18, 30 days);
    }

    /// @notice Reason 3: once the pool knows an incident on a device (the slash told it), it sells no
    /// coverage on it, even after governance reinstates it.
    function test_buyCoverage_RevertWhen_IncidentKnown() public {
        _equivocate(p256, p256Id, 7);
        assertEq(pool.targetState(deviceTarget).incidentAt, block.timestamp);
        vm.prank(governor);
        registry.reinstate(p256Id);
        assertTrue(registry.isTrusted(p256Id, MAX_ATTESTATION_AGE));
        _expectNotInsurable(deviceTarget, 3);
        _buyDevice(p256Id, 1e18, 30 days);
    }

    /// @notice Reason 4: an attested device without stake has no capacity.
    function test_buyCoverage_RevertWhen_NoStake() public {
        TestKey memory k = _secpKey(SECP_PK_2);
        DeviceId id = _register(k);
        _attest(k, MEASUREMENT_V1, 1);
        _expectNotInsurable(_target(id), 4);
        _buyDevice(id, 1e18, 30 days);
    }

    /// @notice Reason 5: an address the factory did not create, or a target with high bits set, is no feed.
    function test_buyCoverage_RevertWhen_NotAFeed() public {
        bytes32 notFeed = _target(address(usd));
        _expectNotInsurable(notFeed, 5);
        _buy(pool, IInsurancePool.TargetKind.Feed, notFeed, 1e18, 30 days);
        bytes32 dirty = feedTarget | bytes32(uint256(1) << 200);
        _expectNotInsurable(dirty, 5);
        _buy(pool, IInsurancePool.TargetKind.Feed, dirty, 1e18, 30 days);
    }

    /// @notice Reason 6: a feed without a quorum of fresh readings is not insurable.
    function test_buyCoverage_RevertWhen_FeedDown() public {
        vm.warp(block.timestamp + 2 hours);
        _expectNotInsurable(feedTarget, 6);
        _buyFeed(1e18, 30 days);
    }

    /// @notice The device's operator cannot be the beneficiary.
    function test_buyCoverage_RevertWhen_OperatorBeneficiary() public {
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceOperatorBeneficiary.selector, operator));
        vm.prank(buyer);
        pool.buyCoverage(IInsurancePool.TargetKind.Device, deviceTarget, 1e18, 30 days, operator, 1e30);
    }

    /// @notice No current member's operator can be the beneficiary of feed coverage.
    function test_buyCoverage_Feed_RevertWhen_MemberOperatorBeneficiary() public {
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceOperatorBeneficiary.selector, operator));
        vm.prank(buyer);
        pool.buyCoverage(IInsurancePool.TargetKind.Feed, feedTarget, 1e18, 30 days, operator, 1e30);
    }

    /// @notice Coverage on a device stops at its allocation to the pool times the cover factor, across policies.
    function test_buyCoverage_RevertWhen_CapacityExceeded() public {
        uint256 capacity = (DEVICE_ALLOCATION * COVER_FACTOR_BPS) / 10_000;
        _buyDevice(p256Id, capacity - 100e18, 30 days);
        vm.expectRevert(
            abi.encodeWithSelector(
                IInsurancePool.InsuranceCapacityExceeded.selector,
                deviceTarget,
                p256Id,
                capacity + 1,
                capacity
            )
        );
        _buyDevice(p256Id, 100e18 + 1, 30 days);
        _buyDevice(p256Id, 100e18, 30 days);
    }

    /// @notice Locked coverage stops at maxUtilizationBps of the assets.
    function test_buyCoverage_RevertWhen_UtilizationExceeded() public {
        (IPoolUnderTest small, ) = _mockPool();
        uint256 shares = small.balanceOf(insurer);
        vm.prank(insurer);
        small.requestWithdrawal(shares);
        vm.warp(block.timestamp + COOLDOWN);
        vm.prank(insurer);
        small.withdraw(CAPITAL - 100e18, insurer, insurer);
        assertEq(small.totalAssets(), 100e18);
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceUtilizationExceeded.selector, 81e18, 80e18));
        _buy(small, IInsurancePool.TargetKind.Device, deviceTarget, 81e18, 1 days);
        _buy(small, IInsurancePool.TargetKind.Device, deviceTarget, 80e18, 1 days);
        assertEq(small.lockedCapital(), 80e18);
    }

    /// @notice The buyer's cap on the premium guards against a price moved in front of the purchase.
    function test_buyCoverage_RevertWhen_PremiumTooHigh() public {
        uint256 quoted = pool.quote(IInsurancePool.TargetKind.Device, deviceTarget, 100e18, 30 days);
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsurancePremiumTooHigh.selector, quoted, quoted - 1));
        vm.prank(buyer);
        pool.buyCoverage(IInsurancePool.TargetKind.Device, deviceTarget, 100e18, 30 days, insured, quoted - 1);
    }

    /// @notice A premium paid in a fee-on-transfer token is refused (the pool's capital came from a vested
    /// recovery of unallocated stake, the one way such a pool gets assets; its allocation is mocked).
    function test_buyCoverage_RevertWhen_FeeOnTransfer() public {
        FeeOnTransferToken fee = new FeeOnTransferToken(100);
        MockIncidents incidents = new WindowedIncidents();
        IPoolUnderTest feePool = _deployPool(IERC20(address(fee)), IFraudProofs(address(incidents)));
        fee.mint(address(feePool), 10_000e18);
        vm.prank(address(deviceStaking));
        feePool.onStakeSlashed(secpId, bytes32(0), keccak256("i"), 10_000e18);
        vm.warp(block.timestamp + RECOVERY_VESTING + 1 days);
        assertEq(feePool.totalAssets(), 10_000e18);
        vm.mockCall(
            address(deviceStaking),
            abi.encodeCall(IDeviceStaking.allocationOf, (p256Id, address(feePool), deviceTarget)),
            abi.encode(DEVICE_ALLOCATION)
        );
        fee.mint(buyer, 1_000e18);
        vm.prank(buyer);
        fee.approve(address(feePool), 1_000e18);
        uint256 quoted = feePool.quote(IInsurancePool.TargetKind.Device, deviceTarget, 100e18, 365 days);
        vm.expectRevert(
            abi.encodeWithSelector(
                IInsurancePool.InsuranceTransferShortfall.selector,
                quoted,
                quoted - (quoted * 100) / 10_000
            )
        );
        _buy(feePool, IInsurancePool.TargetKind.Device, deviceTarget, 100e18, 365 days);
    }

    /// @notice A token calling back into the pool while the premium is pulled is stopped by the guard.
    function test_buyCoverage_RevertWhen_Reentered() public {
        (ReentrantToken token, IPoolUnderTest p) = _reentrantPool(proofs);
        token.arm(address(p), abi.encodeCall(IERC4626.deposit, (1, buyer)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        _buy(p, IInsurancePool.TargetKind.Device, deviceTarget, 100e18, 30 days);
    }

    /// @notice quote reverts as buyCoverage would.
    function test_quote_RevertWhen_CapacityExceeded() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IInsurancePool.InsuranceCapacityExceeded.selector,
                deviceTarget,
                p256Id,
                201e18,
                200e18
            )
        );
        pool.quote(IInsurancePool.TargetKind.Device, deviceTarget, 201e18, 30 days);
    }

    /// @notice The device report: active stake against value at risk plus the device's exposure in this
    /// pool (its own policies and its feed shares); secure only with a positive margin.
    function test_securityReport_Device() public {
        _buyDevice(p256Id, 100e18, 30 days);
        IInsurancePool.SecurityReport memory r = pool.securityReport(
            IInsurancePool.TargetKind.Device,
            deviceTarget,
            500e18
        );
        assertEq(r.costOfCorruption, STAKE);
        assertEq(r.coverageInForce, 100e18);
        assertEq(r.margin, 400e18);
        assertEq(r.operatorsToControl, 1);
        assertTrue(r.secure);
        _buyFeed(100e18, 30 days);
        r = pool.securityReport(IInsurancePool.TargetKind.Device, deviceTarget, 500e18);
        assertEq(r.coverageInForce, 150e18, "plus its share of the feed policy");
        assertEq(r.margin, 350e18);
        r = pool.securityReport(IInsurancePool.TargetKind.Device, deviceTarget, 850e18);
        assertEq(r.margin, 0);
        assertFalse(r.secure);
        r = pool.securityReport(IInsurancePool.TargetKind.Device, deviceTarget, 2_000e18);
        assertEq(r.margin, -1_150e18);
        assertFalse(r.secure);
    }

    /// @notice The feed report uses the feed's cost of corruption; one operator runs both members, so it alone
    /// controls the median and the feed is not secure whatever the margin.
    function test_securityReport_Feed_OneOperatorIsNotSecure() public {
        _buyFeed(300e18, 30 days);
        IInsurancePool.SecurityReport memory r = pool.securityReport(IInsurancePool.TargetKind.Feed, feedTarget, 1e18);
        assertEq(r.costOfCorruption, 2 * STAKE);
        assertEq(r.coverageInForce, 300e18);
        assertEq(r.margin, int256(2 * STAKE) - 301e18);
        assertEq(r.operatorsToControl, 1);
        assertFalse(r.secure);
    }

    /// @notice With the members run by two operators, both are needed to control the median: secure.
    function test_securityReport_Feed_TwoOperatorsIsSecure() public {
        vm.prank(operator);
        registry.startCustodyTransfer(secpId, newOperator);
        vm.prank(newOperator);
        registry.acceptCustody(secpId);
        IInsurancePool.SecurityReport memory r = pool.securityReport(IInsurancePool.TargetKind.Feed, feedTarget, 1e18);
        assertEq(r.costOfCorruption, 2 * STAKE);
        assertEq(r.operatorsToControl, 2);
        assertTrue(r.secure);
        r = pool.securityReport(IInsurancePool.TargetKind.Feed, feedTarget, 2 * STAKE);
        assertFalse(r.secure, "no margin");
    }

    /// @notice A feed report on something that is no factory feed reverts with reason 5.
    function test_securityReport_RevertWhen_NotAFeed() public {
        _expectNotInsurable(deviceTarget, 5);
        pool.securityReport(IInsurancePool.TargetKind.Feed, deviceTarget, 0);
    }

    function _expectNotInsurable(bytes32 target, uint8 reason) internal {
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceTargetNotInsurable.selector, target, reason));
    }
}

/// @notice Claims on real incidents (FraudProofs over DeviceStaking), release, and the booking of slashes.
contract InsurancePoolClaimTest is InsuranceFixture {
    /// @notice A real equivocation of the covered device pays the beneficiary the full amount, once; the claim
    /// leaves totalAssets as the proof's transaction booked it.
    function test_claim_DeviceIncident_PaysBeneficiary() public {
        _buyDevice(p256Id, 200e18, 30 days);
        vm.warp(block.timestamp + 3 days);
        bytes32 incident = _equivocate(p256, p256Id, 9);
        _assertIncident(incident, p256Id, IFraudProofs.IncidentKind.Equivocation, STAKE);
        uint256 assetsBefore = pool.totalAssets();

        vm.expectEmit(address(pool));
        emit IInsurancePool.ClaimPaid(deviceTarget, 0, incident, p256Id, insured, 200e18);
        vm.prank(stranger);
        uint256 payout = pool.claim(deviceTarget, 0, incident, _noMembers());
        assertEq(payout, 200e18);
        assertEq(usd.balanceOf(insured), 200e18);
        assertEq(pool.policy(deviceTarget, 0).paid, 200e18);
        assertEq(pool.paidFor(deviceTarget, 0, p256Id), 200e18);
        assertEq(pool.targetState(deviceTarget).covered, 0);
        assertEq(pool.targetState(deviceTarget).incidentAt, block.timestamp);
        assertEq(pool.lockedCapital(), 0);
        assertEq(pool.liabilities(), 0, "the paid liability is gone");
        assertEq(pool.totalAssets(), assetsBefore, "a claim leaves totalAssets unchanged");
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsurancePolicyExhausted.selector, deviceTarget, 0));
        pool.claim(deviceTarget, 0, incident, _noMembers());
    }

    /// @notice Each proven member of a 2-member feed (k = 2) pays its share ceil(amount / 2); both together,
    /// a median-controlling set, pay the whole policy; then it is exhausted.
    function test_claim_FeedMembers_PayShareEach() public {
        _buyFeed(300e18, 30 days);
        DeviceId[] memory members = feed.members();
        _waitForCoverage();
        bytes32 first = _equivocate(secp, secpId, 2);
        assertEq(pool.claim(feedTarget, 0, first, members), 150e18);
        assertEq(pool.paidFor(feedTarget, 0, secpId), 150e18);
        assertEq(pool.targetState(_target(secpId)).incidentAt, block.timestamp, "the member is marked");
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsurancePolicyExhausted.selector, feedTarget, 0));
        pool.claim(feedTarget, 0, first, members);
        bytes32 second = _equivocate(p256, p256Id, 2);
        assertEq(pool.claim(feedTarget, 0, second, members), 150e18);
        assertEq(usd.balanceOf(insured), 300e18);
        assertEq(pool.targetState(feedTarget).covered, 0);
        assertEq(pool.lockedCapital(), 0);
    }

    /// @notice One incident pays every policy on the device, each once.
    function test_claim_OneIncidentPaysEachPolicyOnce() public {
        _buyDevice(p256Id, 100e18, 30 days);
        _buyDevice(p256Id, 50e18, 30 days);
        _waitForCoverage();
        bytes32 incident = _equivocate(p256, p256Id, 3);
        assertEq(pool.claim(deviceTarget, 0, incident, _noMembers()), 100e18);
        assertEq(pool.claim(deviceTarget, 1, incident, _noMembers()), 50e18);
        assertEq(usd.balanceOf(insured), 150e18);
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsurancePolicyExhausted.selector, deviceTarget, 1));
        pool.claim(deviceTarget, 1, incident, _noMembers());
    }

    /// @notice An incident of another device does not pay a device policy.
    function test_claim_RevertWhen_OtherDevice() public {
        _buyDevice(p256Id, 100e18, 30 days);
        _waitForCoverage();
        bytes32 incident = _equivocate(secp, secpId, 3);
        vm.expectRevert(
            abi.encodeWithSelector(IInsurancePool.InsuranceIncidentNotCovered.selector, deviceTarget, incident)
        );
        pool.claim(deviceTarget, 0, incident, _noMembers());
    }

    /// @notice An incident of a device that is no member of the feed does not pay the feed's policy.
    function test_claim_RevertWhen_NotFeedMember() public {
        _buyFeed(100e18, 30 days);
        DeviceId[] memory members = feed.members();
        TestKey memory k = _secpKey(SECP_PK_2);
        DeviceId id = _register(k);
        _stake(id, STAKE);
        _waitForCoverage();
        bytes32 incident = _equivocate(k, id, 1);
        vm.expectRevert(
            abi.encodeWithSelector(IInsurancePool.InsuranceIncidentNotCovered.selector, feedTarget, incident)
        );
        pool.claim(feedTarget, 0, incident, members);
    }

    /// @notice An incident after the term does not pay.
    function test_claim_RevertWhen_AfterTerm() public {
        _buyDevice(p256Id, 100e18, 1 days);
        uint40 start = uint40(block.timestamp + WAITING_PERIOD);
        vm.warp(start + 1 days + 1);
        bytes32 incident = _equivocate(p256, p256Id, 3);
        vm.expectRevert(
            abi.encodeWithSelector(
                IInsurancePool.InsuranceIncidentOutsideTerm.selector,
                uint64(block.timestamp),
                start,
                start + 1 days
            )
        );
        pool.claim(deviceTarget, 0, incident, _noMembers());
    }

    /// @notice An incident timed inside the waiting period does not pay (recorded in the mock).
    function test_claim_RevertWhen_BeforeTerm() public {
        (IPoolUnderTest p, MockIncidents incidents) = _mockPool();
        _buy(p, IInsurancePool.TargetKind.Device, deviceTarget, 100e18, 1 days);
        uint40 start = uint40(block.timestamp + WAITING_PERIOD);
        incidents.setIncident(keccak256("early"), p256Id, IFraudProofs.IncidentKind.Equivocation, start - 1, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IInsurancePool.InsuranceIncidentOutsideTerm.selector,
                uint64(start - 1),
                start,
                start + 1 days
            )
        );
        p.claim(deviceTarget, 0, keccak256("early"), _noMembers());
    }

    /// @notice An unknown policy or incident is refused.
    function test_claim_RevertWhen_Unknown() public {
        assertEq(abi.encode(pool.policy(deviceTarget, 0)), abi.encode(_emptyPolicy()), "an unknown policy is all zero");
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceUnknownPolicy.selector, deviceTarget, 0));
        pool.claim(deviceTarget, 0, bytes32(0), _noMembers());
        _buyDevice(p256Id, 100e18, 30 days);
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceUnknownIncident.selector, keccak256("x")));
        pool.claim(deviceTarget, 0, keccak256("x"), _noMembers());
    }

    function _emptyPolicy() internal pure returns (IInsurancePool.Policy memory p) {
        return p;
    }

    /// @notice A beneficiary who became the device's operator (custody transfer) is not paid.
    function test_claim_RevertWhen_BeneficiaryBecameOperator() public {
        _buyDevice(p256Id, 100e18, 30 days);
        vm.prank(operator);
        registry.startCustodyTransfer(p256Id, insured);
        vm.prank(insured);
        registry.acceptCustody(p256Id);
        _waitForCoverage();
        bytes32 incident = _equivocate(p256, p256Id, 3);
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceOperatorBeneficiary.selector, insured));
        pool.claim(deviceTarget, 0, incident, _noMembers());
    }

    /// @notice A released policy cannot claim, even for an incident inside its term.
    function test_claim_RevertWhen_Released() public {
        _buyDevice(p256Id, 100e18, 1 days);
        _waitForCoverage();
        bytes32 incident = _equivocate(p256, p256Id, 3);
        vm.warp(block.timestamp + 1 days + CLAIM_WINDOW + 1);
        pool.release(deviceTarget, 0, _noMembers());
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsurancePolicyReleased.selector, deviceTarget, 0));
        pool.claim(deviceTarget, 0, incident, _noMembers());
    }

    /// @notice An incident pays at most the amount times its kind's rate: a second out-of-bounds (50%) or a
    /// revoked firmware (25%) finds nothing left to pay, an equivocation (100%) tops the policy up to its amount.
    function test_claim_TopsUpAtBetterRateOnly() public {
        (IPoolUnderTest p, MockIncidents incidents) = _mockPool();
        _buy(p, IInsurancePool.TargetKind.Device, deviceTarget, 100e18, 1 days);
        uint64 start = uint64(block.timestamp + WAITING_PERIOD);
        IFraudProofs.IncidentKind[4] memory kinds = [
            IFraudProofs.IncidentKind.OutOfBounds,
            IFraudProofs.IncidentKind.OutOfBounds,
            IFraudProofs.IncidentKind.RevokedFirmware,
            IFraudProofs.IncidentKind.Equivocation
        ];
        for (uint256 i; i < 4; ++i) incidents.setIncident(bytes32(i + 1), p256Id, kinds[i], start, 0);
        assertEq(p.claim(deviceTarget, 0, bytes32(uint256(1)), _noMembers()), 50e18);
        for (uint256 i = 2; i <= 3; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsurancePolicyExhausted.selector, deviceTarget, 0));
            p.claim(deviceTarget, 0, bytes32(i), _noMembers());
        }
        assertEq(p.claim(deviceTarget, 0, bytes32(uint256(4)), _noMembers()), 50e18);
        assertEq(p.policy(deviceTarget, 0).paid, 100e18);
        assertEq(p.lockedCapital(), 0);
    }

    /// @notice A token calling back into the pool while a claim is paid is stopped by the guard.
    function test_claim_RevertWhen_Reentered() public {
        MockIncidents incidents = new WindowedIncidents();
        (ReentrantToken token, IPoolUnderTest p) = _reentrantPool(IFraudProofs(address(incidents)));
        _buy(p, IInsurancePool.TargetKind.Device, deviceTarget, 100e18, 30 days);
        uint64 start = uint64(block.timestamp + WAITING_PERIOD);
        incidents.setIncident(keccak256("i"), p256Id, IFraudProofs.IncidentKind.Equivocation, start, 0);
        token.arm(address(p), abi.encodeCall(IInsurancePool.claim, (deviceTarget, 0, keccak256("i"), _noMembers())));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        p.claim(deviceTarget, 0, keccak256("i"), _noMembers());
    }

    /// @notice After the term and its claim window anyone releases the unpaid rest: the coverage stops being
    /// locked and the device's exposure falls.
    function test_release_UnlocksAfterTerm() public {
        (IPoolUnderTest p, MockIncidents incidents) = _mockPool();
        _buy(p, IInsurancePool.TargetKind.Device, deviceTarget, 100e18, 1 days);
        uint64 start = uint64(block.timestamp + WAITING_PERIOD);
        incidents.setIncident(keccak256("oob"), p256Id, IFraudProofs.IncidentKind.OutOfBounds, start, 0);
        p.claim(deviceTarget, 0, keccak256("oob"), _noMembers());
        vm.warp(start + 1 days + CLAIM_WINDOW + 1);
        vm.expectEmit(address(p));
        emit IInsurancePool.CoverageReleased(deviceTarget, 0, 50e18);
        vm.prank(stranger);
        p.release(deviceTarget, 0, _noMembers());
        assertTrue(p.policy(deviceTarget, 0).released);
        assertEq(p.lockedCapital(), 0);
        assertEq(p.targetState(deviceTarget).covered, 0);
        (uint256 exposure, ) = p.exposureOf(p256Id, deviceTarget);
        assertEq(exposure, 0);
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsurancePolicyReleased.selector, deviceTarget, 0));
        p.release(deviceTarget, 0, _noMembers());
    }

    /// @notice Until the end of the term plus the claim window (inclusive) the policy cannot be released.
    function test_release_RevertWhen_Active() public {
        _buyDevice(p256Id, 100e18, 1 days);
        uint256 releasableAfter = block.timestamp + WAITING_PERIOD + 1 days + CLAIM_WINDOW;
        vm.warp(releasableAfter);
        vm.expectRevert(
            abi.encodeWithSelector(IInsurancePool.InsurancePolicyActive.selector, deviceTarget, 0, releasableAfter)
        );
        pool.release(deviceTarget, 0, _noMembers());
        vm.warp(releasableAfter + 1);
        pool.release(deviceTarget, 0, _noMembers());
    }

    /// @notice After the term, inside the claim window, an incident timed in the term still pays: nobody can
    /// release the policy first.
    function test_claim_AfterTermWithinClaimWindow() public {
        (IPoolUnderTest p, MockIncidents incidents) = _mockPool();
        _buy(p, IInsurancePool.TargetKind.Device, deviceTarget, 100e18, 1 days);
        uint256 end = block.timestamp + WAITING_PERIOD + 1 days;
        incidents.setIncident(keccak256("late"), p256Id, IFraudProofs.IncidentKind.Equivocation, uint64(end), 0);
        vm.warp(end + CLAIM_WINDOW);
        vm.expectRevert(
            abi.encodeWithSelector(IInsurancePool.InsurancePolicyActive.selector, deviceTarget, 0, end + CLAIM_WINDOW)
        );
        vm.prank(stranger);
        p.release(deviceTarget, 0, _noMembers());
        assertEq(p.claim(deviceTarget, 0, keccak256("late"), _noMembers()), 100e18);
    }

    /// @notice An unknown policy cannot be released.
    function test_release_RevertWhen_Unknown() public {
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceUnknownPolicy.selector, deviceTarget, 3));
        pool.release(deviceTarget, 3, _noMembers());
    }

    /// @notice A real slash without coverage: staking pays the pool each allocation net of the bounty (device
    /// and feed scopes, 360 each) and, as loss recipient, the unallocated rest (180); with no exposure all of it
    /// vests, so totalAssets does not move in the proof's transaction and has gained it all after the vesting.
    function test_onStakeSlashed_VestsRealSlashWithoutExposure() public {
        assertEq(deviceStaking.params().lossRecipient, address(pool));
        uint256 netOfBounty = STAKE - (STAKE * BOUNTY_BPS) / 10_000;
        vm.expectEmit(address(pool));
        emit IInsurancePool.LossBooked(p256Id, deviceTarget, _equivocationId(p256Id, 4), 0, 360e18, 360e18);
        _equivocate(p256, p256Id, 4);
        assertEq(usd.balanceOf(address(pool)), CAPITAL + netOfBounty);
        assertEq(usd.balanceOf(beneficiary), STAKE - netOfBounty, "the prover's beneficiary got the bounty");
        assertEq(pool.totalAssets(), CAPITAL);
        assertEq(pool.unearned(), netOfBounty);
        assertEq(pool.liabilities(), 0);
        assertEq(pool.targetState(deviceTarget).incidentAt, block.timestamp);
        vm.warp(block.timestamp + RECOVERY_VESTING + 1 days);
        assertEq(pool.totalAssets(), CAPITAL + netOfBounty);
        assertEq(pool.unearned(), 0);
    }

    /// @notice Only the staking contract reports slashes.
    function test_onStakeSlashed_RevertWhen_NotStaking() public {
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceNotStaking.selector, stranger));
        vm.prank(stranger);
        pool.onStakeSlashed(p256Id, deviceTarget, bytes32(0), 0);
    }

    /// @notice The staking loss recipient is the pool, as the applied staking parameters say.
    function test_staking_LossRecipientIsPool() public view {
        IDeviceStaking.Params memory p = deviceStaking.params();
        assertEq(p.lossRecipient, address(pool));
        assertTrue(deviceStaking.isBacker(address(pool)));
    }

    /// @dev The incident id `_equivocate(k, id, sequence)` records now.
    function _equivocationId(DeviceId id, uint64 sequence) internal view returns (bytes32) {
        return
            _pairId(
                IFraudProofs.IncidentKind.Equivocation,
                _feedReading(id, sequence, 1e8),
                _feedReading(id, sequence, 2e8)
            );
    }
}

/// @notice Gas of deposit, buyCoverage (first policy on a target) and claim, printed for the report, with
/// the whole-transaction estimate (21,000 + calldata + execution) asserted against the issue's targets.
/// Execution is measured around the call from this contract with the pool's address warmed first, as a
/// transaction's `to` is (its access is part of the 21,000); the storage it touches stays cold.
contract InsurancePoolGasTest is InsuranceFixture {
    address internal insurer2 = makeAddr("insurer2");
    bytes32 internal incident;

    /// @dev Everything but the measured call happens here, so the measured call meets cold storage.
    function setUp() public override {
        super.setUp();
        usd.mint(insurer2, 1_000e18);
        vm.prank(insurer2);
        usd.approve(address(pool), 1_000e18);
        _buyDevice(p256Id, 100e18, 30 days);
        _waitForCoverage();
        incident = _equivocate(p256, p256Id, 5);
    }

    /// @notice A new insurer's deposit into a funded pool (a new share balance slot).
    function test_gas_Deposit() public {
        bytes memory data = abi.encodeCall(IERC4626.deposit, (1_000e18, insurer2));
        _report("deposit", _measure(insurer2, data), data, 110_000);
        assertEq(pool.balanceOf(insurer2), pool.convertToShares(1_000e18));
    }

    /// @notice The first policy on a device (new target state and policy slots, and the premium stream's day
    /// bucket). The target was 150,000 before premiums streamed and coverage was sold against allocations:
    /// the bucket is a fourth new slot (22,100) and the allocation a cross-contract read, so 190,000 now.
    function test_gas_BuyCoverageFirstOnTarget() public {
        bytes memory data = abi.encodeCall(
            IInsurancePool.buyCoverage,
            (IInsurancePool.TargetKind.Device, _target(secpId), 100e18, 30 days, insured, 1e30)
        );
        _report("buyCoverage, first policy on a device", _measure(buyer, data), data, 190_000);
        assertEq(pool.targetState(_target(secpId)).covered, 100e18);
    }

    /// @notice A claim on a real recorded incident, paying a beneficiary who held none of the asset.
    function test_gas_Claim() public {
        bytes memory data = abi.encodeCall(IInsurancePool.claim, (_target(p256Id), 0, incident, _noMembers()));
        _report("claim (device, beneficiary with no prior balance)", _measure(stranger, data), data, 120_000);
        assertEq(usd.balanceOf(insured), 100e18);
    }

    /// @dev Gas used by one call of the pool with `data` from `caller`. Everything the test contract reads is
    /// read before the window, and the pool's address is warmed (BALANCE), as a transaction's `to` is (its
    /// access is part of the 21,000); the storage the call touches stays cold.
    function _measure(address caller, bytes memory data) internal returns (uint256 used) {
        address target = address(pool);
        assertGe(target.balance, 0);
        vm.prank(caller);
        uint256 before = gasleft();
        // A raw call of the prepared calldata: nothing but the pool's own work falls inside the window.
        // solhint-disable-next-line avoid-low-level-calls
        (bool ok, ) = target.call(data);
        used = before - gasleft();
        assertTrue(ok, "the measured call succeeded");
    }

    function _report(string memory label, uint256 execution, bytes memory data, uint256 target) internal pure {
        uint256 calldataGas;
        for (uint256 i; i < data.length; ++i) calldataGas += data[i] == 0 ? 4 : 16;
        uint256 total = 21_000 + calldataGas + execution;
        // solhint-disable-next-line no-console
        console.log(
            string.concat("gas: ", label, " (execution, calldata, transaction)"),
            execution,
            calldataGas,
            total
        );
        assertLe(total, target, "transaction gas target");
    }
}
