// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IPaymentChannel} from "../contracts/interfaces/IPaymentChannel.sol";
import {DeviceId} from "../contracts/types/DeviceId.sol";
import {PaymentChannelFixture} from "./utils/PaymentChannelFixture.sol";
import {TestKey} from "./utils/RegistryFixture.sol";

/// @notice Fuzz tests of PaymentChannel: every amount, deposit and expiry boundary, and mutated voucher
/// signatures on both curves. Each has a concrete twin in PaymentChannel.t.sol.
contract PaymentChannelFuzzTest is PaymentChannelFixture {
    function _device(bool isP256) internal view returns (DeviceId) {
        return isP256 ? p256Id : secpId;
    }

    /// @notice The seller gets min(voucher, deposit), the buyer the rest: never more than the deposit.
    function testFuzz_close_PaysMinOfVoucherAndDeposit(uint256 deposit, uint256 amount, bool isP256) public {
        deposit = bound(deposit, 1, channels.MAX_DEPOSIT());
        token.mint(buyer, deposit);
        IPaymentChannel.ChannelTerms memory t = _terms(_device(isP256), IERC20(address(token)));
        _open(t, deposit);
        uint256 buyerBefore = token.balanceOf(buyer);
        _close(t, amount);
        uint256 paid = amount < deposit ? amount : deposit;
        assertEq(token.balanceOf(seller), paid);
        assertEq(token.balanceOf(buyer) - buyerBefore, deposit - paid);
        assertEq(token.balanceOf(address(channels)), 0);
    }

    /// @notice The checkpoint is a floor: the seller gets max(checkpoint, min(voucher, deposit)) while the
    /// device is trusted, exactly the checkpoint once it is not.
    function testFuzz_close_CheckpointIsAFloor(
        uint256 deposit,
        uint256 checkpointed,
        uint256 amount,
        bool trusted
    ) public {
        deposit = bound(deposit, 2, 1e30);
        checkpointed = bound(checkpointed, 1, deposit);
        token.mint(buyer, deposit);
        IPaymentChannel.ChannelTerms memory t = _terms(p256Id, IERC20(address(token)));
        _open(t, deposit);
        _checkpoint(t, checkpointed);
        if (!trusted) _suspend(p256Id);
        _close(t, amount);
        uint256 voucher = amount < deposit ? amount : deposit;
        uint256 expected = trusted && voucher > checkpointed ? voucher : checkpointed;
        assertEq(token.balanceOf(seller), expected);
    }

    /// @notice A checkpoint must raise the recorded amount (capped at the deposit).
    function testFuzz_checkpoint_OnlyRises(uint256 first, uint256 second) public {
        first = bound(first, 1, DEPOSIT);
        second = bound(second, 0, 2 * DEPOSIT);
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        _checkpoint(t, first);
        uint256 capped = second < DEPOSIT ? second : DEPOSIT;
        bytes memory sig = _voucher(p256, id, second);
        if (capped <= first) {
            vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelVoucherNotNewer.selector, capped, first));
        }
        vm.prank(seller);
        channels.checkpoint(t, second, _deviceKey(p256), sig);
        assertEq(_state(id).checkpointed, capped > first ? capped : first);
    }

    /// @notice Open needs an expiry strictly in the future (and within 48 bits).
    function testFuzz_open_ExpiryBoundary(uint256 expiry) public {
        expiry = bound(expiry, 0, block.timestamp + 10 * TERM);
        IPaymentChannel.ChannelTerms memory t = _terms();
        if (expiry <= block.timestamp) {
            vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelExpired.selector, expiry, block.timestamp));
        }
        vm.prank(buyer);
        channels.open(t, DEPOSIT, expiry);
    }

    /// @notice Close works strictly before expiry; reclaim from expiry on: never both at one time.
    function testFuzz_closeAndReclaim_SplitAtExpiry(uint256 elapsed) public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        uint256 expiry = _state(id).expiry;
        elapsed = bound(elapsed, 0, 2 * TERM);
        vm.warp(block.timestamp + elapsed);
        // Re-attest so that only the expiry decides (the device stays trusted).
        _attest(p256, MEASUREMENT_V1, 2);
        bytes memory sig = _voucher(p256, id, 1e18);
        bool expired = block.timestamp >= expiry;
        if (expired) {
            vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelExpired.selector, expiry, block.timestamp));
        }
        vm.prank(seller);
        channels.close(t, 1e18, _deviceKey(p256), sig);
        if (expired) {
            vm.prank(buyer);
            channels.reclaim(t);
            assertEq(token.balanceOf(seller), 0);
        } else {
            assertEq(token.balanceOf(seller), 1e18);
        }
    }

    /// @notice Any one-byte change of a valid voucher signature (either curve) makes it invalid.
    function testFuzz_close_RevertWhen_SignatureMutated(bool isP256, uint256 index, uint8 flip) public {
        DeviceId device = _device(isP256);
        TestKey memory k = _keyOf(device);
        IPaymentChannel.ChannelTerms memory t = _terms(device, IERC20(address(token)));
        bytes32 id = _open(t, DEPOSIT);
        bytes memory sig = _voucher(k, id, 5e18);
        index = bound(index, 0, sig.length - 1);
        sig[index] = sig[index] ^ bytes1(uint8(bound(flip, 1, 255)));
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelInvalidVoucher.selector, device));
        vm.prank(seller);
        channels.close(t, 5e18, _deviceKey(k), sig);
    }

    /// @notice A voucher for any other amount does not verify for this one.
    function testFuzz_close_RevertWhen_AmountDiffersFromSigned(uint256 signed, uint256 claimed) public {
        vm.assume(signed != claimed);
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        bytes memory sig = _voucher(p256, id, signed);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannel.ChannelInvalidVoucher.selector, p256Id));
        vm.prank(seller);
        channels.close(t, claimed, _deviceKey(p256), sig);
    }

    /// @notice A top-up keeps every amount within 104 bits and never moves the expiry earlier.
    function testFuzz_topUp_Bounds(uint256 amount, uint256 later) public {
        (IPaymentChannel.ChannelTerms memory t, bytes32 id) = _open();
        uint256 expiry = _state(id).expiry;
        amount = bound(amount, 0, channels.MAX_DEPOSIT());
        later = bound(later, 0, TERM);
        token.mint(buyer, amount);
        if (DEPOSIT + amount > channels.MAX_DEPOSIT()) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IPaymentChannel.ChannelDepositTooLarge.selector,
                    DEPOSIT + amount,
                    channels.MAX_DEPOSIT()
                )
            );
        } else if (amount == 0 && later == 0) {
            vm.expectRevert(IPaymentChannel.ChannelZeroDeposit.selector);
        }
        vm.prank(buyer);
        channels.topUp(t, amount, expiry + later);
    }
}
