import {
  freshDatabase,
  startPostgres,
  type ScratchPostgres,
} from "../../src/service/scratch-postgres.js";

/**
 * Call inside a describe(): one scratch server for the file (before / after) and a fresh database
 * for each test (beforeEach). Returns a getter for the current test's database URL and one for the
 * server's.
 */
export function postgresPerFile(): { database: () => string; server: () => string } {
  let server: ScratchPostgres | undefined;
  let database: string | undefined;
  before(async function () {
    this.timeout(60_000);
    server = await startPostgres();
  });
  beforeEach(async function () {
    if (server === undefined) throw new Error("postgresPerFile: the scratch server did not start");
    database = await freshDatabase(server.url);
  });
  after(async function () {
    this.timeout(30_000);
    await server?.stop();
    server = undefined;
  });
  return {
    database: () => {
      if (database === undefined) throw new Error("postgresPerFile: no test is running");
      return database;
    },
    server: () => {
      if (server === undefined) throw new Error("postgresPerFile: no server runs");
      return server.url;
    },
  };
}
