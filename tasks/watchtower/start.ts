import { createReadStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { basename, dirname } from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { pino } from "pino";
import { InvalidInputError, type MessageSource } from "../../src/protocol/index.js";
import {
  DEFAULT_DB_PATH,
  MqttSource,
  PgProofClaims,
  jsonLinesSource,
  runWatchtower,
} from "../../src/watchtower/index.js";
import { progress, run } from "../common.js";
import { connectProofs, type ProofsArgs } from "../stake/connect.js";

interface Args extends ProofsArgs {
  db: string;
  port: number;
  beneficiary: string;
  source: string;
  broker: string;
  clientId: string;
  claims: string;
  logLevel: string;
}

/**
 * Runs the watchtower over signed readings and signed batches until the source ends or SIGTERM/SIGINT,
 * then prints what it proved. The source: JSON lines (stdin or a file), or with --broker the devices'
 * topics on an MQTT broker, subscribed by the watchtower itself (not shared with the gateways, in a
 * persistent session named --client-id: messages are acknowledged once handled). Logs (pino JSON) go to stderr; the
 * summary to stdout.
 */
export default async function watchtowerStart(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    if (args.source === "" && args.broker === "") {
      throw new InvalidInputError("name the source: --source stdin or --source <readings.jsonl>");
    }
    const chain = await connectProofs(hre, args);
    const dbPath = args.db === "" ? DEFAULT_DB_PATH : args.db;
    if (dbPath !== ":memory:") await mkdir(dirname(dbPath), { recursive: true });
    let source: MessageSource;
    let mqtt: MqttSource | undefined;
    if (args.broker !== "") {
      mqtt = await MqttSource.connect({
        brokerUrl: args.broker,
        ...(args.clientId === "" ? {} : { clientId: args.clientId }),
        onMalformed: (topic, err) => {
          progress(`${topic}: skipped: ${err instanceof Error ? err.message : String(err)}`);
        },
      });
      source = mqtt;
    } else {
      const input = args.source === "stdin" ? process.stdin : createReadStream(args.source);
      const name = args.source === "stdin" ? "stdin" : basename(args.source);
      source = jsonLinesSource(input, name, (line, err) => {
        progress(
          `${name}:${String(line)} skipped: ${err instanceof Error ? err.message : String(err)}`,
        );
      });
    }
    const claims = args.claims === "" ? undefined : await PgProofClaims.open(args.claims);
    const owner = args.clientId === "" ? "devicetrust-watchtower" : args.clientId;
    const running = await runWatchtower({
      registry: chain.registryAddress,
      proofs: chain.proofsAddress,
      signer: chain.signer,
      ...(args.beneficiary === "" ? {} : { beneficiary: args.beneficiary }),
      source,
      dbPath,
      ...(claims === undefined ? {} : { claims: { claims, owner } }),
      port: args.port,
      logger: pino({ name: "watchtower", level: args.logLevel }, pino.destination(2)),
      // An MQTT stream never ends by itself: a signal closes it, then the summary is printed.
      handleSignals: mqtt === undefined,
    });
    if (mqtt !== undefined) {
      const stream = mqtt;
      const end = (): void => {
        void stream.close();
      };
      process.once("SIGTERM", end);
      process.once("SIGINT", end);
    }
    progress(
      `watchtower running (db ${dbPath}${running.port === null ? "" : `, http://127.0.0.1:${String(running.port)}/health`}); stop with Ctrl-C`,
    );
    const { watchtower } = running;
    await watchtower.drained();
    const store = watchtower.evidence;
    const summary = store.isOpen
      ? {
          readings: store.readingCount(),
          proofs: store.proofs().map((p) => ({
            kind: p.kind,
            deviceId: p.deviceId,
            status: p.status,
            incident: p.incident,
            txHash: p.txHash,
            error: p.error,
          })),
        }
      : { readings: null, proofs: [] };
    await watchtower.stop();
    await running.finished;
    await claims?.close();
    return summary;
  });
}
