import {
  deviceIdOf,
  digest,
  keyHash,
  type DeviceKey,
  type Domain,
  type Hex,
  type MessageKind,
  type MessageTypes,
} from "../protocol/index.js";
import { checkDeviceSignature, type SignatureVerdict } from "./signature.js";

export type MessageVerdict = SignatureVerdict | "expired" | "wrong-device";

export interface SignedMessage<K extends MessageKind> {
  readonly kind: K;
  readonly message: MessageTypes[K];
  readonly key: DeviceKey;
  readonly signature: Hex;
}

export interface VerifyOptions {
  /** Unix seconds to judge deadlines against (the chain's latest block time, for a gateway). */
  readonly now?: bigint;
  /**
   * The key hash the registry holds for the device. Without it, only a device's first key is accepted
   * (its hash is the device id); pass it for devices whose key was rotated.
   */
  readonly currentKeyHash?: Hex;
}

/**
 * Checks a signed device message with the registry's rules, off chain: the digest is rebuilt from the
 * message under the deployment's domain; the key must be the device's (its id, or the rotated key hash
 * the caller passes); deadlines of Register and RotateKey must not have passed; the signature must be
 * canonical and by that key. The first failing rule is the verdict.
 */
export function verifySignedMessage<K extends MessageKind>(
  domain: Domain,
  signed: SignedMessage<K>,
  options: VerifyOptions = {},
): MessageVerdict {
  const message = signed.message;
  if ("deviceId" in message && signed.kind !== "Endorse") {
    const expected = options.currentKeyHash ?? message.deviceId;
    const actual =
      options.currentKeyHash === undefined ? deviceIdOf(signed.key) : keyHash(signed.key);
    if (actual.toLowerCase() !== expected.toLowerCase()) return "wrong-device";
  }
  if (options.now !== undefined && "deadline" in message && options.now > message.deadline)
    return "expired";
  return checkDeviceSignature(
    signed.key,
    digest(domain, signed.kind, signed.message),
    signed.signature,
  );
}
