import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AbiCoder, getAddress, id } from "ethers";
import { createHardhatRuntimeEnvironment } from "hardhat/hre";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import config from "../../hardhat.config.js";
import { startHardhatNode, type HardhatNode } from "../support/bundler.js";
import { FixedSupplyToken__factory } from "../../types/ethers-contracts/index.js";
import { runTask } from "./run-task.js";

/** One request the offline explorer received: its query and, for a POST, its form fields. */
interface ExplorerRequest {
  readonly method: string;
  readonly query: Record<string, string>;
  readonly form: Record<string, string>;
}

/**
 * An Etherscan-compatible API on loopback that accepts every verification: it records what hardhat-verify
 * sends, so the request shape is checked without an explorer or a key.
 */
async function startOfflineExplorer(): Promise<{
  url: string;
  requests: ExplorerRequest[];
  close: () => Promise<void>;
}> {
  const requests: ExplorerRequest[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const query = Object.fromEntries(url.searchParams);
      const form = Object.fromEntries(new URLSearchParams(body));
      requests.push({ method: req.method ?? "", query, form });
      const reply = (value: unknown): void => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(value));
      };
      if (query.action === "getsourcecode") {
        reply({ status: "1", message: "OK", result: [{ SourceCode: "" }] });
      } else if (query.action === "verifysourcecode") {
        reply({ status: "1", message: "OK", result: `guid-${String(requests.length)}` });
      } else if (query.action === "checkverifystatus") {
        reply({ status: "1", message: "OK", result: "Pass - Verified" });
      } else {
        reply({ status: "0", message: "NOTOK", result: `unknown action ${String(query.action)}` });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(port)}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The project's config pointed at `node` (as the default network), at an offline explorer for the node's
 * chain (hardhat-verify refuses chain 31337 itself, before any request) and at a scratch Ignition folder,
 * so nothing is written into deploy/deployments.
 */
async function runtimeFor(
  node: HardhatNode,
  ignitionDir: string,
  explorerUrl: string,
  chainId = 31_337,
): Promise<HardhatRuntimeEnvironment> {
  return createHardhatRuntimeEnvironment(
    {
      ...config,
      paths: { ...config.paths, ignition: ignitionDir },
      networks: { ...config.networks, systemNode: { type: "http", url: node.rpcUrl } },
      chainDescriptors: {
        ...config.chainDescriptors,
        [chainId]: {
          name: "Offline chain",
          chainType: "l1",
          hardforkHistory: { osaka: { blockNumber: 0 } },
          blockExplorers: {
            etherscan: { name: "Offline explorer", url: explorerUrl, apiUrl: `${explorerUrl}/api` },
          },
        },
      },
      verify: {
        etherscan: { apiKey: "offline-test-key" },
        blockscout: { enabled: false },
        sourcify: { enabled: false },
      },
    },
    { network: "systemNode" },
    process.cwd(),
  );
}

/** The accounts of a `hardhat node` (unlocked: the node signs for them). */
async function nodeAccounts(node: HardhatNode): Promise<string[]> {
  return (await node.send("eth_accounts", [])) as string[];
}

/** Sends a transaction from an unlocked account of the node and returns its receipt. */
async function sendFrom(
  node: HardhatNode,
  tx: { from: string; to?: string; data: string },
): Promise<{ contractAddress: string | null; status: string }> {
  const hash = (await node.send("eth_sendTransaction", [tx])) as string;
  return (await node.send("eth_getTransactionReceipt", [hash])) as {
    contractAddress: string | null;
    status: string;
  };
}

/** A hardhat node (chain 31337 or `chainId`), an offline explorer, a scratch Ignition folder, the runtime. */
interface SystemChain {
  readonly node: HardhatNode;
  readonly explorer: Awaited<ReturnType<typeof startOfflineExplorer>>;
  readonly scratch: string;
  readonly runtime: HardhatRuntimeEnvironment;
  blockNumber(): Promise<bigint>;
  stop(): Promise<void>;
}

async function startSystemChain(chainId?: number): Promise<SystemChain> {
  const node = await startHardhatNode(60_000, chainId);
  const explorer = await startOfflineExplorer();
  const scratch = await mkdtemp(join(tmpdir(), "devicetrust-system-"));
  const runtime = await runtimeFor(node, scratch, explorer.url, chainId);
  return {
    node,
    explorer,
    scratch,
    runtime,
    blockNumber: async () => BigInt(String(await node.send("eth_blockNumber", []))),
    stop: async () => {
      await node.stop();
      await explorer.close();
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

const LOCAL_PARAMETERS = new URL("../../deploy/parameters/localhost.json", import.meta.url);
const SEPOLIA_PARAMETERS = new URL("../../deploy/parameters/sepolia.json", import.meta.url);

/**
 * `system deploy` and `system check` as an operator runs them against a chain that outlives the process:
 * a `hardhat node`, with the project's config pointed at it, at an offline explorer (chain 31337's
 * Etherscan API) and at a scratch Ignition folder (nothing is written into deploy/deployments).
 */
describe("tasks: system deploy and system check (against a hardhat node)", function () {
  this.timeout(300_000);
  let chain: SystemChain;
  let node: HardhatNode;
  let scratch: string;
  let runtime: HardhatRuntimeEnvironment;
  let deployed: Record<string, string>;

  before(async function () {
    chain = await startSystemChain();
    ({ node, scratch, runtime } = chain);
  });

  after(async function () {
    await chain.stop();
  });

  const blockNumber = (): Promise<bigint> => chain.blockNumber();

  it("refuses, before sending anything, a governance that is the deployer", async function () {
    const [deployer] = (await node.send("eth_accounts", [])) as string[];
    const file = JSON.parse(await readFile(LOCAL_PARAMETERS, "utf8")) as {
      $global: { governance: string };
    };
    file.$global.governance = deployer ?? "";
    const path = join(scratch, "self-governed.json");
    await writeFile(path, JSON.stringify(file));
    const before = await blockNumber();
    const refused = await runTask(["system", "deploy"], { parameters: path }, runtime);
    assert.equal(refused.result.success, false);
    assert.match(refused.stderr, /is the deploying account: .* ungoverned/);
    assert.equal(await blockNumber(), before, "nothing was sent");
  });

  it("deploys the wired system over a mock collateral on a local node, and checks it on chain", async function () {
    const done = await runTask(
      ["system", "deploy"],
      { parameters: LOCAL_PARAMETERS.pathname, json: true },
      runtime,
    );
    assert.equal(done.result.success, true, done.stderr);
    const out = JSON.parse(done.stdout.slice(done.stdout.lastIndexOf("\n{") + 1)) as {
      addresses: Record<string, string>;
      checks: number;
      deploymentId: string;
    };
    deployed = out.addresses;
    assert.equal(out.deploymentId, "chain-31337");
    assert.ok(out.checks > 25, `${String(out.checks)} wiring checks`);
    assert.match(
      done.stderr,
      /deploying DeviceTrustLocal .* collateral a mock token \(local chain\)/,
    );
    assert.match(done.stderr, /wiring checked on chain: \d+ facts hold/);
    const addresses = JSON.parse(
      await readFile(
        join(scratch, "deployments", "chain-31337", "deployed_addresses.json"),
        "utf8",
      ),
    ) as Record<string, string>;
    assert.equal(addresses["DeviceRegistry#DeviceRegistry"], deployed.registry);
  });

  it("runs again without sending anything: the deployment is complete", async function () {
    const before = await blockNumber();
    const again = await runTask(
      ["system", "deploy"],
      { parameters: LOCAL_PARAMETERS.pathname, json: true },
      runtime,
    );
    assert.equal(again.result.success, true, again.stderr);
    assert.equal(await blockNumber(), before);
  });

  it("system check passes, and names the fact that breaks when governance changes the wiring", async function () {
    const [deployer, governance] = (await node.send("eth_accounts", [])) as string[];
    const ok = await runTask(["system", "check"], { governance, deployer, json: true }, runtime);
    assert.equal(ok.result.success, true, ok.stderr);

    // Governance (an unlocked account of the node) takes the suspender role from staking.
    const data =
      id("revokeRole(bytes32,address)").slice(0, 10) +
      AbiCoder.defaultAbiCoder()
        .encode(["bytes32", "address"], [id("SUSPENDER_ROLE"), deployed.staking])
        .slice(2);
    await node.send("eth_sendTransaction", [{ from: governance, to: deployed.registry, data }]);
    const broken = await runTask(["system", "check"], { governance, deployer }, runtime);
    assert.equal(broken.result.success, false);
    assert.match(broken.stderr, /FAIL staking may suspend devices/);
    assert.match(broken.stderr, /1 of \d+ wiring checks failed: staking may suspend devices/);
  });

  it("refuses the in-process network and an in-process fork, which end with the process", async function () {
    const refused = await runTask(["system", "deploy"], {});
    assert.equal(refused.result.success, false);
    assert.match(refused.stderr, /lives in this process and ends with it/);
    const forkRuntime = await createHardhatRuntimeEnvironment(
      {
        ...config,
        networks: {
          ...config.networks,
          forkOfNode: { type: "edr-simulated", chainType: "l1", forking: { url: node.rpcUrl } },
        },
      },
      { network: "forkOfNode" },
      process.cwd(),
    );
    const fork = await runTask(["system", "deploy"], {}, forkRuntime);
    assert.equal(fork.result.success, false);
    assert.match(fork.stderr, /network "forkOfNode" lives in this process/);
  });
});

describe("tasks: system deploy to a public chain id (a hardhat node as chain 11155111)", function () {
  this.timeout(300_000);
  let chain: SystemChain;
  let node: HardhatNode;
  let explorer: SystemChain["explorer"];
  let scratch: string;
  let runtime: HardhatRuntimeEnvironment;
  let parameters: string;

  before(async function () {
    chain = await startSystemChain(11_155_111);
    ({ node, explorer, scratch, runtime } = chain);
    const [deployer, governance] = await nodeAccounts(node);
    // The chain's "stablecoin": 6 decimals, a fixed supply, no mint (MockERC20 refuses this chain).
    const deploy = await new FixedSupplyToken__factory().getDeployTransaction(
      "Test Dollar",
      "TUSD",
      6,
      10n ** 15n,
    );
    const receipt = await sendFrom(node, { from: deployer ?? "", data: deploy.data });
    const file = JSON.parse(await readFile(SEPOLIA_PARAMETERS, "utf8")) as {
      $global: { governance: string };
      DeviceStaking: { token: string };
    };
    file.$global.governance = governance ?? "";
    file.DeviceStaking.token = receipt.contractAddress ?? "";
    parameters = join(scratch, "sepolia.json");
    await writeFile(parameters, JSON.stringify(file, null, 2));
  });

  after(async function () {
    await chain.stop();
  });

  const blockNumber = (): Promise<bigint> => chain.blockNumber();

  it("refuses the shipped file until governance is set in it", async function () {
    const refused = await runTask(
      ["system", "deploy"],
      { parameters: SEPOLIA_PARAMETERS.pathname, yes: true },
      runtime,
    );
    assert.equal(refused.result.success, false);
    assert.match(
      refused.stderr,
      /set governance in .*sepolia\.json \(\$global\.governance\) to a non-zero address/,
    );
  });

  it("asks for --yes on a public chain id, before sending anything", async function () {
    const before = await blockNumber();
    const refused = await runTask(["system", "deploy"], { parameters }, runtime);
    assert.equal(refused.result.success, false);
    assert.match(refused.stderr, /collateral TUSD 0x[0-9a-fA-F]{40} \(6 decimals\)/);
    assert.match(
      refused.stderr,
      /deploying to chain 11155111 spends real gas .* run again with --yes/,
    );
    assert.equal(await blockNumber(), before);
  });

  it("deploys over the chain's token, checks the wiring and verifies every contract (Etherscan's request shape)", async function () {
    const done = await runTask(
      ["system", "deploy"],
      { parameters, yes: true, verify: true, json: true },
      runtime,
    );
    assert.equal(done.result.success, true, done.stderr);
    assert.match(done.stderr, /deploying DeviceTrust to systemNode \(chain 11155111\)/);
    const out = JSON.parse(done.stdout.slice(done.stdout.lastIndexOf("\n{") + 1)) as {
      addresses: Record<string, string>;
      verified: boolean;
    };
    assert.equal(out.verified, true);

    // Etherscan's v2 API: one key, the chain in `chainid`, the standard JSON input as `sourceCode`.
    const submissions = explorer.requests.filter((r) => r.query.action === "verifysourcecode");
    assert.deepEqual(submissions.map((r) => r.form.contractname).sort(), [
      "project/contracts/attestation/FirmwareSignatures.sol:FirmwareSignatures",
      "project/contracts/attestation/PsaAttestation.sol:PsaAttestation",
      "project/contracts/attestation/TpmAttestation.sol:TpmAttestation",
      "project/contracts/feeds/DeviceFeedFactory.sol:DeviceFeedFactory",
      "project/contracts/feeds/ReadingAnchor.sol:ReadingAnchor",
      "project/contracts/identity/DeviceRegistry.sol:DeviceRegistry",
      "project/contracts/identity/PqKeyRecovery.sol:PqKeyRecovery",
      "project/contracts/insurance/InsurancePool.sol:InsurancePool",
      "project/contracts/staking/DeviceStaking.sol:DeviceStaking",
      "project/contracts/staking/FraudProofs.sol:FraudProofs",
    ]);
    for (const r of submissions) {
      assert.equal(r.method, "POST");
      assert.equal(r.query.chainid, "11155111");
      assert.equal(r.query.apikey, "offline-test-key");
      assert.equal(r.query.module, "contract");
      assert.equal(r.form.codeformat, "solidity-standard-json-input");
      assert.ok(
        Object.values(out.addresses).includes(getAddress(r.form.contractaddress ?? "")),
        `${String(r.form.contractaddress)} is a deployed contract`,
      );
      assert.match(r.form.compilerversion ?? "", /^v0\.8\.37\+commit\.[0-9a-f]{8}$/);
      const input = JSON.parse(r.form.sourceCode ?? "{}") as {
        language: string;
        sources: Record<string, unknown>;
        settings: { optimizer?: { enabled?: boolean } };
      };
      assert.equal(input.language, "Solidity");
      const [source] = (r.form.contractname ?? "").split(":");
      assert.ok(source !== undefined && source in input.sources, `${String(source)} is submitted`);
      // The settings the contract was built with (the evm version is solc 0.8.37's default, prague).
      assert.equal(input.settings.optimizer?.enabled, true, JSON.stringify(input.settings));
    }
    const registry = submissions.find((r) => r.form.contractname?.endsWith(":DeviceRegistry"));
    assert.equal(getAddress(registry?.form.contractaddress ?? ""), out.addresses.registry);
    const registryInput = JSON.parse(registry?.form.sourceCode ?? "{}") as {
      settings: { viaIR?: boolean };
    };
    assert.equal(registryInput.settings.viaIR, true, JSON.stringify(registryInput.settings));
    const [deployer] = await nodeAccounts(node);
    const args = registry?.form.constructorArguements ?? registry?.form.constructorArguments;
    assert.equal(
      `0x${String(args)}`,
      AbiCoder.defaultAbiCoder().encode(["address"], [deployer]),
      "the registry's constructor argument: the deployer, its first admin",
    );
  });

  it("runs again without sending anything: the deployment is complete", async function () {
    const before = await blockNumber();
    const again = await runTask(["system", "deploy"], { parameters, yes: true }, runtime);
    assert.equal(again.result.success, true, again.stderr);
    assert.equal(await blockNumber(), before);
  });
});
