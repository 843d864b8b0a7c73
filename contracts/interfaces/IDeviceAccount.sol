// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceId} from "../types/DeviceId.sol";

/// @title IDeviceAccount
/// @notice A machine's ERC-4337 account: its devices (and its operator) are weighted signers; a low
/// threshold pays inside a spending policy, a high threshold does everything else, and every change of
/// signers, thresholds or policy waits out a delay the operator can cancel in. A device signs only while
/// the registry trusts it (current key, fresh attestation of good firmware, no incident ever); when the
/// trusted weight falls below the low threshold the account cannot pay, and a sudden burst of spending
/// locks it until the operator or the high threshold unlocks it.
interface IDeviceAccount {
    /// @notice Account-wide settings, one storage slot.
    /// @param operator Cancels pending changes and unlocks the velocity breaker by a direct call.
    /// @param highThreshold Signer weight for anything outside the policy and for every change.
    /// @param maxAttestationAge A device signs only with evidence at most this old (seconds).
    /// @param changeDelay Seconds between proposing a change and applying it (at most 194 days).
    /// @param velocityShareBps The velocity breaker's share of a token's period cap, in basis points (0: off).
    struct Config {
        address operator;
        uint16 highThreshold;
        uint32 maxAttestationAge;
        uint24 changeDelay;
        uint16 velocityShareBps;
    }

    /// @notice One token's limits (token address(0) is the native coin), one storage slot.
    /// @param periodCap Most the low threshold may spend per period (fixed windows of `period` seconds).
    /// @param perCallCap Most one call may move.
    /// @param period Window length in seconds; 0 removes the token from the policy.
    /// @param velocityWindow Seconds over which the breaker's bucket drains (0: breaker off for the token).
    struct TokenLimits {
        uint96 periodCap;
        uint96 perCallCap;
        uint32 period;
        uint32 velocityWindow;
    }

    /// @notice An allowed counterparty's own limits for one token (same period as the token's).
    struct CounterpartyLimits {
        uint96 periodCap;
        uint96 perCallCap;
        bool allowed;
    }

    /// @notice Spending so far, per token or per (token, counterparty): one slot each.
    /// @param spent Spent in window `window` (window = timestamp / period).
    /// @param bucket The velocity bucket's level at `bucketAt` (token state only).
    struct Spending {
        uint96 spent;
        uint32 window;
        uint96 bucket;
        uint32 bucketAt;
    }

    /// @notice Everything a new account starts with (no delay: it is the account's creation).
    struct Setup {
        bytes[] signers;
        uint64[] weights;
        uint64 lowThreshold;
        Config config;
        TokenSetup[] tokens;
        CounterpartySetup[] counterparties;
    }

    struct TokenSetup {
        address token;
        TokenLimits limits;
    }

    struct CounterpartySetup {
        address token;
        address counterparty;
        CounterpartyLimits limits;
    }

    /// @notice Why an operation signed with enough raw weight did not run (it cost its gas, moved nothing).
    enum Refusal {
        None,
        /// The trusted weight of its signers is below the low threshold (the account is frozen for them).
        Untrusted,
        /// The velocity breaker is locked (or this operation tripped it).
        Locked
    }

    // ---------------------------------------------------------------- errors

    /// @notice A batch tripped the velocity breaker on `token` (the bucket would hold `level` over
    /// `capacity`): raised inside the account's own spendBatch call, never out of the account.
    error PolicyTripped(address token, uint256 level, uint256 capacity);
    /// @notice Only the account itself may call this (through a UserOperation or an applied change).
    error AccountOnlySelf(address caller);
    /// @notice Only the operator or the account itself may call this.
    error AccountOnlyOperator(address caller);
    /// @notice The call needs the high threshold: its trusted signers weigh `weight`.
    error AccountNeedsHighThreshold(uint256 weight, uint256 highThreshold);
    /// @notice The token is not in the spending policy.
    error AccountTokenNotInPolicy(address token);
    /// @notice A call to a policy token with a function the policy does not read (transfer and approve only).
    error AccountTokenCallNotAllowed(address token, bytes4 selector);
    /// @notice `counterparty` is not on the token's allow-list (token 0: calls and native payments).
    error AccountCounterpartyNotAllowed(address token, address counterparty);
    /// @notice The call moves `amount`, above the token's per-call cap.
    error AccountPerCallCapExceeded(address token, uint256 amount, uint256 cap);
    /// @notice The call moves `amount` to `counterparty`, above its per-call cap.
    error AccountCounterpartyPerCallCapExceeded(address token, address counterparty, uint256 amount, uint256 cap);
    /// @notice `spent` this period plus `amount` is above the token's period cap.
    error AccountPeriodCapExceeded(address token, uint256 spent, uint256 amount, uint256 cap);
    /// @notice `spent` to `counterparty` this period plus `amount` is above its period cap.
    error AccountCounterpartyPeriodCapExceeded(
        address token,
        address counterparty,
        uint256 spent,
        uint256 amount,
        uint256 cap
    );
    /// @notice A call to the account itself that a UserOperation may not make (setters go through changes).
    error AccountSelfCallNotAllowed(bytes4 selector);
    /// @notice No such pending change.
    error AccountUnknownChange(bytes32 id);
    /// @notice The change may be applied from `eta` on.
    error AccountChangeNotReady(bytes32 id, uint256 eta, uint256 timestamp);
    /// @notice The high threshold is not above the low threshold, or above the total weight.
    error AccountInvalidThresholds(uint256 low, uint256 high, uint256 totalWeight);
    /// @notice A limit is out of range (a zero period with caps, a share above 100%, ...).
    error AccountInvalidLimits(address token);
    /// @notice The setting is out of range.
    error AccountInvalidConfig();
    /// @notice A device signer must be the account's verifier followed by a 32-byte device id.
    error AccountInvalidDeviceSigner(bytes signer);
    /// @notice The device is not trusted now with this key (syncDevice copies the registry's state).
    error AccountDeviceNotTrusted(DeviceId deviceId);

    // ---------------------------------------------------------------- events

    /// @notice The account was set up (once, by its factory).
    event AccountInitialized(address indexed operator, uint64 lowThreshold, uint64 highThreshold);
    /// @notice The account-wide settings changed.
    event ConfigSet(Config config);
    /// @notice A token's limits changed (period 0: the token left the policy).
    event TokenLimitsSet(address indexed token, TokenLimits limits);
    /// @notice A counterparty's limits for a token changed (allowed false: it left the allow-list).
    event CounterpartyLimitsSet(address indexed token, address indexed counterparty, CounterpartyLimits limits);
    /// @notice A change (a setter call, `data`) was proposed; it may be applied from `eta` on.
    event ChangeProposed(bytes32 indexed id, bytes data, uint256 eta);
    /// @notice A proposed change ran.
    event ChangeApplied(bytes32 indexed id);
    /// @notice A proposed change was dropped by `by` (the operator or the account).
    event ChangeCancelled(bytes32 indexed id, address indexed by);
    /// @notice The operation did not run (see Refusal); the nonce and gas are spent, nothing else.
    event UserOperationRefused(bytes32 indexed userOpHash, Refusal reason, uint256 trustedWeight);
    /// @notice A device signed but is not trusted with that key now: its signatures validate again only
    /// from `until` (or once syncDevice finds it trusted).
    event DeviceSignerDistrusted(DeviceId indexed deviceId, bytes32 keyHash, uint256 until);
    /// @notice The account's copy of the device's key hash follows the registry again.
    event DeviceSignerSynced(DeviceId indexed deviceId, bytes32 keyHash);
    /// @notice The low threshold spent `amount` of `token` to `counterparty` (`spentThisPeriod` after it).
    event Spent(address indexed token, address indexed counterparty, uint256 amount, uint256 spentThisPeriod);
    /// @notice The velocity breaker tripped on `token`: the bucket would hold `level` over `capacity`.
    event VelocityBreakerTripped(address indexed token, uint256 level, uint256 capacity);
    /// @notice The velocity breaker was released by `by`.
    event Unlocked(address indexed by);

    // ---------------------------------------------------------------- functions

    /// @notice Schedules `data` (a call to one of the account's setters) for changeDelay from now. Self only
    /// (a UserOperation with the high threshold).
    function proposeChange(bytes calldata data) external returns (bytes32 id);

    /// @notice Runs a proposed change whose delay is over. Anyone may call it.
    function applyChange(bytes calldata data) external;

    /// @notice Drops a pending change. The operator, or the account itself (high threshold).
    function cancelChange(bytes32 id) external;

    /// @notice Releases the velocity breaker. The operator, or the account itself (high threshold).
    function unlock() external;

    /// @notice Copies the registry's current key hash of a device signer, if the device is trusted now:
    /// after a key rotation, or to count a distrusted device again once it is trusted. Anyone may call it.
    function syncDevice(DeviceId deviceId) external;

    // ---------------------------------------------------------------- views

    /// @notice The account-wide settings.
    function config() external view returns (Config memory);
    /// @notice The signer weight for anything outside the policy and for every change.
    function highThreshold() external view returns (uint64);
    /// @notice A device signs only with evidence at most this old (seconds); DeviceSignerVerifier reads it.
    function maxAttestationAge() external view returns (uint256);
    /// @notice Whether the velocity breaker is locked.
    function locked() external view returns (bool);
    /// @notice A token's limits (token address(0): the native coin).
    function tokenLimits(address token) external view returns (TokenLimits memory);
    /// @notice A counterparty's limits for a token.
    function counterpartyLimits(address token, address counterparty) external view returns (CounterpartyLimits memory);
    /// @notice Spent by the low threshold in the current window (0 after the window turned).
    function spentThisPeriod(address token) external view returns (uint256);
    /// @notice Spent by the low threshold to `counterparty` in the current window.
    function spentThisPeriod(address token, address counterparty) external view returns (uint256);
    /// @notice When the pending change `id` (keccak256 of its data) may be applied (0 if none).
    function pendingChange(bytes32 id) external view returns (uint256 eta);
}

/// @title IDeviceAccountChanges
/// @notice The changes a DeviceAccount applies after its delay: a change's data is an ABI call to one of
/// these (the account does not expose them as functions: proposeChange records the data, applyChange runs
/// it). Encode with this interface, e.g. `abi.encodeCall(IDeviceAccountChanges.setThresholds, (1, 2))`.
interface IDeviceAccountChanges {
    /// @notice Adds signers (a device signer must be `verifier ‖ deviceId`).
    function addSigners(bytes[] calldata signers) external;
    /// @notice Removes signers; both thresholds must stay reachable.
    function removeSigners(bytes[] calldata signers) external;
    /// @notice Sets signers' weights; both thresholds must stay reachable.
    function setSignerWeights(bytes[] calldata signers, uint64[] calldata weights) external;
    /// @notice Sets the low and high thresholds (0 < low < high <= total weight).
    function setThresholds(uint64 low, uint64 high) external;
    /// @notice Sets the account-wide settings.
    function setConfig(IDeviceAccount.Config calldata config) external;
    /// @notice Sets a token's limits (period 0 and zero caps: the token leaves the policy).
    function setTokenLimits(address token, IDeviceAccount.TokenLimits calldata limits) external;
    /// @notice Sets a counterparty's limits for a token (allowed false and zero caps: it leaves the list).
    function setCounterpartyLimits(
        address token,
        address counterparty,
        IDeviceAccount.CounterpartyLimits calldata limits
    ) external;
}
