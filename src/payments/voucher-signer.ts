import type { KeyStore } from "../device/key-store.js";
import {
  deviceIdOf,
  digest,
  type DeviceKey,
  type Domain,
  type Hex,
  type VoucherMessage,
} from "../protocol/index.js";
import { VoucherRecordError } from "./errors.js";
import { VoucherRecord } from "./voucher-record.js";

/** A voucher as the seller's `close` and `checkpoint` take it. */
export interface SignedVoucher {
  readonly channel: Hex;
  readonly cumulativeAmount: bigint;
  readonly digest: Hex;
  readonly signature: Hex;
  /** The device key that signed (its current key): passed to the contract beside the signature. */
  readonly key: DeviceKey;
}

/**
 * The buyer device's voucher signer: signs Voucher{channel, cumulativeAmount} under the PaymentChannel
 * contract's EIP-712 domain with the device's key store (software or PKCS#11, any KeyStore), and never a
 * lower amount after a higher one for the same channel (VoucherRecord; give one opened on a file to keep
 * that across restarts, else the record lives in memory).
 */
export class VoucherSigner {
  readonly keyStore: KeyStore;
  /** {chainId, verifyingContract: the PaymentChannel contract}. */
  readonly domain: Domain;
  readonly deviceId: Hex;
  readonly record: VoucherRecord;

  constructor(keyStore: KeyStore, domain: Domain, deviceId?: Hex, record?: VoucherRecord) {
    this.keyStore = keyStore;
    this.domain = domain;
    this.deviceId = (deviceId ?? deviceIdOf(keyStore.deviceKey)).toLowerCase() as Hex;
    if (
      record !== undefined &&
      (record.deviceId !== this.deviceId ||
        record.domain.chainId !== domain.chainId ||
        record.domain.verifyingContract !== domain.verifyingContract.toLowerCase())
    ) {
      throw new VoucherRecordError(
        `the voucher record ${record.path} belongs to device ${record.deviceId} on ${record.domain.chainId.toString()}/${record.domain.verifyingContract}: open the record of this device and channel contract`,
      );
    }
    this.record = record ?? VoucherRecord.inMemory({ domain, deviceId: this.deviceId });
  }

  /**
   * Signs the running total owed on `channel`. Throws VoucherRegressionError for an amount below one
   * already signed for the channel; the record is committed before the key store signs.
   */
  async signVoucher(channel: Hex, cumulativeAmount: bigint): Promise<SignedVoucher> {
    const message: VoucherMessage = { channel, cumulativeAmount };
    const d = digest(this.domain, "Voucher", message);
    this.record.authorize(channel, cumulativeAmount);
    const signature = await this.keyStore.signDigest(d);
    this.record.remember(channel, cumulativeAmount, signature);
    return { channel, cumulativeAmount, digest: d, signature, key: this.keyStore.deviceKey };
  }

  /** The latest voucher signed for `channel` (re-signed if a crash lost its signature), if any. */
  async latest(channel: Hex): Promise<SignedVoucher | undefined> {
    const r = this.record.latest(channel);
    if (r === undefined) return undefined;
    if (r.signature === undefined) return this.signVoucher(channel, r.cumulativeAmount);
    return {
      channel,
      cumulativeAmount: r.cumulativeAmount,
      digest: digest(this.domain, "Voucher", { channel, cumulativeAmount: r.cumulativeAmount }),
      signature: r.signature,
      key: this.keyStore.deviceKey,
    };
  }
}
