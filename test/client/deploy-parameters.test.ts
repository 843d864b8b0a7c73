import assert from "node:assert/strict";
import type { Provider } from "ethers";
import {
  DEFAULT_POOL_PARAMS,
  DEFAULT_STAKING_PARAMS,
  checkDeployParameters,
  parseDeployParameters,
  type DeployParameterFile,
} from "../../src/client/index.js";
import { InvalidInputError, type Hex } from "../../src/protocol/index.js";
import { ethers } from "./fixture.js";

const PATH = "deploy/parameters/test.json";
const DEPLOYER: Hex = "0x1000000000000000000000000000000000000001";
const GOVERNANCE: Hex = "0x2000000000000000000000000000000000000002";
/** A local chain reads nothing from its provider: a mock collateral is deployed there. */
const NO_PROVIDER = {} as Provider;

const local = (file: DeployParameterFile) =>
  checkDeployParameters(file, {
    path: PATH,
    deployer: DEPLOYER,
    local: true,
    provider: NO_PROVIDER,
  });

/** `file` is refused with an InvalidInputError whose message matches `says`. */
async function refused(file: DeployParameterFile, says: RegExp): Promise<void> {
  await assert.rejects(
    local(file),
    (err: unknown) => err instanceof InvalidInputError && says.test(err.message),
  );
}

describe("client: deployment parameter files", function () {
  it("parses as Ignition does: a string 123n is a bigint, other strings stay strings", function () {
    const file = parseDeployParameters(
      JSON.stringify({ $global: { governance: GOVERNANCE }, DeviceStaking: { bountyBps: "500n" } }),
    );
    assert.equal(file.DeviceStaking?.bountyBps, 500n);
    assert.equal(file.$global?.governance, GOVERNANCE);
    assert.throws(() => parseDeployParameters("[1, 2]"), InvalidInputError);
  });

  it("takes a file that names governance alone, on the defaults", async function () {
    const checked = await local({ $global: { governance: GOVERNANCE } });
    assert.deepEqual(checked, { governance: GOVERNANCE, collateral: undefined, notes: [] });
    // The defaults keep their own rules: the evidence window inside unbonding and the pool's windows.
    assert.ok(DEFAULT_STAKING_PARAMS.evidenceWindow < DEFAULT_STAKING_PARAMS.unbondingPeriod);
    assert.ok(DEFAULT_STAKING_PARAMS.evidenceWindow < DEFAULT_POOL_PARAMS.claimWindow);
    assert.ok(DEFAULT_POOL_PARAMS.coverFactorBps + DEFAULT_STAKING_PARAMS.bountyBps < 10_000n);
  });

  it("refuses what would leave the system ungoverned or that the contracts would refuse half way", async function () {
    const governed = { $global: { governance: GOVERNANCE } };
    await refused(
      {},
      /set governance in .*test\.json \(\$global\.governance\) to a non-zero address/,
    );
    await refused(
      { $global: { governance: "0x0000000000000000000000000000000000000000" } },
      /to a non-zero address/,
    );
    await refused({ $global: { governance: DEPLOYER } }, /is the deploying account: .*ungoverned/);
    await refused(
      { ...governed, DeviceStaking: { evidenceWindow: 14n * 86_400n } },
      /evidenceWindow \(1209600 s\) must be shorter than unbondingPeriod \(1209600 s\)/,
    );
    await refused(
      { ...governed, InsurancePool: { claimWindow: 7n * 86_400n } },
      /claimWindow \(604800 s\) and cooldown \(691200 s\) must outlast DeviceStaking\.evidenceWindow/,
    );
    await refused(
      { ...governed, DeviceStaking: { bountyBps: 5_000n } },
      /coverFactorBps \(5000\) plus DeviceStaking\.bountyBps \(5000\) must stay below 10000/,
    );
    await refused(
      { ...governed, DeviceStaking: { unbondingPeriod: 1_209_600 } },
      /DeviceStaking\.unbondingPeriod must be an integer written "123n"/,
    );
  });

  it("reads the collateral on a public chain, and says what is wrong with it", async function () {
    const token = await ethers.deployContract("MockERC20", ["Collateral", "COL"]);
    const [, eoa] = await ethers.getSigners();
    if (eoa === undefined) throw new Error("need two accounts");
    const registry = await ethers.deployContract("DeviceRegistry", [eoa.address]);
    const publicChain = (collateral: string) =>
      checkDeployParameters(
        { $global: { governance: eoa.address }, DeviceStaking: { token: collateral } },
        { path: PATH, deployer: DEPLOYER, local: false, provider: ethers.provider },
      );
    const checked = await publicChain(await token.getAddress());
    assert.deepEqual(checked.collateral, {
      token: await token.getAddress(),
      symbol: "COL",
      decimals: 18,
    });
    assert.deepEqual(checked.notes, [
      `governance ${eoa.address} has no code (an externally owned account, not a multisig)`,
    ]);
    await assert.rejects(
      publicChain(eoa.address),
      (err: unknown) =>
        err instanceof InvalidInputError && err.message.includes("has no code on this chain"),
    );
    await assert.rejects(
      publicChain(await registry.getAddress()),
      (err: unknown) =>
        err instanceof InvalidInputError &&
        err.message.includes("does not answer symbol() and decimals()"),
    );
  });
});
