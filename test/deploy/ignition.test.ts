import { expect } from "chai";
import { network } from "hardhat";
import type { DeviceRegistry } from "../../types/ethers-contracts/index.js";
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
