// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdInvariant} from "forge-std/StdInvariant.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {DeviceRegistry} from "../contracts/identity/DeviceRegistry.sol";
import {IDeviceStaking} from "../contracts/interfaces/IDeviceStaking.sol";
import {MockERC20} from "../contracts/mocks/MockERC20.sol";
import {MockProofs} from "../contracts/mocks/MockProofs.sol";
import {DeviceStaking} from "../contracts/staking/DeviceStaking.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {DeviceStatus} from "../contracts/types/DeviceStatus.sol";
import {RegistryFixture, TestKey} from "./utils/RegistryFixture.sol";

/// @notice Drives staking through honest operator flows (stake, top up, request, withdraw), slashes by the
/// proofs contract, custody transfers, suspensions and time, plus attempts that must fail (early
/// withdrawals, an operator reinstating its suspended device), keeping ghost sums of every token flow.
/// @dev Bounded and never reverting: every action picks an existing device and returns early when it does
/// not apply; actions that may legitimately fail run inside try/catch and classify the failure.
contract DeviceStakingHandler is CommonBase, StdUtils {
    DeviceStaking private immutable STAKING;
    MockERC20 private immutable TOKEN;
    DeviceRegistry private immutable REGISTRY;
    address private immutable PROOFS;
    address private immutable GOVERNOR;
    address private immutable BENEFICIARY;
    address private immutable POOL;
    uint256 private immutable MIN;
    uint256 private immutable UNBONDING;

    DeviceId[] private _ids;
    address[3] private _operators;

    /// @dev Ghost sums of the stake records and of every token flow.
    uint256 public ghostActive;
    uint256 public ghostPending;
    uint256 public ghostDeposited;
    uint256 public ghostWithdrawn;
    uint256 public ghostSlashed;
    mapping(DeviceId id => uint256) public ghostUnlockAt;

    /// @dev Violations and surprises: all must stay zero.
    uint256 public ghostEarlyWithdrawals;
    uint256 public ghostSlashAboveSlashable;
    uint256 public ghostPayoutMismatch;
    uint256 public ghostOperatorReinstated;
    uint256 public ghostUnexpectedErrors;

    /// @dev How often the interesting paths ran ("slash", "withdraw", "blockedEarlyWithdrawal",
    /// "blockedReinstate"), to check the handler's reach when debugging.
    mapping(bytes32 path => uint256) public coverage;

    constructor(
        DeviceStaking staking,
        MockERC20 token,
        DeviceRegistry registry,
        address proofs,
        address governor,
        DeviceId[] memory deviceIds,
        address[3] memory operators
    ) {
        STAKING = staking;
        TOKEN = token;
        REGISTRY = registry;
        PROOFS = proofs;
        GOVERNOR = governor;
        BENEFICIARY = address(0xBEEF);
        POOL = staking.params().lossRecipient;
        MIN = staking.params().minStake;
        UNBONDING = staking.params().unbondingPeriod;
        _ids = deviceIds;
        _operators = operators;
    }

    function ids() external view returns (DeviceId[] memory) {
        return _ids;
    }

    function _pick(uint256 seed) private view returns (DeviceId) {
        return _ids[bound(seed, 0, _ids.length - 1)];
    }

    // ================================================================ operators

    function stake(uint256 seed, uint256 amount) external {
        DeviceId id = _pick(seed);
        DeviceStatus status = REGISTRY.statusOf(id);
        if (status == DeviceStatus.Revoked || status == DeviceStatus.Decommissioned) return;
        uint256 active = STAKING.stakeOf(id).active;
        amount = bound(amount, active >= MIN ? 1 : MIN - active, 1e24);
        address op = REGISTRY.operatorOf(id);
        TOKEN.mint(op, amount);
        vm.prank(op);
        TOKEN.approve(address(STAKING), amount);
        vm.prank(op);
        STAKING.stake(id, amount);
        ghostActive += amount;
        ghostDeposited += amount;
    }

    function requestWithdrawal(uint256 seed, uint256 amount) external {
        DeviceId id = _pick(seed);
        uint256 active = STAKING.stakeOf(id).active;
        if (active == 0) return;
        amount = bound(amount, 1, active);
        if (active - amount != 0 && active - amount < MIN) amount = active;
        vm.prank(REGISTRY.operatorOf(id));
        STAKING.requestWithdrawal(id, amount);
        ghostActive -= amount;
        ghostPending += amount;
        ghostUnlockAt[id] = block.timestamp + UNBONDING;
    }

    /// @dev Called at any time: succeeds only from the unlock time on.
    function withdraw(uint256 seed) external {
        DeviceId id = _pick(seed);
        uint256 pending = STAKING.stakeOf(id).pending;
        if (pending == 0) return;
        address op = REGISTRY.operatorOf(id);
        uint256 before = TOKEN.balanceOf(op);
        vm.prank(op);
        try STAKING.withdraw(id) {
            if (block.timestamp < ghostUnlockAt[id]) ++ghostEarlyWithdrawals;
            if (TOKEN.balanceOf(op) != before + pending) ++ghostPayoutMismatch;
            ghostPending -= pending;
            ghostWithdrawn += pending;
            ++coverage["withdraw"];
        } catch (bytes memory err) {
            if (block.timestamp >= ghostUnlockAt[id] || bytes4(err) != IDeviceStaking.StakingStillUnbonding.selector) {
                ++ghostUnexpectedErrors;
            } else {
                ++coverage["blockedEarlyWithdrawal"];
            }
        }
    }

    // ================================================================ proofs and governance

    function slash(uint256 seed, bytes32 incident) external {
        DeviceId id = _pick(seed);
        IDeviceStaking.DeviceStake memory s = STAKING.stakeOf(id);
        uint256 slashable = uint256(s.active) + s.pending;
        if (slashable == 0) return;
        uint256 paidBefore = TOKEN.balanceOf(BENEFICIARY) + TOKEN.balanceOf(POOL);
        vm.prank(PROOFS);
        uint256 slashed = STAKING.slash(id, BENEFICIARY, incident);
        if (slashed > slashable) ++ghostSlashAboveSlashable;
        if (TOKEN.balanceOf(BENEFICIARY) + TOKEN.balanceOf(POOL) != paidBefore + slashed) ++ghostPayoutMismatch;
        ghostActive -= s.active;
        ghostPending -= s.pending;
        ghostSlashed += slashed;
        ++coverage["slash"];
        if (REGISTRY.statusOf(id) == DeviceStatus.Active) ++ghostUnexpectedErrors;
    }

    /// @dev Governance returns a suspended device to service (so slashed devices can stake again).
    function governorReinstates(uint256 seed) external {
        DeviceId id = _pick(seed);
        if (REGISTRY.statusOf(id) != DeviceStatus.Suspended) return;
        vm.prank(GOVERNOR);
        REGISTRY.reinstate(id);
    }

    // ================================================================ registry and time

    function transferCustody(uint256 seed, uint256 toSeed) external {
        DeviceId id = _pick(seed);
        if (REGISTRY.statusOf(id) != DeviceStatus.Active) return;
        address from = REGISTRY.operatorOf(id);
        address to = _operators[bound(toSeed, 0, 2)];
        if (to == from) return;
        vm.prank(from);
        REGISTRY.startCustodyTransfer(id, to);
        vm.prank(to);
        REGISTRY.acceptCustody(id);
    }

    function operatorSuspends(uint256 seed) external {
        DeviceId id = _pick(seed);
        if (REGISTRY.statusOf(id) != DeviceStatus.Active) return;
        vm.prank(REGISTRY.operatorOf(id));
        REGISTRY.suspend(id, "maintenance");
    }

    /// @dev The attack: an operator tries to lift its device's suspension (after a slash or its own).
    function operatorTriesReinstate(uint256 seed) external {
        DeviceId id = _pick(seed);
        if (REGISTRY.statusOf(id) != DeviceStatus.Suspended) return;
        vm.prank(REGISTRY.operatorOf(id));
        try REGISTRY.reinstate(id) {
            ++ghostOperatorReinstated;
        } catch (bytes memory err) {
            if (bytes4(err) == IAccessControl.AccessControlUnauthorizedAccount.selector) ++coverage["blockedReinstate"];
            else ++ghostUnexpectedErrors;
        }
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 0, 10 days));
    }
}

contract DeviceStakingInvariantTest is StdInvariant, RegistryFixture {
    DeviceStaking internal staking;
    MockERC20 internal token;
    DeviceStakingHandler internal handler;

    function setUp() public override {
        super.setUp();
        token = new MockERC20("Collateral", "COL");
        MockProofs proofs = new MockProofs(1 days);
        address gov = makeAddr("stakingGovernance");
        staking = new DeviceStaking(
            registry,
            IERC20(address(token)),
            gov,
            IDeviceStaking.Params({
                minStake: 100e18,
                unbondingPeriod: 7 days,
                bountyBps: 1_500,
                lossRecipient: makeAddr("insurancePool")
            })
        );
        vm.prank(gov);
        staking.setProofs(address(proofs));
        bytes32 role = registry.SUSPENDER_ROLE();
        vm.prank(governor);
        registry.grantRole(role, address(staking));

        address[3] memory ops = [address(uint160(0x0A01)), address(uint160(0x0A02)), address(uint160(0x0A03))];
        DeviceId[] memory ids = new DeviceId[](4);
        for (uint256 i; i < ids.length; ++i) {
            TestKey memory k = _secpKey(0x5EC9_00 + i);
            ids[i] = registry.register(
                _registration(k, ops[i % 3], MODEL, block.timestamp + 1 hours),
                maker,
                _endorsement(k, MODEL)
            );
        }
        handler = new DeviceStakingHandler(staking, token, registry, address(proofs), governor, ids, ops);

        bytes4[] memory selectors = new bytes4[](9);
        selectors[0] = DeviceStakingHandler.stake.selector;
        selectors[1] = DeviceStakingHandler.requestWithdrawal.selector;
        selectors[2] = DeviceStakingHandler.withdraw.selector;
        selectors[3] = DeviceStakingHandler.slash.selector;
        selectors[4] = DeviceStakingHandler.governorReinstates.selector;
        selectors[5] = DeviceStakingHandler.transferCustody.selector;
        selectors[6] = DeviceStakingHandler.operatorSuspends.selector;
        selectors[7] = DeviceStakingHandler.operatorTriesReinstate.selector;
        selectors[8] = DeviceStakingHandler.warp.selector;
        targetContract(address(handler));
        targetSelector(StdInvariant.FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @notice The staking contract holds exactly all active stake plus all pending withdrawals (slashes pay
    /// out at once, so nothing is undistributed), and the records agree with the ghost sums.
    function invariant_balanceEqualsActivePlusPending() public view {
        uint256 balance = token.balanceOf(address(staking));
        assertEq(balance, handler.ghostActive() + handler.ghostPending(), "balance vs ghost");
        DeviceId[] memory ids = handler.ids();
        uint256 active;
        uint256 pending;
        for (uint256 i; i < ids.length; ++i) {
            IDeviceStaking.DeviceStake memory s = staking.stakeOf(ids[i]);
            active += s.active;
            pending += s.pending;
        }
        assertEq(active, handler.ghostActive(), "active");
        assertEq(pending, handler.ghostPending(), "pending");
        assertEq(staking.costOfCorruption(ids), balance, "cost of corruption");
    }

    /// @notice Every token that came in is still held, was withdrawn, or was paid out by a slash.
    function invariant_tokensAreConserved() public view {
        assertEq(
            handler.ghostDeposited(),
            token.balanceOf(address(staking)) + handler.ghostWithdrawn() + handler.ghostSlashed()
        );
        assertEq(handler.ghostPayoutMismatch(), 0, "payout mismatch");
    }

    /// @notice Nothing is withdrawn before its unbonding ends, and withdrawals fail only for that reason.
    function invariant_nothingWithdrawnBeforeUnlock() public view {
        assertEq(handler.ghostEarlyWithdrawals(), 0, "early withdrawal");
        assertEq(handler.ghostUnexpectedErrors(), 0, "unexpected error");
    }

    /// @notice A slash never takes more than the device's slashable stake.
    function invariant_slashNeverExceedsSlashable() public view {
        assertEq(handler.ghostSlashAboveSlashable(), 0);
    }

    /// @notice A suspended device (slashed or not) is never reinstated by its operator.
    function invariant_operatorCannotReinstate() public view {
        assertEq(handler.ghostOperatorReinstated(), 0, "operator reinstated");
        assertEq(handler.ghostUnexpectedErrors(), 0, "unexpected error");
    }
}
