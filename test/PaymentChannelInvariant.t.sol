// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {CommonBase} from "forge-std/Base.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {StdInvariant} from "forge-std/StdInvariant.sol";
import {PaymentChannel} from "../contracts/accounts/PaymentChannel.sol";
import {DeviceRegistry} from "../contracts/identity/DeviceRegistry.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {IPaymentChannel} from "../contracts/interfaces/IPaymentChannel.sol";
import {DeviceMessageLib} from "../contracts/libraries/DeviceMessageLib.sol";
import {ReentrantToken} from "../contracts/mocks/ReentrantToken.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {DeviceStatus} from "../contracts/types/DeviceStatus.sol";
import {Attestation} from "../contracts/types/Messages.sol";
import {PaymentChannelFixture} from "./utils/PaymentChannelFixture.sol";
import {KeyHelpers, TestKey} from "./utils/RegistryFixture.sol";

/// @notice Plays buyer, seller and attacker against one PaymentChannel: opens channels in a plain token and
/// in a token that reenters on payout, checkpoints and closes with fresh and old vouchers, lets the device
/// fall out of trust (suspension, stale attestation) and come back, and attacks: the buyer reclaiming early,
/// a stranger closing, a voucher replayed on another channel and on a twin contract. Keeps ghost sums.
/// @dev Bounded and never reverting: attacks run in try/catch, and one that succeeds counts in ghostUnexpected.
contract PaymentChannelHandler is CommonBase, StdUtils, KeyHelpers {
    uint256 internal constant MAX_CHANNELS = 12;

    PaymentChannel public immutable CHANNELS;
    PaymentChannel public immutable TWIN;
    DeviceRegistry private immutable REGISTRY;
    address public immutable BUYER;
    address public immutable SELLER;
    address private immutable OPERATOR;
    address private immutable GOVERNOR;
    bytes32 private immutable MEASUREMENT;
    IERC20[2] public tokens;

    TestKey[2] private _keys;
    DeviceId[2] private _ids;
    uint64 private _bootCount = 10;

    IPaymentChannel.ChannelTerms[] private _terms;
    uint256[] public ghostDeposit;
    /// @dev The highest voucher the seller presented (checkpoint or counted close) while the device was trusted.
    uint256[] public ghostPresented;
    uint256[] public ghostPaid;
    uint256[] public ghostRefunded;
    bool[] public ghostSettled;
    /// @dev Attacks that succeeded, or honest calls that failed where they should not: must stay 0.
    uint256 public ghostUnexpected;
    uint256 public ghostCloses;
    uint256 public ghostAttacks;

    constructor(
        PaymentChannel channels,
        DeviceRegistry registry,
        IERC20[2] memory tokens_,
        TestKey[2] memory keys,
        address[4] memory actors,
        bytes32 measurement
    ) {
        CHANNELS = channels;
        TWIN = new PaymentChannel(IDeviceRegistry(address(registry)), channels.maxAge());
        REGISTRY = registry;
        tokens = tokens_;
        (BUYER, SELLER, OPERATOR, GOVERNOR) = (actors[0], actors[1], actors[2], actors[3]);
        MEASUREMENT = measurement;
        for (uint256 i; i < 2; ++i) {
            _keys[i] = keys[i];
            _ids[i] = DeviceId.wrap(keys[i].keyHash);
        }
    }

    function channelCount() external view returns (uint256) {
        return _terms.length;
    }

    function termsOf(uint256 i) external view returns (IPaymentChannel.ChannelTerms memory) {
        return _terms[i];
    }

    // ------------------------------------------------------------------ honest actions

    function open(uint256 deviceSeed, uint256 tokenSeed, uint256 deposit) external {
        if (_terms.length >= MAX_CHANNELS) return;
        uint256 d = deviceSeed % 2;
        deposit = bound(deposit, 1, 1e24);
        IPaymentChannel.ChannelTerms memory t = IPaymentChannel.ChannelTerms({
            buyer: BUYER,
            seller: SELLER,
            buyerDevice: _ids[d],
            token: tokens[tokenSeed % 2],
            pricePerUnit: 1,
            nonce: CHANNELS.nonceOf(BUYER)
        });
        bool trusted = REGISTRY.isTrusted(_ids[d], CHANNELS.maxAge());
        vm.prank(BUYER);
        try CHANNELS.open(t, deposit, block.timestamp + 1 days) {
            if (!trusted) ++ghostUnexpected;
            _terms.push(t);
            ghostDeposit.push(deposit);
            ghostPresented.push(0);
            ghostPaid.push(0);
            ghostRefunded.push(0);
            ghostSettled.push(false);
        } catch {
            if (trusted) ++ghostUnexpected;
        }
    }

    function checkpoint(uint256 seed, uint256 amount) external {
        (bool ok, uint256 i) = _live(seed);
        if (!ok) return;
        amount = bound(amount, 1, 2 * ghostDeposit[i]);
        (bytes memory sig, IDeviceRegistry.DeviceKey memory key) = _voucher(CHANNELS, i, _idOf(i), amount);
        vm.prank(SELLER);
        try CHANNELS.checkpoint(_terms[i], amount, key, sig) {
            uint256 capped = amount < ghostDeposit[i] ? amount : ghostDeposit[i];
            if (capped > ghostPresented[i]) ghostPresented[i] = capped;
        } catch {} // solhint-disable-line no-empty-blocks
    }

    /// @notice The seller closes with a voucher: fresh (any amount) or an old one (below what it presented).
    function close(uint256 seed, uint256 amount, bool old, bool reenter) external {
        (bool ok, uint256 i) = _live(seed);
        if (!ok) return;
        IPaymentChannel.Channel memory c = CHANNELS.channel(CHANNELS.channelId(_terms[i]));
        if (block.timestamp >= c.expiry) return; // the buyer reclaims instead
        amount = old ? bound(amount, 0, ghostPresented[i]) : bound(amount, 0, 2 * ghostDeposit[i]);
        (bytes memory sig, IDeviceRegistry.DeviceKey memory key) = _voucher(CHANNELS, i, _idOf(i), amount);
        bool counted = REGISTRY.isTrusted(_idOf(i), CHANNELS.maxAge());
        ReentrantToken evil = ReentrantToken(address(tokens[1]));
        if (reenter && address(_terms[i].token) == address(evil)) {
            evil.arm(address(CHANNELS), abi.encodeCall(IPaymentChannel.reclaim, (_terms[i])));
        }
        (uint256 sellerBefore, uint256 buyerBefore) = (_worth(i, SELLER), _worth(i, BUYER));
        vm.prank(SELLER);
        try CHANNELS.close(_terms[i], amount, key, sig) {
            _settled(i, _worth(i, SELLER) - sellerBefore, _worth(i, BUYER) - buyerBefore);
            if (counted) {
                uint256 capped = amount < ghostDeposit[i] ? amount : ghostDeposit[i];
                if (capped > ghostPresented[i]) ghostPresented[i] = capped;
            }
            ++ghostCloses;
        } catch {
            ++ghostUnexpected;
        }
        evil.arm(address(0), "");
    }

    function reclaim(uint256 seed) external {
        (bool ok, uint256 i) = _live(seed);
        if (!ok) return;
        IPaymentChannel.Channel memory c = CHANNELS.channel(CHANNELS.channelId(_terms[i]));
        if (block.timestamp < c.expiry) vm.warp(c.expiry);
        (uint256 sellerBefore, uint256 buyerBefore) = (_worth(i, SELLER), _worth(i, BUYER));
        vm.prank(BUYER);
        try CHANNELS.reclaim(_terms[i]) {
            _settled(i, _worth(i, SELLER) - sellerBefore, _worth(i, BUYER) - buyerBefore);
        } catch {
            ++ghostUnexpected;
        }
    }

    function withdrawOwed(bool asSeller, bool reentrantToken) external {
        address who = asSeller ? SELLER : BUYER;
        IERC20 token = tokens[reentrantToken ? 1 : 0];
        if (CHANNELS.owed(who, token) == 0) return;
        uint256 before = token.balanceOf(who);
        vm.prank(who);
        try CHANNELS.withdrawOwed(token) {
            if (token.balanceOf(who) <= before) ++ghostUnexpected;
        } catch {
            ++ghostUnexpected;
        }
    }

    // ------------------------------------------------------------------ the device's trust

    function suspendOrReinstate(uint256 deviceSeed) external {
        DeviceId id = _ids[deviceSeed % 2];
        if (REGISTRY.statusOf(id) == DeviceStatus.Active) {
            vm.prank(OPERATOR);
            REGISTRY.suspend(id, "handler");
        } else {
            vm.prank(GOVERNOR);
            REGISTRY.reinstate(id);
        }
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 3 hours));
    }

    function reattest(uint256 deviceSeed) external {
        uint256 d = deviceSeed % 2;
        if (REGISTRY.statusOf(_ids[d]) != DeviceStatus.Active) return;
        vm.roll(block.number + 1);
        vm.warp(block.timestamp + 1);
        Attestation memory e = Attestation({
            deviceId: _ids[d],
            measurement: MEASUREMENT,
            challenge: blockhash(block.number - 1),
            timestamp: uint64(block.timestamp),
            bootCount: ++_bootCount
        });
        bytes32 digest = _typedDigest(REGISTRY.DOMAIN_SEPARATOR(), DeviceMessageLib.hashAttestation(e));
        REGISTRY.attest(e, block.number - 1, _deviceKey(_keys[d]), _sign(_keys[d], digest));
    }

    // ------------------------------------------------------------------ attacks

    function attackReclaimEarly(uint256 seed) external {
        (bool ok, uint256 i) = _live(seed);
        if (!ok) return;
        IPaymentChannel.Channel memory c = CHANNELS.channel(CHANNELS.channelId(_terms[i]));
        if (block.timestamp >= c.expiry) return;
        ++ghostAttacks;
        vm.prank(BUYER);
        try CHANNELS.reclaim(_terms[i]) {
            ++ghostUnexpected;
        } catch {} // solhint-disable-line no-empty-blocks
    }

    function attackStrangerCloses(uint256 seed, uint256 amount) external {
        (bool ok, uint256 i) = _live(seed);
        if (!ok) return;
        (bytes memory sig, IDeviceRegistry.DeviceKey memory key) = _voucher(CHANNELS, i, _idOf(i), amount);
        ++ghostAttacks;
        vm.prank(address(0xBAD));
        try CHANNELS.close(_terms[i], amount, key, sig) {
            ++ghostUnexpected;
        } catch {} // solhint-disable-line no-empty-blocks
        vm.prank(BUYER);
        try CHANNELS.close(_terms[i], amount, key, sig) {
            ++ghostUnexpected;
        } catch {} // solhint-disable-line no-empty-blocks
    }

    /// @notice A voucher for channel `from` presented on channel `to`, and on a twin contract's domain.
    function attackReplay(uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        (bool ok, uint256 to) = _live(toSeed);
        if (!ok || _terms.length < 2) return;
        uint256 from = fromSeed % _terms.length;
        amount = bound(amount, ghostPresented[to] + 1, ghostPresented[to] + 1e24);
        ++ghostAttacks;
        if (from != to) {
            (bytes memory sig, IDeviceRegistry.DeviceKey memory key) = _voucher(CHANNELS, from, _idOf(to), amount);
            _expectFailsOrPaysNoMore(to, amount, key, sig);
        }
        (bytes memory twinSig, IDeviceRegistry.DeviceKey memory twinKey) = _voucher(TWIN, to, _idOf(to), amount);
        _expectFailsOrPaysNoMore(to, amount, twinKey, twinSig);
    }

    // ------------------------------------------------------------------ helpers

    /// @dev A replayed voucher must not count: the close reverts, or (device untrusted) pays the checkpoint.
    function _expectFailsOrPaysNoMore(
        uint256 i,
        uint256 amount,
        IDeviceRegistry.DeviceKey memory key,
        bytes memory sig
    ) private {
        (uint256 sellerBefore, uint256 buyerBefore) = (_worth(i, SELLER), _worth(i, BUYER));
        vm.prank(SELLER);
        try CHANNELS.close(_terms[i], amount, key, sig) {
            uint256 paid = _worth(i, SELLER) - sellerBefore;
            _settled(i, paid, _worth(i, BUYER) - buyerBefore);
            if (paid > ghostPresented[i]) ++ghostUnexpected;
        } catch {} // solhint-disable-line no-empty-blocks
    }

    function _settled(uint256 i, uint256 paid, uint256 refunded) private {
        ghostSettled[i] = true;
        ghostPaid[i] = paid;
        ghostRefunded[i] = refunded;
    }

    /// @dev An open channel picked by `seed`, if any.
    function _live(uint256 seed) private view returns (bool, uint256) {
        uint256 n = _terms.length;
        if (n == 0) return (false, 0);
        for (uint256 k; k < n; ++k) {
            uint256 i = ((seed % n) + k) % n;
            if (!ghostSettled[i]) return (true, i);
        }
        return (false, 0);
    }

    function _idOf(uint256 i) private view returns (DeviceId) {
        return _terms[i].buyerDevice;
    }

    /// @dev The buyer device `device` signs a voucher for channel `i` (its id) under `on`'s domain.
    function _voucher(
        PaymentChannel on,
        uint256 i,
        DeviceId device,
        uint256 amount
    ) private view returns (bytes memory, IDeviceRegistry.DeviceKey memory) {
        TestKey memory k = _keys[DeviceId.unwrap(device) == DeviceId.unwrap(_ids[0]) ? 0 : 1];
        bytes32 digest = _typedDigest(
            _domainSeparator(block.chainid, address(on)),
            DeviceMessageLib.hashVoucher(CHANNELS.channelId(_terms[i]), amount)
        );
        return (_sign(k, digest), _deviceKey(k));
    }

    /// @dev What `who` holds and is owed in channel `i`'s token.
    function _worth(uint256 i, address who) private view returns (uint256) {
        IERC20 token = _terms[i].token;
        return token.balanceOf(who) + CHANNELS.owed(who, token);
    }
}

/// @notice Invariants of PaymentChannel under the handler's honest and attacking calls.
contract PaymentChannelInvariantTest is StdInvariant, PaymentChannelFixture {
    PaymentChannelHandler internal handler;
    ReentrantToken internal evil;

    function setUp() public override {
        super.setUp();
        evil = new ReentrantToken();
        IERC20[2] memory tokens = [IERC20(address(token)), IERC20(address(evil))];
        handler = new PaymentChannelHandler(
            channels,
            registry,
            tokens,
            [p256, secp],
            [buyer, seller, operator, governor],
            MEASUREMENT_V1
        );
        token.mint(buyer, 1e30);
        evil.mint(buyer, 1e30);
        vm.prank(buyer);
        evil.approve(address(channels), type(uint256).max);

        bytes4[] memory selectors = new bytes4[](12);
        selectors[0] = PaymentChannelHandler.open.selector;
        selectors[1] = PaymentChannelHandler.checkpoint.selector;
        selectors[2] = PaymentChannelHandler.close.selector;
        selectors[3] = PaymentChannelHandler.reclaim.selector;
        selectors[4] = PaymentChannelHandler.withdrawOwed.selector;
        selectors[5] = PaymentChannelHandler.suspendOrReinstate.selector;
        selectors[6] = PaymentChannelHandler.warp.selector;
        selectors[7] = PaymentChannelHandler.reattest.selector;
        selectors[8] = PaymentChannelHandler.attackReclaimEarly.selector;
        selectors[9] = PaymentChannelHandler.attackStrangerCloses.selector;
        selectors[10] = PaymentChannelHandler.attackReplay.selector;
        selectors[11] = PaymentChannelHandler.open.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @notice The handler's honest path works (so the invariants are not vacuous): open, checkpoint, close
    /// with an old voucher while the device is suspended, in the reentrant token.
    function test_handler_SettlesAChannel() public {
        handler.open(0, 1, 100e18);
        handler.checkpoint(0, 40e18);
        assertEq(handler.ghostPresented(0), 40e18, "checkpointed");
        handler.suspendOrReinstate(0);
        handler.close(0, 10e18, true, true);
        assertEq(handler.ghostCloses(), 1);
        assertEq(handler.ghostRefunded(0), 60e18);
        assertEq(handler.ghostPaid(0), 40e18);
        assertEq(handler.ghostUnexpected(), 0);
        handler.withdrawOwed(true, true);
        assertEq(evil.balanceOf(seller), 40e18);
    }

    /// @notice A channel never pays out more than its deposit, and pays all of it (seller plus buyer).
    function invariant_paysExactlyTheDeposit() public view {
        for (uint256 i; i < handler.channelCount(); ++i) {
            if (!handler.ghostSettled(i)) continue;
            assertLe(handler.ghostPaid(i), handler.ghostDeposit(i), "seller paid more than the deposit");
            assertEq(handler.ghostPaid(i) + handler.ghostRefunded(i), handler.ghostDeposit(i), "deposit split");
        }
    }

    /// @notice The seller never gets less than the latest voucher it presented while the device was trusted.
    function invariant_sellerGetsAtLeastWhatItPresented() public view {
        for (uint256 i; i < handler.channelCount(); ++i) {
            if (!handler.ghostSettled(i)) continue;
            assertGe(handler.ghostPaid(i), handler.ghostPresented(i), "seller paid less than presented");
        }
    }

    /// @notice The contract holds exactly the deposits of open channels plus what deferred payouts owe.
    function invariant_balanceIsOpenDepositsPlusOwed() public view {
        for (uint256 k; k < 2; ++k) {
            IERC20 asset = handler.tokens(k);
            uint256 expected = channels.owed(buyer, asset) + channels.owed(seller, asset);
            for (uint256 i; i < handler.channelCount(); ++i) {
                IPaymentChannel.ChannelTerms memory t = handler.termsOf(i);
                if (address(t.token) != address(asset) || handler.ghostSettled(i)) continue;
                expected += handler.ghostDeposit(i);
                assertEq(channels.channel(channels.channelId(t)).deposit, handler.ghostDeposit(i), "deposit");
            }
            assertEq(asset.balanceOf(address(channels)), expected, "balance");
        }
    }

    /// @notice Every attack failed, and every honest call that should succeed did.
    function invariant_noUnexpectedOutcome() public view {
        assertEq(handler.ghostUnexpected(), 0);
    }
}
