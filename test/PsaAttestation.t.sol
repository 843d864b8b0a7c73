// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {PsaAttestation} from "../contracts/attestation/PsaAttestation.sol";
import {IDeviceAttestation} from "../contracts/interfaces/IDeviceAttestation.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {IPsaAttestation} from "../contracts/interfaces/IPsaAttestation.sol";
import {DeviceKeyLib} from "../contracts/libraries/DeviceKeyLib.sol";
import {PsaTokenLib} from "../contracts/libraries/PsaTokenLib.sol";
import {MockAppraisalRegistry} from "../contracts/mocks/MockAppraisalRegistry.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {DeviceStatus} from "../contracts/types/DeviceStatus.sol";
import {KeyType} from "../contracts/types/KeyType.sol";
import {AttestationFixture} from "./utils/AttestationFixture.sol";
import {TestKey} from "./utils/RegistryFixture.sol";

/// @notice One software component of a PSA token, as the test builds it (empty texts are left out).
struct PsaComponent {
    string measurementType;
    bytes measurementValue;
    string version;
    bytes signerId;
    string description;
}

/// @notice The claims of a PSA token, as the test builds them (empty optional claims are left out).
struct PsaClaims {
    bytes nonce;
    bytes instanceId;
    int256 clientId;
    uint256 lifecycle;
    bytes implementationId;
    bytes bootSeed;
    string certificationReference;
    PsaComponent[] components;
    string verificationService;
}

/// @notice One claims-map entry, encoded: a test reorders, repeats, drops or adds entries.
struct Entry {
    bytes key;
    bytes value;
}

/// @notice Deterministic CBOR and COSE_Sign1 in the exact layout src/device/psa-token.ts emits.
abstract contract PsaTokenBuilder {
    bytes internal constant COSE_HEAD = hex"d28443a10126a0";
    bytes internal constant SIG_STRUCTURE_PREFIX = hex"846a5369676e61747572653143a1012640";
    string internal constant PROFILE = "tag:psacertified.org,2023:psa#tfm";

    /// @notice A CBOR head in its shortest form.
    function _cbor(uint8 major, uint256 arg) internal pure returns (bytes memory) {
        uint8 m = major << 5;
        if (arg < 24) return abi.encodePacked(m | uint8(arg));
        if (arg < 0x100) return abi.encodePacked(m | 24, uint8(arg));
        if (arg < 0x10000) return abi.encodePacked(m | 25, uint16(arg));
        if (arg < 0x100000000) return abi.encodePacked(m | 26, uint32(arg));
        return abi.encodePacked(m | 27, uint64(arg));
    }

    function _uint(uint256 v) internal pure returns (bytes memory) {
        return _cbor(0, v);
    }

    function _int(int256 v) internal pure returns (bytes memory) {
        return v >= 0 ? _cbor(0, uint256(v)) : _cbor(1, uint256(-1 - v));
    }

    function _bstr(bytes memory b) internal pure returns (bytes memory) {
        return bytes.concat(_cbor(2, b.length), b);
    }

    function _tstr(string memory s) internal pure returns (bytes memory) {
        return bytes.concat(_cbor(3, bytes(s).length), bytes(s));
    }

    function _component(PsaComponent memory c) internal pure returns (bytes memory out) {
        uint256 n = 2;
        if (bytes(c.measurementType).length != 0) ++n;
        if (bytes(c.version).length != 0) ++n;
        if (bytes(c.description).length != 0) ++n;
        out = _cbor(5, n);
        if (bytes(c.measurementType).length != 0) out = bytes.concat(out, hex"01", _tstr(c.measurementType));
        out = bytes.concat(out, hex"02", _bstr(c.measurementValue));
        if (bytes(c.version).length != 0) out = bytes.concat(out, hex"04", _tstr(c.version));
        out = bytes.concat(out, hex"05", _bstr(c.signerId));
        if (bytes(c.description).length != 0) out = bytes.concat(out, hex"06", _tstr(c.description));
    }

    function _components(PsaComponent[] memory cs) internal pure returns (bytes memory out) {
        out = _cbor(4, cs.length);
        for (uint256 i; i < cs.length; ++i) out = bytes.concat(out, _component(cs[i]));
    }

    /// @notice The claims map's entries, keys ascending, as the TypeScript builder writes them.
    function _entries(PsaClaims memory c) internal pure returns (Entry[] memory e) {
        e = new Entry[](0);
        e = _appended(e, Entry(_uint(10), _bstr(c.nonce)));
        e = _appended(e, Entry(_uint(256), _bstr(c.instanceId)));
        e = _appended(e, Entry(_uint(265), _tstr(PROFILE)));
        e = _appended(e, Entry(_uint(2394), _int(c.clientId)));
        e = _appended(e, Entry(_uint(2395), _uint(c.lifecycle)));
        e = _appended(e, Entry(_uint(2396), _bstr(c.implementationId)));
        if (c.bootSeed.length != 0) e = _appended(e, Entry(_uint(2397), _bstr(c.bootSeed)));
        if (bytes(c.certificationReference).length != 0) {
            e = _appended(e, Entry(_uint(2398), _tstr(c.certificationReference)));
        }
        e = _appended(e, Entry(_uint(2399), _components(c.components)));
        if (bytes(c.verificationService).length != 0) {
            e = _appended(e, Entry(_uint(2400), _tstr(c.verificationService)));
        }
    }

    function _appended(Entry[] memory e, Entry memory x) internal pure returns (Entry[] memory) {
        return _withInserted(e, e.length, x);
    }

    function _map(Entry[] memory e) internal pure returns (bytes memory out) {
        out = _cbor(5, e.length);
        for (uint256 i; i < e.length; ++i) out = bytes.concat(out, e[i].key, e[i].value);
    }

    function _payload(PsaClaims memory c) internal pure returns (bytes memory) {
        return _map(_entries(c));
    }

    /// @notice SHA-256 of the Sig_structure over `payload`: what ES256 signs.
    function _messageHash(bytes memory payload) internal pure returns (bytes32) {
        return sha256(bytes.concat(SIG_STRUCTURE_PREFIX, _bstr(payload)));
    }

    /// @notice SHA-256 of the Sig_structure over a protected header (the bstr's content) and `payload`, in
    /// deterministic encoding whatever the token's own (RFC 9052 §9).
    function _messageHash(bytes memory protectedHeader, bytes memory payload) internal pure returns (bytes32) {
        return sha256(bytes.concat(hex"846a5369676e617475726531", _bstr(protectedHeader), hex"40", _bstr(payload)));
    }

    function _coseSign1(bytes memory payload, bytes32 r, bytes32 s) internal pure returns (bytes memory) {
        return bytes.concat(COSE_HEAD, _bstr(payload), hex"5840", r, s);
    }

    function _without(Entry[] memory e, uint256 index) internal pure returns (Entry[] memory out) {
        out = new Entry[](e.length - 1);
        for (uint256 i; i < out.length; ++i) out[i] = e[i < index ? i : i + 1];
    }

    function _withInserted(Entry[] memory e, uint256 index, Entry memory x) internal pure returns (Entry[] memory out) {
        out = new Entry[](e.length + 1);
        for (uint256 i; i < out.length; ++i)
            out[i] =
                i < index
                    ? e[i]
                    : i == index
                        ? x
                        : e[i - 1];
    }

    function _fold(PsaComponent[] memory cs) internal pure returns (bytes32 m) {
        for (uint256 i; i < cs.length; ++i) m = sha256(abi.encodePacked(m, bytes32(cs[i].measurementValue)));
    }

    function _instanceId(bytes memory key) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(1), sha256(abi.encodePacked(uint8(4), key)));
    }

    function _slice(bytes memory b, uint256 from, uint256 to) internal pure returns (bytes memory out) {
        out = new bytes(to - from);
        for (uint256 i; i < out.length; ++i) out[i] = b[from + i];
    }
}

/// @notice PsaAttestation against the real registry, with tokens built here in the exact layout the
/// TypeScript builder emits and signed by a P-256 test key (the device's key): every rule of the decoder, the
/// appraisal and the registry's `recordAppraisedEvidence`, one change at a time.
contract PsaAttestationTest is AttestationFixture, PsaTokenBuilder {
    /// @dev Where each key sits inside the typical claims map, from the map's head (src/device/psa-token.ts's
    /// layout: the nonce's key is at 1).
    uint256 internal constant AT_INSTANCE_ID = 36;
    uint256 internal constant AT_PROFILE = 74;
    uint256 internal constant AT_CLIENT_ID = 112;
    uint256 internal constant AT_LIFECYCLE = 116;
    uint256 internal constant AT_IMPLEMENTATION_ID = 122;
    uint256 internal constant AT_BOOT_SEED = 159;
    /// @dev The first software component's map; inside it, the version's text and the signer id's string.
    uint256 internal constant AT_FIRST_COMPONENT = 200;
    uint256 internal constant AT_VERSION_TEXT = 42;
    uint256 internal constant AT_SIGNER_ID = 48;

    PsaAttestation internal psa;
    TestKey internal device;
    DeviceId internal id;
    uint32 internal firmwareV1;
    bytes32 internal measurementV1;

    function setUp() public override {
        super.setUp();
        psa = new PsaAttestation(IDeviceRegistry(address(registry)));
        bytes32 appraiserRole = registry.APPRAISER_ROLE();
        vm.prank(governor);
        registry.grantRole(appraiserRole, address(psa));
        device = _p256Key(P256_PK);
        id = _register(device);
        measurementV1 = _fold(_releaseComponents());
        firmwareV1 = _publish(MODEL, "1.0.0", measurementV1);
    }

    // ------------------------------------------------------------------ builders

    function _releaseComponents() internal pure returns (PsaComponent[] memory cs) {
        cs = new PsaComponent[](3);
        bytes memory signer = abi.encodePacked(keccak256("bootloader signer"));
        cs[0] = PsaComponent("BL", abi.encodePacked(sha256("bootloader 3.1.0")), "3.1.0", signer, "");
        cs[1] = PsaComponent("PRoT", abi.encodePacked(sha256("tf-m 2.1.0")), "2.1.0", signer, "");
        cs[2] = PsaComponent(
            "App",
            abi.encodePacked(sha256("app 1.4.2")),
            "1.4.2",
            abi.encodePacked(keccak256("app")),
            ""
        );
    }

    /// @notice The typical token's claims over `nonce`, for the device's key.
    function _claims(bytes32 nonce) internal view returns (PsaClaims memory c) {
        c.nonce = abi.encodePacked(nonce);
        c.instanceId = _instanceId(device.key);
        c.clientId = -1;
        c.lifecycle = 0x3000;
        c.implementationId = abi.encodePacked(keccak256("implementation"));
        c.bootSeed = abi.encodePacked(keccak256("boot seed"));
        c.components = _releaseComponents();
    }

    /// @notice A token over `payload` signed by `k` (low s).
    function _signToken(TestKey memory k, bytes memory payload) internal pure returns (bytes memory) {
        (bytes32 r, bytes32 s) = vm.signP256(k.privateKey, _messageHash(payload));
        if (uint256(s) > P256_N / 2) s = bytes32(P256_N - uint256(s));
        return _coseSign1(payload, r, s);
    }

    function _token(PsaClaims memory c) internal view returns (bytes memory) {
        return _signToken(device, _payload(c));
    }

    function _issue() internal returns (bytes32 nonce) {
        vm.prank(operator);
        nonce = registry.issueChallenge(id);
    }

    /// @notice A fresh nonce, a typical token over it, submitted.
    function _attestNow() internal returns (bytes32 nonce) {
        nonce = _issue();
        psa.attestPsaToken(id, _token(_claims(nonce)), device.key);
    }

    function _expectRevertOn(bytes memory token, bytes memory err) internal {
        if (err.length == 0) vm.expectRevert();
        else vm.expectRevert(err);
        psa.attestPsaToken(id, token, device.key);
    }

    /// @notice `payload` signed, submitted over a pending nonce, expected to fail with `err`.
    function _expectPayloadRevert(bytes memory payload, bytes memory err) internal {
        _issue();
        _expectRevertOn(_signToken(device, payload), err);
    }

    function _expectClaimsRevert(PsaClaims memory c, bytes memory err) internal {
        _expectPayloadRevert(_payload(c), err);
    }

    function _expectEntriesRevert(Entry[] memory e, bytes memory err) internal {
        _expectPayloadRevert(_map(e), err);
    }

    /// @notice Offset of the claims map inside a token whose payload is `payloadLength` bytes.
    function _payloadStart(uint256 payloadLength) internal pure returns (uint256) {
        return 7 + _cbor(2, payloadLength).length;
    }

    // ------------------------------------------------------------------ acceptance

    function test_attestPsaToken_recordsEvidence() public {
        bytes32 nonce = _issue();
        uint64 issuedAt = uint64(block.timestamp);
        assertEq(uint64(uint256(nonce)), issuedAt, "the nonce's low 64 bits are its issue time");
        bytes memory token = _token(_claims(nonce));
        assertEq(token.length, 525, "the typical layout");
        vm.warp(block.timestamp + 10 minutes);
        vm.expectEmit(address(registry));
        emit IDeviceAttestation.DeviceAttested(id, firmwareV1, issuedAt, issuedAt);
        psa.attestPsaToken(id, token, device.key);

        assertTrue(registry.isTrusted(id, 1 hours));
        IDeviceAttestation.Evidence memory e = registry.evidenceOf(id);
        assertEq(e.firmwareId, firmwareV1);
        assertEq(e.timestamp, issuedAt, "known fresh from the issue only");
        assertEq(e.bootCount, issuedAt, "the counter is the nonce's issue time");
        assertEq(registry.challengeOf(id), bytes32(0), "consumed");
    }

    function test_attestPsaToken_laterTokensMoveTheCounter() public {
        _attestNow();
        vm.warp(block.timestamp + 1);
        bytes32 second = _attestNow();
        assertEq(registry.evidenceOf(id).bootCount, uint64(uint256(second)));
    }

    function test_attestPsaToken_minimalToken() public {
        PsaClaims memory c = _claims(_issue());
        c.clientId = 1;
        c.bootSeed = "";
        PsaComponent[] memory one = new PsaComponent[](1);
        one[0] = PsaComponent("", abi.encodePacked(sha256("firmware 1.0.0")), "", abi.encodePacked(keccak256("s")), "");
        c.components = one;
        _publish(MODEL, "minimal", _fold(one));
        bytes memory token = _token(c);
        assertEq(uint8(token[8]), 0xea, "a one-byte payload length");
        psa.attestPsaToken(id, token, device.key);
        assertTrue(registry.isTrusted(id, 1 hours));
    }

    function test_attestPsaToken_fullToken() public {
        PsaClaims memory c = _claims(_issue());
        c.lifecycle = 0x30a5;
        c.certificationReference = "1234567890123-12345";
        c.verificationService = "https://verifier.devicetrust.example";
        c.components[2].description = "sha-256";
        c.components[1].signerId = abi.encodePacked(keccak256("a"), bytes16(keccak256("b"))); // SHA-384 signer
        psa.attestPsaToken(id, _token(c), device.key);
        assertEq(registry.evidenceOf(id).firmwareId, firmwareV1);
    }

    function test_attestPsaToken_acceptsUtf8Text() public {
        PsaClaims memory c = _claims(_issue());
        // "é" (2 bytes), "€" (3), "𝄞" (4), around ASCII, in a text longer than a word.
        c.components[0].version = unicode"3.1.0-é€𝄞 release candidate with a long name";
        psa.attestPsaToken(id, _token(c), device.key);
        assertTrue(registry.isTrusted(id, 1 hours));
    }

    function test_attestPsaToken_acceptsNonPsaRotDebug() public {
        PsaClaims memory c = _claims(_issue());
        c.lifecycle = 0x40ff;
        psa.attestPsaToken(id, _token(c), device.key);
        assertTrue(registry.isTrusted(id, 1 hours));
    }

    function test_attestPsaToken_acceptsSecuredMinorStates() public {
        uint256[2] memory lifecycles = [uint256(0x3000), 0x30ff];
        for (uint256 i; i < 2; ++i) {
            vm.warp(block.timestamp + 1);
            PsaClaims memory c = _claims(_issue());
            c.lifecycle = lifecycles[i];
            psa.attestPsaToken(id, _token(c), device.key);
        }
    }

    function test_psaProfile() public view {
        assertEq(psa.psaProfile(), PROFILE);
        assertEq(address(psa.registry()), address(registry));
    }

    // ------------------------------------------------------------------ appraisal

    function test_attestPsaToken_RevertWhen_lifecycleNotTrusted() public {
        uint256[6] memory states = [uint256(0x0000), 0x1000, 0x2000, 0x20ff, 0x5000, 0x60ff];
        for (uint256 i; i < states.length; ++i) {
            PsaClaims memory c = _claims(_issue());
            c.lifecycle = states[i];
            _expectRevertOn(
                _token(c),
                abi.encodeWithSelector(IPsaAttestation.PsaAttestationUntrustedLifecycle.selector, id, uint16(states[i]))
            );
        }
    }

    function test_attestPsaToken_RevertWhen_instanceIdOfAnotherKey() public {
        PsaClaims memory c = _claims(_issue());
        TestKey memory other = _p256Key(P256_PK_2);
        c.instanceId = _instanceId(other.key);
        _expectRevertOn(
            _token(c),
            abi.encodeWithSelector(
                IPsaAttestation.PsaAttestationWrongInstanceId.selector,
                id,
                sha256(abi.encodePacked(uint8(4), other.key)),
                sha256(abi.encodePacked(uint8(4), device.key))
            )
        );
    }

    function test_attestPsaToken_RevertWhen_anotherKeySigned() public {
        bytes memory payload = _payload(_claims(_issue()));
        bytes memory token = _signToken(_p256Key(P256_PK_2), payload);
        _expectRevertOn(token, abi.encodeWithSelector(IPsaAttestation.PsaAttestationInvalidSignature.selector, id));
    }

    function test_attestPsaToken_RevertWhen_keyIsNotTheDevices() public {
        TestKey memory other = _p256Key(P256_PK_2);
        PsaClaims memory c = _claims(_issue());
        c.instanceId = _instanceId(other.key);
        bytes memory token = _signToken(other, _payload(c));
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryWrongKey.selector, id, other.keyHash));
        psa.attestPsaToken(id, token, other.key);
    }

    function test_attestPsaToken_RevertWhen_keyNot64Bytes() public {
        bytes memory token = _token(_claims(_issue()));
        vm.expectRevert(abi.encodeWithSelector(IPsaAttestation.PsaAttestationBadKey.selector, 65));
        psa.attestPsaToken(id, token, bytes.concat(device.key, hex"00"));
    }

    function test_attestPsaToken_RevertWhen_keyOffTheCurve() public {
        bytes memory token = _token(_claims(_issue()));
        bytes memory bad = bytes.concat(device.key);
        bad[63] ^= 0x01;
        vm.expectRevert(abi.encodeWithSelector(IPsaAttestation.PsaAttestationInvalidSignature.selector, id));
        psa.attestPsaToken(id, token, bad);
    }

    function test_attestPsaToken_RevertWhen_highS() public {
        bytes memory payload = _payload(_claims(_issue()));
        (bytes32 r, bytes32 s) = vm.signP256(device.privateKey, _messageHash(payload));
        if (uint256(s) <= P256_N / 2) s = bytes32(P256_N - uint256(s));
        _expectRevertOn(_coseSign1(payload, r, s), abi.encodeWithSelector(DeviceKeyLib.DeviceKeyHighS.selector, s));
    }

    function test_attestPsaToken_RevertWhen_signatureOutOfRange() public {
        bytes memory payload = _payload(_claims(_issue()));
        _expectRevertOn(
            _coseSign1(payload, bytes32(P256_N), bytes32(uint256(1))),
            abi.encodeWithSelector(DeviceKeyLib.DeviceKeySignatureOutOfRange.selector, bytes32(P256_N), uint256(1))
        );
        _expectRevertOn(
            _coseSign1(payload, bytes32(uint256(1)), bytes32(0)),
            abi.encodeWithSelector(DeviceKeyLib.DeviceKeySignatureOutOfRange.selector, uint256(1), bytes32(0))
        );
    }

    // ------------------------------------------------------------------ freshness and the registry

    function test_attestPsaToken_RevertWhen_replayed() public {
        bytes32 nonce = _issue();
        bytes memory token = _token(_claims(nonce));
        psa.attestPsaToken(id, token, device.key);
        vm.warp(block.timestamp + 1);
        _expectRevertOn(
            token,
            abi.encodeWithSelector(IDeviceAttestation.AttestationStaleChallenge.selector, id, nonce, 0)
        );
    }

    function test_attestPsaToken_RevertWhen_nonceIsABlockHash() public {
        (, bytes32 challenge) = _nextBlockChallenge();
        _issue();
        _expectRevertOn(
            _token(_claims(challenge)),
            abi.encodeWithSelector(IDeviceAttestation.AttestationStaleChallenge.selector, id, challenge, 0)
        );
    }

    function test_attestPsaToken_RevertWhen_nonceReplacedByANewerOne() public {
        bytes32 first = _issue();
        bytes memory token = _token(_claims(first));
        _issue();
        _expectRevertOn(
            token,
            abi.encodeWithSelector(IDeviceAttestation.AttestationStaleChallenge.selector, id, first, 0)
        );
    }

    function test_attestPsaToken_RevertWhen_nonceOlderThanMaxAge() public {
        bytes32 nonce = _issue();
        bytes memory token = _token(_claims(nonce));
        vm.warp(block.timestamp + registry.MAX_EVIDENCE_AGE() + 1);
        _expectRevertOn(
            token,
            abi.encodeWithSelector(IDeviceAttestation.AttestationStaleChallenge.selector, id, nonce, 0)
        );
    }

    function test_attestPsaToken_RevertWhen_sameSecondAsTheLatest() public {
        _attestNow();
        // A second nonce in the same second: the evidence would not be newer.
        bytes32 nonce = _issue();
        _expectRevertOn(
            _token(_claims(nonce)),
            abi.encodeWithSelector(
                IDeviceAttestation.AttestationNotNewer.selector,
                id,
                uint64(block.timestamp),
                uint64(block.timestamp)
            )
        );
    }

    function test_attestPsaToken_RevertWhen_unknownMeasurement() public {
        PsaClaims memory c = _claims(_issue());
        c.components[2].measurementValue = abi.encodePacked(sha256("a patched app"));
        _expectRevertOn(
            _token(c),
            abi.encodeWithSelector(IDeviceAttestation.AttestationUnknownMeasurement.selector, id, _fold(c.components))
        );
    }

    function test_attestPsaToken_RevertWhen_componentsReordered() public {
        PsaClaims memory c = _claims(_issue());
        (c.components[0], c.components[1]) = (c.components[1], c.components[0]);
        _expectRevertOn(
            _token(c),
            abi.encodeWithSelector(IDeviceAttestation.AttestationUnknownMeasurement.selector, id, _fold(c.components))
        );
    }

    function test_attestPsaToken_RevertWhen_deviceRevoked() public {
        bytes32 nonce = _issue();
        bytes memory token = _token(_claims(nonce));
        vm.prank(governor);
        registry.revoke(id, "compromised");
        _expectRevertOn(
            token,
            abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryTerminal.selector, id, DeviceStatus.Revoked)
        );
    }

    function test_attestPsaToken_RevertWhen_notAnAppraiser() public {
        bytes32 nonce = _issue();
        bytes memory token = _token(_claims(nonce));
        bytes32 appraiserRole = registry.APPRAISER_ROLE();
        vm.prank(governor);
        registry.revokeRole(appraiserRole, address(psa));
        _expectRevertOn(
            token,
            abi.encodeWithSelector(IDeviceAttestation.AttestationNotAppraiser.selector, address(psa))
        );
    }

    // ------------------------------------------------------------------ COSE_Sign1

    /// @notice The typical token with its first `headLength` bytes replaced by `head`.
    function _withHead(bytes memory head, uint256 headLength) internal returns (bytes memory) {
        bytes memory token = _token(_claims(_issue()));
        return bytes.concat(head, _slice(token, headLength, token.length));
    }

    function test_attestPsaToken_RevertWhen_wrongTag() public {
        _expectRevertOn(_withHead(hex"d3", 1), abi.encodeWithSelector(PsaTokenLib.PsaTokenWrongTag.selector, 6, 19));
        // COSE_Sign1 untagged (RFC 9052 allows it where the context says; this profile does not).
        _expectRevertOn(_withHead(hex"", 1), abi.encodeWithSelector(PsaTokenLib.PsaTokenWrongTag.selector, 4, 4));
        // COSE_Mac0's tag.
        _expectRevertOn(_withHead(hex"d1", 1), abi.encodeWithSelector(PsaTokenLib.PsaTokenWrongTag.selector, 6, 17));
    }

    /// @notice The typical token's parts under another envelope: `head` is everything before the payload's
    /// content (tag, array, headers and the payload's string head), `protectedHeader` the protected bstr's
    /// content the device signs, `signatureHead` the signature string's head.
    function _variant(
        bytes memory protectedHeader,
        bytes memory head,
        bytes memory payload,
        bytes memory signatureHead
    ) internal view returns (bytes memory) {
        (bytes32 r, bytes32 s) = vm.signP256(device.privateKey, _messageHash(protectedHeader, payload));
        if (uint256(s) > P256_N / 2) s = bytes32(P256_N - uint256(s));
        return bytes.concat(head, payload, signatureHead, r, s);
    }

    /// @notice `token` is accepted over the pending nonce `nonce`: the evidence's counter is its issue time.
    function _expectAccepted(bytes memory token, bytes32 nonce) internal {
        psa.attestPsaToken(id, token, device.key);
        assertEq(registry.evidenceOf(id).bootCount, uint64(uint256(nonce)), "recorded");
        assertTrue(registry.isTrusted(id, 1 hours));
        vm.warp(block.timestamp + 1);
    }

    /// @notice RFC 9783 §5: an attester need not emit preferred serialization, and the verifier takes every
    /// variation: arguments in longer forms than they need, map keys in any order, headers beside alg.
    function test_attestPsaToken_acceptsSerializationVariants() public {
        // The tag in a one-byte argument (d8 12): the same signature, as the tag is not signed.
        bytes memory token = _withHead(hex"d812", 1);
        _expectAccepted(token, _lastIssued());
        // Every head in its longest form: tag, array, protected bstr and its map, alg, the empty unprotected
        // map, the payload's string (8-byte length), the signature's string.
        bytes32 nonce = _issue();
        bytes memory payload = _payload(_claims(nonce));
        bytes memory longAlg = hex"bb00000000000000011b00000000000000013b0000000000000006";
        bytes memory head = bytes.concat(
            hex"db0000000000000012", // tag 18
            hex"9b0000000000000004", // array of 4
            hex"5b",
            bytes8(uint64(longAlg.length)),
            longAlg,
            hex"bb0000000000000000", // unprotected: {}
            hex"5b",
            bytes8(uint64(payload.length))
        );
        _expectAccepted(_variant(longAlg, head, payload, hex"5b0000000000000040"), nonce);
        // A key id in the protected header.
        nonce = _issue();
        payload = _payload(_claims(nonce));
        _expectAccepted(
            _variant(
                hex"a201260441aa",
                bytes.concat(hex"d28446a201260441aaa0", _cbor(2, payload.length)),
                payload,
                hex"5840"
            ),
            nonce
        );
        // A key id and a certificate chain (x5chain, 33) in the unprotected header; a content type (3) beside alg.
        nonce = _issue();
        payload = _payload(_claims(nonce));
        head = bytes.concat(
            hex"d28446a2012603183d", // protected {1: -7, 3: 61}
            hex"a204582001020304050607080910111213141516171819202122232425262728293031321821824301020342aabb",
            _cbor(2, payload.length)
        );
        _expectAccepted(_variant(hex"a2012603183d", head, payload, hex"5840"), nonce);
    }

    /// @notice The nonce issued last (the one _withHead signed over).
    function _lastIssued() internal view returns (bytes32) {
        return registry.challengeOf(id);
    }

    function test_attestPsaToken_RevertWhen_notAnArrayOfFour() public {
        _expectRevertOn(
            _withHead(hex"d283", 2),
            abi.encodeWithSelector(PsaTokenLib.PsaTokenUnexpectedItem.selector, 1, 4, 3)
        );
        _expectRevertOn(
            _withHead(hex"d2a4", 2),
            abi.encodeWithSelector(PsaTokenLib.PsaTokenUnexpectedItem.selector, 1, 5, 4)
        );
        _expectRevertOn(
            _withHead(hex"d29f", 2),
            abi.encodeWithSelector(PsaTokenLib.PsaTokenIndefiniteLength.selector, 1)
        );
    }

    /// @notice The typical token with its first 7 bytes (tag, array and both headers) replaced by `head`,
    /// refused with `err`.
    function _expectHeadersRevert(bytes memory head, bytes memory err) internal {
        _expectRevertOn(_withHead(head, 7), err);
    }

    function test_attestPsaToken_RevertWhen_wrongProtectedHeader() public {
        // ES384 (-35); EdDSA (-8); an unsigned algorithm; alg as text.
        _expectHeadersRevert(
            hex"d28444a1013822a0",
            abi.encodeWithSelector(PsaTokenLib.PsaTokenWrongAlgorithm.selector, -35)
        );
        _expectHeadersRevert(
            hex"d28443a10127a0",
            abi.encodeWithSelector(PsaTokenLib.PsaTokenWrongAlgorithm.selector, -8)
        );
        _expectHeadersRevert(
            hex"d28443a10105a0",
            abi.encodeWithSelector(PsaTokenLib.PsaTokenWrongAlgorithm.selector, 5)
        );
        _expectHeadersRevert(
            hex"d28448a101654553323536a0",
            abi.encodeWithSelector(PsaTokenLib.PsaTokenUnexpectedItem.selector, 5, 3, 5)
        );
        // Empty (no protected header), and a protected header without alg.
        _expectHeadersRevert(hex"d28440a0", abi.encodeWithSelector(PsaTokenLib.PsaTokenMissingAlgorithm.selector));
        _expectHeadersRevert(
            hex"d28444a10441aaa0",
            abi.encodeWithSelector(PsaTokenLib.PsaTokenMissingAlgorithm.selector)
        );
    }

    function test_attestPsaToken_RevertWhen_protectedHeaderBreaksARule() public {
        // Critical headers: none is understood here.
        _expectHeadersRevert(
            hex"d28446a20126028101a0",
            abi.encodeWithSelector(PsaTokenLib.PsaTokenCriticalHeader.selector)
        );
        // alg twice; a label in text; a label above 127; a byte after the map.
        _expectHeadersRevert(
            hex"d28445a201260126a0",
            abi.encodeWithSelector(PsaTokenLib.PsaTokenDuplicateHeader.selector, 6, 1)
        );
        _expectHeadersRevert(
            hex"d28448a2012663616c6701a0",
            abi.encodeWithSelector(PsaTokenLib.PsaTokenUnsupportedHeaderLabel.selector, 6, 3, 3)
        );
        _expectHeadersRevert(
            hex"d28446a20126188001a0",
            abi.encodeWithSelector(PsaTokenLib.PsaTokenUnsupportedHeaderLabel.selector, 6, 0, 128)
        );
        _expectHeadersRevert(
            hex"d28444a1012600a0",
            abi.encodeWithSelector(PsaTokenLib.PsaTokenTrailingBytes.selector, 6, 7)
        );
        // The header map itself, not wrapped in a byte string.
        _expectHeadersRevert(
            hex"d284a10126a0",
            abi.encodeWithSelector(PsaTokenLib.PsaTokenUnexpectedItem.selector, 2, 5, 1)
        );
    }

    function test_attestPsaToken_RevertWhen_unprotectedHeaderBreaksARule() public {
        // alg again (it is protected already), -7 or another; crit; a map as a header's value; an array of text.
        _expectHeadersRevert(
            hex"d28443a10126a10126",
            abi.encodeWithSelector(PsaTokenLib.PsaTokenDuplicateHeader.selector, 7, 1)
        );
        _expectHeadersRevert(
            hex"d28443a10126a10127",
            abi.encodeWithSelector(PsaTokenLib.PsaTokenDuplicateHeader.selector, 7, 1)
        );
        _expectHeadersRevert(
            hex"d28443a10126a1028101",
            abi.encodeWithSelector(PsaTokenLib.PsaTokenCriticalHeader.selector)
        );
        _expectHeadersRevert(
            hex"d28443a10126a104a0",
            abi.encodeWithSelector(PsaTokenLib.PsaTokenUnexpectedItem.selector, 8, 5, 0)
        );
        _expectHeadersRevert(
            hex"d28443a10126a118218161",
            abi.encodeWithSelector(PsaTokenLib.PsaTokenUnexpectedItem.selector, 10, 3, 1)
        );
        // A negative label twice (-1: an algorithm's parameter).
        _expectHeadersRevert(
            hex"d28443a10126a2200020",
            abi.encodeWithSelector(PsaTokenLib.PsaTokenDuplicateHeader.selector, 9, -1)
        );
        _expectHeadersRevert(
            hex"d28443a10126bfff",
            abi.encodeWithSelector(PsaTokenLib.PsaTokenIndefiniteLength.selector, 6)
        );
        _expectHeadersRevert(
            hex"d28443a1012640",
            abi.encodeWithSelector(PsaTokenLib.PsaTokenUnexpectedItem.selector, 6, 2, 0)
        );
    }

    function test_attestPsaToken_RevertWhen_payloadIndefiniteOrDetached() public {
        bytes memory payload = _payload(_claims(_issue()));
        bytes memory sig = abi.encodePacked(hex"5840", bytes32(uint256(1)), bytes32(uint256(1)));
        // In chunks.
        _expectRevertOn(
            bytes.concat(COSE_HEAD, hex"5f", _bstr(payload), hex"ff", sig),
            abi.encodeWithSelector(PsaTokenLib.PsaTokenIndefiniteLength.selector, 7)
        );
        // Detached (nil).
        _expectRevertOn(
            bytes.concat(COSE_HEAD, hex"f6", sig),
            abi.encodeWithSelector(PsaTokenLib.PsaTokenUnexpectedItem.selector, 7, 7, 22)
        );
    }

    function test_attestPsaToken_RevertWhen_signatureWrongSize() public {
        bytes memory payload = _payload(_claims(_issue()));
        uint256 offset = 7 + _cbor(2, payload.length).length + payload.length;
        _expectRevertOn(
            bytes.concat(COSE_HEAD, _bstr(payload), _bstr(new bytes(63))),
            abi.encodeWithSelector(PsaTokenLib.PsaTokenWrongSize.selector, offset, 63)
        );
        // A DER signature.
        _expectRevertOn(
            bytes.concat(COSE_HEAD, _bstr(payload), _bstr(new bytes(72))),
            abi.encodeWithSelector(PsaTokenLib.PsaTokenWrongSize.selector, offset, 72)
        );
    }

    function test_attestPsaToken_RevertWhen_trailingBytes() public {
        bytes memory token = _token(_claims(_issue()));
        _expectRevertOn(
            bytes.concat(token, hex"00"),
            abi.encodeWithSelector(PsaTokenLib.PsaTokenTrailingBytes.selector, token.length, token.length + 1)
        );
    }

    function test_attestPsaToken_RevertWhen_trailingBytesInsideThePayload() public {
        bytes memory map = _payload(_claims(_issue()));
        bytes memory payload = bytes.concat(map, hex"00");
        uint256 start = _payloadStart(payload.length);
        _expectPayloadRevert(
            payload,
            abi.encodeWithSelector(
                PsaTokenLib.PsaTokenTrailingBytes.selector,
                start + map.length,
                start + payload.length
            )
        );
    }

    function test_attestPsaToken_RevertWhen_truncated() public {
        bytes memory token = _token(_claims(_issue()));
        for (uint256 cut = 1; cut < token.length; cut += 5) {
            _expectRevertOn(_slice(token, 0, token.length - cut), "");
        }
        _expectRevertOn(
            _slice(token, 0, token.length - 1),
            abi.encodeWithSelector(PsaTokenLib.PsaTokenTruncated.selector, token.length, token.length - 1)
        );
        _expectRevertOn(hex"", abi.encodeWithSelector(PsaTokenLib.PsaTokenTruncated.selector, 1, 0));
    }

    function test_attestPsaToken_RevertWhen_claimsOverrunThePayload() public {
        bytes memory map = _payload(_claims(_issue()));
        // The payload's string ends one byte early: the claims map runs past it.
        bytes memory token = bytes.concat(
            COSE_HEAD,
            _bstr(_slice(map, 0, map.length - 1)),
            _slice(map, map.length - 1, map.length)
        );
        uint256 end = _payloadStart(map.length - 1) + map.length - 1;
        _expectRevertOn(token, abi.encodeWithSelector(PsaTokenLib.PsaTokenTruncated.selector, end + 1, end));
    }

    function test_attestPsaToken_RevertWhen_reservedOrBreak() public {
        Entry[] memory e = _entries(_claims(_issue()));
        e[3].value = hex"1c"; // additional information 28 (reserved)
        uint256 offset = _payloadStart(_map(e).length) + AT_CLIENT_ID + 3;
        _expectEntriesRevert(e, abi.encodeWithSelector(PsaTokenLib.PsaTokenMalformed.selector, offset, 0x1c));
        e[3].value = hex"ff"; // a break outside an indefinite-length item
        _expectEntriesRevert(e, abi.encodeWithSelector(PsaTokenLib.PsaTokenMalformed.selector, offset, 0xff));
    }

    // ------------------------------------------------------------------ claims map

    function test_attestPsaToken_RevertWhen_claimsMapIndefinite() public {
        Entry[] memory e = _entries(_claims(_issue()));
        bytes memory payload = bytes.concat(hex"bf", _slice(_map(e), 1, _map(e).length), hex"ff");
        _expectPayloadRevert(
            payload,
            abi.encodeWithSelector(PsaTokenLib.PsaTokenIndefiniteLength.selector, _payloadStart(payload.length))
        );
    }

    function test_attestPsaToken_RevertWhen_payloadNotAMap() public {
        bytes memory payload = bytes.concat(hex"88", _slice(_payload(_claims(_issue())), 1, 10));
        _expectPayloadRevert(
            payload,
            abi.encodeWithSelector(PsaTokenLib.PsaTokenUnexpectedItem.selector, _payloadStart(payload.length), 4, 8)
        );
    }

    /// @notice Claims in any order, as an encoder that writes them as it adds them does: here reversed.
    function test_attestPsaToken_acceptsClaimsInAnyOrder() public {
        bytes32 nonce = _issue();
        Entry[] memory e = _entries(_claims(nonce));
        Entry[] memory reversed = new Entry[](e.length);
        for (uint256 i; i < e.length; ++i) reversed[i] = e[e.length - 1 - i];
        _expectAccepted(_signToken(device, _map(reversed)), nonce);
    }

    function test_attestPsaToken_RevertWhen_keyDuplicated() public {
        Entry[] memory e = _entries(_claims(_issue()));
        e = _withInserted(e, 4, e[3]); // the client id twice
        uint256 offset = _payloadStart(_map(e).length) + AT_LIFECYCLE;
        _expectEntriesRevert(e, abi.encodeWithSelector(PsaTokenLib.PsaTokenDuplicateKey.selector, offset, 2394));
    }

    /// @notice Keys, lengths and values in longer forms than they need: the same claims.
    function test_attestPsaToken_acceptsLongForms() public {
        bytes32 nonce = _issue();
        Entry[] memory e = _entries(_claims(nonce));
        e[0].key = hex"180a"; // 10 in a one-byte argument
        e[1].key = hex"1a00000100"; // 256 in four bytes
        e[3].value = hex"3b0000000000000000"; // the client id -1 in eight bytes
        e[0].value = bytes.concat(hex"5900", hex"20", abi.encodePacked(nonce)); // the nonce's length in two bytes
        _expectAccepted(
            _signToken(device, bytes.concat(hex"b8", bytes1(uint8(e.length)), _slice(_map(e), 1, _map(e).length))),
            nonce
        );
    }

    /// @notice A head of `major` with `arg` in form `form % 5`: shortest, or a 1-, 2-, 4- or 8-byte argument
    /// (the shortest where `arg` does not fit).
    function _headIn(uint8 major, uint256 arg, uint256 form) internal pure returns (bytes memory) {
        uint8 m = major << 5;
        form %= 5;
        if (form == 1 && arg < 0x100) return abi.encodePacked(m | 24, uint8(arg));
        if (form == 2 && arg < 0x10000) return abi.encodePacked(m | 25, uint16(arg));
        if (form == 3 && arg < 0x100000000) return abi.encodePacked(m | 26, uint32(arg));
        if (form == 4) return abi.encodePacked(m | 27, uint64(arg));
        return _cbor(major, arg);
    }

    /// @notice The unsigned integer a shortest-form key encodes.
    function _keyValue(bytes memory key) internal pure returns (uint256) {
        if (key.length == 1) return uint8(key[0]);
        if (key.length == 2) return uint8(key[1]);
        return (uint256(uint8(key[1])) << 8) | uint8(key[2]);
    }

    /// @notice Any order of the claims, any length of every key and of the map's count: accepted, the same
    /// evidence recorded.
    function testFuzz_attestPsaToken_anyEncodingOfTheClaims(uint256 seed) public {
        bytes32 nonce = _issue();
        Entry[] memory e = _entries(_claims(nonce));
        // Fisher-Yates with the seed's bits.
        for (uint256 i = e.length - 1; i > 0; --i) {
            uint256 j = uint256(keccak256(abi.encode(seed, i))) % (i + 1);
            (e[i], e[j]) = (e[j], e[i]);
        }
        bytes memory payload = _headIn(5, e.length, seed);
        for (uint256 i; i < e.length; ++i) {
            uint256 form = uint256(keccak256(abi.encode(seed, "form", i)));
            payload = bytes.concat(payload, _headIn(0, _keyValue(e[i].key), form), e[i].value);
        }
        _expectAccepted(_signToken(device, payload), nonce);
        assertEq(registry.evidenceOf(id).firmwareId, firmwareV1, "the same measurement");
    }

    /// @notice One key in two encodings is still one key twice.
    function test_attestPsaToken_RevertWhen_keyDuplicatedInAnotherForm() public {
        Entry[] memory e = _entries(_claims(_issue()));
        e = _withInserted(e, 1, Entry(hex"180a", e[0].value)); // the nonce again, its key 10 in a longer form
        uint256 offset = _payloadStart(_map(e).length) + 36;
        _expectEntriesRevert(e, abi.encodeWithSelector(PsaTokenLib.PsaTokenDuplicateKey.selector, offset, 10));
    }

    function test_attestPsaToken_RevertWhen_unknownClaim() public {
        Entry[] memory e = _entries(_claims(_issue()));
        // EAT's iat (6), before the nonce.
        Entry[] memory x = _withInserted(e, 0, Entry(_uint(6), _uint(1_700_000_000)));
        uint256 offset = _payloadStart(_map(x).length) + 1;
        _expectEntriesRevert(x, abi.encodeWithSelector(PsaTokenLib.PsaTokenUnknownClaim.selector, offset, 6));
        // A key past RFC 9783's last.
        x = _withInserted(e, e.length, Entry(_uint(2401), _uint(1)));
        bytes memory m = _map(x);
        offset = _payloadStart(m.length) + m.length - 4;
        _expectEntriesRevert(x, abi.encodeWithSelector(PsaTokenLib.PsaTokenUnknownClaim.selector, offset, 2401));
        // Claim keys are unsigned integers: a negative one, a text one.
        x = _withInserted(e, e.length, Entry(_int(-1), _uint(1)));
        m = _map(x);
        offset = _payloadStart(m.length) + m.length - 2;
        _expectEntriesRevert(x, abi.encodeWithSelector(PsaTokenLib.PsaTokenUnexpectedItem.selector, offset, 1, 0));
        x = _withInserted(e, e.length, Entry(_tstr("iat"), _uint(1)));
        m = _map(x);
        offset = _payloadStart(m.length) + m.length - 5;
        _expectEntriesRevert(x, abi.encodeWithSelector(PsaTokenLib.PsaTokenUnexpectedItem.selector, offset, 3, 3));
    }

    function test_attestPsaToken_RevertWhen_mandatoryClaimMissing() public {
        Entry[] memory e = _entries(_claims(_issue()));
        uint256[7] memory mandatory = [uint256(10), 256, 265, 2394, 2395, 2396, 2399];
        uint256[7] memory index = [uint256(0), 1, 2, 3, 4, 5, 7];
        for (uint256 i; i < 7; ++i) {
            _expectEntriesRevert(
                _without(e, index[i]),
                abi.encodeWithSelector(PsaTokenLib.PsaTokenMissingClaim.selector, mandatory[i])
            );
        }
        _expectPayloadRevert(hex"a0", abi.encodeWithSelector(PsaTokenLib.PsaTokenMissingClaim.selector, 10));
    }

    function test_attestPsaToken_RevertWhen_wrongSizes() public {
        PsaClaims memory c = _claims(_issue());
        uint256 start = _payloadStart(_payload(c).length + 16);
        // A 48-byte nonce (RFC 9783 allows it; a registry challenge is 32 bytes).
        c.nonce = abi.encodePacked(keccak256("n"), bytes16(0));
        _expectClaimsRevert(c, abi.encodeWithSelector(PsaTokenLib.PsaTokenWrongSize.selector, start + 2, 48));
        c = _claims(_issue());
        c.nonce = abi.encodePacked(bytes31(keccak256("n")));
        _expectClaimsRevert(
            c,
            abi.encodeWithSelector(PsaTokenLib.PsaTokenWrongSize.selector, _payloadStart(_payload(c).length) + 2, 31)
        );
        c = _claims(_issue());
        c.instanceId = abi.encodePacked(sha256(device.key));
        _expectClaimsRevert(
            c,
            abi.encodeWithSelector(
                PsaTokenLib.PsaTokenWrongSize.selector,
                _payloadStart(_payload(c).length) + AT_INSTANCE_ID + 3,
                32
            )
        );
        c = _claims(_issue());
        c.implementationId = abi.encodePacked(bytes16(0));
        _expectClaimsRevert(
            c,
            abi.encodeWithSelector(
                PsaTokenLib.PsaTokenWrongSize.selector,
                _payloadStart(_payload(c).length) + AT_IMPLEMENTATION_ID + 3,
                16
            )
        );
        uint256[2] memory seeds = [uint256(7), 33];
        for (uint256 i; i < 2; ++i) {
            c = _claims(_issue());
            c.bootSeed = new bytes(seeds[i]);
            _expectClaimsRevert(
                c,
                abi.encodeWithSelector(
                    PsaTokenLib.PsaTokenWrongSize.selector,
                    _payloadStart(_payload(c).length) + AT_BOOT_SEED + 3,
                    seeds[i]
                )
            );
        }
    }

    function test_attestPsaToken_acceptsBootSeedSizes() public {
        uint256[2] memory seeds = [uint256(8), 32];
        for (uint256 i; i < 2; ++i) {
            vm.warp(block.timestamp + 1);
            PsaClaims memory c = _claims(_issue());
            c.bootSeed = abi.encodePacked(_slice(abi.encodePacked(keccak256("seed")), 0, seeds[i]));
            psa.attestPsaToken(id, _token(c), device.key);
        }
    }

    function test_attestPsaToken_RevertWhen_claimOfTheWrongType() public {
        Entry[] memory e = _entries(_claims(_issue()));
        e[0].value = _tstr("0123456789abcdef0123456789abcdef"); // the nonce as text
        uint256 offset = _payloadStart(_map(e).length) + 2;
        _expectEntriesRevert(e, abi.encodeWithSelector(PsaTokenLib.PsaTokenUnexpectedItem.selector, offset, 3, 32));
        e = _entries(_claims(_issue()));
        e[4].value = hex"f93000"; // the lifecycle as a half-precision float
        offset = _payloadStart(_map(e).length) + AT_LIFECYCLE + 3;
        _expectEntriesRevert(e, abi.encodeWithSelector(PsaTokenLib.PsaTokenUnexpectedItem.selector, offset, 7, 0x3000));
    }

    function test_attestPsaToken_RevertWhen_instanceIdNotRand() public {
        PsaClaims memory c = _claims(_issue());
        c.instanceId[0] = 0x02; // UEID type EUI
        _expectClaimsRevert(c, abi.encodeWithSelector(PsaTokenLib.PsaTokenInstanceIdNotRand.selector, 2));
    }

    function test_attestPsaToken_RevertWhen_wrongProfile() public {
        Entry[] memory e = _entries(_claims(_issue()));
        e[2].value = _tstr("http://arm.com/psa/2.0.0"); // the pre-RFC profile
        _expectEntriesRevert(
            e,
            abi.encodeWithSelector(PsaTokenLib.PsaTokenWrongProfile.selector, "http://arm.com/psa/2.0.0")
        );
        e[2].value = _bstr(bytes(PROFILE));
        uint256 offset = _payloadStart(_map(e).length) + AT_PROFILE + 3;
        _expectEntriesRevert(e, abi.encodeWithSelector(PsaTokenLib.PsaTokenUnexpectedItem.selector, offset, 2, 33));
    }

    function test_attestPsaToken_RevertWhen_badClientId() public {
        int256[4] memory bad = [int256(0), 2 ** 31, -(2 ** 31) - 1, type(int64).min];
        for (uint256 i; i < 4; ++i) {
            PsaClaims memory c = _claims(_issue());
            c.clientId = bad[i];
            _expectClaimsRevert(c, abi.encodeWithSelector(PsaTokenLib.PsaTokenBadClientId.selector, bad[i]));
        }
    }

    function test_attestPsaToken_acceptsClientIdBounds() public {
        int256[2] memory ok = [int256(type(int32).min), type(int32).max];
        for (uint256 i; i < 2; ++i) {
            vm.warp(block.timestamp + 1);
            PsaClaims memory c = _claims(_issue());
            c.clientId = ok[i];
            psa.attestPsaToken(id, _token(c), device.key);
        }
    }

    function test_attestPsaToken_RevertWhen_badLifecycle() public {
        uint256[4] memory bad = [uint256(0x3100), 0x0f00, 0x7000, 0x10000];
        for (uint256 i; i < 4; ++i) {
            PsaClaims memory c = _claims(_issue());
            c.lifecycle = bad[i];
            _expectClaimsRevert(c, abi.encodeWithSelector(PsaTokenLib.PsaTokenBadLifecycle.selector, bad[i]));
        }
    }

    function test_attestPsaToken_RevertWhen_badCertificationReference() public {
        string[4] memory bad = ["123456789012-12345", "1234567890123_12345", "1234567890123-1234a", "x"];
        for (uint256 i; i < 4; ++i) {
            PsaClaims memory c = _claims(_issue());
            c.certificationReference = bad[i];
            _expectClaimsRevert(
                c,
                abi.encodeWithSelector(PsaTokenLib.PsaTokenBadCertificationReference.selector, bad[i])
            );
        }
    }

    function test_attestPsaToken_RevertWhen_invalidUtf8() public {
        // A lone continuation byte, an overlong "/", a surrogate, above U+10FFFF, a sequence cut short.
        bytes[5] memory bad = [bytes(hex"80"), hex"c0af", hex"eda080", hex"f4908080", hex"e282"];
        uint256[5] memory badAt = [uint256(0), 0, 1, 1, 0];
        for (uint256 i; i < 5; ++i) {
            PsaClaims memory c = _claims(_issue());
            c.components[0].version = string(bytes.concat("3.1.0-", bad[i]));
            bytes memory payload = _payload(c);
            uint256 text = _payloadStart(payload.length) + AT_FIRST_COMPONENT + AT_VERSION_TEXT;
            _expectPayloadRevert(
                payload,
                abi.encodeWithSelector(PsaTokenLib.PsaTokenInvalidUtf8.selector, text + 6 + badAt[i])
            );
        }
    }

    // ------------------------------------------------------------------ software components

    function test_attestPsaToken_RevertWhen_noSoftwareComponents() public {
        PsaClaims memory c = _claims(_issue());
        c.components = new PsaComponent[](0);
        _expectClaimsRevert(c, abi.encodeWithSelector(PsaTokenLib.PsaTokenNoSoftwareComponents.selector));
    }

    function test_attestPsaToken_RevertWhen_componentsNotAnArray() public {
        Entry[] memory e = _entries(_claims(_issue()));
        e[7].value = _component(_releaseComponents()[0]);
        bytes memory m = _map(e);
        uint256 offset = _payloadStart(m.length) + m.length - e[7].value.length;
        _expectEntriesRevert(e, abi.encodeWithSelector(PsaTokenLib.PsaTokenUnexpectedItem.selector, offset, 5, 4));
    }

    function test_attestPsaToken_RevertWhen_componentMeasurementNotSha256() public {
        PsaClaims memory c = _claims(_issue());
        c.components[1].measurementValue = abi.encodePacked(sha256("x"), bytes16(0));
        _expectClaimsRevert(c, abi.encodeWithSelector(PsaTokenLib.PsaTokenMeasurementNotSha256.selector, 1, 48));
        c = _claims(_issue());
        c.components[1].measurementValue = abi.encodePacked(bytes20(0));
        _expectClaimsRevert(c, ""); // PsaTokenWrongSize
    }

    function test_attestPsaToken_RevertWhen_componentSignerIdWrongSize() public {
        PsaClaims memory c = _claims(_issue());
        c.components[0].signerId = abi.encodePacked(bytes20(keccak256("signer")));
        bytes memory payload = _payload(c);
        uint256 offset = _payloadStart(payload.length) + AT_FIRST_COMPONENT + AT_SIGNER_ID;
        _expectPayloadRevert(payload, abi.encodeWithSelector(PsaTokenLib.PsaTokenWrongSize.selector, offset, 20));
    }

    /// @notice The encoded first component of the typical claims with `fields` as its map (count included).
    function _withFirstComponent(bytes memory fields) internal returns (bytes memory payload, uint256 start) {
        PsaClaims memory c = _claims(_issue());
        Entry[] memory e = _entries(c);
        bytes memory rest;
        for (uint256 i = 1; i < 3; ++i) rest = bytes.concat(rest, _component(c.components[i]));
        e[7].value = bytes.concat(hex"83", fields, rest);
        payload = _map(e);
        start = _payloadStart(payload.length) + AT_FIRST_COMPONENT;
    }

    function test_attestPsaToken_RevertWhen_componentMissingAField() public {
        bytes memory value = _bstr(abi.encodePacked(sha256("bootloader 3.1.0")));
        bytes memory signer = _bstr(abi.encodePacked(keccak256("bootloader signer")));
        (bytes memory payload, ) = _withFirstComponent(bytes.concat(hex"a1", hex"05", signer));
        _expectPayloadRevert(payload, abi.encodeWithSelector(PsaTokenLib.PsaTokenMissingComponentField.selector, 0, 2));
        (payload, ) = _withFirstComponent(bytes.concat(hex"a1", hex"02", value));
        _expectPayloadRevert(payload, abi.encodeWithSelector(PsaTokenLib.PsaTokenMissingComponentField.selector, 0, 5));
    }

    function test_attestPsaToken_componentKeysInAnyOrder() public {
        bytes memory value = _bstr(abi.encodePacked(sha256("bootloader 3.1.0")));
        bytes memory signer = _bstr(abi.encodePacked(keccak256("bootloader signer")));
        bytes32 nonce = _issue();
        PsaClaims memory c = _claims(nonce);
        Entry[] memory e = _entries(c);
        bytes memory rest;
        for (uint256 i = 1; i < 3; ++i) rest = bytes.concat(rest, _component(c.components[i]));
        e[7].value = bytes.concat(hex"83", hex"a3", hex"05", signer, hex"04", _tstr("3.1.0"), hex"02", value, rest);
        _expectAccepted(_signToken(device, _map(e)), nonce);
    }

    function test_attestPsaToken_RevertWhen_componentKeyUnknownOrRepeated() public {
        bytes memory value = _bstr(abi.encodePacked(sha256("bootloader 3.1.0")));
        bytes memory signer = _bstr(abi.encodePacked(keccak256("bootloader signer")));
        (bytes memory payload, uint256 start) = _withFirstComponent(
            bytes.concat(hex"a3", hex"02", value, hex"03", _tstr("x"), hex"05", signer)
        );
        _expectPayloadRevert(
            payload,
            abi.encodeWithSelector(PsaTokenLib.PsaTokenUnknownComponentKey.selector, 0, start + 36, 3)
        );
        (payload, start) = _withFirstComponent(
            bytes.concat(hex"a3", hex"05", signer, hex"02", value, hex"1805", signer)
        );
        _expectPayloadRevert(payload, abi.encodeWithSelector(PsaTokenLib.PsaTokenDuplicateKey.selector, start + 71, 5));
        (payload, start) = _withFirstComponent(bytes.concat(hex"a3", hex"02", value, hex"02", value, hex"05", signer));
        _expectPayloadRevert(payload, abi.encodeWithSelector(PsaTokenLib.PsaTokenDuplicateKey.selector, start + 36, 2));
        (payload, start) = _withFirstComponent(bytes.concat(hex"a2", hex"02", value, hex"20", signer));
        _expectPayloadRevert(
            payload,
            abi.encodeWithSelector(PsaTokenLib.PsaTokenUnexpectedItem.selector, start + 36, 1, 0)
        );
        (payload, start) = _withFirstComponent(bytes.concat(hex"bf", hex"02", value, hex"05", signer, hex"ff"));
        _expectPayloadRevert(payload, abi.encodeWithSelector(PsaTokenLib.PsaTokenIndefiniteLength.selector, start));
    }

    // ------------------------------------------------------------------ fuzz

    /// @notice Any change of any byte of an honest token, by any mask, is refused.
    function testFuzz_attestPsaToken_mutationRefused(uint256 index, uint8 mask) public {
        bytes memory token = _token(_claims(_issue()));
        index = bound(index, 0, token.length - 1);
        mask = uint8(bound(mask, 1, 255));
        token[index] ^= bytes1(mask);
        _expectRevertOn(token, "");
    }

    function test_attestPsaToken_mutationRefused_lengthByte() public {
        testFuzz_attestPsaToken_mutationRefused(9, 0x01);
    }

    /// @notice Tokens are accepted exactly when the lifecycle is SECURED or NON_PSA_ROT_DEBUG.
    function testFuzz_attestPsaToken_lifecycle(uint16 lifecycle) public {
        PsaClaims memory c = _claims(_issue());
        c.lifecycle = lifecycle;
        bytes memory token = _token(c);
        uint256 state = lifecycle >> 8;
        if (state == 0x30 || state == 0x40) {
            psa.attestPsaToken(id, token, device.key);
            assertTrue(registry.isTrusted(id, 1 hours));
        } else {
            _expectRevertOn(token, "");
        }
    }

    function test_attestPsaToken_lifecycle_debug() public {
        testFuzz_attestPsaToken_lifecycle(0x4001);
    }

    // ------------------------------------------------------------------ gas

    /// @notice A token's appraisal and record, excluding the transaction's own cost; the whole-transaction
    /// figure (21,000 + calldata + this) is estimated here and measured in test/client/psa-attest.test.ts.
    function test_gas_attestPsaToken_repeat() public {
        _attestNow();
        vm.warp(block.timestamp + 1);
        bytes32 nonce = _issue();
        bytes memory token = _token(_claims(nonce));
        bytes memory key = device.key;
        uint256 before = gasleft();
        psa.attestPsaToken(id, token, key);
        uint256 used = before - gasleft();
        bytes memory data = abi.encodeCall(PsaAttestation.attestPsaToken, (id, token, key));
        uint256 calldataGas;
        for (uint256 i; i < data.length; ++i) calldataGas += data[i] == 0 ? 4 : 16;
        emit log_named_uint("attestPsaToken (repeat), execution gas", used);
        emit log_named_uint("attestPsaToken, calldata gas", calldataGas);
        emit log_named_uint("attestPsaToken (repeat), whole transaction (estimate)", 21_000 + calldataGas + used);
        if (_hasP256Precompile()) assertLt(21_000 + calldataGas + used, 120_000);
    }
}

/// @notice The TypeScript-built tokens of test/fixtures/psa/token.json (scripts/psa-fixtures.ts) through the
/// appraiser, against a registry stand-in that accepts exactly the fixture's device, key, measurement and
/// nonce: they parse as the TypeScript parser reads them, are accepted, and no change of any byte is.
contract PsaAttestationFixtureTest is AttestationFixture {
    PsaAttestation internal psa;
    MockAppraisalRegistry internal sink;
    PsaTokenParser internal parser;
    string internal json;
    bytes internal key;
    DeviceId internal constant DEVICE = DeviceId.wrap(keccak256("a PSA device"));

    function setUp() public override {
        super.setUp();
        json = vm.readFile("test/fixtures/psa/token.json");
        key = vm.parseJsonBytes(json, ".publicKey");
        sink = new MockAppraisalRegistry();
        psa = new PsaAttestation(IDeviceRegistry(address(sink)));
        parser = new PsaTokenParser();
    }

    /// @notice The fixture at `path` ("" for the typical token, ".variants.minimal", ".variants.full"),
    /// expected by the stand-in.
    function _fixture(string memory path) internal returns (bytes memory token) {
        token = vm.parseJsonBytes(json, string.concat(path, ".token"));
        sink.expect(
            DEVICE,
            keccak256(abi.encodePacked(KeyType.P256, key)),
            vm.parseJsonBytes32(json, string.concat(path, ".measurement")),
            vm.parseJsonBytes32(json, string.concat(path, ".nonce"))
        );
    }

    function test_fixture_accepted() public {
        string[3] memory paths = ["", ".variants.minimal", ".variants.full"];
        for (uint256 i; i < 3; ++i) psa.attestPsaToken(DEVICE, _fixture(paths[i]), key);
        assertEq(sink.recorded(), 3);
    }

    function test_fixture_parsesAsTypeScriptDoes() public {
        string[3] memory paths = ["", ".variants.minimal", ".variants.full"];
        for (uint256 i; i < 3; ++i) {
            string memory p = paths[i];
            PsaTokenLib.Token memory t = parser.parse(_fixture(p));
            assertEq(t.nonce, vm.parseJsonBytes32(json, string.concat(p, ".claims.nonce")), "nonce");
            bytes memory instanceId = vm.parseJsonBytes(json, string.concat(p, ".claims.instanceId"));
            assertEq(abi.encodePacked(uint8(1), t.instanceId), instanceId, "instance id");
            assertEq(
                t.implementationId,
                vm.parseJsonBytes32(json, string.concat(p, ".claims.implementationId")),
                "implementation id"
            );
            assertEq(int256(t.clientId), vm.parseJsonInt(json, string.concat(p, ".claims.clientId")), "client id");
            assertEq(
                t.securityLifecycle,
                vm.parseJsonUint(json, string.concat(p, ".claims.securityLifecycle")),
                "lifecycle"
            );
            assertEq(t.measurement, vm.parseJsonBytes32(json, string.concat(p, ".measurement")), "measurement");
            assertEq(t.messageHash, vm.parseJsonBytes32(json, string.concat(p, ".messageHash")), "message hash");
            assertEq(t.r, vm.parseJsonBytes32(json, string.concat(p, ".signature.r")), "r");
            assertEq(t.s, vm.parseJsonBytes32(json, string.concat(p, ".signature.s")), "s");
            assertEq(t.measurement == bytes32(0), false);
        }
        assertEq(parser.parse(_fixture("")).componentCount, 3);
        assertEq(parser.parse(_fixture(".variants.minimal")).componentCount, 1);
    }

    function test_fixture_instanceIdIsTheKeys() public view {
        bytes memory instanceId = vm.parseJsonBytes(json, ".claims.instanceId");
        assertEq(instanceId, abi.encodePacked(uint8(1), sha256(abi.encodePacked(uint8(4), key))));
    }

    function test_fixture_RevertWhen_anotherDevicesKey() public {
        bytes memory token = _fixture("");
        bytes memory other = bytes.concat(key);
        other[0] ^= 0x01;
        vm.expectRevert();
        psa.attestPsaToken(DEVICE, token, other);
    }

    /// @notice Every single-bit change (lowest and highest bit) of every byte of every fixture token is refused,
    /// whichever rule refuses it.
    function test_fixture_everyByteChangeRefused() public {
        string[3] memory paths = ["", ".variants.minimal", ".variants.full"];
        for (uint256 i; i < 3; ++i) {
            bytes memory token = _fixture(paths[i]);
            for (uint256 b; b < token.length; ++b) {
                for (uint256 m; m < 2; ++m) {
                    bytes memory mutated = bytes.concat(token);
                    mutated[b] ^= m == 0 ? bytes1(0x01) : bytes1(0x80);
                    assertFalse(_accepted(mutated), string.concat(paths[i], " byte ", vm.toString(b)));
                }
            }
        }
        assertEq(sink.recorded(), 0);
    }

    /// @notice Any change of any byte of the fixture token, by any mask, is refused.
    function testFuzz_fixture_mutationRefused(uint256 which, uint256 index, uint8 mask) public {
        string[3] memory paths = ["", ".variants.minimal", ".variants.full"];
        bytes memory token = _fixture(paths[bound(which, 0, 2)]);
        index = bound(index, 0, token.length - 1);
        mask = uint8(bound(mask, 1, 255));
        token[index] ^= bytes1(mask);
        assertFalse(_accepted(token));
    }

    function test_fixture_mutationRefused_nonce() public {
        testFuzz_fixture_mutationRefused(0, 14, 0xff);
    }

    /// @notice Random bytes as a token are never accepted.
    function testFuzz_randomTokenRefused(bytes memory token) public {
        _fixture("");
        assertFalse(_accepted(token));
    }

    /// @notice Random bytes after a valid COSE_Sign1 head are never accepted.
    function testFuzz_randomPayloadRefused(bytes memory tail) public {
        _fixture("");
        assertFalse(_accepted(bytes.concat(hex"d28443a10126a0", tail)));
    }

    function test_randomTokenRefused_empty() public {
        testFuzz_randomTokenRefused("");
    }

    function _accepted(bytes memory token) internal returns (bool) {
        try psa.attestPsaToken(DEVICE, token, key) {
            return true;
        } catch {
            return false;
        }
    }
}

/// @notice PsaTokenLib.parse on calldata, for the tests.
contract PsaTokenParser {
    function parse(bytes calldata token) external pure returns (PsaTokenLib.Token memory) {
        return PsaTokenLib.parse(token);
    }
}
