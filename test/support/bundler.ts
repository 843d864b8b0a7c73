import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { JsonRpcProvider, type JsonRpcSigner } from "ethers";
import { freePort } from "../../src/gateway/mosquitto.js";
import type { Hex } from "../../src/protocol/index.js";
import { deployEntryPointV08, type JsonRpcSend } from "../../src/client/entry-point-local.js";
import {
  deployAccountSystem,
  type AccountSystem,
  type PaymasterDeployment,
} from "../../src/client/account-local.js";
import type { PackedUserOperation } from "../../src/client/user-operation.js";
import { checkUserOperationValidation, type ValidationReport } from "./erc7562.js";

/**
 * A real ERC-4337 bundler on loopback for tests: Hardhat 3's `hardhat node` (EDR) on a free port,
 * EntryPoint v0.8 at its canonical address on it, and @pimlico/alto 0.0.20 on another free port
 * pointed at it. `stop()` ends both processes by pid and removes the scratch folder. No describe()
 * here: mocha loads this file and finds no tests.
 *
 * Why alto runs with --safe-mode false: safe mode traces validation with debug_traceCall and a
 * JavaScript tracer (alto's BundlerCollectorTracer), and EDR answers that with -32602 "JS Tracer is
 * not enabled". test/support/erc7562.ts checks the same ERC-7562 rules from EDR's struct logs instead.
 */

const require = createRequire(import.meta.url);

/** Hardhat's default accounts (mnemonic "test test … junk"): alto's executor and utility wallets. */
const EXECUTOR_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"; // #1
const UTILITY_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"; // #2
/** alto's executor's address (#1): the EOA that calls handleOps, so the caller of a traced validation too. */
export const EXECUTOR: Hex = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

export interface BundlerChainOptions {
  /** alto's --safe-mode (ERC-7562 tracing): fails every eth_sendUserOperation on EDR (see above). */
  readonly safeMode?: boolean;
  /** How long each process may take to answer its first request (default 60 s). */
  readonly startTimeoutMs?: number;
}

export interface BundlerChain {
  /** The hardhat node's JSON-RPC URL (http://127.0.0.1:<port>). */
  readonly rpcUrl: string;
  /** alto's JSON-RPC URL (http://127.0.0.1:<port>; alto itself binds 0.0.0.0, see altoArgs). */
  readonly bundlerUrl: string;
  readonly entryPoint: Hex;
  readonly chainId: bigint;
  readonly provider: JsonRpcProvider;
  /** Account #0, the funder (#1 and #2 are alto's). */
  readonly funder: JsonRpcSigner;
  /** Raw JSON-RPC to the node through fetch (ethers decodes a 10 MB trace ~10x slower). */
  readonly send: JsonRpcSend;
  /** Milliseconds each start-up step took. */
  readonly timings: { readonly node: number; readonly entryPoint: number; readonly alto: number };
  /** The node's and alto's pids (for tests that check they are gone). */
  readonly pids: { readonly node: number; readonly alto: number };
  readonly ports: { readonly node: number; readonly alto: number };
  /** The last output of both processes (for failure messages). */
  output(): string;
  /** Stops alto, then the node (SIGTERM, SIGKILL after 5 s), and removes the scratch folder. */
  stop(): Promise<void>;
}

/** JSON-RPC over fetch; throws the node's error message. */
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
class Child {
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

async function waitFor(
  child: Child,
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
 * A Hardhat project of its own for the node: the repository's hardhat.config.ts would make
 * `hardhat node` load our 400 MB of build-info into EDR first (~12 s; this way ~1 s). Hardhat refuses
 * to run without a package.json and a local installation beside the config, hence the symlink.
 */
async function scratchProject(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "devicetrust-bundler-"));
  await writeFile(
    join(dir, "package.json"),
    JSON.stringify({ name: "bundler-node", private: true, type: "module" }),
  );
  // The default "node" network: EDR, chain id 31337, the latest hardfork, automining.
  await writeFile(join(dir, "hardhat.config.js"), "export default {};\n");
  await symlink(join(process.cwd(), "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

/**
 * alto's flags against a hardhat node, each for a reason:
 * - --entrypoints: EntryPoint v0.8 at its canonical address (alto tells versions by address).
 * - --executor-private-keys / --utility-private-key: Hardhat accounts #1 / #2 (funded). The utility
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
function altoArgs(rpcUrl: string, port: number, safeMode: boolean, entryPoint: Hex): string[] {
  const altoDir = dirname(require.resolve("@pimlico/alto"));
  return [
    join(altoDir, "cli/alto.js"),
    ...["--entrypoints", entryPoint],
    ...["--executor-private-keys", EXECUTOR_KEY],
    ...["--utility-private-key", UTILITY_KEY],
    ...["--rpc-url", rpcUrl],
    ...["--port", String(port)],
    ...["--safe-mode", String(safeMode)],
    ...["--block-time", "250"],
    ...["--utility-wallet-monitor", "false"],
    "--enable-debug-endpoints",
    ...["--log-level", "warn"],
  ];
}

export interface AltoOptions {
  readonly entryPoint: Hex;
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
  const alto = new Child(
    "alto",
    altoArgs(rpcUrl, port, options.safeMode ?? false, options.entryPoint),
    process.cwd(),
  );
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

/** Starts the node, deploys EntryPoint v0.8, starts alto; stops what it started if a step fails. */
export async function startBundlerChain(options: BundlerChainOptions = {}): Promise<BundlerChain> {
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const dir = await scratchProject();
  const stops: (() => Promise<void>)[] = [];
  const outputs: (() => string)[] = [];
  const stop = async (): Promise<void> => {
    // Last started, first stopped; a second call finds nothing left to stop.
    for (const s of stops.splice(0).reverse()) await s();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const nodePort = await freePort();
    const hardhatCli = join(dirname(require.resolve("hardhat")), "cli.js");
    const node = new Child(
      "hardhat node",
      [
        hardhatCli,
        ...["--config", join(dir, "hardhat.config.js")],
        "node",
        ...["--hostname", "127.0.0.1"],
        ...["--port", String(nodePort)],
      ],
      dir,
    );
    stops.push(() => node.stop());
    outputs.push(() => node.output());
    const rpcUrl = `http://127.0.0.1:${String(nodePort)}`;
    const send = httpJsonRpc(rpcUrl);
    const nodeMs = await waitFor(node, () => send("eth_chainId", []), timeoutMs);

    const provider = new JsonRpcProvider(rpcUrl, undefined, {
      staticNetwork: true,
      cacheTimeout: -1,
    });
    stops.push(() => {
      provider.destroy();
      return Promise.resolve();
    });
    const funder = await provider.getSigner(0);
    const started = Date.now();
    const entryPoint = await deployEntryPointV08(funder, send);
    const entryPointMs = Date.now() - started;

    const alto = await startAlto(rpcUrl, {
      entryPoint,
      safeMode: options.safeMode ?? false,
      startTimeoutMs: timeoutMs,
    });
    stops.push(() => alto.stop());
    outputs.push(() => alto.output());

    const chainId = BigInt(String(await send("eth_chainId", [])));
    return {
      rpcUrl,
      bundlerUrl: alto.url,
      entryPoint,
      chainId,
      provider,
      funder,
      send,
      timings: { node: nodeMs, entryPoint: entryPointMs, alto: alto.startMs },
      pids: { node: node.pid, alto: alto.pid },
      ports: { node: nodePort, alto: alto.port },
      output: () => outputs.map((o) => o()).join("\n"),
      stop,
    };
  } catch (err: unknown) {
    await stop();
    throw err;
  }
}

/**
 * The machine-account system (account-local.ts) on the chain: #0 deploys it and owns the staked
 * paymaster, #3 is the maker, #4 the devices' operator (#1 and #2 are alto's).
 */
export async function deployAccountSystemOn(
  chain: BundlerChain,
): Promise<AccountSystem & PaymasterDeployment> {
  return deployAccountSystem({
    deployer: chain.funder,
    maker: await chain.provider.getSigner(3),
    deviceOperator: await chain.provider.getSigner(4),
    send: chain.send,
  });
}

/** test/support/erc7562.ts's report on `op`'s validation as alto's executor would run it. */
export function checkValidationOn(
  chain: BundlerChain,
  op: PackedUserOperation,
): Promise<ValidationReport> {
  return checkUserOperationValidation(chain.send, op, {
    entryPoint: chain.entryPoint,
    bundler: EXECUTOR,
  });
}
