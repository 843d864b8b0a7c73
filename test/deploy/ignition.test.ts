import { readFile } from "node:fs/promises";
import type { DeploymentParameters } from "@nomicfoundation/ignition-core";
import { expect } from "chai";
import { network } from "hardhat";
import type { DeviceRegistry } from "../../types/ethers-contracts/index.js";
import {
  DeviceStaking__factory,
  InsurancePool__factory,
} from "../../types/ethers-contracts/index.js";
import { DEFAULT_POOL_PARAMS } from "../../deploy/modules/InsurancePool.js";
import DeviceRegistryModule, {
  SUSPENDER_ROLE,
  buildDeviceRegistryModule,
} from "../../deploy/modules/DeviceRegistry.js";
import DeviceTrustModule from "../../deploy/modules/DeviceTrust.js";
import { domainSeparator, type Hex } from "../../src/protocol/index.js";

const { ethers, ignition, networkHelpers } = await network.create();

describe("deploy/modules", function () {
  async function accounts() {
    const [deployer, governance, suspender] = await ethers.getSigners();
    if (deployer === undefined || governance === undefined || suspender === undefined) {
      throw new Error("the in-process network has fewer than three accounts");
    }
    return { deployer, governance, suspender };
  }

  async function deployWithParameters() {
    const { deployer, governance } = await accounts();
    const { deviceRegistry } = await ignition.deploy(DeviceTrustModule, {
      parameters: { DeviceRegistry: { governance: governance.address } },
    });
    const registry = deviceRegistry as unknown as DeviceRegistry;
    return { registry, deployer, governance };
  }

  describe("DeviceTrust", function () {
    it("gives governance the admin and governor roles and the deployer none", async function () {
      const { registry, deployer, governance } =
        await networkHelpers.loadFixture(deployWithParameters);
      const admin = await registry.DEFAULT_ADMIN_ROLE();
      const governor = await registry.GOVERNOR_ROLE();
      expect(await registry.hasRole(admin, governance.address)).to.equal(true);
      expect(await registry.hasRole(governor, governance.address)).to.equal(true);
      expect(await registry.hasRole(admin, deployer.address)).to.equal(false);
      expect(await registry.hasRole(governor, deployer.address)).to.equal(false);
    });

    it("binds device messages to this chain and this registry", async function () {
      const { registry } = await networkHelpers.loadFixture(deployWithParameters);
      const { chainId } = await ethers.provider.getNetwork();
      const verifyingContract = (await registry.getAddress()) as Hex;
      expect(await registry.DOMAIN_SEPARATOR()).to.equal(
        domainSeparator({ chainId, verifyingContract }),
      );
      const domain = await registry.eip712Domain();
      expect(domain.name).to.equal("DeviceTrust");
      expect(domain.version).to.equal("1");
    });
  });

  describe("DeviceTrust with deploy/parameters.json", function () {
    /** The parameter file as Ignition reads it: "123n" strings are bigints. */
    async function parameterFile(): Promise<Record<string, Record<string, unknown>>> {
      const revive = (_key: string, value: unknown): unknown =>
        typeof value === "string" && /^\d+n$/.test(value) ? BigInt(value.slice(0, -1)) : value;
      return JSON.parse(
        await readFile(new URL("../../deploy/parameters.json", import.meta.url), "utf8"),
        revive,
      ) as Record<string, Record<string, unknown>>;
    }

    async function deployFromFile() {
      const parameters = await parameterFile();
      // The same object Ignition builds from the file (module id -> parameter -> value).
      const deployed = await ignition.deploy(DeviceTrustModule, {
        parameters: parameters as DeploymentParameters,
      });
      return { deployed, parameters };
    }

    it("leaves the pool approved as a backer in staking, with the file's pool parameters", async function () {
      const { deployed, parameters } = await networkHelpers.loadFixture(deployFromFile);
      const poolAddress = await deployed.insurancePool.getAddress();
      const staking = DeviceStaking__factory.connect(
        await deployed.deviceStaking.getAddress(),
        ethers.provider,
      );
      expect(await staking.isBacker(poolAddress)).to.equal(true);
      expect(await staking.backers()).to.deep.equal([poolAddress]);
      const pool = InsurancePool__factory.connect(poolAddress, ethers.provider);
      const params = await pool.params();
      const file = parameters.InsurancePool ?? {};
      for (const name of Object.keys(DEFAULT_POOL_PARAMS) as (keyof typeof DEFAULT_POOL_PARAMS)[]) {
        expect(params[name], name).to.equal(file[name]);
      }
      // The windows outlast the evidence window, the cover factor plus the bounty stays below 100%.
      const window = parameters.DeviceStaking?.evidenceWindow as bigint;
      expect(params.claimWindow > window && params.cooldown > window).to.equal(true);
      expect(params.coverFactorBps + (await staking.params()).bountyBps < 10_000n).to.equal(true);
      expect(await pool.coverFactorCeilingBps()).to.equal(params.coverFactorBps);
    });

    it("keeps the module's pool defaults and the file's in step", async function () {
      const file = (await parameterFile()).InsurancePool ?? {};
      for (const [name, value] of Object.entries(DEFAULT_POOL_PARAMS)) {
        expect(file[name], name).to.equal(value);
      }
    });
  });

  describe("DeviceRegistry", function () {
    it("defaults governance to the deploying account", async function () {
      const { deployer } = await accounts();
      const { deviceRegistry } = await ignition.deploy(DeviceRegistryModule);
      const registry = deviceRegistry as unknown as DeviceRegistry;
      expect(
        await registry.hasRole(await registry.DEFAULT_ADMIN_ROLE(), deployer.address),
      ).to.equal(true);
      expect(await registry.hasRole(await registry.GOVERNOR_ROLE(), deployer.address)).to.equal(
        true,
      );
    });

    it("grants SUSPENDER_ROLE to the listed accounts when governance deploys", async function () {
      const { deployer, governance, suspender } = await accounts();
      const { deviceRegistry } = await ignition.deploy(
        buildDeviceRegistryModule({ suspenders: [suspender.address, governance.address] }),
      );
      const registry = deviceRegistry as unknown as DeviceRegistry;
      expect(await registry.SUSPENDER_ROLE()).to.equal(SUSPENDER_ROLE);
      expect(await registry.hasRole(SUSPENDER_ROLE, suspender.address)).to.equal(true);
      expect(await registry.hasRole(SUSPENDER_ROLE, governance.address)).to.equal(true);
      expect(await registry.hasRole(SUSPENDER_ROLE, deployer.address)).to.equal(false);
    });
  });
});
