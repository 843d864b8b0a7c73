import type { ContractRunner } from "ethers";
import { ClaimingProofSubmitter, type ProofClaims } from "./proof-claims.js";
import type { Logger } from "pino";
import { asHex, type Hex, type MessageSource } from "../protocol/index.js";
import { registryAt, registryDomain } from "../client/registry.js";
import { chainDirectory, fraudProofsSubmitter } from "./chain.js";
import { Watchtower, type RetryPolicy } from "./watchtower.js";

/**
 * The entry point of `watchtower start`: a Watchtower over a deployed DeviceRegistry and FraudProofs,
 * sending proofs from `signer`, stopped gracefully on SIGTERM or SIGINT.
 *
 * Options:
 * - `registry` (address): the DeviceRegistry; its chain id and address form the EIP-712 domain.
 * - `proofs` (address): the FraudProofs contract (sensor ranges are read from it, proofs sent to it).
 * - `signer`: an ethers signer (with a provider) that pays for the proof transactions.
 * - `beneficiary` (address, default the signer's address): receives the bounties.
 * - `source`: the AsyncIterable of signed readings (e.g. `jsonLinesSource(process.stdin)`, or the
 *   MQTT gateway's stream).
 * - `dbPath` (default ".devicetrust/watchtower.sqlite"): the evidence store; its folder must exist.
 * - `port` (default 9464) and `host` (default 127.0.0.1) of /health and /metrics; port 0 picks a free
 *   one; `http: false` runs without a server.
 * - `logLevel` (default "info") or `logger` (a pino logger), `retry` ({attempts, baseDelayMs,
 *   maxDelayMs}), `rangeCacheTtlMs`, `keyCacheTtlMs`, `healthTimeoutMs`, `metricsPrefix` (default
 *   "watchtower_").
 * - `handleSignals` (default true): stop on SIGTERM/SIGINT and remove the handlers after.
 *
 * Resolves once the watchtower runs, with it and `finished`, which resolves after a signal-initiated
 * (or any) stop completes. Call `watchtower.stop()` to stop it yourself.
 */
export interface RunWatchtowerOptions {
  readonly registry: string;
  readonly proofs: string;
  readonly signer: ContractRunner & { getAddress(): Promise<string> };
  readonly beneficiary?: string;
  readonly source: MessageSource;
  readonly dbPath?: string;
  readonly port?: number;
  readonly host?: string;
  readonly http?: false;
  readonly logLevel?: string;
  readonly logger?: Logger;
  readonly retry?: Partial<RetryPolicy>;
  readonly rangeCacheTtlMs?: number;
  readonly keyCacheTtlMs?: number;
  readonly healthTimeoutMs?: number;
  readonly metricsPrefix?: string;
  readonly handleSignals?: boolean;
  /**
   * Proofs are sent only under a claim of this watchtower (`owner`, kept across restarts) in a store
   * other watchtowers share (proof-claims.ts): a fraud several of them see is proven by one.
   */
  readonly claims?: { readonly claims: ProofClaims; readonly owner: string };
}

export interface RunningWatchtower {
  readonly watchtower: Watchtower;
  /** The HTTP port (null without a server). */
  readonly port: number | null;
  /** Resolves when the watchtower has stopped (after a signal or a stop() call). */
  readonly finished: Promise<void>;
}

export const DEFAULT_DB_PATH = ".devicetrust/watchtower.sqlite";

export async function runWatchtower(options: RunWatchtowerOptions): Promise<RunningWatchtower> {
  const registry = registryAt(options.registry, options.signer);
  const domain = await registryDomain(registry);
  const beneficiary: Hex = asHex(
    options.beneficiary ?? (await options.signer.getAddress()),
    "beneficiary",
    20,
  );
  const watchtower = new Watchtower({
    domain,
    source: options.source,
    directory: chainDirectory(options.registry, options.proofs, options.signer),
    submitter:
      options.claims === undefined
        ? fraudProofsSubmitter(options.proofs, options.signer)
        : new ClaimingProofSubmitter(
            fraudProofsSubmitter(options.proofs, options.signer),
            options.claims.claims,
            options.claims.owner,
          ),
    beneficiary,
    dbPath: options.dbPath ?? DEFAULT_DB_PATH,
    http:
      options.http === false
        ? false
        : { port: options.port ?? 9464, host: options.host ?? "127.0.0.1" },
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel }),
    ...(options.retry === undefined ? {} : { retry: options.retry }),
    ...(options.rangeCacheTtlMs === undefined ? {} : { rangeCacheTtlMs: options.rangeCacheTtlMs }),
    ...(options.keyCacheTtlMs === undefined ? {} : { keyCacheTtlMs: options.keyCacheTtlMs }),
    ...(options.healthTimeoutMs === undefined ? {} : { healthTimeoutMs: options.healthTimeoutMs }),
    ...(options.metricsPrefix === undefined ? {} : { metricsPrefix: options.metricsPrefix }),
  });
  const address = await watchtower.start();

  let resolveFinished: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    resolveFinished = resolve;
  });
  const handleSignals = options.handleSignals ?? true;
  const onSignal = (signal: NodeJS.Signals): void => {
    watchtower.log.info({ event: "signal", signal }, `received ${signal}: stopping`);
    void watchtower.stop();
  };
  if (handleSignals) {
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  }
  const originalStop = watchtower.stop.bind(watchtower);
  // Whoever stops it (a signal or the caller), the handlers go and `finished` resolves.
  watchtower.stop = async () => {
    if (handleSignals) {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    }
    await originalStop();
    resolveFinished();
  };
  return { watchtower, port: address?.port ?? null, finished };
}
