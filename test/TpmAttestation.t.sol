// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {TpmAttestation} from "../contracts/attestation/TpmAttestation.sol";
import {IDeviceAttestation} from "../contracts/interfaces/IDeviceAttestation.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {ITpmAttestation} from "../contracts/interfaces/ITpmAttestation.sol";
import {TpmQuoteLib} from "../contracts/libraries/TpmQuoteLib.sol";
import {MockAppraisalRegistry} from "../contracts/mocks/MockAppraisalRegistry.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {DeviceStatus} from "../contracts/types/DeviceStatus.sol";
import {KeyType} from "../contracts/types/KeyType.sol";
import {Attestation} from "../contracts/types/Messages.sol";
import {AttestationFixture} from "./utils/AttestationFixture.sol";
import {TestKey} from "./utils/RegistryFixture.sol";

/// @notice A TPM 2.0 quote's fields, as the test builds them (TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE).
struct QuoteParts {
    bytes32 extraData;
    uint64 clock;
    uint32 resetCount;
    uint32 restartCount;
    bytes3 select;
    bytes32 pcrDigest;
}

/// @notice TpmAttestation against the real registry, with quotes built here in the exact TPMS_ATTEST layout
/// and signed by a P-256 test key (the device's Attestation Key): every rule of the parser, the appraisal
/// and the registry's `recordAppraisedEvidence`, one change at a time.
contract TpmAttestationTest is AttestationFixture {
    TpmAttestation internal tpm;
    TestKey internal ak;
    DeviceId internal id;
    uint32 internal firmwareV1;
    /// @dev sha256 bank, PCR 16 only: pcrSelect bytes 0x00 0x00 0x01.
    bytes3 internal constant BOOT_ONLY = 0x000001;

    function setUp() public override {
        super.setUp();
        tpm = new TpmAttestation(IDeviceRegistry(address(registry)));
        bytes32 appraiserRole = registry.APPRAISER_ROLE();
        vm.prank(governor);
        registry.grantRole(appraiserRole, address(tpm));
        ak = _p256Key(P256_PK);
        id = _register(ak);
        firmwareV1 = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
    }

    // ------------------------------------------------------------------ builders

    function _parts(bytes32 extraData, uint64 clock, uint32 resetCount) internal pure returns (QuoteParts memory) {
        return
            QuoteParts({
                extraData: extraData,
                clock: clock,
                resetCount: resetCount,
                restartCount: 0,
                select: BOOT_ONLY,
                pcrDigest: sha256(abi.encodePacked(MEASUREMENT_V1))
            });
    }

    function _quote(QuoteParts memory p) internal pure returns (bytes memory) {
        return
            abi.encodePacked(
                abi.encodePacked(uint32(0xff544347), uint16(0x8018)),
                // qualifiedSigner: a SHA-256 name (alg ‖ digest).
                abi.encodePacked(uint16(34), uint16(0x000b), keccak256("AK qualified name")),
                abi.encodePacked(uint16(32), p.extraData),
                abi.encodePacked(p.clock, p.resetCount, p.restartCount, uint8(1)),
                // firmwareVersion, then TPML_PCR_SELECTION: one bank, sha256, 3 select bytes.
                abi.encodePacked(uint64(0x2019102300163636), uint32(1), uint16(0x000b), uint8(3), p.select),
                abi.encodePacked(uint16(32), p.pcrDigest)
            );
    }

    /// @notice The AK's TPMT_SIGNATURE over sha256(quote), with s as given (`highS` picks n - s when low).
    function _tpmSign(TestKey memory k, bytes memory quote, bool highS) internal pure returns (bytes memory) {
        (bytes32 r, bytes32 s) = _rawSign(k, quote, highS);
        return abi.encodePacked(uint16(0x0018), uint16(0x000b), uint16(32), r, uint16(32), s);
    }

    function _rawSign(TestKey memory k, bytes memory quote, bool highS) internal pure returns (bytes32 r, bytes32 s) {
        (r, s) = vm.signP256(k.privateKey, sha256(quote));
        bool isHigh = uint256(s) > P256_N / 2;
        if (isHigh != highS) s = bytes32(P256_N - uint256(s));
    }

    function _der(bytes32 r, bytes32 s) internal pure returns (bytes memory) {
        bytes memory ri = _derInteger(uint256(r));
        bytes memory si = _derInteger(uint256(s));
        return abi.encodePacked(uint8(0x30), uint8(ri.length + si.length), ri, si);
    }

    function _derInteger(uint256 v) internal pure returns (bytes memory out) {
        bytes memory b = abi.encodePacked(v);
        uint256 start;
        while (start < 31 && b[start] == 0 && uint8(b[start + 1]) < 0x80) ++start;
        out = new bytes(32 - start);
        for (uint256 i; i < out.length; ++i) out[i] = b[start + i];
        if (uint8(out[0]) >= 0x80) out = abi.encodePacked(uint8(0), out);
        out = abi.encodePacked(uint8(0x02), uint8(out.length), out);
    }

    function _pcrs() internal pure returns (bytes32[] memory values) {
        values = new bytes32[](1);
        values[0] = MEASUREMENT_V1;
    }

    /// @notice A fresh block-hash challenge, a quote over it with `clock`/`resetCount`, signed; submitted.
    function _attestAt(uint64 clock, uint32 resetCount) internal {
        (uint256 challengeBlock, bytes32 challenge) = _nextBlockChallenge();
        bytes memory quote = _quote(_parts(challenge, clock, resetCount));
        tpm.attestTpmQuote(id, quote, _tpmSign(ak, quote, false), ak.key, _pcrs(), challengeBlock);
    }

    /// @notice Submits `quote` (signed by the AK) over a fresh block-hash challenge it must carry itself.
    function _submit(bytes memory quote, bytes32[] memory pcrs, uint256 challengeBlock) internal {
        tpm.attestTpmQuote(id, quote, _tpmSign(ak, quote, false), ak.key, pcrs, challengeBlock);
    }

    /// @notice _submit, expecting it to revert with `err` (any revert when empty). Signs first: signing is
    /// a cheatcode call, which an earlier expectRevert would take for the call it watches.
    function _submitReverting(
        bytes memory quote,
        bytes32[] memory pcrs,
        uint256 challengeBlock,
        bytes memory err
    ) internal {
        bytes memory sig = _tpmSign(ak, quote, false);
        if (err.length == 0) vm.expectRevert();
        else vm.expectRevert(err);
        tpm.attestTpmQuote(id, quote, sig, ak.key, pcrs, challengeBlock);
    }

    // ------------------------------------------------------------------ acceptance

    function test_attestTpmQuote_recordsEvidence() public {
        (uint256 challengeBlock, bytes32 challenge) = _nextBlockChallenge();
        bytes memory quote = _quote(_parts(challenge, 5_000, 3));
        uint64 counter = (uint64(3) << 32) | 5;
        assertEq(tpm.tpmCounter(3, 5_999), counter, "reset count high, clock seconds low");
        vm.expectEmit(address(registry));
        emit IDeviceAttestation.DeviceAttested(id, firmwareV1, uint64(block.timestamp), counter);
        _submit(quote, _pcrs(), challengeBlock);

        assertTrue(registry.isTrusted(id, 1 hours));
        IDeviceAttestation.Evidence memory e = registry.evidenceOf(id);
        assertEq(e.firmwareId, firmwareV1);
        assertEq(e.timestamp, block.timestamp);
        assertEq(e.bootCount, counter);
    }

    function test_attestTpmQuote_issuedChallengeDatesTheEvidence() public {
        vm.prank(operator);
        bytes32 challenge = registry.issueChallenge(id);
        uint256 issuedAt = block.timestamp;
        assertEq(uint64(uint256(challenge)), issuedAt, "the challenge's low 64 bits are its issue time");
        vm.warp(block.timestamp + 10 minutes);
        bytes memory quote = _quote(_parts(challenge, 5_000, 1));
        _submit(quote, _pcrs(), 0);
        assertEq(registry.evidenceOf(id).timestamp, issuedAt, "the quote is known fresh from the issue only");
        assertEq(registry.challengeOf(id), bytes32(0), "consumed");
    }

    function test_attestTpmQuote_acceptsHighS() public {
        (uint256 challengeBlock, bytes32 challenge) = _nextBlockChallenge();
        bytes memory quote = _quote(_parts(challenge, 5_000, 1));
        tpm.attestTpmQuote(id, quote, _tpmSign(ak, quote, true), ak.key, _pcrs(), challengeBlock);
        assertTrue(registry.isTrusted(id, 1 hours));
    }

    function test_attestTpmQuote_acceptsDer() public {
        (uint256 challengeBlock, bytes32 challenge) = _nextBlockChallenge();
        bytes memory quote = _quote(_parts(challenge, 5_000, 1));
        (bytes32 r, bytes32 s) = _rawSign(ak, quote, true);
        tpm.attestTpmQuote(id, quote, _der(r, s), ak.key, _pcrs(), challengeBlock);
        assertTrue(registry.isTrusted(id, 1 hours));
    }

    function test_attestTpmQuote_readsBootPcrAmongOthers() public {
        (uint256 challengeBlock, bytes32 challenge) = _nextBlockChallenge();
        bytes32[] memory pcrs = new bytes32[](3);
        (pcrs[0], pcrs[1], pcrs[2]) = (keccak256("pcr0"), keccak256("pcr7"), MEASUREMENT_V1);
        QuoteParts memory p = _parts(challenge, 5_000, 1);
        p.select = 0x810001; // PCRs 0 and 7, then 16
        p.pcrDigest = sha256(abi.encodePacked(pcrs));
        _submit(_quote(p), pcrs, challengeBlock);
        assertEq(registry.evidenceOf(id).firmwareId, firmwareV1);
    }

    function test_attestTpmQuote_clockMayRepeatAfterAReset() public {
        _attestAt(5_000, 1);
        _attestAt(4_000, 2);
        assertEq(registry.evidenceOf(id).bootCount, (uint64(2) << 32) | 4);
    }

    // ------------------------------------------------------------------ clock

    function test_attestTpmQuote_RevertWhen_clockNotAfterLastWithinAReset() public {
        _attestAt(5_000, 1);
        (uint256 challengeBlock, bytes32 challenge) = _nextBlockChallenge();
        bytes memory quote = _quote(_parts(challenge, 5_000, 1));
        _submitReverting(
            quote,
            _pcrs(),
            challengeBlock,
            abi.encodeWithSelector(ITpmAttestation.TpmAttestationClockWentBack.selector, id, 5, 5)
        );
    }

    function test_attestTpmQuote_RevertWhen_resetCountWentBack() public {
        _attestAt(5_000, 2);
        (uint256 challengeBlock, bytes32 challenge) = _nextBlockChallenge();
        bytes memory quote = _quote(_parts(challenge, 9_000, 1));
        _submitReverting(
            quote,
            _pcrs(),
            challengeBlock,
            abi.encodeWithSelector(ITpmAttestation.TpmAttestationResetCountWentBack.selector, id, 1, 2)
        );
    }

    /// @notice Quotes are accepted exactly when (resetCount, clock in seconds) moves forward, in lexicographic
    /// order: a quote is never recorded twice.
    function testFuzz_attestTpmQuote_clockMovesForward(
        uint64 clock1,
        uint32 reset1,
        uint64 clock2,
        uint32 reset2
    ) public {
        // The counter keeps whole seconds in 32 bits: 136 years of powered-on time.
        clock1 = uint64(bound(clock1, 0, uint256(type(uint32).max) * 1000));
        clock2 = uint64(bound(clock2, 0, uint256(type(uint32).max) * 1000));
        _attestAt(clock1, reset1);
        (uint256 challengeBlock, bytes32 challenge) = _nextBlockChallenge();
        bytes memory quote = _quote(_parts(challenge, clock2, reset2));
        bool forward = reset2 > reset1 || (reset2 == reset1 && clock2 / 1000 > clock1 / 1000);
        if (forward) _submit(quote, _pcrs(), challengeBlock);
        else _submitReverting(quote, _pcrs(), challengeBlock, "");
        uint64 latest = registry.evidenceOf(id).bootCount;
        assertEq(latest, forward ? tpm.tpmCounter(reset2, clock2) : tpm.tpmCounter(reset1, clock1));
    }

    // ------------------------------------------------------------------ structure

    function _expectParseRevert(bytes memory quote, bytes memory err) internal {
        (uint256 challengeBlock, ) = _nextBlockChallenge();
        _submitReverting(quote, _pcrs(), challengeBlock, err);
    }

    function _honestQuote() internal returns (bytes memory quote, uint256 challengeBlock) {
        bytes32 challenge;
        (challengeBlock, challenge) = _nextBlockChallenge();
        quote = _quote(_parts(challenge, 5_000, 1));
    }

    function test_attestTpmQuote_RevertWhen_trailingBytes() public {
        (bytes memory quote, ) = _honestQuote();
        bytes memory longer = abi.encodePacked(quote, uint8(0));
        _expectParseRevert(
            longer,
            abi.encodeWithSelector(TpmQuoteLib.TpmQuoteTrailingBytes.selector, quote.length, longer.length)
        );
    }

    function test_attestTpmQuote_RevertWhen_truncated() public {
        (bytes memory quote, ) = _honestQuote();
        for (uint256 cut = 1; cut <= quote.length; cut += 7) {
            bytes memory shorter = new bytes(quote.length - cut);
            for (uint256 i; i < shorter.length; ++i) shorter[i] = quote[i];
            (uint256 challengeBlock, ) = _nextBlockChallenge();
            _submitReverting(shorter, _pcrs(), challengeBlock, "");
        }
        bytes memory lastOff = new bytes(quote.length - 1);
        for (uint256 i; i < lastOff.length; ++i) lastOff[i] = quote[i];
        _expectParseRevert(
            lastOff,
            abi.encodeWithSelector(TpmQuoteLib.TpmQuoteTruncated.selector, quote.length, lastOff.length)
        );
    }

    function test_attestTpmQuote_RevertWhen_badMagic() public {
        (bytes memory quote, ) = _honestQuote();
        quote[0] = 0xfe;
        _expectParseRevert(quote, abi.encodeWithSelector(TpmQuoteLib.TpmQuoteBadMagic.selector, 0xfe544347));
    }

    function test_attestTpmQuote_RevertWhen_notAQuote() public {
        (bytes memory quote, ) = _honestQuote();
        quote[5] = 0x17; // TPM_ST_ATTEST_CERTIFY
        _expectParseRevert(quote, abi.encodeWithSelector(TpmQuoteLib.TpmQuoteNotAQuote.selector, 0x8017));
    }

    function test_attestTpmQuote_RevertWhen_wrongLengths() public {
        (bytes memory quote, ) = _honestQuote();
        bytes memory q = bytes.concat(quote);
        q[7] = bytes1(uint8(67)); // qualifiedSigner over the largest TPM2B_NAME
        _expectParseRevert(q, abi.encodeWithSelector(TpmQuoteLib.TpmQuoteWrongLength.selector, 6, 67));
        q = bytes.concat(quote);
        q[43] = bytes1(uint8(31)); // extraData not 32 bytes
        _expectParseRevert(q, abi.encodeWithSelector(TpmQuoteLib.TpmQuoteWrongLength.selector, 42, 31));
        q = bytes.concat(quote);
        q[q.length - 33] = bytes1(uint8(48)); // pcrDigest not 32 bytes
        _expectParseRevert(q, abi.encodeWithSelector(TpmQuoteLib.TpmQuoteWrongLength.selector, q.length - 34, 48));
    }

    function test_attestTpmQuote_RevertWhen_safeNotYesNo() public {
        (bytes memory quote, ) = _honestQuote();
        quote[92] = 0x02;
        _expectParseRevert(quote, abi.encodeWithSelector(TpmQuoteLib.TpmQuoteBadSafeFlag.selector, 2));
    }

    function test_attestTpmQuote_RevertWhen_badSelection() public {
        (bytes memory quote, ) = _honestQuote();
        bytes memory q = bytes.concat(quote);
        q[104] = 0x02; // two banks
        _expectParseRevert(q, abi.encodeWithSelector(TpmQuoteLib.TpmQuoteBadSelection.selector, 2, 3));
        q = bytes.concat(quote);
        q[107] = 0x05; // sizeofSelect above PCR_SELECT_MAX
        _expectParseRevert(q, abi.encodeWithSelector(TpmQuoteLib.TpmQuoteBadSelection.selector, 1, 5));
        q = bytes.concat(quote);
        q[106] = 0x04; // the SHA-1 bank
        _expectParseRevert(q, abi.encodeWithSelector(TpmQuoteLib.TpmQuoteUnsupportedHash.selector, 0x0004));
    }

    function test_attestTpmQuote_RevertWhen_bootPcrNotSelected() public {
        (uint256 challengeBlock, bytes32 challenge) = _nextBlockChallenge();
        QuoteParts memory p = _parts(challenge, 5_000, 1);
        p.select = 0x010000; // PCR 0 only
        _submitReverting(
            _quote(p),
            _pcrs(),
            challengeBlock,
            abi.encodeWithSelector(TpmQuoteLib.TpmQuoteBootPcrNotSelected.selector, uint32(1))
        );
    }

    // ------------------------------------------------------------------ signature and key

    function test_attestTpmQuote_RevertWhen_signatureMalformed() public {
        (bytes memory quote, uint256 challengeBlock) = _honestQuote();
        bytes memory sig = _tpmSign(ak, quote, false);
        bytes memory bad = bytes.concat(sig, hex"00");
        vm.expectRevert(abi.encodeWithSelector(TpmQuoteLib.TpmSignatureMalformed.selector, sig.length));
        tpm.attestTpmQuote(id, quote, bad, ak.key, _pcrs(), challengeBlock);

        bad = bytes.concat(sig);
        bad[1] = 0x14; // RSASSA
        vm.expectRevert(abi.encodeWithSelector(TpmQuoteLib.TpmSignatureUnsupported.selector, 0x0014));
        tpm.attestTpmQuote(id, quote, bad, ak.key, _pcrs(), challengeBlock);

        bad = bytes.concat(sig);
        bad[3] = 0x0c; // SHA-384
        vm.expectRevert(abi.encodeWithSelector(TpmQuoteLib.TpmQuoteUnsupportedHash.selector, 0x000c));
        tpm.attestTpmQuote(id, quote, bad, ak.key, _pcrs(), challengeBlock);
    }

    function test_attestTpmQuote_RevertWhen_signatureOutOfRange() public {
        (bytes memory quote, uint256 challengeBlock) = _honestQuote();
        bytes memory sig = abi.encodePacked(uint16(0x18), uint16(0x0b), uint16(32), P256_N, uint16(32), uint256(1));
        vm.expectRevert(abi.encodeWithSelector(TpmQuoteLib.TpmSignatureOutOfRange.selector, P256_N, 1));
        tpm.attestTpmQuote(id, quote, sig, ak.key, _pcrs(), challengeBlock);
    }

    function test_attestTpmQuote_RevertWhen_anotherKeySigned() public {
        (bytes memory quote, uint256 challengeBlock) = _honestQuote();
        bytes memory sig = _tpmSign(_p256Key(P256_PK_2), quote, false);
        vm.expectRevert(abi.encodeWithSelector(ITpmAttestation.TpmAttestationInvalidSignature.selector, id));
        tpm.attestTpmQuote(id, quote, sig, ak.key, _pcrs(), challengeBlock);
    }

    function test_attestTpmQuote_RevertWhen_keyIsNotTheDevices() public {
        (bytes memory quote, uint256 challengeBlock) = _honestQuote();
        TestKey memory other = _p256Key(P256_PK_2);
        bytes memory sig = _tpmSign(other, quote, false);
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryWrongKey.selector, id, other.keyHash));
        tpm.attestTpmQuote(id, quote, sig, other.key, _pcrs(), challengeBlock);
    }

    function test_attestTpmQuote_RevertWhen_keyNot64Bytes() public {
        (bytes memory quote, uint256 challengeBlock) = _honestQuote();
        bytes memory sig = _tpmSign(ak, quote, false);
        vm.expectRevert(abi.encodeWithSelector(ITpmAttestation.TpmAttestationBadKey.selector, 65));
        tpm.attestTpmQuote(id, quote, sig, bytes.concat(ak.key, hex"00"), _pcrs(), challengeBlock);
    }

    /// @notice Random bytes as a signature are never accepted.
    function testFuzz_attestTpmQuote_randomSignatureRefused(bytes calldata signature) public {
        (bytes memory quote, uint256 challengeBlock) = _honestQuote();
        vm.expectRevert();
        tpm.attestTpmQuote(id, quote, signature, ak.key, _pcrs(), challengeBlock);
    }

    // ------------------------------------------------------------------ PCRs, challenge, registry

    function test_attestTpmQuote_RevertWhen_pcrCountMismatch() public {
        (bytes memory quote, uint256 challengeBlock) = _honestQuote();
        _submitReverting(
            quote,
            new bytes32[](2),
            challengeBlock,
            abi.encodeWithSelector(ITpmAttestation.TpmAttestationPcrCountMismatch.selector, 1, 2)
        );
    }

    function test_attestTpmQuote_RevertWhen_pcrValuesDoNotHashToTheDigest() public {
        (bytes memory quote, uint256 challengeBlock) = _honestQuote();
        bytes32[] memory pcrs = new bytes32[](1);
        pcrs[0] = MEASUREMENT_V2;
        _submitReverting(
            quote,
            pcrs,
            challengeBlock,
            abi.encodeWithSelector(
                ITpmAttestation.TpmAttestationPcrDigestMismatch.selector,
                sha256(abi.encodePacked(MEASUREMENT_V1)),
                sha256(abi.encodePacked(MEASUREMENT_V2))
            )
        );
    }

    function test_attestTpmQuote_RevertWhen_unknownMeasurement() public {
        (uint256 challengeBlock, bytes32 challenge) = _nextBlockChallenge();
        QuoteParts memory p = _parts(challenge, 5_000, 1);
        p.pcrDigest = sha256(abi.encodePacked(MEASUREMENT_V2));
        bytes32[] memory pcrs = new bytes32[](1);
        pcrs[0] = MEASUREMENT_V2;
        _submitReverting(
            _quote(p),
            pcrs,
            challengeBlock,
            abi.encodeWithSelector(IDeviceAttestation.AttestationUnknownMeasurement.selector, id, MEASUREMENT_V2)
        );
    }

    function test_attestTpmQuote_RevertWhen_extraDataIsNotTheChallenge() public {
        (uint256 challengeBlock, ) = _nextBlockChallenge();
        bytes memory quote = _quote(_parts(keccak256("yesterday"), 5_000, 1));
        _submitReverting(
            quote,
            _pcrs(),
            challengeBlock,
            abi.encodeWithSelector(
                IDeviceAttestation.AttestationStaleChallenge.selector,
                id,
                keccak256("yesterday"),
                challengeBlock
            )
        );
    }

    function test_attestTpmQuote_RevertWhen_issuedChallengeOlderThanMaxAge() public {
        vm.prank(operator);
        bytes32 challenge = registry.issueChallenge(id);
        vm.warp(block.timestamp + registry.MAX_EVIDENCE_AGE() + 1);
        bytes memory quote = _quote(_parts(challenge, 5_000, 1));
        _submitReverting(
            quote,
            _pcrs(),
            0,
            abi.encodeWithSelector(IDeviceAttestation.AttestationStaleChallenge.selector, id, challenge, 0)
        );
    }

    function test_attestTpmQuote_RevertWhen_deviceRevoked() public {
        vm.prank(governor);
        registry.revoke(id, "compromised");
        (bytes memory quote, uint256 challengeBlock) = _honestQuote();
        _submitReverting(
            quote,
            _pcrs(),
            challengeBlock,
            abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryTerminal.selector, id, DeviceStatus.Revoked)
        );
    }

    function test_attestTpmQuote_RevertWhen_notNewer() public {
        _attestAt(5_000, 1);
        // Same block: the evidence time (this block's) is not after the latest.
        bytes32 challenge = blockhash(block.number - 1);
        bytes memory quote = _quote(_parts(challenge, 6_000, 1));
        _submitReverting(
            quote,
            _pcrs(),
            block.number - 1,
            abi.encodeWithSelector(
                IDeviceAttestation.AttestationNotNewer.selector,
                id,
                uint64(block.timestamp),
                uint64(block.timestamp)
            )
        );
    }

    function test_recordAppraisedEvidence_RevertWhen_callerIsNotAnAppraiser() public {
        (uint256 challengeBlock, bytes32 challenge) = _nextBlockChallenge();
        vm.expectRevert(abi.encodeWithSelector(IDeviceAttestation.AttestationNotAppraiser.selector, stranger));
        vm.prank(stranger);
        registry.recordAppraisedEvidence(id, ak.keyHash, MEASUREMENT_V1, 1, challenge, challengeBlock);
    }

    function test_recordAppraisedEvidence_RevertWhen_counterNotHigher() public {
        _attestAt(5_000, 4);
        (uint256 challengeBlock, bytes32 challenge) = _nextBlockChallenge();
        uint64 latest = tpm.tpmCounter(4, 5_000);
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceAttestation.AttestationBootCountDecreased.selector, id, latest, latest)
        );
        vm.prank(address(tpm));
        registry.recordAppraisedEvidence(id, ak.keyHash, MEASUREMENT_V1, latest, challenge, challengeBlock);
    }

    function test_recordAppraisedEvidence_RevertWhen_unknownDevice() public {
        (uint256 challengeBlock, bytes32 challenge) = _nextBlockChallenge();
        DeviceId unknown = DeviceId.wrap(keccak256("nobody"));
        vm.expectRevert(abi.encodeWithSelector(IDeviceRegistry.DeviceRegistryUnknownDevice.selector, unknown));
        vm.prank(address(tpm));
        registry.recordAppraisedEvidence(unknown, ak.keyHash, MEASUREMENT_V1, 1, challenge, challengeBlock);
    }

    function test_attest_RevertWhen_issuedChallengeOlderThanMaxAge() public {
        vm.prank(operator);
        bytes32 challenge = registry.issueChallenge(id);
        vm.warp(block.timestamp + registry.MAX_EVIDENCE_AGE() + 1);
        vm.roll(block.number + 1);
        Attestation memory evidence = _evidence(ak, MEASUREMENT_V1, challenge, 1);
        bytes memory sig = _sign(ak, _attestationDigest(evidence));
        vm.expectRevert(
            abi.encodeWithSelector(IDeviceAttestation.AttestationStaleChallenge.selector, id, challenge, 0)
        );
        registry.attest(evidence, 0, _deviceKey(ak), sig);
    }

    // ------------------------------------------------------------------ gas

    /// @notice A quote's appraisal and record, excluding the transaction's own cost (calldata, 21k): the
    /// whole-transaction figure is in bench/results.json (attestation.attest.tpmQuote).
    function test_gas_attestTpmQuote_repeat() public {
        _attestAt(5_000, 1);
        (uint256 challengeBlock, bytes32 challenge) = _nextBlockChallenge();
        bytes memory quote = _quote(_parts(challenge, 6_000, 1));
        bytes memory sig = _tpmSign(ak, quote, true);
        bytes32[] memory pcrs = _pcrs();
        uint256 before = gasleft();
        tpm.attestTpmQuote(id, quote, sig, ak.key, pcrs, challengeBlock);
        uint256 used = before - gasleft();
        emit log_named_uint("attestTpmQuote (repeat), execution gas", used);
        if (_hasP256Precompile()) assertLt(used, 45_000);
    }
}

/// @notice Real quotes made by a software TPM (swtpm + tpm2-tools; scripts/tpm-fixtures.ts) through the
/// appraiser, against a registry stand-in that accepts exactly the fixture's device, AK, measurement and
/// extraData: the real AK signatures verify (TPMT_SIGNATURE and DER, high s as the TPM gave it), and every
/// single-byte change of a quote or its signature is refused.
contract TpmAttestationRealQuotesTest is AttestationFixture {
    TpmAttestation internal tpm;
    MockAppraisalRegistry internal sink;
    string internal json;
    bytes internal akKey;
    DeviceId internal constant DEVICE = DeviceId.wrap(keccak256("a TPM device"));

    struct RealQuote {
        bytes attest;
        bytes signature;
        bytes signatureDer;
        bytes32 extraData;
        bytes32[] pcrValues;
    }

    function setUp() public override {
        super.setUp();
        json = vm.readFile("test/fixtures/tpm/quotes.json");
        akKey = vm.parseJsonBytes(json, ".ak");
        sink = new MockAppraisalRegistry();
        tpm = new TpmAttestation(IDeviceRegistry(address(sink)));
    }

    function _real(uint256 i) internal returns (RealQuote memory q) {
        string memory path = string.concat(".quotes[", vm.toString(i), "]");
        q.attest = vm.parseJsonBytes(json, string.concat(path, ".attest"));
        q.signature = vm.parseJsonBytes(json, string.concat(path, ".signature"));
        q.signatureDer = vm.parseJsonBytes(json, string.concat(path, ".signatureDer"));
        q.extraData = vm.parseJsonBytes32(json, string.concat(path, ".extraData"));
        q.pcrValues = vm.parseJsonBytes32Array(json, string.concat(path, ".pcrValues"));
        sink.expect(
            DEVICE,
            keccak256(abi.encodePacked(KeyType.P256, akKey)),
            vm.parseJsonBytes32(json, ".measurement"),
            q.extraData
        );
    }

    function test_realQuotes_accepted() public {
        for (uint256 i; i < 3; ++i) {
            RealQuote memory q = _real(i);
            tpm.attestTpmQuote(DEVICE, q.attest, q.signature, akKey, q.pcrValues, 0);
        }
        assertEq(sink.recorded(), 3);
    }

    function test_realQuotes_derAccepted() public {
        RealQuote memory q = _real(0);
        tpm.attestTpmQuote(DEVICE, q.attest, q.signatureDer, akKey, q.pcrValues, 0);
        assertEq(sink.recorded(), 1);
    }

    function test_realQuotes_parseAsTypeScriptDoes() public {
        RealQuote memory q = _real(2);
        TpmQuoteParser parser = new TpmQuoteParser();
        TpmQuoteLib.Quote memory parsed = parser.parse(q.attest);
        assertEq(parsed.extraData, q.extraData);
        assertEq(parsed.clock, vm.parseJsonUint(json, ".quotes[2].clock"));
        assertEq(parsed.resetCount, vm.parseJsonUint(json, ".quotes[2].resetCount"));
        assertEq(parsed.restartCount, vm.parseJsonUint(json, ".quotes[2].restartCount"));
        assertEq(parsed.pcrSelect, (1 << 0) | (1 << 7) | (1 << 16));
        assertEq(parsed.pcrDigest, sha256(abi.encodePacked(q.pcrValues)));
    }

    /// @notice Every single-byte change of every real quote is refused, whichever rule refuses it.
    function test_realQuotes_everyQuoteByteChangeRefused() public {
        for (uint256 i; i < 3; ++i) {
            RealQuote memory q = _real(i);
            for (uint256 b; b < q.attest.length; ++b) {
                bytes memory mutated = bytes.concat(q.attest);
                mutated[b] = mutated[b] ^ 0x01;
                assertFalse(_accepted(mutated, q.signature, q.pcrValues), string.concat("byte ", vm.toString(b)));
            }
        }
        assertEq(sink.recorded(), 0);
    }

    /// @notice Every single-byte change of a real signature (both encodings) is refused.
    function test_realQuotes_everySignatureByteChangeRefused() public {
        RealQuote memory q = _real(0);
        for (uint256 b; b < q.signature.length; ++b) {
            bytes memory mutated = bytes.concat(q.signature);
            mutated[b] = mutated[b] ^ 0x01;
            assertFalse(_accepted(q.attest, mutated, q.pcrValues), string.concat("TPMT byte ", vm.toString(b)));
        }
        for (uint256 b; b < q.signatureDer.length; ++b) {
            bytes memory mutated = bytes.concat(q.signatureDer);
            mutated[b] = mutated[b] ^ 0x01;
            assertFalse(_accepted(q.attest, mutated, q.pcrValues), string.concat("DER byte ", vm.toString(b)));
        }
    }

    /// @notice Any change of any byte of a real quote, by any mask, is refused.
    function testFuzz_realQuotes_mutationRefused(uint256 which, uint256 index, uint8 mask) public {
        RealQuote memory q = _real(bound(which, 0, 2));
        mask = uint8(bound(mask, 1, 255));
        index = bound(index, 0, q.attest.length + q.signature.length - 1);
        bytes memory attest = bytes.concat(q.attest);
        bytes memory signature = bytes.concat(q.signature);
        if (index < attest.length) attest[index] ^= bytes1(mask);
        else signature[index - attest.length] ^= bytes1(mask);
        assertFalse(_accepted(attest, signature, q.pcrValues));
    }

    function _accepted(bytes memory attest, bytes memory signature, bytes32[] memory pcrs) internal returns (bool) {
        try tpm.attestTpmQuote(DEVICE, attest, signature, akKey, pcrs, 0) {
            return true;
        } catch {
            return false;
        }
    }
}

/// @notice TpmQuoteLib.parse on calldata, for the tests.
contract TpmQuoteParser {
    function parse(bytes calldata quote) external pure returns (TpmQuoteLib.Quote memory) {
        return TpmQuoteLib.parse(quote);
    }
}
