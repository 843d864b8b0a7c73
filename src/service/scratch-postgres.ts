import { execFile } from "node:child_process";
import { chown, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { DeviceTrustError } from "../protocol/errors.js";

/**
 * A scratch PostgreSQL server for tests and benches: a cluster made by initdb in a temp folder,
 * started by pg_ctl, listening on 127.0.0.1 on a free port (its unix socket in that folder too),
 * stopped and removed by `stop`.
 *
 * It runs Debian's binaries from /usr/lib/postgresql/<version>/bin (the newest installed), as the
 * `postgres` user when this process is root (initdb refuses root). A machine without PostgreSQL fails
 * whoever asks for one, saying how to install it: the store it serves is part of the product, so its
 * tests and benches are never skipped.
 */

const run = promisify(execFile);
const PG_ROOT = "/usr/lib/postgresql";
const INSTALL_HINT = "install postgresql: apt-get install -y postgresql";

/** The scratch server could not start (no PostgreSQL installed, or it failed: see the message). */
export class ScratchPostgresError extends DeviceTrustError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("SCRATCH_POSTGRES", message, options);
    this.name = "ScratchPostgresError";
  }
}

export interface ScratchPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust authentication). */
  readonly url: string;
  stop(): Promise<void>;
}

export interface ScratchPostgresOptions {
  /**
   * Whether commits reach the disk (fsync, full page writes) as in production. Default false: tests
   * do not survive power losses, and an fsync per commit only slows them down; benches ask for true.
   */
  readonly durable?: boolean;
}

/** The bin folder of the newest PostgreSQL installed; throws saying how to install one. */
async function binFolder(): Promise<string> {
  let versions: string[];
  try {
    versions = await readdir(PG_ROOT);
  } catch {
    versions = [];
  }
  const found = versions
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of found) {
    const bin = join(PG_ROOT, v, "bin");
    try {
      await run(join(bin, "pg_ctl"), ["--version"]);
      return bin;
    } catch {
      // A version folder without a working pg_ctl (a half-removed package): try the next.
    }
  }
  throw new ScratchPostgresError(
    `no PostgreSQL server under ${PG_ROOT}/<version>/bin: ${INSTALL_HINT}`,
  );
}

/** A port nobody listens on now (the kernel's pick). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new ScratchPostgresError("could not pick a free port on 127.0.0.1"));
      });
    });
  });
}

/** Runs a PostgreSQL binary, as the postgres user when we are root. */
async function runAsPostgres(command: string, args: readonly string[]): Promise<string> {
  const root = process.getuid?.() === 0;
  const [file, argv] = root
    ? ["runuser", ["-u", "postgres", "--", command, ...args]]
    : [command, [...args]];
  const { stdout } = await run(file, argv, { timeout: 60_000 });
  return stdout;
}

/** Starts a fresh cluster; resolves once it accepts connections. */
export async function startPostgres(
  options: ScratchPostgresOptions = {},
): Promise<ScratchPostgres> {
  const bin = await binFolder();
  const dir = await mkdtemp(join(tmpdir(), "devicetrust-pg-"));
  const data = join(dir, "data");
  const log = join(dir, "server.log");
  const stopServer = async (): Promise<void> => {
    try {
      await runAsPostgres(join(bin, "pg_ctl"), [
        "-D",
        data,
        "-m",
        "fast",
        "-w",
        "-t",
        "20",
        "stop",
      ]);
    } catch {
      // pg_ctl could not stop it (or it never started): kill the postmaster by its pid, if any.
      try {
        const pid = Number((await readFile(join(data, "postmaster.pid"), "utf8")).split("\n")[0]);
        if (Number.isInteger(pid) && pid > 0) process.kill(pid, "SIGKILL");
      } catch {
        // No pid file: nothing runs.
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    if (process.getuid?.() === 0) {
      const uid = Number((await run("id", ["-u", "postgres"])).stdout.trim());
      const gid = Number((await run("id", ["-g", "postgres"])).stdout.trim());
      await chown(dir, uid, gid);
    }
    await runAsPostgres(join(bin, "initdb"), [
      "-D",
      data,
      "-A",
      "trust",
      "-U",
      "postgres",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
    ]);
    const port = await freePort();
    const settings = [
      `-p ${String(port)}`,
      `-k ${dir}`,
      "-c listen_addresses=127.0.0.1",
      "-c max_connections=200",
      ...(options.durable === true ? [] : ["-c fsync=off", "-c full_page_writes=off"]),
    ];
    await runAsPostgres(join(bin, "pg_ctl"), [
      "-D",
      data,
      "-o",
      settings.join(" "),
      "-l",
      log,
      "-w",
      "-t",
      "30",
      "start",
    ]);
    const url = `postgres://postgres@127.0.0.1:${String(port)}/postgres`;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.end();
    return { url, stop: stopServer };
  } catch (err: unknown) {
    const serverLog = await readFile(log, "utf8").catch(() => "");
    await stopServer();
    throw new ScratchPostgresError(
      `could not start a scratch PostgreSQL from ${bin} (${err instanceof Error ? err.message : String(err)}); ${INSTALL_HINT} if it is missing${serverLog === "" ? "" : `\nserver log:\n${serverLog}`}`,
      { cause: err },
    );
  }
}

let databases = 0;

/** Creates a new, empty database on the server at `url` and returns its URL. */
export async function freshDatabase(url: string): Promise<string> {
  databases++;
  const name = `scratch_${String(process.pid)}_${String(databases)}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const next = new URL(url);
  next.pathname = `/${name}`;
  return next.toString();
}
