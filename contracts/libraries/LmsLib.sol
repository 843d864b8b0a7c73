// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title LmsLib
/// @notice Verifies Leighton-Micali (LMS) hash-based signatures, RFC 8554 Section 5, and their SHA-256/192
/// parameter sets of NIST SP 800-208 (RFC 9858): post-quantum, stateful, one LMS tree (no HSS: a two-level
/// HSS signature is two LMS verifications, the upper tree signing the lower tree's public key).
/// - Public key: `u32 lmsType ‖ u32 otsType ‖ I (16) ‖ T[1] (m)`, 24 + m bytes.
/// - Signature: `u32 q ‖ u32 otsType ‖ C (n) ‖ y[0..p-1] (n each) ‖ u32 lmsType ‖ path[0..h-1] (m each)`,
///   12 + n(p + 1) + hm bytes (2,508 for LMS_SHA256_M32_H10 with LMOTS_SHA256_N32_W4).
/// `verify` reverts with a precise error on a malformed key or signature (unknown or mixed types, wrong
/// lengths, leaf index out of range) and returns false only for a well-formed signature that does not verify.
/// The key and signature are calldata (what a contract receives; a key kept on chain is best kept as its
/// hash and passed in calldata): nothing is copied but the hash inputs.
/// @dev Every hash is one call to the SHA-256 precompile (0x02) on a scratch buffer that is rewritten only
/// where it changes between calls; SHA-256/192 is SHA-256 truncated to 24 bytes (the extra 8 output bytes
/// land past the bytes that are hashed next). Uses the scratch space (0x00-0x3f) and memory past the free
/// memory pointer, which it does not move.
/// A SHA-256 precompile call fails only when it is given less gas than it costs: 84 for a chain step, and as
/// each call is given all but 1/64 of this frame's gas, a failed step leaves the frame at most 1 gas, so its
/// next instruction runs out of gas: no result is ever computed from a failed step. The ~500 chain steps of
/// a verification therefore do not check their calls (~11 gas each, ~6k for H10/W4); the dozen other calls
/// (some of them larger) check theirs, where it costs nothing measurable.
library LmsLib {
    /// @notice The public key must be `expected` bytes long: 24 + m for its LMS type, or 8 (the two type
    /// fields) when it is too short to carry them.
    error LmsPublicKeyLength(uint256 expected, uint256 actual);
    /// @notice The public key's LMS type is not one of LMS_SHA256_M32_H5..H25 (5-9) or
    /// LMS_SHA256_M24_H5..H25 (10-14).
    error LmsUnsupportedType(uint32 lmsType);
    /// @notice The public key's LM-OTS type is not one of LMOTS_SHA256_N32_W1..W8 (1-4) or
    /// LMOTS_SHA256_N24_W1..W8 (5-8).
    error LmsUnsupportedOtsType(uint32 otsType);
    /// @notice The LMS and LM-OTS types of the public key use different hash functions (SHA-256 and
    /// SHA-256/192), which SP 800-208 forbids.
    error LmsHashMismatch(uint32 lmsType, uint32 otsType);
    /// @notice The signature must be `expected` bytes long for the public key's types.
    error LmsSignatureLength(uint256 expected, uint256 actual);
    /// @notice The signature's LM-OTS type is not the public key's.
    error LmsOtsTypeMismatch(uint32 expected, uint32 actual);
    /// @notice The signature's LMS type is not the public key's.
    error LmsTypeMismatch(uint32 expected, uint32 actual);
    /// @notice The signature's leaf index q is not below the tree's 2^h leaves.
    error LmsLeafOutOfRange(uint32 q, uint256 leaves);

    uint32 internal constant LMS_SHA256_M32_H5 = 5;
    uint32 internal constant LMS_SHA256_M32_H10 = 6;
    uint32 internal constant LMS_SHA256_M32_H15 = 7;
    uint32 internal constant LMS_SHA256_M32_H20 = 8;
    uint32 internal constant LMS_SHA256_M32_H25 = 9;
    uint32 internal constant LMS_SHA256_M24_H5 = 10;
    uint32 internal constant LMS_SHA256_M24_H10 = 11;
    uint32 internal constant LMS_SHA256_M24_H15 = 12;
    uint32 internal constant LMS_SHA256_M24_H20 = 13;
    uint32 internal constant LMS_SHA256_M24_H25 = 14;

    uint32 internal constant LMOTS_SHA256_N32_W1 = 1;
    uint32 internal constant LMOTS_SHA256_N32_W2 = 2;
    uint32 internal constant LMOTS_SHA256_N32_W4 = 3;
    uint32 internal constant LMOTS_SHA256_N32_W8 = 4;
    uint32 internal constant LMOTS_SHA256_N24_W1 = 5;
    uint32 internal constant LMOTS_SHA256_N24_W2 = 6;
    uint32 internal constant LMOTS_SHA256_N24_W4 = 7;
    uint32 internal constant LMOTS_SHA256_N24_W8 = 8;

    /// @dev p, the number of n-byte chains of an LM-OTS type (RFC 8554 Table 1, SP 800-208 Table 3): 16 bits
    /// per type, type 1 in the lowest bits (265, 133, 67, 34 for N32; 200, 101, 51, 26 for N24).
    uint256 private constant _P_BY_OTS_TYPE = 0x001a_0033_0065_00c8_0022_0043_0085_0109;
    /// @dev ls, the left shift of the checksum of an LM-OTS type: 8 bits per type, type 1 lowest.
    uint256 private constant _LS_BY_OTS_TYPE = 0x00_04_06_08_00_04_06_07;

    /// @dev Domain separators of RFC 8554 Section 4.3.
    uint256 private constant _D_PBLC = 0x8080;
    uint256 private constant _D_MESG = 0x8181;
    uint256 private constant _D_LEAF = 0x8282;
    uint256 private constant _D_INTR = 0x8383;

    /// @notice Whether `signature` is an LMS signature of `message` (any length) by `publicKey`.
    /// @dev Reverts with an Lms* error if the key or the signature is malformed (see the errors).
    function verify(
        bytes calldata publicKey,
        bytes calldata message,
        bytes calldata signature
    ) internal view returns (bool) {
        (uint256 ots, uint256 h) = _check(publicKey, signature);
        bytes32 mhash = _messageHash(publicKey, signature, ots, message);
        return _verify(publicKey, signature, mhash, ots, h);
    }

    /// @notice Whether `signature` is an LMS signature by `publicKey` of the 32-byte message `digest` (the
    /// signer signs these 32 bytes as its message, e.g. the EIP-712 digest of a release manifest).
    /// @dev Reverts with an Lms* error if the key or the signature is malformed (see the errors).
    function verify(bytes calldata publicKey, bytes32 digest, bytes calldata signature) internal view returns (bool) {
        (uint256 ots, uint256 h) = _check(publicKey, signature);
        bytes32 mhash = _digestHash(publicKey, signature, ots, digest);
        return _verify(publicKey, signature, mhash, ots, h);
    }

    /// @notice Reverts unless `publicKey` and `signature` are well formed and of the same types; returns the
    /// LM-OTS parameters packed as `n | w << 8 | p << 16 | ls << 32` and the tree height h.
    function _check(bytes calldata publicKey, bytes calldata signature) private pure returns (uint256 ots, uint256 h) {
        uint256 lmsType;
        uint256 otsType;
        uint256 sigOtsType;
        uint256 q;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            // The u32 fields at fixed offsets. Each is used only once the length that covers it is checked
            // (before that it may be a neighbour's bytes or zeros: calldataload reads past the end freely).
            lmsType := shr(224, calldataload(publicKey.offset))
            otsType := shr(224, calldataload(add(publicKey.offset, 4)))
            q := shr(224, calldataload(signature.offset))
            sigOtsType := shr(224, calldataload(add(signature.offset, 4)))
        }
        if (publicKey.length < 8) revert LmsPublicKeyLength(8, publicKey.length);
        uint256 m;
        // Overflow-free: the types are below 2^32 and within their checked ranges; n <= 32, p <= 265, h <= 25.
        unchecked {
            if (lmsType >= LMS_SHA256_M32_H5 && lmsType <= LMS_SHA256_M32_H25) {
                (m, h) = (32, 5 * (lmsType - LMS_SHA256_M32_H5 + 1));
            } else if (lmsType >= LMS_SHA256_M24_H5 && lmsType <= LMS_SHA256_M24_H25) {
                (m, h) = (24, 5 * (lmsType - LMS_SHA256_M24_H5 + 1));
            } else {
                revert LmsUnsupportedType(uint32(lmsType));
            }
            if (otsType < LMOTS_SHA256_N32_W1 || otsType > LMOTS_SHA256_N24_W8) {
                revert LmsUnsupportedOtsType(uint32(otsType));
            }
            uint256 n = otsType <= LMOTS_SHA256_N32_W8 ? 32 : 24;
            if (n != m) revert LmsHashMismatch(uint32(lmsType), uint32(otsType));
            if (publicKey.length != 24 + m) revert LmsPublicKeyLength(24 + m, publicKey.length);

            uint256 shift = otsType - 1;
            uint256 p = uint16(_P_BY_OTS_TYPE >> (16 * shift));
            uint256 expected = 12 + n * (p + 1) + h * m;
            if (signature.length < 8) revert LmsSignatureLength(expected, signature.length);
            if (sigOtsType != otsType) revert LmsOtsTypeMismatch(uint32(otsType), uint32(sigOtsType));
            if (signature.length != expected) revert LmsSignatureLength(expected, signature.length);
            uint256 sigLmsType;
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                // The u32 after the LM-OTS signature, within the length just checked.
                sigLmsType := shr(224, calldataload(add(signature.offset, add(8, mul(n, add(p, 1))))))
            }
            if (sigLmsType != lmsType) revert LmsTypeMismatch(uint32(lmsType), uint32(sigLmsType));
            if (q >> h != 0) revert LmsLeafOutOfRange(uint32(q), 1 << h);

            uint256 w = 1 << (shift % 4);
            uint256 ls = uint8(_LS_BY_OTS_TYPE >> (8 * shift));
            ots = n | (w << 8) | (p << 16) | (ls << 32);
        }
    }

    /// @notice Q = H(I ‖ u32(q) ‖ u16(D_MESG) ‖ C ‖ message), RFC 8554 Algorithm 4b step 3.
    function _messageHash(
        bytes calldata publicKey,
        bytes calldata signature,
        uint256 ots,
        bytes calldata message
    ) private view returns (bytes32 mhash) {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            // The input is laid out past the free memory pointer, which stays where it is (scratch): the
            // 32-byte prefix store below starts 10 bytes before `buf`, still past the pointer.
            let buf := add(mload(0x40), 0x20)
            let n := and(ots, 0xff)
            // I ‖ u32(q) ‖ u16(D_MESG) in the 22 bytes at buf (the word's upper 10 bytes are zero and
            // land before buf).
            let prefix := or(shl(48, shr(128, calldataload(add(publicKey.offset, 8)))), _D_MESG)
            mstore(sub(buf, 10), or(prefix, shl(16, shr(224, calldataload(signature.offset)))))
            calldatacopy(add(buf, 22), add(signature.offset, 8), n)
            calldatacopy(add(add(buf, 22), n), message.offset, message.length)
            // Checked, as the library's @dev says.
            if iszero(staticcall(gas(), 0x02, buf, add(add(22, n), message.length), 0x00, 0x20)) {
                revert(0, 0)
            }
            mhash := mload(0x00)
        }
    }

    /// @notice _messageHash of the 32-byte message `digest`.
    function _digestHash(
        bytes calldata publicKey,
        bytes calldata signature,
        uint256 ots,
        bytes32 digest
    ) private view returns (bytes32 mhash) {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            // As in _messageHash, with the digest as the message.
            let buf := add(mload(0x40), 0x20)
            let n := and(ots, 0xff)
            let prefix := or(shl(48, shr(128, calldataload(add(publicKey.offset, 8)))), _D_MESG)
            mstore(sub(buf, 10), or(prefix, shl(16, shr(224, calldataload(signature.offset)))))
            calldatacopy(add(buf, 22), add(signature.offset, 8), n)
            mstore(add(add(buf, 22), n), digest)
            // Checked, as in _messageHash.
            if iszero(staticcall(gas(), 0x02, buf, add(54, n), 0x00, 0x20)) {
                revert(0, 0)
            }
            mhash := mload(0x00)
        }
    }

    /// @notice Computes the LM-OTS public key candidate Kc from the signature and Q (RFC 8554 Algorithm 4b),
    /// then the root from Kc's leaf and the authentication path (Algorithm 6), and compares it with T[1].
    function _verify(
        bytes calldata publicKey,
        bytes calldata signature,
        bytes32 mhash,
        uint256 ots,
        uint256 h
    ) private view returns (bool) {
        uint256 sig;
        uint256 id;
        uint256 q;
        bytes32 expectedRoot;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            // Fields of the key and the signature that _check has validated the lengths of.
            sig := signature.offset
            id := shr(128, calldataload(add(publicKey.offset, 8)))
            q := shr(224, calldataload(sig))
            expectedRoot := calldataload(add(publicKey.offset, 24))
        }
        uint256 n = ots & 0xff;
        bytes32 kc = _otsCandidate(sig, (id << 48) | (q << 16), mhash, ots);
        // Overflow-free: the offset is within the signature's checked length.
        unchecked {
            bytes32 root = _root(sig + 12 + n * (((ots >> 16) & 0xffff) + 1), id, q, h, n, kc);
            // Compare the first m (= n) bytes only: a 24-byte root is followed by other bytes in calldata.
            bytes32 mask = ~bytes32(type(uint256).max >> (8 * n));
            return (root ^ expectedRoot) & mask == 0;
        }
    }

    /// @notice The LM-OTS public key candidate Kc (RFC 8554 Algorithm 4b steps 3-4), from the chains of the
    /// signature at calldata offset `sig` and the message hash `mhash`; `iq` is `I << 48 | u32(q) << 16`.
    function _otsCandidate(uint256 sig, uint256 iq, bytes32 mhash, uint256 ots) private view returns (bytes32 kc) {
        uint256 n = ots & 0xff;
        uint256 w = (ots >> 8) & 0xff;
        // Overflow-free: n <= 32, w <= 8, p <= 265, and sig plus the signature's checked length fits.
        unchecked {
            uint256 cnt = (8 * n) / w;
            // Only Q's first n bytes are digits (SHA-256/192 truncates).
            uint256 digits = uint256(mhash) & ~(type(uint256).max >> (8 * n));
            // Kc's input past the free memory pointer (not moved: scratch): I ‖ u32(q) ‖ u16(D_PBLC) in 22
            // bytes, then z[0..p-1] from z: the chains of Q's 8n/w digits, then those of the checksum's.
            uint256 z;
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                // Only reads the free memory pointer: the buffer past it is scratch, used until we return.
                z := add(mload(0x40), 54)
            }
            sig += 8 + n; // y[0]
            _chains(sig, z, digits, iq, cnt, ots);
            digits = _checksum(digits, cnt, w, ots >> 32);
            _chains(sig + cnt * n, z + cnt * n, digits, iq + cnt, ((ots >> 16) & 0xffff) - cnt, ots);
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                // The prefix's 32-byte store starts 22 bytes past the free memory pointer (10 zero bytes,
                // then the 22 bytes hashed).
                mstore(sub(z, 32), or(iq, _D_PBLC))
                // Checked, as the library's @dev says.
                if iszero(staticcall(gas(), 0x02, sub(z, 22), add(22, mul(n, and(shr(16, ots), 0xffff))), 0, 32)) {
                    revert(0, 0)
                }
                kc := mload(0x00)
            }
        }
    }

    /// @notice Cksm (RFC 8554 Algorithm 2) of the `cnt` w-bit digits at the top of `digits`, shifted left by
    /// ls, in the top 16 bits of a word (where the chains read the digits that follow Q's).
    function _checksum(uint256 digits, uint256 cnt, uint256 w, uint256 ls) private pure returns (uint256) {
        // The digit sum is folded in place: lanes of `width` bits are added pairwise into lanes twice as wide
        // (which hold the sum without overflow), from w bits up to one 256-bit lane. Overflow-free: besides,
        // no digit is above 2^w - 1, so cnt * (2^w - 1) >= sum, and the checksum is below 2^16 (Section 4.4:
        // ls is chosen so).
        unchecked {
            for (uint256 width = w; width < 256; width *= 2) {
                // `width` ones then `width` zeros, repeated.
                uint256 lanes = type(uint256).max / ((1 << width) + 1);
                digits = (digits & lanes) + ((digits >> width) & lanes);
            }
            return (cnt * ((1 << w) - 1) - digits) << (240 + ls);
        }
    }

    /// @notice Walks `count` chains, i = `prefix`'s low 16 bits on (`prefix` is I ‖ u32(q) as `iq`): chain
    /// i from y[i] (calldata offset y, n bytes each) through the steps j = a .. 2^w - 2 of Algorithm 4b,
    /// a its digit (read from the top of `digits`), to z[i] (memory z, n bytes each). n and w are `ots`'s.
    // The steps are written out (1, 2, 4, then 8 to a loop iteration): longer than 50 lines on purpose, as the
    // comments in the body say why.
    // solhint-disable-next-line function-max-lines
    function _chains(uint256 y, uint256 z, uint256 digits, uint256 prefix, uint256 count, uint256 ots) private view {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            // A step: I ‖ u32(q) ‖ u16(i) ‖ u8(j) ‖ tmp is at 0x00-0x36 in the scratch space (23 + n bytes;
            // the 32-byte output written over tmp ends at 0x36, below the free memory pointer's slot 0x40);
            // a step rewrites j only, tmp is the previous call's own output. The call's success is not checked
            // (see the library's @dev). Steps are written out, not a Yul function: a call would cost ~35 gas
            // a step.
            let n := and(ots, 0xff)
            let w := and(shr(8, ots), 0xff)
            let max := sub(shl(w, 1), 1)
            let len := add(23, n)
            for {} count {
                count := sub(count, 1)
            } {
                mstore(0x00, shl(80, prefix))
                mstore(23, calldataload(y))
                let j := shr(sub(256, w), digits)
                // The 2^w - 1 - j steps in binary: 1, 2 and 4 if their bits are set, then 8 per loop
                // iteration. Branching costs ~25 gas a block, a small part of a step's ~215 (184 of them the
                // precompile call).
                let steps := sub(max, j)
                if and(steps, 1) {
                    mstore8(22, j)
                    pop(staticcall(gas(), 0x02, 0x00, len, 23, 0x20))
                    j := add(j, 1)
                }
                if and(steps, 2) {
                    mstore8(22, j)
                    pop(staticcall(gas(), 0x02, 0x00, len, 23, 0x20))
                    mstore8(22, add(j, 1))
                    pop(staticcall(gas(), 0x02, 0x00, len, 23, 0x20))
                    j := add(j, 2)
                }
                if and(steps, 4) {
                    mstore8(22, j)
                    pop(staticcall(gas(), 0x02, 0x00, len, 23, 0x20))
                    mstore8(22, add(j, 1))
                    pop(staticcall(gas(), 0x02, 0x00, len, 23, 0x20))
                    mstore8(22, add(j, 2))
                    pop(staticcall(gas(), 0x02, 0x00, len, 23, 0x20))
                    mstore8(22, add(j, 3))
                    pop(staticcall(gas(), 0x02, 0x00, len, 23, 0x20))
                    j := add(j, 4)
                }
                for {} lt(j, max) {
                    j := add(j, 8)
                } {
                    mstore8(22, j)
                    pop(staticcall(gas(), 0x02, 0x00, len, 23, 0x20))
                    mstore8(22, add(j, 1))
                    pop(staticcall(gas(), 0x02, 0x00, len, 23, 0x20))
                    mstore8(22, add(j, 2))
                    pop(staticcall(gas(), 0x02, 0x00, len, 23, 0x20))
                    mstore8(22, add(j, 3))
                    pop(staticcall(gas(), 0x02, 0x00, len, 23, 0x20))
                    mstore8(22, add(j, 4))
                    pop(staticcall(gas(), 0x02, 0x00, len, 23, 0x20))
                    mstore8(22, add(j, 5))
                    pop(staticcall(gas(), 0x02, 0x00, len, 23, 0x20))
                    mstore8(22, add(j, 6))
                    pop(staticcall(gas(), 0x02, 0x00, len, 23, 0x20))
                    mstore8(22, add(j, 7))
                    pop(staticcall(gas(), 0x02, 0x00, len, 23, 0x20))
                }
                // A 32-byte store of a 24-byte value spills 8 bytes: overwritten by the next z, or past the end.
                mstore(z, mload(23))
                digits := shl(w, digits)
                prefix := add(prefix, 1)
                y := add(y, n)
                z := add(z, n)
            }
        }
    }

    /// @notice The root of the tree from leaf q's value Kc and the authentication path at `path` (RFC 8554
    /// Algorithm 6 step 4); m = n.
    function _root(
        uint256 path,
        uint256 id,
        uint256 q,
        uint256 h,
        uint256 m,
        bytes32 kc
    ) private view returns (bytes32 root) {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            // Node input past the free memory pointer (not moved, scratch): I ‖ u32(node) ‖ u16(D) at buf
            // (the prefix store starts 10 bytes before buf), then a left and a right slot of m bytes. Each
            // hash's output goes straight into the slot its node takes in its parent: the right one for an
            // odd node. The sibling from the path is copied (m bytes exactly) into the other slot after
            // that, over the at most 8 bytes a 24-byte output spills from the left slot.
            let buf := add(mload(0x40), 0x20)
            let slots := add(buf, 22)
            let prefix := shl(48, id)
            let node := add(shl(h, 1), q)
            mstore(slots, kc)
            mstore(sub(buf, 10), or(prefix, or(shl(16, node), _D_LEAF)))
            let ok := staticcall(gas(), 0x02, buf, add(22, m), add(slots, mul(and(node, 1), m)), 0x20)
            let len := add(22, shl(1, m))
            for {} gt(node, 1) {} {
                calldatacopy(add(slots, mul(iszero(and(node, 1)), m)), path, m)
                path := add(path, m)
                node := shr(1, node)
                mstore(sub(buf, 10), or(prefix, or(shl(16, node), _D_INTR)))
                ok := and(ok, staticcall(gas(), 0x02, buf, len, add(slots, mul(and(node, 1), m)), 0x20))
            }
            // Checked, as the library's @dev says.
            if iszero(ok) {
                revert(0, 0)
            }
            // Node 1 (the root) is odd: its hash is in the right slot.
            root := mload(add(slots, m))
        }
    }
}
