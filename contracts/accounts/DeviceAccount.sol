// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Account} from "@openzeppelin/contracts/account/Account.sol";
import {ERC7821} from "@openzeppelin/contracts/account/extensions/draft-ERC7821.sol";
import {ERC4337Utils} from "@openzeppelin/contracts/account/utils/ERC4337Utils.sol";
import {ERC7579Utils, Execution} from "@openzeppelin/contracts/account/utils/draft-ERC7579Utils.sol";
import {IAccountExecute, IEntryPoint, PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ERC7739} from "@openzeppelin/contracts/utils/cryptography/signers/draft-ERC7739.sol";
// solhint-disable-next-line max-line-length
import {MultiSignerERC7913Weighted} from "@openzeppelin/contracts/utils/cryptography/signers/MultiSignerERC7913Weighted.sol";
import {TransientSlot} from "@openzeppelin/contracts/utils/TransientSlot.sol";
import {IDeviceAccount, IDeviceAccountChanges} from "../interfaces/IDeviceAccount.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {DeviceKeyLib} from "../libraries/DeviceKeyLib.sol";
import {DeviceSignerLib} from "../libraries/DeviceSignerLib.sol";
import {SpendingPolicyLib} from "../libraries/SpendingPolicyLib.sol";
import {DeviceId} from "../types/DeviceId.sol";
import {KeyType} from "../types/KeyType.sol";

/// @title DeviceAccount
/// @notice An ERC-4337 account for a machine (see IDeviceAccount): OpenZeppelin's Account, ERC-7821 batches,
/// weighted ERC-7913 multisigner and ERC-7739 (ERC-1271), with device keys as signers, a spending policy,
/// an automatic freeze and a velocity breaker. Deployed as a clone by DeviceAccountFactory.
/// @dev How it meets ERC-7562 without a stake. Validation may read only the account's own storage, and
/// the registry's is not: so validateUserOp checks each device signature against the account's own copy
/// of the device's key hash (which is the device id until the device rotates its key) and the signers'
/// raw weights against the low threshold, and executeUserOp, where any storage may be read, asks the
/// registry whether each signing device is trusted now with that key (isTrustedKey: current key, fresh
/// attestation of good firmware, no incident). An operation whose trusted weight falls short is refused
/// without reverting, so that the device is marked distrusted in the same transaction: its signatures stop
/// validating (no more gas spent on its operations) until syncDevice finds it trusted again. Only
/// UserOperations whose callData is `executeUserOp.selector ‖ mode ‖ executionData` validate, so every
/// operation that runs passes through these checks and the policy.
/// No reentrancy guard of its own: executeUserOp runs only inside the EntryPoint's handleOps, which has
/// one, and applyChange calls only the account's setters, which call nothing outside.
/// ERC-1271 (isValidSignature, ERC-7739) asks for the HIGH threshold through DeviceSignerVerifier (the full
/// registry check): a signature there can authorize anything (a permit, an order), which the policy cannot
/// see, so devices alone at the low threshold must not make one.
contract DeviceAccount is
    Account,
    ERC7821,
    MultiSignerERC7913Weighted,
    ERC7739,
    Initializable,
    IAccountExecute,
    IDeviceAccount
{
    using SpendingPolicyLib for SpendingPolicyLib.Policy;
    using TransientSlot for *;

    /// @dev Config and the breaker's lock, one slot.
    struct StoredConfig {
        address operator;
        uint16 highThreshold;
        uint32 maxAttestationAge;
        uint24 changeDelay;
        uint16 velocityShareBps;
        bool locked;
    }

    /// @notice How long a device found untrusted at execution stays out of validation: its operations
    /// validate only from then on (ERC-4337 validAfter), so a clone of a suspended device wastes at most one
    /// operation's gas per cooldown, and a device trusted again signs again by itself afterwards.
    uint256 public constant DISTRUST_COOLDOWN = 1 hours;
    /// @dev A device slot: the high 208 bits of the device's current key hash (zero while it is the device
    /// id, i.e. before a rotation was synced), then a uint48 time before which its signatures do not validate.
    uint256 private constant UNTIL_BITS = 48;
    uint256 private constant UNTIL_MASK = (1 << UNTIL_BITS) - 1;
    /// @dev keccak256(abi.encode(uint256(keccak256("devicetrust.DeviceAccount.executing")) - 1)) & ~0xff
    bytes32 private constant EXECUTING_SLOT = 0x35227810016b34b2ad227db6e4359ff883a2222dfdebf9b3f3952ab2c7676000;
    /// @dev keccak256(abi.encode(uint256(keccak256("devicetrust.DeviceAccount.spending")) - 1)) & ~0xff
    bytes32 private constant SPENDING_SLOT = 0xe3cf7733d0d9e05396518ddeb21f43c8ed58b94efa7035e8ef66899518a89300;

    IEntryPoint private immutable ENTRY_POINT;
    /// @notice The registry every device signer is checked against.
    IDeviceRegistry public immutable REGISTRY;
    /// @notice The DeviceSignerVerifier that device signers name (`VERIFIER ‖ deviceId`).
    address public immutable VERIFIER;

    StoredConfig private _config;
    SpendingPolicyLib.Policy private _policy;
    mapping(DeviceId deviceId => uint256 slot) private _devices;
    mapping(bytes32 id => uint256 eta) private _pending;

    constructor(
        IEntryPoint entryPoint_,
        IDeviceRegistry registry,
        address verifier
    ) EIP712("DeviceAccount", "1") MultiSignerERC7913Weighted(new bytes[](0), new uint64[](0), 1) {
        ENTRY_POINT = entryPoint_;
        REGISTRY = registry;
        VERIFIER = verifier;
        _disableInitializers();
    }

    /// @notice Sets up a new clone (DeviceAccountFactory calls this in the creating transaction).
    function initialize(Setup calldata setup) external initializer {
        _addSigners(setup.signers);
        _setSignerWeights(setup.signers, setup.weights);
        _setThreshold(setup.lowThreshold);
        _setConfig(setup.config);
        for (uint256 i; i < setup.tokens.length; ++i) {
            _setTokenLimits(setup.tokens[i].token, setup.tokens[i].limits);
        }
        for (uint256 i; i < setup.counterparties.length; ++i) {
            CounterpartySetup calldata c = setup.counterparties[i];
            _setCounterpartyLimits(c.token, c.counterparty, c.limits);
        }
        emit AccountInitialized(setup.config.operator, setup.lowThreshold, setup.config.highThreshold);
    }

    // ---------------------------------------------------------------- ERC-4337

    /// @inheritdoc Account
    function entryPoint() public view override returns (IEntryPoint) {
        return ENTRY_POINT;
    }

    /// @inheritdoc IAccountExecute
    /// @dev callData is `executeUserOp.selector ‖ mode ‖ executionData` (an ERC-7821 batch). Checks, in
    /// order: the trusted weight of the signers (refused below the low threshold), then either the high
    /// threshold (anything) or the breaker's lock and the policy (each call a transfer or approve of a
    /// policy token, a native payment or a call to an allowed counterparty, within every cap; a burst
    /// trips the breaker). A breach of the policy reverts with the rule and its figures.
    function executeUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash) external onlyEntryPoint {
        StoredConfig memory c = _config;
        uint256 weight = _trustedWeightOf(userOp.signature, c.maxAttestationAge);
        if (weight < threshold()) {
            emit UserOperationRefused(userOpHash, Refusal.Untrusted, weight);
            return;
        }
        bytes32 mode = bytes32(userOp.callData[4:36]);
        bytes calldata executionData = userOp.callData[36:];
        Execution[] calldata batch = ERC7579Utils.decodeBatch(executionData);
        bool high = weight >= c.highThreshold;
        if (!high) {
            if (c.locked) {
                emit UserOperationRefused(userOpHash, Refusal.Locked, weight);
                return;
            }
            for (uint256 i; i < batch.length; ++i) {
                if (batch[i].target == address(this)) revert AccountNeedsHighThreshold(weight, c.highThreshold);
            }
            (bool tripped, address token, uint256 level, uint256 capacity) = batch.length == 1 &&
            _policy.spendsOnce(batch[0])
                ? _policy.spend(batch[0], c.velocityShareBps)
                : _spendAtomically(executionData, c.velocityShareBps);
            if (tripped) {
                _config.locked = true;
                emit VelocityBreakerTripped(token, level, capacity);
                emit UserOperationRefused(userOpHash, Refusal.Locked, weight);
                return;
            }
        } else {
            _checkSelfCalls(batch);
        }
        EXECUTING_SLOT.asBoolean().tstore(true);
        execute(mode, executionData);
    }

    /// @notice Applies the policy to every call of a batch, reverting with PolicyTripped on a trip so that
    /// nothing of the batch is recorded (the account then locks). The account's own call, inside
    /// executeUserOp, only.
    function spendBatch(bytes calldata executionData, uint256 velocityShareBps) external {
        if (msg.sender != address(this) || !SPENDING_SLOT.asBoolean().tload()) revert AccountOnlySelf(msg.sender);
        Execution[] calldata batch = ERC7579Utils.decodeBatch(executionData);
        for (uint256 i; i < batch.length; ++i) {
            (bool tripped, address token, uint256 level, uint256 capacity) = _policy.spend(batch[i], velocityShareBps);
            if (tripped) revert PolicyTripped(token, level, capacity);
        }
    }

    /// @dev spendBatch in a call of its own: a breach reverts the operation as it is; a trip comes back as
    /// the trip, with the batch's records undone.
    function _spendAtomically(
        bytes calldata executionData,
        uint256 velocityShareBps
    ) private returns (bool, address, uint256, uint256) {
        SPENDING_SLOT.asBoolean().tstore(true);
        try this.spendBatch(executionData, velocityShareBps) {
            SPENDING_SLOT.asBoolean().tstore(false);
            return (false, address(0), 0, 0);
        } catch (bytes memory reason) {
            SPENDING_SLOT.asBoolean().tstore(false);
            if (reason.length == 100 && bytes4(reason) == PolicyTripped.selector) {
                address token;
                uint256 level;
                uint256 capacity;
                // solhint-disable-next-line no-inline-assembly
                assembly ("memory-safe") {
                    token := mload(add(reason, 36))
                    level := mload(add(reason, 68))
                    capacity := mload(add(reason, 100))
                }
                return (true, token, level, capacity);
            }
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                revert(add(reason, 0x20), mload(reason))
            }
        }
    }

    /// @dev Only UserOperations that go through executeUserOp validate; one signed by a device in its
    /// distrust cooldown is valid only after it.
    function _validateUserOp(
        PackedUserOperation calldata userOp,
        bytes32 userOpHash,
        bytes calldata signature
    ) internal view override returns (uint256) {
        if (userOp.callData.length < 36 || bytes4(userOp.callData[:4]) != this.executeUserOp.selector) {
            return ERC4337Utils.SIG_VALIDATION_FAILED;
        }
        if (!_rawSignatureValidation(userOpHash, signature)) return ERC4337Utils.SIG_VALIDATION_FAILED;
        (bytes[] calldata signers, ) = _signersOf(signature);
        uint256 validAfter;
        for (uint256 i; i < signers.length; ++i) {
            (bool isDevice, DeviceId deviceId) = DeviceSignerLib.deviceOf(signers[i], VERIFIER);
            if (!isDevice) continue;
            uint256 until = _devices[deviceId] & UNTIL_MASK;
            if (until > validAfter) validAfter = until;
        }
        if (validAfter == 0) return ERC4337Utils.SIG_VALIDATION_SUCCESS;
        // The EntryPoint runs an operation only after validAfter (strictly): valid from `until` on.
        return ERC4337Utils.packValidationData(true, uint48(validAfter - 1), 0);
    }

    /// @dev The signers and signatures of a multisignature that validated (OpenZeppelin's decoder checked
    /// its bounds): `abi.encode(bytes[] signers, bytes[] signatures)`.
    function _signersOf(
        bytes calldata signature
    ) private pure returns (bytes[] calldata signers, bytes[] calldata signatures) {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let offset := add(signature.offset, calldataload(signature.offset))
            signers.length := calldataload(offset)
            signers.offset := add(offset, 0x20)
            offset := add(signature.offset, calldataload(add(signature.offset, 0x20)))
            signatures.length := calldataload(offset)
            signatures.offset := add(offset, 0x20)
        }
    }

    /// @notice ERC-7821's execute, run only by executeUserOp after its checks: the flag it sets is spent
    /// here, before the batch runs, so a call made by the batch cannot come back into execute (a
    /// counterparty reentering the account finds it unset).
    function execute(bytes32 mode, bytes calldata executionData) public payable override {
        if (!EXECUTING_SLOT.asBoolean().tload()) revert AccountUnauthorized(msg.sender);
        EXECUTING_SLOT.asBoolean().tstore(false);
        super.execute(mode, executionData);
    }

    /// @dev Authorization is execute's own (above).
    function _erc7821AuthorizedExecutor(address, bytes32, bytes calldata) internal pure override returns (bool) {
        return true;
    }

    // ---------------------------------------------------------------- signatures

    /// @dev In validateUserOp: the low threshold over raw weights (trust is weighed in executeUserOp).
    /// Everywhere else (ERC-1271): the high threshold.
    function _validateThreshold(bytes[] calldata signers) internal view override returns (bool) {
        if (msg.sig == this.validateUserOp.selector) return super._validateThreshold(signers);
        uint256 weight;
        for (uint256 i; i < signers.length; ++i) weight += signerWeight(signers[i]);
        return weight >= _config.highThreshold;
    }

    /// @dev In validateUserOp, a device signature is checked against the account's own copy of the device's
    /// key hash (ERC-7562: no registry read); every other signature, and every signature outside
    /// validateUserOp, the OpenZeppelin way (devices through DeviceSignerVerifier, the full check). Signers
    /// must be sorted by keccak256 (ascending, no duplicates).
    function _validateSignatures(
        bytes32 hash,
        bytes[] calldata signers,
        bytes[] calldata signatures
    ) internal view override returns (bool) {
        if (msg.sig != this.validateUserOp.selector) return super._validateSignatures(hash, signers, signatures);
        if (signers.length != signatures.length) return false;
        bytes32 lastId;
        for (uint256 i; i < signers.length; ++i) {
            bytes calldata signer = signers[i];
            bytes32 id = keccak256(signer);
            if (id <= lastId || !isSigner(signer)) return false;
            lastId = id;
            (bool isDevice, DeviceId deviceId) = DeviceSignerLib.deviceOf(signer, VERIFIER);
            if (isDevice) {
                if (!_isDeviceSignature(deviceId, hash, signatures[i])) return false;
            } else if (!SignatureChecker.isValidSignatureNow(signer, hash, signatures[i])) {
                return false;
            }
        }
        return true;
    }

    function _isDeviceSignature(DeviceId deviceId, bytes32 hash, bytes calldata blob) private view returns (bool) {
        (bool ok, KeyType keyType, bytes calldata key, bytes calldata signature) = DeviceSignerLib.split(blob);
        return
            ok &&
            _isAccountKey(deviceId, DeviceKeyLib.keyHash(keyType, key)) &&
            DeviceKeyLib.isValidSignature(keyType, key, hash, signature);
    }

    /// @dev `keyHash` is the account's copy of the device's current key hash.
    function _isAccountKey(DeviceId deviceId, bytes32 keyHash) private view returns (bool) {
        uint256 stored = _devices[deviceId] >> UNTIL_BITS;
        return stored == 0 ? keyHash == DeviceId.unwrap(deviceId) : uint256(keyHash) >> UNTIL_BITS == stored;
    }

    /// @dev The trusted weight of an operation's signers (validated already: well formed, each a signer).
    /// A device the registry does not trust now with the account's copy of its key counts 0 and is marked
    /// distrusted.
    /// A device trusted again after a cooldown has its cooldown cleared.
    function _trustedWeightOf(bytes calldata signature, uint256 maxAge) private returns (uint256 weight) {
        (bytes[] calldata signers, bytes[] calldata signatures) = _signersOf(signature);
        for (uint256 i; i < signers.length; ++i) {
            bytes calldata signer = signers[i];
            (bool isDevice, DeviceId deviceId) = DeviceSignerLib.deviceOf(signer, VERIFIER);
            if (isDevice && !_checkDevice(deviceId, signatures[i], maxAge)) continue;
            weight += signerWeight(signer);
        }
    }

    /// @dev Whether the registry trusts the device now with the key it signed with; starts its distrust
    /// cooldown if not, ends it if so.
    function _checkDevice(DeviceId deviceId, bytes calldata blob, uint256 maxAge) private returns (bool) {
        (, KeyType keyType, bytes calldata key, ) = DeviceSignerLib.split(blob);
        bytes32 keyHash = DeviceKeyLib.keyHash(keyType, key);
        uint256 slot = _devices[deviceId];
        if (!REGISTRY.isTrustedKey(deviceId, keyHash, maxAge)) {
            uint256 until = block.timestamp + DISTRUST_COOLDOWN;
            _devices[deviceId] = (slot & ~UNTIL_MASK) | until;
            emit DeviceSignerDistrusted(deviceId, keyHash, until);
            return false;
        }
        if (slot & UNTIL_MASK != 0) _devices[deviceId] = slot & ~UNTIL_MASK;
        return true;
    }

    /// @inheritdoc IDeviceAccount
    function syncDevice(DeviceId deviceId) external {
        bytes memory signer = abi.encodePacked(VERIFIER, deviceId);
        if (!isSigner(signer)) revert MultiSignerERC7913NonexistentSigner(signer);
        bytes32 keyHash = REGISTRY.currentKeyHash(deviceId);
        if (!REGISTRY.isTrustedKey(deviceId, keyHash, _config.maxAttestationAge)) {
            revert AccountDeviceNotTrusted(deviceId);
        }
        // The cooldown ends too: the device is trusted now.
        _devices[deviceId] = keyHash == DeviceId.unwrap(deviceId) ? 0 : (uint256(keyHash) >> UNTIL_BITS) << UNTIL_BITS;
        emit DeviceSignerSynced(deviceId, keyHash);
    }

    // ---------------------------------------------------------------- changes

    /// @inheritdoc IDeviceAccount
    function proposeChange(bytes calldata data) external returns (bytes32 id) {
        _requireSelf();
        _requireSetter(data);
        id = keccak256(data);
        uint256 eta = block.timestamp + _config.changeDelay;
        _pending[id] = eta;
        emit ChangeProposed(id, data, eta);
    }

    /// @inheritdoc IDeviceAccount
    function applyChange(bytes calldata data) external {
        bytes32 id = keccak256(data);
        uint256 eta = _pending[id];
        if (eta == 0) revert AccountUnknownChange(id);
        if (block.timestamp < eta) revert AccountChangeNotReady(id, eta, block.timestamp);
        delete _pending[id];
        _apply(data);
        emit ChangeApplied(id);
    }

    /// @inheritdoc IDeviceAccount
    function cancelChange(bytes32 id) external {
        _requireOperatorOrSelf();
        if (_pending[id] == 0) revert AccountUnknownChange(id);
        delete _pending[id];
        emit ChangeCancelled(id, msg.sender);
    }

    /// @inheritdoc IDeviceAccount
    function unlock() external {
        _requireOperatorOrSelf();
        _config.locked = false;
        emit Unlocked(msg.sender);
    }

    // ---------------------------------------------------------------- changes applied

    /// @dev Runs a change: `data` is a call to one of IDeviceAccountChanges' functions (proposeChange
    /// checked that).
    function _apply(bytes calldata data) private {
        bytes4 selector = bytes4(data[:4]);
        bytes calldata args = data[4:];
        if (selector == IDeviceAccountChanges.addSigners.selector) {
            _addSigners(abi.decode(args, (bytes[])));
        } else if (selector == IDeviceAccountChanges.removeSigners.selector) {
            bytes[] memory signers = abi.decode(args, (bytes[]));
            _removeSigners(signers);
            for (uint256 i; i < signers.length; ++i) {
                (bool isDevice, DeviceId deviceId) = DeviceSignerLib.deviceOfMemory(signers[i], VERIFIER);
                if (isDevice) delete _devices[deviceId];
            }
        } else if (selector == IDeviceAccountChanges.setSignerWeights.selector) {
            (bytes[] memory signers, uint64[] memory weights) = abi.decode(args, (bytes[], uint64[]));
            _setSignerWeights(signers, weights);
        } else if (selector == IDeviceAccountChanges.setThresholds.selector) {
            (uint64 low, uint64 high) = abi.decode(args, (uint64, uint64));
            if (high > type(uint16).max) revert AccountInvalidThresholds(low, high, totalWeight());
            _config.highThreshold = uint16(high);
            _setThreshold(low);
        } else if (selector == IDeviceAccountChanges.setConfig.selector) {
            _setConfig(abi.decode(args, (Config)));
        } else if (selector == IDeviceAccountChanges.setTokenLimits.selector) {
            (address token, TokenLimits memory limits) = abi.decode(args, (address, TokenLimits));
            _setTokenLimits(token, limits);
        } else {
            (address token, address counterparty, CounterpartyLimits memory limits) = abi.decode(
                args,
                (address, address, CounterpartyLimits)
            );
            _setCounterpartyLimits(token, counterparty, limits);
        }
    }

    function _setConfig(Config memory newConfig) private {
        if (newConfig.maxAttestationAge == 0 || newConfig.velocityShareBps > SpendingPolicyLib.BPS) {
            revert AccountInvalidConfig();
        }
        _config = StoredConfig({
            operator: newConfig.operator,
            highThreshold: newConfig.highThreshold,
            maxAttestationAge: newConfig.maxAttestationAge,
            changeDelay: newConfig.changeDelay,
            velocityShareBps: newConfig.velocityShareBps,
            locked: _config.locked
        });
        _validateReachableThreshold();
        emit ConfigSet(newConfig);
    }

    function _setTokenLimits(address token, TokenLimits memory limits) private {
        _policy.setTokenLimits(token, limits);
        emit TokenLimitsSet(token, limits);
    }

    function _setCounterpartyLimits(address token, address counterparty, CounterpartyLimits memory limits) private {
        _policy.setCounterpartyLimits(token, counterparty, limits);
        emit CounterpartyLimitsSet(token, counterparty, limits);
    }

    /// @dev Both thresholds reachable and ordered: 0 < low < high <= total weight (a high threshold equal to
    /// the low one would let every payment the devices sign bypass the policy). Skipped while the
    /// implementation is being constructed (it has no signers and is never used).
    function _validateReachableThreshold() internal view override {
        if (address(this).code.length == 0) return;
        super._validateReachableThreshold();
        uint256 low = threshold();
        uint256 high = _config.highThreshold;
        uint256 total = totalWeight();
        // Checked once the config exists (initialize adds signers before it sets the config).
        if (_config.maxAttestationAge != 0 && (high <= low || high > total)) {
            revert AccountInvalidThresholds(low, high, total);
        }
    }

    /// @dev A device signer must be exactly `verifier ‖ deviceId`.
    function _addSigners(bytes[] memory newSigners) internal override {
        for (uint256 i; i < newSigners.length; ++i) {
            bytes memory signer = newSigners[i];
            if (signer.length >= 20 && address(bytes20(signer)) == VERIFIER) {
                (bool isDevice, ) = DeviceSignerLib.deviceOfMemory(signer, VERIFIER);
                if (!isDevice) revert AccountInvalidDeviceSigner(signer);
            }
        }
        super._addSigners(newSigners);
    }

    // ---------------------------------------------------------------- guards

    function _requireSelf() private view {
        if (msg.sender != address(this)) revert AccountOnlySelf(msg.sender);
    }

    function _requireOperatorOrSelf() private view {
        if (msg.sender != address(this) && msg.sender != _config.operator) revert AccountOnlyOperator(msg.sender);
    }

    /// @dev A change must call one of the setters.
    function _requireSetter(bytes calldata data) private pure {
        bytes4 selector = data.length < 4 ? bytes4(0) : bytes4(data[:4]);
        if (
            selector != IDeviceAccountChanges.addSigners.selector &&
            selector != IDeviceAccountChanges.removeSigners.selector &&
            selector != IDeviceAccountChanges.setSignerWeights.selector &&
            selector != IDeviceAccountChanges.setThresholds.selector &&
            selector != IDeviceAccountChanges.setConfig.selector &&
            selector != IDeviceAccountChanges.setTokenLimits.selector &&
            selector != IDeviceAccountChanges.setCounterpartyLimits.selector
        ) revert AccountSelfCallNotAllowed(selector);
    }

    /// @dev With the high threshold, a call to the account itself may only propose, cancel or apply a
    /// change, or unlock the breaker: setters go through the delay, execute is not reentered.
    function _checkSelfCalls(Execution[] calldata batch) private view {
        for (uint256 i; i < batch.length; ++i) {
            if (batch[i].target != address(this)) continue;
            bytes calldata data = batch[i].callData;
            bytes4 selector = data.length < 4 ? bytes4(0) : bytes4(data[:4]);
            if (
                selector != this.proposeChange.selector &&
                selector != this.cancelChange.selector &&
                selector != this.applyChange.selector &&
                selector != this.unlock.selector
            ) revert AccountSelfCallNotAllowed(selector);
        }
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IDeviceAccount
    function config() external view returns (Config memory) {
        StoredConfig memory c = _config;
        return Config(c.operator, c.highThreshold, c.maxAttestationAge, c.changeDelay, c.velocityShareBps);
    }

    /// @inheritdoc IDeviceAccount
    function highThreshold() external view returns (uint64) {
        return _config.highThreshold;
    }

    /// @inheritdoc IDeviceAccount
    function maxAttestationAge() external view returns (uint256) {
        return _config.maxAttestationAge;
    }

    /// @inheritdoc IDeviceAccount
    function locked() external view returns (bool) {
        return _config.locked;
    }

    /// @inheritdoc IDeviceAccount
    function tokenLimits(address token) external view returns (TokenLimits memory) {
        return _policy.tokens[token];
    }

    /// @inheritdoc IDeviceAccount
    function counterpartyLimits(address token, address counterparty) external view returns (CounterpartyLimits memory) {
        return _policy.counterparties[token][counterparty];
    }

    /// @inheritdoc IDeviceAccount
    function spentThisPeriod(address token) external view returns (uint256) {
        return _policy.spentThisPeriod(token);
    }

    /// @inheritdoc IDeviceAccount
    function spentThisPeriod(address token, address counterparty) external view returns (uint256) {
        return _policy.spentThisPeriod(token, counterparty);
    }

    /// @inheritdoc IDeviceAccount
    function pendingChange(bytes32 id) external view returns (uint256) {
        return _pending[id];
    }

    /// @notice The account's copy of a device signer's key hash (its high 208 bits; zero while it is the
    /// device id) and the end of its distrust cooldown (0 if none).
    function deviceSlot(DeviceId deviceId) external view returns (uint256 keyHashHigh, uint256 distrustedUntil) {
        uint256 slot = _devices[deviceId];
        return (slot >> UNTIL_BITS, slot & UNTIL_MASK);
    }
}
