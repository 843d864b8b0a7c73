import assert from "node:assert/strict";
import { AbiCoder, Wallet, dataLength, keccak256, parseEther, type ErrorFragment } from "ethers";
import {
  EXPLAINED_ACCOUNT_ERRORS,
  EXPLAINED_ERRORS,
  NATIVE,
  UserOperationFailedError,
  accountCallData,
  accountInterface,
  accountSalt,
  buildAccountSetup,
  changeId,
  contractCall,
  decodeAccountCallData,
  decodeAccountRevertData,
  describeChange,
  deviceOfSigner,
  dummyAccountSignature,
  entryPointInterface,
  erc20Approve,
  failedOp,
  nativePayment,
  setTokenLimitsData,
  setupFromJson,
  setupToJson,
  signAccountOperation,
  simulationRevert,
  unlockAccount,
  walletHashSigner,
  BundlerError,
} from "../../src/client/index.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { InvalidInputError, deviceIdOf, type Hex } from "../../src/protocol/index.js";

const verifier = Wallet.createRandom().address;
const operator = Wallet.createRandom();
const token = Wallet.createRandom().address;
const seller = Wallet.createRandom().address;

describe("client: machine accounts (offline)", function () {
  describe("buildAccountSetup", function () {
    it("defaults: weight 1 per device, the operator weighing the high threshold (every device), low 1", function () {
      const ids = [keccak256("0x01"), keccak256("0x02")];
      const setup = buildAccountSetup({
        verifier,
        devices: ids,
        operator: operator.address,
        tokens: [{ token, periodCap: 100n }],
        counterparties: [{ token, counterparty: seller }],
      });
      assert.deepEqual(setup.weights, [1n, 1n, 2n]);
      assert.equal(setup.lowThreshold, 1n);
      assert.equal(setup.config.highThreshold, 2n);
      assert.equal(deviceOfSigner(setup.signers[0] as string, verifier), ids[0]);
      assert.equal(setup.signers[2], operator.address.toLowerCase());
      assert.deepEqual(setup.tokens[0]?.limits, {
        periodCap: 100n,
        perCallCap: 100n,
        period: 86_400n,
        velocityWindow: 3_600n,
      });
      assert.deepEqual(setup.counterparties[0]?.limits, {
        periodCap: 100n,
        perCallCap: 100n,
        allowed: true,
      });
      assert.deepEqual(setupFromJson(JSON.parse(JSON.stringify(setupToJson(setup)))), setup);
    });

    it("refuses unreachable thresholds, duplicates, counterparties of tokens outside the policy", function () {
      const id = keccak256("0x01");
      const base = { verifier, operator: operator.address };
      assert.throws(() => buildAccountSetup({ ...base, devices: [] }), InvalidInputError);
      assert.throws(() => buildAccountSetup({ ...base, devices: [id, id] }), /twice/);
      assert.throws(
        () => buildAccountSetup({ ...base, devices: [id], highThreshold: 5n, operatorWeight: 0n }),
        /0 < low < high <= total/,
      );
      // A high threshold equal to the low one would let a device pay outside the policy.
      assert.throws(
        () => buildAccountSetup({ ...base, devices: [id], highThreshold: 1n }),
        /0 < low < high <= total/,
      );
      // One device: the default high threshold is above it (the operator alone reaches it).
      const one = buildAccountSetup({ ...base, devices: [id] });
      assert.equal(one.config.highThreshold, 2n);
      assert.deepEqual(one.weights, [1n, 2n]);
      assert.throws(
        () =>
          buildAccountSetup({
            ...base,
            devices: [id],
            counterparties: [{ token, counterparty: seller }],
          }),
        /not in the policy/,
      );
      assert.equal(accountSalt("charger-1"), keccak256(new TextEncoder().encode("charger-1")));
      assert.throws(() => accountSalt(""), InvalidInputError);
    });
  });

  describe("calls", function () {
    it("encodes executeUserOp ‖ batch mode ‖ Execution[] and decodes it back", function () {
      const batch = [
        erc20Approve(token, seller, 5n),
        nativePayment(seller, parseEther("1")),
        contractCall(seller, "0x12345678"),
      ];
      const data = accountCallData(batch);
      assert.equal(data.slice(0, 10), accountInterface.getFunction("executeUserOp").selector);
      assert.equal(data.slice(10, 74), `01${"00".repeat(31)}`);
      assert.deepEqual(decodeAccountCallData(data), batch);
      assert.throws(() => accountCallData([]), InvalidInputError);
      assert.throws(() => decodeAccountCallData("0x12345678"), InvalidInputError);
      assert.match(unlockAccount(seller).callData, /^0xa69df4b5/);
    });

    it("describes a change's setter and keys it by keccak256", function () {
      const data = setTokenLimitsData(NATIVE, {
        periodCap: 1n,
        perCallCap: 1n,
        period: 60n,
        velocityWindow: 0n,
      });
      assert.equal(changeId(data), keccak256(data));
      assert.deepEqual(describeChange(data), {
        setter: "setTokenLimits",
        args: {
          token: NATIVE,
          limits: { periodCap: 1n, perCallCap: 1n, period: 60n, velocityWindow: 0n },
        },
      });
    });
  });

  describe("signatures", function () {
    it("sorts signers by keccak256 and gives the dummy the real signature's shape", async function () {
      const p256 = SoftwareKeyStore.generate("p256");
      const k1 = SoftwareKeyStore.generate("secp256k1");
      const signers = {
        verifier,
        devices: [
          { deviceId: deviceIdOf(p256.deviceKey), store: p256 },
          { deviceId: deviceIdOf(k1.deviceKey), store: k1 },
        ],
        operator: walletHashSigner(operator),
      };
      const hash = keccak256("0xabcd") as Hex;
      const real = await signAccountOperation(hash, signers);
      const dummy = dummyAccountSignature(signers);
      assert.equal(dataLength(dummy), dataLength(real));
      const [list, sigs] = AbiCoder.defaultAbiCoder().decode(
        ["bytes[]", "bytes[]"],
        real,
      ) as unknown as [string[], string[]];
      const hashes = list.map((s) => BigInt(keccak256(s)));
      assert.deepEqual(
        hashes,
        [...hashes].sort((a, b) => (a < b ? -1 : 1)),
      );
      const blob =
        sigs[list.findIndex((s) => deviceOfSigner(s, verifier) === deviceIdOf(p256.deviceKey))];
      assert.equal(dataLength(blob ?? "0x"), 1 + 64 + 64);
      await assert.rejects(signAccountOperation(hash, { verifier }), /nobody signs/);
    });
  });

  describe("errors", function () {
    it("explains every DeviceAccount custom error", function () {
      const names = accountInterface.fragments
        .filter((f): f is ErrorFragment => f.type === "error")
        .map((f) => f.name);
      // OpenZeppelin internals no call of the account can meet.
      const internal = [
        "InvalidShortString",
        "StringTooLong",
        "NotInitializing",
        "OutOfRangeAccess",
        "SafeCastOverflowedUintDowncast",
      ];
      const unexplained = names.filter(
        (n) =>
          !EXPLAINED_ACCOUNT_ERRORS.includes(n) &&
          !EXPLAINED_ERRORS.includes(n) &&
          !internal.includes(n),
      );
      assert.deepEqual(unexplained, []);
      const data = accountInterface.encodeErrorResult("AccountPerCallCapExceeded", [token, 5n, 4n]);
      assert.equal(decodeAccountRevertData(data)?.code, "AccountPerCallCapExceeded");
    });

    it("turns FailedOp and a bundler's simulation revert into typed errors", function () {
      const failed = failedOp({
        data: entryPointInterface.encodeErrorResult("FailedOp", [0n, "AA24 signature error"]),
      });
      assert.ok(failed instanceof UserOperationFailedError);
      assert.equal(failed.entryPointCode, "AA24");
      assert.match(failed.message, /current key as the account knows it/);
      const revert = accountInterface.encodeErrorResult("AccountTokenNotInPolicy", [token]);
      const simulated = simulationRevert(
        new BundlerError(
          "BUNDLER_EXECUTION_REVERTED",
          "eth_estimateUserOperationGas",
          `reverted with reason: ${revert}`,
        ),
        seller as Hex,
      );
      assert.ok(simulated !== undefined);
      assert.equal(simulated.code, "AccountTokenNotInPolicy");
      assert.equal(simulated.stage, "simulation");
    });
  });
});
