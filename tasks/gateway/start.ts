import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { pino } from "pino";
import { resolveDeployedAddress } from "../../src/client/index.js";
import { humanLogStream } from "../../src/gateway/index.js";
import { DEFAULT_GATEWAY_DB, isPostgresUrl, runGateway } from "../../src/app/index.js";
import type { Hex } from "../../src/protocol/index.js";
import { connect, progress, run, type Chain } from "../common.js";
import { connectProofs, type ProofsArgs } from "../stake/connect.js";

interface Args extends ProofsArgs {
  broker: string;
  brokerPort: number;
  db: string;
  group: string;
  clientId: string;
  batchSize: number;
  batchInterval: number;
  maxQueue: number;
  maxBatchesPerTx: number;
  verifyWorkers: number;
  httpPort: number;
  logLevel: string;
  anchor: string;
  watchtower: boolean;
  watchtowerDb: string;
  watchtowerFrom: string;
  beneficiary: string;
  pqKeyRecovery: string;
}

async function folderFor(path: string): Promise<void> {
  if (path !== ":memory:" && !isPostgresUrl(path)) await mkdir(dirname(path), { recursive: true });
}

/** The anchor: --anchor, else Ignition's ReadingAnchor if the deployment has one, else none. */
async function anchorAddress(chain: Chain, explicit: string): Promise<Hex | undefined> {
  try {
    return await resolveDeployedAddress({
      ...chain.deployment,
      contract: "ReadingAnchor",
      option: "--anchor",
      explicit,
    });
  } catch (err: unknown) {
    if (explicit !== "") throw err;
    progress("no ReadingAnchor deployment: batches are not anchored (pass --anchor to enable)");
    return undefined;
  }
}

/**
 * Runs the MQTT gateway against the current network until SIGINT/SIGTERM, then prints what its store
 * holds. Logs go to stderr, one line each for people, or pino JSON lines with --json; the summary goes
 * to stdout (JSON with --json).
 */
export default async function gatewayStart(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const chain = await connectProofs(hre, args);
    const anchor = await anchorAddress(chain, args.anchor);
    const dbPath = args.db === "" ? DEFAULT_GATEWAY_DB : args.db;
    await folderFor(dbPath);
    // A shared PostgreSQL store: each instance's watchtower keeps its evidence in a file of its own.
    const watchtowerDb =
      args.watchtowerDb !== ""
        ? args.watchtowerDb
        : isPostgresUrl(dbPath)
          ? `.devicetrust/watchtower-${args.clientId === "" ? "devicetrust-gateway" : args.clientId}.sqlite`
          : `${dbPath}.watchtower`;
    if (args.watchtower) await folderFor(watchtowerDb);
    const gateway = await runGateway({
      registry: chain.registryAddress,
      proofs: chain.proofsAddress,
      ...(anchor === undefined ? {} : { anchor }),
      signer: chain.signer,
      ...(args.broker === "" ? { brokerPort: args.brokerPort } : { brokerUrl: args.broker }),
      dbPath,
      ...(args.clientId === "" ? {} : { clientId: args.clientId }),
      ...(args.group === "" ? {} : { sharedGroup: args.group }),
      batchSize: args.batchSize,
      batchIntervalMs: args.batchInterval,
      maxQueue: args.maxQueue,
      maxBatchesPerTx: args.maxBatchesPerTx,
      verifyWorkers: args.verifyWorkers,
      httpPort: args.httpPort < 0 ? false : args.httpPort,
      ...(args.pqKeyRecovery === "" ? {} : { pqKeyRecovery: args.pqKeyRecovery }),
      logger: pino(
        { name: "gateway", level: args.logLevel },
        args.json ? pino.destination(2) : humanLogStream(),
      ),
      ...(args.watchtower
        ? {
            watchtower: {
              dbPath: watchtowerDb,
              ...(args.watchtowerFrom === ""
                ? {}
                : {
                    signer: (await connect(hre, { ...args, from: args.watchtowerFrom, json: true }))
                      .signer,
                  }),
              ...(args.beneficiary === "" ? {} : { beneficiary: args.beneficiary }),
            },
          }
        : {}),
    });
    progress(
      `gateway running: broker ${gateway.brokerUrl}${gateway.broker === null ? "" : " (embedded)"}, db ${isPostgresUrl(dbPath) ? "PostgreSQL (shared)" : dbPath}${gateway.port === null ? "" : `, http://127.0.0.1:${String(gateway.port)}/health`}${args.watchtower ? ", watchtower on" : ""}${args.pqKeyRecovery === "" ? "" : ", post-quantum recovery on"}; stop with Ctrl-C`,
    );
    const summary = await gateway.finished;
    return {
      broker: gateway.brokerUrl,
      dbPath: isPostgresUrl(dbPath) ? redactedUrl(dbPath) : dbPath,
      ...summary,
    };
  });
}

/** A database URL without its password (it is printed). */
function redactedUrl(url: string): string {
  const u = new URL(url);
  if (u.password !== "") u.password = "***";
  return u.toString();
}
