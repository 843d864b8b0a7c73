import { expect } from "chai";
import { network } from "hardhat";
import DeviceAccountsModule from "../../deploy/modules/DeviceAccounts.js";
import { ENTRY_POINT_V08 } from "../../src/client/index.js";
import type {
  DeviceAccount,
  DeviceAccountFactory,
  DeviceSignerVerifier,
} from "../../types/ethers-contracts/index.js";

describe("deploy/modules/DeviceAccounts", function () {
  it("deploys the verifier, the implementation and the factory over the registry (where contract size is unlimited)", async function () {
    const { ignition, ethers } = await network.create({
      override: { allowUnlimitedContractSize: true },
    });
    const deployed = await ignition.deploy(DeviceAccountsModule);
    const factory = deployed.deviceAccountFactory as unknown as DeviceAccountFactory;
    const implementation = deployed.deviceAccount as unknown as DeviceAccount;
    const verifier = deployed.deviceSignerVerifier as unknown as DeviceSignerVerifier;
    const registry = await deployed.deviceRegistry.getAddress();
    expect(await factory.IMPLEMENTATION()).to.equal(await implementation.getAddress());
    expect(await implementation.REGISTRY()).to.equal(registry);
    expect(await implementation.VERIFIER()).to.equal(await verifier.getAddress());
    expect(await implementation.entryPoint()).to.equal(ENTRY_POINT_V08);
    expect(await verifier.REGISTRY()).to.equal(registry);
    expect(await verifier.DEFAULT_MAX_AGE()).to.equal(86_400n);
    const code = await ethers.provider.getCode(await implementation.getAddress());
    expect((code.length - 2) / 2).to.be.above(24_576, "EIP-170's limit");
  });

  it("cannot deploy DeviceAccount on a chain that enforces EIP-170's 24,576-byte code limit", async function () {
    const { ignition } = await network.create();
    let failed: unknown;
    try {
      await ignition.deploy(DeviceAccountsModule);
    } catch (err: unknown) {
      failed = err;
    }
    // Ignition simulates the creation first: EDR refuses the oversized code ("Reverted without reason").
    expect(String(failed)).to.match(
      /DeviceAccounts#DeviceAccount\/1: Simulating the transaction failed/,
    );
  });
});
