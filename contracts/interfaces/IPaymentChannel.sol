// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {DeviceId} from "../types/DeviceId.sol";
import {IDeviceRegistry} from "./IDeviceRegistry.sol";

/// @title IPaymentChannel
/// @notice Machine-to-machine payment channels. A buyer (usually an ERC-4337 device account, but any
/// address) opens a channel to a seller with a deposit, in an ERC-20 token or the native currency; the
/// buyer's DEVICE (a DeviceTrust device registered in the DeviceRegistry) signs EIP-712 vouchers
/// `Voucher{channel, cumulativeAmount}` off chain, one per unit of energy or data delivered, each for the
/// running total; the seller closes once on chain with the latest voucher. Paying per unit costs no gas.
///
/// Who is paid what (the rule):
/// - A voucher counts only if, when it is presented, the buyer device is trusted: Active, the voucher signed
///   by its CURRENT key, and `isTrusted(device, maxAge)`. Nothing proves when a voucher was signed: a cloned
///   or leaked key can sign and backdate anything, so a voucher presented after the device stopped being
///   trusted is worth nothing.
/// - To keep what it has earned while the device is trusted, the seller may `checkpoint` a voucher at any
///   time before expiry: the channel records the highest amount checkpointed (capped at the deposit). The
///   checkpoint's block proves the device was trusted when it was recorded.
/// - `close` (the seller, before expiry) pays the seller the larger of the checkpointed amount and, if the
///   voucher counts, min(voucher, deposit); the rest returns to the buyer. If the device is no longer
///   trusted the seller gets the checkpointed amount. A voucher that does not verify while the device IS
///   trusted is a mistake and reverts (ChannelInvalidVoucher).
/// - After expiry the buyer (or the seller) calls `reclaim`: the seller gets the checkpointed amount, the
///   buyer the rest. A seller that wants more than its checkpoint must close before expiry.
/// So a buyer never pays more than its deposit, and an honest seller never gets less than the latest voucher
/// it checkpointed or closed with while the device was trusted.
///
/// @dev Storage: ONE slot per channel (deposit, checkpointed amount, expiry). The channel id is the hash of
/// its immutable terms (ChannelTerms), so the terms travel in calldata on every call and in the
/// ChannelOpened event, and a call with other terms names another (unknown) channel. The terms carry the
/// buyer's channel nonce, which must be the buyer's next one at open: a channel id is never reused (an old
/// voucher never pays on a new channel), yet the buyer knows it before its open lands, and a closed channel's
/// slot is deleted. Vouchers are signed under this contract's EIP-712 domain {name "DeviceTrust", version "1",
/// chainId, verifyingContract: this contract}, so a voucher is bound to one channel, contract and chain.
/// The voucher's channel id plays the part of a nonce, the channel's expiry that of a deadline.
interface IPaymentChannel {
    /// @notice What a channel is, for life: its id is `keccak256(abi.encode(terms))`.
    /// @param buyer Opens the channel and pays the deposit; receives what the seller is not paid.
    /// @param seller Closes with the buyer device's vouchers and is paid.
    /// @param buyerDevice The DeviceTrust device whose current key signs the vouchers.
    /// @param token The ERC-20 of the deposit, or IERC20(address(0)) for the native currency.
    /// @param pricePerUnit What one unit (a kWh, a message) costs, for both sides' bookkeeping: the contract
    /// pays vouchers in token amounts and does not interpret it.
    /// @param nonce The buyer's channel count before this one (`nonceOf(buyer)` at open): makes the id unique.
    struct ChannelTerms {
        address buyer;
        address seller;
        DeviceId buyerDevice;
        IERC20 token;
        uint256 pricePerUnit;
        uint256 nonce;
    }

    /// @notice A channel's mutable state: one storage slot.
    /// @param deposit What the buyer deposited (top-ups included); 0 for a channel not open.
    /// @param checkpointed The highest voucher amount the seller checkpointed, capped at the deposit.
    /// @param expiry Close and checkpoint before it; reclaim from it on.
    struct Channel {
        uint104 deposit;
        uint104 checkpointed;
        uint48 expiry;
    }

    // ---------------------------------------------------------------- errors

    /// @notice The registry address or the seller is the zero address.
    error ChannelZeroAddress();
    /// @notice maxAge must be above 0 (a device attested this very second is rarely what one means).
    error ChannelZeroMaxAge();
    /// @notice Only the terms' buyer may open or top up the channel.
    error ChannelNotBuyer(address caller);
    /// @notice Only the terms' seller may checkpoint or close the channel.
    error ChannelNotSeller(address caller);
    /// @notice Only the terms' buyer or seller may reclaim the channel.
    error ChannelNotParty(address caller);
    /// @notice A deposit (and a top-up that leaves the expiry as it is) must be above 0.
    error ChannelZeroDeposit();
    /// @notice A channel's deposit (top-ups included) must not exceed `max` (2^104 - 1 base units).
    error ChannelDepositTooLarge(uint256 deposit, uint256 max);
    /// @notice The channel expired at `expiry` (or an expiry given is not in the future): it is `timestamp`.
    error ChannelExpired(uint256 expiry, uint256 timestamp);
    /// @notice The channel expires at `expiry`; reclaim only from then on. It is `timestamp`.
    error ChannelNotExpired(uint256 expiry, uint256 timestamp);
    /// @notice An expiry must fit in 48 bits of seconds (`max`).
    error ChannelExpiryTooFar(uint256 expiry, uint256 max);
    /// @notice A top-up must add deposit or move the expiry later (`expiry` must not be before `current`).
    error ChannelExpiryNotLater(uint256 expiry, uint256 current);
    /// @notice The terms' nonce must be the buyer's next channel nonce, `expected` (nonceOf(buyer)).
    error ChannelWrongNonce(address buyer, uint256 expected, uint256 provided);
    /// @notice No open channel has these terms: it was closed or reclaimed already, or the terms differ from
    /// its ChannelOpened event's (compare them field by field).
    error ChannelTermsMismatch(bytes32 channelId);
    /// @notice The native value sent must equal the deposit (and be 0 for an ERC-20 channel).
    error ChannelWrongValue(uint256 sent, uint256 expected);
    /// @notice The token delivered less than it was asked to move (a fee-on-transfer token): not supported.
    error ChannelFeeOnTransfer(address token, uint256 expected, uint256 received);
    /// @notice The voucher is not a valid signature of the buyer device's current key over this channel's
    /// voucher digest, while the device is trusted: check the channel id, the amount, the key, the chain.
    error ChannelInvalidVoucher(DeviceId deviceId);
    /// @notice A checkpoint must raise the checkpointed amount (`amount` is the voucher's, capped at the
    /// deposit).
    error ChannelVoucherNotNewer(uint256 amount, uint256 checkpointed);
    /// @notice Nothing is owed to `account` in `token`.
    error ChannelNothingOwed(address account, address token);

    // ---------------------------------------------------------------- events

    /// @notice A channel was opened; `terms` are what every later call must repeat.
    event ChannelOpened(
        bytes32 indexed channelId,
        address indexed buyer,
        address indexed seller,
        ChannelTerms terms,
        uint256 deposit,
        uint256 expiry
    );
    /// @notice The buyer added deposit or moved the expiry: the channel's deposit and expiry are now these.
    event ChannelToppedUp(bytes32 indexed channelId, uint256 deposit, uint256 expiry);
    /// @notice The seller recorded a voucher while the device was trusted: it is owed at least `amount`.
    event ChannelCheckpointed(bytes32 indexed channelId, uint256 amount);
    /// @notice The seller closed the channel. `voucherCounted` is false when the device was no longer trusted
    /// and the seller was paid its checkpointed amount.
    event ChannelSettled(bytes32 indexed channelId, uint256 paidToSeller, uint256 refundedToBuyer, bool voucherCounted);
    /// @notice The channel expired and was reclaimed: the seller got its checkpointed amount.
    event ChannelReclaimed(bytes32 indexed channelId, uint256 paidToSeller, uint256 refundedToBuyer);
    /// @notice A payout to `account` failed (a receiver that reverts, a token that refuses it): it is owed and
    /// can be withdrawn with `withdrawOwed`. The channel settled anyway, so no party can block the other.
    event PaymentDeferred(address indexed account, address indexed token, uint256 amount);
    /// @notice `account` withdrew what it was owed.
    event OwedWithdrawn(address indexed account, address indexed token, uint256 amount);

    // ---------------------------------------------------------------- channels

    /// @notice Opens a channel on `terms` (msg.sender must be `terms.buyer`) with `deposit` until `expiry`.
    /// The deposit is pulled from the buyer (approve this contract first) or sent as msg.value for a native
    /// channel. The buyer device must be trusted now.
    function open(
        ChannelTerms calldata terms,
        uint256 deposit,
        uint256 expiry
    ) external payable returns (bytes32 channelId);

    /// @notice The buyer adds `amount` to the deposit and moves the expiry to `expiry` (not earlier than the
    /// current one), before expiry.
    function topUp(ChannelTerms calldata terms, uint256 amount, uint256 expiry) external payable;

    /// @notice The seller records a voucher of the (trusted) buyer device, before expiry: the amount it is
    /// owed whatever becomes of the device. Reverts unless it raises the checkpointed amount.
    function checkpoint(
        ChannelTerms calldata terms,
        uint256 cumulativeAmount,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) external;

    /// @notice The seller closes the channel before expiry with the latest voucher (see the rule above):
    /// the seller is paid max(checkpointed, min(cumulativeAmount, deposit)) if the voucher counts, else the
    /// checkpointed amount; the buyer gets the rest.
    function close(
        ChannelTerms calldata terms,
        uint256 cumulativeAmount,
        IDeviceRegistry.DeviceKey calldata key,
        bytes calldata signature
    ) external;

    /// @notice From expiry on, the buyer (or the seller) ends the channel: the seller is paid the checkpointed
    /// amount, the buyer the rest.
    function reclaim(ChannelTerms calldata terms) external;

    /// @notice Withdraws what a deferred payout left owed to msg.sender in `token` (address(0): native).
    function withdrawOwed(IERC20 token) external;

    // ---------------------------------------------------------------- views

    /// @notice The id of the channel with these terms: keccak256(abi.encode(terms)).
    function channelId(ChannelTerms calldata terms) external pure returns (bytes32);

    /// @notice An open channel's state (all zero for a channel not open: closed, reclaimed or never opened).
    function channel(bytes32 channelId) external view returns (Channel memory);

    /// @notice The nonce `buyer`'s next channel must carry in its terms.
    function nonceOf(address buyer) external view returns (uint256);

    /// @notice The EIP-712 digest the buyer device signs for `cumulativeAmount` on `channelId`.
    function voucherDigest(bytes32 channelId, uint256 cumulativeAmount) external view returns (bytes32);

    /// @notice What a deferred payout left owed to `account` in `token`.
    function owed(address account, IERC20 token) external view returns (uint256);

    /// @notice The registry (and attestation core) that says whether a buyer device is trusted.
    function registry() external view returns (IDeviceRegistry);

    /// @notice How recent (seconds) a buyer device's attestation must be for the device to be trusted here.
    function maxAge() external view returns (uint256);

    /// @notice The EIP-712 domain separator vouchers are signed under.
    // solhint-disable-next-line func-name-mixedcase, use-natspec
    function DOMAIN_SEPARATOR() external view returns (bytes32);
}
