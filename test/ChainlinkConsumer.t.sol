// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {AggregatorV3Interface} from "../contracts/interfaces/AggregatorV3Interface.sol";
import {IDeviceFeed} from "../contracts/interfaces/IDeviceFeed.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {Reading} from "../contracts/types/Messages.sol";
import {ChainlinkConsumer} from "./utils/ChainlinkConsumer.sol";
import {FeedFixture} from "./utils/FeedFixture.sol";
import {ReferenceAggregator} from "./utils/ReferenceAggregator.sol";

/// @notice One test body, written against AggregatorV3Interface's documented semantics and read through an
/// unchanged ChainlinkConsumer, run against every aggregator that derives it: round ids go up by one per
/// round; a past round's data never changes; `updatedAt` is when the answer was committed, so a consumer
/// detects staleness from it; `answeredInRound == roundId`; getRoundData of a round that does not exist and
/// latestRoundData before any round revert (Chainlink: "No data present"). Each derived contract only says
/// how its aggregator's reporters report, halt and are disturbed.
/// @dev Rounds are at least GAP apart, as a heartbeat feed commits a steady answer, and consecutive answers
/// stay within 7% of each other, as a real quantity moves.
abstract contract ChainlinkConsumerSuite is Test {
    int256 internal constant ANSWER = 100e8;
    uint256 internal constant GAP = 10 minutes;
    uint256 internal constant MAX_STALENESS = 1 hours;
    uint256 internal constant MAX_STEPS = 64;

    ChainlinkConsumer internal consumer;

    /// @dev The aggregator under test.
    function _aggregator() internal view virtual returns (AggregatorV3Interface);

    /// @dev The aggregator's reporters report `answer` now; a healthy aggregator commits it as a new round.
    function _report(int256 answer) internal virtual;

    /// @dev The aggregator stops committing rounds, while its reporters may go on reporting.
    function _halt() internal virtual;

    /// @dev What may happen to an aggregator's reporters between rounds: none of it may change a past round.
    function _disturb() internal virtual;

    /// @dev A steady walk: 97..103 (8 decimals), never more than 6% from one round to the next.
    function _answerAt(uint256 k) internal pure returns (int256) {
        return ANSWER + (int256((k * 5) % 7) - 3) * 1e8;
    }

    /// @dev `n` rounds GAP (plus up to 4 minutes) apart; returns the first round's id and each round's time.
    function _reportRounds(uint256 n) internal returns (uint80 first, uint256[] memory times) {
        times = new uint256[](n);
        for (uint256 k; k < n; ++k) {
            vm.warp(block.timestamp + GAP + ((k * 3) % 5) * 1 minutes);
            _report(_answerAt(k));
            times[k] = block.timestamp;
        }
        (uint80 latest, , , , ) = _aggregator().latestRoundData();
        first = latest - uint80(n - 1);
    }

    struct RoundView {
        uint80 roundId;
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
        uint80 answeredInRound;
    }

    function _roundView(uint80 roundId) internal view returns (RoundView memory v) {
        (v.roundId, v.answer, v.startedAt, v.updatedAt, v.answeredInRound) = _aggregator().getRoundData(roundId);
    }

    function _latestView() internal view returns (RoundView memory v) {
        (v.roundId, v.answer, v.startedAt, v.updatedAt, v.answeredInRound) = _aggregator().latestRoundData();
    }

    function _assertSameRounds(uint80 first, RoundView[] memory seen) internal view {
        for (uint256 k; k < seen.length; ++k) {
            RoundView memory now_ = _roundView(first + uint80(k));
            assertEq(now_.roundId, seen[k].roundId, "roundId");
            assertEq(now_.answer, seen[k].answer, "answer");
            assertEq(now_.startedAt, seen[k].startedAt, "startedAt");
            assertEq(now_.updatedAt, seen[k].updatedAt, "updatedAt");
            assertEq(now_.answeredInRound, seen[k].answeredInRound, "answeredInRound");
        }
    }

    /// @notice Before any round, latestRoundData reverts instead of answering zeros, and the consumer sees no
    /// price (and no round 1).
    function test_latestRoundData_RevertWhen_NoRound() public {
        AggregatorV3Interface aggregator = _aggregator();
        vm.expectRevert();
        aggregator.latestRoundData();
        vm.expectRevert();
        consumer.latestPrice();
        (bool ok, ) = consumer.tryLatestPrice();
        assertFalse(ok);
        (ok, , ) = consumer.tryRound(1);
        assertFalse(ok);
    }

    /// @notice Round ids go up by one per round; each round answers itself (answeredInRound == roundId), was
    /// updated when committed and started no later; the consumer reads each one fresh.
    function test_latestRoundData_RoundIdsIncreaseByOne() public {
        uint80 first;
        for (uint256 k; k < 8; ++k) {
            vm.warp(block.timestamp + GAP);
            _report(_answerAt(k));
            RoundView memory v = _latestView();
            if (k == 0) first = v.roundId;
            assertGt(v.roundId, 0, "round ids start above 0");
            assertEq(v.roundId, first + k, "+1 per round");
            assertEq(v.answer, _answerAt(k));
            assertEq(v.updatedAt, block.timestamp, "updatedAt: the commit");
            assertLe(v.startedAt, v.updatedAt);
            assertEq(v.answeredInRound, v.roundId, "not carried over");
            (uint80 roundId, int256 price, uint256 updatedAt) = consumer.latestPrice();
            assertEq(roundId, v.roundId);
            assertEq(price, v.answer);
            assertEq(updatedAt, v.updatedAt);
        }
    }

    /// @notice A past round answers the same forever: as time passes, after whatever happens to the reporters
    /// (for DeviceFeed: a quarantine, a member removed, a member leaving, every reading expired), and after
    /// later rounds.
    function test_getRoundData_PastRoundsNeverChange() public {
        (uint80 first, ) = _reportRounds(6);
        RoundView[] memory seen = new RoundView[](6);
        for (uint256 k; k < 6; ++k) seen[k] = _roundView(first + uint80(k));
        _disturb();
        _assertSameRounds(first, seen);
        _reportRounds(3);
        _assertSameRounds(first, seen);
        vm.warp(block.timestamp + 90 days);
        _assertSameRounds(first, seen);
        assertEq(_latestView().roundId, first + 8);
    }

    /// @notice getRoundData of a round that does not exist reverts (0, the next one, the largest id), and the
    /// consumer handles the revert.
    function test_getRoundData_RevertWhen_NoSuchRound() public {
        (uint80 first, ) = _reportRounds(3);
        uint80 latest = first + 2;
        AggregatorV3Interface aggregator = _aggregator();
        vm.expectRevert();
        aggregator.getRoundData(latest + 1);
        vm.expectRevert();
        aggregator.getRoundData(type(uint80).max);
        vm.expectRevert();
        aggregator.getRoundData(0);
        (bool ok, , ) = consumer.tryRound(latest + 1);
        assertFalse(ok);
        (ok, , ) = consumer.tryRound(latest);
        assertTrue(ok);
    }

    /// @notice When reports stop, the latest round keeps answering and the consumer sees its age only through
    /// updatedAt: fresh at exactly MAX_STALENESS, stale one second later.
    function test_latestPrice_StaleWhen_ReportsStop() public {
        _reportRounds(3);
        RoundView memory last = _latestView();
        vm.warp(last.updatedAt + MAX_STALENESS);
        (, int256 price, ) = consumer.latestPrice();
        assertEq(price, last.answer);
        vm.warp(block.timestamp + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                ChainlinkConsumer.ChainlinkConsumerStale.selector,
                last.roundId,
                last.updatedAt,
                MAX_STALENESS
            )
        );
        consumer.latestPrice();
        (bool ok, ) = consumer.tryLatestPrice();
        assertFalse(ok);
        assertEq(_latestView().roundId, last.roundId, "the aggregator itself does not revert on age");
    }

    /// @notice A halted aggregator (for DeviceFeed: tripped) commits no round however its reporters go on;
    /// latestRoundData keeps answering the last round, whose updatedAt ages until the consumer calls it stale;
    /// history stays readable.
    function test_latestPrice_StaleWhen_Halted() public {
        (uint80 first, uint256[] memory times) = _reportRounds(3);
        RoundView memory last = _latestView();
        _halt();
        for (uint256 k; k < 7; ++k) {
            vm.warp(block.timestamp + GAP);
            _report(_answerAt(k + 3));
            RoundView memory v = _latestView();
            assertEq(v.roundId, last.roundId, "no new round");
            assertEq(v.answer, last.answer);
            assertEq(v.updatedAt, last.updatedAt, "updatedAt ages");
        }
        assertGt(block.timestamp - last.updatedAt, MAX_STALENESS);
        vm.expectRevert(
            abi.encodeWithSelector(
                ChainlinkConsumer.ChainlinkConsumerStale.selector,
                last.roundId,
                last.updatedAt,
                MAX_STALENESS
            )
        );
        consumer.latestPrice();
        (uint80 roundId, int256 answer, ) = consumer.priceAt(times[1], MAX_STEPS);
        assertEq(roundId, first + 1);
        assertEq(answer, _answerAt(1));
    }

    /// @notice The consumer finds the round in force at any past time by walking back through getRoundData,
    /// over many unevenly spaced rounds: at a commit time that round, one second before it the round before,
    /// before the first round none, and no further back than it is allowed to walk.
    function test_priceAt_WalksBackThroughHistory() public {
        uint256 n = 24;
        (uint80 first, uint256[] memory times) = _reportRounds(n);
        for (uint256 k; k < n; ++k) {
            (uint80 roundId, int256 answer, uint256 updatedAt) = consumer.priceAt(times[k], MAX_STEPS);
            assertEq(roundId, first + uint80(k));
            assertEq(answer, _answerAt(k));
            assertEq(updatedAt, times[k]);
            if (k == 0) continue;
            (roundId, answer, updatedAt) = consumer.priceAt(times[k] - 1, MAX_STEPS);
            assertEq(roundId, first + uint80(k - 1), "just before a commit: the round before");
            assertEq(answer, _answerAt(k - 1));
            assertEq(updatedAt, times[k - 1]);
        }
        (uint80 latest, , ) = consumer.priceAt(block.timestamp + 1 days, MAX_STEPS);
        assertEq(latest, first + uint80(n - 1));
        vm.expectRevert(
            abi.encodeWithSelector(
                ChainlinkConsumer.ChainlinkConsumerNoRoundAtOrBefore.selector,
                times[0] - 1,
                MAX_STEPS
            )
        );
        consumer.priceAt(times[0] - 1, MAX_STEPS);
        vm.expectRevert(
            abi.encodeWithSelector(ChainlinkConsumer.ChainlinkConsumerNoRoundAtOrBefore.selector, times[0], n - 2)
        );
        consumer.priceAt(times[0], n - 2);
    }

    /// @notice For any time within the history, the round found is the last one committed at or before it.
    /// @dev Four rounds: each run reports its own history (28 signed readings against DeviceFeed).
    function testFuzz_priceAt_LastRoundAtOrBefore(uint256 offset) public {
        uint256 n = 4;
        (uint80 first, uint256[] memory times) = _reportRounds(n);
        uint256 t = times[0] + bound(offset, 0, times[n - 1] - times[0] + GAP);
        uint256 k = n - 1;
        while (times[k] > t) --k;
        (uint80 roundId, int256 answer, uint256 updatedAt) = consumer.priceAt(t, MAX_STEPS);
        assertEq(roundId, first + uint80(k));
        assertEq(answer, _answerAt(k));
        assertLe(updatedAt, t);
    }

    /// @notice Concrete twin: one second before the third round, the second one is in force.
    function test_priceAt_OneSecondBeforeACommit() public {
        uint256 third = (GAP + 3 minutes) + (GAP + 1 minutes);
        testFuzz_priceAt_LastRoundAtOrBefore(third - 1);
    }

    /// @notice The consumer's `answer > 0` check (a price's) refuses a round at or below zero, from any
    /// aggregator: a DeviceFeed of a temperature answers below zero legitimately, and such a consumer is the
    /// wrong reader for it.
    function test_latestPrice_RevertWhen_AnswerNotPositive() public {
        vm.warp(block.timestamp + GAP);
        _report(-5e8);
        uint80 roundId = _latestView().roundId;
        vm.expectRevert(
            abi.encodeWithSelector(ChainlinkConsumer.ChainlinkConsumerNonPositiveAnswer.selector, roundId, -5e8)
        );
        consumer.latestPrice();
        // Long enough for the last round to be no reference any more, as a reading is for its sensor.
        vm.warp(block.timestamp + 2 hours);
        _report(0);
        vm.expectRevert(
            abi.encodeWithSelector(ChainlinkConsumer.ChainlinkConsumerNonPositiveAnswer.selector, roundId + 1, 0)
        );
        consumer.latestPrice();
        (bool ok, , ) = consumer.tryRound(roundId);
        assertFalse(ok);
    }

    /// @notice The consumer scales by decimals(): 100 with 8 decimals is 100e18.
    function test_latestPriceE18_ScalesByDecimals() public {
        assertEq(_aggregator().decimals(), 8);
        vm.warp(block.timestamp + GAP);
        _report(ANSWER);
        assertEq(consumer.latestPriceE18(), 100e18);
    }
}

/// @notice The suite against a minimal aggregator that stores rounds as Chainlink's do: what passes here is
/// the standard.
contract ChainlinkConsumerReferenceTest is ChainlinkConsumerSuite {
    ReferenceAggregator internal aggregator;
    bool internal halted;

    function setUp() public {
        vm.warp(1_700_000_000);
        aggregator = new ReferenceAggregator(8, "Temperature, Hall 3 (C, 8 decimals)");
        consumer = new ChainlinkConsumer(aggregator, MAX_STALENESS);
    }

    function _aggregator() internal view override returns (AggregatorV3Interface) {
        return aggregator;
    }

    /// @dev A Chainlink network transmits what its nodes observed over the last minute.
    function _report(int256 answer) internal override {
        if (!halted) aggregator.transmit(answer, block.timestamp - 1 minutes);
    }

    /// @dev A halted network transmits nothing.
    function _halt() internal override {
        halted = true;
    }

    function _disturb() internal override {
        vm.warp(block.timestamp + 1 days);
    }
}

/// @notice The same suite against DeviceFeed, through the same consumer.
contract ChainlinkConsumerDeviceFeedTest is ChainlinkConsumerSuite, FeedFixture {
    function setUp() public override {
        super.setUp();
        consumer = new ChainlinkConsumer(feed, MAX_STALENESS);
    }

    function _aggregator() internal view override returns (AggregatorV3Interface) {
        return feed;
    }

    function _counts(DeviceId id) internal view returns (bool) {
        DeviceId[] memory members = feed.members();
        for (uint256 i; i < members.length; ++i) {
            if (DeviceId.unwrap(members[i]) == DeviceId.unwrap(id)) return feed.quarantineOf(id).since == 0;
        }
        return false;
    }

    /// @dev Every member that is not quarantined reports `answer` in one batch, so the median is `answer`; an
    /// armed feed commits it (the suite's rounds are a heartbeat apart), a tripped one takes the readings only.
    function _report(int256 answer) internal override {
        uint256 n;
        for (uint256 i; i < DEVICES; ++i) if (_counts(ids[i])) ++n;
        IDeviceFeed.SignedReading[] memory batch = new IDeviceFeed.SignedReading[](n);
        n = 0;
        for (uint256 i; i < DEVICES; ++i) {
            if (!_counts(ids[i])) continue;
            batch[n] = _signed(_reading(i, feed.sequenceOf(ids[i]) + 1, answer), i);
            ++n;
        }
        uint256 before = feed.latestRound();
        assertEq(feed.submitMany(batch), n, "every reading accepted");
        bool armed = feed.tripReason() == IDeviceFeed.TripReason.None;
        assertEq(feed.latestRound(), armed ? before + 1 : before, "an armed feed commits the report");
    }

    /// @dev Three members repeat their last reading's time (faster than minInterval): three quarantines in a
    /// window trip the feed.
    function _halt() internal override {
        for (uint256 i; i < DEVICES && feed.tripReason() == IDeviceFeed.TripReason.None; ++i) {
            if (!_counts(ids[i])) continue;
            IDeviceFeed.Slot memory s = feed.slotOf(ids[i]);
            Reading memory r = _reading(i, s.sequence + 1, s.value);
            r.timestamp = s.timestamp;
            assertFalse(feed.submit(r, _deviceKey(keys[i]), _signReading(keys[i], r)), "quarantined");
        }
        assertTrue(feed.tripReason() != IDeviceFeed.TripReason.None, "tripped");
    }

    /// @dev A member quarantined (its reading repeated), one removed by the owner, one leaving through its
    /// operator, and every reading expired.
    function _disturb() internal override {
        IDeviceFeed.Slot memory s = feed.slotOf(ids[6]);
        Reading memory r = _reading(6, s.sequence + 1, s.value);
        r.timestamp = s.timestamp;
        assertFalse(feed.submit(r, _deviceKey(keys[6]), _signReading(keys[6], r)));
        vm.prank(feedOwner);
        feed.removeMember(ids[5]);
        vm.prank(operator);
        feed.requestLeave(ids[4]);
        vm.warp(block.timestamp + staking.params().unbondingPeriod);
        feed.completeLeave(ids[4]);
        assertEq(feed.members().length, DEVICES - 2);
        assertEq(feed.quarantinedCount(), 1);
        assertEq(uint8(feed.tripReason()), 0);
        (bool ok, ) = consumer.tryLatestPrice();
        assertFalse(ok, "every reading expired: stale");
    }
}
