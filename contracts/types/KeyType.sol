// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @notice The kinds of device key. The key type is data: a new kind (post-quantum, hash-based) is a new
/// member here and a new branch in DeviceKeyLib, nothing else.
/// - Secp256k1: the key is the 20-byte Ethereum address of the public key; the device signs the EIP-712
///   digest itself (65-byte r ‖ s ‖ v, low-s), as Ethereum accounts do.
/// - P256: the key is the 64-byte uncompressed point qx ‖ qy; the device signs the 32-byte digest as the
///   message with ECDSA-P256-SHA256 (64-byte r ‖ s, low-s), so the contract checks P256 over sha256(digest).
enum KeyType {
    None,
    Secp256k1,
    P256
}
