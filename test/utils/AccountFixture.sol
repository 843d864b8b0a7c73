// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {EntryPoint} from "@account-abstraction/contracts/core/EntryPoint.sol";
import {IEntryPoint as IAAEntryPoint} from "@account-abstraction/contracts/interfaces/IEntryPoint.sol";
import {PackedUserOperation} from "@account-abstraction/contracts/interfaces/PackedUserOperation.sol";
import {Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {IEntryPoint} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {DeviceAccount} from "../../contracts/accounts/DeviceAccount.sol";
import {DeviceAccountFactory} from "../../contracts/accounts/DeviceAccountFactory.sol";
import {DeviceSignerVerifier} from "../../contracts/accounts/DeviceSignerVerifier.sol";
import {IDeviceAccount} from "../../contracts/interfaces/IDeviceAccount.sol";
import {MockERC20} from "../../contracts/mocks/MockERC20.sol";
import {DeviceId} from "../../contracts/types/DeviceId.sol";
import {AttestationFixture} from "./AttestationFixture.sol";
import {UserOpBuilder} from "./UserOpBuilder.sol";
import {TestKey} from "./RegistryFixture.sol";

/// @notice The attestation fixture plus an EntryPoint v0.8, the device verifier, the account factory, a
/// token, three attested devices (two P-256, one secp256k1) and helpers that build, sign and send
/// UserOperations the way the TypeScript client does.
/// @dev Default account: the three devices (weight 1 each) and the operator's EOA (weight 3); low threshold
/// 1 (one device pays inside the policy), high threshold 3 (all three devices, or the operator).
abstract contract AccountFixture is AttestationFixture, UserOpBuilder {
    uint256 internal constant MAX_AGE = 1 days;
    uint24 internal constant DELAY = 1 days;
    uint96 internal constant PERIOD_CAP = 1_000 ether;
    uint96 internal constant PER_CALL_CAP = 400 ether;
    uint32 internal constant PERIOD = 1 days;
    uint32 internal constant VELOCITY_WINDOW = 1 hours;
    uint16 internal constant VELOCITY_SHARE_BPS = 5_000;
    uint96 internal constant SELLER_PERIOD_CAP = 800 ether;
    uint96 internal constant SELLER_PER_CALL_CAP = 300 ether;
    uint256 internal constant OPERATOR_PK = 0x0BE7A7;
    bytes32 internal constant SALT = keccak256("vehicle-1");

    EntryPoint internal entryPoint;
    DeviceSignerVerifier internal verifier;
    DeviceAccount internal implementation;
    DeviceAccountFactory internal factory;
    MockERC20 internal token;

    address internal accountOperator;
    address internal seller = makeAddr("seller");
    address internal bundler = makeAddr("bundler");

    TestKey[3] internal keys;
    DeviceId[3] internal ids;

    function setUp() public virtual override {
        super.setUp();
        accountOperator = vm.addr(OPERATOR_PK);
        entryPoint = new EntryPoint();
        verifier = new DeviceSignerVerifier(registry, MAX_AGE);
        implementation = new DeviceAccount(IEntryPoint(address(entryPoint)), registry, address(verifier));
        factory = new DeviceAccountFactory(address(implementation));
        token = new MockERC20("Energy Credit", "NRG");
        _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        keys[0] = _p256Key(P256_PK);
        keys[1] = _p256Key(P256_PK_2);
        keys[2] = _secpKey(SECP_PK);
        for (uint256 i; i < 3; ++i) {
            ids[i] = _register(keys[i]);
            _attest(keys[i], MEASUREMENT_V1, 1);
        }
    }

    // ------------------------------------------------------------------ setup

    function _signer(DeviceId id) internal view returns (bytes memory) {
        return _deviceSigner(address(verifier), id);
    }

    function _operatorSigner() internal view returns (bytes memory) {
        return abi.encodePacked(accountOperator);
    }

    function _config() internal view returns (IDeviceAccount.Config memory) {
        return
            IDeviceAccount.Config({
                operator: accountOperator,
                highThreshold: 3,
                maxAttestationAge: uint32(MAX_AGE),
                changeDelay: DELAY,
                velocityShareBps: VELOCITY_SHARE_BPS
            });
    }

    function _tokenLimits() internal pure returns (IDeviceAccount.TokenLimits memory) {
        return
            IDeviceAccount.TokenLimits({
                periodCap: PERIOD_CAP,
                perCallCap: PER_CALL_CAP,
                period: PERIOD,
                velocityWindow: VELOCITY_WINDOW
            });
    }

    function _sellerLimits() internal pure returns (IDeviceAccount.CounterpartyLimits memory) {
        return
            IDeviceAccount.CounterpartyLimits({
                periodCap: SELLER_PERIOD_CAP,
                perCallCap: SELLER_PER_CALL_CAP,
                allowed: true
            });
    }

    /// @notice The default setup: three devices and the operator, the token and native coin in the policy,
    /// the seller allowed for both.
    function _defaultSetup() internal view returns (IDeviceAccount.Setup memory setup) {
        setup.signers = new bytes[](4);
        setup.weights = new uint64[](4);
        for (uint256 i; i < 3; ++i) {
            setup.signers[i] = _signer(ids[i]);
            setup.weights[i] = 1;
        }
        setup.signers[3] = _operatorSigner();
        setup.weights[3] = 3;
        setup.lowThreshold = 1;
        setup.config = _config();
        setup.tokens = new IDeviceAccount.TokenSetup[](2);
        setup.tokens[0] = IDeviceAccount.TokenSetup(address(token), _tokenLimits());
        setup.tokens[1] = IDeviceAccount.TokenSetup(address(0), _tokenLimits());
        setup.counterparties = new IDeviceAccount.CounterpartySetup[](2);
        setup.counterparties[0] = IDeviceAccount.CounterpartySetup(address(token), seller, _sellerLimits());
        setup.counterparties[1] = IDeviceAccount.CounterpartySetup(address(0), seller, _sellerLimits());
    }

    function _create(IDeviceAccount.Setup memory setup) internal returns (DeviceAccount account) {
        account = DeviceAccount(payable(factory.createAccount(setup, SALT)));
        token.mint(address(account), 10_000 ether);
        vm.deal(address(account), 10_000 ether);
    }

    function _createDefault() internal returns (DeviceAccount) {
        return _create(_defaultSetup());
    }

    // ------------------------------------------------------------------ calls

    function _transfer(address to, uint256 amount) internal view returns (Execution[] memory) {
        return _tokenTransfer(address(token), to, amount);
    }

    // ------------------------------------------------------------------ UserOperations

    function _op(address sender, Execution[] memory batch) internal view returns (PackedUserOperation memory) {
        return _userOp(IAAEntryPoint(address(entryPoint)), sender, batch);
    }

    function _hash(PackedUserOperation memory op) internal view returns (bytes32) {
        return entryPoint.getUserOpHash(op);
    }

    /// @notice The multisignature of the given devices (and the operator if `withOperator`), sorted.
    function _signature(
        bytes32 hash,
        uint256[] memory deviceIndexes,
        bool withOperator
    ) internal view returns (bytes memory) {
        TestKey[] memory signing = new TestKey[](deviceIndexes.length);
        DeviceId[] memory signingIds = new DeviceId[](deviceIndexes.length);
        for (uint256 i; i < deviceIndexes.length; ++i) {
            signing[i] = keys[deviceIndexes[i]];
            signingIds[i] = ids[deviceIndexes[i]];
        }
        return _multisig(address(verifier), hash, signing, signingIds, withOperator ? OPERATOR_PK : 0);
    }

    function _one(uint256 i) internal pure returns (uint256[] memory list) {
        list = new uint256[](1);
        list[0] = i;
    }

    function _all() internal pure returns (uint256[] memory list) {
        list = new uint256[](3);
        (list[0], list[1], list[2]) = (0, 1, 2);
    }

    /// @notice Signs `op` with the given devices (and operator) and sends it through the EntryPoint.
    function _send(PackedUserOperation memory op, uint256[] memory devices, bool withOperator) internal {
        op.signature = _signature(_hash(op), devices, withOperator);
        _handle(op);
    }

    function _handle(PackedUserOperation memory op) internal {
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        vm.prank(bundler, bundler);
        entryPoint.handleOps(ops, payable(bundler));
    }

    /// @notice One device (index `device`) pays through a UserOperation.
    function _pay(DeviceAccount account, uint256 device, Execution[] memory batch) internal {
        _send(_op(address(account), batch), _one(device), false);
    }

    /// @notice The operator's signature (high threshold) proposes the change `data`.
    function _propose(DeviceAccount account, bytes memory data) internal {
        _send(
            _op(address(account), _call(address(account), 0, abi.encodeCall(account.proposeChange, (data)))),
            new uint256[](0),
            true
        );
    }

    /// @notice A change proposed by the operator's signature (high threshold), applied after the delay.
    function _change(DeviceAccount account, bytes memory data) internal {
        _propose(account, data);
        vm.warp(block.timestamp + DELAY);
        account.applyChange(data);
    }
}
