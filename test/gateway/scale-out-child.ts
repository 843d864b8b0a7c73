import { id } from "ethers";
import pg from "pg";
import { pino } from "pino";
import { Gateway, WatchtowerLink, type ReadingSubmitter } from "../../src/gateway/index.js";
import { PgReadingStore } from "../../src/gateway/pg-store.js";
import type { Hex, SignedReading } from "../../src/protocol/index.js";
import {
  ClaimingProofSubmitter,
  EVIDENCE_USED,
  PgProofClaims,
  ProofRejectedError,
  Watchtower,
  claimKey,
  type ProofSubmitter,
  type SubmittedProof,
} from "../../src/watchtower/index.js";
import { BENEFICIARY, DOMAIN, FakeDirectory } from "../watchtower/helpers.js";
import { slotOf } from "./helpers.js";

/**
 * One gateway instance of the scale-out test (scale-out.test.ts spawns two; loaded by mocha it does
 * nothing): a Gateway on the shared PostgreSQL store (SCALE_PG), on a shared subscription of the
 * Mosquitto broker (SCALE_BROKER), with its in-process watchtower (its own SQLite evidence at
 * SCALE_WATCHTOWER_DB) sending proofs under claims in the same database.
 *
 * The chain is a stand-in in that database, shared by both instances like a real chain: a feed that
 * takes a device's readings in increasing sequence order only (chain_readings, in the order taken;
 * a lower sequence is refused as SequenceNotIncreasing) and reports a reading sent again after a
 * crash as accepted, as ChainSubmitter does from its event (counted in chain_replays); a proofs
 * contract that records
 * each incident once (chain_incidents; a second proof of the same slot is refused with
 * ProofsEvidenceUsed). Every proof that reaches it is logged in chain_proof_attempts.
 */
const CHAIN_SCHEMA = `
CREATE TABLE IF NOT EXISTS chain_readings (slot TEXT PRIMARY KEY, device TEXT NOT NULL,
  sequence BIGINT NOT NULL, taken BIGSERIAL, instance TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chain_replays (slot TEXT NOT NULL, instance TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chain_incidents (claim TEXT PRIMARY KEY, instance TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chain_proof_attempts (claim TEXT NOT NULL, instance TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS split_pairs (slot TEXT NOT NULL, instance TEXT NOT NULL);
`;

async function main(): Promise<void> {
  const url = process.env.SCALE_PG ?? "";
  const instance = process.env.SCALE_INSTANCE ?? "";
  const chain = new pg.Pool({ connectionString: url, max: 2 });
  const client = await chain.connect();
  try {
    await client.query("SELECT pg_advisory_lock(hashtext('scale-out.chain'))");
    await client.query(CHAIN_SCHEMA);
    await client.query("SELECT pg_advisory_unlock(hashtext('scale-out.chain'))");
  } finally {
    client.release();
  }

  const submitter: ReadingSubmitter = {
    submitReadings: async (readings: readonly SignedReading[]) => {
      const outcomes = [];
      for (const r of readings) {
        const slot = slotOf(r);
        const taken = await chain.query("SELECT 1 FROM chain_readings WHERE slot = $1", [slot]);
        if (taken.rowCount === 1) {
          // Sent again after a crash: on chain already (ChainSubmitter finds its event and says so).
          await chain.query("INSERT INTO chain_replays (slot, instance) VALUES ($1, $2)", [
            slot,
            instance,
          ]);
          outcomes.push({ accepted: true as const });
          continue;
        }
        // Like the feed: a sequence at or below the device's last taken one is refused.
        const res = await chain.query(
          `INSERT INTO chain_readings (slot, device, sequence, instance)
           SELECT $1, $2, $3, $4 WHERE NOT EXISTS
             (SELECT 1 FROM chain_readings WHERE device = $2 AND sequence >= $3)`,
          [slot, r.reading.deviceId.toLowerCase(), r.reading.sequence.toString(), instance],
        );
        outcomes.push(
          res.rowCount === 1
            ? { accepted: true as const }
            : { accepted: false as const, reason: "SequenceNotIncreasing" },
        );
      }
      return { txHash: id(`tx-${instance}`) as Hex, outcomes };
    },
    anchorBatch: () => Promise.reject(new Error("no batches in this test")),
  };

  const prove = async (claim: string): Promise<SubmittedProof> => {
    await chain.query("INSERT INTO chain_proof_attempts (claim, instance) VALUES ($1, $2)", [
      claim,
      instance,
    ]);
    const res = await chain.query(
      "INSERT INTO chain_incidents (claim, instance) VALUES ($1, $2) ON CONFLICT DO NOTHING",
      [claim, instance],
    );
    if (res.rowCount !== 1) throw new ProofRejectedError(EVIDENCE_USED, [claim]);
    return { incident: id(claim) as Hex, txHash: id(`proof-${claim}`) as Hex };
  };
  const proofs: ProofSubmitter = {
    proveEquivocation: (a) => prove(claimKey("equivocation", a)),
    proveOutOfBounds: (r) => prove(claimKey("out-of-bounds", r)),
    proveBatchOutOfBounds: (r) => prove(claimKey("out-of-bounds", r)),
    proveBatchEquivocation: (a) => prove(claimKey("equivocation", a)),
    proveBatchPairEquivocation: (a) => prove(claimKey("equivocation", a)),
  };

  const logger = pino({ level: "silent" });
  const claims = await PgProofClaims.open(url);
  const link = new WatchtowerLink();
  const received = new Set<string>();
  const watchtower = new Watchtower({
    domain: DOMAIN,
    source: link,
    directory: new FakeDirectory(),
    submitter: new ClaimingProofSubmitter(proofs, claims, instance),
    beneficiary: BENEFICIARY,
    dbPath: process.env.SCALE_WATCHTOWER_DB ?? "",
    http: false,
    logger,
    retry: { attempts: 5, baseDelayMs: 10, maxDelayMs: 100 },
  });
  await watchtower.start();
  const store = await PgReadingStore.open(url, { instanceId: instance });
  const gateway = new Gateway({
    domain: DOMAIN,
    directory: new FakeDirectory(),
    submitter,
    dbPath: "",
    store,
    brokerUrl: process.env.SCALE_BROKER ?? "",
    clientId: instance,
    sharedGroup: "scale",
    http: false,
    logger,
    batchSize: 16,
    batchIntervalMs: 20,
    settleMs: 100,
    gapWaitMs: Number(process.env.SCALE_GAP_WAIT_MS ?? "2000"),
    sinkCommits: true,
    // A conflict's original comes from the store (origin "store"); when this instance never received
    // it itself, the pair was split across the instances: counted for the test.
    sink: async (m) => {
      const seenKey = `${slotOf(m)}:${m.reading.value.toString()}`;
      if (m.origin !== "store") received.add(seenKey);
      else if (!received.has(seenKey)) {
        await chain.query("INSERT INTO split_pairs (slot, instance) VALUES ($1, $2)", [
          slotOf(m),
          instance,
        ]);
      }
      await link.sink(m);
    },
  });
  await gateway.start();
  process.stdout.write("ready\n");
  process.once("SIGTERM", () => {
    void (async () => {
      await gateway.stop();
      link.end();
      await watchtower.drained();
      await watchtower.stop();
      await claims.close();
      await chain.end();
      process.exit(0);
    })();
  });
}

if (process.env.SCALE_CHILD === "1") await main();
