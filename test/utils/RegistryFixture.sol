// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {DeviceRegistry} from "../../contracts/identity/DeviceRegistry.sol";
import {IDeviceRegistry} from "../../contracts/interfaces/IDeviceRegistry.sol";
import {DeviceMessageLib} from "../../contracts/libraries/DeviceMessageLib.sol";
import {DeviceId} from "../../contracts/types/DeviceId.sol";
import {KeyType} from "../../contracts/types/KeyType.sol";

/// @notice A test device: its key type, private key, encoded public key and id (the hash of its first key).
struct TestKey {
    KeyType keyType;
    uint256 privateKey;
    bytes key;
    bytes32 keyHash;
}

/// @notice Key, signature and Merkle helpers shared by the registry's unit, fuzz and invariant tests. Every
/// helper builds what an honest device, maker or operator would produce, so each test changes one thing.
/// @dev Helpers are `internal view` (not pure) only because cheatcodes are external calls.
abstract contract KeyHelpers {
    /// @dev The cheatcode address, as forge-std declares it (this contract is also used by the invariant
    /// handler, which is no Test).
    IVmSafeMinimal private constant _VM = IVmSafeMinimal(address(uint160(uint256(keccak256("hevm cheat code")))));

    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    uint256 internal constant P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551;
    uint256 internal constant P256_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF;

    bytes32 internal constant EIP712_DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );

    function _secpKey(uint256 privateKey) internal pure returns (TestKey memory k) {
        k.keyType = KeyType.Secp256k1;
        k.privateKey = privateKey;
        k.key = abi.encodePacked(_VM.addr(privateKey));
        k.keyHash = keccak256(abi.encodePacked(k.keyType, k.key));
    }

    function _p256Key(uint256 privateKey) internal pure returns (TestKey memory k) {
        k.keyType = KeyType.P256;
        k.privateKey = privateKey;
        (uint256 qx, uint256 qy) = _VM.publicKeyP256(privateKey);
        k.key = abi.encodePacked(qx, qy);
        k.keyHash = keccak256(abi.encodePacked(k.keyType, k.key));
    }

    /// @dev A key of the chosen curve whose private key is `seed` taken into [1, n-1] of that curve.
    function _keyFor(bool p256, uint256 seed) internal pure returns (TestKey memory) {
        if (p256) return _p256Key(1 + (seed % (P256_N - 1)));
        return _secpKey(1 + (seed % (SECP256K1_N - 1)));
    }

    /// @notice Whether the chain has the P-256 precompile (osaka: yes; prague: no, OpenZeppelin's Solidity
    /// verifier runs instead). Gas ceilings of P-256 paths hold with it only.
    /// @dev The Wycheproof vector OpenZeppelin's P256 uses to detect the precompile.
    function _hasP256Precompile() internal view returns (bool) {
        (bool ok, bytes memory ret) = address(0x100).staticcall(
            abi.encode(
                0xbb5a52f42f9c9261ed4361f59422a1e30036e7c32b270c8807a419feca605023,
                uint256(5),
                uint256(1),
                0xa71af64de5126a4a4e02b7922d66ce9415ce88a4c9d25514d91082c8725ac957,
                0x5d47723c8fbe580bb369fec9c2665d8e30a435b9932645482e7c9f11e872296b
            )
        );
        return ok && ret.length == 32 && abi.decode(ret, (uint256)) == 1;
    }

    function _addrOf(uint256 privateKey) internal pure returns (address) {
        return _VM.addr(privateKey);
    }

    function _id(TestKey memory k) internal pure returns (DeviceId) {
        return DeviceId.wrap(k.keyHash);
    }

    function _deviceKey(TestKey memory k) internal pure returns (IDeviceRegistry.DeviceKey memory) {
        return IDeviceRegistry.DeviceKey({keyType: k.keyType, key: k.key});
    }

    /// @notice A canonical (low-s) device signature over an EIP-712 digest: r ‖ s ‖ v for secp256k1, r ‖ s
    /// over sha256(digest) for P-256 (ECDSA-P256-SHA256 with the digest as the message).
    function _sign(TestKey memory k, bytes32 digest) internal pure returns (bytes memory) {
        if (k.keyType == KeyType.P256) {
            (bytes32 r, bytes32 s) = _VM.signP256(k.privateKey, sha256(abi.encodePacked(digest)));
            if (uint256(s) > P256_N / 2) s = bytes32(P256_N - uint256(s));
            return abi.encodePacked(r, s);
        }
        return _signEth(k.privateKey, digest);
    }

    /// @notice An Ethereum-account signature (65 bytes, low-s), as makers sign endorsements.
    function _signEth(uint256 privateKey, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = _VM.sign(privateKey, digest);
        if (uint256(s) > SECP256K1_N / 2) {
            s = bytes32(SECP256K1_N - uint256(s));
            v = v == 27 ? 28 : 27;
        }
        return abi.encodePacked(r, s, v);
    }

    /// @notice The same signature with s replaced by n - s (and v flipped for secp256k1): valid on the curve,
    /// but high-s.
    function _highS(TestKey memory k, bytes memory sig) internal pure returns (bytes memory out, bytes32 highS) {
        (bytes32 r, bytes32 s) = _rs(sig);
        uint256 n = k.keyType == KeyType.P256 ? P256_N : SECP256K1_N;
        highS = bytes32(n - uint256(s));
        if (k.keyType == KeyType.P256) return (abi.encodePacked(r, highS), highS);
        uint8 v = uint8(sig[64]) == 27 ? 28 : 27;
        return (abi.encodePacked(r, highS, v), highS);
    }

    function _rs(bytes memory sig) internal pure returns (bytes32 r, bytes32 s) {
        // abi.decode reads the first two words and ignores a trailing v.
        (r, s) = abi.decode(sig, (bytes32, bytes32));
    }

    /// @notice A signature of `k`'s shape with r and s replaced (v kept for secp256k1).
    function _withRS(TestKey memory k, bytes memory sig, bytes32 r, bytes32 s) internal pure returns (bytes memory) {
        if (k.keyType == KeyType.P256) return abi.encodePacked(r, s);
        return abi.encodePacked(r, s, sig[64]);
    }

    function _curveN(KeyType keyType) internal pure returns (uint256) {
        return keyType == KeyType.P256 ? P256_N : SECP256K1_N;
    }

    function _domainSeparator(uint256 chainId, address verifyingContract) internal pure returns (bytes32) {
        return
            keccak256(
                abi.encode(EIP712_DOMAIN_TYPEHASH, keccak256("DeviceTrust"), keccak256("1"), chainId, verifyingContract)
            );
    }

    function _typedDigest(bytes32 domainSeparator, bytes32 structHash) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator, structHash));
    }

    // ------------------------------------------------------------------ Merkle (sorted pairs, like OZ)

    function _hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    /// @notice Root of a sorted-pair tree over `leaves` (an odd node at the end of a level moves up as is).
    function _merkleRoot(bytes32[] memory leaves) internal pure returns (bytes32) {
        bytes32[] memory level = leaves;
        while (level.length > 1) level = _nextLevel(level);
        return level[0];
    }

    /// @notice The proof of leaf `index` in the tree _merkleRoot builds: MerkleProof.verify accepts it.
    function _merkleProof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory proof) {
        bytes32[] memory buffer = new bytes32[](64);
        uint256 count;
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < level.length) {
                buffer[count] = level[sibling];
                ++count;
            }
            level = _nextLevel(level);
            index /= 2;
        }
        proof = new bytes32[](count);
        for (uint256 i; i < count; ++i) proof[i] = buffer[i];
    }

    function _nextLevel(bytes32[] memory level) private pure returns (bytes32[] memory next) {
        next = new bytes32[]((level.length + 1) / 2);
        for (uint256 i; i < next.length; ++i) {
            next[i] = 2 * i + 1 < level.length ? _hashPair(level[2 * i], level[2 * i + 1]) : level[2 * i];
        }
    }
}

/// @dev The few cheatcodes KeyHelpers needs, declared pure as forge-std's VmSafe does.
interface IVmSafeMinimal {
    function addr(uint256 privateKey) external pure returns (address);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function signP256(uint256 privateKey, bytes32 digest) external pure returns (bytes32 r, bytes32 s);
    function publicKeyP256(uint256 privateKey) external pure returns (uint256 qx, uint256 qy);
}

/// @notice A registry with one governor, one maker and one operator, and helpers that build honest
/// registrations, endorsements and rotations against it.
abstract contract RegistryFixture is Test, KeyHelpers {
    DeviceRegistry internal registry;

    address internal governor = makeAddr("governor");
    address internal suspender = makeAddr("suspender");
    address internal operator = makeAddr("operator");
    address internal newOperator = makeAddr("newOperator");
    address internal stranger = makeAddr("stranger");

    uint256 internal constant MAKER_PK = 0xA11CE;
    uint256 internal constant OTHER_MAKER_PK = 0xB0B;
    address internal makerSigner;
    uint16 internal maker;

    uint32 internal constant MODEL = 7;
    uint256 internal constant START = 1_700_000_000;

    /// @dev Fixed keys: one per curve for the main device, and spares for rotations and second devices.
    uint256 internal constant SECP_PK = 0x5EC9;
    uint256 internal constant SECP_PK_2 = 0x5EC9_2;
    uint256 internal constant P256_PK = 0xF256;
    uint256 internal constant P256_PK_2 = 0xF256_2;

    function setUp() public virtual {
        vm.warp(START);
        registry = new DeviceRegistry(governor);
        makerSigner = vm.addr(MAKER_PK);
        vm.prank(governor);
        maker = registry.addMaker(makerSigner, "Acme Secure Elements");
        bytes32 suspenderRole = registry.SUSPENDER_ROLE();
        vm.prank(governor);
        registry.grantRole(suspenderRole, suspender);
    }

    // ------------------------------------------------------------------ digests

    function _registerDigest(TestKey memory k, address op, uint256 deadline) internal view returns (bytes32) {
        return _typedDigest(registry.DOMAIN_SEPARATOR(), DeviceMessageLib.hashRegister(_id(k), op, 0, deadline));
    }

    function _endorseDigest(DeviceId id, uint32 model) internal view returns (bytes32) {
        return _typedDigest(registry.DOMAIN_SEPARATOR(), DeviceMessageLib.hashEndorse(id, model));
    }

    function _rotateDigest(
        DeviceId id,
        bytes32 newKeyHash,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (bytes32) {
        return
            _typedDigest(registry.DOMAIN_SEPARATOR(), DeviceMessageLib.hashRotateKey(id, newKeyHash, nonce, deadline));
    }

    // ------------------------------------------------------------------ builders

    /// @notice An honest registration of `k` to `op` with the given model and deadline.
    function _registration(
        TestKey memory k,
        address op,
        uint32 model,
        uint256 deadline
    ) internal view returns (IDeviceRegistry.Registration memory) {
        return
            IDeviceRegistry.Registration({
                key: _deviceKey(k),
                operator: op,
                model: model,
                deadline: deadline,
                signature: _sign(k, _registerDigest(k, op, deadline))
            });
    }

    function _registration(TestKey memory k) internal view returns (IDeviceRegistry.Registration memory) {
        return _registration(k, operator, MODEL, block.timestamp + 1 hours);
    }

    function _endorsement(TestKey memory k, uint32 model) internal view returns (bytes memory) {
        return _signEth(MAKER_PK, _endorseDigest(_id(k), model));
    }

    /// @notice Registers `k` to `operator` with a maker signature.
    function _register(TestKey memory k) internal returns (DeviceId) {
        return registry.register(_registration(k), maker, _endorsement(k, MODEL));
    }

    /// @notice An honest rotation from `current` to `next` at the device's current nonce.
    function _rotation(
        DeviceId id,
        TestKey memory current,
        TestKey memory next
    ) internal view returns (IDeviceRegistry.KeyRotation memory) {
        return _rotation(id, current, next, registry.deviceInfo(id).nonce, block.timestamp + 1 hours);
    }

    function _rotation(
        DeviceId id,
        TestKey memory current,
        TestKey memory next,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (IDeviceRegistry.KeyRotation memory) {
        bytes32 digest = _rotateDigest(id, next.keyHash, nonce, deadline);
        return
            IDeviceRegistry.KeyRotation({
                currentKey: _deviceKey(current),
                newKey: _deviceKey(next),
                nonce: nonce,
                deadline: deadline,
                currentSignature: _sign(current, digest),
                newSignature: _sign(next, digest)
            });
    }

    function _rotate(DeviceId id, TestKey memory current, TestKey memory next) internal {
        IDeviceRegistry.KeyRotation memory rotation = _rotation(id, current, next);
        vm.prank(operator);
        registry.rotateKey(id, rotation);
    }

    /// @notice The manifest leaves of `ids` (all of model MODEL except where `models` says otherwise).
    function _leaves(DeviceId[] memory ids, uint32[] memory models) internal pure returns (bytes32[] memory leaves) {
        leaves = new bytes32[](ids.length);
        for (uint256 i; i < ids.length; ++i) leaves[i] = DeviceMessageLib.manifestLeaf(ids[i], models[i]);
    }

    /// @notice A 4-device batch whose first device is `k` (the others are ids nobody holds a key for),
    /// published by the maker. Returns its root and `k`'s proof.
    function _publishBatchWith(TestKey memory k, bytes32 salt) internal returns (bytes32 root, bytes32[] memory proof) {
        DeviceId[] memory ids = new DeviceId[](4);
        uint32[] memory models = new uint32[](4);
        ids[0] = _id(k);
        for (uint256 i = 1; i < 4; ++i) ids[i] = DeviceId.wrap(keccak256(abi.encode(salt, i)));
        for (uint256 i; i < 4; ++i) models[i] = MODEL;
        bytes32[] memory leaves = _leaves(ids, models);
        root = _merkleRoot(leaves);
        proof = _merkleProof(leaves, 0);
        vm.prank(makerSigner);
        registry.publishBatch(root, 4, "ipfs://batch");
    }
}
