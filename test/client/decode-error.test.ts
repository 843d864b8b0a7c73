import assert from "node:assert/strict";
import { encodeBytes32String } from "ethers";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import {
  CURVE_ORDER,
  DeviceTrustError,
  KeyType,
  deviceIdOf,
  digest,
  encodeSignature,
  decodeSignature,
} from "../../src/protocol/index.js";
import {
  type ContractError,
  EXPLAINED_ERRORS,
  decodeContractError,
  explainError,
  registerDevice,
  registryDomain,
} from "../../src/client/index.js";
import {
  DeviceRegistry__factory,
  DeviceKeyLib__factory,
  IDeviceRegistry__factory,
  IDeviceStaking__factory,
  IFraudProofs__factory,
  IPsaAttestation__factory,
  ITpmAttestation__factory,
  PsaAttestation__factory,
  TpmAttestation__factory,
} from "../../types/ethers-contracts/index.js";
import {
  MODEL,
  deadlineIn,
  deployFixture,
  ethers,
  networkHelpers,
  registeredDevice,
} from "./fixture.js";

async function rejection(promise: Promise<unknown>): Promise<ContractError> {
  try {
    await promise;
  } catch (err: unknown) {
    const decoded = decodeContractError(err);
    assert.ok(decoded !== undefined, `not a decodable revert: ${String(err)}`);
    return decoded;
  }
  assert.fail("expected a revert");
}

describe("client", function () {
  describe("decodeContractError", function () {
    it("explains every custom error of IDeviceRegistry, DeviceKeyLib, IDeviceStaking, IFraudProofs and AccessControl", function () {
      const names = [
        ...IDeviceRegistry__factory.abi,
        ...DeviceKeyLib__factory.abi,
        ...IDeviceStaking__factory.abi,
        ...IFraudProofs__factory.abi,
        ...DeviceRegistry__factory.abi.filter(
          (e) => e.type === "error" && e.name.startsWith("AccessControl"),
        ),
      ]
        .filter((e) => e.type === "error")
        .map((e) => (e as { name: string }).name);
      assert.ok(names.length >= 65);
      for (const name of names)
        assert.ok(EXPLAINED_ERRORS.includes(name), `${name} has no explanation`);
    });

    it("decodes an expired registration into the deadline and what to do", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const store = SoftwareKeyStore.generate("secp256k1");
      const past = (await deadlineIn(0)) - 100n;
      const err = await rejection(
        registerDevice({
          registry: f.asOperator,
          device: store,
          operator: f.operator.address,
          deadline: past,
          model: MODEL,
          endorsement: { maker: f.makerId, signature: "0x" },
        }),
      );
      assert.ok(err instanceof DeviceTrustError);
      assert.equal(err.code, "DeviceRegistryExpired");
      assert.equal(err.args[0], past);
      assert.match(
        err.message,
        new RegExp(
          `^DeviceRegistryExpired\\(${past.toString()}, \\d+\\): the signed deadline ${past.toString()} \\(`,
        ),
      );
      assert.match(err.message, /sign a new message with a later --deadline$/);
    });

    it("decodes AccessControl's missing role with the role's name", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const err = await rejection(f.asOther.addMaker(f.other.address, "Mallory"));
      assert.equal(err.code, "AccessControlUnauthorizedAccount");
      assert.match(
        err.message,
        new RegExp(`${f.other.address} lacks GOVERNOR_ROLE: send this from a governance account`),
      );
    });

    it("decodes a wrong operator and an unknown device", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const { deviceId } = await registeredDevice(f);
      const notOperator = await rejection(f.asOther.decommission(deviceId));
      assert.equal(notOperator.code, "DeviceRegistryNotOperator");
      assert.match(
        notOperator.message,
        /is not the operator of device .*: send this from the operator's account/,
      );
      const unknown = await rejection(
        f.asOperator.suspend(ethers.ZeroHash, encodeBytes32String("x")),
      );
      assert.equal(unknown.code, "DeviceRegistryUnknownDevice");
    });

    it("decodes DeviceKeyLib's high-s rejection from inside the registry", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const store = SoftwareKeyStore.generate("p256");
      const deviceId = deviceIdOf(store.deviceKey);
      const domain = await registryDomain(f.asOperator);
      const deadline = await deadlineIn(3600);
      const d = digest(domain, "Register", {
        deviceId,
        operator: f.operator.address as `0x${string}`,
        nonce: 0n,
        deadline,
      });
      const low = decodeSignature(KeyType.P256, await store.signDigest(d));
      const high = encodeSignature(KeyType.P256, { r: low.r, s: CURVE_ORDER.p256 - low.s });
      const err = await rejection(
        f.asOperator.register(
          {
            key: store.deviceKey,
            operator: f.operator.address,
            model: MODEL,
            deadline,
            signature: high,
          },
          f.makerId,
          "0x",
        ),
      );
      assert.equal(err.code, "DeviceKeyHighS");
      assert.match(err.message, /normalize it to low-s/);
    });

    it("explains the TPM and PSA appraisers' errors, their parsers' included", function () {
      for (const abi of [
        ITpmAttestation__factory.abi,
        IPsaAttestation__factory.abi,
        TpmAttestation__factory.abi,
        PsaAttestation__factory.abi,
      ]) {
        for (const e of abi.filter((x) => x.type === "error"))
          assert.ok(EXPLAINED_ERRORS.includes(e.name), `${e.name} has no sentence`);
      }
      const tpm = TpmAttestation__factory.createInterface();
      const clock = decodeContractError({
        data: tpm.encodeErrorResult("TpmAttestationClockWentBack", [`0x${"11".repeat(32)}`, 5, 5]),
      });
      assert.equal(clock?.code, "TpmAttestationClockWentBack");
      assert.match(clock.message, /take a fresh quote a second later/);
      // A parser's error (TpmQuoteLib's) decodes by name with its arguments.
      const magic = decodeContractError({
        data: tpm.encodeErrorResult("TpmQuoteBadMagic", [0xfe544347]),
      });
      assert.equal(magic?.code, "TpmQuoteBadMagic");
      const psa = PsaAttestation__factory.createInterface();
      const lifecycle = decodeContractError({
        data: psa.encodeErrorResult("PsaAttestationUntrustedLifecycle", [
          `0x${"22".repeat(32)}`,
          0x2000,
        ]),
      });
      assert.match(lifecycle?.message ?? "", /lifecycle 0x2000, which is not secured/);
      assert.equal(
        decodeContractError({ data: psa.encodeErrorResult("PsaTokenNoSoftwareComponents", []) })
          ?.code,
        "PsaTokenNoSoftwareComponents",
      );
      const algorithm = decodeContractError({
        data: psa.encodeErrorResult("PsaTokenWrongAlgorithm", [-35]),
      });
      assert.match(algorithm?.message ?? "", /COSE algorithm -35, not ES256 \(-7\)/);
      assert.match(magic.message, /magic is 0xfe544347, not TPM_GENERATED_VALUE/);
    });

    it("keeps DeviceTrust errors and wraps anything else", function () {
      const own = new DeviceTrustError("X", "do this");
      assert.equal(explainError(own), own);
      const wrapped = explainError(new Error("socket hang up"));
      assert.equal(wrapped.code, "UNEXPECTED");
      assert.equal(wrapped.message, "socket hang up");
      assert.equal(decodeContractError({ data: "0xdeadbeef" }), undefined);
    });
  });
});
