// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {PackedUserOperation} from "@account-abstraction/contracts/interfaces/PackedUserOperation.sol";
import {IEntryPoint} from "@account-abstraction/contracts/interfaces/IEntryPoint.sol";
import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {DeviceAccount} from "../../contracts/accounts/DeviceAccount.sol";
import {DeviceId} from "../../contracts/types/DeviceId.sol";
import {KeyHelpers, TestKey} from "./RegistryFixture.sol";

/// @notice Builds, signs and encodes DeviceAccount UserOperations the way the TypeScript client does, for
/// the account's tests and their invariant handlers alike (which are no Test: everything is passed in).
abstract contract UserOpBuilder is KeyHelpers {
    /// @notice The ERC-7579 batch mode: call type 0x01 (batch), default exec type, no selector.
    bytes32 internal constant BATCH_MODE = bytes32(uint256(1) << 248);

    function _call(address target, uint256 value, bytes memory data) internal pure returns (Execution[] memory batch) {
        batch = new Execution[](1);
        batch[0] = Execution({target: target, value: value, callData: data});
    }

    function _tokenTransfer(address token, address to, uint256 amount) internal pure returns (Execution[] memory) {
        return _call(token, 0, abi.encodeCall(IERC20.transfer, (to, amount)));
    }

    /// @notice UserOperation callData: executeUserOp's selector, the batch mode, the batch.
    function _callData(Execution[] memory batch) internal pure returns (bytes memory) {
        return abi.encodePacked(DeviceAccount.executeUserOp.selector, BATCH_MODE, abi.encode(batch));
    }

    /// @notice An unsigned operation with generous gas limits and a 1 gwei fee.
    function _userOp(
        IEntryPoint entryPoint,
        address sender,
        Execution[] memory batch
    ) internal view returns (PackedUserOperation memory op) {
        op.sender = sender;
        op.nonce = entryPoint.getNonce(sender, 0);
        op.callData = _callData(batch);
        // Room for three P-256 verifications in Solidity (~250k each) where no precompile exists (prague).
        op.accountGasLimits = bytes32((uint256(2_000_000) << 128) | 600_000);
        op.preVerificationGas = 50_000;
        op.gasFees = bytes32((uint256(1 gwei) << 128) | 1 gwei);
    }

    function _deviceSigner(address verifier, DeviceId id) internal pure returns (bytes memory) {
        return abi.encodePacked(verifier, id);
    }

    /// @notice A device's signature blob over `hash`: keyType ‖ key ‖ signature.
    function _deviceBlob(TestKey memory k, bytes32 hash) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(k.keyType), k.key, _sign(k, hash));
    }

    /// @notice The multisignature of `devices` (whose ids are `ids`) and, if `operatorKey` is nonzero, of
    /// that EOA; signers sorted by keccak256 as the account requires.
    function _multisig(
        address verifier,
        bytes32 hash,
        TestKey[] memory devices,
        DeviceId[] memory ids,
        uint256 operatorKey
    ) internal pure returns (bytes memory) {
        uint256 n = devices.length + (operatorKey == 0 ? 0 : 1);
        bytes[] memory signers = new bytes[](n);
        bytes[] memory signatures = new bytes[](n);
        for (uint256 i; i < devices.length; ++i) {
            signers[i] = _deviceSigner(verifier, ids[i]);
            signatures[i] = _deviceBlob(devices[i], hash);
        }
        if (operatorKey != 0) {
            signers[n - 1] = abi.encodePacked(_addrOf(operatorKey));
            signatures[n - 1] = _signEth(operatorKey, hash);
        }
        _sortBySignerHash(signers, signatures);
        return abi.encode(signers, signatures);
    }

    function _sortBySignerHash(bytes[] memory signers, bytes[] memory signatures) internal pure {
        for (uint256 i = 1; i < signers.length; ++i) {
            for (uint256 j = i; j > 0 && keccak256(signers[j]) < keccak256(signers[j - 1]); --j) {
                (signers[j], signers[j - 1]) = (signers[j - 1], signers[j]);
                (signatures[j], signatures[j - 1]) = (signatures[j - 1], signatures[j]);
            }
        }
    }
}
