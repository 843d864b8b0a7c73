// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ERC7913P256Verifier} from "@openzeppelin/contracts/utils/cryptography/verifiers/ERC7913P256Verifier.sol";

// solhint-disable no-empty-blocks
/// @title PlainP256Verifier
/// @notice OpenZeppelin's ERC-7913 P-256 verifier as it is, for PlainMultisigAccount's signers (the bench's
/// baseline). Not part of the system.
contract PlainP256Verifier is ERC7913P256Verifier {}
