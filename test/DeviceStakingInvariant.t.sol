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
import {MockStakeBacker} from "./StakingAllocation.t.sol";

/// @notice Drives staking through honest operator flows (stake, top up, request, withdraw, allocate to and
/// deallocate from two backers over five scopes), backers' live requirements, governance (un)approving
/// backers, slashes by the proofs contract, custody transfers, suspensions and time, plus attempts that
/// must fail (early withdrawals, requests and allocations of allocated stake, deallocations below what a
/// backer requires, an operator reinstating its suspended device), keeping ghost sums of every token flow.
/// @dev Bounded and never reverting: every action picks an existing device and returns early when it does
/// not apply; actions that may legitimately fail run inside try/catch and classify the failure.
contract DeviceStakingHandler is CommonBase, StdUtils {
    DeviceStaking private immutable STAKING;
    MockERC20 private immutable TOKEN;
    DeviceRegistry private immutable REGISTRY;
    address private immutable PROOFS;
    address private immutable GOVERNOR;
    address private immutable GOVERNOR_STAKING;
    address private immutable BENEFICIARY;
    address private immutable POOL;
    uint256 private immutable MIN;
    uint256 private immutable UNBONDING;

    DeviceId[] private _ids;
    address[3] private _operators;
    MockStakeBacker[2] private _backers;

    /// @dev Ghost sums of the stake records and of every token flow.
    uint256 public ghostActive;
    uint256 public ghostPending;
    uint256 public ghostDeposited;
    uint256 public ghostWithdrawn;
    uint256 public ghostSlashed;
    /// @dev What slashes paid out, summed over every recipient (beneficiary, backers, loss recipient).
    uint256 public ghostSlashPaid;
    /// @dev The sum of every successful withdrawal request's amount, each at most the unallocated active
    /// stake measured just before it (a request above that counts as the "allocatedTaken" violation instead).
    uint256 public ghostUnallocatedRequested;
    mapping(DeviceId id => uint256) public ghostUnlockAt;

    /// @dev Violations and surprises, all of which must stay zero: "earlyWithdrawal", "slashAboveSlashable",
    /// "payoutMismatch" (a slash paid out other than what it took), "operatorReinstated",
    /// "unexpectedError" (an action failed for a reason the handler did not expect), "allocatedTaken" (a
    /// request took allocated stake), "overAllocated" (an allocation above the unallocated active stake),
    /// "requiredBreached" (a deallocation below what the backer required), "recoveryMismatch" (a backer
    /// was told a recovery other than the tokens it received).
    mapping(bytes32 kind => uint256) public violations;

    /// @dev How often the interesting paths ran ("slash", "slashWithAllocations", "withdraw",
    /// "blockedEarlyWithdrawal", "blockedReinstate", "allocate", "deallocate", "blockedAllocatedRequest",
    /// "blockedOverAllocation", "blockedInUse", "blockedTooMany", "blockedNotBacker"), to check the
    /// handler's reach when debugging.
    mapping(bytes32 path => uint256) public coverage;

    constructor(
        DeviceStaking staking,
        MockERC20 token,
        DeviceRegistry registry,
        address proofs,
        address governor,
        address stakingGovernance,
        DeviceId[] memory deviceIds,
        address[3] memory operators,
        MockStakeBacker[2] memory backers
    ) {
        STAKING = staking;
        TOKEN = token;
        REGISTRY = registry;
        PROOFS = proofs;
        GOVERNOR = governor;
        GOVERNOR_STAKING = stakingGovernance;
        BENEFICIARY = address(0xBEEF);
        POOL = staking.params().lossRecipient;
        MIN = staking.params().minStake;
        UNBONDING = staking.params().unbondingPeriod;
        _ids = deviceIds;
        _operators = operators;
        _backers = backers;
    }

    function ids() external view returns (DeviceId[] memory) {
        return _ids;
    }

    function _pick(uint256 seed) private view returns (DeviceId) {
        return _ids[bound(seed, 0, _ids.length - 1)];
    }

    /// @dev The first device from `seed` on (cyclically) with pending stake, or with unallocated active
    /// stake, or with allocations; `found` false when none has any (so actions land on devices where they apply).
    function _pickWithPending(uint256 seed) private view returns (DeviceId id, bool found) {
        uint256 start = bound(seed, 0, _ids.length - 1);
        for (uint256 i; i < _ids.length; ++i) {
            id = _ids[(start + i) % _ids.length];
            if (STAKING.stakeOf(id).pending != 0) return (id, true);
        }
    }

    function _pickWithAllocations(uint256 seed) private view returns (DeviceId id, bool found) {
        uint256 start = bound(seed, 0, _ids.length - 1);
        for (uint256 i; i < _ids.length; ++i) {
            id = _ids[(start + i) % _ids.length];
            if (STAKING.stakeOf(id).allocations != 0) return (id, true);
        }
    }

    function _pickWithUnallocated(uint256 seed) private view returns (DeviceId id, bool found) {
        uint256 start = bound(seed, 0, _ids.length - 1);
        for (uint256 i; i < _ids.length; ++i) {
            id = _ids[(start + i) % _ids.length];
            if (STAKING.activeOf(id) > STAKING.allocatedOf(id)) return (id, true);
        }
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

    /// @dev A request from the unallocated active stake that leaves 0 or at least the minimum active.
    function requestWithdrawal(uint256 seed, uint256 amount) external {
        (DeviceId id, bool found) = _pickWithUnallocated(seed);
        if (!found) return;
        uint256 active = STAKING.stakeOf(id).active;
        uint256 unallocated = active - STAKING.allocatedOf(id);
        if (unallocated == 0) return;
        if (unallocated == active && amount % 4 == 0) {
            amount = active; // a full exit, possible only with nothing allocated
        } else {
            uint256 cap = active < MIN ? 0 : active - MIN;
            if (cap > unallocated) cap = unallocated;
            if (cap == 0) return;
            amount = bound(amount, 1, cap);
        }
        vm.prank(REGISTRY.operatorOf(id));
        STAKING.requestWithdrawal(id, amount);
        ghostActive -= amount;
        ghostPending += amount;
        ghostUnallocatedRequested += amount;
        ghostUnlockAt[id] = block.timestamp + UNBONDING;
    }

    /// @dev The attack: a request for more than the unallocated active stake (but not more than active).
    function requestAllocatedStake(uint256 seed, uint256 extra) external {
        DeviceId id = _pick(seed);
        uint256 active = STAKING.stakeOf(id).active;
        uint256 allocated = STAKING.allocatedOf(id);
        if (allocated == 0) return;
        uint256 amount = active - allocated + bound(extra, 1, allocated);
        vm.prank(REGISTRY.operatorOf(id));
        try STAKING.requestWithdrawal(id, amount) {
            ++violations["allocatedTaken"];
            ghostActive -= amount;
            ghostPending += amount;
            ghostUnlockAt[id] = block.timestamp + UNBONDING;
        } catch (bytes memory err) {
            if (bytes4(err) == IDeviceStaking.StakingStakeAllocated.selector) ++coverage["blockedAllocatedRequest"];
            else ++violations["unexpectedError"];
        }
    }

    // ================================================================ allocations

    function _scopeOf(DeviceId id, uint256 seed) private pure returns (bytes32) {
        uint256 k = bound(seed, 0, 4);
        return k == 0 ? DeviceId.unwrap(id) : keccak256(abi.encode("feed", k));
    }

    /// @dev Allocates up to the unallocated active stake to one of 2 backers x 5 scopes (10 keys for 8
    /// places); a full list or an unapproved backer must refuse it for exactly that reason.
    function allocate(uint256 seed, uint256 backerSeed, uint256 scopeSeed, uint256 amount) external {
        (DeviceId id, bool found) = _pickWithUnallocated(seed);
        if (!found) return;
        uint256 unallocated = STAKING.activeOf(id) - STAKING.allocatedOf(id);
        _tryAllocate(
            id,
            address(_backers[bound(backerSeed, 0, 1)]),
            _scopeOf(id, scopeSeed),
            bound(amount, 1, unallocated)
        );
    }

    /// @dev Allocates a small slice to each of the 10 keys in turn (as far as the unallocated stake goes),
    /// so full lists happen.
    function allocateToEveryKey(uint256 seed, uint256 amount) external {
        (DeviceId id, bool found) = _pickWithUnallocated(seed);
        if (!found) return;
        amount = bound(amount, 1, 1e18);
        for (uint256 k; k < 10; ++k) {
            uint256 unallocated = STAKING.activeOf(id) - STAKING.allocatedOf(id);
            if (unallocated == 0) return;
            _tryAllocate(
                id,
                address(_backers[k % 2]),
                _scopeOf(id, k / 2),
                amount < unallocated ? amount : unallocated
            );
        }
    }

    function _tryAllocate(DeviceId id, address backer, bytes32 scope, uint256 amount) private {
        bool isNew = STAKING.allocationOf(id, backer, scope) == 0;
        bool full = STAKING.stakeOf(id).allocations == STAKING.MAX_ALLOCATIONS();
        vm.prank(REGISTRY.operatorOf(id));
        try STAKING.allocate(id, backer, scope, amount) {
            if (!STAKING.isBacker(backer) || (isNew && full)) ++violations["unexpectedError"];
            ++coverage["allocate"];
        } catch (bytes memory err) {
            bytes4 sel = bytes4(err);
            if (sel == IDeviceStaking.StakingNotBacker.selector && !STAKING.isBacker(backer)) {
                ++coverage["blockedNotBacker"];
            } else if (sel == IDeviceStaking.StakingTooManyAllocations.selector && isNew && full) {
                ++coverage["blockedTooMany"];
            } else {
                ++violations["unexpectedError"];
            }
        }
    }

    /// @dev The attack: allocating more than the unallocated active stake (say, pending or allocated stake).
    function overAllocate(uint256 seed, uint256 backerSeed, uint256 scopeSeed, uint256 extra) external {
        DeviceId id = _pick(seed);
        IDeviceStaking.DeviceStake memory s = STAKING.stakeOf(id);
        uint256 unallocated = s.active - STAKING.allocatedOf(id);
        uint256 amount = unallocated + bound(extra, 1, uint256(s.active) + s.pending + 1);
        address backer = address(_backers[bound(backerSeed, 0, 1)]);
        if (!STAKING.isBacker(backer)) return;
        vm.prank(REGISTRY.operatorOf(id));
        try STAKING.allocate(id, backer, _scopeOf(id, scopeSeed), amount) {
            ++violations["overAllocated"];
        } catch (bytes memory err) {
            if (bytes4(err) == IDeviceStaking.StakingStakeAllocated.selector) ++coverage["blockedOverAllocation"];
            else ++violations["unexpectedError"];
        }
    }

    /// @dev Takes back part or all of one allocation; refused exactly when it would leave less than the
    /// backer requires.
    function deallocate(uint256 seed, uint256 index, uint256 amount) external {
        (DeviceId id, bool found) = _pickWithAllocations(seed);
        if (!found) return;
        IDeviceStaking.Allocation[] memory list = STAKING.allocationsOf(id);
        IDeviceStaking.Allocation memory a = list[bound(index, 0, list.length - 1)];
        uint256 required = MockStakeBacker(a.backer).requiredAllocation(id, a.scope);
        // The whole allocation, or just one unit more than the requirement leaves free, one time in three
        // each; any part otherwise.
        if (amount % 3 == 0) amount = a.amount;
        else if (amount % 3 == 1 && required != 0 && required <= a.amount) amount = a.amount - required + 1;
        else amount = bound(amount, 1, a.amount);
        bool inUse = a.amount - amount < required;
        vm.prank(REGISTRY.operatorOf(id));
        try STAKING.deallocate(id, a.backer, a.scope, amount) {
            if (inUse) ++violations["requiredBreached"];
            ++coverage["deallocate"];
        } catch (bytes memory err) {
            if (bytes4(err) == IDeviceStaking.StakingAllocationInUse.selector && inUse) ++coverage["blockedInUse"];
            else ++violations["unexpectedError"];
        }
    }

    /// @dev A backer's live coverage comes to use part (or all, or none) of one allocation.
    function setRequired(uint256 seed, uint256 index, uint256 required) external {
        (DeviceId id, bool found) = _pickWithAllocations(seed);
        if (!found) return;
        IDeviceStaking.Allocation[] memory list = STAKING.allocationsOf(id);
        IDeviceStaking.Allocation memory a = list[bound(index, 0, list.length - 1)];
        MockStakeBacker(a.backer).setRequiredAllocation(id, a.scope, bound(required, 0, a.amount));
    }

    /// @dev Governance stops (or resumes) approving a backer; its allocations stay.
    function governanceTogglesBacker(uint256 backerSeed) external {
        address backer = address(_backers[bound(backerSeed, 0, 1)]);
        bool approve = !STAKING.isBacker(backer);
        vm.prank(GOVERNOR_STAKING);
        STAKING.setBacker(backer, approve);
    }

    /// @dev Called at any time: succeeds only from the unlock time on.
    function withdraw(uint256 seed) external {
        (DeviceId id, bool found) = _pickWithPending(seed);
        if (!found) return;
        // Half the time the operator waits for the unlock first.
        if (seed % 2 == 0 && block.timestamp < ghostUnlockAt[id]) vm.warp(ghostUnlockAt[id]);
        uint256 pending = STAKING.stakeOf(id).pending;
        if (pending == 0) return;
        address op = REGISTRY.operatorOf(id);
        uint256 before = TOKEN.balanceOf(op);
        vm.prank(op);
        try STAKING.withdraw(id) {
            if (block.timestamp < ghostUnlockAt[id]) ++violations["earlyWithdrawal"];
            if (TOKEN.balanceOf(op) != before + pending) ++violations["payoutMismatch"];
            ghostPending -= pending;
            ghostWithdrawn += pending;
            ++coverage["withdraw"];
        } catch (bytes memory err) {
            if (block.timestamp >= ghostUnlockAt[id] || bytes4(err) != IDeviceStaking.StakingStillUnbonding.selector) {
                ++violations["unexpectedError"];
            } else {
                ++coverage["blockedEarlyWithdrawal"];
            }
        }
    }

    // ================================================================ proofs and governance

    /// @dev Every token a slash can send goes to one of these four addresses.
    function _recipientsBalance() private view returns (uint256) {
        return
            TOKEN.balanceOf(BENEFICIARY) +
            TOKEN.balanceOf(POOL) +
            TOKEN.balanceOf(address(_backers[0])) +
            TOKEN.balanceOf(address(_backers[1]));
    }

    function slash(uint256 seed, bytes32 incident) external {
        DeviceId id = _pick(seed);
        IDeviceStaking.DeviceStake memory s = STAKING.stakeOf(id);
        uint256 slashable = uint256(s.active) + s.pending;
        if (slashable == 0) return;
        if (s.allocations != 0) ++coverage["slashWithAllocations"];
        uint256 paidBefore = _recipientsBalance();
        uint256 heldBefore = TOKEN.balanceOf(address(STAKING));
        uint256[2] memory backerBefore;
        uint256[2] memory toldBefore;
        for (uint256 i; i < 2; ++i) {
            backerBefore[i] = TOKEN.balanceOf(address(_backers[i]));
            toldBefore[i] = _backers[i].totalRecovered();
        }
        vm.prank(PROOFS);
        uint256 slashed = STAKING.slash(id, BENEFICIARY, incident);
        if (slashed > slashable) ++violations["slashAboveSlashable"];
        uint256 paid = _recipientsBalance() - paidBefore;
        if (paid != slashed || heldBefore - TOKEN.balanceOf(address(STAKING)) != slashed)
            ++violations["payoutMismatch"];
        for (uint256 i; i < 2; ++i) {
            uint256 received = TOKEN.balanceOf(address(_backers[i])) - backerBefore[i];
            if (_backers[i].totalRecovered() - toldBefore[i] != received) ++violations["recoveryMismatch"];
        }
        if (STAKING.allocatedOf(id) != 0 || STAKING.allocationsOf(id).length != 0) ++violations["unexpectedError"];
        ghostActive -= s.active;
        ghostPending -= s.pending;
        ghostSlashed += slashed;
        ghostSlashPaid += paid;
        ++coverage["slash"];
        if (REGISTRY.statusOf(id) == DeviceStatus.Active) ++violations["unexpectedError"];
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
            ++violations["operatorReinstated"];
        } catch (bytes memory err) {
            if (bytes4(err) == IAccessControl.AccessControlUnauthorizedAccount.selector) ++coverage["blockedReinstate"];
            else ++violations["unexpectedError"];
        }
    }

    /// @dev Up to 10 days; one time in three just past an unbonding period (fuzzed seconds are often
    /// small, and withdrawals need that much time).
    function warp(uint256 seconds_) external {
        uint256 step = bound(seconds_, 0, 10 days);
        if (seconds_ % 3 == 0) step = UNBONDING + (seconds_ % 1 days);
        vm.warp(block.timestamp + step);
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
        MockStakeBacker[2] memory backers;
        for (uint256 i; i < 2; ++i) {
            backers[i] = new MockStakeBacker(IERC20(address(token)), 5_000);
            vm.prank(gov);
            staking.setBacker(address(backers[i]), true);
        }
        handler = new DeviceStakingHandler(staking, token, registry, address(proofs), governor, gov, ids, ops, backers);

        _targetHandler();
    }

    /// @dev Every handler action is a target, each once.
    function _targetHandler() internal {
        bytes4[] memory selectors = new bytes4[](16);
        selectors[0] = DeviceStakingHandler.stake.selector;
        selectors[1] = DeviceStakingHandler.requestWithdrawal.selector;
        selectors[2] = DeviceStakingHandler.withdraw.selector;
        selectors[3] = DeviceStakingHandler.slash.selector;
        selectors[4] = DeviceStakingHandler.governorReinstates.selector;
        selectors[5] = DeviceStakingHandler.transferCustody.selector;
        selectors[6] = DeviceStakingHandler.operatorSuspends.selector;
        selectors[7] = DeviceStakingHandler.operatorTriesReinstate.selector;
        selectors[8] = DeviceStakingHandler.warp.selector;
        selectors[9] = DeviceStakingHandler.requestAllocatedStake.selector;
        selectors[10] = DeviceStakingHandler.allocate.selector;
        selectors[11] = DeviceStakingHandler.overAllocate.selector;
        selectors[12] = DeviceStakingHandler.deallocate.selector;
        selectors[13] = DeviceStakingHandler.setRequired.selector;
        selectors[14] = DeviceStakingHandler.governanceTogglesBacker.selector;
        selectors[15] = DeviceStakingHandler.allocateToEveryKey.selector;
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
        // Pending stake may unlock before a proof lands: only active stake counts.
        assertEq(staking.costOfCorruption(ids), handler.ghostActive(), "cost of corruption");
    }

    /// @notice Every token that came in is still held, was withdrawn, or was paid out by a slash.
    function invariant_tokensAreConserved() public view {
        assertEq(
            handler.ghostDeposited(),
            token.balanceOf(address(staking)) + handler.ghostWithdrawn() + handler.ghostSlashed()
        );
        assertEq(handler.violations("payoutMismatch"), 0, "payout mismatch");
    }

    /// @notice Nothing is withdrawn before its unbonding ends, and withdrawals fail only for that reason.
    function invariant_nothingWithdrawnBeforeUnlock() public view {
        assertEq(handler.violations("earlyWithdrawal"), 0, "early withdrawal");
        assertEq(handler.violations("unexpectedError"), 0, "unexpected error");
    }

    /// @notice A slash never takes more than the device's slashable stake.
    function invariant_slashNeverExceedsSlashable() public view {
        assertEq(handler.violations("slashAboveSlashable"), 0);
    }

    /// @notice A slash pays out exactly what it took (bounty, backers' shares and the rest), and each
    /// backer is told exactly the recovery it received.
    function invariant_slashPaysOutExactlyWhatItTook() public view {
        assertEq(handler.ghostSlashPaid(), handler.ghostSlashed(), "paid vs slashed");
        assertEq(handler.violations("payoutMismatch"), 0, "payout mismatch");
        assertEq(handler.violations("recoveryMismatch"), 0, "recovery mismatch");
    }

    /// @notice No device has more stake allocated than it has active stake.
    function invariant_allocatedNeverExceedsActive() public view {
        DeviceId[] memory ids = handler.ids();
        for (uint256 i; i < ids.length; ++i) {
            assertLe(staking.allocatedOf(ids[i]), staking.activeOf(ids[i]), "allocated > active");
        }
    }

    /// @notice A device's allocation list holds at most MAX_ALLOCATIONS nonzero entries, each matching its
    /// allocationOf, that sum to allocatedOf.
    function invariant_allocationListSumsToAllocated() public view {
        DeviceId[] memory ids = handler.ids();
        for (uint256 i; i < ids.length; ++i) {
            IDeviceStaking.Allocation[] memory list = staking.allocationsOf(ids[i]);
            assertLe(list.length, staking.MAX_ALLOCATIONS(), "too many");
            assertEq(list.length, staking.stakeOf(ids[i]).allocations, "count");
            uint256 sum;
            for (uint256 j; j < list.length; ++j) {
                assertGt(list[j].amount, 0, "empty entry");
                assertEq(staking.allocationOf(ids[i], list[j].backer, list[j].scope), list[j].amount, "entry");
                sum += list[j].amount;
            }
            assertEq(sum, staking.allocatedOf(ids[i]), "sum");
        }
    }

    /// @notice Allocated stake leaves only through a slash: nothing withdrawn exceeds the unallocated stake
    /// ever requested, no request or allocation took allocated stake, no deallocation broke a requirement.
    function invariant_allocatedStakeLeavesOnlyThroughSlash() public view {
        assertLe(handler.ghostWithdrawn(), handler.ghostUnallocatedRequested(), "withdrawn allocated stake");
        assertEq(handler.violations("allocatedTaken"), 0, "request took allocated stake");
        assertEq(handler.violations("overAllocated"), 0, "allocation above unallocated");
        assertEq(handler.violations("requiredBreached"), 0, "deallocated below required");
        assertEq(handler.violations("unexpectedError"), 0, "unexpected error");
    }

    /// @notice A suspended device (slashed or not) is never reinstated by its operator.
    function invariant_operatorCannotReinstate() public view {
        assertEq(handler.violations("operatorReinstated"), 0, "operator reinstated");
        assertEq(handler.violations("unexpectedError"), 0, "unexpected error");
    }
}
