// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdInvariant} from "forge-std/StdInvariant.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {Test} from "forge-std/Test.sol";
import {DeviceRegistry} from "../contracts/identity/DeviceRegistry.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {DeviceMessageLib} from "../contracts/libraries/DeviceMessageLib.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {DeviceStatus} from "../contracts/types/DeviceStatus.sol";
import {KeyHelpers, TestKey} from "./utils/RegistryFixture.sol";

/// @notice Drives the registry through honest lifecycles (both curves, both endorsement paths) and through
/// attacks that must fail (reusing any key ever installed, changing a terminal device), keeping ghost state.
/// @dev Bounded and never reverting: every action picks an existing device with _bound and returns early
/// when the action does not apply to its ghost status; attacks run inside try/catch and count successes.
/// No function here starts with "test" (every .sol under test/ is compiled as a test file).
contract DeviceRegistryHandler is CommonBase, StdUtils, KeyHelpers {
    DeviceRegistry private immutable REGISTRY;
    uint256 private immutable MAKER_PK;
    uint16 private immutable MAKER;
    address private immutable GOVERNOR;
    address private immutable SUSPENDER;
    address[3] private _operators;

    /// @dev Devices the handler registered, their ghost status and current key.
    DeviceId[] public ids;
    mapping(DeviceId id => DeviceStatus) public ghostStatus;
    mapping(DeviceId id => bytes32) public ghostCurrentKey;
    uint256 public ghostCreated;

    /// @dev Every key ever installed (first keys and rotated-in keys), the device it was given to, and its
    /// private key (to try to reuse it).
    bytes32[] public keyHashes;
    mapping(bytes32 keyHash => DeviceId) public ghostKeyOwner;
    mapping(bytes32 keyHash => TestKey) private _keys;

    /// @dev Devices that reached Revoked or Decommissioned, and the status they reached.
    DeviceId[] public terminalIds;
    mapping(DeviceId id => DeviceStatus) public terminalStatus;

    /// @dev Ids a reuse attack tried to register under (rotated-in keys): none may ever exist.
    DeviceId[] public probedIds;

    /// @dev Attacks that succeeded or failed for the wrong reason: must stay zero.
    uint256 public ghostReuseAccepted;
    uint256 public ghostTerminalChanged;
    uint256 public ghostUnexpectedErrors;

    uint256 private _keyCounter;

    constructor(DeviceRegistry registry_, uint256 makerPk, uint16 maker, address governor, address suspender) {
        REGISTRY = registry_;
        MAKER_PK = makerPk;
        MAKER = maker;
        GOVERNOR = governor;
        SUSPENDER = suspender;
        _operators = [address(uint160(0x0A01)), address(uint160(0x0A02)), address(uint160(0x0A03))];
    }

    function idCount() external view returns (uint256) {
        return ids.length;
    }

    function keyCount() external view returns (uint256) {
        return keyHashes.length;
    }

    function terminalCount() external view returns (uint256) {
        return terminalIds.length;
    }

    function probedCount() external view returns (uint256) {
        return probedIds.length;
    }

    // ================================================================ honest actions

    /// @notice Registers a new device endorsed by a maker signature.
    function register(bool p256, uint256 operatorSeed, uint32 model) external {
        TestKey memory k = _nextKey(p256);
        IDeviceRegistry.Registration memory reg = _registration(k, _operators[operatorSeed % 3], model);
        bytes memory endorsement = _signEth(MAKER_PK, _digest(DeviceMessageLib.hashEndorse(_id(k), model)));
        _created(REGISTRY.register(reg, MAKER, endorsement), k);
    }

    /// @notice Registers a new device from a two-device production batch (the neighbour has no key here).
    function registerFromBatch(bool p256, uint256 operatorSeed, uint32 model) external {
        TestKey memory k = _nextKey(p256);
        IDeviceRegistry.Registration memory reg = _registration(k, _operators[operatorSeed % 3], model);
        bytes32 leaf = DeviceMessageLib.manifestLeaf(_id(k), model);
        bytes32 neighbour = DeviceMessageLib.manifestLeaf(DeviceId.wrap(keccak256(abi.encode(k.keyHash))), model);
        bytes32 root = _hashPair(leaf, neighbour);
        bytes32[] memory proof = new bytes32[](1);
        proof[0] = neighbour;
        vm.prank(vm.addr(MAKER_PK));
        REGISTRY.publishBatch(root, 2, "");
        _created(REGISTRY.registerFromBatch(reg, root, proof), k);
    }

    function rotate(uint256 deviceSeed, bool p256) external {
        (bool found, DeviceId id) = _pick(deviceSeed);
        if (!found || ghostStatus[id] != DeviceStatus.Active) return;
        TestKey memory current = _keys[ghostCurrentKey[id]];
        TestKey memory next = _nextKey(p256);
        IDeviceRegistry.KeyRotation memory rotation = _rotation(id, current, next);
        vm.prank(REGISTRY.operatorOf(id));
        REGISTRY.rotateKey(id, rotation);
        _install(id, next);
    }

    function suspend(uint256 deviceSeed, uint256 bySeed) external {
        (bool found, DeviceId id) = _pick(deviceSeed);
        if (!found || ghostStatus[id] != DeviceStatus.Active) return;
        uint256 by = bySeed % 3;
        address who =
            by == 0
                ? REGISTRY.operatorOf(id)
                : by == 1
                    ? SUSPENDER
                    : GOVERNOR;
        vm.prank(who);
        REGISTRY.suspend(id, "handler");
        ghostStatus[id] = DeviceStatus.Suspended;
    }

    function reinstate(uint256 deviceSeed) external {
        (bool found, DeviceId id) = _pick(deviceSeed);
        if (!found || ghostStatus[id] != DeviceStatus.Suspended) return;
        vm.prank(GOVERNOR);
        REGISTRY.reinstate(id);
        ghostStatus[id] = DeviceStatus.Active;
    }

    function revoke(uint256 deviceSeed, bool byGovernor) external {
        (bool found, DeviceId id) = _pick(deviceSeed);
        if (!found || _isTerminal(ghostStatus[id])) return;
        vm.prank(byGovernor ? GOVERNOR : REGISTRY.operatorOf(id));
        REGISTRY.revoke(id, "handler");
        _terminate(id, DeviceStatus.Revoked);
    }

    function decommission(uint256 deviceSeed) external {
        (bool found, DeviceId id) = _pick(deviceSeed);
        if (!found || _isTerminal(ghostStatus[id])) return;
        vm.prank(REGISTRY.operatorOf(id));
        REGISTRY.decommission(id);
        _terminate(id, DeviceStatus.Decommissioned);
    }

    /// @notice Accepts the device's pending transfer if there is one, else starts one.
    function transfer(uint256 deviceSeed, uint256 toSeed) external {
        (bool found, DeviceId id) = _pick(deviceSeed);
        if (!found || ghostStatus[id] != DeviceStatus.Active) return;
        address to = REGISTRY.deviceInfo(id).pendingOperator;
        if (to != address(0)) {
            vm.prank(to);
            REGISTRY.acceptCustody(id);
        } else {
            vm.prank(REGISTRY.operatorOf(id));
            REGISTRY.startCustodyTransfer(id, _operators[toSeed % 3]);
        }
    }

    // ================================================================ attacks (must fail)

    /// @notice One of the attacks below, chosen by `kind`.
    function attack(uint256 kind, uint256 seedA, uint256 seedB) external {
        kind %= 3;
        if (kind == 0) _registerWithUsedKey(seedA, seedB);
        else if (kind == 1) _rotateToUsedKey(seedA, seedB);
        else _touchTerminal(seedA, seedB);
    }

    /// @notice Registers a new device with a key some device holds or held.
    function _registerWithUsedKey(uint256 keySeed, uint256 operatorSeed) private {
        if (keyHashes.length == 0) return;
        bytes32 keyHash = keyHashes[_bound(keySeed, 0, keyHashes.length - 1)];
        TestKey memory k = _keys[keyHash];
        DeviceId probe = DeviceId.wrap(keyHash);
        if (ghostStatus[probe] == DeviceStatus.Unknown) probedIds.push(probe); // a rotated-in key
        IDeviceRegistry.Registration memory reg = _registration(k, _operators[operatorSeed % 3], 1);
        bytes memory endorsement = _signEth(MAKER_PK, _digest(DeviceMessageLib.hashEndorse(probe, 1)));
        try REGISTRY.register(reg, MAKER, endorsement) {
            ++ghostReuseAccepted;
        } catch (bytes memory reason) {
            _expectError(reason, IDeviceRegistry.DeviceRegistryKeyTaken.selector);
        }
    }

    /// @notice Rotates an active device to a key some device holds or held (its own included).
    function _rotateToUsedKey(uint256 deviceSeed, uint256 keySeed) private {
        (bool found, DeviceId id) = _pick(deviceSeed);
        if (!found || ghostStatus[id] != DeviceStatus.Active) return;
        TestKey memory current = _keys[ghostCurrentKey[id]];
        TestKey memory used = _keys[keyHashes[_bound(keySeed, 0, keyHashes.length - 1)]];
        IDeviceRegistry.KeyRotation memory rotation = _rotation(id, current, used);
        vm.prank(REGISTRY.operatorOf(id));
        try REGISTRY.rotateKey(id, rotation) {
            ++ghostReuseAccepted;
        } catch (bytes memory reason) {
            _expectError(reason, IDeviceRegistry.DeviceRegistryKeyTaken.selector);
        }
    }

    /// @notice Tries every state-changing call on a terminal device, by the party most likely to succeed;
    /// each must fail with the error that names the rule.
    function _touchTerminal(uint256 deviceSeed, uint256 action) private {
        if (terminalIds.length == 0) return;
        DeviceId id = terminalIds[_bound(deviceSeed, 0, terminalIds.length - 1)];
        address op = REGISTRY.operatorOf(id);
        action = action % 6;
        bytes memory data;
        address caller = GOVERNOR;
        bytes4 expected;
        if (action == 0) {
            data = abi.encodeCall(DeviceRegistry.suspend, (id, "again"));
            expected = IDeviceRegistry.DeviceRegistryNotActive.selector;
        } else if (action == 1) {
            data = abi.encodeCall(DeviceRegistry.reinstate, (id));
            expected = IDeviceRegistry.DeviceRegistryNotSuspended.selector;
        } else if (action == 2) {
            data = abi.encodeCall(DeviceRegistry.revoke, (id, "again"));
            expected = IDeviceRegistry.DeviceRegistryTerminal.selector;
        } else if (action == 3) {
            (data, caller) = (abi.encodeCall(DeviceRegistry.decommission, (id)), op);
            expected = IDeviceRegistry.DeviceRegistryTerminal.selector;
        } else if (action == 4) {
            (data, caller) = (abi.encodeCall(DeviceRegistry.startCustodyTransfer, (id, _operators[0])), op);
            expected = IDeviceRegistry.DeviceRegistryNotActive.selector;
        } else {
            IDeviceRegistry.KeyRotation memory rotation = _rotation(id, _keys[ghostCurrentKey[id]], _nextKey(false));
            (data, caller) = (abi.encodeCall(DeviceRegistry.rotateKey, (id, rotation)), op);
            expected = IDeviceRegistry.DeviceRegistryNotActive.selector;
        }
        vm.prank(caller);
        // A raw call: one code path for six functions, with the revert data kept for the check below.
        // solhint-disable-next-line avoid-low-level-calls
        (bool success, bytes memory reason) = address(REGISTRY).call(data);
        if (success) ++ghostTerminalChanged;
        else _expectError(reason, expected);
    }

    // ================================================================ helpers

    function _nextKey(bool p256) private returns (TestKey memory) {
        return _keyFor(p256, uint256(keccak256(abi.encode("handler key", ++_keyCounter))));
    }

    function _created(DeviceId id, TestKey memory k) private {
        ids.push(id);
        ++ghostCreated;
        ghostStatus[id] = DeviceStatus.Active;
        _install(id, k);
    }

    function _pick(uint256 seed) private view returns (bool found, DeviceId id) {
        if (ids.length == 0) return (false, id);
        return (true, ids[_bound(seed, 0, ids.length - 1)]);
    }

    function _install(DeviceId id, TestKey memory k) private {
        keyHashes.push(k.keyHash);
        ghostKeyOwner[k.keyHash] = id;
        _keys[k.keyHash] = k;
        ghostCurrentKey[id] = k.keyHash;
    }

    function _terminate(DeviceId id, DeviceStatus status) private {
        ghostStatus[id] = status;
        terminalIds.push(id);
        terminalStatus[id] = status;
    }

    function _isTerminal(DeviceStatus status) private pure returns (bool) {
        return status == DeviceStatus.Revoked || status == DeviceStatus.Decommissioned;
    }

    function _expectError(bytes memory reason, bytes4 selector) private {
        if (reason.length < 4 || bytes4(reason) != selector) ++ghostUnexpectedErrors;
    }

    function _digest(bytes32 structHash) private view returns (bytes32) {
        return _typedDigest(REGISTRY.DOMAIN_SEPARATOR(), structHash);
    }

    function _registration(
        TestKey memory k,
        address op,
        uint32 model
    ) private view returns (IDeviceRegistry.Registration memory) {
        uint256 deadline = block.timestamp + 1 hours;
        return
            IDeviceRegistry.Registration({
                key: _deviceKey(k),
                operator: op,
                model: model,
                deadline: deadline,
                signature: _sign(k, _digest(DeviceMessageLib.hashRegister(_id(k), op, 0, deadline)))
            });
    }

    function _rotation(
        DeviceId id,
        TestKey memory current,
        TestKey memory next
    ) private view returns (IDeviceRegistry.KeyRotation memory) {
        uint256 nonce = REGISTRY.deviceInfo(id).nonce;
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 digest = _digest(DeviceMessageLib.hashRotateKey(id, next.keyHash, nonce, deadline));
        return
            IDeviceRegistry.KeyRotation({
                currentKey: _deviceKey(current),
                newKey: _deviceKey(next),
                nonce: nonce,
                deadline: deadline,
                currentSignature: _sign(current, digest),
                newSignature: _sign(next, digest)
            });
    }
}

/// @notice Registry-wide properties that hold after any sequence of the handler's actions.
contract DeviceRegistryInvariantTest is Test {
    DeviceRegistry internal registry;
    DeviceRegistryHandler internal handler;

    function setUp() public {
        address governor = makeAddr("governor");
        address suspender = makeAddr("suspender");
        uint256 makerPk = 0xA11CE;
        registry = new DeviceRegistry(governor);
        vm.startPrank(governor);
        uint16 maker = registry.addMaker(vm.addr(makerPk), "Acme");
        registry.grantRole(registry.SUSPENDER_ROLE(), suspender);
        vm.stopPrank();
        handler = new DeviceRegistryHandler(registry, makerPk, maker, governor, suspender);

        bytes4[] memory selectors = new bytes4[](9);
        selectors[0] = DeviceRegistryHandler.register.selector;
        selectors[1] = DeviceRegistryHandler.registerFromBatch.selector;
        selectors[2] = DeviceRegistryHandler.rotate.selector;
        selectors[3] = DeviceRegistryHandler.suspend.selector;
        selectors[4] = DeviceRegistryHandler.reinstate.selector;
        selectors[5] = DeviceRegistryHandler.revoke.selector;
        selectors[6] = DeviceRegistryHandler.decommission.selector;
        selectors[7] = DeviceRegistryHandler.transfer.selector;
        selectors[8] = DeviceRegistryHandler.attack.selector;
        targetContract(address(handler));
        targetSelector(StdInvariant.FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @notice The handler's concrete twin: one fixed sequence through every action and attack, after which
    /// every invariant holds and the ghosts count what happened.
    function test_handler_everyActionKeepsInvariants() public {
        handler.register(false, 0, 1);
        handler.registerFromBatch(true, 1, 2);
        handler.register(true, 2, 3);
        handler.rotate(0, true); // device 0: secp256k1 -> P-256
        handler.rotate(1, false); // device 1: P-256 -> secp256k1
        handler.transfer(0, 1); // start
        handler.transfer(0, 1); // accept
        assertEq(registry.operatorOf(handler.ids(0)), address(uint160(0x0A02)));
        handler.suspend(0, 1);
        handler.reinstate(0);
        handler.suspend(2, 2);
        handler.attack(0, 0, 0); // register with device 0's first key
        handler.attack(0, 3, 0); // register with a rotated-in key
        handler.attack(1, 0, 4); // rotate device 0 to device 1's rotated-in key
        handler.revoke(1, true);
        handler.decommission(2); // suspended, then decommissioned
        for (uint256 action; action < 6; ++action) {
            handler.attack(2, 0, action);
            handler.attack(2, 1, action);
        }
        assertEq(handler.ghostCreated(), 3);
        assertEq(handler.keyCount(), 5);
        assertEq(handler.terminalCount(), 2);
        assertEq(handler.probedCount(), 1);
        assertEq(uint8(registry.statusOf(handler.ids(0))), uint8(DeviceStatus.Active));
        assertEq(uint8(registry.statusOf(handler.ids(1))), uint8(DeviceStatus.Revoked));
        assertEq(uint8(registry.statusOf(handler.ids(2))), uint8(DeviceStatus.Decommissioned));
        invariant_keyBelongsToAtMostOneDevice();
        invariant_terminalStatusNeverChanges();
        invariant_createdDevicesAreTheKnownOnes();
        invariant_statusFollowsLifecycle();
    }

    /// One key belongs to at most one device, ever: every key the handler installed is owned by the device
    /// it was given to (even after rotation or retirement), each device's current key is its own, and no
    /// attempt to reuse a key succeeded.
    function invariant_keyBelongsToAtMostOneDevice() public view {
        uint256 keys = handler.keyCount();
        for (uint256 i; i < keys; ++i) {
            bytes32 keyHash = handler.keyHashes(i);
            assertEq(
                DeviceId.unwrap(registry.keyOwner(keyHash)),
                DeviceId.unwrap(handler.ghostKeyOwner(keyHash)),
                "key owner changed"
            );
        }
        uint256 devices = handler.idCount();
        for (uint256 i; i < devices; ++i) {
            DeviceId id = handler.ids(i);
            bytes32 current = registry.deviceInfo(id).keyHash;
            assertEq(current, handler.ghostCurrentKey(id), "current key");
            assertEq(DeviceId.unwrap(registry.keyOwner(current)), DeviceId.unwrap(id), "current key not own");
        }
        assertEq(handler.ghostReuseAccepted(), 0, "a used key was accepted");
        assertEq(handler.ghostUnexpectedErrors(), 0, "a reuse failed for another reason than KeyTaken");
    }

    /// A terminal status (Revoked, Decommissioned) never changes, and no call on a terminal device succeeds.
    function invariant_terminalStatusNeverChanges() public view {
        uint256 n = handler.terminalCount();
        for (uint256 i; i < n; ++i) {
            DeviceId id = handler.terminalIds(i);
            assertEq(uint8(registry.statusOf(id)), uint8(handler.terminalStatus(id)), "terminal status changed");
            assertEq(registry.deviceInfo(id).pendingOperator, address(0), "terminal device has a pending transfer");
        }
        assertEq(handler.ghostTerminalChanged(), 0, "a call on a terminal device succeeded");
    }

    /// The devices the handler created are exactly the known ones among every id it touched (created ids
    /// and the ids reuse attacks tried to register).
    function invariant_createdDevicesAreTheKnownOnes() public view {
        uint256 known;
        uint256 devices = handler.idCount();
        for (uint256 i; i < devices; ++i) {
            if (registry.statusOf(handler.ids(i)) != DeviceStatus.Unknown) ++known;
        }
        uint256 probed = handler.probedCount();
        for (uint256 i; i < probed; ++i) {
            if (registry.statusOf(handler.probedIds(i)) != DeviceStatus.Unknown) ++known;
        }
        assertEq(known, handler.ghostCreated());
    }

    /// Every device's status is the one its lifecycle so far implies.
    function invariant_statusFollowsLifecycle() public view {
        uint256 devices = handler.idCount();
        for (uint256 i; i < devices; ++i) {
            DeviceId id = handler.ids(i);
            assertEq(uint8(registry.statusOf(id)), uint8(handler.ghostStatus(id)));
        }
    }
}
