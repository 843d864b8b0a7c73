import { readFile, readdir } from "node:fs/promises";
import type { DeploymentParameters } from "@nomicfoundation/ignition-core";
import { expect } from "chai";
import { ZeroAddress, getAddress, isAddress } from "ethers";
import { network } from "hardhat";
import type { DeviceRegistry } from "../../types/ethers-contracts/index.js";
import {
  DeviceStaking__factory,
  InsurancePool__factory,
  MockERC20__factory,
} from "../../types/ethers-contracts/index.js";
import { DEFAULT_POOL_PARAMS } from "../../deploy/modules/InsurancePool.js";
import DeviceRegistryModule, {
  DEFAULT_ADMIN_ROLE,
  GOVERNOR_ROLE,
  KEY_RECOVERY_ROLE,
  SUSPENDER_ROLE,
  buildDeviceRegistryModule,
} from "../../deploy/modules/DeviceRegistry.js";
import DeviceTrustModule, { buildDeviceTrustModule } from "../../deploy/modules/DeviceTrust.js";
import DeviceTrustLocalModule from "../../deploy/modules/DeviceTrustLocal.js";
import {
  checkSystemWiring,
  parseDeployParameters,
  type DeployParameterFile,
  type SystemAddresses,
} from "../../src/client/index.js";
import { domainSeparator, type Hex } from "../../src/protocol/index.js";

const { ethers, ignition, networkHelpers } = await network.create();

const PARAMETERS_DIR = new URL("../../deploy/parameters/", import.meta.url);

/** A parameter file as Ignition reads it: "123n" strings are bigints. */
async function parameterFile(name: string): Promise<DeployParameterFile> {
  return parseDeployParameters(await readFile(new URL(name, PARAMETERS_DIR), "utf8"));
}

async function addressOf(c: { getAddress(): Promise<string> }): Promise<Hex> {
  return (await c.getAddress()) as Hex;
}

/** The addresses checkSystemWiring reads, from a DeviceTrust deployment's results. */
async function systemAddresses(deployed: {
  deviceRegistry: { getAddress(): Promise<string> };
  collateralToken: { getAddress(): Promise<string> };
  deviceStaking: { getAddress(): Promise<string> };
  fraudProofs: { getAddress(): Promise<string> };
  deviceFeedFactory: { getAddress(): Promise<string> };
  readingAnchor: { getAddress(): Promise<string> };
  insurancePool: { getAddress(): Promise<string> };
  tpmAttestation: { getAddress(): Promise<string> };
  pqKeyRecovery: { getAddress(): Promise<string> };
  firmwareSignatures: { getAddress(): Promise<string> };
  psaAttestation: { getAddress(): Promise<string> };
}): Promise<SystemAddresses> {
  return {
    registry: await addressOf(deployed.deviceRegistry),
    collateral: await addressOf(deployed.collateralToken),
    staking: await addressOf(deployed.deviceStaking),
    proofs: await addressOf(deployed.fraudProofs),
    feedFactory: await addressOf(deployed.deviceFeedFactory),
    readingAnchor: await addressOf(deployed.readingAnchor),
    pool: await addressOf(deployed.insurancePool),
    tpmAttestation: await addressOf(deployed.tpmAttestation),
    pqKeyRecovery: await addressOf(deployed.pqKeyRecovery),
    firmwareSignatures: await addressOf(deployed.firmwareSignatures),
    psaAttestation: await addressOf(deployed.psaAttestation),
  };
}

describe("deploy/modules", function () {
  async function accounts() {
    const [deployer, governance, suspender] = await ethers.getSigners();
    if (deployer === undefined || governance === undefined || suspender === undefined) {
      throw new Error("the in-process network has fewer than three accounts");
    }
    return { deployer, governance, suspender };
  }

  describe("DeviceTrustLocal with deploy/parameters/localhost.json", function () {
    async function deployFromFile() {
      const parameters = await parameterFile("localhost.json");
      // The same object Ignition builds from the file (module id -> parameter -> value).
      const deployed = await ignition.deploy(DeviceTrustLocalModule, {
        parameters: parameters as DeploymentParameters,
      });
      return { deployed, parameters };
    }

    it("hands every role to the file's governance; the deployer keeps none", async function () {
      const { deployer, governance } = await accounts();
      const { deployed, parameters } = await networkHelpers.loadFixture(deployFromFile);
      expect(parameters.$global?.governance).to.equal(governance.address);
      const registry = deployed.deviceRegistry as unknown as DeviceRegistry;
      const staking = DeviceStaking__factory.connect(
        await addressOf(deployed.deviceStaking),
        ethers.provider,
      );
      const pool = InsurancePool__factory.connect(
        await addressOf(deployed.insurancePool),
        ethers.provider,
      );
      for (const [contract, role] of [
        [registry, DEFAULT_ADMIN_ROLE],
        [registry, GOVERNOR_ROLE],
        [staking, DEFAULT_ADMIN_ROLE],
        [pool, DEFAULT_ADMIN_ROLE],
      ] as const) {
        expect(await contract.hasRole(role, governance.address)).to.equal(true);
        expect(await contract.hasRole(role, deployer.address)).to.equal(false);
      }
    });

    it("wires the pool as backer and loss recipient, proofs set: the on-chain check passes", async function () {
      const { deployer, governance } = await accounts();
      const { deployed } = await networkHelpers.loadFixture(deployFromFile);
      const addresses = await systemAddresses(deployed);
      const report = await checkSystemWiring(ethers.provider, addresses, {
        governance: governance.address as Hex,
        deployer: deployer.address as Hex,
      });
      expect(report.checks.filter((c) => !c.ok)).to.deep.equal([]);
      expect(report.ok).to.equal(true);
      expect(report.checks.length).to.be.greaterThan(25);
      const staking = DeviceStaking__factory.connect(addresses.staking, ethers.provider);
      expect((await staking.params()).lossRecipient).to.equal(addresses.pool);
      expect(await staking.backers()).to.deep.equal([addresses.pool]);
      // Nothing waits to take effect: the recipient was set before proofs, not scheduled.
      expect((await staking.pendingParams())[1]).to.equal(0n);
    });

    it("applies the file's staking and pool parameters", async function () {
      const { deployed, parameters } = await networkHelpers.loadFixture(deployFromFile);
      const staking = DeviceStaking__factory.connect(
        await addressOf(deployed.deviceStaking),
        ethers.provider,
      );
      const p = await staking.params();
      const file = parameters.DeviceStaking ?? {};
      expect(p.minStake).to.equal(file.minStake);
      expect(p.unbondingPeriod).to.equal(file.unbondingPeriod);
      expect(p.bountyBps).to.equal(file.bountyBps);
      const pool = InsurancePool__factory.connect(
        await addressOf(deployed.insurancePool),
        ethers.provider,
      );
      const params = await pool.params();
      for (const name of Object.keys(DEFAULT_POOL_PARAMS) as (keyof typeof DEFAULT_POOL_PARAMS)[]) {
        expect(params[name], name).to.equal(parameters.InsurancePool?.[name]);
      }
      expect(await pool.coverFactorCeilingBps()).to.equal(params.coverFactorBps);
    });

    it("binds device messages to this chain and this registry", async function () {
      const { deployed } = await networkHelpers.loadFixture(deployFromFile);
      const registry = deployed.deviceRegistry as unknown as DeviceRegistry;
      const { chainId } = await ethers.provider.getNetwork();
      const verifyingContract = await addressOf(registry);
      expect(await registry.DOMAIN_SEPARATOR()).to.equal(
        domainSeparator({ chainId, verifyingContract }),
      );
      const domain = await registry.eip712Domain();
      expect(domain.name).to.equal("DeviceTrust");
      expect(domain.version).to.equal("1");
    });

    it("keeps the module's pool defaults and the file's in step", async function () {
      const file = (await parameterFile("localhost.json")).InsurancePool ?? {};
      for (const [name, value] of Object.entries(DEFAULT_POOL_PARAMS)) {
        expect(file[name], name).to.equal(value);
      }
    });
  });

  describe("DeviceTrust (public chains): the collateral from the parameters", function () {
    async function deployOverToken() {
      const { deployer, governance } = await accounts();
      const token = await new MockERC20__factory(deployer).deploy("Test Dollar", "TUSD");
      await token.waitForDeployment();
      const tokenAddress = await addressOf(token);
      const deployed = await ignition.deploy(DeviceTrustModule, {
        parameters: {
          $global: { governance: governance.address },
          DeviceStaking: { token: tokenAddress, minStake: 100_000_000n },
        },
      });
      return { deployed, tokenAddress };
    }

    it("uses the given token as collateral and pool asset, deploys no mock, and passes the check", async function () {
      const { deployer, governance } = await accounts();
      const { deployed, tokenAddress } = await networkHelpers.loadFixture(deployOverToken);
      const addresses = await systemAddresses(deployed);
      expect(addresses.collateral).to.equal(tokenAddress);
      const report = await checkSystemWiring(ethers.provider, addresses, {
        governance: governance.address as Hex,
        deployer: deployer.address as Hex,
      });
      expect(report.checks.filter((c) => !c.ok)).to.deep.equal([]);
      const pool = InsurancePool__factory.connect(addresses.pool, ethers.provider);
      expect(await pool.asset()).to.equal(tokenAddress);
    });

    it("refuses to run without the token parameter", async function () {
      const { governance } = await accounts();
      let error: unknown;
      try {
        await ignition.deploy(buildDeviceTrustModule(), {
          parameters: { $global: { governance: governance.address } },
        });
      } catch (err: unknown) {
        error = err;
      }
      expect(String(error)).to.match(/token/);
    });
  });

  describe("checkSystemWiring", function () {
    async function deployKept() {
      // handover false: the deployer keeps its roles and governs.
      const deployed = await ignition.deploy(
        buildDeviceTrustModule({ collateral: "mock", handover: false }),
      );
      return { deployed };
    }

    it("passes for a deployer that kept governance", async function () {
      const { deployer } = await accounts();
      const { deployed } = await networkHelpers.loadFixture(deployKept);
      const report = await checkSystemWiring(ethers.provider, await systemAddresses(deployed), {
        governance: deployer.address as Hex,
        deployer: deployer.address as Hex,
      });
      expect(report.checks.filter((c) => !c.ok)).to.deep.equal([]);
    });

    it("names every fact that does not hold", async function () {
      const { deployer, governance } = await accounts();
      const { deployed } = await networkHelpers.loadFixture(deployKept);
      const addresses = await systemAddresses(deployed);
      const other = await new MockERC20__factory(deployer).deploy("Other", "OTH");
      const registry = deployed.deviceRegistry as unknown as DeviceRegistry;
      await (await registry.connect(deployer).revokeRole(SUSPENDER_ROLE, addresses.staking)).wait();
      await (
        await registry.connect(deployer).revokeRole(KEY_RECOVERY_ROLE, addresses.pqKeyRecovery)
      ).wait();
      // A FirmwareSignatures over another registry.
      const stray = await ethers.deployContract("FirmwareSignatures", [await addressOf(other)]);
      const report = await checkSystemWiring(
        ethers.provider,
        {
          ...addresses,
          collateral: await addressOf(other),
          firmwareSignatures: await addressOf(stray),
        },
        { governance: governance.address as Hex, deployer: deployer.address as Hex },
      );
      const failed = report.checks.filter((c) => !c.ok).map((c) => c.name);
      expect(report.ok).to.equal(false);
      expect(failed).to.include.members([
        "staking.TOKEN is the collateral",
        "pool asset is the collateral",
        "staking may suspend devices (SUSPENDER_ROLE)",
        "PqKeyRecovery may recover device keys (KEY_RECOVERY_ROLE)",
        "FirmwareSignatures's registry is the registry",
        "governance is registry admin",
        "deployer is no longer registry admin",
      ]);
      expect(failed).to.not.include("staking loss recipient is the pool");
      expect(failed).to.not.include("PqKeyRecovery's registry is the registry");
    });

    it("stops at an address without code", async function () {
      const { deployed } = await networkHelpers.loadFixture(deployKept);
      const addresses = await systemAddresses(deployed);
      const report = await checkSystemWiring(ethers.provider, {
        ...addresses,
        pool: getAddress(`0x${"ab".repeat(20)}`) as Hex,
      });
      expect(report.ok).to.equal(false);
      expect(report.checks.filter((c) => !c.ok).map((c) => c.name)).to.deep.equal([
        "InsurancePool has code",
      ]);
    });
  });

  describe("deploy/parameters", function () {
    it("names governance and sane windows in every network's file; public chains name their collateral", async function () {
      const files = (await readdir(PARAMETERS_DIR)).filter((f) => f.endsWith(".json"));
      expect(files).to.include.members(["localhost.json", "sepolia.json", "baseSepolia.json"]);
      for (const name of files) {
        const file = await parameterFile(name);
        const governance = file.$global?.governance;
        expect(typeof governance === "string" && isAddress(governance), name).to.equal(true);
        const staking = file.DeviceStaking ?? {};
        const pool = file.InsurancePool ?? {};
        const window = staking.evidenceWindow as bigint;
        expect(window < (staking.unbondingPeriod as bigint), name).to.equal(true);
        expect(
          (pool.claimWindow as bigint) > window && (pool.cooldown as bigint) > window,
          name,
        ).to.equal(true);
        expect(
          (pool.coverFactorBps as bigint) + (staking.bountyBps as bigint) < 10_000n,
          name,
        ).to.equal(true);
        if (name !== "localhost.json") {
          const token = staking.token;
          expect(
            typeof token === "string" && isAddress(token) && token !== ZeroAddress,
            name,
          ).to.equal(true);
          // The operator sets its own governance: the zero placeholder makes `system deploy` refuse.
          expect(governance, name).to.equal(ZeroAddress);
        }
      }
    });
  });

  describe("DeviceRegistry", function () {
    it("defaults governance to the deploying account", async function () {
      const { deployer } = await accounts();
      const { deviceRegistry } = await ignition.deploy(DeviceRegistryModule);
      const registry = deviceRegistry as unknown as DeviceRegistry;
      expect(await registry.hasRole(DEFAULT_ADMIN_ROLE, deployer.address)).to.equal(true);
      expect(await registry.hasRole(GOVERNOR_ROLE, deployer.address)).to.equal(true);
    });

    it("grants SUSPENDER_ROLE to the listed accounts", async function () {
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
