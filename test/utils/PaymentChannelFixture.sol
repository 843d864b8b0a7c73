// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

// solhint-disable-next-line no-console
import {console} from "forge-std/console.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {PaymentChannel} from "../../contracts/accounts/PaymentChannel.sol";
import {IDeviceRegistry} from "../../contracts/interfaces/IDeviceRegistry.sol";
import {IPaymentChannel} from "../../contracts/interfaces/IPaymentChannel.sol";
import {DeviceMessageLib} from "../../contracts/libraries/DeviceMessageLib.sol";
import {MockERC20} from "../../contracts/mocks/MockERC20.sol";
import {DeviceId} from "../../contracts/types/DeviceId.sol";
import {AttestationFixture} from "./AttestationFixture.sol";
import {TestKey} from "./RegistryFixture.sol";

/// @notice The attestation fixture plus a PaymentChannel over its registry, an ERC-20, a funded buyer, a
/// seller, and one attested (trusted) buyer device per curve; helpers build the terms, open channels and
/// sign vouchers as an honest buyer device does, so each test changes one thing.
abstract contract PaymentChannelFixture is AttestationFixture {
    uint256 internal constant MAX_AGE = 1 hours;
    uint256 internal constant DEPOSIT = 1_000e18;
    uint256 internal constant PRICE = 1e15;
    uint256 internal constant TERM = 1 days;

    PaymentChannel internal channels;
    MockERC20 internal token;
    address internal buyer = makeAddr("buyer");
    address internal seller = makeAddr("seller");

    TestKey internal p256;
    TestKey internal secp;
    DeviceId internal p256Id;
    DeviceId internal secpId;
    uint32 internal firmwareId;

    function setUp() public virtual override {
        super.setUp();
        channels = new PaymentChannel(IDeviceRegistry(address(registry)), MAX_AGE);
        token = new MockERC20("Energy Credit", "kWh");
        firmwareId = _publish(MODEL, "1.0.0", MEASUREMENT_V1);
        p256 = _p256Key(P256_PK);
        secp = _secpKey(SECP_PK);
        p256Id = _register(p256);
        secpId = _register(secp);
        _attest(p256, MEASUREMENT_V1, 1);
        _attest(secp, MEASUREMENT_V1, 1);
        token.mint(buyer, 1_000_000e18);
        vm.deal(buyer, 1_000_000e18);
        vm.prank(buyer);
        token.approve(address(channels), type(uint256).max);
    }

    // ------------------------------------------------------------------ terms and channels

    /// @notice Terms of the buyer's next channel (its next nonce) for `device`, paid in `asset`.
    function _terms(DeviceId device, IERC20 asset) internal view returns (IPaymentChannel.ChannelTerms memory) {
        return
            IPaymentChannel.ChannelTerms({
                buyer: buyer,
                seller: seller,
                buyerDevice: device,
                token: asset,
                pricePerUnit: PRICE,
                nonce: channels.nonceOf(buyer)
            });
    }

    /// @notice The ERC-20 terms of the P-256 device.
    function _terms() internal view returns (IPaymentChannel.ChannelTerms memory) {
        return _terms(p256Id, IERC20(address(token)));
    }

    function _id(IPaymentChannel.ChannelTerms memory t) internal pure returns (bytes32) {
        return keccak256(abi.encode(t));
    }

    /// @notice The buyer opens `t` with `deposit` for TERM seconds (native value when the token is zero).
    function _open(IPaymentChannel.ChannelTerms memory t, uint256 deposit) internal returns (bytes32) {
        uint256 value = address(t.token) == address(0) ? deposit : 0;
        vm.prank(buyer);
        return channels.open{value: value}(t, deposit, block.timestamp + TERM);
    }

    function _open() internal returns (IPaymentChannel.ChannelTerms memory t, bytes32 id) {
        t = _terms();
        id = _open(t, DEPOSIT);
    }

    function _state(bytes32 id) internal view returns (IPaymentChannel.Channel memory) {
        return channels.channel(id);
    }

    // ------------------------------------------------------------------ vouchers

    function _voucherDigest(PaymentChannel on, bytes32 id, uint256 amount) internal view returns (bytes32) {
        return _typedDigest(_domainSeparator(block.chainid, address(on)), DeviceMessageLib.hashVoucher(id, amount));
    }

    /// @notice `k`'s voucher for `amount` on channel `id` of `channels`.
    function _voucher(TestKey memory k, bytes32 id, uint256 amount) internal view returns (bytes memory) {
        return _sign(k, _voucherDigest(channels, id, amount));
    }

    function _keyOf(DeviceId device) internal view returns (TestKey memory) {
        return DeviceId.unwrap(device) == DeviceId.unwrap(p256Id) ? p256 : secp;
    }

    /// @notice The seller closes `t` with the device's voucher for `amount`.
    function _close(IPaymentChannel.ChannelTerms memory t, uint256 amount) internal {
        TestKey memory k = _keyOf(t.buyerDevice);
        bytes memory sig = _voucher(k, _id(t), amount);
        vm.prank(seller);
        channels.close(t, amount, _deviceKey(k), sig);
    }

    /// @notice The seller checkpoints `t` with the device's voucher for `amount`.
    function _checkpoint(IPaymentChannel.ChannelTerms memory t, uint256 amount) internal {
        TestKey memory k = _keyOf(t.buyerDevice);
        bytes memory sig = _voucher(k, _id(t), amount);
        vm.prank(seller);
        channels.checkpoint(t, amount, _deviceKey(k), sig);
    }

    /// @notice The device's operator suspends it: it is no longer trusted.
    function _suspend(DeviceId device) internal {
        vm.prank(operator);
        registry.suspend(device, "tamper");
    }

    function _balance(IERC20 asset, address account) internal view returns (uint256) {
        return address(asset) == address(0) ? account.balance : asset.balanceOf(account);
    }

    function _logGas(string memory label, uint256 gas) internal pure {
        // solhint-disable-next-line no-console
        console.log(label, gas);
    }
}
