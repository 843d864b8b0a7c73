import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { network } from "hardhat";
import { deployAccountSystem, registerAndAttest } from "../../src/client/account-local.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import type { Hex } from "../../src/protocol/index.js";
import { startHardhatNode, type HardhatNode } from "../support/bundler.js";

const run = promisify(execFile);

/**
 * The fork workflow the README describes: the system on a `hardhat node` (the origin), `--network fork`
 * forking it (FORK_RPC_URL; hardhat.config.ts's chainDescriptors give chain 31337 its hardfork history),
 * a task against the fork, and time travel on the fork that leaves the origin as it was.
 */
describe("fork workflow: a hardhat node with the system, forked in process", function () {
  this.timeout(180_000);
  let node: HardhatNode;
  let registry: Hex;
  let device: Hex;
  const saved = process.env.FORK_RPC_URL;

  before(async function () {
    node = await startHardhatNode();
    const origin = await network.create({ network: "localhost", override: { url: node.rpcUrl } });
    const [deployer, maker, operator] = await origin.ethers.getSigners();
    if (deployer === undefined || maker === undefined || operator === undefined) {
      throw new Error("the node has fewer than three accounts");
    }
    const system = await deployAccountSystem({
      deployer,
      maker,
      deviceOperator: operator,
      send: (method, params) => origin.provider.request({ method, params }),
    });
    registry = system.registryAddress;
    device = await registerAndAttest(system, SoftwareKeyStore.generate("p256"));
    process.env.FORK_RPC_URL = node.rpcUrl;
  });

  after(async function () {
    if (saved === undefined) delete process.env.FORK_RPC_URL;
    else process.env.FORK_RPC_URL = saved;
    await node.stop();
  });

  it("sees the origin's system, and travels in time without moving the origin", async function () {
    const origin = await network.create({ network: "localhost", override: { url: node.rpcUrl } });
    const fork = await network.create("fork");
    const originRegistry = await origin.ethers.getContractAt("DeviceRegistry", registry);
    const forkRegistry = await fork.ethers.getContractAt("DeviceRegistry", registry);
    const originBlock = await origin.ethers.provider.getBlock("latest");
    assert.equal(
      await forkRegistry.isTrusted(device, 3_600n),
      true,
      "the fork sees the attested device",
    );

    await fork.networkHelpers.time.increase(2 * 3_600);
    await fork.networkHelpers.mine();
    assert.equal(
      await forkRegistry.isTrusted(device, 3_600n),
      false,
      "stale on the fork, two hours on",
    );
    assert.equal(
      await originRegistry.isTrusted(device, 3_600n),
      true,
      "still trusted on the origin",
    );
    const originNow = await origin.ethers.provider.getBlock("latest");
    assert.equal(originNow?.number, originBlock?.number, "the origin mined nothing");
  });

  it("runs a task against the fork (--network fork)", async function () {
    const { stdout } = await run(
      process.execPath,
      [
        "node_modules/hardhat/dist/src/cli.js",
        "--network",
        "fork",
        "device",
        "trust",
        "--device-id",
        device,
        "--registry",
        registry,
        "--json",
      ],
      { env: { ...process.env, FORK_RPC_URL: node.rpcUrl }, timeout: 120_000 },
    );
    const report = JSON.parse(stdout) as { trusted?: boolean; verdict?: string };
    assert.equal(report.verdict, "Trusted", stdout);
  });
});
