// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {IDeviceAccount} from "../interfaces/IDeviceAccount.sol";

/// @title IAccountInit
/// @notice What the factory calls on a new clone (an interface, so that this file does not compile the account).
interface IAccountInit {
    /// @notice DeviceAccount.initialize.
    function initialize(IDeviceAccount.Setup calldata setup) external;
}

/// @title DeviceAccountFactory
/// @notice Deploys DeviceAccounts as minimal clones at CREATE2 addresses: an account's address is known,
/// and can be funded, before it exists; the EntryPoint deploys it with the account's first UserOperation
/// (initCode = this factory ‖ createAccount(setup, salt)).
/// @dev The CREATE2 salt is keccak256(abi.encode(setup, salt)): the address commits to the account's signers,
/// thresholds and policy, so nobody can deploy something else at an address that was funded for it.
contract DeviceAccountFactory {
    /// @notice The account every clone runs.
    address public immutable IMPLEMENTATION;

    /// @notice A new account for `operator` at `account`.
    event AccountCreated(address indexed account, address indexed operator, bytes32 salt);

    /// @notice The implementation is the zero address.
    error DeviceAccountFactoryInvalidImplementation();

    constructor(address implementation) {
        if (implementation == address(0)) revert DeviceAccountFactoryInvalidImplementation();
        IMPLEMENTATION = implementation;
    }

    /// @notice Deploys and initializes the account for (setup, salt), or returns it if it exists.
    function createAccount(IDeviceAccount.Setup calldata setup, bytes32 salt) external returns (address account) {
        bytes32 cloneSalt = _cloneSalt(setup, salt);
        account = Clones.predictDeterministicAddress(IMPLEMENTATION, cloneSalt);
        if (account.code.length != 0) return account;
        Clones.cloneDeterministic(IMPLEMENTATION, cloneSalt);
        IAccountInit(account).initialize(setup);
        emit AccountCreated(account, setup.config.operator, salt);
    }

    /// @notice The address createAccount(setup, salt) deploys to.
    function accountAddress(IDeviceAccount.Setup calldata setup, bytes32 salt) external view returns (address) {
        return Clones.predictDeterministicAddress(IMPLEMENTATION, _cloneSalt(setup, salt));
    }

    function _cloneSalt(IDeviceAccount.Setup calldata setup, bytes32 salt) private pure returns (bytes32) {
        return keccak256(abi.encode(setup, salt));
    }
}
