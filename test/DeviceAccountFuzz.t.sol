// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IEntryPoint as AAEntryPoint} from "@account-abstraction/contracts/interfaces/IEntryPoint.sol";
import {PackedUserOperation} from "@account-abstraction/contracts/interfaces/PackedUserOperation.sol";
import {DeviceAccount} from "../contracts/accounts/DeviceAccount.sol";
import {IDeviceAccount, IDeviceAccountChanges} from "../contracts/interfaces/IDeviceAccount.sol";
import {AccountFixture} from "./utils/AccountFixture.sol";

/// @notice Fuzzed amounts, windows, velocity and signer sets against a reference model of the policy, and
/// fuzzed mutations of every signed byte.
contract DeviceAccountFuzzTest is AccountFixture {
    DeviceAccount internal account;

    function setUp() public override {
        super.setUp();
        account = _createDefault();
        // Start at a window's turn so each test controls where the next one falls.
        vm.warp((block.timestamp / PERIOD + 1) * PERIOD);
        for (uint256 i; i < 3; ++i) _attest(keys[i], MEASUREMENT_V1, 2);
    }

    function _refresh(uint64 bootCount) internal {
        for (uint256 i; i < 3; ++i) _attest(keys[i], MEASUREMENT_V1, bootCount);
    }

    /// @notice One payment of any amount: it moves exactly when every cap allows it and the breaker's
    /// capacity holds it, and otherwise moves nothing.
    function testFuzz_onePaymentAgainstEveryCap(uint256 amount, bool native) public {
        amount = bound(amount, 0, 2_000 ether);
        uint256 capacity = (uint256(PERIOD_CAP) * VELOCITY_SHARE_BPS) / 10_000;
        bool allowed = amount <= SELLER_PER_CALL_CAP && amount <= PER_CALL_CAP && amount <= SELLER_PERIOD_CAP;
        bool trips = allowed && amount > capacity;
        uint256 before = native ? seller.balance : token.balanceOf(seller);
        _pay(account, 0, native ? _call(seller, amount, "") : _transfer(seller, amount));
        uint256 moved = (native ? seller.balance : token.balanceOf(seller)) - before;
        assertEq(moved, allowed && !trips ? amount : 0);
        assertEq(account.locked(), trips);
        assertEq(account.spentThisPeriod(native ? address(0) : address(token)), moved);
    }

    /// @notice Two payments around a window's turn: the second sees the first's spending only inside the
    /// same window, and never more than the cap passes within one window.
    function testFuzz_periodBoundary(uint256 first, uint256 second, uint256 gap) public {
        first = bound(first, 1, SELLER_PER_CALL_CAP);
        second = bound(second, 1, SELLER_PER_CALL_CAP);
        gap = bound(gap, 2 hours, 3 days);
        uint256 start = block.timestamp;
        _pay(account, 0, _transfer(seller, first));
        vm.warp(start + gap);
        _refresh(3);
        bool sameWindow = (start + gap) / PERIOD == start / PERIOD;
        uint256 spentBefore = sameWindow ? first : 0;
        _pay(account, 0, _transfer(seller, second));
        bool passes = spentBefore + second <= SELLER_PERIOD_CAP;
        assertEq(token.balanceOf(seller), first + (passes ? second : 0));
        assertEq(account.spentThisPeriod(address(token), seller), spentBefore + (passes ? second : 0));
        assertLe(account.spentThisPeriod(address(token)), PERIOD_CAP);
    }

    /// @notice The velocity bucket against a model: the level after each spend is the previous level less
    /// what drained (capacity per window, pro rata), plus the spend; it trips when that exceeds the capacity.
    function testFuzz_velocityBucketMatchesTheModel(uint256[4] memory amounts, uint256[4] memory gaps) public {
        uint256 capacity = (uint256(PERIOD_CAP) * VELOCITY_SHARE_BPS) / 10_000;
        uint256 level;
        uint256 lastAt = block.timestamp;
        uint256 paid;
        for (uint256 i; i < 4; ++i) {
            uint256 amount = bound(amounts[i], 1, 100 ether);
            vm.warp(block.timestamp + bound(gaps[i], 0, 30 minutes));
            uint256 drained = ((block.timestamp - lastAt) * capacity) / VELOCITY_WINDOW;
            uint256 next = (level > drained ? level - drained : 0) + amount;
            bool capOk = paid + amount <= SELLER_PERIOD_CAP && block.timestamp / PERIOD == (lastAt / PERIOD);
            _pay(account, 0, _transfer(seller, amount));
            if (!capOk) return; // a window's turn or the cap: not this test's subject
            if (next > capacity) {
                assertTrue(account.locked(), "the model overflowed, the breaker must trip");
                return;
            }
            assertFalse(account.locked());
            (level, lastAt, paid) = (next, block.timestamp, paid + amount);
            assertEq(token.balanceOf(seller), paid);
        }
    }

    /// @notice Any subset of the three devices: with the low threshold at 2, it validates iff two or more
    /// signed, and runs outside the policy iff all three did.
    function testFuzz_signerSets(uint8 mask) public {
        IDeviceAccount.Setup memory setup = _defaultSetup();
        setup.lowThreshold = 2;
        DeviceAccount two = DeviceAccount(payable(factory.createAccount(setup, keccak256("two"))));
        token.mint(address(two), 5_000 ether);
        vm.deal(address(two), 1 ether);
        uint256 count;
        for (uint256 i; i < 3; ++i) if (mask & (1 << i) != 0) ++count;
        uint256[] memory signing = new uint256[](count);
        uint256 k;
        for (uint256 i; i < 3; ++i) {
            if (mask & (1 << i) != 0) {
                signing[k] = i;
                ++k;
            }
        }
        address stranger_ = makeAddr("outside the policy");
        PackedUserOperation memory op = _op(address(two), _transfer(stranger_, 1_000 ether));
        op.signature = _signature(_hash(op), signing, false);
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        vm.prank(bundler, bundler);
        if (count < 2) {
            vm.expectRevert(abi.encodeWithSelector(AAEntryPoint.FailedOp.selector, 0, "AA24 signature error"));
            entryPoint.handleOps(ops, payable(bundler));
            return;
        }
        entryPoint.handleOps(ops, payable(bundler));
        assertEq(token.balanceOf(stranger_), count == 3 ? 1_000 ether : 0);
    }

    /// @notice Flipping any byte of the signature (signer list, key, r, s, v) never lets an operation pay.
    function testFuzz_mutatedSignatureNeverPays(uint256 index, uint8 flip, bool secp) public {
        flip = uint8(bound(flip, 1, 255));
        PackedUserOperation memory op = _op(address(account), _transfer(seller, 1 ether));
        op.signature = _signature(_hash(op), _one(secp ? 2 : 0), false);
        index = bound(index, 0, op.signature.length - 1);
        op.signature[index] = bytes1(uint8(op.signature[index]) ^ flip);
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        vm.prank(bundler, bundler);
        try entryPoint.handleOps(ops, payable(bundler)) {
            // Passing validation with a flipped byte is possible only where the byte carries no meaning
            // (ABI padding); the payment must then be the one the device signed.
            assertLe(token.balanceOf(seller), 1 ether);
        } catch {
            assertEq(token.balanceOf(seller), 0);
        }
    }

    /// @notice A change never applies before its delay, whatever the moment it is tried.
    function testFuzz_changeNeverBeforeItsDelay(uint256 wait) public {
        wait = bound(wait, 0, 2 * uint256(DELAY));
        bytes memory data = abi.encodeCall(IDeviceAccountChanges.setThresholds, (1, 2));
        _propose(account, data);
        uint256 eta = block.timestamp + DELAY;
        vm.warp(block.timestamp + wait);
        if (block.timestamp < eta) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IDeviceAccount.AccountChangeNotReady.selector,
                    keccak256(data),
                    eta,
                    block.timestamp
                )
            );
        }
        account.applyChange(data);
        assertEq(account.highThreshold(), block.timestamp < eta ? 3 : 2);
    }
}
