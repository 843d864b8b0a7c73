// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

// solhint-disable-next-line no-console
import {console} from "forge-std/console.sol";
import {DeviceFeed} from "../contracts/feeds/DeviceFeed.sol";
import {IDeviceFeed} from "../contracts/interfaces/IDeviceFeed.sol";
import {IDeviceStaking} from "../contracts/interfaces/IDeviceStaking.sol";
import {IFraudProofs} from "../contracts/interfaces/IFraudProofs.sol";
import {IInsurancePool} from "../contracts/interfaces/IInsurancePool.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {EconomicsFixture} from "./utils/EconomicsFixture.sol";

/// @notice "Corruption never pays", tried as an attacker would on the real contracts: every scenario keeps
/// the attacker's whole wealth (tokens of all its addresses, bounties it collects as the prover, payouts to
/// its second addresses, premiums it paid, stake it lost) and asserts that its net result is negative.
contract EconomicsAttacksTest is EconomicsFixture {
    /// @dev The members of a feed policy, as its CoverageMembers event gave them.
    DeviceId[] internal _snapshot;

    // ================================================================ a. self-insurance

    /// @notice The operator insures its own device through a second address for the whole capacity, makes it
    /// equivocate, proves it itself and claims: stake lost > bounty + payout - premium.
    function test_selfInsurance_AttackerLoses() public {
        int256 before = _attackerWealth();
        _allocate(evil, poolA, _target(evil), STAKE);
        uint256 capacity = (uint256(STAKE) * COVER_FACTOR_BPS) / BPS;

        // The operator itself cannot be the beneficiary, and nobody buys a wei beyond the capacity.
        vm.prank(attacker);
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceOperatorBeneficiary.selector, attacker));
        poolA.buyCoverage(IInsurancePool.TargetKind.Device, _target(evil), 1, TERM, attacker, type(uint256).max);
        (uint32 serial, uint256 premium) = _buyDevice(poolA, attackerAlt, evil, capacity);
        vm.expectRevert(
            abi.encodeWithSelector(
                IInsurancePool.InsuranceCapacityExceeded.selector,
                _target(evil),
                evil,
                capacity + 1,
                capacity
            )
        );
        _buyDevice(poolA, attackerAlt, evil, 1);

        vm.warp(block.timestamp + WAITING_PERIOD);
        bytes32 incident = _equivocate(evilP256, evil, attackerProver);
        uint256 payout = _claimDevice(poolA, evil, serial, incident);

        uint256 bounty = (uint256(STAKE) * BOUNTY_BPS) / BPS;
        assertEq(payout, capacity, "the whole capacity paid");
        assertEq(usd.balanceOf(attackerProver), bounty, "the attacker collected the bounty");
        int256 net = _attackerWealth() - before;
        assertEq(net, int256(payout + bounty) - int256(uint256(STAKE)) - int256(premium), "net = paid - lost");
        assertLt(net, 0, "self-insurance loses");
        _report("a. self-insurance", net);
    }

    /// @notice Whatever the stake, the allocated part, the amount bought and the device's curve, the attacker
    /// who insures its own device, lies, proves and claims ends poorer.
    function testFuzz_selfInsurance_AttackerLoses(
        uint96 stakeSeed,
        uint256 allocSeed,
        uint256 amountSeed,
        bool p256
    ) public {
        DeviceId id = p256 ? evil : evil2;
        uint256 extra = bound(stakeSeed, 0, 100_000e18);
        if (extra != 0) _stake(id, attacker, extra);
        uint256 active = STAKE + extra;
        uint256 allocation = bound(allocSeed, 2, active);
        _allocate(id, poolA, _target(id), allocation);
        uint256 capacity = (allocation * COVER_FACTOR_BPS) / BPS;
        uint256 amount = bound(amountSeed, 1, capacity);
        int256 before = _attackerWealth();
        (uint32 serial, ) = _buyDevice(poolA, attackerAlt, id, amount);
        vm.warp(block.timestamp + WAITING_PERIOD + 1);
        bytes32 incident = _equivocate(p256 ? evilP256 : evilSecp, id, attackerProver);
        _claimDevice(poolA, id, serial, incident);
        assertLt(_attackerWealth() - before, 0, "self-insurance loses");
    }

    // ================================================================ b. feed of other people's devices

    /// @notice The attacker creates a feed and lists the honest operator's devices: without their join they
    /// are never members, never count in its cost of corruption, and the feed sells no more than the
    /// attacker's own capacity.
    function test_feedOfOthers_InvitedDevicesNeverCountWithoutJoin() public {
        DeviceFeed feed = _createFeed(attacker);
        vm.startPrank(attacker);
        feed.addMember(evil);
        feed.addMember(good);
        feed.addMember(good2);
        vm.stopPrank();
        DeviceId[] memory members = feed.members();
        assertEq(members.length, 1, "only the attacker's own device joined");
        assertEq(DeviceId.unwrap(members[0]), DeviceId.unwrap(evil));
        assertEq(feed.costOfCorruption(), STAKE, "the victims' stake does not count");
        (, uint256 operators) = feed.corruption();
        assertEq(operators, 1, "one operator controls it");

        // A victim's reading does not count in the attacker's feed.
        IDeviceFeed.SignedReading memory r = _feedReading(feed, honestP256, good, 1, 20e8);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeviceFeed.DeviceFeedRejected.selector,
                good,
                uint64(1),
                IDeviceFeed.Rejection.NotMember
            )
        );
        feed.submit(r.reading, r.key, r.signature);

        _submit(feed, evilP256, evil, 1, 20e8);
        _allocate(evil, poolA, _target(address(feed)), STAKE);
        uint256 capacity = (uint256(STAKE) * COVER_FACTOR_BPS) / BPS;
        // One member: k = 1, its share is the whole amount, bounded by its own capacity.
        vm.expectRevert(
            abi.encodeWithSelector(
                IInsurancePool.InsuranceCapacityExceeded.selector,
                _target(address(feed)),
                evil,
                capacity + 1,
                capacity
            )
        );
        _buyFeed(poolA, attackerAlt, feed, capacity + 1);
        IInsurancePool.SecurityReport memory report = poolA.securityReport(
            IInsurancePool.TargetKind.Feed,
            _target(address(feed)),
            0
        );
        assertFalse(report.secure, "a feed one operator controls is never called secure");
    }

    /// @notice A victim that joins but allocates nothing to the feed blocks every sale on it.
    function test_feedOfOthers_RevertWhen_JoinedVictimHasNoAllocation() public {
        DeviceFeed feed = _createFeed(attacker);
        vm.startPrank(attacker);
        feed.addMember(evil);
        feed.addMember(good);
        vm.stopPrank();
        vm.prank(honest);
        feed.join(good);
        _submit(feed, evilP256, evil, 1, 20e8);
        _allocate(evil, poolA, _target(address(feed)), STAKE);
        // n = 2, k = 2: a share of 1 (ceil(1 / 2)) already passes the victim's zero capacity.
        vm.expectRevert(
            abi.encodeWithSelector(
                IInsurancePool.InsuranceCapacityExceeded.selector,
                _target(address(feed)),
                good,
                1,
                0
            )
        );
        _buyFeed(poolA, attackerAlt, feed, 1);
    }

    /// @notice With victims that joined and allocated, the attacker buys the feed's whole capacity from a
    /// second address and its single member lies: the feed pays only that member's share, and the attacker
    /// loses.
    function test_feedOfOthers_AttackerLoses() public {
        int256 before = _attackerWealth();
        DeviceFeed feed = _createFeed(attacker);
        bytes32 target = _target(address(feed));
        vm.startPrank(attacker);
        feed.addMember(evil);
        feed.addMember(good);
        feed.addMember(good2);
        vm.stopPrank();
        vm.startPrank(honest);
        feed.join(good);
        feed.join(good2);
        vm.stopPrank();
        _allocate(good, poolA, target, STAKE);
        _allocate(good2, poolA, target, STAKE);
        _allocate(evil, poolA, target, STAKE);
        _submit(feed, evilP256, evil, 1, 20e8);

        // n = 3, k = 2: each member carries ceil(amount / 2), so the most the feed sells is 2 * capacity.
        uint256 capacity = (uint256(STAKE) * COVER_FACTOR_BPS) / BPS;
        (uint32 serial, uint256 premium) = _buyFeed(poolA, attackerAlt, feed, 2 * capacity);
        vm.expectRevert(
            abi.encodeWithSelector(
                IInsurancePool.InsuranceCapacityExceeded.selector,
                target,
                evil,
                capacity + 1,
                capacity
            )
        );
        _buyFeed(poolA, attackerAlt, feed, 1);

        vm.warp(block.timestamp + WAITING_PERIOD);
        bytes32 incident = _equivocate(evilP256, evil, attackerProver);
        DeviceId[] memory members = new DeviceId[](3);
        (members[0], members[1], members[2]) = (evil, good, good2);
        uint256 payout = poolA.claim(target, serial, incident, members);
        assertEq(payout, capacity, "one member of three pays its share, 1/2 of the policy");
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsurancePolicyExhausted.selector, target, serial));
        poolA.claim(target, serial, incident, members);

        int256 net = _attackerWealth() - before;
        assertEq(net, int256(payout + STAKE / 10) - int256(uint256(STAKE)) - int256(premium), "net = paid - lost");
        assertLt(net, 0, "a feed of other people's devices loses");
        _report("b. feed of other people's devices", net);
    }

    // ================================================================ c. one lie, many policies

    /// @notice One device backs device and feed policies in both pools (six allocations). One lie claims
    /// every policy: the sum paid stays within coverFactor * total allocation, and the attacker loses.
    function test_oneLieManyPolicies_PaysWithinAllocationAndAttackerLoses() public {
        int256 before = _attackerWealth();
        DeviceFeed feed1 = _honestBackedFeed();
        DeviceFeed feed2 = _honestBackedFeed();
        IInsurancePool[2] memory pools = [poolA, poolB];
        // 6 allocations: 250 per pool on the device, 125 per pool on each feed.
        for (uint256 p; p < 2; ++p) {
            _allocate(evil, pools[p], _target(evil), 250e18);
            _allocate(evil, pools[p], _target(address(feed1)), 125e18);
            _allocate(evil, pools[p], _target(address(feed2)), 125e18);
        }
        assertEq(staking.allocatedOf(evil), STAKE, "the whole stake allocated");
        assertEq(staking.allocationsOf(evil).length, 6, "six slices");

        uint256 premiums;
        // Each pool: two device policies (62.5 each: 125 = 250 * 50%) and per feed two policies of 62.5
        // (n = 2, k = 2: the device carries 31.25 of each, 62.5 = 125 * 50%).
        for (uint256 p; p < 2; ++p) {
            for (uint256 i; i < 2; ++i) {
                (, uint256 a) = _buyDevice(pools[p], attackerAlt, evil, 62.5e18);
                (, uint256 b) = _buyFeed(pools[p], attackerAlt, feed1, 62.5e18);
                (, uint256 c) = _buyFeed(pools[p], attackerAlt, feed2, 62.5e18);
                premiums += a + b + c;
            }
        }
        vm.warp(block.timestamp + WAITING_PERIOD);
        bytes32 incident = _equivocate(evilP256, evil, attackerProver);

        uint256 paid;
        for (uint256 p; p < 2; ++p) {
            for (uint32 s; s < 2; ++s) {
                paid += _claimDevice(pools[p], evil, s, incident);
                paid += _claimFeed(pools[p], feed1, s, incident);
                paid += _claimFeed(pools[p], feed2, s, incident);
            }
            (uint256 exposureLeft, ) = pools[p].exposureOf(evil, _target(evil));
            assertEq(exposureLeft, 0, "nothing more to pay on the device");
        }
        uint256 ceiling = (uint256(STAKE) * COVER_FACTOR_BPS) / BPS;
        assertEq(paid, ceiling, "one lie pays exactly coverFactor * total allocation");
        int256 net = _attackerWealth() - before;
        assertEq(net, int256(paid + STAKE / 10) - int256(uint256(STAKE)) - int256(premiums), "net = paid - lost");
        assertLt(net, 0, "one lie paying many policies loses");
        _report("c. one lie, many policies", net);
    }

    /// @notice Feeds whose members are the attacker's device and the honest device, which joined and backs
    /// each pool with 200 of its stake for the feed; the attacker's device has submitted a reading.
    function _honestBackedFeed() internal returns (DeviceFeed feed) {
        feed = _createFeed(attacker);
        vm.startPrank(attacker);
        feed.addMember(evil);
        feed.addMember(good);
        vm.stopPrank();
        vm.prank(honest);
        feed.join(good);
        _allocate(good, poolA, _target(address(feed)), 200e18);
        _allocate(good, poolB, _target(address(feed)), 200e18);
        _submit(feed, evilP256, evil, 1, 20e8);
    }

    // ================================================================ d. exit before the proof

    /// @notice The device requests withdrawal of its unallocated stake, lies just before the unlock and
    /// withdraws at the unlock before anyone proves: allocated stake could not leave, the proof still
    /// slashes it, the policy pays within its capacity, and the attacker loses.
    function test_exitBeforeProof_AllocatedStakeStaysAndAttackerLoses() public {
        int256 before = _attackerWealth();
        uint256 allocation = STAKE / 2;
        _allocate(evil, poolA, _target(evil), allocation);
        uint256 capacity = (allocation * COVER_FACTOR_BPS) / BPS;
        (uint32 serial, uint256 premium) = _buyDevice(poolA, attackerAlt, evil, capacity);

        vm.startPrank(attacker);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceStaking.StakingStakeAllocated.selector, evil, allocation, allocation + 1)
        );
        staking.requestWithdrawal(evil, allocation + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeviceStaking.StakingAllocationInUse.selector,
                evil,
                address(poolA),
                _target(evil),
                allocation - 1,
                allocation
            )
        );
        staking.deallocate(evil, address(poolA), _target(evil), 1);
        staking.requestWithdrawal(evil, STAKE - allocation);
        vm.stopPrank();

        uint64 unlockAt = staking.stakeOf(evil).unlockAt;
        vm.warp(unlockAt - 1);
        (IFraudProofs.SignedReading memory a, IFraudProofs.SignedReading memory b) = _lie(
            evilP256,
            evil,
            keccak256("lie"),
            1,
            uint64(block.timestamp)
        );
        vm.warp(unlockAt);
        vm.prank(attacker);
        staking.withdraw(evil);
        vm.prank(attackerProver);
        bytes32 incident = proofs.proveEquivocation(a, b, attackerProver);
        assertEq(proofs.incident(incident).slashed, allocation, "the allocated stake is slashed");
        uint256 payout = _claimDevice(poolA, evil, serial, incident);
        assertEq(payout, capacity, "pays within the capacity");

        int256 net = _attackerWealth() - before;
        assertEq(net, int256(payout + allocation / 10) - int256(allocation) - int256(premium), "net");
        assertLt(net, 0, "exit before the proof loses");
        _report("d. exit before the proof", net);
    }

    /// @notice A device whose whole stake is pending withdrawal counts in no feed: its readings are refused,
    /// it cannot allocate, a feed it belongs to sells nothing; yet a proof still slashes the pending stake.
    function test_exitBeforeProof_PendingOnlyDeviceIsIneligible() public {
        DeviceFeed feed = _createFeed(attacker);
        vm.startPrank(attacker);
        feed.addMember(evil);
        feed.addMember(evil2);
        staking.requestWithdrawal(evil2, STAKE);
        vm.stopPrank();
        assertEq(staking.activeOf(evil2), 0);
        assertEq(staking.slashableOf(evil2), STAKE);

        IDeviceFeed.SignedReading memory r = _feedReading(feed, evilSecp, evil2, 1, 20e8);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDeviceFeed.DeviceFeedRejected.selector,
                evil2,
                uint64(1),
                IDeviceFeed.Rejection.Unstaked
            )
        );
        feed.submit(r.reading, r.key, r.signature);
        assertEq(feed.costOfCorruption(), STAKE, "pending stake is no cost of corruption");

        vm.prank(attacker);
        vm.expectRevert(abi.encodeWithSelector(IDeviceStaking.StakingStakeAllocated.selector, evil2, 0, 1));
        staking.allocate(evil2, address(poolA), _target(address(feed)), 1);

        _submit(feed, evilP256, evil, 1, 20e8);
        _allocate(evil, poolA, _target(address(feed)), STAKE);
        vm.expectRevert(
            abi.encodeWithSelector(
                IInsurancePool.InsuranceCapacityExceeded.selector,
                _target(address(feed)),
                evil2,
                1,
                0
            )
        );
        _buyFeed(poolA, attackerAlt, feed, 1);

        bytes32 incident = _equivocate(evilSecp, evil2, watcher);
        assertEq(proofs.incident(incident).slashed, STAKE, "pending stake is still slashable");
    }

    // ================================================================ e. evidence in hand

    /// @notice A watcher holding equivocation evidence buys the maximum coverage in the proof's block: the
    /// incident is older than the coverage's start, so nothing pays.
    function test_evidenceInHand_BuyInProofBlockPaysNothing() public {
        _allocate(good, poolA, _target(good), STAKE);
        (IFraudProofs.SignedReading memory a, IFraudProofs.SignedReading memory b) = _lie(
            honestP256,
            good,
            keccak256("lie"),
            1,
            uint64(block.timestamp)
        );
        uint256 before = usd.balanceOf(watcher);
        uint256 capacity = (uint256(STAKE) * COVER_FACTOR_BPS) / BPS;
        (uint32 serial, uint256 premium) = _buyDevice(poolA, watcher, good, capacity);
        vm.prank(watcher);
        bytes32 incident = proofs.proveEquivocation(a, b, watcher);
        IInsurancePool.Policy memory p = poolA.policy(_target(good), serial);
        vm.expectRevert(
            abi.encodeWithSelector(
                IInsurancePool.InsuranceIncidentOutsideTerm.selector,
                uint64(block.timestamp),
                p.start,
                p.end
            )
        );
        _claimDevice(poolA, good, serial, incident);
        // The watcher earns the bounty, as any prover does, and lost its premium: the policy paid nothing.
        assertEq(usd.balanceOf(watcher), before + STAKE / 10 - premium, "only the bounty, minus the premium");
        _report("e. evidence in hand (payout - premium)", -int256(premium));
    }

    /// @notice Bought any time after the evidence's timestamp (and proven whenever within the window), the
    /// coverage never pays for that evidence.
    function testFuzz_evidenceInHand_BuyAfterEvidencePaysNothing(uint256 buyDelay, uint256 proveDelay) public {
        uint64 signedAt = uint64(block.timestamp);
        (IFraudProofs.SignedReading memory a, IFraudProofs.SignedReading memory b) = _lie(
            honestSecp,
            good2,
            keccak256("lie"),
            1,
            signedAt
        );
        _allocate(good2, poolA, _target(good2), STAKE);
        buyDelay = bound(buyDelay, 0, WINDOW);
        vm.warp(signedAt + buyDelay);
        (uint32 serial, ) = _buyDevice(poolA, watcher, good2, 100e18);
        proveDelay = bound(proveDelay, 0, signedAt + WINDOW - block.timestamp);
        vm.warp(block.timestamp + proveDelay);
        vm.prank(watcher);
        bytes32 incident = proofs.proveEquivocation(a, b, watcher);
        IInsurancePool.Policy memory p = poolA.policy(_target(good2), serial);
        vm.expectRevert(
            abi.encodeWithSelector(IInsurancePool.InsuranceIncidentOutsideTerm.selector, signedAt, p.start, p.end)
        );
        _claimDevice(poolA, good2, serial, incident);
    }

    // ================================================================ f. insurer exit before the claim

    /// @notice A matured withdrawal request cannot be kept standing: it expires after the withdrawal window.
    function test_insurerExit_RevertWhen_RequestExpired() public {
        uint256 shares = poolA.balanceOf(insurerA) / 2;
        vm.prank(insurerA);
        poolA.requestWithdrawal(shares);
        IInsurancePool.WithdrawalRequest memory r = poolA.withdrawalRequest(insurerA);
        vm.warp(r.expiresAt);
        assertEq(poolA.maxRedeem(insurerA), 0, "nothing redeemable once expired");
        vm.prank(insurerA);
        vm.expectRevert(abi.encodeWithSelector(IInsurancePool.InsuranceRequestExpired.selector, insurerA, r.expiresAt));
        poolA.redeem(shares, insurerA, insurerA);
    }

    /// @notice An insurer with a matured request sees the proof coming. The proof's transaction books the
    /// loss against its recovery, so totalAssets does not drop then or at the claim: exiting between the
    /// proof and the claim is worth exactly what staying is.
    function test_insurerExit_ExitBeforeClaimGainsNothing() public {
        address early = makeAddr("earlyInsurer");
        uint256 shares = _deposit(poolA, early, CAPITAL);
        _allocate(good, poolA, _target(good), STAKE);
        uint256 capacity = (uint256(STAKE) * COVER_FACTOR_BPS) / BPS;
        (uint32 serial, ) = _buyDevice(poolA, watcher, good, capacity);
        vm.prank(early);
        poolA.requestWithdrawal(shares);
        vm.warp(block.timestamp + COOLDOWN);
        assertGt(poolA.maxRedeem(early), 0, "the request matured");

        uint256 assetsBefore = poolA.totalAssets();
        bytes32 incident = _equivocate(honestP256, good, watcher);
        uint256 assetsAfterProof = poolA.totalAssets();
        assertGe(assetsAfterProof, assetsBefore, "the proof's booking never lowers totalAssets");
        (, uint256 reserved) = poolA.exposureOf(good, _target(good));
        assertEq(reserved, capacity, "the whole exposure is a liability");

        uint256 exitValue = poolA.previewRedeem(shares);
        vm.prank(early);
        uint256 got = poolA.redeem(shares, early, early);
        assertEq(got, exitValue, "the exit pays the post-proof price");
        uint256 stayerShares = poolA.balanceOf(insurerA);
        uint256 stayerBefore = poolA.previewRedeem(stayerShares);
        _claimDevice(poolA, good, serial, incident);
        assertEq(poolA.previewRedeem(stayerShares), stayerBefore, "the claim moves no share's value");
        // Per share, the early leaver got what the stayer holds (up to a rounding unit).
        assertApproxEqAbs(got * stayerShares, stayerBefore * shares, stayerShares + shares, "same price per share");
    }

    // ================================================================ g. parameter edges

    /// @notice Bounty first: the highest cover factor the pool accepts is 9_999 - bounty, scheduled bounties
    /// included; then no bounty can be scheduled above 9_999 - the pool's ceiling, even after it lowers.
    function test_parameterEdges_BountyThenCoverFactor() public {
        // A higher bounty scheduled (not yet in force) already bounds the cover factor.
        vm.prank(stakingGovernor);
        staking.scheduleParams(_stakingParams(3_000));
        vm.startPrank(poolGovernor);
        vm.expectRevert(
            abi.encodeWithSelector(IInsurancePool.InsuranceCoverFactorTooHigh.selector, uint256(7_000), uint256(3_000))
        );
        poolA.setParams(_poolParams(7_000));
        poolA.setParams(_poolParams(6_999));
        // Lowering the cover factor keeps the ceiling: the bounty can never rise above 10_000 - 6_999 - 1.
        poolA.setParams(_poolParams(1_000));
        vm.stopPrank();
        assertEq(poolA.coverFactorCeilingBps(), 6_999, "the ceiling never decreases");
        vm.prank(stakingGovernor);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceStaking.StakingBountyTooHigh.selector, uint256(3_001), uint256(6_999))
        );
        staking.scheduleParams(_stakingParams(3_001));
        _assertBelowHundredPercent();
    }

    /// @notice Cover factor first: the pool at 8_999 with a 10% bounty; staking refuses any higher bounty
    /// (in force or scheduled).
    function test_parameterEdges_CoverFactorThenBounty() public {
        vm.prank(poolGovernor);
        vm.expectRevert(
            abi.encodeWithSelector(IInsurancePool.InsuranceCoverFactorTooHigh.selector, uint256(9_000), uint256(1_000))
        );
        poolA.setParams(_poolParams(9_000));
        vm.prank(poolGovernor);
        poolA.setParams(_poolParams(8_999));
        vm.startPrank(stakingGovernor);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceStaking.StakingBountyTooHigh.selector, uint256(1_001), uint256(8_999))
        );
        staking.scheduleParams(_stakingParams(1_001));
        staking.scheduleParams(_stakingParams(1_000));
        vm.stopPrank();
        _assertBelowHundredPercent();
    }

    /// @notice At the edge (cover factor 8_999, bounty 1_000: 99.99%), the self-insurance attack still loses.
    function test_parameterEdges_SelfInsuranceAtEdgeLoses() public {
        vm.prank(poolGovernor);
        poolA.setParams(_poolParams(8_999));
        int256 net = _selfInsure(poolA, 8_999);
        assertLt(net, 0, "loses at the edge");
        _report("g. self-insurance at cover 8_999 + bounty 1_000", net);
    }

    /// @notice For every bounty staking accepts and the highest cover factor the pool then accepts (both
    /// orders of setting them), cover + bounty < 100% and self-insurance loses.
    function testFuzz_parameterEdges_SelfInsuranceLoses(uint256 bountySeed, bool bountyFirst) public {
        uint16 bounty = uint16(bound(bountySeed, 0, 9_998));
        uint16 cover = uint16(9_999 - bounty);
        if (bountyFirst) {
            // Pools start at the lowest cover factor so any bounty can be scheduled, then rise to the edge.
            _deploySystem(bounty, 1);
            vm.prank(poolGovernor);
            poolA.setParams(_poolParams(cover));
        } else {
            // Pools start at the edge, and the bounty is scheduled up to it and applied.
            _deploySystem(0, cover);
            vm.prank(stakingGovernor);
            staking.scheduleParams(_stakingParams(bounty));
            (, uint64 effectiveAt) = staking.pendingParams();
            vm.warp(effectiveAt);
            staking.applyParams();
        }
        _assertBelowHundredPercent();
        _stake(evil, attacker, STAKE);
        _approvePools(attackerAlt);
        _deposit(poolA, insurerA, CAPITAL);
        assertLt(_selfInsure(poolA, cover), 0, "loses at every accepted edge");
    }

    /// @notice Attack (a) against `pool` at cover factor `cover`: allocate the whole stake of `evil`, buy its
    /// capacity from the second address, lie, prove as the attacker, claim. Returns the attacker's net.
    function _selfInsure(IInsurancePool pool, uint256 cover) internal returns (int256 net) {
        int256 before = _attackerWealth();
        uint256 active = staking.activeOf(evil);
        _allocate(evil, pool, _target(evil), active);
        uint256 capacity = (active * cover) / BPS;
        (uint32 serial, ) = _buyDevice(pool, attackerAlt, evil, capacity);
        vm.warp(block.timestamp + WAITING_PERIOD);
        bytes32 incident = _equivocate(evilP256, evil, attackerProver);
        _claimDevice(pool, evil, serial, incident);
        net = _attackerWealth() - before;
    }

    function _stakingParams(uint16 bountyBps) internal view returns (IDeviceStaking.Params memory) {
        return
            IDeviceStaking.Params({
                minStake: MIN_STAKE,
                unbondingPeriod: UNBONDING,
                bountyBps: bountyBps,
                lossRecipient: treasury
            });
    }

    /// @notice Every approved pool's cover factor and ceiling plus the highest bounty in force or scheduled
    /// stays below 100%.
    function _assertBelowHundredPercent() internal view {
        uint256 bounty = staking.params().bountyBps;
        (IDeviceStaking.Params memory pending, uint64 effectiveAt) = staking.pendingParams();
        if (effectiveAt != 0 && pending.bountyBps > bounty) bounty = pending.bountyBps;
        IInsurancePool[2] memory pools = [poolA, poolB];
        for (uint256 i; i < 2; ++i) {
            assertLt(pools[i].params().coverFactorBps + bounty, BPS, "cover + bounty < 100%");
            assertLt(pools[i].coverFactorCeilingBps() + bounty, BPS, "ceiling + bounty < 100%");
        }
    }

    /// @notice Prints a scenario's net result for the report.
    function _report(string memory scenario, int256 net) internal pure {
        // solhint-disable-next-line no-console
        console.log(scenario, net);
    }
}
