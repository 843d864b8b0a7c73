import assert from "node:assert/strict";
import hre, { network } from "hardhat";
import { Wallet } from "ethers";
import { startHardhatNode, type HardhatNode } from "../support/bundler.js";

/** A configuration variable as Hardhat resolves it in the config (read only when used). */
interface ConfigVariable {
  readonly _type: string;
  readonly name: string;
  get(): Promise<string>;
}

function variable(value: unknown): ConfigVariable {
  const v = value as Partial<ConfigVariable>;
  assert.equal(v._type, "ResolvedConfigurationVariable", "a configuration variable, not a literal");
  return value as ConfigVariable;
}

describe("networks: public chains and the EVM template read their secrets from configuration variables", function () {
  this.timeout(60_000);

  it("names sepolia, baseSepolia and evm with an RPC URL and a deployer key that are configuration variables", function () {
    const expected = {
      sepolia: ["SEPOLIA_RPC_URL", "SEPOLIA_DEPLOYER_KEY", 11_155_111, "l1"],
      baseSepolia: ["BASE_SEPOLIA_RPC_URL", "BASE_SEPOLIA_DEPLOYER_KEY", 84_532, "op"],
      evm: ["EVM_RPC_URL", "EVM_DEPLOYER_KEY", undefined, "l1"],
    } as const;
    for (const [name, [url, key, chainId, chainType]] of Object.entries(expected)) {
      const config = hre.config.networks[name];
      assert.ok(config?.type === "http", `${name} is an http network`);
      assert.equal(variable(config.url).name, url);
      assert.ok(Array.isArray(config.accounts));
      assert.deepEqual(
        config.accounts.map((a) => variable(a).name),
        [key],
      );
      assert.equal(config.chainId, chainId);
      assert.equal(config.chainType, chainType);
    }
    const verify = (hre.config as unknown as { verify: { etherscan: { apiKey: unknown } } }).verify;
    assert.equal(variable(verify.etherscan.apiKey).name, "ETHERSCAN_API_KEY");
  });

  it("says which variable is missing when a network is used without it", async function () {
    delete process.env.SEPOLIA_RPC_URL;
    // Hardhat's own message, or (under `hardhat test` with a development keystore) the keystore's, which
    // says how to set it: both name the variable.
    await assert.rejects(
      network.create("sepolia"),
      /(Configuration Variable|Key) "SEPOLIA_RPC_URL" not found/,
    );
  });

  describe("the evm template against a real node", function () {
    let node: HardhatNode;
    const saved = { url: process.env.EVM_RPC_URL, key: process.env.EVM_DEPLOYER_KEY };

    before(async function () {
      node = await startHardhatNode();
    });

    after(async function () {
      if (saved.url === undefined) delete process.env.EVM_RPC_URL;
      else process.env.EVM_RPC_URL = saved.url;
      if (saved.key === undefined) delete process.env.EVM_DEPLOYER_KEY;
      else process.env.EVM_DEPLOYER_KEY = saved.key;
      await node.stop();
    });

    it("deploys from the deployer key it reads from the environment (the keystore's fallback)", async function () {
      // Hardhat's default account #7 (funded on the node), as an operator's own key would be.
      const deployer = new Wallet(
        "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
      );
      process.env.EVM_RPC_URL = node.rpcUrl;
      process.env.EVM_DEPLOYER_KEY = deployer.privateKey;
      const { ethers } = await network.create("evm");
      const [signer] = await ethers.getSigners();
      assert.equal(signer?.address, deployer.address);
      const token = await ethers.deployContract("MockERC20", ["Energy Credit", "NRG"]);
      await token.waitForDeployment();
      assert.notEqual(await ethers.provider.getCode(await token.getAddress()), "0x");
      assert.equal((await ethers.provider.getNetwork()).chainId, 31_337n);
    });
  });
});
