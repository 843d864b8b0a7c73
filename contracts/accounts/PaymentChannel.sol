// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IDeviceAttestation} from "../interfaces/IDeviceAttestation.sol";
import {IDeviceRegistry} from "../interfaces/IDeviceRegistry.sol";
import {IPaymentChannel} from "../interfaces/IPaymentChannel.sol";
import {DeviceMessageLib} from "../libraries/DeviceMessageLib.sol";
import {TrustLib} from "../libraries/TrustLib.sol";
import {DeviceId} from "../types/DeviceId.sol";

/// @title PaymentChannel
/// @notice Every machine-to-machine payment channel of a deployment, ERC-20 and native: a buyer deposits,
/// its device signs cumulative vouchers off chain, the seller closes once on chain. See IPaymentChannel.
///
/// The rule, as the README says it: a voucher counts only if the buyer device is trusted (Active, current
/// key, attested within maxAge) when the voucher is presented, because nothing proves when a voucher was
/// signed. The seller protects what it earned by checkpointing vouchers while the device is trusted; the
/// highest checkpoint is paid whatever happens to the device later (at close, or at reclaim after expiry).
/// A buyer never pays more than its deposit; an honest seller never gets less than the latest voucher it
/// checkpointed or closed with while the device was trusted.
///
/// @dev One storage slot per channel (IPaymentChannel.Channel), deleted when the channel ends; the id is
/// the hash of the terms, which every call repeats in calldata, and the terms carry the buyer's channel
/// nonce, so ids never repeat. A payout that fails (a reverting receiver, a token that refuses it) is
/// owed instead (`withdrawOwed`), so neither party can block the other's payout. Checks, effects, events,
/// then interactions; the transient guard makes a reentrant token or receiver find every entry point shut.
contract PaymentChannel is IPaymentChannel, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using TrustLib for IDeviceAttestation;

    /// @notice The largest deposit a channel holds: amounts share one slot with the expiry.
    uint256 public constant MAX_DEPOSIT = type(uint104).max;
    /// @notice Gas a native payout may use: enough for a smart account's receive (an ERC-4337 account, a
    /// Safe), too little for a receiver to burn the closer's gas. A receiver that needs more is owed.
    uint256 public constant NATIVE_PAYOUT_GAS = 100_000;

    IDeviceRegistry private immutable _REGISTRY;
    uint256 private immutable _MAX_AGE;

    mapping(bytes32 channelId => Channel) private _channels;
    mapping(address buyer => uint256 nonce) private _nonces;
    mapping(address account => mapping(IERC20 token => uint256 amount)) private _owed;

    /// @notice A channel contract over `registry_` (which also answers isTrusted) that trusts a buyer device
    /// attested within `maxAge_` seconds.
    constructor(IDeviceRegistry registry_, uint256 maxAge_) EIP712("DeviceTrust", "1") {
        if (address(registry_) == address(0)) revert ChannelZeroAddress();
        if (maxAge_ == 0) revert ChannelZeroMaxAge();
        _REGISTRY = registry_;
        _MAX_AGE = maxAge_;
    }

    // ---------------------------------------------------------------- channels

    /// @inheritdoc IPaymentChannel
    function open(
        ChannelTerms calldata terms,
        uint256 deposit,
        uint256 expiry
    ) external payable nonReentrant returns (bytes32 id) {
        if (msg.sender != terms.buyer) revert ChannelNotBuyer(msg.sender);
        if (terms.seller == address(0)) revert ChannelZeroAddress();
        if (deposit == 0) revert ChannelZeroDeposit();
        if (deposit > MAX_DEPOSIT) revert ChannelDepositTooLarge(deposit, MAX_DEPOSIT);
        if (expiry <= block.timestamp) revert ChannelExpired(expiry, block.timestamp);
        if (expiry > type(uint48).max) revert ChannelExpiryTooFar(expiry, type(uint48).max);
        uint256 nonce = _nonces[msg.sender];
        if (terms.nonce != nonce) revert ChannelWrongNonce(msg.sender, nonce, terms.nonce);
        IDeviceAttestation(address(_REGISTRY)).requireTrusted(terms.buyerDevice, _MAX_AGE);
        // (buyer, nonce) is new, so is the id: its slot is empty, and no voucher was ever signed for it.
        id = _id(terms);

        // Cannot overflow: a buyer opens fewer than 2^256 channels.
        unchecked {
            _nonces[msg.sender] = nonce + 1;
        }
        // The casts are exact: deposit <= MAX_DEPOSIT and expiry <= type(uint48).max were checked above.
        _channels[id] = Channel({deposit: uint104(deposit), checkpointed: 0, expiry: uint48(expiry)});
        emit ChannelOpened(id, terms.buyer, terms.seller, terms, deposit, expiry);
        _pull(terms.token, deposit);
    }

    /// @inheritdoc IPaymentChannel
    function topUp(ChannelTerms calldata terms, uint256 amount, uint256 expiry) external payable nonReentrant {
        if (msg.sender != terms.buyer) revert ChannelNotBuyer(msg.sender);
        (bytes32 id, Channel memory c) = _open(terms);
        if (block.timestamp >= c.expiry) revert ChannelExpired(c.expiry, block.timestamp);
        if (expiry < c.expiry) revert ChannelExpiryNotLater(expiry, c.expiry);
        if (expiry > type(uint48).max) revert ChannelExpiryTooFar(expiry, type(uint48).max);
        if (amount == 0 && expiry == c.expiry) revert ChannelZeroDeposit();
        uint256 deposit = c.deposit + amount;
        if (deposit > MAX_DEPOSIT) revert ChannelDepositTooLarge(deposit, MAX_DEPOSIT);

        // Exact casts: both bounds were checked above.
        _channels[id] = Channel({deposit: uint104(deposit), checkpointed: c.checkpointed, expiry: uint48(expiry)});
        emit ChannelToppedUp(id, deposit, expiry);
        if (amount != 0) _pull(terms.token, amount);
        else if (msg.value != 0) revert ChannelWrongValue(msg.value, 0);
    }

    /// @inheritdoc IPaymentChannel
    function checkpoint(
        ChannelTerms calldata terms,
        uint256 cumulativeAmount,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) external nonReentrant {
        if (msg.sender != terms.seller) revert ChannelNotSeller(msg.sender);
        (bytes32 id, Channel memory c) = _open(terms);
        if (block.timestamp >= c.expiry) revert ChannelExpired(c.expiry, block.timestamp);
        if (!_voucherCounts(terms.buyerDevice, id, cumulativeAmount, key, signature)) {
            // Not trusted now: say why (TrustLibUntrusted carries the verdict).
            IDeviceAttestation(address(_REGISTRY)).requireTrusted(terms.buyerDevice, _MAX_AGE);
        }
        uint256 amount = _min(cumulativeAmount, c.deposit);
        if (amount <= c.checkpointed) revert ChannelVoucherNotNewer(amount, c.checkpointed);

        // Exact cast: amount <= deposit <= MAX_DEPOSIT.
        _channels[id].checkpointed = uint104(amount);
        emit ChannelCheckpointed(id, amount);
    }

    /// @inheritdoc IPaymentChannel
    function close(
        ChannelTerms calldata terms,
        uint256 cumulativeAmount,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) external nonReentrant {
        if (msg.sender != terms.seller) revert ChannelNotSeller(msg.sender);
        (bytes32 id, Channel memory c) = _open(terms);
        if (block.timestamp >= c.expiry) revert ChannelExpired(c.expiry, block.timestamp);
        bool counted = _voucherCounts(terms.buyerDevice, id, cumulativeAmount, key, signature);
        uint256 toSeller = c.checkpointed;
        if (counted) toSeller = _max(toSeller, _min(cumulativeAmount, c.deposit));
        uint256 toBuyer = c.deposit - toSeller;

        delete _channels[id];
        emit ChannelSettled(id, toSeller, toBuyer, counted);
        _pay(terms.token, terms.seller, toSeller);
        _pay(terms.token, terms.buyer, toBuyer);
    }

    /// @inheritdoc IPaymentChannel
    function reclaim(ChannelTerms calldata terms) external nonReentrant {
        if (msg.sender != terms.buyer && msg.sender != terms.seller) revert ChannelNotParty(msg.sender);
        (bytes32 id, Channel memory c) = _open(terms);
        if (block.timestamp < c.expiry) revert ChannelNotExpired(c.expiry, block.timestamp);
        uint256 toSeller = c.checkpointed;
        uint256 toBuyer = c.deposit - toSeller;

        delete _channels[id];
        emit ChannelReclaimed(id, toSeller, toBuyer);
        _pay(terms.token, terms.seller, toSeller);
        _pay(terms.token, terms.buyer, toBuyer);
    }

    /// @inheritdoc IPaymentChannel
    function withdrawOwed(IERC20 token) external nonReentrant {
        uint256 amount = _owed[msg.sender][token];
        if (amount == 0) revert ChannelNothingOwed(msg.sender, address(token));
        delete _owed[msg.sender][token];
        emit OwedWithdrawn(msg.sender, address(token), amount);
        // Here the receiver asked for it: a failure reverts (the amount stays owed), with all gas forwarded.
        if (address(token) == address(0)) {
            Address.sendValue(payable(msg.sender), amount);
        } else {
            token.safeTransfer(msg.sender, amount);
        }
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IPaymentChannel
    function channelId(ChannelTerms calldata terms) external pure returns (bytes32) {
        return _id(terms);
    }

    /// @inheritdoc IPaymentChannel
    function channel(bytes32 id) external view returns (Channel memory) {
        return _channels[id];
    }

    /// @inheritdoc IPaymentChannel
    function nonceOf(address buyer) external view returns (uint256) {
        return _nonces[buyer];
    }

    /// @inheritdoc IPaymentChannel
    function voucherDigest(bytes32 id, uint256 cumulativeAmount) external view returns (bytes32) {
        return _hashTypedDataV4(DeviceMessageLib.hashVoucher(id, cumulativeAmount));
    }

    /// @inheritdoc IPaymentChannel
    function owed(address account, IERC20 token) external view returns (uint256) {
        return _owed[account][token];
    }

    /// @inheritdoc IPaymentChannel
    function registry() external view returns (IDeviceRegistry) {
        return _REGISTRY;
    }

    /// @inheritdoc IPaymentChannel
    function maxAge() external view returns (uint256) {
        return _MAX_AGE;
    }

    /// @inheritdoc IPaymentChannel
    // solhint-disable-next-line func-name-mixedcase, use-natspec
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------- internals

    function _id(ChannelTerms calldata terms) private pure returns (bytes32) {
        // ChannelTerms is a static struct: abi.encode lays out its six words as they are in calldata.
        return keccak256(abi.encode(terms));
    }

    /// @dev The id of the open channel with these terms and its state; reverts if there is none.
    function _open(ChannelTerms calldata terms) private view returns (bytes32 id, Channel memory c) {
        id = _id(terms);
        c = _channels[id];
        if (c.deposit == 0) revert ChannelTermsMismatch(id);
    }

    /// @dev True iff the voucher verifies AND the device is trusted now. A voucher that does not verify while
    /// the device is trusted is the caller's mistake: it reverts, so a seller never closes for less by error.
    function _voucherCounts(
        DeviceId device,
        bytes32 id,
        uint256 cumulativeAmount,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) private view returns (bool) {
        bytes32 digest = _hashTypedDataV4(DeviceMessageLib.hashVoucher(id, cumulativeAmount));
        (bool valid, bool trusted) = _REGISTRY.checkTrustedSignature(device, digest, key, signature, _MAX_AGE);
        if (valid && trusted) return true;
        // `valid` is false for an inactive device too: only a trusted device's failure is the voucher's fault.
        if (IDeviceAttestation(address(_REGISTRY)).isTrusted(device, _MAX_AGE)) revert ChannelInvalidVoucher(device);
        return false;
    }

    /// @dev Takes `amount` from the buyer (msg.sender): msg.value for a native channel, else the ERC-20, whose
    /// arrival in full is checked (a fee-on-transfer token would leave channels underfunded).
    function _pull(IERC20 token, uint256 amount) private {
        if (address(token) == address(0)) {
            if (msg.value != amount) revert ChannelWrongValue(msg.value, amount);
            return;
        }
        if (msg.value != 0) revert ChannelWrongValue(msg.value, 0);
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != amount) revert ChannelFeeOnTransfer(address(token), amount, received);
    }

    /// @dev Pays `amount` to `to`, or, if the transfer fails, owes it (withdrawOwed): a receiver that reverts
    /// (or a token that blacklists it) cannot block the other party's payout.
    function _pay(IERC20 token, address to, uint256 amount) private {
        if (amount == 0) return;
        bool ok;
        if (address(token) == address(0)) {
            // Bounded gas and no return data copied: a receiver can neither burn the closer's gas nor make it
            // pay for a huge returned buffer.
            uint256 gasLimit = NATIVE_PAYOUT_GAS;
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                ok := call(gasLimit, to, amount, 0, 0, 0, 0)
            }
        } else {
            ok = token.trySafeTransfer(to, amount);
        }
        if (!ok) {
            _owed[to][token] += amount;
            emit PaymentDeferred(to, address(token), amount);
        }
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }

    function _max(uint256 a, uint256 b) private pure returns (uint256) {
        return a > b ? a : b;
    }
}
