// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {DeviceKeyLib} from "../contracts/libraries/DeviceKeyLib.sol";
import {DeviceMessageLib} from "../contracts/libraries/DeviceMessageLib.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {DeviceStatus} from "../contracts/types/DeviceStatus.sol";
import {RegistryFixture, TestKey} from "./utils/RegistryFixture.sol";

/// @notice Property tests of every signature and value input of the registry, for both curves. Each
/// testFuzz_ has a concrete twin (test_) that runs the same property on fixed inputs.
/// @dev Runtime on prague (no P-256 precompile) is dominated by OpenZeppelin's Solidity P-256 verifier, so
/// each fuzz run does at most three P-256 verifications.
contract DeviceRegistryFuzzTest is RegistryFixture {
    // ============================================================ register: any key

    function testFuzz_register_anyKeyRegistersAndSigns(bool p256, uint256 privateKey, bytes32 digest) public {
        _registerAnyKey(p256, privateKey, digest);
    }

    function test_register_anyKeyRegistersAndSigns() public {
        _registerAnyKey(false, 1, bytes32(0));
        _registerAnyKey(true, P256_N - 1, bytes32(type(uint256).max));
    }

    function _registerAnyKey(bool p256, uint256 privateKey, bytes32 digest) private {
        privateKey = _bound(privateKey, 1, (p256 ? P256_N : SECP256K1_N) - 1);
        TestKey memory k = p256 ? _p256Key(privateKey) : _secpKey(privateKey);
        DeviceId id = _register(k);
        assertEq(DeviceId.unwrap(id), k.keyHash);
        assertEq(uint8(registry.statusOf(id)), uint8(DeviceStatus.Active));
        assertEq(DeviceId.unwrap(registry.keyOwner(k.keyHash)), k.keyHash);
        assertTrue(registry.isValidDeviceSignature(id, digest, _deviceKey(k), _sign(k, digest)));
    }

    // ============================================================ views: only what was signed verifies

    function testFuzz_isValidDeviceSignature_onlyTheSignedDigest(bool p256, bytes32 signed, bytes32 other) public {
        _onlySignedDigest(p256, signed, other);
    }

    function test_isValidDeviceSignature_onlyTheSignedDigest() public {
        _onlySignedDigest(false, keccak256("a"), keccak256("b"));
        _onlySignedDigest(true, keccak256("a"), keccak256("a")); // same digest: the helper makes them differ
    }

    function _onlySignedDigest(bool p256, bytes32 signed, bytes32 other) private {
        if (other == signed) other = ~signed;
        TestKey memory k = p256 ? _p256Key(P256_PK) : _secpKey(SECP_PK);
        DeviceId id = _register(k);
        bytes memory sig = _sign(k, signed);
        assertTrue(registry.isValidDeviceSignature(id, signed, _deviceKey(k), sig));
        assertFalse(registry.isValidDeviceSignature(id, other, _deviceKey(k), sig));
    }

    function testFuzz_isValidDeviceSignature_randomBytesNeverVerify(
        bool p256,
        bytes32 digest,
        bytes32 r,
        bytes32 s,
        uint8 v,
        bytes calldata garbage
    ) public {
        _randomNeverVerifies(p256, digest, r, s, v, garbage);
    }

    function test_isValidDeviceSignature_randomBytesNeverVerify() public {
        _randomNeverVerifies(false, keccak256("d"), bytes32(uint256(1)), bytes32(uint256(1)), 27, hex"00");
        _randomNeverVerifies(true, keccak256("d"), bytes32(uint256(5)), bytes32(uint256(1)), 0, new bytes(64));
    }

    function _randomNeverVerifies(
        bool p256,
        bytes32 digest,
        bytes32 r,
        bytes32 s,
        uint8 v,
        bytes memory garbage
    ) private {
        TestKey memory k = p256 ? _p256Key(P256_PK) : _secpKey(SECP_PK);
        DeviceId id = _register(k);
        bytes memory sig = p256 ? abi.encodePacked(r, s) : abi.encodePacked(r, s, v);
        // Any value of these bytes is, with overwhelming probability, no signature of k over digest.
        assertFalse(registry.isValidDeviceSignature(id, digest, _deviceKey(k), sig));
        assertFalse(registry.isDeviceKeySignature(id, digest, _deviceKey(k), sig));
        assertFalse(registry.isValidDeviceSignature(id, digest, _deviceKey(k), garbage));
    }

    // ============================================================ deadlines

    function testFuzz_register_deadlineAgainstNow(bool p256, uint256 deadline, uint256 timestamp) public {
        _deadlineAgainstNow(p256, deadline, timestamp);
    }

    function test_register_deadlineAgainstNow() public {
        _deadlineAgainstNow(false, START, START);
        _deadlineAgainstNow(true, START - 1, START);
    }

    function _deadlineAgainstNow(bool p256, uint256 deadline, uint256 timestamp) private {
        timestamp = _bound(timestamp, START, type(uint64).max);
        vm.warp(timestamp);
        TestKey memory k = p256 ? _p256Key(P256_PK) : _secpKey(SECP_PK);
        IDeviceRegistry.Registration memory reg = _registration(k, operator, MODEL, deadline);
        bytes memory endorsement = _endorsement(k, MODEL);
        if (deadline < timestamp) {
            vm.expectRevert(
                abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryExpired.selector, deadline, timestamp)
            );
            registry.register(reg, maker, endorsement);
        } else {
            DeviceId id = registry.register(reg, maker, endorsement);
            assertEq(uint8(registry.statusOf(id)), uint8(DeviceStatus.Active));
        }
    }

    function testFuzz_rotateKey_deadlineAgainstNow(uint256 deadline, uint256 timestamp) public {
        _rotateDeadline(deadline, timestamp);
    }

    function test_rotateKey_deadlineAgainstNow() public {
        uint256 snapshot = vm.snapshotState();
        _rotateDeadline(START + 5, START + 5);
        vm.revertToState(snapshot);
        _rotateDeadline(START + 5, START + 6);
    }

    function _rotateDeadline(uint256 deadline, uint256 timestamp) private {
        TestKey memory k = _secpKey(SECP_PK);
        TestKey memory next = _secpKey(SECP_PK_2);
        DeviceId id = _register(k);
        timestamp = _bound(timestamp, START, type(uint64).max);
        vm.warp(timestamp);
        IDeviceRegistry.KeyRotation memory rotation = _rotation(id, k, next, 0, deadline);
        if (deadline < timestamp) {
            vm.expectRevert(
                abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryExpired.selector, deadline, timestamp)
            );
        }
        vm.prank(operator);
        registry.rotateKey(id, rotation);
    }

    // ============================================================ s values

    function testFuzz_register_highSRejected(bool p256, uint256 s) public {
        _highSRejected(p256, s);
    }

    function test_register_highSRejected() public {
        _highSRejected(false, SECP256K1_N / 2 + 1);
        _highSRejected(true, type(uint256).max);
    }

    /// @dev s above n/2 gets DeviceKeyHighS, s at or above n gets DeviceKeySignatureOutOfRange: both before any
    /// curve arithmetic, so no signature is malleable and no P-256 verification runs.
    function _highSRejected(bool p256, uint256 s) private {
        TestKey memory k = p256 ? _p256Key(P256_PK) : _secpKey(SECP_PK);
        uint256 n = _curveN(k.keyType);
        s = _bound(s, n / 2 + 1, type(uint256).max);
        IDeviceRegistry.Registration memory reg = _registration(k);
        (bytes32 r, ) = _rs(reg.signature);
        reg.signature = _withRS(k, reg.signature, r, bytes32(s));
        bytes memory endorsement = _endorsement(k, MODEL);
        if (s >= n) {
            vm.expectRevert(abi.encodeWithSelector(DeviceKeyLib.DeviceKeySignatureOutOfRange.selector, r, bytes32(s)));
        } else {
            vm.expectRevert(abi.encodeWithSelector(DeviceKeyLib.DeviceKeyHighS.selector, bytes32(s)));
        }
        registry.register(reg, maker, endorsement);
    }

    function testFuzz_register_malleatedSignatureRejected(bool p256, uint256 privateKey) public {
        _malleated(p256, privateKey);
    }

    function test_register_malleatedSignatureRejected() public {
        _malleated(false, 2);
        _malleated(true, 2);
    }

    /// @dev The high-s twin of an honest signature is rejected; the honest one then registers.
    function _malleated(bool p256, uint256 privateKey) private {
        privateKey = _bound(privateKey, 1, (p256 ? P256_N : SECP256K1_N) - 1);
        TestKey memory k = p256 ? _p256Key(privateKey) : _secpKey(privateKey);
        IDeviceRegistry.Registration memory reg = _registration(k);
        bytes memory honest = reg.signature;
        (bytes memory twin, bytes32 highS) = _highS(k, honest);
        reg.signature = twin;
        bytes memory endorsement = _endorsement(k, MODEL);
        vm.expectRevert(abi.encodeWithSelector(DeviceKeyLib.DeviceKeyHighS.selector, highS));
        registry.register(reg, maker, endorsement);
        reg.signature = honest;
        registry.register(reg, maker, endorsement);
    }

    // ============================================================ domain

    function testFuzz_register_otherChainRejected(bool p256, uint256 chainId) public {
        _otherChain(p256, chainId);
    }

    function test_register_otherChainRejected() public {
        _otherChain(false, 1);
        _otherChain(true, 1);
    }

    function _otherChain(bool p256, uint256 chainId) private {
        if (chainId == block.chainid) chainId = block.chainid + 1;
        TestKey memory k = p256 ? _p256Key(P256_PK) : _secpKey(SECP_PK);
        IDeviceRegistry.Registration memory reg = _registration(k);
        reg.signature = _sign(
            k,
            _typedDigest(
                _domainSeparator(chainId, address(registry)),
                DeviceMessageLib.hashRegister(_id(k), operator, 0, reg.deadline)
            )
        );
        bytes memory endorsement = _endorsement(k, MODEL);
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryInvalidDeviceSignature.selector, _id(k)));
        registry.register(reg, maker, endorsement);
    }

    // ============================================================ model

    function testFuzz_register_anyModelAsEndorsed(uint32 model, uint32 claimed) public {
        _anyModel(model, claimed);
    }

    function test_register_anyModelAsEndorsed() public {
        uint256 snapshot = vm.snapshotState();
        _anyModel(0, 1);
        vm.revertToState(snapshot);
        _anyModel(type(uint32).max, type(uint32).max);
    }

    /// @dev A registration claiming another model than the maker endorsed fails; the endorsed one registers.
    function _anyModel(uint32 model, uint32 claimed) private {
        TestKey memory k = _secpKey(SECP_PK);
        bytes memory endorsement = _endorsement(k, model);
        if (claimed != model) {
            IDeviceRegistry.Registration memory wrong = _registration(k, operator, claimed, block.timestamp);
            vm.expectRevert(
                abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryInvalidMakerSignature.selector, maker, _id(k))
            );
            registry.register(wrong, maker, endorsement);
        }
        IDeviceRegistry.Registration memory reg = _registration(k, operator, model, block.timestamp);
        DeviceId id = registry.register(reg, maker, endorsement);
        assertEq(registry.deviceInfo(id).model, model);
    }

    // ============================================================ batches

    function testFuzz_registerFromBatch_anySizeAndIndex(bool p256, uint256 size, uint256 index, uint32 model) public {
        _batch(p256, size, index, model);
    }

    function test_registerFromBatch_anySizeAndIndex() public {
        _batch(false, 1, 0, 0);
        _batch(true, 5, 4, 9);
    }

    /// @dev A batch of `size` devices (only the one at `index` has a key here): its proof registers it, the
    /// proof of a neighbour does not, and neither does its own proof with another model.
    function _batch(bool p256, uint256 size, uint256 index, uint32 model) private {
        size = _bound(size, 1, 64);
        index = _bound(index, 0, size - 1);
        TestKey memory k = p256 ? _p256Key(P256_PK) : _secpKey(SECP_PK);
        DeviceId[] memory ids = new DeviceId[](size);
        uint32[] memory models = new uint32[](size);
        for (uint256 i; i < size; ++i) {
            ids[i] = i == index ? _id(k) : DeviceId.wrap(keccak256(abi.encode("neighbour", i)));
            models[i] = i == index ? model : uint32(i);
        }
        bytes32[] memory leaves = _leaves(ids, models);
        bytes32 root = _merkleRoot(leaves);
        vm.prank(makerSigner);
        registry.publishBatch(root, uint32(size), "");

        // The registration's signature does not cover the model: the same one serves both attempts.
        IDeviceRegistry.Registration memory reg = _registration(k, operator, model, block.timestamp);
        bytes memory invalid = abi.encodeWithSelector(
            IDeviceRegistry.DeviceRegistryInvalidBatchProof.selector,
            root,
            _id(k)
        );
        if (size > 1) {
            bytes32[] memory neighbourProof = _merkleProof(leaves, index == 0 ? 1 : index - 1);
            vm.expectRevert(invalid);
            registry.registerFromBatch(reg, root, neighbourProof);
        }
        bytes32[] memory proof = _merkleProof(leaves, index);
        reg.model = model ^ 1;
        vm.expectRevert(invalid);
        registry.registerFromBatch(reg, root, proof);

        reg.model = model;
        DeviceId id = registry.registerFromBatch(reg, root, proof);
        assertEq(registry.deviceInfo(id).model, model);
        assertEq(registry.deviceInfo(id).maker, maker);
    }

    // ============================================================ rotation

    function testFuzz_rotateKey_anyKeys(bool fromP256, bool toP256, uint256 fromKey, uint256 toKey) public {
        _rotateAny(fromP256, toP256, fromKey, toKey);
    }

    function test_rotateKey_anyKeys() public {
        _rotateAny(false, true, 1, 1);
        _rotateAny(true, true, 3, 3); // equal keys: the helper takes another
    }

    function _rotateAny(bool fromP256, bool toP256, uint256 fromKey, uint256 toKey) private {
        TestKey memory a = _keyFor(fromP256, fromKey);
        TestKey memory b = _keyFor(toP256, toKey);
        if (a.keyHash == b.keyHash) b = _keyFor(toP256, toKey ^ 1);
        DeviceId id = _register(a);
        _rotate(id, a, b);
        IDeviceRegistry.DeviceInfo memory info = registry.deviceInfo(id);
        assertEq(info.keyHash, b.keyHash);
        assertEq(uint8(info.keyType), uint8(b.keyType));
        assertEq(info.nonce, 1);
        assertEq(DeviceId.unwrap(registry.keyOwner(b.keyHash)), DeviceId.unwrap(id));
        assertEq(DeviceId.unwrap(registry.keyOwner(a.keyHash)), DeviceId.unwrap(id));
        assertEq(registry.keyRetiredAt(a.keyHash), block.timestamp, "the old key retired now");
        assertEq(registry.keyRetiredAt(b.keyHash), 0, "the new key is current");
    }

    function testFuzz_rotateKey_wrongNonceRejected(uint256 nonce) public {
        _wrongNonce(nonce);
    }

    function test_rotateKey_wrongNonceRejected() public {
        uint256 snapshot = vm.snapshotState();
        _wrongNonce(0); // the helper moves it off the current nonce
        vm.revertToState(snapshot);
        _wrongNonce(type(uint256).max);
    }

    function _wrongNonce(uint256 nonce) private {
        TestKey memory k = _secpKey(SECP_PK);
        TestKey memory next = _secpKey(SECP_PK_2);
        DeviceId id = _register(k);
        if (nonce == 0) nonce = 1;
        IDeviceRegistry.KeyRotation memory rotation = _rotation(id, k, next, nonce, block.timestamp);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryInvalidNonce.selector, id, uint256(0), nonce)
        );
        vm.prank(operator);
        registry.rotateKey(id, rotation);
    }

    // ============================================================ access

    function testFuzz_suspend_onlyOperatorSuspenderOrGovernor(address caller) public {
        _suspendAccess(caller);
    }

    function test_suspend_onlyOperatorSuspenderOrGovernor() public {
        uint256 snapshot = vm.snapshotState();
        _suspendAccess(stranger);
        vm.revertToState(snapshot);
        _suspendAccess(suspender);
    }

    function _suspendAccess(address caller) private {
        TestKey memory k = _secpKey(SECP_PK);
        DeviceId id = _register(k);
        bool allowed = caller == operator || caller == suspender || caller == governor;
        if (!allowed) {
            vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryUnauthorized.selector, id, caller));
        }
        vm.prank(caller);
        registry.suspend(id, "fuzz");
        assertEq(uint8(registry.statusOf(id)), uint8(allowed ? DeviceStatus.Suspended : DeviceStatus.Active));
    }

    function testFuzz_acceptCustody_onlyPendingOperator(address caller) public {
        _acceptAccess(caller);
    }

    function test_acceptCustody_onlyPendingOperator() public {
        uint256 snapshot = vm.snapshotState();
        _acceptAccess(stranger);
        vm.revertToState(snapshot);
        _acceptAccess(newOperator);
    }

    function _acceptAccess(address caller) private {
        TestKey memory k = _secpKey(SECP_PK);
        DeviceId id = _register(k);
        vm.prank(operator);
        registry.startCustodyTransfer(id, newOperator);
        if (caller != newOperator) {
            vm.expectRevert(
                abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryNotPendingOperator.selector, id, caller)
            );
        }
        vm.prank(caller);
        registry.acceptCustody(id);
        assertEq(registry.operatorOf(id), caller == newOperator ? newOperator : operator);
    }
}
