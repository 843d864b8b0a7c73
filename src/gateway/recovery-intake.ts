import { getAddress, isCallException } from "ethers";
import type { Logger } from "pino";
import { requireDeviceTrustContract } from "../client/contract-check.js";
import { decodePqError } from "../client/pq-errors.js";
import { recoveryStateOf, submitKeyRecovery, type PqKeyRecovery } from "../client/pq-recovery.js";
import type { DeviceRegistry } from "../client/registry.js";
import {
  digest,
  errorMessage,
  keyHash,
  type Domain,
  type Hex,
  type PqSchemeName,
} from "../protocol/index.js";
import type { LogLimiter } from "../service/log-limiter.js";
import {
  PqRecoveryError,
  parsePqRecoveryRequest,
  pqRecoveryRequestToJson,
  verifyPqRecovery,
  type PqRecoveryCheck,
  type PqRecoveryRequest,
} from "../verify/pq.js";
import { DeviceRateLimiter, type RateLimit } from "./admission.js";
import type { GatewayMetrics, RecoveryResult } from "./metrics.js";
import { RecoveryRecords, type RecoveryRecord } from "./recovery-records.js";
import { GatewayError } from "./types.js";

/** What a gateway needs to take post-quantum key recovery requests (GatewayOptions.pqRecovery). */
export interface PqRecoveryOptions {
  /**
   * PqKeyRecovery, connected to the account that pays for LMS recoveries (runGateway: the gateway's
   * signer). It must recover the devices of the gateway's registry.
   */
  readonly recovery: PqKeyRecovery;
  /** The registry (the gateway's domain): each device's nonce and key are read from it. */
  readonly registry: DeviceRegistry;
  /** The JSON-lines record of handled requests (RecoveryRecords): created with its folder if absent. */
  readonly recordPath: string;
  /** The largest request payload accepted, in bytes (default 32768: the largest LMS signature fits). */
  readonly maxBytes?: number;
  /**
   * Each device's allowance of recovery requests that reach the chain (default 3 at once, then one a
   * minute), or false for none. Duplicates of a handled request cost nothing and take none.
   */
  readonly rate?: RateLimit | false;
}

/** Why a recovery request is dropped before the chain: a PqRecoveryError problem, or one of these. */
export type RecoveryRejectReason =
  | PqRecoveryError["problem"]
  | "malformed"
  | "oversize"
  | "topic_mismatch"
  | "rate_limited"
  | "recovery_off";

export const DEFAULT_RECOVERY_MAX_BYTES = 32_768;
const DEFAULT_RECOVERY_RATE: RateLimit = { perSecond: 1 / 60, burst: 3 };

/** A verified ML-DSA-44 request waiting for governance (the gateway's GET /recoveries). */
export interface PendingRecovery extends RecoveryRecord {
  readonly result: "verified";
}

/**
 * The gateway's side of post-quantum key recovery (PqKeyRecovery): a request on
 * `dt/devicetrust/recovery/<deviceId>` is size-limited, parsed, deduplicated (by its RecoverKey
 * digest: the same request twice is handled once, across restarts), rate-limited per device, then
 * checked with verifyPqRecovery against the device's commitment, registry nonce and the latest block's
 * time, all read from chain. A request that fails is dropped with its PqRecoveryError problem and is
 * never sent: the gateway's account pays only for requests that verify. Then
 * - LMS: sent to PqKeyRecovery.recoverKey (submitKeyRecovery) by the gateway's account; counted as
 *   recovered once the receipt is in, or as refused with the decoded custom error when the chain
 *   refuses it (the chain moved between the check and the send: the deadline passed, the new key was
 *   taken, the recovery already done);
 * - ML-DSA-44, which no contract verifies until the EVM has a precompile: verified here with node:crypto
 *   (verifyPqRecovery) and recorded for governance, who acts through the registry's KEY_RECOVERY_ROLE.
 * Either way the outcome is appended, fsynced, to the record file before the message is acknowledged.
 * A chain that cannot be asked (a node down) throws: the message is not acknowledged and comes back.
 */
export class PqRecoveryIntake {
  private readonly options: PqRecoveryOptions;
  private readonly domain: Domain;
  private readonly metrics: GatewayMetrics;
  private readonly log: Logger;
  private readonly rejectLog: LogLimiter;
  private readonly limiter: DeviceRateLimiter | undefined;
  private readonly maxBytes: number;
  private records: RecoveryRecords | undefined;
  /** Requests being handled, by digest: a copy that arrives meanwhile waits for the first. */
  private readonly inHand = new Map<string, Promise<boolean>>();

  constructor(
    options: PqRecoveryOptions,
    deps: {
      readonly domain: Domain;
      readonly metrics: GatewayMetrics;
      readonly log: Logger;
      readonly rejectLog: LogLimiter;
    },
  ) {
    this.options = options;
    this.domain = deps.domain;
    this.metrics = deps.metrics;
    this.log = deps.log;
    this.rejectLog = deps.rejectLog;
    this.maxBytes = options.maxBytes ?? DEFAULT_RECOVERY_MAX_BYTES;
    const rate = options.rate ?? DEFAULT_RECOVERY_RATE;
    this.limiter = rate === false ? undefined : new DeviceRateLimiter(rate);
  }

  /** Checks that PqKeyRecovery recovers the gateway's registry, and opens the record file. */
  async open(): Promise<void> {
    if (this.records !== undefined) return;
    const address = (await this.options.recovery.getAddress()) as Hex;
    const provider = this.options.recovery.runner?.provider;
    if (provider === null || provider === undefined) {
      throw new GatewayError(
        "GATEWAY_BAD_OPTIONS",
        "the PqKeyRecovery contract has no provider: connect it to the gateway's signer",
      );
    }
    await requireDeviceTrustContract(provider, address, "PqKeyRecovery", "--pq-key-recovery");
    const recovers = getAddress(await this.options.recovery.registry());
    const registry = getAddress(this.domain.verifyingContract);
    if (recovers !== registry) {
      throw new GatewayError(
        "GATEWAY_BAD_OPTIONS",
        `PqKeyRecovery ${await this.options.recovery.getAddress()} recovers the devices of registry ${recovers}, not of the gateway's ${registry}: check --pq-key-recovery`,
      );
    }
    this.records = await RecoveryRecords.open(this.options.recordPath);
  }

  /** Waits for the requests in hand, then closes the record file. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.inHand.values()]);
    await this.records?.close();
    this.records = undefined;
  }

  /** The record file's path. */
  get recordPath(): string {
    return this.options.recordPath;
  }

  /** Every handled request, in order (the record file's lines). */
  handled(): RecoveryRecord[] {
    return this.records?.all() ?? [];
  }

  /** The verified ML-DSA-44 requests whose deadline has not passed at `nowSeconds`: for governance. */
  pending(nowSeconds: bigint): PendingRecovery[] {
    return this.handled().filter(
      (r): r is PendingRecovery =>
        r.result === "verified" && BigInt(r.request.deadline) >= nowSeconds,
    );
  }

  /**
   * pending(), less the requests governance can no longer apply: those whose device's registry nonce moved
   * past the one the new key signed (the request was applied, or the device's key changed since), read
   * from the registry now.
   */
  async applicable(nowSeconds: bigint): Promise<PendingRecovery[]> {
    const pending = this.pending(nowSeconds);
    const nonces = await Promise.all(
      pending.map(async (r) => (await this.options.registry.deviceInfo(r.deviceId)).nonce),
    );
    return pending.filter((r, i) => nonces[i] === BigInt(r.request.registryNonce));
  }

  /**
   * Handles one message of `dt/devicetrust/recovery/<deviceId>`; resolves true when it may be
   * acknowledged (handled, or dropped for good), rejects when the chain could not be asked.
   */
  async handle(topic: string, deviceId: Hex, payload: Buffer): Promise<boolean> {
    const records = this.records;
    if (records === undefined) {
      throw new GatewayError("GATEWAY_NOT_STARTED", "open() the recovery intake first");
    }
    if (payload.length > this.maxBytes) {
      return this.reject("unknown", "oversize", { topic, bytes: payload.length });
    }
    let request: PqRecoveryRequest;
    let requestDigest: Hex;
    try {
      request = parsePqRecoveryRequest(JSON.parse(payload.toString("utf8")));
      requestDigest = this.digestOf(request);
    } catch (err: unknown) {
      return this.reject("unknown", "malformed", { topic, err: errorMessage(err) });
    }
    const { scheme } = request;
    if (request.deviceId.toLowerCase() !== deviceId) {
      return this.reject(scheme, "topic_mismatch", { topic });
    }
    // A copy of a request in hand waits for it: if that one is handled, this one is a duplicate.
    for (let first = this.inHand.get(requestDigest); first !== undefined;) {
      await first.catch(() => undefined);
      first = this.inHand.get(requestDigest);
    }
    if (records.has(requestDigest)) {
      this.count(scheme, "duplicate");
      return true;
    }
    if (this.limiter?.take(deviceId) === false) {
      return this.reject(scheme, "rate_limited", { topic, digest: requestDigest });
    }
    const work = this.process(request, requestDigest, topic);
    this.inHand.set(requestDigest, work);
    try {
      return await work;
    } catch (err: unknown) {
      this.count(scheme, "error");
      this.log.error(
        { event: "recovery_error", topic, digest: requestDigest, err: errorMessage(err) },
        "recovery request not handled (the chain could not be asked): the broker redelivers it",
      );
      throw err;
    } finally {
      this.inHand.delete(requestDigest);
    }
  }

  /** The RecoverKey digest the request's post-quantum signature is over. */
  private digestOf(request: PqRecoveryRequest): Hex {
    return digest(this.domain, "RecoverKey", {
      deviceId: request.deviceId,
      newKeyHash: keyHash(request.newKey),
      nonce: request.nonce,
      deadline: request.deadline,
    }).toLowerCase() as Hex;
  }

  private async process(
    request: PqRecoveryRequest,
    requestDigest: Hex,
    topic: string,
  ): Promise<boolean> {
    const { recovery, registry } = this.options;
    // Read errors (a node down) are thrown: the message is not acknowledged and comes back.
    const state = await recoveryStateOf(recovery, registry, request.deviceId, this.domain);
    let check: PqRecoveryCheck;
    try {
      check = verifyPqRecovery(request, state.context);
    } catch (err: unknown) {
      const fields = { topic, digest: requestDigest, err: errorMessage(err) };
      if (err instanceof PqRecoveryError) return this.reject(request.scheme, err.problem, fields);
      // A public key that matches the commitment and is no key of its scheme: nothing verifies it.
      return this.reject(request.scheme, "malformed", fields);
    }
    const base = {
      digest: requestDigest,
      scheme: request.scheme,
      deviceId: request.deviceId.toLowerCase() as Hex,
      newKeyHash: check.newKeyHash,
      rotateDigest: check.rotateDigest,
      request: pqRecoveryRequestToJson(request),
    };
    if (request.scheme === "ml-dsa-44") {
      await this.record({ ...base, result: "verified", at: new Date().toISOString() });
      this.count(request.scheme, "recorded");
      this.log.info(
        { event: "recovery_recorded", deviceId: base.deviceId, digest: requestDigest, topic },
        "ML-DSA-44 recovery request verified and recorded for governance",
      );
      return true;
    }
    try {
      const tx = await submitKeyRecovery(recovery, {
        request,
        check,
        leaf: null,
        oldKeyHash: state.oldKeyHash,
      });
      await this.record({
        ...base,
        result: "recovered",
        at: new Date().toISOString(),
        txHash: tx.txHash,
        blockNumber: tx.blockNumber,
      });
      this.count(request.scheme, "recovered");
      this.log.info(
        {
          event: "recovery_recovered",
          deviceId: base.deviceId,
          digest: requestDigest,
          txHash: tx.txHash,
          newKeyHash: tx.newKeyHash,
        },
        "device recovered to its new key on chain (LMS)",
      );
    } catch (err: unknown) {
      // A revert, at estimation or mined: decoded when it carries its custom error. Anything else
      // (the node did not answer) is no verdict: thrown, the message comes back.
      const refusal = decodePqError(err);
      const reason = refusal?.code ?? (isCallException(err) ? "reverted" : undefined);
      if (reason === undefined) throw err;
      const message = refusal?.message ?? errorMessage(err);
      await this.record({
        ...base,
        result: "refused",
        at: new Date().toISOString(),
        reason,
        message,
      });
      this.count(request.scheme, "refused");
      this.metrics.recoveryRefused.inc({ reason });
      this.log.warn(
        {
          event: "recovery_refused",
          deviceId: base.deviceId,
          digest: requestDigest,
          reason,
          err: message,
        },
        `LMS recovery request verified, and refused by the chain: ${reason}`,
      );
    }
    return true;
  }

  private async record(record: RecoveryRecord): Promise<void> {
    if (this.records === undefined) {
      throw new GatewayError("GATEWAY_NOT_STARTED", "open() the recovery intake first");
    }
    await this.records.append(record);
  }

  private count(scheme: PqSchemeName | "unknown", result: RecoveryResult): void {
    this.metrics.recoveryRequests.inc({ scheme, result });
  }

  private reject(
    scheme: PqSchemeName | "unknown",
    reason: RecoveryRejectReason,
    fields: object,
  ): boolean {
    this.metrics.recoveryRequests.inc({ scheme, result: "rejected" });
    this.metrics.recoveryRejected.inc({ reason });
    this.rejectLog.info(
      `recovery:${reason}`,
      { event: "recovery_rejected", reason, scheme, ...fields },
      `recovery request dropped: ${reason}`,
    );
    return true;
  }
}

/** Counts and logs a recovery message a gateway without PqKeyRecovery drops (recovery_off). */
export function dropRecoveryOff(
  metrics: GatewayMetrics,
  rejectLog: LogLimiter,
  topic: string,
): true {
  metrics.recoveryRequests.inc({ scheme: "unknown", result: "rejected" });
  metrics.recoveryRejected.inc({ reason: "recovery_off" });
  rejectLog.info(
    "recovery:recovery_off",
    { event: "recovery_rejected", reason: "recovery_off", topic },
    "recovery request dropped: recovery_off (this gateway has no --pq-key-recovery)",
  );
  return true;
}
