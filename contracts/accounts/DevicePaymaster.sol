// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {Paymaster} from "@openzeppelin/contracts/account/paymaster/Paymaster.sol";
import {ERC4337Utils} from "@openzeppelin/contracts/account/utils/ERC4337Utils.sol";
import {IEntryPoint, PackedUserOperation} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IDeviceAccount} from "../interfaces/IDeviceAccount.sol";
import {IDevicePaymaster} from "../interfaces/IDevicePaymaster.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {DeviceKeyLib} from "../libraries/DeviceKeyLib.sol";
import {DeviceSignerLib} from "../libraries/DeviceSignerLib.sol";
import {DeviceId} from "../types/DeviceId.sol";
import {KeyType} from "../types/KeyType.sol";
import {DeviceAccountFactory} from "./DeviceAccountFactory.sol";

/// @title IDeviceAccountViews
/// @notice The views of a DeviceAccount the paymaster reads.
/// @dev An interface, so building the paymaster does not compile the account (a second, legacy build of it,
/// over the code size limit, in the paymaster's compilation job).
interface IDeviceAccountViews {
    /// @notice The EntryPoint the account trusts.
    function entryPoint() external view returns (IEntryPoint);

    // solhint-disable func-name-mixedcase
    /// @notice The device registry the account asks.
    function REGISTRY() external view returns (IDeviceRegistry);

    /// @notice The ERC-7913 verifier of the account's device signers.
    function VERIFIER() external view returns (address);
    // solhint-enable func-name-mixedcase

    /// @notice Whether the velocity breaker locked the account (the high threshold then applies).
    function locked() external view returns (bool);

    /// @notice The low threshold (weight of signatures an operation needs).
    function threshold() external view returns (uint64);

    /// @notice A signer's weight (0 for a stranger).
    function signerWeight(bytes memory signer) external view returns (uint64);
}

/// @title DevicePaymaster
/// @notice Operators sponsor the gas of their DeviceAccounts within budgets (see IDevicePaymaster), on
/// OpenZeppelin's Paymaster.
/// @dev One contract for every operator: a paymaster that reads the registry and keeps budgets must be
/// STAKED with the EntryPoint (ERC-7562 STO-031/033), and one shared stake (the owner's) serves all operators,
/// where one paymaster per operator would make each lock its own stake and build its own reputation with
/// bundlers. Operators' money is kept apart by accounting: each operator's balance only ever pays for the
/// accounts it registered, and the EntryPoint deposit never falls below the sum of the balances, because an
/// operation is charged at least what the EntryPoint takes from the deposit for it (see _postOp).
///
/// ERC-7562 in validation: reads of the sender's storage (its operator, thresholds, signer weights), the
/// paymaster's own storage (sponsor, budgets, balances: written too) and, read-only, the registry's. No
/// TIMESTAMP (OP-011 bans it for every entity, staked or not): the registry's isTrustedKey reads the clock, so
/// validation asks for the same predicate as a horizon ("trusted until T": the registry's trustedKeyUntil)
/// and the budget window from the client's `landsAt`, and returns them as
/// validAfter/validUntil, which the EntryPoint checks against the block's time. Refusals return
/// SIG_VALIDATION_FAILED without reverting (OpenZeppelin's convention: a paymaster that reverts in validation
/// loses reputation); previewSponsorship says why.
contract DevicePaymaster is Paymaster, Ownable2Step, IDevicePaymaster {
    /// @notice The least paymasterPostOpGasLimit accepted: postOp must not run out of gas, or the EntryPoint
    /// would revert the operation's execution and still charge the deposit, with no postOp to settle it.
    uint256 public constant MIN_POST_OP_GAS = 30_000;
    /// @notice Gas charged on top of the EntryPoint's actualGasCost: postOp's own gas and what the EntryPoint
    /// spends around it, which it takes from the deposit after postOp: ~8k measured (DevicePaymaster.t.sol
    /// checks the charge against the deposit), so the operator pays at most ~7k gas more than the deposit did.
    uint256 public constant POST_OP_OVERHEAD = 15_000;
    /// @dev paymasterData: `uint48 landsAt`.
    uint256 private constant PAYMASTER_DATA_LENGTH = 6;

    IEntryPoint private immutable ENTRY_POINT;
    /// @notice The factory whose accounts may be sponsored.
    DeviceAccountFactory public immutable FACTORY;
    /// @notice The registry the accounts' devices are checked against.
    IDeviceRegistry public immutable REGISTRY;
    /// @notice The DeviceSignerVerifier the accounts' device signers name.
    address public immutable VERIFIER;

    mapping(address account => address operator) private _sponsors;
    mapping(address operator => uint256 funds) private _funds;
    mapping(address operator => Budget) private _operatorBudgets;
    mapping(address account => Budget) private _accountBudgets;
    uint256 private _totalFunds;

    /// @dev What validation decided, and the budgets as they would be after the reservation.
    struct Sponsorship {
        Refusal refusal;
        address operator;
        uint48 validAfter;
        uint48 validUntil;
        Budget operatorBudget;
        Budget accountBudget;
    }

    constructor(DeviceAccountFactory factory, address initialOwner) Ownable(initialOwner) {
        if (address(factory).code.length == 0) revert DevicePaymasterInvalidSetup();
        IDeviceAccountViews implementation = IDeviceAccountViews(factory.IMPLEMENTATION());
        IEntryPoint entryPoint_ = implementation.entryPoint();
        if (address(entryPoint_) == address(0)) revert DevicePaymasterInvalidSetup();
        ENTRY_POINT = entryPoint_;
        FACTORY = factory;
        REGISTRY = implementation.REGISTRY();
        VERIFIER = implementation.VERIFIER();
    }

    /// @inheritdoc Paymaster
    function entryPoint() public view override returns (IEntryPoint) {
        return ENTRY_POINT;
    }

    // ---------------------------------------------------------------- operators

    /// @inheritdoc IDevicePaymaster
    function registerAccount(IDeviceAccount.Setup calldata setup, bytes32 salt) external returns (address account) {
        // Only the factory deploys code at its CREATE2 address for (setup, salt), and it initializes the
        // clone in the same call: the address alone proves the account runs DeviceAccount from this factory.
        account = FACTORY.accountAddress(setup, salt);
        address operator = account.code.length == 0 ? setup.config.operator : IDeviceAccount(account).config().operator;
        if (operator != msg.sender) revert DevicePaymasterNotAccountOperator(account, operator, msg.sender);
        _sponsors[account] = msg.sender;
        delete _accountBudgets[account];
        emit AccountRegistered(account, msg.sender);
    }

    /// @inheritdoc IDevicePaymaster
    function unregisterAccount(address account) external {
        _requireSponsor(account);
        delete _sponsors[account];
        delete _accountBudgets[account];
        emit AccountUnregistered(account, msg.sender);
    }

    /// @inheritdoc IDevicePaymaster
    function setOperatorBudget(uint96 cap, uint32 period) external {
        if (period == 0) revert DevicePaymasterInvalidBudget(cap, period);
        _operatorBudgets[msg.sender] = _newBudget(_operatorBudgets[msg.sender], cap, period);
        emit OperatorBudgetSet(msg.sender, cap, period);
    }

    /// @inheritdoc IDevicePaymaster
    function setAccountBudget(address account, uint96 cap, uint32 period) external {
        _requireSponsor(account);
        if (period == 0) {
            if (cap != 0) revert DevicePaymasterInvalidBudget(cap, period);
            delete _accountBudgets[account];
        } else {
            _accountBudgets[account] = _newBudget(_accountBudgets[account], cap, period);
        }
        emit AccountBudgetSet(account, msg.sender, cap, period);
    }

    /// @inheritdoc IDevicePaymaster
    function fund(address operator) external payable {
        if (msg.value == 0 || operator == address(0)) revert DevicePaymasterZeroAmount();
        uint256 funds = _funds[operator] + msg.value;
        _funds[operator] = funds;
        _totalFunds += msg.value;
        emit Funded(operator, msg.sender, msg.value, funds);
        _deposit(msg.value);
    }

    /// @inheritdoc IDevicePaymaster
    function withdraw(address payable to, uint256 amount) external {
        if (amount == 0 || to == address(0)) revert DevicePaymasterZeroAmount();
        uint256 funds = _funds[msg.sender];
        if (amount > funds) revert DevicePaymasterInsufficientFunds(msg.sender, funds, amount);
        unchecked {
            // amount <= funds <= _totalFunds
            funds -= amount;
            _totalFunds -= amount;
        }
        _funds[msg.sender] = funds;
        emit Withdrawn(msg.sender, to, amount, funds);
        _withdraw(to, amount);
    }

    // ---------------------------------------------------------------- owner

    /// @inheritdoc IDevicePaymaster
    function addStake(uint32 unstakeDelaySec) external payable onlyOwner {
        _addStake(msg.value, unstakeDelaySec);
    }

    /// @inheritdoc IDevicePaymaster
    function unlockStake() external onlyOwner {
        _unlockStake();
    }

    /// @inheritdoc IDevicePaymaster
    function withdrawStake(address payable to) external onlyOwner {
        _withdrawStake(to);
    }

    /// @inheritdoc IDevicePaymaster
    function withdrawSurplus(address payable to, uint256 amount) external onlyOwner {
        if (amount == 0 || to == address(0)) revert DevicePaymasterZeroAmount();
        uint256 available = surplus();
        if (amount > available) revert DevicePaymasterInsufficientSurplus(available, amount);
        emit SurplusWithdrawn(to, amount);
        _withdraw(to, amount);
    }

    // ---------------------------------------------------------------- ERC-4337

    /// @dev Checks (see Refusal), then reserves `maxCost` (the EntryPoint's requiredPreFund, what it takes
    /// from the deposit now) from the operator's balance and budgets. Context for postOp:
    /// `userOpHash ‖ account ‖ operator ‖ uint96 reserved ‖ uint32 operatorWindow ‖ uint32 accountWindow ‖
    /// bool accountBudget ‖ uint32 penaltyGas` (97 bytes).
    function _validatePaymasterUserOp(
        PackedUserOperation calldata userOp,
        bytes32 userOpHash,
        uint256 maxCost
    ) internal override returns (bytes memory context, uint256 validationData) {
        Sponsorship memory s = _sponsorship(userOp, maxCost);
        if (s.refusal != Refusal.None) return ("", ERC4337Utils.SIG_VALIDATION_FAILED);
        address account = userOp.sender;
        unchecked {
            // _sponsorship checked maxCost <= funds <= _totalFunds.
            _funds[s.operator] -= maxCost;
            _totalFunds -= maxCost;
        }
        _operatorBudgets[s.operator] = s.operatorBudget;
        bool hasAccountBudget = s.accountBudget.period != 0;
        if (hasAccountBudget) _accountBudgets[account] = s.accountBudget;
        emit SponsorshipReserved(userOpHash, account, s.operator, maxCost);
        context = abi.encodePacked(
            userOpHash,
            account,
            s.operator,
            // Fits: the operator budget's cap (a uint96) admitted it.
            uint96(maxCost),
            s.operatorBudget.window,
            s.accountBudget.window,
            hasAccountBudget,
            uint32(_postOpGasPenalty(userOp))
        );
        validationData = ERC4337Utils.packValidationData(true, s.validAfter, s.validUntil);
    }

    /// @dev Charges the actual cost and releases the rest of the reservation. Never reverts: a postOp that
    /// reverted would leave the whole reservation charged (safe, but the operator's loss).
    /// The EntryPoint takes from the deposit `actualGasCost` plus postOp's own gas, its bookkeeping around it
    /// and a penalty of 10% of unused postOp gas (when over 40,000), all after postOp returns: the charge
    /// adds POST_OP_OVERHEAD and the worst-case penalty, at the operation's fee, so it never falls short of
    /// what the deposit pays (else one operator's operations would be paid by the others' balances), and
    /// never exceeds the reservation, which the EntryPoint's own charge never exceeds either.
    function _postOp(
        PostOpMode,
        bytes calldata context,
        uint256 actualGasCost,
        uint256 actualUserOpFeePerGas
    ) internal override {
        bytes32 userOpHash = bytes32(context[0:32]);
        address account = address(bytes20(context[32:52]));
        address operator = address(bytes20(context[52:72]));
        uint256 reserved = uint96(bytes12(context[72:84]));
        uint256 penaltyGas = uint32(bytes4(context[93:97]));
        // actualUserOpFeePerGas <= maxFeePerGas and reserved = requiredGas * maxFeePerGas < 2^96: no overflow.
        uint256 charged = Math.min(reserved, actualGasCost + (POST_OP_OVERHEAD + penaltyGas) * actualUserOpFeePerGas);
        uint256 released;
        unchecked {
            released = reserved - charged;
        }
        if (released != 0) {
            _funds[operator] += released;
            _totalFunds += released;
            _release(_operatorBudgets[operator], uint32(bytes4(context[84:88])), released);
            if (context[92] != 0) _release(_accountBudgets[account], uint32(bytes4(context[88:92])), released);
        }
        emit UserOperationSponsored(userOpHash, account, operator, charged, released);
    }

    /// @dev Every check of validation, without writing: the refusal, or the validity range and the budgets
    /// with `maxCost` reserved. Cheap checks first; the registry last.
    function _sponsorship(
        PackedUserOperation calldata userOp,
        uint256 maxCost
    ) private view returns (Sponsorship memory s) {
        bytes calldata data = ERC4337Utils.paymasterData(userOp);
        if (data.length != PAYMASTER_DATA_LENGTH) return _refuse(s, Refusal.InvalidPaymasterData);
        uint256 landsAt = uint48(bytes6(data));
        if (ERC4337Utils.paymasterPostOpGasLimit(userOp) < MIN_POST_OP_GAS) {
            return _refuse(s, Refusal.PostOpGasTooLow);
        }
        address account = userOp.sender;
        s.operator = _sponsors[account];
        if (s.operator == address(0)) return _refuse(s, Refusal.NotSponsored);
        IDeviceAccount.Config memory config = IDeviceAccount(account).config();
        if (config.operator != s.operator) return _refuse(s, Refusal.OperatorChanged);

        // The budget windows that contain `landsAt`: the operation reserves in them and is valid only inside them.
        s.validUntil = type(uint48).max;
        s.operatorBudget = _operatorBudgets[s.operator];
        Refusal r = _reserve(s, s.operatorBudget, landsAt, maxCost, Refusal.OperatorBudgetExceeded);
        if (r != Refusal.None) return _refuse(s, r);
        s.accountBudget = _accountBudgets[account];
        if (s.accountBudget.period != 0) {
            r = _reserve(s, s.accountBudget, landsAt, maxCost, Refusal.AccountBudgetExceeded);
            if (r != Refusal.None) return _refuse(s, r);
        }
        if (_funds[s.operator] < maxCost) return _refuse(s, Refusal.InsufficientFunds);

        // The signers must stay trusted with enough weight up to validUntil, and at least into the window.
        (bool decoded, uint256 horizon) = _trustHorizon(userOp.signature, IDeviceAccountViews(account), config);
        if (!decoded) return _refuse(s, Refusal.InvalidSignature);
        if (horizon < s.validUntil) s.validUntil = uint48(horizon);
        if (s.validUntil <= s.validAfter) return _refuse(s, Refusal.Untrusted);
    }

    /// @dev Reserves `amount` in `budget` (in memory) for the window that contains `landsAt`, and narrows the
    /// validity range to that window (validAfter is exclusive in EntryPoint v0.8: the window's first second
    /// is validAfter + 1). An unset budget (period 0) refuses everything.
    function _reserve(
        Sponsorship memory s,
        Budget memory budget,
        uint256 landsAt,
        uint256 amount,
        Refusal overBudget
    ) private pure returns (Refusal) {
        uint256 period = budget.period;
        if (period == 0) return overBudget;
        uint256 window = landsAt / period;
        if (window > type(uint32).max) return Refusal.InvalidPaymasterData;
        uint256 spent = budget.window == window ? budget.spent : 0;
        if (amount > budget.cap || spent > budget.cap - amount) return overBudget;
        budget.window = uint32(window);
        budget.spent = uint96(spent + amount);
        uint256 start = window * period;
        uint256 end = start + period - 1;
        if (start > 0 && start - 1 > s.validAfter) s.validAfter = uint48(start - 1);
        if (end < s.validUntil) s.validUntil = uint48(end);
        return Refusal.None;
    }

    /// @dev The last second up to which the signers trusted then weigh at least the threshold the account will
    /// apply (the low one; the high one while its breaker is locked), 0 if never; decoded false for a
    /// signature that is not `abi.encode(bytes[] signers, bytes[] signatures)` of equal lengths. Signatures
    /// themselves are the account's to check (it did, before this runs). Non-device signers never expire.
    function _trustHorizon(
        bytes calldata signature,
        IDeviceAccountViews account,
        IDeviceAccount.Config memory config
    ) private view returns (bool decoded, uint256 horizon) {
        (bool ok, bytes[] calldata signers, bytes[] calldata signatures) = _decodeMultisignature(signature);
        if (!ok || signers.length != signatures.length) return (false, 0);
        (uint256[] memory untils, uint256[] memory weights) = _signerHorizons(
            signers,
            signatures,
            account,
            config.maxAttestationAge
        );
        uint256 needed = account.locked() ? config.highThreshold : account.threshold();
        return (true, _horizon(untils, weights, needed));
    }

    /// @dev Each signer's trust horizon and weight.
    function _signerHorizons(
        bytes[] calldata signers,
        bytes[] calldata signatures,
        IDeviceAccountViews account,
        uint256 maxAge
    ) private view returns (uint256[] memory untils, uint256[] memory weights) {
        untils = new uint256[](signers.length);
        weights = new uint256[](signers.length);
        for (uint256 i; i < signers.length; ++i) {
            weights[i] = account.signerWeight(signers[i]);
            untils[i] = _signerTrustedUntil(signers[i], signatures[i], maxAge);
        }
    }

    /// @dev The latest time u at which the signers trusted until u or later still weigh `needed` (0 if none):
    /// O(n²) over a handful of signers.
    function _horizon(
        uint256[] memory untils,
        uint256[] memory weights,
        uint256 needed
    ) private pure returns (uint256 horizon) {
        uint256 n = untils.length;
        for (uint256 i; i < n; ++i) {
            uint256 u = untils[i];
            if (u <= horizon) continue;
            uint256 weight;
            for (uint256 j; j < n; ++j) if (untils[j] >= u) weight += weights[j];
            if (weight >= needed) horizon = u;
        }
    }

    /// @dev A device signer's trust horizon for the key in its signature blob; forever for other signers.
    function _signerTrustedUntil(
        bytes calldata signer,
        bytes calldata blob,
        uint256 maxAge
    ) private view returns (uint256) {
        (bool isDevice, DeviceId deviceId) = DeviceSignerLib.deviceOf(signer, VERIFIER);
        if (!isDevice) return type(uint48).max;
        (bool split, KeyType keyType, bytes calldata key, ) = DeviceSignerLib.split(blob);
        return split ? _trustedUntil(deviceId, DeviceKeyLib.keyHash(keyType, key), maxAge) : 0;
    }

    /// @dev The registry's trustedKeyUntil (isTrustedKey without the clock).
    function _trustedUntil(DeviceId deviceId, bytes32 keyHash, uint256 maxAge) private view returns (uint256) {
        return REGISTRY.trustedKeyUntil(deviceId, keyHash, maxAge);
    }

    /// @dev OpenZeppelin's worst-case unused postOp gas penalty (PaymasterERC20._postOpGasPenalty): the
    /// EntryPoint charges 10% of the unused paymasterPostOpGasLimit once more than 40,000 go unused.
    function _postOpGasPenalty(PackedUserOperation calldata userOp) private pure returns (uint256) {
        uint256 limit = ERC4337Utils.paymasterPostOpGasLimit(userOp);
        return limit > 40_000 ? limit / 10 : 0;
    }

    // ---------------------------------------------------------------- internals

    function _requireSponsor(address account) private view {
        if (_sponsors[account] != msg.sender) revert DevicePaymasterNotSponsor(account, msg.sender);
    }

    /// @dev `budget` with a new cap, which applies at once, and period: a new period starts the window that
    /// contains the current time, keeping what the current window spent (changing the period buys no room).
    function _newBudget(Budget memory budget, uint96 cap, uint32 period) private view returns (Budget memory) {
        if (budget.period != period) {
            bool current = budget.period != 0 && budget.window == block.timestamp / budget.period;
            uint256 window = block.timestamp / period;
            if (window > type(uint32).max) revert DevicePaymasterInvalidBudget(cap, period);
            budget.spent = current ? budget.spent : 0;
            budget.window = uint32(window);
            budget.period = period;
        }
        budget.cap = cap;
        return budget;
    }

    /// @dev Gives back `amount` of a reservation in `window` (nothing if the budget moved on: it stays spent).
    function _release(Budget storage budget, uint32 window, uint256 amount) private {
        if (budget.window != window) return;
        uint96 spent = budget.spent;
        budget.spent = uint96(spent - Math.min(spent, amount));
    }

    function _refuse(Sponsorship memory s, Refusal refusal) private pure returns (Sponsorship memory) {
        s.refusal = refusal;
        return s;
    }

    /// @dev OpenZeppelin's calldata multisignature decoder (MultiSignerERC7913, private there): bounds-checked
    /// offsets and lengths of the two arrays, no copy.
    function _decodeMultisignature(
        bytes calldata signature
    ) private pure returns (bool ok, bytes[] calldata signers, bytes[] calldata signatures) {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            signers.offset := 0
            signers.length := 0
            signatures.offset := 0
            signatures.length := 0
        }
        uint256 length = signature.length;
        if (length < 0x40) return (false, signers, signatures);
        uint256 signersOffset = uint256(bytes32(signature[0:32]));
        uint256 signaturesOffset = uint256(bytes32(signature[32:64]));
        if (signersOffset > length - 0x20 || signaturesOffset > length - 0x20) return (false, signers, signatures);
        uint256 signersLength = uint256(bytes32(signature[signersOffset:signersOffset + 0x20]));
        uint256 signaturesLength = uint256(bytes32(signature[signaturesOffset:signaturesOffset + 0x20]));
        if (
            signersLength > type(uint64).max ||
            signaturesLength > type(uint64).max ||
            0x20 * signersLength > length - signersOffset - 0x20 ||
            0x20 * signaturesLength > length - signaturesOffset - 0x20
        ) return (false, signers, signatures);
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            signers.offset := add(signature.offset, add(signersOffset, 0x20))
            signers.length := signersLength
            signatures.offset := add(signature.offset, add(signaturesOffset, 0x20))
            signatures.length := signaturesLength
        }
        ok = true;
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IDevicePaymaster
    function sponsorOf(address account) external view returns (address) {
        return _sponsors[account];
    }

    /// @inheritdoc IDevicePaymaster
    function fundsOf(address operator) external view returns (uint256) {
        return _funds[operator];
    }

    /// @inheritdoc IDevicePaymaster
    function totalFunds() external view returns (uint256) {
        return _totalFunds;
    }

    /// @inheritdoc IDevicePaymaster
    function surplus() public view returns (uint256) {
        return ENTRY_POINT.balanceOf(address(this)) - _totalFunds;
    }

    /// @inheritdoc IDevicePaymaster
    function operatorBudget(address operator) external view returns (Budget memory) {
        return _operatorBudgets[operator];
    }

    /// @inheritdoc IDevicePaymaster
    function accountBudget(address account) external view returns (Budget memory) {
        return _accountBudgets[account];
    }

    /// @inheritdoc IDevicePaymaster
    function remaining(Budget memory budget, uint256 landsAt) public pure returns (uint256) {
        if (budget.period == 0) return type(uint256).max;
        uint256 spent = budget.window == landsAt / budget.period ? budget.spent : 0;
        return spent >= budget.cap ? 0 : budget.cap - spent;
    }

    /// @inheritdoc IDevicePaymaster
    function deviceTrustedUntil(DeviceId deviceId, bytes32 keyHash, uint256 maxAge) external view returns (uint256) {
        return _trustedUntil(deviceId, keyHash, maxAge);
    }

    /// @inheritdoc IDevicePaymaster
    function previewSponsorship(
        PackedUserOperation calldata userOp
    ) external view returns (Refusal refusal, uint48 validAfter, uint48 validUntil, uint256 maxCost) {
        maxCost =
            (ERC4337Utils.verificationGasLimit(userOp) +
                ERC4337Utils.callGasLimit(userOp) +
                ERC4337Utils.paymasterVerificationGasLimit(userOp) +
                ERC4337Utils.paymasterPostOpGasLimit(userOp) +
                userOp.preVerificationGas) * ERC4337Utils.maxFeePerGas(userOp);
        Sponsorship memory s = _sponsorship(userOp, maxCost);
        (refusal, validAfter, validUntil) = (s.refusal, s.validAfter, s.validUntil);
        if (refusal == Refusal.None && (block.timestamp > validUntil || block.timestamp <= validAfter)) {
            refusal = Refusal.OutOfTimeRange;
        }
    }
}
