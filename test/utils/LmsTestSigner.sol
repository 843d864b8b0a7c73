// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title LmsTestSigner
/// @notice Test-only LMS signatures for every parameter set LmsLib supports, written as a slow, literal
/// transcription of RFC 8554 (coef, Algorithm 2's checksum, Algorithm 3's chains, the pseudo-random keys of
/// Appendix A) with abi.encodePacked and sha256, independent of LmsLib's assembly.
/// @dev Not a real LMS key: only leaf q's one-time key is made, and the tree's root is computed from that
/// leaf and a pseudo-random authentication path. A verifier cannot tell (it sees one leaf and one path), so
/// the pair is a valid (public key, signature) for any height, H25 included, at the cost of one leaf.
library LmsTestSigner {
    /// @notice No such LMS or LM-OTS type, or the two use different hash functions.
    error LmsTestSignerUnsupported(uint32 lmsType, uint32 otsType);
    /// @notice q is not below 2^h.
    error LmsTestSignerLeafOutOfRange(uint32 q);

    uint16 private constant _D_PBLC = 0x8080;
    uint16 private constant _D_MESG = 0x8181;
    uint16 private constant _D_LEAF = 0x8282;
    uint16 private constant _D_INTR = 0x8383;

    struct Params {
        uint256 n;
        uint256 w;
        uint256 p;
        uint256 ls;
        uint256 h;
    }

    /// @notice RFC 8554 Table 1 and SP 800-208 Table 3 (LM-OTS), Table 2 and Table 4 (LMS).
    function params(uint32 lmsType, uint32 otsType) internal pure returns (Params memory prm) {
        if (otsType < 1 || otsType > 8 || lmsType < 5 || lmsType > 14 || (lmsType <= 9) != (otsType <= 4)) {
            revert LmsTestSignerUnsupported(lmsType, otsType);
        }
        uint256[4] memory p32 = [uint256(265), 133, 67, 34];
        uint256[4] memory p24 = [uint256(200), 101, 51, 26];
        uint256[4] memory ls32 = [uint256(7), 6, 4, 0];
        uint256[4] memory ls24 = [uint256(8), 6, 4, 0];
        uint256 k = (otsType - 1) % 4;
        prm.n = otsType <= 4 ? 32 : 24;
        prm.w = 1 << k;
        prm.p = otsType <= 4 ? p32[k] : p24[k];
        prm.ls = otsType <= 4 ? ls32[k] : ls24[k];
        prm.h = lmsType <= 9 ? 5 * (lmsType - 4) : 5 * (lmsType - 9);
    }

    /// @notice The length in bytes of a signature of these types.
    function signatureLength(uint32 lmsType, uint32 otsType) internal pure returns (uint256) {
        Params memory prm = params(lmsType, otsType);
        return 12 + prm.n * (prm.p + 1) + prm.h * prm.n;
    }

    /// @notice An LMS public key and its signature of `message` at leaf `q`, derived from `seed`.
    function sign(
        uint32 lmsType,
        uint32 otsType,
        bytes32 seed,
        uint32 q,
        bytes memory message
    ) internal pure returns (bytes memory publicKey, bytes memory signature) {
        Params memory prm = params(lmsType, otsType);
        if (q >= (1 << prm.h)) revert LmsTestSignerLeafOutOfRange(q);
        bytes16 id = bytes16(sha256(abi.encodePacked(seed, "I")));
        (bytes32 c, bytes32[] memory y, bytes32 kc) = _otsSign(id, q, seed, message, prm);
        (bytes32[] memory path, bytes32 root) = _tree(id, q, seed, kc, prm);
        publicKey = abi.encodePacked(lmsType, otsType, id, _trunc(root, prm.n));
        bytes memory ots = abi.encodePacked(q, otsType, _trunc(c, prm.n), _pack(y, prm.n));
        signature = abi.encodePacked(ots, lmsType, _pack(path, prm.n));
    }

    /// @notice LM-OTS (Algorithms 3 and 1): the randomizer C, the chain values y and the one-time public key.
    function _otsSign(
        bytes16 id,
        uint32 q,
        bytes32 seed,
        bytes memory message,
        Params memory prm
    ) private pure returns (bytes32 c, bytes32[] memory y, bytes32 kc) {
        // Appendix A: C and x[i] as H(I ‖ u32(q) ‖ u16(0xfffd or i) ‖ u8(0xff) ‖ SEED).
        c = _h(abi.encodePacked(id, q, uint16(0xfffd), uint8(0xff), seed), prm.n);
        bytes memory v = _withChecksum(
            _trunc(_h(abi.encodePacked(id, q, _D_MESG, _trunc(c, prm.n), message), prm.n), prm.n),
            prm
        );
        y = new bytes32[](prm.p);
        bytes32[] memory z = new bytes32[](prm.p);
        for (uint256 i; i < prm.p; ++i) {
            bytes32 x = _h(abi.encodePacked(id, q, uint16(i), uint8(0xff), seed), prm.n);
            (y[i], z[i]) = _chain(abi.encodePacked(id, q, uint16(i)), x, _coef(v, i, prm.w), prm);
        }
        kc = _h(abi.encodePacked(id, q, _D_PBLC, _pack(z, prm.n)), prm.n);
    }

    /// @notice Chain i from its secret x: the value after a steps (the signature's y[i]) and after 2^w - 1
    /// (the public z[i]); `iqi` is I ‖ u32(q) ‖ u16(i).
    function _chain(
        bytes memory iqi,
        bytes32 x,
        uint256 a,
        Params memory prm
    ) private pure returns (bytes32 y, bytes32 z) {
        z = x;
        for (uint256 j; j < (1 << prm.w) - 1; ++j) {
            if (j == a) y = z;
            z = _h(abi.encodePacked(iqi, uint8(j), _trunc(z, prm.n)), prm.n);
        }
        if (a == (1 << prm.w) - 1) y = z;
    }

    /// @notice A pseudo-random authentication path for leaf q and the root it leads to from the leaf's
    /// one-time public key `kc` (Section 5.3's node hashes).
    function _tree(
        bytes16 id,
        uint32 q,
        bytes32 seed,
        bytes32 kc,
        Params memory prm
    ) private pure returns (bytes32[] memory path, bytes32 root) {
        path = new bytes32[](prm.h);
        uint256 node = (1 << prm.h) + q;
        root = _h(abi.encodePacked(id, uint32(node), _D_LEAF, _trunc(kc, prm.n)), prm.n);
        for (uint256 i; i < prm.h; ++i) {
            path[i] = _h(abi.encodePacked(seed, "path", uint32(i)), prm.n);
            (bytes32 left, bytes32 right) = node % 2 == 1 ? (path[i], root) : (root, path[i]);
            node /= 2;
            root = _h(abi.encodePacked(id, uint32(node), _D_INTR, _trunc(left, prm.n), _trunc(right, prm.n)), prm.n);
        }
    }

    /// @notice coef(S, i, w) of RFC 8554 Section 3.1.3.
    function _coef(bytes memory s, uint256 i, uint256 w) private pure returns (uint256) {
        return ((1 << w) - 1) & (uint8(s[(i * w) / 8]) >> (8 - (w * (i % (8 / w)) + w)));
    }

    /// @notice Q ‖ Cksm(Q), Algorithm 2.
    function _withChecksum(bytes memory q, Params memory prm) private pure returns (bytes memory) {
        uint256 sum;
        for (uint256 i; i < (prm.n * 8) / prm.w; ++i) sum += (1 << prm.w) - 1 - _coef(q, i, prm.w);
        return abi.encodePacked(q, uint16(sum << prm.ls));
    }

    /// @notice SHA-256, or SHA-256/192 (its first 24 bytes, the rest zero) for n = 24.
    function _h(bytes memory data, uint256 n) private pure returns (bytes32) {
        return sha256(data) & ~bytes32(type(uint256).max >> (8 * n));
    }

    /// @notice The first n bytes of `x`.
    function _trunc(bytes32 x, uint256 n) private pure returns (bytes memory) {
        return n == 32 ? abi.encodePacked(x) : abi.encodePacked(bytes24(x));
    }

    /// @notice The first n bytes of each of `xs`, concatenated.
    function _pack(bytes32[] memory xs, uint256 n) private pure returns (bytes memory out) {
        out = new bytes(xs.length * n);
        for (uint256 i; i < xs.length; ++i) {
            for (uint256 k; k < n; ++k) out[i * n + k] = xs[i][k];
        }
    }
}
