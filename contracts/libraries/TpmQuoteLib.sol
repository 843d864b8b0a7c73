// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title TpmQuoteLib
/// @notice Parses a TPM 2.0 quote (TPM 2.0 Library, Part 2: TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE) and
/// the TPM's ECDSA P-256 signature over it, exactly: every size field checked against its bound and the
/// bytes present, nothing after the last field. The same rules as src/verify/tpm-quote.ts.
/// @dev Reads calldata in place with fixed-width big-endian loads (TPM structures are big-endian and
/// unaligned); every read is bounds-checked first, so a short quote reverts with TpmQuoteTruncated rather
/// than reading the zeros calldataload returns past the end.
library TpmQuoteLib {
    /// @notice TPM_GENERATED_VALUE: every structure a TPM signs starts with it ("\xFFTCG").
    uint32 internal constant TPM_GENERATED_VALUE = 0xff544347;
    uint16 internal constant TPM_ST_ATTEST_QUOTE = 0x8018;
    uint16 internal constant TPM_ALG_SHA256 = 0x000b;
    uint16 internal constant TPM_ALG_ECDSA = 0x0018;
    /// @notice The PCR a DeviceTrust device extends with each boot stage's SHA-256 (MeasuredBootLib
    /// extends as a TPM does): its value is the firmware's published measurement.
    uint256 internal constant BOOT_PCR = 16;
    /// @dev The largest TPM2B_NAME (a hash algorithm and a SHA-512 digest) and TPM2B_DATA a TPM emits.
    uint256 private constant _MAX_NAME = 66;
    uint256 private constant _MAX_DIGEST = 64;
    /// @dev A TPMT_SIGNATURE's first six bytes for ECDSA, SHA-256 and a 32-byte r.
    uint256 private constant _TPMT_ECDSA_SHA256_32 = 0x0018000b0020;
    /// @dev secp256r1's order n: r and s lie in [1, n).
    uint256 internal constant P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551;

    /// @notice What a DeviceTrust appraisal reads from a quote.
    struct Quote {
        /// @dev The caller's qualifying data (TPM2B_DATA): the 32-byte freshness value.
        bytes32 extraData;
        /// @dev Milliseconds the TPM has been powered since TPM2_Clear (clockInfo.clock).
        uint64 clock;
        /// @dev TPM Resets (power cycles) since TPM2_Clear, and restarts since the last reset.
        uint32 resetCount;
        uint32 restartCount;
        /// @dev The sha256 bank's PCR selection bitmap (pcrSelect[0] is PCRs 0-7, lowest bit first).
        uint32 pcrSelect;
        /// @dev SHA-256 of the selected PCRs' values in ascending PCR order.
        bytes32 pcrDigest;
    }

    /// @notice The quote ends before `needed` bytes (it has `length`).
    error TpmQuoteTruncated(uint256 needed, uint256 length);
    /// @notice Bytes follow the quote's last field.
    error TpmQuoteTrailingBytes(uint256 end, uint256 length);
    error TpmQuoteBadMagic(uint32 magic);
    error TpmQuoteNotAQuote(uint16 attestType);
    /// @notice A size field at `offset` says `size` bytes: more than the field holds, or for extraData and
    /// pcrDigest not the 32 bytes DeviceTrust appraises.
    error TpmQuoteWrongLength(uint256 offset, uint256 size);
    /// @notice clockInfo.safe is not a TPMI_YES_NO.
    error TpmQuoteBadSafeFlag(uint8 value);
    /// @notice Not one bank with a 3- or 4-byte selection (PCR_SELECT_MIN..MAX).
    error TpmQuoteBadSelection(uint256 banks, uint256 sizeofSelect);
    /// @notice A hash algorithm other than SHA-256 (the PCR bank, or the signature's hash).
    error TpmQuoteUnsupportedHash(uint16 hashAlg);
    /// @notice The quote does not cover BOOT_PCR, which holds the firmware's measurement.
    error TpmQuoteBootPcrNotSelected(uint32 pcrSelect);
    /// @notice A TPMT_SIGNATURE of another scheme than ECDSA, or DER that is not SEQUENCE{INTEGER, INTEGER}.
    error TpmSignatureUnsupported(uint16 sigAlg);
    /// @notice A length inside the signature disagrees with the bytes present.
    error TpmSignatureMalformed(uint256 offset);
    error TpmSignatureOutOfRange(uint256 r, uint256 s);

    /// @notice Parses `quote` exactly; reverts with the first rule it breaks.
    /// @dev Two variable parts (qualifiedSigner's size, sizeofSelect) fix the whole layout: the length is
    /// checked against it once, in three steps, and every field is then read at its offset unchecked.
    function parse(bytes calldata quote) internal pure returns (Quote memory q) {
        uint256 length = quote.length;
        if (length < 8) revert TpmQuoteTruncated(8, length);
        uint256 word = _word(quote, 0);
        if (uint32(word >> 224) != TPM_GENERATED_VALUE) revert TpmQuoteBadMagic(uint32(word >> 224));
        if (uint16(word >> 208) != TPM_ST_ATTEST_QUOTE) revert TpmQuoteNotAQuote(uint16(word >> 208));
        // qualifiedSigner (TPM2B_NAME): skipped. The AK's signature binds the quote; its name is the
        // provisioning's business (credential activation).
        uint256 size = uint16(word >> 192);
        if (size > _MAX_NAME) revert TpmQuoteWrongLength(6, size);
        uint256 p = 8 + size;
        // From extraData's size to sizeofSelect: 2 + 32 + clockInfo 17 + firmwareVersion 8 + the
        // selection's count 4, hash 2 and sizeofSelect 1.
        if (length < p + 66) revert TpmQuoteTruncated(p + 66, length);
        size = uint16(_word(quote, p) >> 240);
        if (size != 32) revert TpmQuoteWrongLength(p, size);
        q.extraData = bytes32(_word(quote, p + 2));
        // clockInfo: clock u64, resetCount u32, restartCount u32, safe u8; then firmwareVersion u64 (not
        // appraised: the measurement says what runs), the count u32, the bank's hash u16, sizeofSelect u8.
        word = _word(quote, p + 34);
        q.clock = uint64(word >> 192);
        q.resetCount = uint32(word >> 160);
        q.restartCount = uint32(word >> 128);
        if (uint8(word >> 120) > 1) revert TpmQuoteBadSafeFlag(uint8(word >> 120));
        size = uint8(word); // sizeofSelect
        if (uint32(word >> 24) != 1 || size < 3 || size > 4) revert TpmQuoteBadSelection(uint32(word >> 24), size);
        if (uint16(word >> 8) != TPM_ALG_SHA256) revert TpmQuoteUnsupportedHash(uint16(word >> 8));
        p += 66;
        if (length < p + size + 34) revert TpmQuoteTruncated(p + size + 34, length);
        if (length > p + size + 34) revert TpmQuoteTrailingBytes(p + size + 34, length);
        // Selection bytes: byte i, bit b is PCR 8i + b; reversed into pcrSelect so PCR k is its bit k.
        word = _word(quote, p);
        q.pcrSelect =
            uint32(uint8(word >> 248)) |
            (uint32(uint8(word >> 240)) << 8) |
            (uint32(uint8(word >> 232)) << 16) |
            (size == 4 ? uint32(uint8(word >> 224)) << 24 : 0);
        p += size;
        size = uint16(_word(quote, p) >> 240);
        if (size != 32) revert TpmQuoteWrongLength(p, size);
        q.pcrDigest = bytes32(_word(quote, p + 2));
    }

    /// @dev The 32 bytes at `offset` (zeros past the end of calldata; callers check the length first).
    function _word(bytes calldata data, uint256 offset) private pure returns (uint256 value) {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            value := calldataload(add(data.offset, offset))
        }
    }

    /// @notice The signature as a TPM or tpm2-tools gives it: a TPMT_SIGNATURE (ECDSA, SHA-256, r and s as
    /// TPM2Bs of at most 32 bytes) or DER SEQUENCE{r INTEGER, s INTEGER}. Returns r and s low-s
    /// normalised (TPMs do not normalise s; P-256 verifiers here refuse high s): (r, n - s) verifies
    /// exactly when (r, s) does.
    function parseSignature(bytes calldata signature) internal pure returns (bytes32 r, bytes32 s) {
        uint256 rv;
        uint256 sv;
        uint256 head = signature.length < 6 ? 0 : _word(signature, 0) >> 208;
        if (signature.length == 72 && head == _TPMT_ECDSA_SHA256_32 && _word(signature, 38) >> 240 == 32) {
            // What a TPM returns for nearly every signature (r and s both 32 bytes): read in place.
            rv = _word(signature, 6);
            sv = _word(signature, 40);
        } else if (signature.length != 0 && signature[0] == 0x30) {
            (rv, sv) = _parseDer(signature);
        } else {
            uint16 sigAlg = uint16(_readSig(signature, 0, 2));
            if (sigAlg != TPM_ALG_ECDSA) revert TpmSignatureUnsupported(sigAlg);
            uint16 hashAlg = uint16(_readSig(signature, 2, 2));
            if (hashAlg != TPM_ALG_SHA256) revert TpmQuoteUnsupportedHash(hashAlg);
            uint256 size = _readSig(signature, 4, 2);
            if (size > 32) revert TpmSignatureMalformed(4);
            rv = _readSig(signature, 6, size);
            uint256 p = 6 + size;
            size = _readSig(signature, p, 2);
            if (size > 32) revert TpmSignatureMalformed(p);
            sv = _readSig(signature, p + 2, size);
            if (p + 2 + size != signature.length) revert TpmSignatureMalformed(p + 2 + size);
        }
        if (rv == 0 || rv >= P256_N || sv == 0 || sv >= P256_N) revert TpmSignatureOutOfRange(rv, sv);
        // s in [1, n): n - s is in [1, n) too.
        if (sv > P256_N / 2) sv = P256_N - sv;
        return (bytes32(rv), bytes32(sv));
    }

    /// @dev DER as ECDSA signatures use it: a short-form SEQUENCE of two INTEGERs of 1 to 33 bytes (33 when a
    /// 32-byte value needs its sign byte). A 33-byte INTEGER whose first byte is not zero is above n and
    /// refused by the range check.
    function _parseDer(bytes calldata signature) private pure returns (uint256 r, uint256 s) {
        if (_readSig(signature, 1, 1) != signature.length - 2) revert TpmSignatureMalformed(1);
        uint256 p = 2;
        (r, p) = _derInteger(signature, p);
        (s, p) = _derInteger(signature, p);
        if (p != signature.length) revert TpmSignatureMalformed(p);
    }

    function _derInteger(bytes calldata signature, uint256 p) private pure returns (uint256 value, uint256 next) {
        if (_readSig(signature, p, 1) != 0x02) revert TpmSignatureUnsupported(uint16(uint8(signature[p])));
        uint256 size = _readSig(signature, p + 1, 1);
        if (size == 0 || size > 33) revert TpmSignatureMalformed(p + 1);
        if (size == 33) {
            if (_readSig(signature, p + 2, 1) != 0) return (type(uint256).max, p + 2 + size);
            value = _readSig(signature, p + 3, 32);
        } else {
            value = _readSig(signature, p + 2, size);
        }
        next = p + 2 + size;
    }

    /// @dev _read for the signature: a short signature is malformed, not a truncated quote.
    function _readSig(bytes calldata data, uint256 offset, uint256 size) private pure returns (uint256 value) {
        if (offset + size > data.length) revert TpmSignatureMalformed(offset);
        value = _load(data, offset, size);
    }

    function _load(bytes calldata data, uint256 offset, uint256 size) private pure returns (uint256 value) {
        if (size == 0) return 0;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            // In bounds (checked by the callers), size in [1, 32]: the word's top `size` bytes.
            value := shr(sub(256, shl(3, size)), calldataload(add(data.offset, offset)))
        }
    }
}
