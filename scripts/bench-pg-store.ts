import { PgReadingStore } from "../src/gateway/pg-store.js";
import type { StoreWrite } from "../src/gateway/reading-store.js";
import { structHash, type SignedReading } from "../src/protocol/index.js";
import { startPostgres } from "../src/service/scratch-postgres.js";
import { deviceSigner, reading } from "../test/watchtower/helpers.js";

/**
 * How many readings per second PgReadingStore.write stores, in groups of 256, on a scratch
 * PostgreSQL with durable commits (fsync on, as in production): one instance with one group in
 * flight, one instance with several, and two instances at once (on distinct slots, then on the same
 * slots in opposite orders, where half the writes are duplicates).
 *
 *   npx hardhat run scripts/bench-pg-store.ts
 */

const GROUP = 256;
const GROUPS = 40;

async function main(): Promise<void> {
  const server = await startPostgres({ durable: true });
  try {
    const template = await reading(deviceSigner("p256"), 0n, 0n);
    let next = 0n;
    const group = (from: bigint): StoreWrite[] =>
      Array.from({ length: GROUP }, (_, i) => {
        const sequence = from + BigInt(i);
        const signed: SignedReading = {
          ...template,
          reading: { ...template.reading, sequence, value: sequence },
        };
        return {
          kind: "reading",
          signed,
          structHash: structHash("Reading", signed.reading),
          receivedAt: Date.now(),
        };
      });
    const groups = (n: number): StoreWrite[][] =>
      Array.from({ length: n }, () => {
        const g = group(next);
        next += BigInt(GROUP);
        return g;
      });
    const a = await PgReadingStore.open(server.url, { poolSize: 8 });
    const b = await PgReadingStore.open(server.url, { poolSize: 8 });
    const rate = async (label: string, run: () => Promise<number>): Promise<void> => {
      const started = process.hrtime.bigint();
      const rows = await run();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      console.log(
        `${label}: ${String(rows)} rows in ${seconds.toFixed(2)} s, ${(rows / seconds).toFixed(0)} rows/s`,
      );
    };
    await a.write(group(1n << 40n)); // warm-up: connections, plans

    const serial = groups(GROUPS);
    await rate("one instance, one group in flight", async () => {
      for (const g of serial) await a.write(g);
      return GROUPS * GROUP;
    });
    const parallel = groups(GROUPS);
    await rate("one instance, 8 groups in flight", async () => {
      await Promise.all(parallel.map((g) => a.write(g)));
      return GROUPS * GROUP;
    });
    const ofA = groups(GROUPS);
    const ofB = groups(GROUPS);
    await rate("two instances, distinct slots, 8 groups in flight each", async () => {
      await Promise.all([...ofA.map((g) => a.write(g)), ...ofB.map((g) => b.write(g))]);
      return 2 * GROUPS * GROUP;
    });
    const same = groups(GROUPS);
    const reversed = same.map((g) => [...g].reverse());
    await rate(
      "two instances, the same slots in opposite orders (writes, half duplicates)",
      async () => {
        await Promise.all([...same.map((g) => a.write(g)), ...reversed.map((g) => b.write(g))]);
        return 2 * GROUPS * GROUP;
      },
    );
    await a.close();
    await b.close();
  } finally {
    await server.stop();
  }
}

await main();
