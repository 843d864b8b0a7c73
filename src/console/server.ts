import { readFile, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";
import type { Provider } from "ethers";
import { parseTarget, securityReport } from "../client/insurance-cover.js";
import { poolAt } from "../client/insurance.js";
import { DeviceTrustError } from "../protocol/index.js";
import type {
  ApiError,
  DevicePage,
  FeedPage,
  FeedSummary,
  HexString,
  SecurityView,
  Status,
  Verdict,
} from "./api.js";
import { VERDICTS } from "./api.js";
import type { ChainSync, ConsoleAddresses } from "./chain-sync.js";
import type { EventIndex } from "./event-index.js";
import type { ServiceProbe } from "./ops.js";
import {
  accountsDetail,
  deviceDetail,
  feedDetail,
  feedSummary,
  fleetPage,
  insuranceDetail,
  type ViewContext,
} from "./views.js";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/** How the page learns of new blocks, as Status.live says it. */
export const LIVE_MODE =
  "polling: the console reads new blocks every second; the page asks /api/status every second and refetches its view when the block or the index moved";

export interface ConsoleServerOptions {
  readonly index: EventIndex;
  /** Keeps the index in step with the chain; none for a fixed index (benchmarks). */
  readonly sync?: ChainSync | undefined;
  /** For live reads (security reports); none: those views say so. */
  readonly provider?: Provider | undefined;
  readonly addresses: Partial<ConsoleAddresses>;
  readonly chainId: string;
  /** The trust window for verdicts, in seconds. */
  readonly maxAge: number;
  readonly asset?: Status["asset"];
  /** The built page (dist/console). */
  readonly staticDir: string;
  readonly services?: readonly ServiceProbe[];
  /** Between two reads of the chain, in ms (default 1000). */
  readonly pollMs?: number;
  readonly port?: number;
  /** Default 127.0.0.1: the console serves loopback only unless told otherwise. */
  readonly host?: string;
  /** Told of sync errors (the status shows the last one). */
  readonly onSyncError?: (err: unknown) => void;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
};

/** JSON with bigint as decimal strings (views already carry strings; this is the safety net). */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}

function hexParam(value: string, bytes: number, what: string): HexString {
  const v = value.toLowerCase();
  if (!new RegExp(`^0x[0-9a-f]{${String(bytes * 2)}}$`).test(v)) {
    throw new HttpError(
      400,
      `${what} must be 0x and ${String(bytes * 2)} hex digits, not ${JSON.stringify(value)}`,
    );
  }
  return v as HexString;
}

/**
 * The console's HTTP server: the built page, and its JSON API read from the index (read-only: no
 * route changes anything on chain). It reads the chain every `pollMs` through ChainSync.
 */
export class ConsoleServer {
  private readonly options: ConsoleServerOptions;
  private server: Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private lastError: string | null = null;
  private stopped = false;

  constructor(options: ConsoleServerOptions) {
    this.options = options;
  }

  get index(): EventIndex {
    return this.options.index;
  }

  /** Reads the chain once now (also what the poller does). Errors are kept for /api/status. */
  syncNow(): Promise<void> {
    const sync = this.options.sync;
    if (sync === undefined) return Promise.resolve();
    this.syncing ??= sync
      .sync()
      .then(() => {
        this.lastError = null;
      })
      .catch((err: unknown) => {
        this.lastError = err instanceof Error ? err.message : String(err);
        this.options.onSyncError?.(err);
      })
      .finally(() => {
        this.syncing = undefined;
      });
    return this.syncing;
  }

  /** Syncs once, starts the poller and listens. Resolves with the page's address. */
  async start(): Promise<string> {
    await this.syncNow();
    const server = createServer((req, res) => {
      void this.handle(req, res);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.options.port ?? 0, this.options.host ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    const poll = (): void => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        void this.syncNow().finally(poll);
      }, this.options.pollMs ?? 1000);
      this.timer.unref();
    };
    poll();
    return this.url;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (address === undefined || address === null) throw new Error("the console is not listening");
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    return `http://${host}:${String(address.port)}/`;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.syncing;
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ------------------------------------------------------------------ HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (!this.hostAllowed(req.headers.host)) {
        throw new HttpError(
          403,
          `the console answers to its loopback address only (${this.url}): a page of another site cannot read it by pointing its own name at 127.0.0.1`,
        );
      }
      if (req.method !== "GET" && req.method !== "HEAD")
        throw new HttpError(405, "the console is read-only: GET only");
      const url = new URL(req.url ?? "/", "http://console.local");
      if (url.pathname.startsWith("/api/")) {
        const body = await this.api(url);
        res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
        res.end(req.method === "HEAD" ? undefined : toJson(body));
        return;
      }
      await this.file(url.pathname, req, res);
    } catch (err: unknown) {
      const status =
        err instanceof HttpError ? err.status : err instanceof DeviceTrustError ? 400 : 500;
      const message = err instanceof Error ? err.message : String(err);
      const body: ApiError = { error: message };
      if (!res.headersSent) res.writeHead(status, { "content-type": "application/json" });
      res.end(toJson(body));
    }
  }

  /**
   * Served on loopback (the default), only requests addressed to a loopback name are answered: a site
   * that points its own name at 127.0.0.1 (DNS rebinding) gets a 403, not the fleet.
   */
  private hostAllowed(header: string | undefined): boolean {
    if (!LOOPBACK.has(this.options.host ?? "127.0.0.1")) return true;
    if (header === undefined) return false;
    const name = header.startsWith("[")
      ? header.slice(0, header.indexOf("]") + 1)
      : header.split(":")[0];
    return LOOPBACK.has(name ?? "");
  }

  private async file(pathname: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const root = normalize(this.options.staticDir);
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      throw new HttpError(400, `the path ${pathname} is not valid percent-encoding`);
    }
    let path = normalize(join(root, decoded));
    if (path !== root && !path.startsWith(root + sep)) throw new HttpError(404, "not found");
    let info = await stat(path).catch(() => null);
    if (info?.isDirectory() === true) {
      path = join(path, "index.html");
      info = await stat(path).catch(() => null);
    }
    if (info?.isFile() !== true) {
      if (extname(pathname) !== "") throw new HttpError(404, `no such file: ${pathname}`);
      path = join(root, "index.html");
      if ((await stat(path).catch(() => null)) === null) {
        throw new HttpError(
          503,
          `the console's page is not built (${path} is missing): run npm run build`,
        );
      }
    }
    const body = await readFile(path);
    res.writeHead(200, {
      "content-type": TYPES[extname(path)] ?? "application/octet-stream",
      "cache-control": path.includes(`${sep}assets${sep}`)
        ? "max-age=31536000, immutable"
        : "no-cache",
    });
    res.end(req.method === "HEAD" ? undefined : body);
  }

  private context(): ViewContext {
    const index = this.options.index;
    return { index, now: index.blockTime, maxAge: this.options.maxAge };
  }

  private async api(url: URL): Promise<unknown> {
    const parts = url.pathname.split("/").filter((p) => p !== "");
    const route = parts[1] ?? "";
    const q = url.searchParams;
    const ctx = this.context();
    switch (route) {
      case "status":
        return this.status();
      case "fleet": {
        const verdict = q.get("verdict") ?? "";
        if (verdict !== "" && !VERDICTS.includes(verdict as Verdict)) {
          throw new HttpError(
            400,
            `verdict must be one of ${VERDICTS.join(", ")}, not ${JSON.stringify(verdict)}`,
          );
        }
        return fleetPage(ctx, {
          offset: Number(q.get("offset") ?? 0) || 0,
          limit: Number(q.get("limit") ?? 100) || 100,
          q: q.get("q") ?? "",
          verdict: verdict as Verdict | "",
        });
      }
      case "device": {
        const id = hexParam(parts[2] ?? "", 32, "the device id");
        const d = ctx.index.device(id);
        if (d === undefined)
          throw new HttpError(404, `device ${id} is not registered on this registry`);
        const page: DevicePage = {
          ...deviceDetail(ctx, d),
          ...(await this.securityOf("device", id)),
        };
        return page;
      }
      case "feeds":
        return [...ctx.index.feeds.values()].map((f): FeedSummary => feedSummary(ctx, f));
      case "feed": {
        const address = hexParam(parts[2] ?? "", 20, "the feed address");
        const f = ctx.index.feeds.get(address);
        if (f === undefined) throw new HttpError(404, `no feed at ${address} in this deployment`);
        const page: FeedPage = {
          ...feedDetail(ctx, f),
          ...(await this.securityOf("feed", address)),
        };
        return page;
      }
      case "insurance": {
        const pool = this.options.addresses.pool;
        if (pool === undefined)
          throw new HttpError(404, "no insurance pool in this deployment: give --pool");
        return insuranceDetail(ctx, pool);
      }
      case "security": {
        const kind = q.get("kind");
        if (kind !== "device" && kind !== "feed")
          throw new HttpError(400, "kind must be device or feed");
        const target = hexParam(q.get("target") ?? "", kind === "device" ? 32 : 20, `the ${kind}`);
        const raw = q.get("valueAtRisk") ?? "0";
        if (!/^\d{1,78}$/.test(raw))
          throw new HttpError(400, "valueAtRisk must be a whole number of base units");
        const report = await this.security(kind, target, BigInt(raw));
        if (report === null)
          throw new HttpError(404, "no insurance pool in this deployment: give --pool");
        return report;
      }
      case "accounts":
        return accountsDetail(ctx, this.options.addresses.accountFactory ?? null);
      case "ops":
        return { services: await Promise.all((this.options.services ?? []).map((s) => s.probe())) };
      default:
        throw new HttpError(404, `no such API route: ${url.pathname}`);
    }
  }

  private status(): Status {
    const i = this.options.index;
    const contracts: Record<string, HexString> = {};
    for (const [k, v] of Object.entries(this.options.addresses)) {
      if (typeof v === "string") contracts[k] = v;
    }
    return {
      chainId: this.options.chainId,
      block: Math.max(0, i.block),
      blockTime: i.blockTime,
      version: i.version,
      events: i.events,
      devices: i.deviceOrder.length,
      feeds: i.feeds.size,
      maxAge: this.options.maxAge,
      contracts,
      asset: this.options.asset ?? null,
      live: LIVE_MODE,
      error: this.lastError,
    };
  }

  /** A page's security report against no value at risk, or the sentence saying why there is none. */
  private async securityOf(
    kind: "device" | "feed",
    target: HexString,
  ): Promise<{ security: SecurityView | null; securityNote: string | null }> {
    const security = await this.security(kind, target, 0n);
    if (security !== null) return { security, securityNote: null };
    return {
      security,
      securityNote:
        this.options.addresses.pool === undefined
          ? "no insurance pool in this deployment: the security report comes from the pool (start the console with --pool)"
          : "the console has no chain connection for live reads",
    };
  }

  /** The pool's securityReport of a target, read at the head now; null without a pool or provider. */
  private async security(
    kind: "device" | "feed",
    target: HexString,
    valueAtRisk: bigint,
  ): Promise<SecurityView | null> {
    const address = this.options.addresses.pool;
    const provider = this.options.provider;
    if (address === undefined || provider === undefined) return null;
    const r = await securityReport(
      poolAt(address, provider),
      parseTarget({ [kind]: target }),
      valueAtRisk,
    );
    return {
      valueAtRisk: r.valueAtRisk.toString(),
      costOfCorruption: r.costOfCorruption.toString(),
      coverageInForce: r.coverageInForce.toString(),
      margin: r.margin.toString(),
      operatorsToControl: r.operatorsToControl.toString(),
      secure: r.secure,
      verdict: r.verdict,
    };
  }
}
