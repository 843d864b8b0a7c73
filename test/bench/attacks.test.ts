import { expect } from "chai";
import { network } from "hardhat";
import DeviceRegistryModule from "../../deploy/modules/DeviceRegistry.js";
import {
  FIXED_CONFIGS,
  createBase,
  deployConfig,
  economics,
  plans,
  runAttackSearch,
  weakenedConfigs,
  type SearchReport,
} from "../../src/bench/attacks.js";
import { BPS, poolParams, PAYOUT_BPS, type Base } from "../../src/bench/attacks-world.js";
import { InsurancePool__factory } from "../../types/ethers-contracts/index.js";

const { ethers, ignition, networkHelpers } = await network.create();
const takeSnapshot = () => networkHelpers.takeSnapshot();
/** 2033-05-18: after any wall clock this test runs at. */
const START = 2_000_000_000;

describe("bench:attacks", function () {
  // Registering 13 devices and deploying a configuration per plan grid takes a while on a shared machine.
  this.timeout(600_000);
  let base: Base;

  before(async function () {
    // A fixed clock makes the small search deterministic (the chain otherwise starts at the wall clock).
    await networkHelpers.time.increaseTo(START);
    const { deviceRegistry } = await ignition.deploy(DeviceRegistryModule);
    base = await createBase(ethers, networkHelpers.time, await deviceRegistry.getAddress());
  });

  describe("runAttackSearch", function () {
    let report: SearchReport;

    before(async function () {
      report = await runAttackSearch({ base, takeSnapshot }, { seed: 20_261_206, budget: 1 });
    });

    it("runs every plan without a failed trial", function () {
      expect(report.plans.map((p) => p.plan)).to.deep.equal(plans(takeSnapshot).map((p) => p.name));
      for (const p of report.plans) {
        expect(p.trials, p.plan).to.be.greaterThan(0);
        expect(p.errors, p.plan).to.equal(0);
        expect(p.best, p.plan).to.not.equal(undefined);
      }
    });

    it("finds no profitable attack", function () {
      expect(
        report.maxProfit < 0n,
        `best: ${report.bestPlan} ${report.maxProfit.toString()}`,
      ).to.equal(true);
      for (const p of report.plans) {
        expect((p.best?.result.profit ?? 0n) < 0n, p.plan).to.equal(true);
      }
    });

    it("reports a capacity-blocking cost of at least the minimum premium", function () {
      const floor = 10n ** 18n; // every blocked amount in the grid is far above 1000 units at 10 bps
      expect((report.capacityBlockMinCost ?? 0n) >= floor).to.equal(true);
    });

    it("writes the flat economics figures", function () {
      const figures = economics(report);
      expect(figures["economics.attack.maxProfit"]).to.equal(report.maxProfit.toString());
      expect(figures["economics.attack.bestPlan"]).to.equal(report.bestPlan);
      expect(figures["economics.attack.seed"]).to.equal(20_261_206);
      for (const p of report.plans)
        expect(figures).to.have.property(`economics.${p.plan}.maxProfit`);
    });
  });

  describe("weakenedConfigs", function () {
    it("reverts when a pool's cover factor plus the bounty reaches 100%", async function () {
      const config = FIXED_CONFIGS[0];
      if (config === undefined) throw new Error("no configuration");
      const snapshot = await takeSnapshot();
      const world = await deployConfig(base, config);
      const factory = new InsurancePool__factory(base.accounts.governance);
      await expect(
        factory.deploy(
          await world.token.getAddress(),
          base.registry,
          await world.staking.getAddress(),
          await world.proofs.getAddress(),
          await world.factory.getAddress(),
          await base.accounts.governance.getAddress(),
          poolParams(BPS - config.bountyBps),
          [...PAYOUT_BPS],
        ),
      )
        .to.be.revertedWithCustomError(factory, "InsuranceCoverFactorTooHigh")
        .withArgs(BPS - config.bountyBps, config.bountyBps);
      const refusals = await weakenedConfigs(world);
      expect(refusals).to.have.length(3);
      for (const line of refusals) expect(line).to.not.contain("ACCEPTED");
      await snapshot.restore();
    });
  });
});
