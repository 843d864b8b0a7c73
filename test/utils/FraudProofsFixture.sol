// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

// solhint-disable-next-line no-console
import {console} from "forge-std/console.sol";
import {FraudProofs} from "../../contracts/staking/FraudProofs.sol";
import {IDeviceStaking} from "../../contracts/interfaces/IDeviceStaking.sol";
import {IFraudProofs} from "../../contracts/interfaces/IFraudProofs.sol";
import {DeviceMessageLib} from "../../contracts/libraries/DeviceMessageLib.sol";
import {MockStaking} from "../../contracts/mocks/MockStaking.sol";
import {DeviceId} from "../../contracts/types/DeviceId.sol";
import {Attestation, Reading, ReadingBatch} from "../../contracts/types/Messages.sol";
import {AttestationFixture} from "./AttestationFixture.sol";
import {TestKey} from "./RegistryFixture.sol";

/// @notice The attestation fixture plus FraudProofs over a MockStaking, one staked device per curve, and
/// helpers that build what a device signs (readings, batches, attestations) so each test changes one thing.
abstract contract FraudProofsFixture is AttestationFixture {
    uint256 internal constant WINDOW = 1 days;
    uint256 internal constant STAKE = 1_000 ether;
    uint256 internal constant SLASHED = 700 ether;
    bytes32 internal constant FEED = keccak256("temperature");
    bytes32 internal constant OTHER_FEED = keccak256("humidity");

    FraudProofs internal proofs;
    MockStaking internal staking;
    address internal prover = makeAddr("prover");
    address internal beneficiary = makeAddr("beneficiary");

    TestKey internal p256;
    TestKey internal secp;
    DeviceId internal p256Id;
    DeviceId internal secpId;

    function setUp() public virtual override {
        super.setUp();
        staking = new MockStaking();
        proofs = new FraudProofs(address(registry), IDeviceStaking(address(staking)), WINDOW);
        staking.setSlashAmount(SLASHED);
        p256 = _p256Key(P256_PK);
        secp = _secpKey(SECP_PK);
        p256Id = _register(p256);
        secpId = _register(secp);
        staking.setSlashable(p256Id, STAKE);
        staking.setSlashable(secpId, STAKE);
    }

    // ------------------------------------------------------------------ readings

    function _reading(DeviceId id, uint64 sequence, int256 value) internal view returns (Reading memory) {
        return
            Reading({deviceId: id, feedId: FEED, sequence: sequence, timestamp: uint64(block.timestamp), value: value});
    }

    function _readingDigest(Reading memory r) internal view returns (bytes32) {
        return _typedDigest(domainSeparator, DeviceMessageLib.hashReading(r));
    }

    function _signed(TestKey memory k, Reading memory r) internal view returns (IFraudProofs.SignedReading memory) {
        return IFraudProofs.SignedReading({reading: r, key: _deviceKey(k), signature: _sign(k, _readingDigest(r))});
    }

    // ------------------------------------------------------------------ batches

    /// @notice A batch `k` signs over `readings` (one device and feed, sequences ascending) and the proof of
    /// the one at `index`.
    function _batched(
        TestKey memory k,
        Reading[] memory readings,
        uint256 index
    ) internal view returns (IFraudProofs.BatchedReading memory b) {
        bytes32[] memory leaves = new bytes32[](readings.length);
        for (uint256 i; i < readings.length; ++i) leaves[i] = DeviceMessageLib.hashReading(readings[i]);
        Reading memory first = readings[0];
        Reading memory last = readings[readings.length - 1];
        b.batch = ReadingBatch({
            deviceId: first.deviceId,
            feedId: first.feedId,
            firstSequence: first.sequence,
            lastSequence: last.sequence,
            count: uint64(readings.length),
            fromTimestamp: first.timestamp,
            toTimestamp: last.timestamp,
            root: _merkleRoot(leaves)
        });
        b.key = _deviceKey(k);
        b.signature = _sign(k, _typedDigest(domainSeparator, DeviceMessageLib.hashReadingBatch(b.batch)));
        b.reading = readings[index];
        b.proof = _merkleProof(leaves, index);
    }

    /// @notice Four consecutive readings of `id` on FEED from `firstSequence`, values `base`, base+1, ...
    function _run(DeviceId id, uint64 firstSequence, int256 base) internal view returns (Reading[] memory readings) {
        readings = new Reading[](4);
        for (uint256 i; i < 4; ++i) {
            readings[i] = _reading(id, firstSequence + uint64(i), base + int256(i));
        }
    }

    /// @notice Batch `k` signs over readings of `id` at sequences `first`.. (`size` of them, values 0, 1, ...,
    /// all signed now) with the one at `index` set to `value`, and the proof of that leaf.
    function _batchedValue(
        TestKey memory k,
        DeviceId id,
        uint256 size,
        uint256 index,
        int256 value
    ) internal view returns (IFraudProofs.BatchedReading memory) {
        Reading[] memory readings = new Reading[](size);
        for (uint256 i; i < size; ++i) readings[i] = _reading(id, 10 + uint64(i), int256(i));
        readings[index].value = value;
        return _batched(k, readings, index);
    }

    // ------------------------------------------------------------------ attestations

    function _attestation(
        DeviceId id,
        bytes32 measurement,
        uint64 timestamp
    ) internal pure returns (Attestation memory) {
        return
            Attestation({
                deviceId: id,
                measurement: measurement,
                challenge: keccak256("challenge"),
                timestamp: timestamp,
                bootCount: 3
            });
    }

    // ------------------------------------------------------------------ evidence ids

    function _pairId(
        IFraudProofs.IncidentKind kind,
        Reading memory a,
        Reading memory b
    ) internal pure returns (bytes32) {
        bytes32 ha = DeviceMessageLib.hashReading(a);
        bytes32 hb = DeviceMessageLib.hashReading(b);
        return ha < hb ? keccak256(abi.encode(kind, ha, hb)) : keccak256(abi.encode(kind, hb, ha));
    }

    function _readingId(Reading memory r) internal pure returns (bytes32) {
        return keccak256(abi.encode(IFraudProofs.IncidentKind.OutOfBounds, DeviceMessageLib.hashReading(r)));
    }

    function _attestationId(Attestation memory a) internal pure returns (bytes32) {
        return keccak256(abi.encode(IFraudProofs.IncidentKind.RevokedFirmware, DeviceMessageLib.hashAttestation(a)));
    }

    // ------------------------------------------------------------------ checks

    /// @notice The incident was recorded for evidence signed in this very block (its time is now).
    function _assertIncident(
        bytes32 id,
        DeviceId deviceId,
        IFraudProofs.IncidentKind kind,
        uint256 slashed
    ) internal view {
        _assertIncident(id, deviceId, kind, slashed, block.timestamp);
    }

    /// @notice The incident was recorded with these fields; `time` is the evidence's signed timestamp (the
    /// later of a pair) capped at the proof's block time (see `_incidentTime`).
    function _assertIncident(
        bytes32 id,
        DeviceId deviceId,
        IFraudProofs.IncidentKind kind,
        uint256 slashed,
        uint256 time
    ) internal view {
        IFraudProofs.Incident memory inc = proofs.incident(id);
        assertEq(DeviceId.unwrap(inc.deviceId), DeviceId.unwrap(deviceId), "incident device");
        assertEq(uint8(inc.kind), uint8(kind), "incident kind");
        assertEq(inc.time, time, "incident time");
        assertEq(inc.slashed, slashed, "incident slashed");
    }

    /// @notice The time an incident proven in this block gets for evidence signed at `signedAt`: the signed
    /// time, never after the proof's block.
    function _incidentTime(uint256 signedAt) internal view returns (uint256) {
        return signedAt < block.timestamp ? signedAt : block.timestamp;
    }

    /// @notice `_incidentTime` of a pair: the later of the two signed timestamps, capped the same way.
    function _incidentTime(uint256 a, uint256 b) internal view returns (uint256) {
        return _incidentTime(a > b ? a : b);
    }

    /// @notice The last slash the mock received came from the proofs contract with these arguments.
    function _assertSlashed(DeviceId deviceId, address to, bytes32 id) internal view {
        uint256 n = staking.slashCount();
        assertGt(n, 0, "slashed at all");
        MockStaking.SlashCall memory c = staking.slashCall(n - 1);
        assertEq(DeviceId.unwrap(c.deviceId), DeviceId.unwrap(deviceId), "slash device");
        assertEq(c.beneficiary, to, "slash beneficiary");
        assertEq(c.incident, id, "slash incident");
        assertEq(c.caller, address(proofs), "slash caller");
    }

    /// @notice Prints a measured gas figure (gasleft deltas around one call) for the report.
    function _logGas(string memory label, uint256 gas) internal pure {
        // solhint-disable-next-line no-console
        console.log(label, gas);
    }
}
