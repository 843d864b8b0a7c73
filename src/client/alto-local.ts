import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { freePort } from "../gateway/mosquitto.js";
import type { Hex } from "../protocol/index.js";
import type { JsonRpcSend } from "./entry-point-local.js";

/**
 * A real ERC-4337 bundler on loopback, for local chains: @pimlico/alto 0.0.20 as a child process on a free
 * port, pointed at a JSON-RPC endpoint (a `hardhat node`, or an in-process Hardhat network served by
 * serveJsonRpc), and the plumbing both need. The tests (test/support/bundler.ts) and the demo use it.
 *
 * Why alto runs with --safe-mode false: safe mode traces validation with debug_traceCall and a
 * JavaScript tracer (alto's BundlerCollectorTracer), and EDR answers that with -32602 "JS Tracer is
 * not enabled". test/support/erc7562.ts checks the same ERC-7562 rules from EDR's struct logs instead.
 */

const require = createRequire(import.meta.url);

/** Hardhat's default accounts (mnemonic "test test … junk"): alto's executor and utility wallets. */
const EXECUTOR_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"; // #1
const UTILITY_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"; // #2
/** alto's default executor's address (#1): the EOA that calls handleOps, so the caller of a traced validation too. */
export const EXECUTOR: Hex = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

export function httpJsonRpc(url: string): JsonRpcSend {
  let id = 0;
  return async (method, params) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params }),
    });
    const body = (await response.json()) as {
      result?: unknown;
      error?: { code?: number; message?: string };
    };
    if (body.error !== undefined) {
      throw Object.assign(new Error(`${method}: ${body.error.message ?? "error"}`), {
        code: body.error.code,
      });
    }
    return body.result;
  };
}

/** A child process whose output we keep the tail of, and can stop and wait for. */
export class ChildProcessTail {
  readonly name: string;
  readonly process: ChildProcess;
  private tail = "";

  constructor(name: string, args: readonly string[], cwd: string) {
    this.name = name;
    this.process = spawn(process.execPath, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    // The node logs every request: read its pipes (a full pipe would block it), keep the tail.
    const keep = (chunk: Buffer): void => {
      this.tail = (this.tail + chunk.toString()).slice(-6000);
    };
    this.process.stdout?.on("data", keep);
    this.process.stderr?.on("data", keep);
  }

  get pid(): number {
    const pid = this.process.pid;
    if (pid === undefined) throw new Error(`${this.name} did not start: ${this.tail}`);
    return pid;
  }

  get exited(): boolean {
    return this.process.exitCode !== null || this.process.signalCode !== null;
  }

  output(): string {
    return `--- ${this.name} (pid ${String(this.process.pid)}) ---\n${this.tail}`;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((resolve) => this.process.once("exit", resolve));
    this.process.kill("SIGTERM");
    const timer = setTimeout(() => this.process.kill("SIGKILL"), 5_000);
    await gone;
    clearTimeout(timer);
  }
}

/** Polls `probe` until it answers; fails with the child's output if it exits or the time runs out. */
export async function waitFor(
  child: ChildProcessTail,
  probe: () => Promise<unknown>,
  timeoutMs: number,
): Promise<number> {
  const start = Date.now();
  for (;;) {
    try {
      await probe();
      return Date.now() - start;
    } catch (err: unknown) {
      if (child.exited || Date.now() - start > timeoutMs) {
        throw new Error(`${child.name} did not answer within ${timeoutMs} ms\n${child.output()}`, {
          cause: err,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * alto's flags against a hardhat node, each for a reason:
 * - --entrypoints: EntryPoint v0.8 at its canonical address (alto tells versions by address).
 * - --executor-private-keys / --utility-private-key: Hardhat accounts #1 / #2 (funded) unless given. The utility
 *   key deploys alto's simulation contracts (PimlicoSimulations, EntryPointSimulations 0.7/0.8/0.9)
 *   through the deterministic deployer at start-up (--deploy-simulations-contract, on by default).
 * - --safe-mode: off unless asked: see the module comment.
 * - --block-time 250: alto polls receipts at a quarter of it; the node mines each bundle at once.
 * - --utility-wallet-monitor false: no balance polling every 15 s for a test.
 * - --enable-debug-endpoints: debug_bundler_* (dumpMempool, clearState, sendBundleNow) for tests.
 * - --log-level warn: the info log prints every RPC round trip.
 * Defaults kept on purpose: --code-override-support and --balance-override (EDR's eth_call takes
 * state overrides, which alto's gas estimation uses), --bundle-mode auto, --chain-type default.
 * alto 0.0.20 has no host option: it binds 0.0.0.0 (rpc/server.js); we only ever call 127.0.0.1.
 */
function altoArgs(rpcUrl: string, port: number, options: AltoOptions): string[] {
  const altoDir = dirname(require.resolve("@pimlico/alto"));
  return [
    join(altoDir, "cli/alto.js"),
    ...["--entrypoints", options.entryPoint],
    ...["--executor-private-keys", options.executorKey ?? EXECUTOR_KEY],
    ...["--utility-private-key", options.utilityKey ?? UTILITY_KEY],
    ...["--rpc-url", rpcUrl],
    ...["--port", String(port)],
    ...["--safe-mode", String(options.safeMode ?? false)],
    ...["--block-time", "250"],
    ...["--utility-wallet-monitor", "false"],
    "--enable-debug-endpoints",
    ...["--log-level", "warn"],
  ];
}

export interface AltoOptions {
  readonly entryPoint: Hex;
  /**
   * The funded keys alto sends handleOps from and deploys its simulation contracts with (default Hardhat's
   * accounts #1 and #2): give keys of their own where something else sends from those accounts.
   */
  readonly executorKey?: Hex;
  readonly utilityKey?: Hex;
  /** --safe-mode (default false): see the module comment. */
  readonly safeMode?: boolean;
  /** How long alto may take to answer its first request (default 60 s). */
  readonly startTimeoutMs?: number;
}

/** An alto process on a free loopback port. */
export interface AltoProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Milliseconds from spawn to its first answer (simulation contracts deployed by then). */
  readonly startMs: number;
  output(): string;
  stop(): Promise<void>;
}

/** Starts alto against the node at `rpcUrl` (EntryPoint v0.8 must be deployed there already). */
export async function startAlto(rpcUrl: string, options: AltoOptions): Promise<AltoProcess> {
  const port = await freePort();
  const alto = new ChildProcessTail("alto", altoArgs(rpcUrl, port, options), process.cwd());
  const url = `http://127.0.0.1:${String(port)}`;
  const send = httpJsonRpc(url);
  try {
    const startMs = await waitFor(
      alto,
      () => send("eth_supportedEntryPoints", []),
      options.startTimeoutMs ?? 60_000,
    );
    return {
      url,
      port,
      pid: alto.pid,
      startMs,
      output: () => alto.output(),
      stop: () => alto.stop(),
    };
  } catch (err: unknown) {
    await alto.stop();
    throw err;
  }
}

/** A JSON-RPC endpoint on loopback in front of an EIP-1193 provider (an in-process Hardhat network). */
export interface JsonRpcBridge {
  readonly url: string;
  close(): Promise<void>;
}

/** What an EIP-1193 provider needs to answer here. */
export interface Eip1193Provider {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

interface JsonRpcRequest {
  readonly id?: unknown;
  readonly method?: unknown;
  readonly params?: unknown;
}

async function answer(provider: Eip1193Provider, call: JsonRpcRequest): Promise<object> {
  const id = call.id ?? null;
  if (typeof call.method !== "string") {
    return { jsonrpc: "2.0", id, error: { code: -32600, message: "no method" } };
  }
  try {
    const params = Array.isArray(call.params) ? (call.params as unknown[]) : [];
    return { jsonrpc: "2.0", id, result: await provider.request({ method: call.method, params }) };
  } catch (err: unknown) {
    const e = err as { code?: unknown; message?: unknown; data?: unknown };
    const code = typeof e.code === "number" ? e.code : -32603;
    const message = typeof e.message === "string" ? e.message : String(err);
    return {
      jsonrpc: "2.0",
      id,
      error: { code, message, ...(e.data === undefined ? {} : { data: e.data }) },
    };
  }
}

async function body(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

/**
 * Serves `provider` over HTTP JSON-RPC (single and batched requests) on 127.0.0.1 and a free port, so
 * that a process of its own (alto) can use a chain that lives in this one. Errors keep their code, message
 * and data (a revert's data is what a bundler decodes).
 */
export async function serveJsonRpc(provider: Eip1193Provider): Promise<JsonRpcBridge> {
  const server = createServer((request, response) => {
    void (async () => {
      let reply: unknown;
      try {
        const parsed = JSON.parse(await body(request)) as JsonRpcRequest | JsonRpcRequest[];
        reply = Array.isArray(parsed)
          ? await Promise.all(parsed.map((call) => answer(provider, call)))
          : await answer(provider, parsed);
      } catch {
        reply = { jsonrpc: "2.0", id: null, error: { code: -32700, message: "parse error" } };
      }
      response.writeHead(200, { "content-type": "application/json" });
      response.end(
        JSON.stringify(reply, (_key, value: unknown) =>
          typeof value === "bigint" ? `0x${value.toString(16)}` : value,
        ),
      );
    })();
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : 0);
    });
  });
  return {
    url: `http://127.0.0.1:${String(port)}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
