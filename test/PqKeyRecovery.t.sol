// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {PqKeyRecovery} from "../contracts/identity/PqKeyRecovery.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {IPqKeyRecovery} from "../contracts/interfaces/IPqKeyRecovery.sol";
import {DeviceMessageLib} from "../contracts/libraries/DeviceMessageLib.sol";
import {LmsLib} from "../contracts/libraries/LmsLib.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {DeviceStatus} from "../contracts/types/DeviceStatus.sol";
import {RegistryFixture, TestKey} from "./utils/RegistryFixture.sol";
import {LmsTestSigner} from "./utils/LmsTestSigner.sol";

/// @notice PqKeyRecovery over the real registry: a device commits (once, by its elliptic-curve key) to an
/// LMS key, which alone recovers it to a new key; every refusal, and the registry's recoverKey rules.
contract PqKeyRecoveryTest is RegistryFixture {
    PqKeyRecovery internal recovery;
    TestKey internal device;
    TestKey internal next;
    DeviceId internal id;
    bytes32 internal constant PQ_SEED = keccak256("the device's LMS key");
    uint32 internal constant LMS = LmsLib.LMS_SHA256_M24_H10;
    uint32 internal constant OTS = LmsLib.LMOTS_SHA256_N24_W4;
    /// @dev The LMS key's public key (for PQ_SEED at leaf 0: LmsTestSigner keys are per leaf).
    bytes internal pqKey;

    function setUp() public override {
        super.setUp();
        recovery = new PqKeyRecovery(IDeviceRegistry(address(registry)));
        bytes32 role = registry.KEY_RECOVERY_ROLE();
        vm.prank(governor);
        registry.grantRole(role, address(recovery));
        device = _p256Key(P256_PK);
        next = _p256Key(P256_PK_2);
        id = _register(device);
        (pqKey, ) = LmsTestSigner.sign(LMS, OTS, PQ_SEED, 0, "");
    }

    // ------------------------------------------------------------------ helpers

    function _digest(bytes32 structHash) internal view returns (bytes32) {
        return _typedDigest(registry.DOMAIN_SEPARATOR(), structHash);
    }

    function _commitment(IPqKeyRecovery.PqScheme scheme, bytes memory publicKey) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(uint8(scheme), publicKey));
    }

    /// @notice The device's current key commits it to `publicKey` (LMS).
    function _commit(bytes memory publicKey) internal {
        bytes32 commitment = _commitment(IPqKeyRecovery.PqScheme.Lms, publicKey);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _sign(device, _digest(DeviceMessageLib.hashCommitPqKey(id, 1, commitment, deadline)));
        recovery.commitPqKey(id, IPqKeyRecovery.PqScheme.Lms, commitment, deadline, _deviceKey(device), sig);
    }

    struct Recovery {
        uint256 deadline;
        bytes newKeySignature;
        bytes pqSignature;
    }

    /// @notice An honest recovery of `id` to `to`, signed by the LMS key of `seed` at leaf 0, PQ nonce `nonce`.
    function _recovery(TestKey memory to, bytes32 seed, uint256 nonce) internal view returns (Recovery memory r) {
        r.deadline = block.timestamp + 1 hours;
        uint32 registryNonce = registry.deviceInfo(id).nonce;
        r.newKeySignature = _sign(to, _rotateDigest(id, to.keyHash, registryNonce, r.deadline));
        bytes32 digest = _digest(DeviceMessageLib.hashRecoverKey(id, to.keyHash, nonce, r.deadline));
        (, r.pqSignature) = LmsTestSigner.sign(LMS, OTS, seed, 0, abi.encodePacked(digest));
    }

    function _recover(TestKey memory to, Recovery memory r, bytes memory publicKey) internal {
        recovery.recoverKey(id, _deviceKey(to), r.deadline, r.newKeySignature, publicKey, r.pqSignature);
    }

    // ------------------------------------------------------------------ commit

    function test_commitPqKey_storesTheCommitmentOnce() public {
        bytes32 commitment = _commitment(IPqKeyRecovery.PqScheme.Lms, pqKey);
        vm.expectEmit(address(recovery));
        emit IPqKeyRecovery.PqKeyCommitted(id, IPqKeyRecovery.PqScheme.Lms, commitment);
        _commit(pqKey);
        IPqKeyRecovery.PqCommitment memory c = recovery.pqCommitmentOf(id);
        assertEq(c.commitment, commitment);
        assertEq(uint8(c.scheme), uint8(IPqKeyRecovery.PqScheme.Lms));
        assertEq(c.nonce, 0);
        assertEq(recovery.commitmentOf(IPqKeyRecovery.PqScheme.Lms, pqKey), commitment);
    }

    /// @notice Whoever holds (or forges) the elliptic-curve key cannot move the way back once it is set.
    function test_commitPqKey_RevertWhen_alreadyCommitted() public {
        _commit(pqKey);
        (bytes memory attackerKey, ) = LmsTestSigner.sign(LMS, OTS, keccak256("attacker"), 0, "");
        bytes32 commitment = _commitment(IPqKeyRecovery.PqScheme.Lms, attackerKey);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _sign(device, _digest(DeviceMessageLib.hashCommitPqKey(id, 1, commitment, deadline)));
        vm.expectRevert(abi.encodeWithSelector(IPqKeyRecovery.PqKeyRecoveryAlreadyCommitted.selector, id));
        recovery.commitPqKey(id, IPqKeyRecovery.PqScheme.Lms, commitment, deadline, _deviceKey(device), sig);
    }

    function test_commitPqKey_RevertWhen_notSignedByTheCurrentKey() public {
        bytes32 commitment = _commitment(IPqKeyRecovery.PqScheme.Lms, pqKey);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _sign(next, _digest(DeviceMessageLib.hashCommitPqKey(id, 1, commitment, deadline)));
        vm.expectRevert(abi.encodeWithSelector(IPqKeyRecovery.PqKeyRecoveryInvalidDeviceSignature.selector, id));
        recovery.commitPqKey(id, IPqKeyRecovery.PqScheme.Lms, commitment, deadline, _deviceKey(next), sig);
    }

    function test_commitPqKey_RevertWhen_signedForAnotherCommitment() public {
        bytes32 commitment = _commitment(IPqKeyRecovery.PqScheme.Lms, pqKey);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _sign(device, _digest(DeviceMessageLib.hashCommitPqKey(id, 1, commitment, deadline)));
        vm.expectRevert(abi.encodeWithSelector(IPqKeyRecovery.PqKeyRecoveryInvalidDeviceSignature.selector, id));
        recovery.commitPqKey(id, IPqKeyRecovery.PqScheme.Lms, ~commitment, deadline, _deviceKey(device), sig);
    }

    function test_commitPqKey_RevertWhen_badCommitmentOrExpired() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IPqKeyRecovery.PqKeyRecoveryBadCommitment.selector,
                IPqKeyRecovery.PqScheme.None,
                bytes32(uint256(1))
            )
        );
        recovery.commitPqKey(
            id,
            IPqKeyRecovery.PqScheme.None,
            bytes32(uint256(1)),
            block.timestamp,
            _deviceKey(device),
            ""
        );
        vm.expectRevert(
            abi.encodeWithSelector(IPqKeyRecovery.PqKeyRecoveryExpired.selector, block.timestamp - 1, block.timestamp)
        );
        recovery.commitPqKey(
            id,
            IPqKeyRecovery.PqScheme.Lms,
            bytes32(uint256(1)),
            block.timestamp - 1,
            _deviceKey(device),
            ""
        );
    }

    // ------------------------------------------------------------------ recover

    function test_recoverKey_rotatesWithThePqKeyAlone() public {
        _commit(pqKey);
        Recovery memory r = _recovery(next, PQ_SEED, 0);
        vm.expectEmit(address(registry));
        emit IDeviceRegistry.KeyRecovered(id, next.keyHash, address(recovery));
        _recover(next, r, pqKey);
        assertEq(registry.currentKeyHash(id), next.keyHash);
        assertEq(registry.keyRetiredAt(device.keyHash), block.timestamp, "the old key is retired now");
        assertEq(recovery.pqCommitmentOf(id).nonce, 1);
        // The recovered key signs for the device; the old one no longer does.
        bytes32 d = keccak256("a reading");
        assertTrue(registry.isValidDeviceSignature(id, d, _deviceKey(next), _sign(next, d)));
        assertFalse(registry.isValidDeviceSignature(id, d, _deviceKey(device), _sign(device, d)));
    }

    function test_recoverKey_recoversASuspendedDevice() public {
        _commit(pqKey);
        vm.prank(suspender);
        registry.suspend(id, "key leaked");
        _recover(next, _recovery(next, PQ_SEED, 0), pqKey);
        assertEq(registry.currentKeyHash(id), next.keyHash);
        assertEq(uint8(registry.statusOf(id)), uint8(DeviceStatus.Suspended), "reinstating stays governance's");
    }

    function test_recoverKey_RevertWhen_replayed() public {
        _commit(pqKey);
        Recovery memory r = _recovery(next, PQ_SEED, 0);
        _recover(next, r, pqKey);
        vm.expectRevert(abi.encodeWithSelector(IPqKeyRecovery.PqKeyRecoveryInvalidPqSignature.selector, id));
        _recover(next, r, pqKey);
    }

    function test_recoverKey_RevertWhen_notCommitted() public {
        Recovery memory r = _recovery(next, PQ_SEED, 0);
        vm.expectRevert(abi.encodeWithSelector(IPqKeyRecovery.PqKeyRecoveryNotCommitted.selector, id));
        _recover(next, r, pqKey);
    }

    function test_recoverKey_RevertWhen_anotherPqKey() public {
        _commit(pqKey);
        bytes32 otherSeed = keccak256("another LMS key");
        (bytes memory otherKey, ) = LmsTestSigner.sign(LMS, OTS, otherSeed, 0, "");
        Recovery memory r = _recovery(next, otherSeed, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPqKeyRecovery.PqKeyRecoveryWrongPqKey.selector,
                id,
                _commitment(IPqKeyRecovery.PqScheme.Lms, pqKey),
                _commitment(IPqKeyRecovery.PqScheme.Lms, otherKey)
            )
        );
        _recover(next, r, otherKey);
    }

    function test_recoverKey_RevertWhen_signedForAnotherNewKey() public {
        _commit(pqKey);
        Recovery memory r = _recovery(next, PQ_SEED, 0);
        TestKey memory third = _p256Key(0xF256_3);
        r.newKeySignature = _sign(third, _rotateDigest(id, third.keyHash, 0, r.deadline));
        vm.expectRevert(abi.encodeWithSelector(IPqKeyRecovery.PqKeyRecoveryInvalidPqSignature.selector, id));
        _recover(third, r, pqKey);
    }

    function test_recoverKey_RevertWhen_newKeyDoesNotProvePossession() public {
        _commit(pqKey);
        Recovery memory r = _recovery(next, PQ_SEED, 0);
        r.newKeySignature = _sign(device, _rotateDigest(id, next.keyHash, 0, r.deadline));
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryInvalidNewKeySignature.selector, id, next.keyHash)
        );
        _recover(next, r, pqKey);
    }

    function test_recoverKey_RevertWhen_newKeyIsTaken() public {
        _commit(pqKey);
        Recovery memory r = _recovery(device, PQ_SEED, 0);
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryKeyTaken.selector, device.keyHash, id));
        _recover(device, r, pqKey);
    }

    function test_recoverKey_RevertWhen_deviceRevoked() public {
        _commit(pqKey);
        Recovery memory r = _recovery(next, PQ_SEED, 0);
        vm.prank(governor);
        registry.revoke(id, "compromised");
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryTerminal.selector, id, DeviceStatus.Revoked)
        );
        _recover(next, r, pqKey);
    }

    function test_recoverKey_RevertWhen_mlDsaOnChain() public {
        bytes memory mlDsaKey = new bytes(1312);
        mlDsaKey[0] = 0x42;
        bytes32 commitment = _commitment(IPqKeyRecovery.PqScheme.MlDsa44, mlDsaKey);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _sign(device, _digest(DeviceMessageLib.hashCommitPqKey(id, 2, commitment, deadline)));
        recovery.commitPqKey(id, IPqKeyRecovery.PqScheme.MlDsa44, commitment, deadline, _deviceKey(device), sig);
        Recovery memory r = _recovery(next, PQ_SEED, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPqKeyRecovery.PqKeyRecoverySchemeNotOnChain.selector,
                IPqKeyRecovery.PqScheme.MlDsa44
            )
        );
        recovery.recoverKey(id, _deviceKey(next), r.deadline, r.newKeySignature, mlDsaKey, new bytes(2420));
    }

    function test_registryRecoverKey_RevertWhen_callerLacksTheRole() public {
        bytes32 role = registry.KEY_RECOVERY_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
        );
        vm.prank(stranger);
        registry.recoverKey(id, _deviceKey(next), block.timestamp + 1, "");
    }

    /// @notice Any single-byte change of the post-quantum signature is refused.
    function testFuzz_recoverKey_pqSignatureMutationRefused(uint256 index, uint8 mask) public {
        _commit(pqKey);
        Recovery memory r = _recovery(next, PQ_SEED, 0);
        index = bound(index, 0, r.pqSignature.length - 1);
        mask = uint8(bound(mask, 1, 255));
        r.pqSignature[index] ^= bytes1(mask);
        vm.expectRevert();
        _recover(next, r, pqKey);
    }

    /// @notice Any single-byte change of the post-quantum public key is refused (not the committed key).
    function testFuzz_recoverKey_pqKeyMutationRefused(uint256 index, uint8 mask) public {
        _commit(pqKey);
        Recovery memory r = _recovery(next, PQ_SEED, 0);
        bytes memory key = bytes.concat(pqKey);
        index = bound(index, 0, key.length - 1);
        key[index] ^= bytes1(uint8(bound(mask, 1, 255)));
        vm.expectRevert();
        _recover(next, r, key);
    }

    // ------------------------------------------------------------------ replace

    function test_replacePqKey_thePqKeyReplacesItself() public {
        _commit(pqKey);
        bytes32 newSeed = keccak256("the next LMS key");
        (bytes memory newKey, ) = LmsTestSigner.sign(LMS, OTS, newSeed, 0, "");
        bytes32 newCommitment = _commitment(IPqKeyRecovery.PqScheme.Lms, newKey);
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 digest = _digest(DeviceMessageLib.hashReplacePqKey(id, 1, newCommitment, 0, deadline));
        (, bytes memory sig) = LmsTestSigner.sign(LMS, OTS, PQ_SEED, 0, abi.encodePacked(digest));
        vm.expectEmit(address(recovery));
        emit IPqKeyRecovery.PqKeyReplaced(id, IPqKeyRecovery.PqScheme.Lms, newCommitment, 0);
        recovery.replacePqKey(id, IPqKeyRecovery.PqScheme.Lms, newCommitment, deadline, pqKey, sig);
        assertEq(recovery.pqCommitmentOf(id).commitment, newCommitment);
        // The new key recovers (PQ nonce 1); the replaced one no longer does.
        Recovery memory r = _recovery(next, PQ_SEED, 1);
        vm.expectRevert();
        _recover(next, r, pqKey);
        _recover(next, _recovery(next, newSeed, 1), newKey);
        assertEq(registry.currentKeyHash(id), next.keyHash);
    }

    // ------------------------------------------------------------------ gas

    /// @notice The recovery's execution gas with LMS_SHA256_M24_H10 / LMOTS_SHA256_N24_W4 (calldata and the
    /// transaction's 21k come on top: bench/results.json keeps the whole transaction, registry.recoverKey.lms).
    function test_gas_recoverKey_lmsM24H10W4() public {
        _commit(pqKey);
        Recovery memory r = _recovery(next, PQ_SEED, 0);
        IDeviceRegistry.DeviceKey memory key = _deviceKey(next);
        uint256 before = gasleft();
        recovery.recoverKey(id, key, r.deadline, r.newKeySignature, pqKey, r.pqSignature);
        uint256 used = before - gasleft();
        emit log_named_uint("recoverKey (LMS M24 H10 W4), execution gas", used);
        // The test build (no IR); the deployed build is what the bench measures. Without the P-256
        // precompile the new key's possession check runs in Solidity.
        if (_hasP256Precompile()) assertLt(used, 225_000);
    }
}
