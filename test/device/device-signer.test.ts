import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Wallet, recoverAddress } from "ethers";
import { DeviceSigner, signEndorsement, type Signed } from "../../src/device/device-signer.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import {
  KeyType,
  deviceIdOf,
  digest,
  keyHash,
  toHex,
  type Curve,
  type Domain,
  type Hex,
  type MessageKind,
} from "../../src/protocol/index.js";
import { checkDeviceSignature } from "../../src/verify/signature.js";

const DOMAIN: Domain = {
  chainId: 31337n,
  verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
};
const OTHER_CHAIN: Domain = { ...DOMAIN, chainId: 1n };
const OPERATOR: Hex = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
const CURVES: readonly Curve[] = ["p256", "secp256k1"];

function bytes32(): Hex {
  return toHex(randomBytes(32));
}

/** The digest is the protocol's, and the signature is valid for it under the contract's rules. */
function assertSignedCorrectly<K extends MessageKind>(
  signed: Signed<K>,
  domain: Domain = DOMAIN,
): void {
  assert.equal(signed.digest, digest(domain, signed.kind, signed.message));
  assert.equal(checkDeviceSignature(signed.key, signed.digest, signed.signature), "valid");
}

describe("DeviceSigner", function () {
  for (const curve of CURVES) {
    describe(`constructor (${curve})`, function () {
      it("derives the device id from the key store's key when none is given", function () {
        const store = SoftwareKeyStore.generate(curve);
        const signer = new DeviceSigner(store, DOMAIN);
        assert.equal(signer.deviceId, deviceIdOf(store.deviceKey));
        assert.deepEqual(signer.key, store.deviceKey);
      });

      it("keeps an explicit device id after the key changes (rotation)", async function () {
        const first = SoftwareKeyStore.generate(curve);
        const rotated = SoftwareKeyStore.generate(curve);
        const id = deviceIdOf(first.deviceKey);
        const signer = new DeviceSigner(rotated, DOMAIN, id);
        assert.equal(signer.deviceId, id);
        assert.notEqual(signer.deviceId, deviceIdOf(rotated.deviceKey));
        const reading = await signer.signReading({
          feedId: bytes32(),
          sequence: 1n,
          timestamp: 2n,
          value: 3n,
        });
        assert.equal(reading.message.deviceId, id);
        assert.deepEqual(reading.key, rotated.deviceKey);
        assertSignedCorrectly(reading);
      });
    });

    describe(`signRegister (${curve})`, function () {
      it("binds the device to the operator with nonce 0 by default", async function () {
        const signer = new DeviceSigner(SoftwareKeyStore.generate(curve), DOMAIN);
        const signed = await signer.signRegister(OPERATOR, 1_000n);
        assert.deepEqual(signed.message, {
          deviceId: signer.deviceId,
          operator: OPERATOR,
          nonce: 0n,
          deadline: 1_000n,
        });
        assertSignedCorrectly(signed);
      });

      it("signs under the domain's chain: the signature is not valid for another chain", async function () {
        const signer = new DeviceSigner(SoftwareKeyStore.generate(curve), DOMAIN);
        const signed = await signer.signRegister(OPERATOR, 1_000n);
        const elsewhere = digest(OTHER_CHAIN, "Register", signed.message);
        assert.notEqual(elsewhere, signed.digest);
        assert.equal(checkDeviceSignature(signed.key, elsewhere, signed.signature), "wrong-signer");
      });
    });

    describe(`signRotateKey (${curve})`, function () {
      it("commits to the new key's hash, and both keys can sign it", async function () {
        const current = new DeviceSigner(SoftwareKeyStore.generate(curve), DOMAIN);
        const nextStore = SoftwareKeyStore.generate(curve === "p256" ? "secp256k1" : "p256");
        const next = new DeviceSigner(nextStore, DOMAIN, current.deviceId);
        const a = await current.signRotateKey(nextStore.deviceKey, 0n, 9n);
        const b = await next.signRotateKey(nextStore.deviceKey, 0n, 9n);
        assert.equal(a.message.newKeyHash, keyHash(nextStore.deviceKey));
        assert.equal(a.digest, b.digest);
        assertSignedCorrectly(a);
        assertSignedCorrectly(b);
      });
    });

    describe(`signCommitPqKey (${curve})`, function () {
      it("signs the commitment to a post-quantum key, unrecorded (signing it twice proves nothing)", async function () {
        const signer = new DeviceSigner(SoftwareKeyStore.generate(curve), DOMAIN);
        const commitment = bytes32();
        const signed = await signer.signCommitPqKey(1, commitment, 1_800_000_000n);
        assert.deepEqual(signed.message, {
          deviceId: signer.deviceId,
          scheme: 1,
          commitment,
          deadline: 1_800_000_000n,
        });
        assertSignedCorrectly(signed);
      });

      it("refuses the messages a post-quantum key signs, saying which key signs them", async function () {
        const signer = new DeviceSigner(SoftwareKeyStore.generate(curve), DOMAIN);
        const id = signer.deviceId;
        await assert.rejects(
          signer.sign("RecoverKey", {
            deviceId: id,
            newKeyHash: bytes32(),
            nonce: 0n,
            deadline: 1n,
          }),
          /RecoverKey is signed by a post-quantum key/,
        );
        await assert.rejects(
          signer.sign("FirmwareRelease", {
            maker: 1,
            model: 2,
            version: "1",
            measurement: bytes32(),
          }),
          /FirmwareRelease is signed by a post-quantum key/,
        );
      });
    });

    describe(`signAttestation (${curve})`, function () {
      it("signs the evidence under the device id", async function () {
        const signer = new DeviceSigner(SoftwareKeyStore.generate(curve), DOMAIN);
        const evidence = {
          measurement: bytes32(),
          challenge: bytes32(),
          timestamp: 1_700_000_000n,
          bootCount: 7n,
        };
        const signed = await signer.signAttestation(evidence);
        assert.deepEqual(signed.message, { deviceId: signer.deviceId, ...evidence });
        assertSignedCorrectly(signed);
      });
    });

    describe(`signReading (${curve})`, function () {
      it("signs a negative value as int256", async function () {
        const signer = new DeviceSigner(SoftwareKeyStore.generate(curve), DOMAIN);
        const signed = await signer.signReading({
          feedId: bytes32(),
          sequence: 42n,
          timestamp: 1n,
          value: -273_15n,
        });
        assert.equal(signed.message.value, -27315n);
        assertSignedCorrectly(signed);
      });
    });

    describe(`signReadingBatch (${curve})`, function () {
      it("signs the batch header", async function () {
        const signer = new DeviceSigner(SoftwareKeyStore.generate(curve), DOMAIN);
        const signed = await signer.signReadingBatch({
          feedId: bytes32(),
          firstSequence: 10n,
          lastSequence: 19n,
          count: 10n,
          fromTimestamp: 100n,
          toTimestamp: 190n,
          root: bytes32(),
        });
        assert.equal(signed.kind, "ReadingBatch");
        assertSignedCorrectly(signed);
      });
    });
  }
});

describe("signEndorsement", function () {
  it("returns the maker's Ethereum signature over Endorse{deviceId, model}", async function () {
    const wallet = Wallet.createRandom();
    const maker = {
      address: wallet.address.toLowerCase() as Hex,
      signDigest: (d: Hex): Promise<Hex> =>
        Promise.resolve(wallet.signingKey.sign(d).serialized as Hex),
    };
    const deviceId = deviceIdOf(SoftwareKeyStore.generate("p256").deviceKey);
    const signed = await signEndorsement(maker, DOMAIN, deviceId, 7);
    assert.equal(signed.digest, digest(DOMAIN, "Endorse", { deviceId, model: 7 }));
    assert.equal(signed.key.keyType, KeyType.Secp256k1);
    assert.equal(recoverAddress(signed.digest, signed.signature), wallet.address);
    assert.equal(checkDeviceSignature(signed.key, signed.digest, signed.signature), "valid");
  });
});
