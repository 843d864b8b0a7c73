// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceFeed} from "../contracts/feeds/DeviceFeed.sol";
import {IDeviceFeed} from "../contracts/interfaces/IDeviceFeed.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {IDeviceStaking} from "../contracts/interfaces/IDeviceStaking.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {Reading} from "../contracts/types/Messages.sol";
import {FeedFixture} from "./utils/FeedFixture.sol";

/// @notice Fuzz tests of DeviceFeed over every signed and amount input, each with a concrete twin.
contract DeviceFeedFuzzTest is FeedFixture {
    int256 internal constant BASE = 100e8;

    function _try(Reading memory r, uint256 device, bytes memory sig) internal returns (bool ok, bytes memory err) {
        IDeviceRegistry.DeviceKey memory key = _deviceKey(keys[device]);
        try feed.submit(r, key, sig) returns (bool accepted) {
            return (accepted, "");
        } catch (bytes memory e) {
            return (false, e);
        }
    }

    function _rejection(
        uint256 device,
        uint64 sequence,
        IDeviceFeed.Rejection reason
    ) internal view returns (bytes memory) {
        return abi.encodeWithSelector(IDeviceFeed.DeviceFeedRejected.selector, ids[device], sequence, reason);
    }

    /// @notice A value is accepted iff it lies within the physical bounds.
    function testFuzz_submit_ValueAcceptedIffInBounds(int256 value, uint256 device) public {
        device = bound(device, 0, DEVICES - 1);
        value = bound(value, int256(MIN_VALUE) * 2, int256(MAX_VALUE) * 2);
        Reading memory r = _reading(device, 1, value);
        (bool ok, bytes memory err) = _try(r, device, _signReading(keys[device], r));
        if (value >= MIN_VALUE && value <= MAX_VALUE) assertTrue(ok, "in bounds");
        else assertEq(err, _rejection(device, 1, IDeviceFeed.Rejection.OutOfBounds));
    }

    /// @notice Concrete twin: the upper bound is accepted, one above is not.
    function test_submit_ValueAtBounds() public {
        testFuzz_submit_ValueAcceptedIffInBounds(MAX_VALUE, 0);
        testFuzz_submit_ValueAcceptedIffInBounds(int256(MAX_VALUE) + 1, 1);
    }

    /// @notice Any change of any signed field after signing is rejected as an invalid signature.
    function testFuzz_submit_TamperedFieldRejected(uint256 device, uint256 field, uint64 delta) public {
        device = bound(device, 0, DEVICES - 1);
        field = bound(field, 0, 2);
        delta = uint64(bound(delta, 1, 50));
        Reading memory r = _reading(device, 100, BASE);
        bytes memory sig = _signReading(keys[device], r);
        if (field == 0) r.sequence += delta;
        else if (field == 1) r.timestamp -= delta;
        else r.value += int256(uint256(delta));
        (bool ok, bytes memory err) = _try(r, device, sig);
        assertFalse(ok);
        assertEq(err, _rejection(device, r.sequence, IDeviceFeed.Rejection.InvalidSignature));
    }

    /// @notice Concrete twin: a P-256 reading whose value changed by one.
    function test_submit_TamperedValueRejected() public {
        testFuzz_submit_TamperedFieldRejected(0, 2, 1);
    }

    /// @notice Any flipped signature byte makes the reading rejected (never accepted).
    function testFuzz_submit_FlippedSignatureByteRejected(uint256 device, uint256 index, uint8 mask) public {
        device = bound(device, 0, DEVICES - 1);
        Reading memory r = _reading(device, 1, BASE);
        bytes memory sig = _signReading(keys[device], r);
        index = bound(index, 0, sig.length - 1);
        mask = uint8(bound(mask, 1, 255));
        sig[index] = bytes1(uint8(sig[index]) ^ mask);
        (bool ok, bytes memory err) = _try(r, device, sig);
        assertFalse(ok);
        assertEq(err, _rejection(device, 1, IDeviceFeed.Rejection.InvalidSignature));
    }

    /// @notice Concrete twin: the last byte (v for secp256k1) flipped.
    function test_submit_FlippedVRejected() public {
        testFuzz_submit_FlippedSignatureByteRejected(1, 64, 1);
    }

    /// @notice A reading counts iff the device's slashable stake reaches the minimum.
    function testFuzz_submit_AcceptedIffStaked(uint256 stake, uint256 device) public {
        device = bound(device, 0, DEVICES - 1);
        stake = bound(stake, 0, uint256(MIN_STAKE) * 2);
        staking.setSlashable(ids[device], stake);
        Reading memory r = _reading(device, 1, BASE);
        (bool ok, bytes memory err) = _try(r, device, _signReading(keys[device], r));
        if (stake >= MIN_STAKE) assertTrue(ok);
        else assertEq(err, _rejection(device, 1, IDeviceFeed.Rejection.Unstaked));
    }

    /// @notice Concrete twin: one below and exactly the minimum.
    function test_submit_StakeAtMinimum() public {
        testFuzz_submit_AcceptedIffStaked(MIN_STAKE - 1, 0);
        testFuzz_submit_AcceptedIffStaked(MIN_STAKE, 1);
    }

    /// @notice A reading counts iff the device's ACTIVE stake reaches the minimum, however much more is
    /// slashable while pending withdrawal.
    function testFuzz_submit_AcceptedIffActiveStake(uint256 active, uint256 pending, uint256 device) public {
        device = bound(device, 0, DEVICES - 1);
        active = bound(active, 0, uint256(MIN_STAKE) * 2);
        pending = bound(pending, 0, uint256(MIN_STAKE) * 100);
        staking.setSlashable(ids[device], active + pending);
        staking.setActive(ids[device], active);
        Reading memory r = _reading(device, 1, BASE);
        (bool ok, bytes memory err) = _try(r, device, _signReading(keys[device], r));
        if (active >= MIN_STAKE) assertTrue(ok);
        else assertEq(err, _rejection(device, 1, IDeviceFeed.Rejection.Unstaked));
    }

    /// @notice Concrete twin: a large pending withdrawal does not make up for one unit of active stake.
    function test_submit_PendingStakeDoesNotCount() public {
        testFuzz_submit_AcceptedIffActiveStake(MIN_STAKE - 1, uint256(MIN_STAKE) * 50, 0);
        testFuzz_submit_AcceptedIffActiveStake(MIN_STAKE, 0, 1);
    }

    /// @notice A feed is created iff its readings do not outlive the evidence window of staking's proofs.
    function testFuzz_constructor_ReadingAgeWithinEvidenceWindow(uint32 maxReadingAge, uint256 window) public {
        maxReadingAge = uint32(bound(maxReadingAge, 1, type(uint32).max));
        window = bound(window, 0, uint256(type(uint32).max) + 1);
        staking.setEvidenceWindow(window);
        IDeviceFeed.Config memory c = _config();
        c.maxReadingAge = maxReadingAge;
        c.heartbeat = 0;
        c.quarantinePeriod = maxReadingAge;
        if (maxReadingAge > window) {
            vm.expectRevert(
                abi.encodeWithSelector(IDeviceFeed.DeviceFeedReadingOutlivesEvidence.selector, maxReadingAge, window)
            );
        }
        DeviceFeed created = new DeviceFeed(address(registry), IDeviceStaking(address(staking)), c, feedOwner);
        if (maxReadingAge <= window) assertEq(created.config().maxReadingAge, maxReadingAge);
    }

    /// @notice Concrete twin: a window one second short, then exactly the reading age.
    function test_constructor_ReadingAgeAtEvidenceWindow() public {
        testFuzz_constructor_ReadingAgeWithinEvidenceWindow(MAX_READING_AGE, MAX_READING_AGE - 1);
        testFuzz_constructor_ReadingAgeWithinEvidenceWindow(MAX_READING_AGE, MAX_READING_AGE);
    }

    /// @notice A reading is accepted iff it is younger than maxReadingAge and not in the future.
    function testFuzz_submit_TimestampWindow(uint256 age, bool future, uint256 device) public {
        device = bound(device, 0, DEVICES - 1);
        age = bound(age, 0, uint256(MAX_READING_AGE) * 2);
        if (future) age = bound(age, 1, 1 days);
        Reading memory r = _reading(device, 1, BASE);
        r.timestamp = uint64(future ? block.timestamp + age : block.timestamp - age);
        (bool ok, bytes memory err) = _try(r, device, _signReading(keys[device], r));
        if (future) assertEq(err, _rejection(device, 1, IDeviceFeed.Rejection.FutureTimestamp));
        else if (age >= MAX_READING_AGE) assertEq(err, _rejection(device, 1, IDeviceFeed.Rejection.Stale));
        else assertTrue(ok);
    }

    /// @notice Concrete twin: the oldest accepted age, then exactly maxReadingAge.
    function test_submit_TimestampAtMaxAge() public {
        testFuzz_submit_TimestampWindow(MAX_READING_AGE - 1, false, 0);
        testFuzz_submit_TimestampWindow(MAX_READING_AGE, false, 1);
    }

    /// @notice A second reading is accepted iff its sequence is strictly higher.
    function testFuzz_submit_SequenceStrictlyIncreases(uint64 first, uint64 second) public {
        first = uint64(bound(first, 1, type(uint64).max));
        assertTrue(_submit(0, first, BASE));
        vm.warp(block.timestamp + MIN_INTERVAL);
        Reading memory r = _reading(0, second, BASE);
        (bool ok, bytes memory err) = _try(r, 0, _signReading(keys[0], r));
        if (second > first) assertTrue(ok);
        else assertEq(err, _rejection(0, second, IDeviceFeed.Rejection.SequenceNotIncreasing));
    }

    /// @notice Concrete twin: the same sequence twice.
    function test_submit_SameSequenceTwice() public {
        testFuzz_submit_SequenceStrictlyIncreases(3, 3);
    }

    /// @notice A batch of n readings commits one round whose answer is their median, whatever their values.
    function testFuzz_latestRoundData_IsMedian(int256[7] memory values, uint256 n) public {
        n = bound(n, QUORUM, DEVICES);
        int256[] memory sorted = new int256[](n);
        IDeviceFeed.SignedReading[] memory batch = new IDeviceFeed.SignedReading[](n);
        for (uint256 i; i < n; ++i) {
            int256 v = bound(values[i], MIN_VALUE, MAX_VALUE);
            batch[i] = _signed(_reading(i, 1, v), i);
            uint256 j = i;
            while (j > 0 && sorted[j - 1] > v) {
                sorted[j] = sorted[j - 1];
                --j;
            }
            sorted[j] = v;
        }
        assertEq(feed.submitMany(batch), n);
        (uint80 roundId, int256 answer, , , ) = feed.latestRoundData();
        assertEq(roundId, 1);
        assertEq(feed.roundAt(1).readings, n);
        int256 expected = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        assertEq(answer, expected);
        assertGe(answer, sorted[0]);
        assertLe(answer, sorted[n - 1]);
    }

    /// @notice Concrete twin: four readings, the median is the mean of the middle two.
    function test_latestRoundData_MedianOfFour() public {
        int256[7] memory values = [BASE, BASE + 4, BASE - 2, BASE + 1, int256(0), 0, 0];
        testFuzz_latestRoundData_IsMedian(values, 4);
    }

    /// @notice With one operator per device, costOfCorruption is the sum of the cheapest majority, whatever
    /// the stakes.
    function testFuzz_costOfCorruption_CheapestMajority(uint96[7] memory stakes) public {
        _separateOperators();
        uint256[] memory sorted = new uint256[](DEVICES);
        for (uint256 i; i < DEVICES; ++i) {
            staking.setSlashable(ids[i], stakes[i]);
            uint256 j = i;
            while (j > 0 && sorted[j - 1] > stakes[i]) {
                sorted[j] = sorted[j - 1];
                --j;
            }
            sorted[j] = stakes[i];
        }
        uint256 expected = sorted[0] + sorted[1] + sorted[2] + sorted[3];
        assertEq(feed.costOfCorruption(), expected);
    }

    /// @notice Concrete twin: one whale does not protect the feed.
    function test_costOfCorruption_WhaleIgnored() public {
        uint96[7] memory stakes = [uint96(1e28), 1, 2, 3, 4, 5, 6];
        testFuzz_costOfCorruption_CheapestMajority(stakes);
        assertEq(feed.costOfCorruption(), 10);
    }

    /// @notice A jump beyond maxDeviationBps from the device's previous reading quarantines the device (the
    /// feed stays armed); within, it counts.
    function testFuzz_submit_JumpQuarantines(int256 jumpBps) public {
        jumpBps = bound(jumpBps, -5_000, 5_000);
        assertTrue(_submit(0, 1, BASE));
        vm.warp(block.timestamp + MIN_INTERVAL);
        int256 v = BASE + (BASE * jumpBps) / 10_000;
        bool ok = _submit(0, 2, v);
        uint256 absBps = uint256(jumpBps < 0 ? -jumpBps : jumpBps);
        assertEq(ok, absBps <= MAX_DEVIATION_BPS);
        _assertAnomaly(0, ok ? IDeviceFeed.Anomaly.None : IDeviceFeed.Anomaly.Jump);
        assertEq(uint8(feed.tripReason()), 0);
    }

    /// @notice Concrete twin: 10.01% down quarantines.
    function test_submit_JumpJustBeyond() public {
        testFuzz_submit_JumpQuarantines(-1_001);
    }

    // ------------------------------------------------------------------ quarantine, rounds, readmission

    function _assertAnomaly(uint256 device, IDeviceFeed.Anomaly anomaly) internal view {
        assertEq(uint8(feed.quarantineOf(ids[device]).anomaly), uint8(anomaly), "anomaly");
    }

    /// @dev The `k`th device to report in the round tests: the secp256k1 ones first (P-256 signatures cost the
    /// most where the Solidity verifier runs), so a round of n devices holds as few P-256 readings as it can.
    function _device(uint256 k) internal pure returns (uint256) {
        return k < DEVICES / 2 ? 2 * k + 1 : 2 * (k - DEVICES / 2);
    }

    /// @dev Devices _device(0..n-1) report `value` with sequence `sequence` in one batch, now.
    function _reportBatch(uint256 n, uint64 sequence, int256 value) internal returns (uint256) {
        IDeviceFeed.SignedReading[] memory batch = new IDeviceFeed.SignedReading[](n);
        for (uint256 k; k < n; ++k) batch[k] = _signed(_reading(_device(k), sequence, value), _device(k));
        return feed.submitMany(batch);
    }

    /// @notice A reading stamped `gap` seconds after its device's previous one quarantines the device
    /// (TooFrequent) iff that previous reading exists and gap < minInterval; another device's reading is no
    /// previous reading. The block time is past both, so only the readings' own times count.
    function testFuzz_submit_TooFrequentIffGapBelowMinInterval(uint256 gap, bool ownPrevious, uint256 device) public {
        device = bound(device, 0, DEVICES - 2);
        gap = bound(gap, 0, uint256(MIN_INTERVAL) * 3);
        uint256 t0 = block.timestamp;
        // The earlier reading: this device's own, or the next device's.
        uint256 earlier = ownPrevious ? device : device + 1;
        assertTrue(_submit(earlier, 1, BASE));
        vm.warp(t0 + uint256(MIN_INTERVAL) * 3);
        Reading memory r = _reading(device, 2, BASE);
        r.timestamp = uint64(t0 + gap);
        (bool ok, ) = _try(r, device, _signReading(keys[device], r));
        bool tooFrequent = ownPrevious && gap < MIN_INTERVAL;
        assertEq(ok, !tooFrequent, "accepted unless too frequent");
        _assertAnomaly(device, tooFrequent ? IDeviceFeed.Anomaly.TooFrequent : IDeviceFeed.Anomaly.None);
        assertEq(feed.sequenceOf(ids[device]), 2, "the sequence is used either way");
        assertEq(uint8(feed.tripReason()), 0, "one member's anomaly does not trip the feed");
    }

    /// @notice Concrete twin: one second short of minInterval quarantines, exactly minInterval counts, and a
    /// reading at the same second as another device's counts.
    function test_submit_TooFrequentAtMinInterval() public {
        uint256 snapshot = vm.snapshotState();
        testFuzz_submit_TooFrequentIffGapBelowMinInterval(MIN_INTERVAL - 1, true, 0);
        vm.revertToState(snapshot);
        testFuzz_submit_TooFrequentIffGapBelowMinInterval(MIN_INTERVAL, true, 0);
        vm.revertToState(snapshot);
        testFuzz_submit_TooFrequentIffGapBelowMinInterval(0, false, 1);
    }

    /// @notice After round 1 at BASE, a device with no reading of its own reports BASE + delta `age` seconds
    /// later: quarantined (Spread) iff the answer is still fresh (age < maxReadingAge) and |delta| is more
    /// than maxSpreadBps of it; otherwise the reading counts.
    function testFuzz_submit_SpreadIffBeyondMaxSpreadFromFreshAnswer(int256 delta, uint256 age) public {
        delta = bound(delta, -BASE / 2, BASE / 2);
        age = bound(age, 0, uint256(MAX_READING_AGE) * 2);
        _reportBatch(QUORUM, 1, BASE);
        vm.warp(block.timestamp + age);
        uint256 absDelta = uint256(delta < 0 ? -delta : delta);
        bool spread = age < MAX_READING_AGE && absDelta * 10_000 > uint256(BASE) * MAX_SPREAD_BPS;
        assertEq(_submit(DEVICES - 1, 1, BASE + delta), !spread, "counts unless far from the fresh answer");
        _assertAnomaly(DEVICES - 1, spread ? IDeviceFeed.Anomaly.Spread : IDeviceFeed.Anomaly.None);
        assertEq(uint8(feed.tripReason()), 0);
    }

    /// @notice Concrete twin: exactly maxSpreadBps away counts, one unit more quarantines, and once the
    /// answer has expired a far value counts.
    function test_submit_SpreadAtMaxSpread() public {
        int256 edge = (BASE * int256(uint256(MAX_SPREAD_BPS))) / 10_000;
        uint256 snapshot = vm.snapshotState();
        testFuzz_submit_SpreadIffBeyondMaxSpreadFromFreshAnswer(edge, MAX_READING_AGE - 1);
        vm.revertToState(snapshot);
        testFuzz_submit_SpreadIffBeyondMaxSpreadFromFreshAnswer(-edge - 1, 0);
        vm.revertToState(snapshot);
        testFuzz_submit_SpreadIffBeyondMaxSpreadFromFreshAnswer(BASE / 2, MAX_READING_AGE);
    }

    /// @notice After round 1 (a quorum of devices at BASE), `elapsed` seconds later the same devices report
    /// BASE + delta with |delta| at most deviationThresholdBps: a round commits iff the heartbeat has passed,
    /// with the new median, updated now.
    function testFuzz_round_CommitsIffHeartbeatPassed(uint256 elapsed, int256 delta) public {
        elapsed = bound(elapsed, MIN_INTERVAL, uint256(HEARTBEAT) * 2);
        int256 threshold = (BASE * int256(uint256(DEVIATION_THRESHOLD_BPS))) / 10_000;
        delta = bound(delta, -threshold, threshold);
        _reportBatch(QUORUM, 1, BASE);
        assertEq(feed.latestRound(), 1);
        vm.warp(block.timestamp + elapsed);
        assertEq(_reportBatch(QUORUM, 2, BASE + delta), QUORUM);
        bool due = elapsed >= HEARTBEAT;
        assertEq(feed.latestRound(), due ? 2 : 1, "a round iff the heartbeat passed");
        (, int256 answer, , uint256 updatedAt, ) = feed.latestRoundData();
        assertEq(answer, due ? BASE + delta : BASE);
        if (due) assertEq(updatedAt, block.timestamp);
    }

    /// @notice Concrete twin: a second before the heartbeat nothing commits; at the heartbeat, a round of the
    /// same median does.
    function test_round_AtHeartbeat() public {
        uint256 snapshot = vm.snapshotState();
        testFuzz_round_CommitsIffHeartbeatPassed(HEARTBEAT - 1, 0);
        vm.revertToState(snapshot);
        testFuzz_round_CommitsIffHeartbeatPassed(HEARTBEAT, 0);
    }

    /// @notice Round 1 of five devices at BASE; before the heartbeat, `movers` of them report BASE + delta
    /// (|delta| up to 10%, every bound kept): a round commits iff the MEDIAN moved more than
    /// deviationThresholdBps (a majority moved, by more than the threshold), not when one reading did.
    function testFuzz_round_CommitsIffMedianMovedBeyondThreshold(int256 delta, uint256 movers) public {
        uint256 n = 5;
        delta = bound(delta, -BASE / 10, BASE / 10);
        movers = bound(movers, 1, n);
        _reportBatch(n, 1, BASE);
        assertEq(feed.latestRound(), 1);
        vm.warp(block.timestamp + MIN_INTERVAL);
        assertEq(_reportBatch(movers, 2, BASE + delta), movers);
        uint256 absDelta = uint256(delta < 0 ? -delta : delta);
        bool moved = movers > n / 2 && absDelta * 10_000 > uint256(BASE) * DEVIATION_THRESHOLD_BPS;
        assertEq(feed.latestRound(), moved ? 2 : 1, "a round iff the median moved beyond the threshold");
        (, int256 answer, , , ) = feed.latestRoundData();
        assertEq(answer, moved ? BASE + delta : BASE);
        assertEq(uint8(feed.tripReason()), 0);
    }

    /// @notice Concrete twin: a majority exactly at the threshold commits nothing, one unit beyond commits;
    /// two devices (a minority) moving 10% commit nothing.
    function test_round_AtDeviationThreshold() public {
        int256 threshold = (BASE * int256(uint256(DEVIATION_THRESHOLD_BPS))) / 10_000;
        uint256 snapshot = vm.snapshotState();
        testFuzz_round_CommitsIffMedianMovedBeyondThreshold(threshold, 3);
        vm.revertToState(snapshot);
        testFuzz_round_CommitsIffMedianMovedBeyondThreshold(-threshold - 1, 3);
        vm.revertToState(snapshot);
        testFuzz_round_CommitsIffMedianMovedBeyondThreshold(BASE / 10, 2);
    }

    /// @notice A member quarantined at `since` is readmitted by anyone iff quarantinePeriod has passed and it
    /// attested again after `since`; by a guardian iff it attested again, at any time. Otherwise the readmit
    /// reverts with the first reason: cooling off (not for a guardian), then not re-attested.
    function testFuzz_readmit_IffCoolOffPassedAndReattested(uint256 wait, bool reattest, bool byGuardian) public {
        wait = bound(wait, 0, uint256(QUARANTINE_PERIOD) * 2);
        assertTrue(_submit(0, 1, BASE));
        vm.warp(block.timestamp + 1);
        assertFalse(_submit(0, 2, BASE));
        uint256 since = block.timestamp;
        vm.warp(since + wait);
        // Attesting moves the clock one second on (a fresh block challenge).
        if (reattest) _attest(keys[0], MEASUREMENT_V1, 2);
        uint256 until = since + QUARANTINE_PERIOD;
        uint256 attestedAt = registry.trustReport(ids[0], MAX_ATTESTATION_AGE).attestedAt;
        if (block.timestamp < until && !byGuardian) {
            vm.expectRevert(abi.encodeWithSelector(IDeviceFeed.DeviceFeedCoolingOff.selector, ids[0], until));
        } else if (!reattest) {
            vm.expectRevert(
                abi.encodeWithSelector(IDeviceFeed.DeviceFeedNotReattested.selector, ids[0], attestedAt, since)
            );
        }
        vm.prank(byGuardian ? guardian : stranger);
        feed.readmit(ids[0]);
        bool readmitted = reattest && (byGuardian || block.timestamp >= until);
        assertEq(feed.quarantineOf(ids[0]).since, readmitted ? 0 : since);
        assertEq(feed.quarantinedCount(), readmitted ? 0 : 1);
    }

    /// @notice Concrete twin: a second before the cool-off ends anyone is refused; at its end anyone readmits;
    /// a guardian readmits at once, but not without a re-attestation.
    function test_readmit_AtCoolOffEnd() public {
        uint256 snapshot = vm.snapshotState();
        testFuzz_readmit_IffCoolOffPassedAndReattested(QUARANTINE_PERIOD - 2, true, false);
        vm.revertToState(snapshot);
        testFuzz_readmit_IffCoolOffPassedAndReattested(QUARANTINE_PERIOD - 1, true, false);
        vm.revertToState(snapshot);
        testFuzz_readmit_IffCoolOffPassedAndReattested(0, true, true);
        vm.revertToState(snapshot);
        testFuzz_readmit_IffCoolOffPassedAndReattested(QUARANTINE_PERIOD, false, true);
    }

    // ------------------------------------------------------------------ eviction and the member's own checks

    /// @notice A member that makes itself ineligible for a moment (DeviceStaking: requestWithdrawal of its
    /// whole active stake, then stake again, one transaction for its operator) and has its fresh reading
    /// evicted meanwhile still reports no faster than minInterval: a reading less than minInterval after the
    /// evicted one quarantines it (TooFrequent), as IDeviceFeed's "readings faster than minInterval" says.
    /// @dev FAILS against dfbe6d7: `evict` zeroes the slot's timestamp, which `_anomaly` reads as "no previous
    /// reading", so the rate limit (and the Jump check) restart after every self-eviction.
    function testFuzz_submit_TooFrequentAfterOwnEviction(uint256 gap) public {
        gap = bound(gap, 0, MIN_INTERVAL - 1);
        assertTrue(_submit(0, 1, BASE));
        staking.setActive(ids[0], 0);
        feed.evict(ids[0]);
        staking.setActive(ids[0], MIN_STAKE);
        vm.warp(block.timestamp + gap);
        assertFalse(_submit(0, 2, BASE), "faster than minInterval after its own evicted reading");
        _assertAnomaly(0, IDeviceFeed.Anomaly.TooFrequent);
    }

    /// @notice Concrete twin: the same second as the evicted reading.
    function test_submit_TooFrequentAfterOwnEviction() public {
        testFuzz_submit_TooFrequentAfterOwnEviction(0);
    }

    // ------------------------------------------------------------------ the member's slot, one word

    /// @notice An accepted reading is its member's slot field for field (a value of either sign, any sequence,
    /// its own timestamp), also written over an evicted reading (it counts again), and the member's next
    /// reading is judged against exactly it: the same sequence is refused, a value 5% closer to zero a
    /// minInterval later is no jump from it, whatever its sign.
    function testFuzz_submit_SlotIsTheReading(
        int256 value,
        uint64 sequence,
        uint256 age,
        uint256 device,
        bool overEvicted
    ) public {
        device = bound(device, 0, DEVICES - 1);
        value = bound(value, MIN_VALUE, MAX_VALUE);
        sequence = uint64(bound(sequence, 2, type(uint64).max - 1));
        // Young enough that the reading is still fresh (a jump reference) a minInterval later.
        age = bound(age, 0, MAX_READING_AGE - MIN_INTERVAL - 1);
        DeviceId id = ids[device];
        if (overEvicted) {
            assertTrue(_submit(device, 1, BASE));
            staking.setActive(id, 0);
            feed.evict(id);
            staking.setActive(id, MIN_STAKE);
            assertTrue(feed.slotOf(id).excluded);
            // The evicted reading is no jump reference and not too close to the next one any more.
            vm.warp(block.timestamp + MAX_READING_AGE + MIN_INTERVAL);
        }
        Reading memory r = _reading(device, sequence, value);
        r.timestamp = uint64(block.timestamp - age);
        (bool ok, ) = _try(r, device, _signReading(keys[device], r));
        assertTrue(ok, "accepted");
        IDeviceFeed.Slot memory s = feed.slotOf(id);
        assertEq(s.value, value, "value");
        assertEq(s.timestamp, r.timestamp, "timestamp");
        assertEq(s.sequence, sequence, "sequence");
        assertFalse(s.excluded, "counts");
        assertEq(feed.sequenceOf(id), sequence);

        Reading memory same = _reading(device, sequence, value);
        (ok, ) = _try(same, device, _signReading(keys[device], same));
        assertFalse(ok, "the same sequence again");
        vm.warp(block.timestamp + MIN_INTERVAL);
        int256 closer = value - value / 20;
        assertTrue(_submit(device, sequence + 1, closer), "5% toward zero is no jump");
        assertEq(feed.slotOf(id).value, closer);
        assertEq(feed.quarantineOf(id).since, 0);
    }

    /// @notice Concrete twins: a negative value at the highest sequence it can follow, and a positive one over
    /// an evicted reading.
    function test_submit_SlotIsTheReading() public {
        testFuzz_submit_SlotIsTheReading(-123_45678901, type(uint64).max - 1, 7, 0, false);
        testFuzz_submit_SlotIsTheReading(MAX_VALUE, 2, 0, 1, true);
    }
}
