import type { Signer } from "ethers";
import type { Logger } from "pino";
import { registryAt, registryDomain } from "../client/registry.js";
import { pqKeyRecoveryAt } from "../client/pq-recovery.js";
import { isCallException, type ContractRunner } from "ethers";
import { feedAddressOf, feedAt } from "../client/feeds.js";
import type { Hex } from "../protocol/index.js";
import type { KeyDirectory } from "../gateway/types.js";
import { chainDirectory } from "../watchtower/chain.js";
import { runWatchtower, type RunningWatchtower } from "../watchtower/run.js";
import { startEmbeddedBroker, type EmbeddedBroker } from "../gateway/broker.js";
import { ChainSubmitter, type ChainSubmitterOptions } from "../gateway/chain-submitter.js";
import { Gateway, type GatewayOptions } from "../gateway/gateway.js";
import type { RateLimit } from "../gateway/admission.js";
import { GatewayError } from "../gateway/types.js";
import { WatchtowerLink } from "../gateway/sink.js";
import { GatewayStore, type ReadingStatus } from "../gateway/store.js";
import { PgReadingStore } from "../gateway/pg-store.js";
import type { ReadingStore } from "../gateway/reading-store.js";
import { PgProofClaims } from "../watchtower/pg-claims.js";

/** Whether `dbPath` names a PostgreSQL database (a postgres:// or postgresql:// URL). */
export function isPostgresUrl(dbPath: string): boolean {
  return /^postgres(ql)?:\/\//i.test(dbPath);
}

/**
 * The entry point of `gateway start`: a Gateway on a deployed DeviceRegistry, submitting from `signer`
 * through a ChainSubmitter (feeds and, when given, the ReadingAnchor), its keys looked up in the
 * registry (the watchtower's chain directory), optionally mirroring every message (single readings
 * and signed batches) to an in-process watchtower that proves fraud itself, equivocation inside
 * batches included; stopped gracefully on SIGTERM or SIGINT.
 */
export interface RunGatewayOptions {
  readonly registry: string;
  /** FraudProofs (the key directory reads through it; the watchtower sends proofs to it). */
  readonly proofs: string;
  readonly anchor?: string;
  readonly signer: Signer;
  /** mqtt://host:port; without one an embedded aedes broker starts on `brokerPort`. */
  readonly brokerUrl?: string;
  /** Port of the embedded broker (default 1883; 0 picks a free one). */
  readonly brokerPort?: number;
  /**
   * The reading store: a SQLite file, or a postgres:// (postgresql://) URL of a database that several
   * gateway instances share. With PostgreSQL each instance needs its own clientId (it names the
   * instance in the store and its watchtower's proof claims) and the same sharedGroup.
   */
  readonly dbPath: string;
  readonly clientId?: string;
  readonly sharedGroup?: string;
  /**
   * Readings per submission (default: the submitter's maxPerTx x maxInFlight, 512: a call's chunks
   * go out in flight together).
   */
  readonly batchSize?: number;
  readonly batchIntervalMs?: number;
  readonly maxQueue?: number;
  /** Device-signed batches anchored per transaction at most (default 32). */
  readonly maxBatchesPerTx?: number;
  /**
   * Worker threads that verify signatures (GatewayOptions.verifyWorkers). Default 0, inline on the
   * gateway's thread. See GatewayOptions.verifyWorkers for what the bench measured on 2 cores.
   */
  readonly verifyWorkers?: number;
  /** /health and /metrics port (0: any free one), or false for none. */
  readonly httpPort?: number | false;
  readonly logger?: Logger;
  readonly submitter?: Omit<ChainSubmitterOptions, "signer" | "anchor" | "logger">;
  /** What the gateway admits (see GatewayOptions: clock skew, payload sizes, rates, negative cache). */
  readonly admission?: Pick<
    GatewayOptions,
    "maxClockSkewMs" | "maxReadingBytes" | "maxBatchBytes" | "deviceRate" | "negativeCacheTtlMs"
  >;
  /**
   * Run a watchtower over the gateway's stream, with its evidence store at `dbPath`, sending proofs from
   * `signer` (default: the gateway's signer; give it its own account so the two do not compete for
   * nonces) with bounties to `beneficiary` (default: that signer's address).
   */
  readonly watchtower?: {
    readonly dbPath: string;
    readonly signer?: Signer;
    readonly beneficiary?: string;
    /** The watchtower's own /health and /metrics port (0: any free one); default none. */
    readonly httpPort?: number;
  };
  /** Stop on SIGTERM/SIGINT (default true). */
  readonly handleSignals?: boolean;
  /**
   * PqKeyRecovery's address: take post-quantum key recovery requests (GatewayOptions.pqRecovery), LMS
   * recoveries sent from `signer`. Default none: recovery requests are dropped as recovery_off.
   */
  readonly pqKeyRecovery?: string;
  /**
   * The record of handled recovery requests (JSON lines; governance reads the verified ML-DSA-44 ones
   * there). Default: `<dbPath>.recoveries.jsonl`, or `.devicetrust/recoveries-<clientId>.jsonl` with a
   * PostgreSQL store.
   */
  readonly pqRecoveryRecords?: string;
  /**
   * Each device's allowance of recovery requests checked against the chain (PqRecoveryOptions.rate;
   * default 3 at once, then one a minute), or false for none.
   */
  readonly pqRecoveryRate?: RateLimit | false;
}

export interface GatewaySummary {
  readonly readings: Record<ReadingStatus, number> | null;
  /** Rejected readings by reason (the feed's event, or the code of a whole refusal); null in memory. */
  readonly refused: Record<string, number> | null;
  readonly watchtower: { readonly proofs: number } | null;
}

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly broker: EmbeddedBroker | null;
  readonly brokerUrl: string;
  /** The /health port (null without a server). */
  readonly port: number | null;
  readonly watchtower: RunningWatchtower | null;
  /** Stops everything (gateway, then watchtower, then the embedded broker) and returns the summary. */
  stop(): Promise<GatewaySummary>;
  /** Resolves with the summary once stopped (by a signal or stop()). */
  readonly finished: Promise<GatewaySummary>;
}

export const DEFAULT_GATEWAY_DB = ".devicetrust/gateway.sqlite";

export async function runGateway(options: RunGatewayOptions): Promise<RunningGateway> {
  const domain = await registryDomain(registryAt(options.registry, options.signer));
  const broker =
    options.brokerUrl === undefined
      ? await startEmbeddedBroker({ port: options.brokerPort ?? 1883 })
      : null;
  const brokerUrl = options.brokerUrl ?? broker?.url ?? "";
  let watchtower: RunningWatchtower | null = null;
  let link: WatchtowerLink | null = null;
  let gateway: Gateway | undefined;
  let clock: ChainClock | undefined;
  let store: ReadingStore | undefined;
  let claims: PgProofClaims | undefined;
  const instance = options.clientId ?? "devicetrust-gateway";
  try {
    if (isPostgresUrl(options.dbPath)) {
      store = await PgReadingStore.open(options.dbPath, { instanceId: instance });
      if (options.watchtower !== undefined) claims = await PgProofClaims.open(options.dbPath);
    }
    if (options.watchtower !== undefined) {
      link = new WatchtowerLink();
      watchtower = await runWatchtower({
        registry: options.registry,
        proofs: options.proofs,
        signer: options.watchtower.signer ?? options.signer,
        ...(options.watchtower.beneficiary === undefined
          ? {}
          : { beneficiary: options.watchtower.beneficiary }),
        source: link,
        dbPath: options.watchtower.dbPath,
        ...(claims === undefined ? {} : { claims: { claims, owner: instance } }),
        ...(options.watchtower.httpPort === undefined
          ? { http: false as const }
          : { port: options.watchtower.httpPort }),
        handleSignals: false,
        ...(options.logger === undefined
          ? {}
          : { logger: options.logger.child({ name: "watchtower" }) }),
      });
    }
    const chain = await chainClock(options.signer);
    clock = chain;
    const submitter = new ChainSubmitter({
      signer: options.signer,
      ...(options.anchor === undefined ? {} : { anchor: options.anchor }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...options.submitter,
    });
    const pqRecovery: Pick<GatewayOptions, "pqRecovery"> =
      options.pqKeyRecovery === undefined
        ? {}
        : {
            pqRecovery: {
              recovery: pqKeyRecoveryAt(
                options.pqKeyRecovery,
                registryAt(options.registry, options.signer),
              ),
              registry: registryAt(options.registry, options.signer),
              recordPath:
                options.pqRecoveryRecords ?? recoveryRecordsPath(options.dbPath, instance),
              ...(options.pqRecoveryRate === undefined ? {} : { rate: options.pqRecoveryRate }),
            },
          };
    gateway = new Gateway({
      ...pqRecovery,
      domain,
      directory: gatewayDirectory(options.registry, options.proofs, options.signer),
      clock: chain,
      submitter,
      dbPath: options.dbPath,
      ...(store === undefined ? {} : { store }),
      brokerUrl,
      ...(options.clientId === undefined ? {} : { clientId: options.clientId }),
      ...(options.sharedGroup === undefined ? {} : { sharedGroup: options.sharedGroup }),
      batchSize: options.batchSize ?? submitter.readingsInFlight,
      ...(options.batchIntervalMs === undefined
        ? {}
        : { batchIntervalMs: options.batchIntervalMs }),
      ...(options.maxQueue === undefined ? {} : { maxQueue: options.maxQueue }),
      ...(options.maxBatchesPerTx === undefined
        ? {}
        : { maxBatchesPerTx: options.maxBatchesPerTx }),
      ...(options.verifyWorkers === undefined ? {} : { verifyWorkers: options.verifyWorkers }),
      ...options.admission,
      ...(link === null ? {} : { sink: link.sink, batchSink: link.batchSink, sinkCommits: true }),
      http: options.httpPort === false ? false : { port: options.httpPort ?? 9465 },
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
    // The submitter's quarantine and trip counters are served on the gateway's /metrics.
    submitter.metrics.registerOn(gateway.metrics.registry);
    const address = await gateway.start();
    return running(
      gateway,
      broker,
      brokerUrl,
      address?.port ?? null,
      watchtower,
      link,
      options,
      chain,
      claims,
    );
  } catch (err: unknown) {
    clock?.stop();
    link?.end();
    // A start that failed half way (the HTTP port taken after the verify workers started) is stopped
    // too: its workers and timers would keep the process alive with nothing bound.
    if (gateway === undefined) await store?.close();
    else await gateway.stop();
    await claims?.close();
    if (watchtower !== null) await watchtower.watchtower.stop();
    if (broker !== null) await broker.close();
    throw err;
  }
}

/** Where runGateway records handled recovery requests by default (RunGatewayOptions.pqRecoveryRecords). */
export function recoveryRecordsPath(dbPath: string, clientId: string): string {
  if (isPostgresUrl(dbPath)) return `.devicetrust/recoveries-${clientId}.jsonl`;
  if (dbPath === ":memory:") {
    throw new GatewayError(
      "GATEWAY_BAD_OPTIONS",
      "an in-memory store cannot keep the recovery records, which must survive a restart: give pqRecoveryRecords a file",
    );
  }
  return `${dbPath}.recoveries.jsonl`;
}

/**
 * What the store holds after the stop closed it: reopened briefly (its WAL checkpointer may still hold
 * the file for a moment, so a locked database is tried again for up to 2 s). Null for an in-memory store.
 */
async function finalCounts(dbPath: string): Promise<{
  readonly counts: Record<ReadingStatus, number>;
  readonly refused: Record<string, number>;
} | null> {
  if (dbPath === ":memory:") return null;
  if (isPostgresUrl(dbPath)) {
    // Every instance's counts, as the shared store holds them now.
    const shared = await PgReadingStore.open(dbPath, { instanceId: "devicetrust-summary" });
    try {
      return { counts: shared.counts(), refused: await shared.rejectionReasons() };
    } finally {
      await shared.close();
    }
  }
  for (let attempt = 0; ; attempt++) {
    let store: GatewayStore;
    try {
      store = new GatewayStore(dbPath);
    } catch (err: unknown) {
      if (
        attempt >= 100 ||
        !/locked|busy/i.test(String(err instanceof Error ? err.message : err))
      ) {
        throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
      continue;
    }
    try {
      return { counts: store.counts(), refused: store.rejectionReasons() };
    } finally {
      store.close();
    }
  }
}

function running(
  gateway: Gateway,
  broker: EmbeddedBroker | null,
  brokerUrl: string,
  port: number | null,
  watchtower: RunningWatchtower | null,
  link: WatchtowerLink | null,
  options: RunGatewayOptions,
  clock: ChainClock,
  claims: PgProofClaims | undefined,
): RunningGateway {
  let resolveFinished: (s: GatewaySummary) => void = () => undefined;
  const finished = new Promise<GatewaySummary>((resolve) => {
    resolveFinished = resolve;
  });
  let stopping: Promise<GatewaySummary> | undefined;
  const handleSignals = options.handleSignals ?? true;
  const stop = (): Promise<GatewaySummary> => {
    stopping ??= (async () => {
      if (handleSignals) {
        process.off("SIGTERM", onTerm);
        process.off("SIGINT", onInt);
      }
      await gateway.stop();
      clock.stop();
      let proofs: number | null = null;
      if (watchtower !== null && link !== null) {
        link.end();
        await watchtower.watchtower.drained();
        proofs = watchtower.watchtower.evidence.isOpen
          ? watchtower.watchtower.evidence.proofs().length
          : null;
        await watchtower.watchtower.stop();
      }
      await claims?.close();
      if (broker !== null) await broker.close();
      const final = await finalCounts(options.dbPath);
      const summary: GatewaySummary = {
        readings: final?.counts ?? null,
        refused: final?.refused ?? null,
        watchtower: proofs === null ? null : { proofs },
      };
      resolveFinished(summary);
      return summary;
    })();
    return stopping;
  };
  const on = (signal: NodeJS.Signals) => (): void => {
    gateway.log.info({ event: "signal", signal }, `received ${signal}: stopping`);
    void stop();
  };
  const onTerm = on("SIGTERM");
  const onInt = on("SIGINT");
  if (handleSignals) {
    process.once("SIGTERM", onTerm);
    process.once("SIGINT", onInt);
  }
  return { gateway, broker, brokerUrl, port, watchtower, stop, finished };
}

/**
 * The gateway's view of the chain: the watchtower's directory (keys, rotations) and what admission
 * asks besides: a feed's members (none for a feed id with no feed behind it), whether a device is
 * Active, and DeviceRegistered events (a device registered after its first message is admitted at once).
 */
export function gatewayDirectory(
  registry: string,
  proofs: string,
  runner: ContractRunner,
): KeyDirectory {
  const base = chainDirectory(registry, proofs, runner);
  const reg = registryAt(registry, runner);
  return {
    // keyOwner, currentKeyHash, ping and both event subscriptions: the watchtower's, as they are.
    ...base,
    async feedMembers(feedId: Hex): Promise<readonly Hex[]> {
      let address: string;
      try {
        address = feedAddressOf(feedId);
      } catch {
        return [];
      }
      try {
        return (await feedAt(address, runner).members()).map((d) => d.toLowerCase() as Hex);
      } catch (err: unknown) {
        // No feed (no code, or another contract) at that address: nobody is a member.
        if (isCallException(err) || (err as { code?: unknown }).code === "BAD_DATA") return [];
        throw err;
      }
    },
    async isActive(deviceId: Hex): Promise<boolean> {
      // DeviceStatus.Active
      return (await reg.statusOf(deviceId)) === 1n;
    },
  };
}

/** This machine's clock, or the chain's where it runs ahead (a development chain whose time moved). */
export interface ChainClock {
  readonly now: () => number;
  /** Reads the chain's time again (one request at a time: concurrent callers share its answer). */
  readonly recheck: () => Promise<number>;
  stop(): void;
}

/**
 * Follows the latest block's time every `refreshMs` (default 30 s): `now()` is the wall clock plus how
 * far the chain is ahead of it (never behind: a chain between blocks lags by up to a block time).
 */
export async function chainClock(signer: Signer, refreshMs = 30_000): Promise<ChainClock> {
  const provider = signer.provider;
  let ahead = 0;
  let reading: Promise<void> | undefined;
  const refresh = (): Promise<void> => {
    reading ??= (async () => {
      try {
        const block = await provider?.getBlock("latest");
        if (block !== null && block !== undefined) {
          ahead = Math.max(0, block.timestamp * 1000 - Date.now());
        }
      } finally {
        reading = undefined;
      }
    })();
    return reading;
  };
  await refresh();
  const timer = setInterval(() => {
    refresh().catch(() => undefined);
  }, refreshMs);
  timer.unref();
  return {
    now: () => Date.now() + ahead,
    recheck: async () => {
      // Concurrent callers share one request: a flood of future-dated messages costs one at a time.
      await refresh().catch(() => undefined);
      return Date.now() + ahead;
    },
    stop: () => {
      clearInterval(timer);
    },
  };
}
