import { expect } from "chai";
import { network } from "hardhat";
import DeviceAccountsModule from "../../deploy/modules/DeviceAccounts.js";
import { ENTRY_POINT_V08, paymasterState } from "../../src/client/index.js";
import { deployEntryPointV08 } from "../../src/client/entry-point-local.js";
import type {
  DeviceAccount,
  DeviceAccountFactory,
  DeviceAccountLens,
  DevicePaymaster,
  DeviceSignerVerifier,
  PaymentChannel,
} from "../../types/ethers-contracts/index.js";

describe("deploy/modules/DeviceAccounts", function () {
  it("deploys the verifier, the implementation, the factory, the lens, the staked paymaster and the payment channels over the registry, within EIP-170's code limit", async function () {
    // The default in-process chain enforces EIP-170's 24,576-byte limit, as every public chain does.
    const { ignition, ethers } = await network.create();
    const [deployer] = await ethers.getSigners();
    // The paymaster's constructor asks the implementation for its EntryPoint, and addStake calls it.
    await deployEntryPointV08(deployer as NonNullable<typeof deployer>, (method, params) =>
      ethers.provider.send(method, params),
    );
    const deployed = await ignition.deploy(DeviceAccountsModule);
    const factory = deployed.deviceAccountFactory as unknown as DeviceAccountFactory;
    const implementation = deployed.deviceAccount as unknown as DeviceAccount;
    const verifier = deployed.deviceSignerVerifier as unknown as DeviceSignerVerifier;
    const lens = deployed.deviceAccountLens as unknown as DeviceAccountLens;
    const channels = deployed.paymentChannel as unknown as PaymentChannel;
    const registry = await deployed.deviceRegistry.getAddress();
    expect(await factory.IMPLEMENTATION()).to.equal(await implementation.getAddress());
    expect(await implementation.REGISTRY()).to.equal(registry);
    expect(await implementation.VERIFIER()).to.equal(await verifier.getAddress());
    expect(await implementation.entryPoint()).to.equal(ENTRY_POINT_V08);
    expect(await verifier.REGISTRY()).to.equal(registry);
    expect(await verifier.DEFAULT_MAX_AGE()).to.equal(86_400n);
    expect(await ethers.provider.getCode(await lens.getAddress())).to.not.equal("0x");
    const paymaster = deployed.devicePaymaster as unknown as DevicePaymaster;
    expect(await paymaster.FACTORY()).to.equal(await factory.getAddress());
    expect(await paymaster.REGISTRY()).to.equal(registry);
    expect(await paymaster.owner()).to.equal(deployer?.address);
    const state = await paymasterState(ethers.provider, await paymaster.getAddress());
    expect(state.stake).to.deep.equal({
      staked: true,
      amount: 10n ** 18n,
      unstakeDelaySec: 86_400n,
      withdrawTime: 0n,
    });
    expect(await channels.registry()).to.equal(registry);
    expect(await channels.maxAge()).to.equal(86_400n);
    const code = await ethers.provider.getCode(await implementation.getAddress());
    expect((code.length - 2) / 2).to.be.at.most(24_576, "EIP-170's limit");
  });
});
