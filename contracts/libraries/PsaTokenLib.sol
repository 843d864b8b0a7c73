// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title PsaTokenLib
/// @notice Parses an Arm PSA Initial Attestation Token (RFC 9783) exactly as DeviceTrust devices make it
/// (src/device/psa-token.ts): a COSE_Sign1 (RFC 9052) with tag 18, the protected header {1: -7} (ES256) and
/// an empty unprotected one, whose payload is RFC 9783's claims map, every item in core deterministic CBOR
/// (RFC 8949 §4.2.1: definite lengths, shortest arguments, map keys in ascending order, no duplicate).
///
///   d2 84 43 a1 01 26 a0 59 <len16> <claims map> 58 40 <r‖s>     (a payload under 256 bytes: 58 <len8>)
///
/// Anything else is refused with an error that names the rule: the same rules as src/verify/psa-token.ts.
/// @dev A minimal decoder: it reads calldata in place, one item head at a time, and knows only the item
/// kinds a token has (unsigned and negative integers, byte and text strings, arrays, maps and the one tag).
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
    /// @dev The only protected header: the bstr .cbor {1: -7} (43 a1 01 26), as a big-endian integer.
    uint256 private constant _PROTECTED = 0x43a10126;
    /// @dev Where the payload's bstr starts: after d2 84 43 a1 01 26 a0.
    uint256 private constant _PAYLOAD_OFFSET = 7;
    /// @dev How every Sig_structure of this profile starts: 84 6a "Signature1", the protected bstr 43 a1 01 26,
    /// the empty external_aad 40; the payload's bstr (head included) follows.
    bytes17 private constant _SIG_STRUCTURE_PREFIX = 0x846a5369676e61747572653143a1012640;
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
    /// @notice An integer, length or count not in its shortest form (RFC 8949 §4.2.1).
    error PsaTokenNotShortest(uint256 offset, uint256 argument);
    /// @notice The token is not tagged 18 (COSE_Sign1): the first item's major type and argument.
    error PsaTokenWrongTag(uint8 majorType, uint256 argument);
    /// @notice The protected header is not exactly {1: -7} (ES256, nothing else): its bytes.
    error PsaTokenWrongProtectedHeader(bytes header);
    /// @notice The unprotected header has `entries` entries: this profile carries none.
    error PsaTokenUnprotectedHeaderNotEmpty(uint256 entries);
    /// @notice The item at `offset` (its major type and argument) is not of the kind the token has there:
    /// COSE_Sign1 is an array of four, claim and component keys are unsigned integers, a claim's value has
    /// its claim's type.
    error PsaTokenUnexpectedItem(uint256 offset, uint8 majorType, uint256 argument);
    /// @notice A string at `offset` is `size` bytes: not what its claim has (nonce 32, instance id 33,
    /// implementation id 32, boot seed 8 to 32, signer id 32, 48 or 64, signature 64).
    error PsaTokenWrongSize(uint256 offset, uint256 size);
    /// @notice A map key at `offset` is not above the one before it (`previous`): keys must be in ascending
    /// (deterministic) order.
    error PsaTokenKeyOutOfOrder(uint256 offset, uint256 key, uint256 previous);
    /// @notice A map key at `offset` repeats the one before it.
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

    /// @notice Parses `token` exactly and computes its measurement and signed hash; reverts with the first
    /// rule it breaks. Verifies no signature and appraises no claim: see PsaAttestation.
    function parse(bytes calldata token) internal pure returns (Token memory t) {
        uint256 length = token.length;
        (uint256 major, uint256 arg, uint256 p) = _head(token, 0, length);
        if (major != _TAG || arg != COSE_SIGN1_TAG) revert PsaTokenWrongTag(uint8(major), arg);
        p = _expect(token, p, length, _ARRAY, 4);
        _protectedHeader(token, p, length);
        // The unprotected header: the empty map.
        (major, arg, p) = _head(token, 6, length);
        if (major != _MAP) revert PsaTokenUnexpectedItem(6, uint8(major), arg);
        if (arg != 0) revert PsaTokenUnprotectedHeaderNotEmpty(arg);

        // The payload: a byte string holding the claims map and nothing else.
        (uint256 payload, uint256 size, uint256 payloadEnd) = _string(token, _PAYLOAD_OFFSET, length, _BYTES);
        uint256 claimsEnd = _claims(token, payload, payloadEnd, t);
        if (claimsEnd != payloadEnd) revert PsaTokenTrailingBytes(claimsEnd, payloadEnd);

        // The signature: r‖s.
        uint256 signature;
        (signature, size, p) = _string(token, payloadEnd, length, _BYTES);
        if (size != 64) revert PsaTokenWrongSize(payloadEnd, size);
        if (p != length) revert PsaTokenTrailingBytes(p, length);
        t.r = bytes32(_word(token, signature));
        t.s = bytes32(_word(token, signature + 32));
        // The Sig_structure is a constant prefix and the payload's bstr exactly as the token has it: one
        // copy of the payload to memory, no re-encoding.
        t.messageHash = sha256(bytes.concat(_SIG_STRUCTURE_PREFIX, token[_PAYLOAD_OFFSET:payloadEnd]));
    }

    // ---------------------------------------------------------------- COSE_Sign1

    /// @dev The protected header's bstr at `p` (offset 2): exactly 43 a1 01 26.
    function _protectedHeader(bytes calldata token, uint256 p, uint256 end) private pure {
        (uint256 start, , uint256 next) = _string(token, p, end, _BYTES);
        // Four bytes from p are in bounds (the string's head and three bytes of content, or more).
        if (next != p + 4 || _word(token, p) >> 224 != _PROTECTED) {
            revert PsaTokenWrongProtectedHeader(token[start:next]);
        }
    }

    // ---------------------------------------------------------------- claims

    /// @dev The claims map at `p`, within the payload ending at `end`; fills `t`. Returns where the map ends.
    function _claims(bytes calldata token, uint256 p, uint256 end, Token memory t) private pure returns (uint256) {
        (uint256 count, uint256 next) = _count(token, p, end, _MAP);
        p = next;
        // Each key must be at least `floor`: one above the key before it.
        uint256 floor;
        uint256 seen;
        for (uint256 i; i < count; ++i) {
            uint256 key;
            (key, next) = _key(token, p, end, floor);
            floor = _above(key);
            seen |= 1 << _claimBit(key);
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

    /// @dev Component `index` at `p`: a map of keys 1, 2, 4, 5, 6 in order, 2 and 5 present. Returns its
    /// measurement value and where it ends.
    function _component(
        bytes calldata token,
        uint256 index,
        uint256 p,
        uint256 end
    ) private pure returns (bytes32 measurementValue, uint256) {
        (uint256 count, uint256 next) = _count(token, p, end, _MAP);
        p = next;
        uint256 floor;
        uint256 seen;
        // Counting down keeps one stack slot free for the legacy pipeline (which compiles the tests).
        for (; count != 0; --count) {
            uint256 key;
            (key, next) = _key(token, p, end, floor);
            floor = _above(key);
            // Keys above 255 shift out to nothing; they are unknown and refused below.
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

    /// @dev A map key at `p`: an unsigned integer of at least `floor`, one above the previous key (0 for the
    /// first).
    function _key(
        bytes calldata token,
        uint256 p,
        uint256 end,
        uint256 floor
    ) private pure returns (uint256 key, uint256 next) {
        uint256 major;
        (major, key, next) = _head(token, p, end);
        if (major != _UINT) revert PsaTokenUnexpectedItem(p, uint8(major), key);
        if (key < floor) {
            if (key == floor - 1) revert PsaTokenDuplicateKey(p, key);
            revert PsaTokenKeyOutOfOrder(p, key, floor - 1);
        }
    }

    /// @dev The floor of the key after `key`.
    function _above(uint256 key) private pure returns (uint256) {
        // Unchecked: a key has at most 8 bytes.
        unchecked {
            return key + 1;
        }
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
    /// what core deterministic CBOR never has: indefinite lengths, reserved additional information and
    /// arguments longer than they need be.
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
            // The shortest form: 24 or more in one byte, 2^8, 2^16, 2^32 or more in two, four, eight. (Major type
            // 7, floats and simple values, has its own rule; no token item is one and the callers refuse them.)
            if (major != 7 && arg < (size == 1 ? 24 : 1 << (4 * size))) revert PsaTokenNotShortest(p, arg);
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
