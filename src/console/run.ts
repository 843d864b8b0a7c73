import { readdir, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Provider } from "ethers";
import { poolAt, poolUnits } from "../client/insurance.js";
import type { HexString, Status } from "./api.js";
import { ChainSync, type ConsoleAddresses } from "./chain-sync.js";
import { EventIndex } from "./event-index.js";
import { ServiceProbe } from "./ops.js";
import { ConsoleServer } from "./server.js";

/** The repository's root (src/console/run.ts is two folders below it, as dist/src/console/run.js is three). */
function projectRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const up = here.includes(join("dist", "src")) ? "../../.." : "../..";
  return resolve(here, up);
}

/** Where `npm run build` puts the page. */
export const CONSOLE_DIR = join(projectRoot(), "dist", "console");
const CONSOLE_SOURCES = join(projectRoot(), "console");

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const s = await stat(join(entry.parentPath, entry.name));
    newest = Math.max(newest, s.mtimeMs);
  }
  return newest;
}

/**
 * The page's built files: builds them with Vite (console/vite.config.ts, offline) when dist/console
 * is missing or older than console/'s sources. Returns the folder.
 */
export async function ensureConsoleBundle(
  log: (line: string) => void = () => undefined,
  options: { readonly force?: boolean } = {},
): Promise<string> {
  const index = join(CONSOLE_DIR, "index.html");
  const built = await stat(index).catch(() => null);
  const sources = await newestMtime(CONSOLE_SOURCES).catch(() => 0);
  const fresh = built !== null && (sources === 0 || built.mtimeMs >= sources);
  if (fresh && options.force !== true) return CONSOLE_DIR;
  log(
    fresh || built === null
      ? "building the console's page (vite)"
      : "the console's sources changed: building the page again (vite)",
  );
  const vite = await import("vite");
  // Always the production bundle: under `hardhat test` NODE_ENV is "test", which would make Vite emit
  // Preact's development JSX (a third larger, and not what `npm run build` ships).
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = "production";
  try {
    await vite.build({
      configFile: join(CONSOLE_SOURCES, "vite.config.ts"),
      mode: "production",
      logLevel: "warn",
    });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
  return CONSOLE_DIR;
}

export interface RunConsoleOptions {
  readonly provider: Provider;
  readonly addresses: ConsoleAddresses;
  readonly port?: number;
  readonly host?: string;
  /** Trust window in seconds (default one day). */
  readonly maxAge?: number;
  readonly fromBlock?: number;
  readonly chunk?: number;
  /** Blocks to stay behind the head (ChainSyncOptions.confirmations). */
  readonly confirmations?: number;
  readonly pollMs?: number;
  /** The gateway's and watchtower's ops URLs (http://host:port), for the Operations view. */
  readonly gateway?: string | undefined;
  readonly watchtower?: string | undefined;
  /** Progress lines (building the page, catching up with the chain). */
  readonly log?: (line: string) => void;
}

export interface RunningConsole {
  readonly url: string;
  readonly server: ConsoleServer;
  readonly index: EventIndex;
  stop(): Promise<void>;
}

export const DEFAULT_MAX_AGE = 86_400;

/** Builds the page if needed, indexes the chain, and serves the console on loopback. */
export async function runConsole(options: RunConsoleOptions): Promise<RunningConsole> {
  const log = options.log ?? (() => undefined);
  const staticDir = await ensureConsoleBundle(log);
  const { chainId } = await options.provider.getNetwork();
  let asset: Status["asset"] = null;
  if (options.addresses.pool !== undefined) {
    const units = await poolUnits(poolAt(options.addresses.pool, options.provider));
    asset = {
      address: units.asset.address.toLowerCase() as HexString,
      symbol: units.asset.symbol,
      decimals: units.asset.decimals,
    };
  }
  const index = new EventIndex();
  const sync = new ChainSync(options.provider, options.addresses, index, {
    ...(options.fromBlock === undefined ? {} : { fromBlock: options.fromBlock }),
    ...(options.chunk === undefined ? {} : { chunk: options.chunk }),
    ...(options.confirmations === undefined ? {} : { confirmations: options.confirmations }),
    onProgress: (done, total) => {
      log(`indexed ${String(done)} of ${String(total)} blocks`);
    },
  });
  const services: ServiceProbe[] = [];
  if (options.gateway !== undefined && options.gateway !== "")
    services.push(new ServiceProbe("gateway", options.gateway));
  if (options.watchtower !== undefined && options.watchtower !== "") {
    services.push(new ServiceProbe("watchtower", options.watchtower));
  }
  const server = new ConsoleServer({
    index,
    sync,
    provider: options.provider,
    addresses: options.addresses,
    chainId: chainId.toString(),
    maxAge: options.maxAge ?? DEFAULT_MAX_AGE,
    asset,
    staticDir,
    services,
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.host === undefined ? {} : { host: options.host }),
    onSyncError: (err) => {
      log(
        `reading the chain failed (retrying): ${err instanceof Error ? err.message : String(err)}`,
      );
    },
  });
  const url = await server.start();
  return { url, server, index, stop: () => server.stop() };
}
