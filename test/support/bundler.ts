import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { JsonRpcProvider, type JsonRpcSigner } from "ethers";
import { freePort } from "../../src/gateway/mosquitto.js";
import type { Hex } from "../../src/protocol/index.js";
import { deployEntryPointV08, type JsonRpcSend } from "../../src/client/entry-point-local.js";
import {
  ChildProcessTail,
  EXECUTOR,
  httpJsonRpc,
  startAlto,
  waitFor,
} from "../../src/client/alto-local.js";
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
 * pointed at it (src/client/alto-local.ts: why alto runs without safe mode). `stop()` ends both
 * processes by pid and removes the scratch folder. No describe() here: mocha loads this file and finds
 * no tests.
 */

const require = createRequire(import.meta.url);

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
/**
 * A Hardhat project of its own for the node: the repository's hardhat.config.ts would make
 * `hardhat node` load our 400 MB of build-info into EDR first (~12 s; this way ~1 s). Hardhat refuses
 * to run without a package.json and a local installation beside the config, hence the symlink.
 */
async function scratchProject(chainId?: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "devicetrust-bundler-"));
  await writeFile(
    join(dir, "package.json"),
    JSON.stringify({ name: "bundler-node", private: true, type: "module" }),
  );
  // The default "node" network: EDR, chain id 31337 unless told, the latest hardfork, automining.
  const config =
    chainId === undefined
      ? "export default {};\n"
      : `export default { networks: { node: { type: "edr-simulated", chainType: "l1", chainId: ${String(chainId)} } } };\n`;
  await writeFile(join(dir, "hardhat.config.js"), config);
  await symlink(join(process.cwd(), "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

/** A `hardhat node` (EDR, chain 31337 or the given id, automining) on a free loopback port, in a scratch project. */
export interface HardhatNode {
  readonly rpcUrl: string;
  readonly port: number;
  readonly pid: number;
  readonly send: JsonRpcSend;
  /** Milliseconds from spawn to its first answer. */
  readonly startMs: number;
  output(): string;
  /** Stops the node by pid and removes its scratch project. */
  stop(): Promise<void>;
}

export async function startHardhatNode(timeoutMs = 60_000, chainId?: number): Promise<HardhatNode> {
  const dir = await scratchProject(chainId);
  const port = await freePort();
  const hardhatCli = join(dirname(require.resolve("hardhat")), "cli.js");
  const node = new ChildProcessTail(
    "hardhat node",
    [
      hardhatCli,
      ...["--config", join(dir, "hardhat.config.js")],
      "node",
      ...["--hostname", "127.0.0.1"],
      ...["--port", String(port)],
    ],
    dir,
  );
  const stop = async (): Promise<void> => {
    await node.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const rpcUrl = `http://127.0.0.1:${String(port)}`;
    const send = httpJsonRpc(rpcUrl);
    const startMs = await waitFor(node, () => send("eth_chainId", []), timeoutMs);
    return { rpcUrl, port, pid: node.pid, send, startMs, output: () => node.output(), stop };
  } catch (err: unknown) {
    await stop();
    throw err;
  }
}

/** Starts the node, deploys EntryPoint v0.8, starts alto; stops what it started if a step fails. */
export async function startBundlerChain(options: BundlerChainOptions = {}): Promise<BundlerChain> {
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const stops: (() => Promise<void>)[] = [];
  const outputs: (() => string)[] = [];
  const stop = async (): Promise<void> => {
    // Last started, first stopped; a second call finds nothing left to stop.
    for (const s of stops.splice(0).reverse()) await s();
  };
  try {
    const node = await startHardhatNode(timeoutMs);
    stops.push(() => node.stop());
    outputs.push(() => node.output());
    const { rpcUrl, send } = node;
    const nodePort = node.port;
    const nodeMs = node.startMs;

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
