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
        rs = new Reading[](n);
        for (uint256 i; i < n; ++i) {
            rs[i] = Reading({
                deviceId: _id(k),
                feedId: FEED,
                sequence: uint64(10 + i),
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

    function test_anchor_BothCurvesAndVerifyEveryReading() public {
        TestKey[2] memory ks = [p256, secp];
        for (uint256 c; c < 2; ++c) {
            Reading[] memory rs = _readings(ks[c], 9);
            ReadingBatch memory b = _batch(ks[c], rs);
            vm.expectEmit(address(anchorContract));
            emit ReadingAnchor.BatchAnchored(b.deviceId, FEED, b.root, DeviceMessageLib.hashReadingBatch(b), 10, 18, 9);
            _anchor(ks[c], b);
            assertTrue(anchorContract.isAnchored(b.deviceId, FEED, b.root));
            ReadingAnchor.Anchor memory a = anchorContract.anchorOf(b.deviceId, FEED, b.root);
            assertEq(a.anchoredAt, block.timestamp);
            assertEq(a.firstSequence, 10);
            assertEq(a.lastSequence, 18);
            bytes32[] memory leaves = _leavesOf(rs);
            for (uint256 i; i < rs.length; ++i) {
                assertTrue(anchorContract.verifyReading(rs[i], _merkleProof(leaves, i), b.root));
            }
        }
    }

    function test_verifyReading_FalseForForgedOrOutside() public {
        Reading[] memory rs = _readings(p256, 4);
        ReadingBatch memory b = _batch(p256, rs);
        bytes32[] memory leaves = _leavesOf(rs);
        bytes32[] memory proof = _merkleProof(leaves, 1);
        assertFalse(anchorContract.verifyReading(rs[1], proof, b.root), "not anchored yet");
        _anchor(p256, b);
        assertTrue(anchorContract.verifyReading(rs[1], proof, b.root));
        Reading memory forged = rs[1];
        ++forged.value;
        assertFalse(anchorContract.verifyReading(forged, proof, b.root), "other value");
        assertFalse(anchorContract.verifyReading(rs[2], proof, b.root), "other leaf's proof");
        Reading memory otherFeed = rs[1];
        otherFeed.feedId = bytes32(0);
        assertFalse(anchorContract.verifyReading(otherFeed, proof, b.root), "other feed");
    }

    function test_verifyReading_FalseOutsideDeclaredRanges() public {
        // A batch that declares a narrower sequence range than a leaf it contains.
        Reading[] memory rs = _readings(p256, 4);
        ReadingBatch memory b = _batch(p256, rs);
        b.lastSequence = rs[2].sequence;
        b.count = 3;
        _anchor(p256, b);
        bytes32[] memory leaves = _leavesOf(rs);
        assertTrue(anchorContract.verifyReading(rs[2], _merkleProof(leaves, 2), b.root));
        assertFalse(anchorContract.verifyReading(rs[3], _merkleProof(leaves, 3), b.root), "sequence");
        ReadingBatch memory b2 = _batch(secp, _readings(secp, 4));
        --b2.toTimestamp;
        _anchor(secp, b2);
        Reading[] memory rs2 = _readings(secp, 4);
        assertFalse(anchorContract.verifyReading(rs2[3], _merkleProof(_leavesOf(rs2), 3), b2.root), "time");
    }

    function test_anchor_RevertWhen_AlreadyAnchored() public {
        ReadingBatch memory b = _batch(p256, _readings(p256, 3));
        _anchor(p256, b);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(p256);
        bytes memory sig = _signBatch(p256, b);
        vm.expectRevert(
            abi.encodeWithSelector(ReadingAnchor.ReadingAnchorAlreadyAnchored.selector, b.deviceId, FEED, b.root)
        );
        anchorContract.anchor(b, key, sig);
    }

    function test_anchor_RevertWhen_InvalidSignature() public {
        ReadingBatch memory b = _batch(p256, _readings(p256, 3));
        bytes memory sig = _signBatch(p256, b);
        b.count = 2;
        IDeviceRegistry.DeviceKey memory key = _deviceKey(p256);
        vm.expectRevert(abi.encodeWithSelector(ReadingAnchor.ReadingAnchorInvalidSignature.selector, b.deviceId));
        anchorContract.anchor(b, key, sig);
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
        assertTrue(anchorContract.verifyReading(rs[pick], _merkleProof(leaves, pick), b.root));
        rs[pick].value ^= 1;
        assertFalse(anchorContract.verifyReading(rs[pick], _merkleProof(leaves, pick), b.root));
    }

    /// @notice Concrete twin of testFuzz_anchor_EveryReadingVerifies: one reading, secp256k1.
    function test_anchor_SingleReadingBatch() public {
        testFuzz_anchor_EveryReadingVerifies(1, false, 5);
    }
}
