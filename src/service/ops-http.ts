import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** What a long-running service (gateway, watchtower) exposes to operators over HTTP. */
export interface OpsEndpoints {
  /** The health report; a status other than "ok" answers 503. */
  health(): Promise<{ readonly status: string }>;
  readonly metrics: { text(): Promise<string>; readonly contentType: string };
  /** Called when a handler fails, before the 500 answer (for the service's log). */
  onError?(err: unknown): void;
  /** More GET endpoints, by path ("/recoveries"): each answers 200 with its JSON. */
  readonly routes?: Readonly<Record<string, () => Promise<unknown>>>;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Answers GET /health (200 or 503, JSON), GET /metrics (Prometheus text) and GET on each of `routes`
 * (200, JSON); 404 otherwise.
 */
export async function handleOpsRequest(
  endpoints: OpsEndpoints,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const routes = endpoints.routes ?? {};
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (req.method === "GET" && path === "/health") {
      const report = await endpoints.health();
      res.writeHead(report.status === "ok" ? 200 : 503, { "content-type": "application/json" });
      res.end(JSON.stringify(report));
    } else if (req.method === "GET" && path === "/metrics") {
      const text = await endpoints.metrics.text();
      res.writeHead(200, { "content-type": endpoints.metrics.contentType });
      res.end(text);
    } else if (req.method === "GET" && route !== undefined) {
      const body = await route();
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    } else {
      const uses = ["/health", "/metrics", ...Object.keys(routes)].map((p) => `GET ${p}`);
      const last = uses.pop() ?? "";
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: `not found: use ${uses.join(", ")} or ${last}` }));
    }
  } catch (err: unknown) {
    endpoints.onError?.(err);
    if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: errorText(err) }));
  }
}

/** Starts the /health and /metrics server on `port` (0: any free one) and `host` (default loopback). */
export async function startOpsServer(
  http: { readonly port: number; readonly host?: string },
  serve: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): Promise<{ readonly server: Server; readonly address: AddressInfo }> {
  const server = createServer((req, res) => {
    void serve(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(http.port, http.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  return { server, address: server.address() as AddressInfo };
}

/** Closes an ops server: idle keep-alive connections at once, then waits for the rest. */
export async function stopOpsServer(server: Server | undefined): Promise<void> {
  if (server === undefined) return;
  server.closeIdleConnections();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
}
