import { expect } from "chai";
import { network } from "hardhat";
import DeviceFeedsModule from "../../deploy/modules/DeviceFeeds.js";
import DeviceTrustLocalModule from "../../deploy/modules/DeviceTrustLocal.js";
import { createFeed, feedAt, feedFactoryAt, feedIdOf } from "../../src/client/index.js";
import type { DeviceFeedFactory, ReadingAnchor } from "../../types/ethers-contracts/index.js";

const { ethers, ignition, networkHelpers } = await network.create();

describe("deploy/modules/DeviceFeeds", function () {
  async function deployTrust() {
    const [deployer, governance, owner] = await ethers.getSigners();
    if (deployer === undefined || governance === undefined || owner === undefined) {
      throw new Error("the in-process network has fewer than three accounts");
    }
    const deployed = await ignition.deploy(DeviceTrustLocalModule, {
      parameters: { $global: { governance: governance.address } },
    });
    return { ...deployed, owner };
  }

  it("binds the factory to the system's registry and staking, the anchor to its registry", async function () {
    const { deviceRegistry, deviceStaking, deviceFeedFactory, readingAnchor } =
      await networkHelpers.loadFixture(deployTrust);
    const factory = deviceFeedFactory as unknown as DeviceFeedFactory;
    const anchor = readingAnchor as unknown as ReadingAnchor;
    expect(await factory.REGISTRY()).to.equal(await deviceRegistry.getAddress());
    expect(await factory.STAKING()).to.equal(await deviceStaking.getAddress());
    expect(await anchor.getAddress()).to.match(/^0x[0-9a-fA-F]{40}$/);
    expect(await ethers.provider.getCode(await anchor.getAddress())).to.not.equal("0x");
  });

  it("creates a feed through the deployed factory, owned by its creator", async function () {
    const { deviceFeedFactory, owner } = await networkHelpers.loadFixture(deployTrust);
    const factory = feedFactoryAt(await deviceFeedFactory.getAddress(), owner);
    const created = await createFeed(factory, {
      quorum: 1,
      decimals: 2,
      maxDeviationBps: 0,
      maxSpreadBps: 0,
      deviationThresholdBps: 50,
      heartbeat: 30,
      maxReadingAge: 60,
      minInterval: 0,
      maxAttestationAge: 3_600,
      quarantinePeriod: 86_400,
      maxQuarantines: 2,
      lockdown: false,
      minStake: 1n,
      minValue: 0n,
      maxValue: 100n,
      description: "Level",
    });
    expect(created.feedId).to.equal(feedIdOf(created.feed));
    expect(await feedAt(created.feed, owner).owner()).to.equal(owner.address);
    expect(await factory.isFeed(created.feed)).to.equal(true);
    const feed = feedAt(created.feed, owner);
    expect(await feed.version()).to.equal(2n);
    expect((await feed.config()).heartbeat).to.equal(30n);
    expect(await feed.latestRound()).to.equal(0n);
  });

  it("deploys alone over the default registry and staking modules", async function () {
    const [, governance] = await ethers.getSigners();
    const { deviceFeedFactory } = await ignition.deploy(DeviceFeedsModule, {
      parameters: { DeviceRegistry: { governance: governance?.address ?? "" } },
    });
    const factory = deviceFeedFactory as unknown as DeviceFeedFactory;
    expect(await factory.feedCount()).to.equal(0n);
  });
});
