import pg from "pg";
import { errorMessage } from "../protocol/index.js";
import type { ProofClaims } from "./proof-claims.js";
import { WatchtowerError } from "./types.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS proof_claims (
  claim_key  TEXT PRIMARY KEY,
  owner      TEXT NOT NULL,
  claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  done       BOOLEAN NOT NULL DEFAULT false
)`;

/**
 * Proof claims in a PostgreSQL database (the one gateway instances share): one row per claim, taken
 * with one upsert that succeeds for a new key, for its owner again, or once the lease of a claim not
 * done has run out.
 */
export class PgProofClaims implements ProofClaims {
  private readonly pool: pg.Pool;
  private readonly leaseSeconds: number;

  private constructor(pool: pg.Pool, leaseSeconds: number) {
    this.pool = pool;
    this.leaseSeconds = leaseSeconds;
  }

  /** Connects and creates the table if absent. `leaseMs`: default 10 minutes. */
  static async open(url: string, leaseMs = 600_000): Promise<PgProofClaims> {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    pool.on("error", () => undefined);
    try {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        await client.query("SELECT pg_advisory_xact_lock(hashtext('devicetrust.proof_claims'))");
        await client.query(SCHEMA);
        await client.query("COMMIT");
      } finally {
        client.release();
      }
    } catch (err: unknown) {
      await pool.end();
      throw new WatchtowerError(
        "WATCHTOWER_CLAIMS",
        `cannot open the proof claims in PostgreSQL at ${redacted(url)}: check the URL and that the server runs (${errorMessage(err)})`,
        { cause: err },
      );
    }
    return new PgProofClaims(pool, Math.ceil(leaseMs / 1000));
  }

  async claim(key: string, owner: string): Promise<boolean> {
    const res = await this.pool.query(
      `INSERT INTO proof_claims (claim_key, owner) VALUES ($1, $2)
       ON CONFLICT (claim_key) DO UPDATE SET owner = excluded.owner, claimed_at = now()
       WHERE proof_claims.owner = excluded.owner
          OR (NOT proof_claims.done AND proof_claims.claimed_at < now() - make_interval(secs => $3))
       RETURNING owner`,
      [key, owner, this.leaseSeconds],
    );
    return res.rowCount === 1;
  }

  async done(key: string): Promise<void> {
    await this.pool.query("UPDATE proof_claims SET done = true WHERE claim_key = $1", [key]);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** The URL without its password (for messages). */
function redacted(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    return "(an unparsable URL)";
  }
}
