import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { AbiCoder } from "ethers";
import {
  type KeyType,
  deviceKey,
  digest,
  domainSeparator,
  keyHash,
  structHash,
  typeHash,
  MESSAGE_KINDS,
  EIP712_TYPES,
  type Domain,
  type Hex,
  type MessageKind,
  type MessageTypes,
} from "../../src/protocol/index.js";
import { checkDeviceSignature } from "../../src/verify/signature.js";

interface VectorFile {
  domain: { chainId: number; verifyingContract: Hex; separator: Hex };
  keys: Record<"p256" | "secp256k1", { keyType: KeyType; key: Hex; keyHash: Hex; deviceId: Hex }>;
  messages: Record<
    MessageKind,
    {
      typeHash: Hex;
      encoded: Hex;
      structHash: Hex;
      digest: Hex;
      signatures: Record<"p256" | "secp256k1", Hex>;
    }
  >;
}

const vectors = JSON.parse(readFileSync("test/fixtures/vectors.json", "utf8")) as VectorFile;
const domain: Domain = {
  chainId: BigInt(vectors.domain.chainId),
  verifyingContract: vectors.domain.verifyingContract,
};

/** Rebuilds a message object from the ABI-encoded fields stored in the fixture. */
function decodeMessage<K extends MessageKind>(kind: K, encoded: Hex): MessageTypes[K] {
  const fields = EIP712_TYPES[kind];
  const values = AbiCoder.defaultAbiCoder().decode(
    fields.map((f) => f.type),
    encoded,
  );
  const message: Record<string, unknown> = {};
  fields.forEach((f, i) => {
    const v: unknown = values[i];
    message[f.name] = typeof v === "string" ? v.toLowerCase() : v;
  });
  if (kind === "Endorse") message.model = Number(message.model);
  return message as unknown as MessageTypes[K];
}

describe("protocol vectors (test/fixtures/vectors.json)", () => {
  it("are current: the domain separator is rebuilt from src/protocol", () => {
    assert.equal(domainSeparator(domain), vectors.domain.separator);
  });

  it("are current: key hashes are rebuilt from src/protocol", () => {
    for (const k of Object.values(vectors.keys)) {
      assert.equal(keyHash(deviceKey(k.keyType, k.key)), k.keyHash);
    }
  });

  for (const kind of MESSAGE_KINDS) {
    describe(kind, () => {
      const v = vectors.messages[kind];
      it("has the same type hash, struct hash and digest as src/protocol builds", () => {
        const message = decodeMessage(kind, v.encoded);
        assert.equal(typeHash(kind), v.typeHash);
        assert.equal(structHash(kind, message), v.structHash);
        assert.equal(digest(domain, kind, message), v.digest);
      });

      it("carries signatures that src/verify accepts for both curves", () => {
        for (const curve of ["p256", "secp256k1"] as const) {
          const k = vectors.keys[curve];
          assert.equal(
            checkDeviceSignature(deviceKey(k.keyType, k.key), v.digest, v.signatures[curve]),
            "valid",
          );
        }
      });
    });
  }
});
