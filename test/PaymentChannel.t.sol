// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {PaymentChannel} from "../contracts/accounts/PaymentChannel.sol";
import {IDeviceAttestation} from "../contracts/interfaces/IDeviceAttestation.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {IPaymentChannel} from "../contracts/interfaces/IPaymentChannel.sol";
import {TrustLib} from "../contracts/libraries/TrustLib.sol";
import {FeeOnTransferToken} from "../contracts/mocks/FeeOnTransferToken.sol";
import {ReentrantToken} from "../contracts/mocks/ReentrantToken.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {PaymentChannelFixture} from "./utils/PaymentChannelFixture.sol";
import {TestKey} from "./utils/RegistryFixture.sol";

/// @notice A receiver that refuses native payments (a buyer contract trying to block the seller's close).
contract RefusingReceiver {
    /// @notice Opens a native channel on `terms` as its buyer.
    function open(PaymentChannel c, IPaymentChannel.ChannelTerms calldata terms, uint256 expiry) external payable {
        c.open{value: msg.value}(terms, msg.value, expiry);
    }

    error Refused();

    receive() external payable {
        revert Refused();
    }
}

/// @notice Unit tests of PaymentChannel: every rule and every error, both curves, ERC-20 and native.
contract PaymentChannelTest is PaymentChannelFixture {
    // ================================================================ constructor and views

    function test_constructor_StoresConfig() public view {
        assertEq(address(channels.registry()), address(registry));
        assertEq(channels.maxAge(), MAX_AGE);
        assertEq(channels.DOMAIN_SEPARATOR(), _domainSeparator(block.chainid, address(channels)));
    }

    function test_constructor_RevertWhen_ZeroRegistry() public {
        vm.expectRevert(IPaymentChannel.ChannelZeroAddress.selector);
        new PaymentChannel(IDeviceRegistry(address(0)), MAX_AGE);
    }

    function test_constructor_RevertWhen_ZeroMaxAge() public {
        vm.expectRevert(IPaymentChannel.ChannelZeroMaxAge.selector);
        new PaymentChannel(IDeviceRegistry(address(registry)), 0);
    }

    function test_voucherDigest_IsTheEip712DigestUnderTheChannelContract() public view {
        assertEq(channels.voucherDigest(bytes32(uint256(5)), 7), _voucherDigest(channels, bytes32(uint256(5)), 7));
        assertEq(channels.channelId(_terms()), _id(_terms()));
    }

    // ================================================================ open

    function test_open_StoresOneSlotAndPullsTheDeposit() public {
        IPaymentChannel.ChannelTerms memory t = _terms();
        bytes32 id = _id(t);
        uint256 expiry = block.timestamp + TERM;
        vm.expectEmit(address(channels));
        emit IPaymentChannel.ChannelOpened(id, buyer, seller, t, DEPOSIT, expiry);
        vm.prank(buyer);
        uint256 before = gasleft();
        bytes32 got = channels.open(t, DEPOSIT, expiry);
        _logGas("gas open (ERC-20, inside the call):", before - gasleft());

        assertEq(got, id);
        IPaymentChannel.Channel memory c = channels.channel(id);
        assertEq(c.deposit, DEPOSIT);
        assertEq(channels.nonceOf(buyer), 1);
        assertEq(c.checkpointed, 0);
        assertEq(c.expiry, expiry);
        assertEq(token.balanceOf(address(channels)), DEPOSIT);
    }

    function test_open_Native() public {
        IPaymentChannel.ChannelTerms memory t = _terms(secpId, IERC20(address(0)));
        bytes32 id = _open(t, 3 ether);
        assertEq(address(channels).balance, 3 ether);
        assertEq(_state(id).deposit, 3 ether);
    }

    function test_open_RevertWhen_CallerIsNotTheBuyer() public {
        IPaymentChannel.ChannelTerms memory t = _terms();
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelNotBuyer.selector, stranger));
        vm.prank(stranger);
        channels.open(t, DEPOSIT, block.timestamp + TERM);
    }

    function test_open_RevertWhen_SellerIsZero() public {
        IPaymentChannel.ChannelTerms memory t = _terms();
        t.seller = address(0);
        vm.expectRevert(IPaymentChannel.ChannelZeroAddress.selector);
        vm.prank(buyer);
        channels.open(t, DEPOSIT, block.timestamp + TERM);
    }

    function test_open_RevertWhen_DepositIsZero() public {
        IPaymentChannel.ChannelTerms memory t = _terms();
        vm.expectRevert(IPaymentChannel.ChannelZeroDeposit.selector);
        vm.prank(buyer);
        channels.open(t, 0, block.timestamp + TERM);
    }

    function test_open_RevertWhen_DepositAbove104Bits() public {
        IPaymentChannel.ChannelTerms memory t = _terms();
        uint256 max = channels.MAX_DEPOSIT();
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelDepositTooLarge.selector, max + 1, max));
        vm.prank(buyer);
        channels.open(t, max + 1, block.timestamp + TERM);
    }

    function test_open_RevertWhen_ExpiryIsNow() public {
        IPaymentChannel.ChannelTerms memory t = _terms();
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannel.ChannelExpired.selector, block.timestamp, block.timestamp)
        );
        vm.prank(buyer);
        channels.open(t, DEPOSIT, block.timestamp);
    }

    function test_open_RevertWhen_ExpiryBeyond48Bits() public {
        IPaymentChannel.ChannelTerms memory t = _terms();
        uint256 far = uint256(type(uint48).max) + 1;
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannel.ChannelExpiryTooFar.selector, far, uint256(type(uint48).max))
        );
        vm.prank(buyer);
        channels.open(t, DEPOSIT, far);
    }

    function test_open_RevertWhen_DeviceIsNotTrusted() public {
        vm.warp(block.timestamp + MAX_AGE + 1);
        IPaymentChannel.ChannelTerms memory t = _terms();
        vm.expectRevert(
            abi.encodeWithSelector(TrustLib.TrustLibUntrusted.selector, p256Id, IDeviceAttestation.TrustVerdict.Stale)
        );
        vm.prank(buyer);
        channels.open(t, DEPOSIT, block.timestamp + TERM);
    }

    function test_open_RevertWhen_DeviceIsSuspended() public {
        _suspend(p256Id);
        IPaymentChannel.ChannelTerms memory t = _terms();
        vm.expectRevert(
            abi.encodeWithSelector(
                TrustLib.TrustLibUntrusted.selector,
                p256Id,
                IDeviceAttestation.TrustVerdict.NotActive
            )
        );
        vm.prank(buyer);
        channels.open(t, DEPOSIT, block.timestamp + TERM);
    }

    function test_open_RevertWhen_NonceIsAhead() public {
        IPaymentChannel.ChannelTerms memory t = _terms();
        t.nonce = 1;
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelWrongNonce.selector, buyer, 0, 1));
        vm.prank(buyer);
        channels.open(t, DEPOSIT, block.timestamp + TERM);
    }

    /// @notice Channel ids never repeat: the terms of an open or closed channel cannot open again (their
    /// nonce is used), so the device's vouchers for an old channel never pay on a new one.
    function test_open_RevertWhen_TermsWereUsed() public {
        (IPaymentChannel.ChannelTerms memory t, ) = _open();
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelWrongNonce.selector, buyer, 1, 0));
        vm.prank(buyer);
        channels.open(t, DEPOSIT, block.timestamp + TERM);
        _close(t, 10e18);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelWrongNonce.selector, buyer, 1, 0));
        vm.prank(buyer);
        channels.open(t, DEPOSIT, block.timestamp + TERM);
    }

    function test_open_RevertWhen_NativeValueDiffers() public {
        IPaymentChannel.ChannelTerms memory t = _terms(p256Id, IERC20(address(0)));
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelWrongValue.selector, 1 ether - 1, 1 ether));
        vm.prank(buyer);
        channels.open{value: 1 ether - 1}(t, 1 ether, block.timestamp + TERM);
    }

    function test_open_RevertWhen_ValueSentWithAToken() public {
        IPaymentChannel.ChannelTerms memory t = _terms();
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelWrongValue.selector, 1, 0));
        vm.prank(buyer);
        channels.open{value: 1}(t, DEPOSIT, block.timestamp + TERM);
    }

    function test_open_RevertWhen_TokenTakesAFee() public {
        FeeOnTransferToken fee = new FeeOnTransferToken(100);
        fee.mint(buyer, DEPOSIT);
        vm.prank(buyer);
        fee.approve(address(channels), DEPOSIT);
        IPaymentChannel.ChannelTerms memory t = _terms(p256Id, IERC20(address(fee)));
        vm.expectRevert(
            abi.encodeWithSelector(
                IPaymentChannel.ChannelFeeOnTransfer.selector,
                address(fee),
                DEPOSIT,
                DEPOSIT - 10e18
            )
        );
        vm.prank(buyer);
        channels.open(t, DEPOSIT, block.timestamp + TERM);
    }

    function test_open_RevertWhen_TokenReenters() public {
        ReentrantToken evil = new ReentrantToken();
        evil.mint(buyer, 2 * DEPOSIT);
        vm.prank(buyer);
        evil.approve(address(channels), type(uint256).max);
        IPaymentChannel.ChannelTerms memory t = _terms(p256Id, IERC20(address(evil)));
        IPaymentChannel.ChannelTerms memory other = _terms(p256Id, IERC20(address(evil)));
        ++other.nonce;
        evil.arm(address(channels), abi.encodeCall(IPaymentChannel.open, (other, DEPOSIT, block.timestamp + TERM)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(buyer);
        channels.open(t, DEPOSIT, block.timestamp + TERM);
    }

    // ================================================================ topUp

    function test_topUp_AddsDepositAndMovesExpiry() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        _checkpoint(t, 5e18);
        uint256 expiry = block.timestamp + 2 * TERM;
        vm.expectEmit(address(channels));
        emit IPaymentChannel.ChannelToppedUp(id, DEPOSIT + 1e18, expiry);
        vm.prank(buyer);
        channels.topUp(t, 1e18, expiry);
        IPaymentChannel.Channel memory c = _state(id);
        assertEq(c.deposit, DEPOSIT + 1e18);
        assertEq(c.expiry, expiry);
        assertEq(c.checkpointed, 5e18, "checkpoint kept");
        assertEq(token.balanceOf(address(channels)), DEPOSIT + 1e18);
    }

    function test_topUp_OnlyExpiry() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        vm.prank(buyer);
        channels.topUp(t, 0, block.timestamp + 2 * TERM);
        assertEq(_state(id).expiry, block.timestamp + 2 * TERM);
    }

    function test_topUp_Native() public {
        IPaymentChannel.ChannelTerms memory t = _terms(p256Id, IERC20(address(0)));
        bytes32 id = _open(t, 1 ether);
        vm.prank(buyer);
        channels.topUp{value: 2 ether}(t, 2 ether, block.timestamp + TERM);
        assertEq(_state(id).deposit, 3 ether);
        assertEq(address(channels).balance, 3 ether);
    }

    function test_topUp_RevertWhen_CallerIsNotTheBuyer() public {
        (IPaymentChannel.ChannelTerms memory t, ) = _open();
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelNotBuyer.selector, seller));
        vm.prank(seller);
        channels.topUp(t, 1, block.timestamp + TERM);
    }

    function test_topUp_RevertWhen_Expired() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        uint256 expiry = _state(id).expiry;
        vm.warp(expiry);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelExpired.selector, expiry, expiry));
        vm.prank(buyer);
        channels.topUp(t, 1, expiry + TERM);
    }

    function test_topUp_RevertWhen_ExpiryEarlier() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        uint256 expiry = _state(id).expiry;
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelExpiryNotLater.selector, expiry - 1, expiry));
        vm.prank(buyer);
        channels.topUp(t, 1, expiry - 1);
    }

    function test_topUp_RevertWhen_NothingChanges() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        uint256 expiry = _state(id).expiry;
        vm.expectRevert(IPaymentChannel.ChannelZeroDeposit.selector);
        vm.prank(buyer);
        channels.topUp(t, 0, expiry);
    }

    function test_topUp_RevertWhen_DepositWouldExceed104Bits() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        uint256 max = channels.MAX_DEPOSIT();
        uint256 expiry = _state(id).expiry;
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelDepositTooLarge.selector, max + 1, max));
        vm.prank(buyer);
        channels.topUp(t, max + 1 - DEPOSIT, expiry);
    }

    function test_topUp_RevertWhen_ValueSentWithoutAmount() public {
        IPaymentChannel.ChannelTerms memory t = _terms(p256Id, IERC20(address(0)));
        _open(t, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelWrongValue.selector, 1, 0));
        vm.prank(buyer);
        channels.topUp{value: 1}(t, 0, block.timestamp + 2 * TERM);
    }

    // ================================================================ checkpoint

    function test_checkpoint_RecordsTheVoucher() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        vm.expectEmit(address(channels));
        emit IPaymentChannel.ChannelCheckpointed(id, 42e18);
        _checkpoint(t, 42e18);
        assertEq(_state(id).checkpointed, 42e18);
    }

    function test_checkpoint_CapsAtTheDeposit() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        _checkpoint(t, DEPOSIT * 3);
        assertEq(_state(id).checkpointed, DEPOSIT);
    }

    function test_checkpoint_RevertWhen_NotNewer() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        _checkpoint(t, 42e18);
        bytes memory sig = _voucher(p256, id, 42e18);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelVoucherNotNewer.selector, 42e18, 42e18));
        vm.prank(seller);
        channels.checkpoint(t, 42e18, _deviceKey(p256), sig);
    }

    function test_checkpoint_RevertWhen_DeviceIsNotTrusted() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        bytes memory sig = _voucher(p256, id, 1e18);
        _revokeFirmware(firmwareId);
        vm.expectRevert(
            abi.encodeWithSelector(
                TrustLib.TrustLibUntrusted.selector,
                p256Id,
                IDeviceAttestation.TrustVerdict.FirmwareRevoked
            )
        );
        vm.prank(seller);
        channels.checkpoint(t, 1e18, _deviceKey(p256), sig);
    }

    function test_checkpoint_RevertWhen_VoucherIsForAnotherAmount() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        bytes memory sig = _voucher(p256, id, 1e18);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelInvalidVoucher.selector, p256Id));
        vm.prank(seller);
        channels.checkpoint(t, 2e18, _deviceKey(p256), sig);
    }

    // ================================================================ close

    function test_close_PaysTheVoucherP256() public {
        _assertClosePays(p256Id);
    }

    function test_close_PaysTheVoucherSecp256k1() public {
        _assertClosePays(secpId);
    }

    function _assertClosePays(DeviceId device) internal {
        IPaymentChannel.ChannelTerms memory t = _terms(device, IERC20(address(token)));
        bytes32 id = _open(t, DEPOSIT);
        TestKey memory k = _keyOf(device);
        bytes memory sig = _voucher(k, id, 300e18);
        uint256 buyerBefore = token.balanceOf(buyer);
        vm.expectEmit(address(channels));
        emit IPaymentChannel.ChannelSettled(id, 300e18, DEPOSIT - 300e18, true);
        vm.prank(seller);
        uint256 before = gasleft();
        channels.close(t, 300e18, _deviceKey(k), sig);
        _logGas("gas close (ERC-20, inside the call):", before - gasleft());
        assertEq(token.balanceOf(seller), 300e18);
        assertEq(token.balanceOf(buyer) - buyerBefore, DEPOSIT - 300e18);
        assertEq(token.balanceOf(address(channels)), 0);
        IPaymentChannel.Channel memory c = channels.channel(id);
        assertEq(c.deposit, 0, "slot deleted");
        assertEq(c.expiry, 0, "slot deleted");
    }

    function test_close_PaysAtMostTheDeposit() public {
        (IPaymentChannel.ChannelTerms memory t, ) = _open();
        _close(t, DEPOSIT + 1);
        assertEq(token.balanceOf(seller), DEPOSIT);
        assertEq(token.balanceOf(address(channels)), 0);
    }

    function test_close_PaysTheCheckpointWhenTheVoucherIsOlder() public {
        (IPaymentChannel.ChannelTerms memory t, ) = _open();
        _checkpoint(t, 50e18);
        _close(t, 20e18);
        assertEq(token.balanceOf(seller), 50e18);
    }

    function test_close_Native() public {
        IPaymentChannel.ChannelTerms memory t = _terms(secpId, IERC20(address(0)));
        _open(t, 2 ether);
        uint256 buyerBefore = buyer.balance;
        _close(t, 0.5 ether);
        assertEq(seller.balance, 0.5 ether);
        assertEq(buyer.balance - buyerBefore, 1.5 ether);
        assertEq(address(channels).balance, 0);
    }

    /// @notice The rule: once the device is no longer trusted, a voucher counts for nothing; the seller gets
    /// what it checkpointed while the device was trusted.
    function test_close_PaysTheCheckpointWhenTheDeviceIsSuspended() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        _checkpoint(t, 40e18);
        bytes memory sig = _voucher(p256, id, 90e18);
        _suspend(p256Id);
        vm.expectEmit(address(channels));
        emit IPaymentChannel.ChannelSettled(id, 40e18, DEPOSIT - 40e18, false);
        vm.prank(seller);
        channels.close(t, 90e18, _deviceKey(p256), sig);
        assertEq(token.balanceOf(seller), 40e18);
    }

    function test_close_PaysTheCheckpointWhenTheAttestationIsStale() public {
        (IPaymentChannel.ChannelTerms memory t, ) = _open();
        _checkpoint(t, 40e18);
        vm.warp(block.timestamp + MAX_AGE + 1);
        _close(t, 90e18);
        assertEq(token.balanceOf(seller), 40e18);
    }

    function test_close_PaysNothingWithoutCheckpointWhenTheFirmwareIsRevoked() public {
        (IPaymentChannel.ChannelTerms memory t, ) = _open();
        uint256 buyerBefore = token.balanceOf(buyer);
        _revokeFirmware(firmwareId);
        _close(t, 90e18);
        assertEq(token.balanceOf(seller), 0);
        assertEq(token.balanceOf(buyer) - buyerBefore, DEPOSIT);
    }

    /// @notice After a rotation, only the device's current key signs vouchers that count.
    function test_close_RevertWhen_VoucherIsByARotatedOutKey() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        bytes memory old = _voucher(p256, id, 10e18);
        TestKey memory next = _p256Key(P256_PK_2);
        _rotate(p256Id, p256, next);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelInvalidVoucher.selector, p256Id));
        vm.prank(seller);
        channels.close(t, 10e18, _deviceKey(p256), old);

        bytes memory fresh = _voucher(next, id, 10e18);
        vm.prank(seller);
        channels.close(t, 10e18, _deviceKey(next), fresh);
        assertEq(token.balanceOf(seller), 10e18);
    }

    /// @dev checkpoint or close, as `caller`, with `sig` (a voucher of 1e18 by the buyer's P-256 device).
    function _present(bool close, address caller, IPaymentChannel.ChannelTerms memory t, bytes memory sig) internal {
        vm.prank(caller);
        if (close) channels.close(t, 1e18, _deviceKey(p256), sig);
        else channels.checkpoint(t, 1e18, _deviceKey(p256), sig);
    }

    /// @notice Checkpoint and close: the seller's alone (the buyer and a stranger are refused).
    function test_checkpointAndClose_RevertWhen_CallerIsNotTheSeller() public {
        for (uint256 i; i < 2; ++i) {
            (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
            bytes memory sig = _voucher(p256, id, 1e18);
            address caller = i == 0 ? buyer : stranger;
            vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelNotSeller.selector, caller));
            _present(i == 1, caller, t, sig);
        }
    }

    /// @notice Checkpoint and close: before the expiry only.
    function test_checkpointAndClose_RevertWhen_Expired() public {
        (IPaymentChannel.ChannelTerms memory a, bytes32 idA) = _open();
        (IPaymentChannel.ChannelTerms memory b, bytes32 idB) = _open();
        bytes memory sigA = _voucher(p256, idA, 1e18);
        bytes memory sigB = _voucher(p256, idB, 1e18);
        uint256 expiry = _state(idA).expiry;
        assertEq(_state(idB).expiry, expiry);
        vm.warp(expiry);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelExpired.selector, expiry, expiry));
        _present(false, seller, a, sigA);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelExpired.selector, expiry, expiry));
        _present(true, seller, b, sigB);
    }

    function test_close_RevertWhen_TermsDiffer() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        bytes memory sig = _voucher(p256, id, 1e18);
        ++t.pricePerUnit;
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelTermsMismatch.selector, _id(t)));
        vm.prank(seller);
        channels.close(t, 1e18, _deviceKey(p256), sig);
    }

    function test_close_RevertWhen_AlreadyClosed() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        _close(t, 1e18);
        bytes memory sig = _voucher(p256, id, 2e18);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelTermsMismatch.selector, id));
        vm.prank(seller);
        channels.close(t, 2e18, _deviceKey(p256), sig);
    }

    function test_close_RevertWhen_VoucherIsForAnotherChannel() public {
        (IPaymentChannel.ChannelTerms memory t, ) = _open();
        IPaymentChannel.ChannelTerms memory other = _terms(p256Id, IERC20(address(token)));
        bytes32 otherId = _open(other, DEPOSIT);
        bytes memory sig = _voucher(p256, otherId, 1e18);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelInvalidVoucher.selector, p256Id));
        vm.prank(seller);
        channels.close(t, 1e18, _deviceKey(p256), sig);
    }

    function test_close_RevertWhen_VoucherIsForAnotherContract() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        PaymentChannel twin = new PaymentChannel(IDeviceRegistry(address(registry)), MAX_AGE);
        bytes memory sig = _sign(p256, _voucherDigest(twin, id, 1e18));
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelInvalidVoucher.selector, p256Id));
        vm.prank(seller);
        channels.close(t, 1e18, _deviceKey(p256), sig);
    }

    function test_close_RevertWhen_VoucherIsForAnotherChain() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        bytes memory sig = _voucher(p256, id, 1e18);
        vm.chainId(block.chainid + 1);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelInvalidVoucher.selector, p256Id));
        vm.prank(seller);
        channels.close(t, 1e18, _deviceKey(p256), sig);
    }

    function test_close_RevertWhen_VoucherIsByAnotherDevice() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        bytes memory sig = _voucher(secp, id, 1e18);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelInvalidVoucher.selector, p256Id));
        vm.prank(seller);
        channels.close(t, 1e18, _deviceKey(secp), sig);
    }

    /// @notice A buyer whose receiver refuses its refund cannot block the seller: the refund is owed instead.
    function test_close_OwesARefundTheBuyerRefuses() public {
        RefusingReceiver refusing = new RefusingReceiver();
        vm.deal(address(refusing), 0);
        IPaymentChannel.ChannelTerms memory t = _terms(p256Id, IERC20(address(0)));
        t.buyer = address(refusing);
        t.nonce = 0;
        refusing.open{value: 1 ether}(channels, t, block.timestamp + TERM);
        bytes memory sig = _voucher(p256, _id(t), 0.25 ether);
        vm.expectEmit(address(channels));
        emit IPaymentChannel.PaymentDeferred(address(refusing), address(0), 0.75 ether);
        vm.prank(seller);
        channels.close(t, 0.25 ether, _deviceKey(p256), sig);
        assertEq(seller.balance, 0.25 ether);
        assertEq(channels.owed(address(refusing), IERC20(address(0))), 0.75 ether);
        assertEq(address(channels).balance, 0.75 ether);
    }

    /// @notice A token that reenters during the payout gets nothing: its transfer fails and is owed instead.
    function test_close_ReentrantTokenGetsNothing() public {
        ReentrantToken evil = new ReentrantToken();
        evil.mint(buyer, DEPOSIT);
        vm.prank(buyer);
        evil.approve(address(channels), type(uint256).max);
        IPaymentChannel.ChannelTerms memory t = _terms(p256Id, IERC20(address(evil)));
        bytes32 id = _open(t, DEPOSIT);
        bytes memory sig = _voucher(p256, id, 10e18);
        evil.arm(address(channels), abi.encodeCall(IPaymentChannel.reclaim, (t)));
        vm.prank(seller);
        channels.close(t, 10e18, _deviceKey(p256), sig);
        // Both payouts reentered (the token's disarm is undone by its own revert), failed and are owed: the
        // reentrant call got nothing, and the channel still settled.
        assertEq(channels.owed(seller, IERC20(address(evil))), 10e18);
        assertEq(channels.owed(buyer, IERC20(address(evil))), DEPOSIT - 10e18);
        assertEq(evil.balanceOf(address(channels)), DEPOSIT);
        evil.arm(address(0), "");
        vm.prank(seller);
        channels.withdrawOwed(IERC20(address(evil)));
        vm.prank(buyer);
        channels.withdrawOwed(IERC20(address(evil)));
        assertEq(evil.balanceOf(seller), 10e18);
        assertEq(evil.balanceOf(buyer), DEPOSIT - 10e18);
        assertEq(evil.balanceOf(address(channels)), 0);
    }

    // ================================================================ reclaim

    function test_reclaim_PaysTheCheckpointAndRefundsTheRest() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        _checkpoint(t, 30e18);
        uint256 buyerBefore = token.balanceOf(buyer);
        vm.warp(_state(id).expiry);
        vm.expectEmit(address(channels));
        emit IPaymentChannel.ChannelReclaimed(id, 30e18, DEPOSIT - 30e18);
        vm.prank(buyer);
        channels.reclaim(t);
        assertEq(token.balanceOf(seller), 30e18);
        assertEq(token.balanceOf(buyer) - buyerBefore, DEPOSIT - 30e18);
    }

    function test_reclaim_BySeller() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        _checkpoint(t, 30e18);
        vm.warp(_state(id).expiry + 1);
        vm.prank(seller);
        channels.reclaim(t);
        assertEq(token.balanceOf(seller), 30e18);
    }

    function test_reclaim_RevertWhen_NotExpired() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        uint256 expiry = _state(id).expiry;
        vm.warp(expiry - 1);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelNotExpired.selector, expiry, expiry - 1));
        vm.prank(buyer);
        channels.reclaim(t);
    }

    function test_reclaim_RevertWhen_CallerIsNotAParty() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        vm.warp(_state(id).expiry);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelNotParty.selector, stranger));
        vm.prank(stranger);
        channels.reclaim(t);
    }

    function test_reclaim_RevertWhen_AlreadyReclaimed() public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        vm.warp(_state(id).expiry);
        vm.prank(buyer);
        channels.reclaim(t);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelTermsMismatch.selector, id));
        vm.prank(buyer);
        channels.reclaim(t);
    }

    // ================================================================ withdrawOwed

    function test_withdrawOwed_RevertWhen_NothingOwed() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelNothingOwed.selector, seller, address(token)));
        vm.prank(seller);
        channels.withdrawOwed(IERC20(address(token)));
    }
}
