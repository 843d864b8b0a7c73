// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {DeviceKeyLibHarness} from "../contracts/mocks/DeviceKeyLibHarness.sol";
import {DeviceMessageLib} from "../contracts/libraries/DeviceMessageLib.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {KeyType} from "../contracts/types/KeyType.sol";
import {Attestation, Reading, ReadingBatch, Voucher} from "../contracts/types/Messages.sol";
import {PaymentChannel} from "../contracts/accounts/PaymentChannel.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";

/// @notice The Solidity protocol definition agrees with the TypeScript one: every struct hash, digest,
/// key hash, Merkle leaf and signature in test/fixtures/vectors.json (written by scripts/gen-vectors.ts)
/// is reproduced or accepted here. Runs on osaka (P-256 precompile) and prague (Solidity fallback).
contract ProtocolVectorsTest is Test {
    bytes32 private constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );

    string private _json;
    bytes32 private _separator;
    DeviceKeyLibHarness private _lib;

    function setUp() public {
        _json = vm.readFile("test/fixtures/vectors.json");
        _separator = keccak256(
            abi.encode(
                DOMAIN_TYPEHASH,
                keccak256("DeviceTrust"),
                keccak256("1"),
                vm.parseJsonUint(_json, ".domain.chainId"),
                vm.parseJsonAddress(_json, ".domain.verifyingContract")
            )
        );
        _lib = new DeviceKeyLibHarness();
    }

    function test_domainSeparator_matchesTypeScript() public view {
        assertEq(_separator, vm.parseJsonBytes32(_json, ".domain.separator"));
    }

    function test_keyHash_matchesTypeScript() public view {
        _checkKey("p256", KeyType.P256);
        _checkKey("secp256k1", KeyType.Secp256k1);
    }

    function test_typeHashes_matchTypeScript() public view {
        assertEq(DeviceMessageLib.REGISTER_TYPEHASH, _b32("Register", "typeHash"));
        assertEq(DeviceMessageLib.ENDORSE_TYPEHASH, _b32("Endorse", "typeHash"));
        assertEq(DeviceMessageLib.ROTATE_KEY_TYPEHASH, _b32("RotateKey", "typeHash"));
        assertEq(DeviceMessageLib.ATTESTATION_TYPEHASH, _b32("Attestation", "typeHash"));
        assertEq(DeviceMessageLib.READING_TYPEHASH, _b32("Reading", "typeHash"));
        assertEq(DeviceMessageLib.READING_BATCH_TYPEHASH, _b32("ReadingBatch", "typeHash"));
        assertEq(DeviceMessageLib.VOUCHER_TYPEHASH, _b32("Voucher", "typeHash"));
        assertEq(DeviceMessageLib.COMMIT_PQ_KEY_TYPEHASH, _b32("CommitPqKey", "typeHash"));
        assertEq(DeviceMessageLib.RECOVER_KEY_TYPEHASH, _b32("RecoverKey", "typeHash"));
        assertEq(DeviceMessageLib.REPLACE_PQ_KEY_TYPEHASH, _b32("ReplacePqKey", "typeHash"));
        assertEq(DeviceMessageLib.FIRMWARE_RELEASE_TYPEHASH, _b32("FirmwareRelease", "typeHash"));
    }

    function test_register_matchesTypeScript() public view {
        (DeviceId id, address operator, uint256 nonce, uint256 deadline) = abi.decode(
            _encoded("Register"),
            (DeviceId, address, uint256, uint256)
        );
        _checkMessage("Register", DeviceMessageLib.hashRegister(id, operator, nonce, deadline));
    }

    function test_endorse_matchesTypeScript() public view {
        (DeviceId id, uint32 model) = abi.decode(_encoded("Endorse"), (DeviceId, uint32));
        _checkMessage("Endorse", DeviceMessageLib.hashEndorse(id, model));
    }

    function test_rotateKey_matchesTypeScript() public view {
        (DeviceId id, bytes32 newKeyHash, uint256 nonce, uint256 deadline) = abi.decode(
            _encoded("RotateKey"),
            (DeviceId, bytes32, uint256, uint256)
        );
        _checkMessage("RotateKey", DeviceMessageLib.hashRotateKey(id, newKeyHash, nonce, deadline));
    }

    function test_pqMessages_matchTypeScript() public view {
        (DeviceId id, uint8 scheme, bytes32 commitment, uint256 deadline) = abi.decode(
            _encoded("CommitPqKey"),
            (DeviceId, uint8, bytes32, uint256)
        );
        _checkMessage("CommitPqKey", DeviceMessageLib.hashCommitPqKey(id, scheme, commitment, deadline));
        bytes32 newKeyHash;
        uint256 nonce;
        (id, newKeyHash, nonce, deadline) = abi.decode(_encoded("RecoverKey"), (DeviceId, bytes32, uint256, uint256));
        _checkMessage("RecoverKey", DeviceMessageLib.hashRecoverKey(id, newKeyHash, nonce, deadline));
        (id, scheme, commitment, nonce, deadline) = abi.decode(
            _encoded("ReplacePqKey"),
            (DeviceId, uint8, bytes32, uint256, uint256)
        );
        _checkMessage("ReplacePqKey", DeviceMessageLib.hashReplacePqKey(id, scheme, commitment, nonce, deadline));
    }

    function test_firmwareRelease_matchesTypeScript() public view {
        (uint16 maker, uint32 model, string memory version, bytes32 measurement) = abi.decode(
            _encoded("FirmwareRelease"),
            (uint16, uint32, string, bytes32)
        );
        _checkMessage("FirmwareRelease", DeviceMessageLib.hashFirmwareRelease(maker, model, version, measurement));
    }

    function test_attestation_matchesTypeScript() public view {
        Attestation memory a = abi.decode(_encoded("Attestation"), (Attestation));
        _checkMessage("Attestation", DeviceMessageLib.hashAttestation(a));
    }

    function test_reading_matchesTypeScript() public view {
        Reading memory r = abi.decode(_encoded("Reading"), (Reading));
        _checkMessage("Reading", DeviceMessageLib.hashReading(r));
    }

    function test_readingBatch_matchesTypeScript() public view {
        ReadingBatch memory b = abi.decode(_encoded("ReadingBatch"), (ReadingBatch));
        _checkMessage("ReadingBatch", DeviceMessageLib.hashReadingBatch(b));
        assertEq(b.root, vm.parseJsonBytes32(_json, ".readingBatch.root"));
    }

    function test_voucher_matchesTypeScript() public view {
        Voucher memory v = abi.decode(_encoded("Voucher"), (Voucher));
        _checkMessage("Voucher", DeviceMessageLib.hashVoucher(v));
        assertEq(DeviceMessageLib.hashVoucher(v.channel, v.cumulativeAmount), _b32("Voucher", "structHash"));
    }

    /// @notice PaymentChannel itself, at the vectors' verifying contract on their chain, builds the digest
    /// TypeScript's VoucherSigner signed.
    function test_voucher_paymentChannelDigestMatchesTypeScript() public {
        Voucher memory v = abi.decode(_encoded("Voucher"), (Voucher));
        PaymentChannel deployed = new PaymentChannel(IDeviceRegistry(address(0xdead)), 1 hours);
        address channelAt = vm.parseJsonAddress(_json, ".domain.verifyingContract");
        vm.etch(channelAt, address(deployed).code);
        vm.chainId(vm.parseJsonUint(_json, ".domain.chainId"));
        assertEq(PaymentChannel(channelAt).voucherDigest(v.channel, v.cumulativeAmount), _b32("Voucher", "digest"));
        assertEq(PaymentChannel(channelAt).DOMAIN_SEPARATOR(), _separator);
    }

    function test_readingBatch_leafProofVerifies() public view {
        Reading memory r = abi.decode(vm.parseJsonBytes(_json, ".readingBatch.reading"), (Reading));
        bytes32 leaf = DeviceMessageLib.hashReading(r);
        assertEq(leaf, vm.parseJsonBytes32(_json, ".readingBatch.leaf"));
        bytes32[] memory proof = vm.parseJsonBytes32Array(_json, ".readingBatch.proof");
        assertTrue(MerkleProof.verify(proof, vm.parseJsonBytes32(_json, ".readingBatch.root"), leaf));
    }

    function test_manifest_proofVerifies() public view {
        DeviceId id = DeviceId.wrap(vm.parseJsonBytes32(_json, ".manifest.deviceId"));
        uint32 model = uint32(vm.parseJsonUint(_json, ".manifest.model"));
        bytes32[] memory proof = vm.parseJsonBytes32Array(_json, ".manifest.proof");
        bytes32 root = vm.parseJsonBytes32(_json, ".manifest.root");
        assertTrue(MerkleProof.verify(proof, root, DeviceMessageLib.manifestLeaf(id, model)));
        assertFalse(MerkleProof.verify(proof, root, DeviceMessageLib.manifestLeaf(id, model + 1)));
    }

    function test_signatures_fromTypeScriptVerify() public view {
        string[11] memory kinds = [
            "Register",
            "Endorse",
            "RotateKey",
            "CommitPqKey",
            "RecoverKey",
            "ReplacePqKey",
            "FirmwareRelease",
            "Attestation",
            "Reading",
            "ReadingBatch",
            "Voucher"
        ];
        for (uint256 i; i < kinds.length; ++i) {
            bytes32 digest = _b32(kinds[i], "digest");
            _checkSignature("p256", KeyType.P256, kinds[i], digest);
            _checkSignature("secp256k1", KeyType.Secp256k1, kinds[i], digest);
        }
    }

    function test_signatures_rejectedOverAnotherDigest() public view {
        bytes32 other = _b32("Reading", "digest");
        bytes memory p256Key = vm.parseJsonBytes(_json, ".keys.p256.key");
        bytes memory sig = vm.parseJsonBytes(_json, ".messages.Register.signatures.p256");
        assertFalse(_lib.isValidSignature(KeyType.P256, p256Key, other, sig));
        bytes memory k1Key = vm.parseJsonBytes(_json, ".keys.secp256k1.key");
        bytes memory k1Sig = vm.parseJsonBytes(_json, ".messages.Register.signatures.secp256k1");
        assertFalse(_lib.isValidSignature(KeyType.Secp256k1, k1Key, other, k1Sig));
    }

    function _checkKey(string memory name, KeyType keyType) private view {
        string memory path = string.concat(".keys.", name);
        assertEq(uint8(vm.parseJsonUint(_json, string.concat(path, ".keyType"))), uint8(keyType));
        bytes memory key = vm.parseJsonBytes(_json, string.concat(path, ".key"));
        assertEq(_lib.keyHash(keyType, key), vm.parseJsonBytes32(_json, string.concat(path, ".keyHash")));
        assertEq(_lib.keyHash(keyType, key), vm.parseJsonBytes32(_json, string.concat(path, ".deviceId")));
    }

    function _checkMessage(string memory kind, bytes32 structHash) private view {
        assertEq(structHash, _b32(kind, "structHash"), string.concat(kind, ": struct hash"));
        assertEq(
            MessageHashUtils.toTypedDataHash(_separator, structHash),
            _b32(kind, "digest"),
            string.concat(kind, ": digest")
        );
    }

    function _checkSignature(string memory name, KeyType keyType, string memory kind, bytes32 digest) private view {
        bytes memory key = vm.parseJsonBytes(_json, string.concat(".keys.", name, ".key"));
        bytes memory sig = vm.parseJsonBytes(_json, string.concat(".messages.", kind, ".signatures.", name));
        assertTrue(_lib.isValidSignature(keyType, key, digest, sig), string.concat(kind, " ", name, ": view"));
        _lib.checkKey(keyType, key);
        assertTrue(_lib.checkSignature(keyType, key, digest, sig), string.concat(kind, " ", name, ": check"));
    }

    function _encoded(string memory kind) private view returns (bytes memory) {
        return vm.parseJsonBytes(_json, string.concat(".messages.", kind, ".encoded"));
    }

    function _b32(string memory kind, string memory field) private view returns (bytes32) {
        return vm.parseJsonBytes32(_json, string.concat(".messages.", kind, ".", field));
    }
}
