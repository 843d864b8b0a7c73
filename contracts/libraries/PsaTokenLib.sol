// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title PsaTokenLib
/// @notice Parses an Arm PSA Initial Attestation Token (RFC 9783): a COSE_Sign1 (RFC 9052) with tag 18 whose
/// payload is RFC 9783's claims map. RFC 9783 §5 lets a constrained attester emit CBOR that is not in
/// preferred serialization and makes the verifier variation-tolerant, so this decoder takes what real PSA
/// attesters (TF-M's QCBOR encoder among them) may emit: arguments in any of their lengths, map keys in any
/// order (each once), a protected header that names ES256 (alg -7) among other integer-labelled headers and
/// an unprotected one (a kid, an x5chain). What it still refuses: indefinite lengths (RFC 9783 allows
/// definite ones only), duplicate keys or header labels, critical headers (crit: no extension is understood
/// here), claims RFC 9783 does not define, claims of the wrong type or size, bytes after the last item.
/// DeviceTrust's own devices emit core deterministic CBOR (src/device/psa-token.ts):
///
///   d2 84 43 a1 01 26 a0 59 <len16> <claims map> 58 40 <r‖s>     (a payload under 256 bytes: 58 <len8>)
///
/// Every refusal is an error that names the rule: the same rules as src/verify/psa-token.ts.
/// @dev A minimal decoder: it reads calldata in place, one item head at a time, and knows only the item
/// kinds a token has (unsigned and negative integers, byte and text strings, arrays, maps and the one tag).
/// The ES256 signature is over the Sig_structure, which RFC 9052 §9 encodes deterministically whatever the
/// token's own encoding: the two byte strings' heads are encoded again in their shortest form.
/// Every read is bounded by the end of what holds it (the token, or the payload for the claims), so a short
/// token reverts with PsaTokenTruncated rather than reading the zeros calldataload returns past the end.
library PsaTokenLib {
    /// @notice What a DeviceTrust appraisal reads from a token.
    struct Token {
        /// @dev Claim 10: the verifier's challenge (32 bytes).
        bytes32 nonce;
        /// @dev Claim 256 after its UEID type byte (0x01, RAND): sha256(0x04 ‖ x ‖ y) of the attestation key.
        bytes32 instanceId;
        /// @dev Claim 2396: the immutable PSA RoT's implementation.
        bytes32 implementationId;
        /// @dev Claim 2394: the caller's partition id (non-zero, 32 bits).
        int32 clientId;
        /// @dev Claim 2395: the PSA RoT's lifecycle state, major ‖ minor byte.
        uint16 securityLifecycle;
        /// @dev Claim 2399's entries.
        uint256 componentCount;
        /// @dev psaMeasurement of claim 2399: the measured-boot chain over the components' measurement
        /// values in token order, m_i = sha256(m_{i-1} ‖ measurementValue_i) from 32 zero bytes.
        bytes32 measurement;
        /// @dev SHA-256 of the COSE Sig_structure ["Signature1", protected, h'', payload]: what ES256 signs.
        bytes32 messageHash;
        /// @dev The ES256 signature, r‖s.
        bytes32 r;
        bytes32 s;
    }

    /// @notice The COSE_Sign1 tag.
    uint256 internal constant COSE_SIGN1_TAG = 18;
    /// @notice The EAT profile of RFC 9783 tokens.
    string internal constant PSA_PROFILE = "tag:psacertified.org,2023:psa#tfm";

    /// @notice Claim keys (RFC 9783 §4; 10, 256 and 265 are EAT's nonce, ueid and profile).
    uint256 internal constant NONCE = 10;
    uint256 internal constant INSTANCE_ID = 256;
    uint256 internal constant PROFILE = 265;
    uint256 internal constant CLIENT_ID = 2394;
    uint256 internal constant SECURITY_LIFECYCLE = 2395;
    uint256 internal constant IMPLEMENTATION_ID = 2396;
    uint256 internal constant BOOT_SEED = 2397;
    uint256 internal constant CERTIFICATION_REFERENCE = 2398;
    uint256 internal constant SOFTWARE_COMPONENTS = 2399;
    uint256 internal constant VERIFICATION_SERVICE = 2400;
    /// @notice Keys inside a software component (RFC 9783 §4.4.1; 3 is not assigned).
    uint256 internal constant COMPONENT_TYPE = 1;
    uint256 internal constant COMPONENT_MEASUREMENT = 2;
    uint256 internal constant COMPONENT_VERSION = 4;
    uint256 internal constant COMPONENT_SIGNER_ID = 5;
    uint256 internal constant COMPONENT_DESCRIPTION = 6;

    /// @dev Major types (RFC 8949 §3.1).
    uint256 private constant _UINT = 0;
    uint256 private constant _NINT = 1;
    uint256 private constant _BYTES = 2;
    uint256 private constant _TEXT = 3;
    uint256 private constant _ARRAY = 4;
    uint256 private constant _MAP = 5;
    uint256 private constant _TAG = 6;
    /// @dev COSE header labels (RFC 9052 §3.1) the decoder looks at: alg and crit.
    uint256 private constant _HEADER_ALG = 1;
    uint256 private constant _HEADER_CRIT = 2;
    /// @dev ES256 is COSE algorithm -7: a negative integer with argument 6.
    uint256 private constant _ES256_ARGUMENT = 6;
    /// @dev Header labels the decoder accepts: unsigned 0 to 127 (bit = label) and negative -1 to -128 (bit =
    /// 128 + argument), every label COSE registers for a signed message among them.
    uint256 private constant _MAX_LABEL_ARGUMENT = 127;
    /// @dev How every Sig_structure starts: 84 6a "Signature1"; the protected bstr, the empty external_aad
    /// (40) and the payload's bstr follow.
    bytes12 private constant _SIG_STRUCTURE_CONTEXT = 0x846a5369676e617475726531;
    bytes32 private constant _PROFILE_HASH = keccak256(bytes(PSA_PROFILE));
    /// @dev Bit i of the claims seen: claim 10 is bit 0, 256 bit 1, 265 bit 2, 2394 + k bit 3 + k.
    /// Mandatory: nonce, instance id, profile, client id, lifecycle, implementation id, software components.
    uint256 private constant _MANDATORY_CLAIMS = 0x13f;
    uint256 private constant _ASCII_HIGH_BITS = 0x8080808080808080808080808080808080808080808080808080808080808080;

    /// @notice An item needs the bytes up to offset `needed`; what holds it (the token, or the payload for a
    /// claim) ends at `end`.
    error PsaTokenTruncated(uint256 needed, uint256 end);
    /// @notice Bytes follow the last item: after the signature (`length` is the token's) or, inside the
    /// payload, after the claims map (`length` is the payload's end).
    error PsaTokenTrailingBytes(uint256 end, uint256 length);
    /// @notice An indefinite-length string, array or map: deterministic CBOR has definite lengths only.
    error PsaTokenIndefiniteLength(uint256 offset);
    /// @notice Additional information 28 to 30 (reserved), or 31 on a type that has no indefinite length.
    error PsaTokenMalformed(uint256 offset, uint8 initialByte);
    /// @notice The token is not tagged 18 (COSE_Sign1): the first item's major type and argument.
    error PsaTokenWrongTag(uint8 majorType, uint256 argument);
    /// @notice The protected header names no algorithm (label 1): ES256 must be named there, where the
    /// signature covers it.
    error PsaTokenMissingAlgorithm();
    /// @notice The protected header's algorithm is `alg`, not ES256 (-7).
    error PsaTokenWrongAlgorithm(int256 alg);
    /// @notice The token marks headers critical (label 2): no header extension is understood here.
    error PsaTokenCriticalHeader();
    /// @notice Header label `label` (at `offset`) appears twice, in one bucket or across both.
    error PsaTokenDuplicateHeader(uint256 offset, int256 label);
    /// @notice A header label at `offset` is not an integer from -128 to 127 (its major type and argument).
    error PsaTokenUnsupportedHeaderLabel(uint256 offset, uint8 majorType, uint256 argument);
    /// @notice The item at `offset` (its major type and argument) is not of the kind the token has there:
    /// COSE_Sign1 is an array of four, its headers are maps, claim and component keys are unsigned integers, a
    /// claim's value has its claim's type, a header's value is an integer, a string or an array of byte
    /// strings.
    error PsaTokenUnexpectedItem(uint256 offset, uint8 majorType, uint256 argument);
    /// @notice A string at `offset` is `size` bytes: not what its claim has (nonce 32, instance id 33,
    /// implementation id 32, boot seed 8 to 32, signer id 32, 48 or 64, signature 64).
    error PsaTokenWrongSize(uint256 offset, uint256 size);
    /// @notice A map key at `offset` appeared before in the same map.
    error PsaTokenDuplicateKey(uint256 offset, uint256 key);
    /// @notice Claim `key` (at `offset`) is not one of RFC 9783's: this profile carries no others.
    error PsaTokenUnknownClaim(uint256 offset, uint256 key);
    /// @notice The token has no claim `key`, which RFC 9783 makes mandatory.
    error PsaTokenMissingClaim(uint256 key);
    /// @notice The profile claim is not "tag:psacertified.org,2023:psa#tfm".
    error PsaTokenWrongProfile(string profile);
    /// @notice The instance id is not a UEID of type RAND (first byte 0x01).
    error PsaTokenInstanceIdNotRand(uint8 ueidType);
    /// @notice The client id is 0 or outside 32 bits.
    error PsaTokenBadClientId(int256 clientId);
    /// @notice The security lifecycle is in none of RFC 9783's states (0x0000-0x60ff by major byte).
    error PsaTokenBadLifecycle(uint256 lifecycle);
    /// @notice The certification reference is not EAN-13+5 (13 digits, "-", 5 digits).
    error PsaTokenBadCertificationReference(string certificationReference);
    /// @notice A text string has a byte at `offset` that is not valid UTF-8.
    error PsaTokenInvalidUtf8(uint256 offset);
    /// @notice The software components claim is empty: RFC 9783 requires at least one.
    error PsaTokenNoSoftwareComponents();
    /// @notice Software component `index` (from 0) has key `key` (at `offset`), which RFC 9783 does not define.
    error PsaTokenUnknownComponentKey(uint256 index, uint256 offset, uint256 key);
    /// @notice Software component `index` lacks its measurement value (2) or signer id (5).
    error PsaTokenMissingComponentField(uint256 index, uint256 key);
    /// @notice Software component `index` is measured with SHA-384 or SHA-512 (`size` bytes): DeviceTrust's
    /// measurement folds SHA-256 measurement values.
    error PsaTokenMeasurementNotSha256(uint256 index, uint256 size);

    /// @notice Parses `token` (in any serialization RFC 9783 §5 allows) and computes its measurement and the
    /// hash its signature is over; reverts with the first rule it breaks. Verifies no signature and appraises
    /// no claim: see PsaAttestation.
    function parse(bytes calldata token) internal pure returns (Token memory t) {
        (uint256 protectedStart, uint256 protectedSize, uint256 payloadHead) = _envelope(token);
        uint256 payloadEnd = _payload(token, payloadHead, t);
        // The signature: r‖s.
        (uint256 signature, uint256 size, uint256 end) = _string(token, payloadEnd, token.length, _BYTES);
        if (size != 64) revert PsaTokenWrongSize(payloadEnd, size);
        if (end != token.length) revert PsaTokenTrailingBytes(end, token.length);
        t.r = bytes32(_word(token, signature));
        t.s = bytes32(_word(token, signature + 32));
        t.messageHash = _sigStructureHash(token, protectedStart, protectedSize, payloadHead);
    }

    // ---------------------------------------------------------------- COSE_Sign1

    /// @dev The tag, the array of four and both headers: the protected bstr's content and size, and where the
    /// payload's string starts.
    function _envelope(
        bytes calldata token
    ) private pure returns (uint256 protectedStart, uint256 protectedSize, uint256 next) {
        uint256 length = token.length;
        (uint256 major, uint256 arg, uint256 p) = _head(token, 0, length);
        if (major != _TAG || arg != COSE_SIGN1_TAG) revert PsaTokenWrongTag(uint8(major), arg);
        p = _expect(token, p, length, _ARRAY, 4);
        // The protected bucket names ES256; the unprotected one may carry a kid or certificates.
        uint256 labels;
        (protectedStart, protectedSize, labels, next) = _protectedHeader(token, p, length);
        (next, ) = _headerMap(token, next, length, labels);
    }

    /// @dev The payload's byte string at `p`, holding the claims map and nothing else; fills `t`. Returns
    /// where the string ends.
    function _payload(bytes calldata token, uint256 p, Token memory t) private pure returns (uint256 payloadEnd) {
        uint256 payload;
        (payload, , payloadEnd) = _string(token, p, token.length, _BYTES);
        uint256 claimsEnd = _claims(token, payload, payloadEnd, t);
        if (claimsEnd != payloadEnd) revert PsaTokenTrailingBytes(claimsEnd, payloadEnd);
    }

    /// @dev The protected header's bstr at `p`: a map, and nothing after it, that names ES256. Returns where
    /// its content starts, its size, the labels it holds and where the bstr ends.
    function _protectedHeader(
        bytes calldata token,
        uint256 p,
        uint256 end
    ) private pure returns (uint256 start, uint256 size, uint256 labels, uint256 next) {
        (start, size, next) = _string(token, p, end, _BYTES);
        // An empty bstr stands for no protected header (RFC 9052 §3): it names no algorithm.
        if (size == 0) revert PsaTokenMissingAlgorithm();
        uint256 mapEnd;
        (mapEnd, labels) = _headerMap(token, start, next, 0);
        if (mapEnd != next) revert PsaTokenTrailingBytes(mapEnd, next);
        if (labels & (1 << _HEADER_ALG) == 0) revert PsaTokenMissingAlgorithm();
    }

    /// @dev A header map at `p` (inside what ends at `end`); `labels` are those already seen (the protected
    /// bucket's, when this is the unprotected one). Each label an integer from -128 to 127, once across both
    /// buckets, so alg (1) is named once and, as the protected bucket is read first, only there; alg is ES256;
    /// no crit (2). Returns where the map ends and the labels seen.
    function _headerMap(
        bytes calldata token,
        uint256 p,
        uint256 end,
        uint256 labels
    ) private pure returns (uint256, uint256) {
        (uint256 count, uint256 next) = _count(token, p, end, _MAP);
        p = next;
        for (; count != 0; --count) {
            (uint256 major, uint256 arg, uint256 valueStart) = _head(token, p, end);
            if ((major != _UINT && major != _NINT) || arg > _MAX_LABEL_ARGUMENT) {
                revert PsaTokenUnsupportedHeaderLabel(p, uint8(major), arg);
            }
            uint256 bit = 1 << (major == _UINT ? arg : 128 + arg);
            if (labels & bit != 0) {
                revert PsaTokenDuplicateHeader(p, major == _UINT ? int256(arg) : -1 - int256(arg));
            }
            labels |= bit;
            if (major == _UINT && arg == _HEADER_CRIT) revert PsaTokenCriticalHeader();
            p =
                major == _UINT && arg == _HEADER_ALG
                    ? _algorithm(token, valueStart, end)
                    : _headerValue(token, valueStart, end);
        }
        return (p, labels);
    }

    /// @dev The algorithm at `p`: ES256 (-7). Returns where it ends.
    function _algorithm(bytes calldata token, uint256 p, uint256 end) private pure returns (uint256) {
        (uint256 major, uint256 arg, uint256 next) = _head(token, p, end);
        if (major == _NINT && arg == _ES256_ARGUMENT) return next;
        // arg < 2^64: the int256 conversions are exact.
        if (major == _UINT) revert PsaTokenWrongAlgorithm(int256(arg));
        if (major == _NINT) revert PsaTokenWrongAlgorithm(-1 - int256(arg));
        revert PsaTokenUnexpectedItem(p, uint8(major), arg);
    }

    /// @dev A header's value at `p`: an integer, a byte string, a UTF-8 text string, or an array of byte
    /// strings (x5chain). Returns where it ends.
    function _headerValue(bytes calldata token, uint256 p, uint256 end) private pure returns (uint256 next) {
        (uint256 major, uint256 arg, uint256 start) = _head(token, p, end);
        if (major == _UINT || major == _NINT) return start;
        if (major == _BYTES) {
            (, , next) = _string(token, p, end, _BYTES);
        } else if (major == _TEXT) {
            next = _text(token, p, end);
        } else if (major == _ARRAY) {
            next = start;
            for (; arg != 0; --arg) (, , next) = _string(token, next, end, _BYTES);
        } else {
            revert PsaTokenUnexpectedItem(p, uint8(major), arg);
        }
    }

    /// @dev SHA-256 of the Sig_structure ["Signature1", protected, h'', payload] in deterministic encoding: the
    /// two strings' contents as the token has them (the payload's string at `payloadHead`), under heads in
    /// their shortest form.
    function _sigStructureHash(
        bytes calldata token,
        uint256 protectedStart,
        uint256 protectedSize,
        uint256 payloadHead
    ) private pure returns (bytes32) {
        (uint256 payload, uint256 payloadSize, ) = _string(token, payloadHead, token.length, _BYTES);
        return
            sha256(
                bytes.concat(
                    _SIG_STRUCTURE_CONTEXT,
                    _bytesHead(protectedSize),
                    token[protectedStart:protectedStart + protectedSize],
                    hex"40",
                    _bytesHead(payloadSize),
                    token[payload:payload + payloadSize]
                )
            );
    }

    /// @dev The shortest head of a byte string of `size` bytes (RFC 8949 §4.2.1).
    function _bytesHead(uint256 size) private pure returns (bytes memory) {
        if (size < 24) return abi.encodePacked(uint8(0x40 + size));
        if (size < 0x100) return abi.encodePacked(uint8(0x58), uint8(size));
        if (size < 0x10000) return abi.encodePacked(uint8(0x59), uint16(size));
        // A calldata token is far below 2^32 bytes.
        return abi.encodePacked(uint8(0x5a), uint32(size));
    }

    // ---------------------------------------------------------------- claims

    /// @dev The claims map at `p`, within the payload ending at `end`; fills `t`. Returns where the map ends.
    function _claims(bytes calldata token, uint256 p, uint256 end, Token memory t) private pure returns (uint256) {
        (uint256 count, uint256 next) = _count(token, p, end, _MAP);
        p = next;
        // Keys in any order (RFC 9783 §5), each once.
        uint256 seen;
        for (uint256 i; i < count; ++i) {
            uint256 key;
            (key, next) = _key(token, p, end);
            uint256 bit = 1 << _claimBit(key);
            if (seen & bit != 0) revert PsaTokenDuplicateKey(p, key);
            seen |= bit;
            p = _claim(token, p, key, next, end, t);
        }
        uint256 missing = _MANDATORY_CLAIMS & ~seen;
        if (missing != 0) revert PsaTokenMissingClaim(_claimOfBit(_lowestBit(missing)));
        return p;
    }

    /// @dev The value of claim `key` (whose key is at `keyOffset`) at `p`; returns where it ends.
    function _claim(
        bytes calldata token,
        uint256 keyOffset,
        uint256 key,
        uint256 p,
        uint256 end,
        Token memory t
    ) private pure returns (uint256 next) {
        uint256 start;
        uint256 size;
        if (key == NONCE) {
            // RFC 9783 allows 48 and 64 bytes too; the nonce is a registry challenge, 32 bytes.
            (start, next) = _fixedBytes(token, p, end, 32);
            t.nonce = bytes32(_word(token, start));
        } else if (key == INSTANCE_ID) {
            (start, next) = _fixedBytes(token, p, end, 33);
            uint256 ueidType = _word(token, start) >> 248;
            if (ueidType != 0x01) revert PsaTokenInstanceIdNotRand(uint8(ueidType));
            t.instanceId = bytes32(_word(token, start + 1));
        } else if (key == PROFILE) {
            (start, , next) = _string(token, p, end, _TEXT);
            // Compared whole: no UTF-8 check needed.
            if (keccak256(token[start:next]) != _PROFILE_HASH) revert PsaTokenWrongProfile(string(token[start:next]));
        } else if (key == CLIENT_ID) {
            (next, t.clientId) = _clientId(token, p, end);
        } else if (key == SECURITY_LIFECYCLE) {
            (next, t.securityLifecycle) = _lifecycle(token, p, end);
        } else if (key == IMPLEMENTATION_ID) {
            (start, next) = _fixedBytes(token, p, end, 32);
            t.implementationId = bytes32(_word(token, start));
        } else if (key == BOOT_SEED) {
            (, size, next) = _string(token, p, end, _BYTES);
            if (size < 8 || size > 32) revert PsaTokenWrongSize(p, size);
        } else if (key == CERTIFICATION_REFERENCE) {
            (start, size, next) = _string(token, p, end, _TEXT);
            _certificationReference(token, start, size);
        } else if (key == SOFTWARE_COMPONENTS) {
            (next, t.componentCount, t.measurement) = _components(token, p, end);
        } else if (key == VERIFICATION_SERVICE) {
            next = _text(token, p, end);
        } else {
            revert PsaTokenUnknownClaim(keyOffset, key);
        }
    }

    /// @dev The client id at `p`: a non-zero int32, either sign.
    function _clientId(bytes calldata token, uint256 p, uint256 end) private pure returns (uint256, int32) {
        (uint256 major, uint256 arg, uint256 next) = _head(token, p, end);
        // arg < 2^64 (an 8-byte argument at most): the int256 conversions below are exact.
        int256 value;
        if (major == _UINT) value = int256(arg);
        else if (major == _NINT) value = -1 - int256(arg);
        else revert PsaTokenUnexpectedItem(p, uint8(major), arg);
        if (value == 0 || value < type(int32).min || value > type(int32).max) revert PsaTokenBadClientId(value);
        return (next, int32(value));
    }

    /// @dev The security lifecycle at `p`: RFC 9783 §4.3.1's major state ‖ a minor byte, the major one of
    /// 0x00, 0x10, ..., 0x60.
    function _lifecycle(bytes calldata token, uint256 p, uint256 end) private pure returns (uint256, uint16) {
        (uint256 major, uint256 lifecycle, uint256 next) = _head(token, p, end);
        if (major != _UINT) revert PsaTokenUnexpectedItem(p, uint8(major), lifecycle);
        if (lifecycle > 0x6fff || (lifecycle >> 8) & 0x0f != 0) revert PsaTokenBadLifecycle(lifecycle);
        return (next, uint16(lifecycle));
    }

    /// @dev EAN-13+5: 13 digits, "-", 5 digits (ASCII, so valid UTF-8).
    function _certificationReference(bytes calldata token, uint256 start, uint256 size) private pure {
        bool ok = size == 19;
        for (uint256 i; ok && i < 19; ++i) {
            uint256 c = _word(token, start + i) >> 248;
            ok = i == 13 ? c == 0x2d : (c >= 0x30 && c <= 0x39);
        }
        if (!ok) revert PsaTokenBadCertificationReference(string(token[start:start + size]));
    }

    // ---------------------------------------------------------------- software components

    /// @dev The software components array at `p`: returns where it ends, its length and the measurement.
    function _components(
        bytes calldata token,
        uint256 p,
        uint256 end
    ) private pure returns (uint256 next, uint256 count, bytes32 measurement) {
        (count, next) = _count(token, p, end, _ARRAY);
        if (count == 0) revert PsaTokenNoSoftwareComponents();
        for (uint256 i; i < count; ++i) {
            bytes32 value;
            (value, next) = _component(token, i, next, end);
            measurement = _extend(measurement, value);
        }
    }

    /// @dev Component `index` at `p`: a map of keys 1, 2, 4, 5, 6 in any order, each once, 2 and 5 present.
    /// Returns its measurement value and where it ends.
    function _component(
        bytes calldata token,
        uint256 index,
        uint256 p,
        uint256 end
    ) private pure returns (bytes32 measurementValue, uint256) {
        (uint256 count, uint256 next) = _count(token, p, end, _MAP);
        p = next;
        uint256 seen;
        // Counting down keeps one stack slot free for the legacy pipeline (which compiles the tests).
        for (; count != 0; --count) {
            uint256 key;
            (key, next) = _key(token, p, end);
            // Keys above 255 shift out to nothing; they are unknown and refused below.
            if (seen & (1 << key) != 0) revert PsaTokenDuplicateKey(p, key);
            seen |= 1 << key;
            bytes32 value;
            (value, p) = _componentField(token, index, p, key, next, end);
            if (key == COMPONENT_MEASUREMENT) measurementValue = value;
        }
        if (seen & (1 << COMPONENT_MEASUREMENT) == 0) {
            revert PsaTokenMissingComponentField(index, COMPONENT_MEASUREMENT);
        }
        if (seen & (1 << COMPONENT_SIGNER_ID) == 0) {
            revert PsaTokenMissingComponentField(index, COMPONENT_SIGNER_ID);
        }
        return (measurementValue, p);
    }

    /// @dev The value of component `index`'s field `key` (whose key is at `keyOffset`) at `p`: its measurement
    /// value for key 2. Returns where it ends.
    function _componentField(
        bytes calldata token,
        uint256 index,
        uint256 keyOffset,
        uint256 key,
        uint256 p,
        uint256 end
    ) private pure returns (bytes32 value, uint256 next) {
        uint256 start;
        uint256 size;
        if (key == COMPONENT_MEASUREMENT) {
            (start, size, next) = _string(token, p, end, _BYTES);
            if (size == 48 || size == 64) revert PsaTokenMeasurementNotSha256(index, size);
            if (size != 32) revert PsaTokenWrongSize(p, size);
            value = bytes32(_word(token, start));
        } else if (key == COMPONENT_SIGNER_ID) {
            (, size, next) = _string(token, p, end, _BYTES);
            if (size != 32 && size != 48 && size != 64) revert PsaTokenWrongSize(p, size);
        } else if (key == COMPONENT_TYPE || key == COMPONENT_VERSION || key == COMPONENT_DESCRIPTION) {
            next = _text(token, p, end);
        } else {
            revert PsaTokenUnknownComponentKey(index, keyOffset, key);
        }
    }

    /// @dev One step of the measured-boot chain: sha256(measurement ‖ value).
    function _extend(bytes32 measurement, bytes32 value) private pure returns (bytes32) {
        return sha256(abi.encodePacked(measurement, value));
    }

    // ---------------------------------------------------------------- CBOR items

    /// @dev A map key at `p`: an unsigned integer.
    function _key(bytes calldata token, uint256 p, uint256 end) private pure returns (uint256 key, uint256 next) {
        uint256 major;
        (major, key, next) = _head(token, p, end);
        if (major != _UINT) revert PsaTokenUnexpectedItem(p, uint8(major), key);
    }

    /// @dev An array or map (`major`) at `p`: its count and where its first item starts.
    function _count(
        bytes calldata token,
        uint256 p,
        uint256 end,
        uint256 major
    ) private pure returns (uint256 count, uint256 next) {
        uint256 m;
        (m, count, next) = _head(token, p, end);
        if (m != major) revert PsaTokenUnexpectedItem(p, uint8(m), count);
    }

    /// @dev The item at `p` must be of `major` type with argument `arg`; returns where its head ends.
    function _expect(
        bytes calldata token,
        uint256 p,
        uint256 end,
        uint256 major,
        uint256 arg
    ) private pure returns (uint256 next) {
        (uint256 m, uint256 a, uint256 n) = _head(token, p, end);
        if (m != major || a != arg) revert PsaTokenUnexpectedItem(p, uint8(m), a);
        return n;
    }

    /// @dev A byte or text string (`major`) at `p`: where its content starts, its size and where it ends.
    function _string(
        bytes calldata token,
        uint256 p,
        uint256 end,
        uint256 major
    ) private pure returns (uint256 start, uint256 size, uint256 next) {
        uint256 m;
        (m, size, start) = _head(token, p, end);
        if (m != major) revert PsaTokenUnexpectedItem(p, uint8(m), size);
        // Unchecked: start is below the token's length and size below 2^64.
        unchecked {
            next = start + size;
        }
        if (next > end) revert PsaTokenTruncated(next, end);
    }

    /// @dev A byte string of exactly `size` bytes at `p`: where its content starts and where it ends.
    function _fixedBytes(
        bytes calldata token,
        uint256 p,
        uint256 end,
        uint256 size
    ) private pure returns (uint256 start, uint256 next) {
        uint256 actual;
        (start, actual, next) = _string(token, p, end, _BYTES);
        if (actual != size) revert PsaTokenWrongSize(p, actual);
    }

    /// @dev A text string at `p`, valid UTF-8; returns where it ends.
    function _text(bytes calldata token, uint256 p, uint256 end) private pure returns (uint256 next) {
        uint256 start;
        (start, , next) = _string(token, p, end, _TEXT);
        _checkUtf8(token, start, next);
    }

    /// @dev The head of the item at `p`: its major type, its argument and where its content starts. Refuses
    /// indefinite lengths and reserved additional information; takes an argument in any of its lengths (RFC
    /// 9783 §5: attesters need not emit preferred serialization).
    function _head(
        bytes calldata token,
        uint256 p,
        uint256 end
    ) private pure returns (uint256 major, uint256 arg, uint256 next) {
        // Unchecked: offsets are below the token's length (calldata, far below 2^64) and size is 1 to 8.
        unchecked {
            if (p >= end) revert PsaTokenTruncated(p + 1, end);
            uint256 word = _word(token, p);
            uint256 initial = word >> 248;
            major = initial >> 5;
            arg = initial & 0x1f;
            if (arg < 24) return (major, arg, p + 1);
            if (arg > 27) {
                if (arg == 31 && major >= _BYTES && major <= _MAP) revert PsaTokenIndefiniteLength(p);
                revert PsaTokenMalformed(p, uint8(initial));
            }
            // 1, 2, 4 or 8 bytes of argument after the initial byte.
            uint256 size = 1 << (arg - 24);
            next = p + 1 + size;
            if (next > end) revert PsaTokenTruncated(next, end);
            arg = (word << 8) >> (256 - 8 * size);
        }
    }

    /// @dev Reverts unless token[start:end] is UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
    /// above U+10FFFF). ASCII is checked a word at a time; the claims DeviceTrust devices send are ASCII.
    function _checkUtf8(bytes calldata token, uint256 start, uint256 end) private pure {
        // Unchecked: i stays within [start, end], offsets inside the token; n is 1 to 32.
        unchecked {
            uint256 i = start;
            while (i < end) {
                uint256 n = end - i < 32 ? end - i : 32;
                // The top n bytes of the word at i, all below 0x80: skip them.
                if (_word(token, i) & (_ASCII_HIGH_BITS << (256 - 8 * n)) == 0) {
                    i += n;
                } else {
                    i = _utf8Char(token, i, end);
                }
            }
        }
    }

    /// @dev The character starting at `i` (before `end`), checked; returns where the next one starts.
    function _utf8Char(bytes calldata token, uint256 i, uint256 end) private pure returns (uint256) {
        uint256 word = _word(token, i);
        uint256 lead = word >> 248;
        if (lead < 0x80) return i + 1;
        uint256 size;
        // The range of the second byte (RFC 3629 §4): narrower after E0, ED, F0 and F4.
        uint256 low = 0x80;
        uint256 high = 0xbf;
        if (lead >= 0xc2 && lead <= 0xdf) {
            size = 2;
        } else if (lead >= 0xe0 && lead <= 0xef) {
            size = 3;
            if (lead == 0xe0) low = 0xa0;
            else if (lead == 0xed) high = 0x9f;
        } else if (lead >= 0xf0 && lead <= 0xf4) {
            size = 4;
            if (lead == 0xf0) low = 0x90;
            else if (lead == 0xf4) high = 0x8f;
        } else {
            revert PsaTokenInvalidUtf8(i);
        }
        if (i + size > end) revert PsaTokenInvalidUtf8(i);
        uint256 second = (word >> 240) & 0xff;
        if (second < low || second > high) revert PsaTokenInvalidUtf8(i + 1);
        for (uint256 k = 2; k < size; ++k) {
            if ((word >> (248 - 8 * k)) & 0xc0 != 0x80) revert PsaTokenInvalidUtf8(i + k);
        }
        return i + size;
    }

    // ---------------------------------------------------------------- helpers

    /// @dev The bit of a claim key in the claims-seen set; unknown keys (refused right after) get bit 255.
    function _claimBit(uint256 key) private pure returns (uint256) {
        if (key == NONCE) return 0;
        if (key == INSTANCE_ID) return 1;
        if (key == PROFILE) return 2;
        if (key >= CLIENT_ID && key <= VERIFICATION_SERVICE) return 3 + key - CLIENT_ID;
        return 255;
    }

    function _claimOfBit(uint256 bit) private pure returns (uint256) {
        if (bit == 0) return NONCE;
        if (bit == 1) return INSTANCE_ID;
        if (bit == 2) return PROFILE;
        return CLIENT_ID + bit - 3;
    }

    function _lowestBit(uint256 x) private pure returns (uint256 bit) {
        while (x & 1 == 0) {
            x >>= 1;
            ++bit;
        }
    }

    /// @dev The 32 bytes at `offset` (zeros past the end of calldata; callers check bounds first).
    function _word(bytes calldata data, uint256 offset) private pure returns (uint256 value) {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            value := calldataload(add(data.offset, offset))
        }
    }
}
