// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

// solhint-disable-next-line no-console
import {console} from "forge-std/console.sol";
import {ReadingAnchor} from "../contracts/feeds/ReadingAnchor.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {DeviceMessageLib} from "../contracts/libraries/DeviceMessageLib.sol";
import {Reading, ReadingBatch} from "../contracts/types/Messages.sol";
import {RegistryFixture, TestKey} from "./utils/RegistryFixture.sol";

/// @notice Unit and fuzz tests of ReadingAnchor: batches of readings signed by both curves, anchored
/// once, and readings proven in them.
contract ReadingAnchorTest is RegistryFixture {
    bytes32 internal constant FEED = keccak256("feed");
    ReadingAnchor internal anchorContract;
    TestKey internal p256;
    TestKey internal secp;
    bytes32 internal domain;

    function setUp() public override {
        super.setUp();
        anchorContract = new ReadingAnchor(address(registry));
        domain = registry.DOMAIN_SEPARATOR();
        p256 = _p256Key(P256_PK);
        secp = _secpKey(SECP_PK);
        _register(p256);
        _register(secp);
        vm.warp(block.timestamp + 1 days);
    }

    function _readings(TestKey memory k, uint256 n) internal view returns (Reading[] memory rs) {
        return _readingsAt(k, n, 10);
    }

    function _readingsAt(TestKey memory k, uint256 n, uint64 first) internal view returns (Reading[] memory rs) {
        rs = new Reading[](n);
        for (uint256 i; i < n; ++i) {
            rs[i] = Reading({
                deviceId: _id(k),
                feedId: FEED,
                sequence: uint64(first + i),
                timestamp: uint64(block.timestamp - n + i),
                value: int256(i) * 7 - 3
            });
        }
    }

    function _leavesOf(Reading[] memory rs) internal pure returns (bytes32[] memory leaves) {
        leaves = new bytes32[](rs.length);
        for (uint256 i; i < rs.length; ++i) leaves[i] = DeviceMessageLib.hashReading(rs[i]);
    }

    function _batch(TestKey memory k, Reading[] memory rs) internal pure returns (ReadingBatch memory) {
        return
            ReadingBatch({
                deviceId: _id(k),
                feedId: FEED,
                firstSequence: rs[0].sequence,
                lastSequence: rs[rs.length - 1].sequence,
                count: uint64(rs.length),
                fromTimestamp: rs[0].timestamp,
                toTimestamp: rs[rs.length - 1].timestamp,
                root: _merkleRoot(_leavesOf(rs))
            });
    }

    function _signBatch(TestKey memory k, ReadingBatch memory b) internal view returns (bytes memory) {
        return _sign(k, _typedDigest(domain, DeviceMessageLib.hashReadingBatch(b)));
    }

    function _anchor(TestKey memory k, ReadingBatch memory b) internal {
        anchorContract.anchor(b, _deviceKey(k), _signBatch(k, b));
    }

    function _link(bytes24 head, bytes32 batchHash) internal pure returns (bytes24) {
        return bytes24(keccak256(abi.encode(head, batchHash)));
    }

    function _none() internal pure returns (bytes32[] memory) {
        return new bytes32[](0);
    }

    function test_anchor_BothCurvesAndVerifyEveryReading() public {
        TestKey[2] memory ks = [p256, secp];
        for (uint256 c; c < 2; ++c) {
            Reading[] memory rs = _readings(ks[c], 9);
            ReadingBatch memory b = _batch(ks[c], rs);
            bytes32 batchHash = DeviceMessageLib.hashReadingBatch(b);
            bytes24 head = _link(bytes24(0), batchHash);
            vm.expectEmit(address(anchorContract));
            emit ReadingAnchor.BatchAnchored(b.deviceId, FEED, batchHash, head);
            _anchor(ks[c], b);
            ReadingAnchor.Cursor memory cursor = anchorContract.cursorOf(b.deviceId, FEED);
            assertEq(cursor.head, head);
            assertEq(cursor.lastSequence, 18);
            assertTrue(anchorContract.isAnchored(b, bytes24(0), _none()));
            bytes32[] memory leaves = _leavesOf(rs);
            for (uint256 i; i < rs.length; ++i) {
                assertTrue(anchorContract.verifyReading(rs[i], _merkleProof(leaves, i), b, bytes24(0), _none()));
            }
        }
    }

    /// @notice A chain of three batches: the first is proven through the later batch hashes, or through a
    /// checkpoint; a wrong predecessor or a missing later hash proves nothing.
    function test_verifyReading_ThroughLaterBatchesAndCheckpoint() public {
        Reading[] memory r1 = _readingsAt(p256, 4, 1);
        Reading[] memory r2 = _readingsAt(p256, 4, 5);
        Reading[] memory r3 = _readingsAt(p256, 4, 9);
        ReadingBatch memory b1 = _batch(p256, r1);
        ReadingBatch memory b2 = _batch(p256, r2);
        ReadingBatch memory b3 = _batch(p256, r3);
        _anchor(p256, b1);
        vm.prank(stranger);
        anchorContract.checkpoint(b1.deviceId, FEED);
        bytes24 h1 = _link(bytes24(0), DeviceMessageLib.hashReadingBatch(b1));
        assertEq(anchorContract.checkpointedAt(b1.deviceId, FEED, h1), block.timestamp);
        _anchor(p256, b2);
        _anchor(p256, b3);
        bytes32[] memory later = new bytes32[](2);
        later[0] = DeviceMessageLib.hashReadingBatch(b2);
        later[1] = DeviceMessageLib.hashReadingBatch(b3);
        bytes32[] memory proof = _merkleProof(_leavesOf(r1), 2);
        assertTrue(anchorContract.verifyReading(r1[2], proof, b1, bytes24(0), later), "to the head");
        assertTrue(anchorContract.verifyReading(r1[2], proof, b1, bytes24(0), _none()), "to the checkpoint");
        bytes32[] memory shortOf = new bytes32[](1);
        shortOf[0] = later[0];
        assertFalse(anchorContract.isAnchored(b2, h1, _none()), "b2 is neither head nor checkpoint");
        assertFalse(anchorContract.isAnchored(b1, bytes24(0), shortOf), "stops short of the head");
        assertTrue(anchorContract.isAnchored(b2, h1, _tail(later)), "b2 then b3");
        assertFalse(anchorContract.isAnchored(b2, bytes24(0), _tail(later)), "wrong predecessor");
    }

    function _tail(bytes32[] memory a) internal pure returns (bytes32[] memory t) {
        t = new bytes32[](a.length - 1);
        for (uint256 i = 1; i < a.length; ++i) t[i - 1] = a[i];
    }

    function test_verifyReading_FalseForForgedOrOutside() public {
        Reading[] memory rs = _readings(p256, 4);
        ReadingBatch memory b = _batch(p256, rs);
        bytes32[] memory leaves = _leavesOf(rs);
        bytes32[] memory proof = _merkleProof(leaves, 1);
        assertFalse(anchorContract.verifyReading(rs[1], proof, b, bytes24(0), _none()), "not anchored yet");
        _anchor(p256, b);
        assertTrue(anchorContract.verifyReading(rs[1], proof, b, bytes24(0), _none()));
        Reading memory forged = rs[1];
        ++forged.value;
        assertFalse(anchorContract.verifyReading(forged, proof, b, bytes24(0), _none()), "other value");
        assertFalse(anchorContract.verifyReading(rs[2], proof, b, bytes24(0), _none()), "other leaf's proof");
        Reading memory otherFeed = rs[1];
        otherFeed.feedId = bytes32(0);
        assertFalse(anchorContract.verifyReading(otherFeed, proof, b, bytes24(0), _none()), "other feed");
        Reading memory otherDevice = rs[1];
        otherDevice.deviceId = _id(secp);
        assertFalse(anchorContract.verifyReading(otherDevice, proof, b, bytes24(0), _none()), "other device");
        // A conflicting batch over the same range, signed but never anchored, proves nothing.
        Reading[] memory conflicting = _readings(p256, 4);
        conflicting[1].value = 999;
        ReadingBatch memory c = _batch(p256, conflicting);
        bytes32[] memory cProof = _merkleProof(_leavesOf(conflicting), 1);
        assertFalse(anchorContract.verifyReading(conflicting[1], cProof, c, bytes24(0), _none()), "not anchored");
    }

    function test_verifyReading_FalseOutsideDeclaredRanges() public {
        // A batch that declares a narrower sequence range than a leaf it contains.
        Reading[] memory rs = _readings(p256, 4);
        ReadingBatch memory b = _batch(p256, rs);
        b.lastSequence = rs[2].sequence;
        b.count = 3;
        _anchor(p256, b);
        bytes32[] memory leaves = _leavesOf(rs);
        assertTrue(anchorContract.verifyReading(rs[2], _merkleProof(leaves, 2), b, bytes24(0), _none()));
        assertFalse(anchorContract.verifyReading(rs[3], _merkleProof(leaves, 3), b, bytes24(0), _none()), "sequence");
        Reading[] memory rs2 = _readings(secp, 4);
        ReadingBatch memory b2 = _batch(secp, rs2);
        --b2.toTimestamp;
        _anchor(secp, b2);
        assertFalse(
            anchorContract.verifyReading(rs2[3], _merkleProof(_leavesOf(rs2), 3), b2, bytes24(0), _none()),
            "time"
        );
    }

    function test_anchor_RevertWhen_AlreadyAnchored() public {
        ReadingBatch memory b = _batch(p256, _readings(p256, 3));
        _anchor(p256, b);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(p256);
        bytes memory sig = _signBatch(p256, b);
        vm.expectRevert(
            abi.encodeWithSelector(ReadingAnchor.ReadingAnchorSequenceNotAfter.selector, b.deviceId, FEED, 10, 12)
        );
        anchorContract.anchor(b, key, sig);
    }

    /// @notice A batch overlapping the anchored range (a conflicting batch) is refused; the next range is
    /// accepted, and so is the same range in another feed.
    function test_anchor_RevertWhen_Overlapping() public {
        _anchor(p256, _batch(p256, _readingsAt(p256, 3, 1)));
        ReadingBatch memory overlap = _batch(p256, _readingsAt(p256, 3, 3));
        bytes memory sig = _signBatch(p256, overlap);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(p256);
        vm.expectRevert(
            abi.encodeWithSelector(ReadingAnchor.ReadingAnchorSequenceNotAfter.selector, overlap.deviceId, FEED, 3, 3)
        );
        anchorContract.anchor(overlap, key, sig);
        _anchor(p256, _batch(p256, _readingsAt(p256, 3, 4)));
        ReadingBatch memory otherFeed = _batch(p256, _readingsAt(p256, 3, 1));
        otherFeed.feedId = keccak256("other feed");
        _anchor(p256, otherFeed);
        assertEq(anchorContract.cursorOf(overlap.deviceId, FEED).lastSequence, 6);
        assertEq(anchorContract.cursorOf(overlap.deviceId, otherFeed.feedId).lastSequence, 3);
    }

    function test_anchor_RevertWhen_SequenceZero() public {
        ReadingBatch memory b = _batch(p256, _readingsAt(p256, 2, 0));
        bytes memory sig = _signBatch(p256, b);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(p256);
        vm.expectRevert(
            abi.encodeWithSelector(ReadingAnchor.ReadingAnchorSequenceNotAfter.selector, b.deviceId, FEED, 0, 0)
        );
        anchorContract.anchor(b, key, sig);
    }

    function test_checkpoint_RevertWhen_NothingAnchored() public {
        vm.expectRevert(abi.encodeWithSelector(ReadingAnchor.ReadingAnchorNothingAnchored.selector, _id(p256), FEED));
        anchorContract.checkpoint(_id(p256), FEED);
    }

    function test_checkpoint_TwiceKeepsTheFirstTime() public {
        ReadingBatch memory b = _batch(p256, _readings(p256, 3));
        _anchor(p256, b);
        anchorContract.checkpoint(b.deviceId, FEED);
        uint256 anchoredAt = block.timestamp;
        vm.warp(anchoredAt + 100);
        vm.recordLogs();
        anchorContract.checkpoint(b.deviceId, FEED);
        assertEq(vm.getRecordedLogs().length, 0, "no second event");
        bytes24 head = anchorContract.cursorOf(b.deviceId, FEED).head;
        assertEq(anchorContract.checkpointedAt(b.deviceId, FEED, head), anchoredAt);
    }

    function test_anchor_RevertWhen_InvalidSignature() public {
        ReadingBatch memory b = _batch(p256, _readings(p256, 3));
        bytes memory sig = _signBatch(p256, b);
        b.count = 2;
        IDeviceRegistry.DeviceKey memory key = _deviceKey(p256);
        vm.expectRevert(abi.encodeWithSelector(ReadingAnchor.ReadingAnchorInvalidSignature.selector, b.deviceId));
        anchorContract.anchor(b, key, sig);
    }

    /// @notice After a fork (a new chain id, the same state) a batch signed for the old chain is refused and
    /// one signed under the registry's domain for the new chain is anchored.
    function test_anchor_AfterForkOnlyTheNewChainsSignaturesCount() public {
        ReadingBatch memory b = _batch(p256, _readings(p256, 3));
        bytes memory oldChain = _signBatch(p256, b);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(p256);
        vm.chainId(block.chainid + 1);
        vm.expectRevert(abi.encodeWithSelector(ReadingAnchor.ReadingAnchorInvalidSignature.selector, b.deviceId));
        anchorContract.anchor(b, key, oldChain);
        domain = registry.DOMAIN_SEPARATOR();
        _anchor(p256, b);
    }

    function test_anchor_RevertWhen_DeviceNotActive() public {
        ReadingBatch memory b = _batch(secp, _readings(secp, 3));
        bytes memory sig = _signBatch(secp, b);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(secp);
        vm.prank(operator);
        registry.decommission(_id(secp));
        vm.expectRevert(abi.encodeWithSelector(ReadingAnchor.ReadingAnchorInvalidSignature.selector, b.deviceId));
        anchorContract.anchor(b, key, sig);
    }

    function test_anchor_RevertWhen_InvalidBatch() public {
        ReadingBatch memory b = _batch(p256, _readings(p256, 3));
        IDeviceRegistry.DeviceKey memory key = _deviceKey(p256);
        b.count = 4;
        bytes memory sig = _signBatch(p256, b);
        vm.expectRevert(abi.encodeWithSelector(ReadingAnchor.ReadingAnchorInvalidBatch.selector, 10, 12, 4));
        anchorContract.anchor(b, key, sig);
        b.count = 0;
        sig = _signBatch(p256, b);
        vm.expectRevert(abi.encodeWithSelector(ReadingAnchor.ReadingAnchorInvalidBatch.selector, 10, 12, 0));
        anchorContract.anchor(b, key, sig);
        b.count = 1;
        b.firstSequence = 13;
        sig = _signBatch(p256, b);
        vm.expectRevert(abi.encodeWithSelector(ReadingAnchor.ReadingAnchorInvalidBatch.selector, 13, 12, 1));
        anchorContract.anchor(b, key, sig);
    }

    function test_anchor_RevertWhen_InvalidTimes() public {
        ReadingBatch memory b = _batch(p256, _readings(p256, 3));
        IDeviceRegistry.DeviceKey memory key = _deviceKey(p256);
        b.toTimestamp = uint64(block.timestamp + 1);
        bytes memory sig = _signBatch(p256, b);
        vm.expectRevert(
            abi.encodeWithSelector(
                ReadingAnchor.ReadingAnchorInvalidTimes.selector,
                b.fromTimestamp,
                b.toTimestamp,
                block.timestamp
            )
        );
        anchorContract.anchor(b, key, sig);
        b.toTimestamp = b.fromTimestamp - 1;
        sig = _signBatch(p256, b);
        vm.expectRevert(
            abi.encodeWithSelector(
                ReadingAnchor.ReadingAnchorInvalidTimes.selector,
                b.fromTimestamp,
                b.toTimestamp,
                block.timestamp
            )
        );
        anchorContract.anchor(b, key, sig);
    }

    function test_anchor_RevertWhen_ZeroRoot() public {
        ReadingBatch memory b = _batch(p256, _readings(p256, 3));
        b.root = bytes32(0);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(p256);
        bytes memory sig = _signBatch(p256, b);
        vm.expectRevert(ReadingAnchor.ReadingAnchorZeroRoot.selector);
        anchorContract.anchor(b, key, sig);
    }

    function test_constructor_RevertWhen_ZeroAddress() public {
        vm.expectRevert(ReadingAnchor.ReadingAnchorZeroAddress.selector);
        new ReadingAnchor(address(0));
    }

    /// @notice The gas of anchoring does not depend on the batch's size (the root stands for it).
    function test_gas_AnchorP256() public {
        ReadingBatch memory b = _batch(p256, _readings(p256, 2));
        b.count = 1024;
        b.lastSequence = b.firstSequence + 1023;
        IDeviceRegistry.DeviceKey memory key = _deviceKey(p256);
        bytes memory sig = _signBatch(p256, b);
        uint256 before = gasleft();
        anchorContract.anchor(b, key, sig);
        // solhint-disable-next-line no-console
        console.log("gas: anchor a P-256-signed batch of 1024 readings (execution, cold)", before - gasleft());
    }

    /// @notice The steady state: the (device, feed) chain slot exists, the anchor rewrites it.
    function test_gas_AnchorP256Next() public {
        _anchor(p256, _batch(p256, _readingsAt(p256, 2, 1)));
        ReadingBatch memory b = _batch(p256, _readingsAt(p256, 2, 3));
        b.count = 1024;
        b.lastSequence = b.firstSequence + 1023;
        IDeviceRegistry.DeviceKey memory key = _deviceKey(p256);
        bytes memory sig = _signBatch(p256, b);
        uint256 before = gasleft();
        anchorContract.anchor(b, key, sig);
        // solhint-disable-next-line no-console
        console.log("gas: anchor the next P-256-signed batch of 1024 readings (execution)", before - gasleft());
    }

    /// @notice Any batch of 1..64 readings with any values, anchored by either curve, proves each reading.
    function testFuzz_anchor_EveryReadingVerifies(uint256 n, bool useP256, int256 salt) public {
        n = bound(n, 1, 64);
        TestKey memory k = useP256 ? p256 : secp;
        Reading[] memory rs = _readings(k, n);
        for (uint256 i; i < n; ++i) rs[i].value = int256(uint256(keccak256(abi.encode(salt, i))));
        ReadingBatch memory b = _batch(k, rs);
        _anchor(k, b);
        bytes32[] memory leaves = _leavesOf(rs);
        uint256 pick = uint256(keccak256(abi.encode(salt))) % n;
        assertTrue(anchorContract.verifyReading(rs[pick], _merkleProof(leaves, pick), b, bytes24(0), _none()));
        rs[pick].value ^= 1;
        assertFalse(anchorContract.verifyReading(rs[pick], _merkleProof(leaves, pick), b, bytes24(0), _none()));
    }

    /// @notice Concrete twin of testFuzz_anchor_EveryReadingVerifies: one reading, secp256k1.
    function test_anchor_SingleReadingBatch() public {
        testFuzz_anchor_EveryReadingVerifies(1, false, 5);
    }

    function _signedBatch(
        TestKey memory k,
        ReadingBatch memory b
    ) internal view returns (ReadingAnchor.SignedBatch memory) {
        return ReadingAnchor.SignedBatch({batch: b, key: _deviceKey(k), signature: _signBatch(k, b)});
    }

    /// @notice anchorMany anchors the good batches in order and skips each bad one with its reason.
    function test_anchorMany_SkipsRejectedAndAnchorsTheRest() public {
        ReadingAnchor.SignedBatch[] memory many = new ReadingAnchor.SignedBatch[](4);
        many[0] = _signedBatch(p256, _batch(p256, _readingsAt(p256, 3, 1)));
        many[1] = _signedBatch(p256, _batch(p256, _readingsAt(p256, 3, 2))); // overlaps the first
        many[2] = _signedBatch(secp, _batch(secp, _readingsAt(secp, 3, 1)));
        many[2].batch.count = 2; // signature no longer matches
        many[3] = _signedBatch(p256, _batch(p256, _readingsAt(p256, 3, 4)));
        vm.expectEmit(address(anchorContract));
        emit ReadingAnchor.BatchRejected(_id(p256), FEED, 2, ReadingAnchor.Rejection.SequenceNotAfter);
        vm.expectEmit(address(anchorContract));
        emit ReadingAnchor.BatchRejected(_id(secp), FEED, 1, ReadingAnchor.Rejection.InvalidSignature);
        assertEq(anchorContract.anchorMany(many), 2);
        assertEq(anchorContract.cursorOf(_id(p256), FEED).lastSequence, 6);
        assertEq(anchorContract.cursorOf(_id(secp), FEED).lastSequence, 0);
        bytes32[] memory later = new bytes32[](1);
        later[0] = DeviceMessageLib.hashReadingBatch(many[3].batch);
        assertTrue(anchorContract.isAnchored(many[0].batch, bytes24(0), later));
    }

    /// @notice Whatever subset of an anchorMany carries corrupted signatures, exactly the others are
    /// anchored.
    function testFuzz_anchorMany_AnchorsExactlyTheValid(uint8 corruptMask) public {
        uint256 n = 6;
        ReadingAnchor.SignedBatch[] memory many = new ReadingAnchor.SignedBatch[](n);
        uint256 valid;
        for (uint256 i; i < n; ++i) {
            TestKey memory k = i % 2 == 0 ? p256 : secp;
            ReadingBatch memory b = _batch(k, _readingsAt(k, 2, uint64(1 + 2 * (i / 2))));
            b.feedId = keccak256(abi.encode("feed", i));
            many[i] = _signedBatch(k, b);
            if ((corruptMask >> i) & 1 == 1) {
                many[i].signature[5] ^= 0x01;
            } else {
                ++valid;
            }
        }
        assertEq(anchorContract.anchorMany(many), valid);
        for (uint256 i; i < n; ++i) {
            uint64 expected = (corruptMask >> i) & 1 == 1 ? 0 : many[i].batch.lastSequence;
            ReadingBatch memory b = many[i].batch;
            assertEq(anchorContract.cursorOf(b.deviceId, b.feedId).lastSequence, expected);
        }
    }

    /// @notice Concrete twin: every other batch corrupted.
    function test_anchorMany_AlternateCorrupted() public {
        testFuzz_anchorMany_AnchorsExactlyTheValid(0x2a);
    }

    function test_anchorMany_EmptyAnchorsNothing() public {
        assertEq(anchorContract.anchorMany(new ReadingAnchor.SignedBatch[](0)), 0);
    }
}
