import { fileURLToPath } from "node:url";
import { network } from "hardhat";
import DeviceRegistryModule from "../deploy/modules/DeviceRegistry.js";
import {
  createBase,
  formatReport,
  runAttackSearch,
  show,
  writeEconomics,
} from "../src/bench/attacks.js";

/**
 * `npm run bench:attacks` (issue 10): searches attack plans and governance configurations on the real
 * contracts for a profitable attack and writes `economics.*` into bench/results.json. `hardhat run` takes
 * no script flags: ATTACK_SEED (default: random, printed) and ATTACK_BUDGET (trials, default 160).
 * Exits non-zero when any trial made a profit (>= 0): corruption must never pay.
 */

const seed =
  process.env.ATTACK_SEED === undefined
    ? Math.floor(Math.random() * 2 ** 31)
    : Number(process.env.ATTACK_SEED);
const budget = process.env.ATTACK_BUDGET === undefined ? 160 : Number(process.env.ATTACK_BUDGET);
if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(budget) || budget < 1) {
  throw new Error("ATTACK_SEED and ATTACK_BUDGET must be integers (the budget at least 1)");
}
const progress = (line: string): void => {
  process.stderr.write(`bench:attacks: ${line}\n`);
};
progress(
  `seed ${String(seed)} (replay with ATTACK_SEED=${String(seed)}), budget ${String(budget)} trials`,
);
const started = Date.now();
const { ethers, networkHelpers, ignition } = await network.create();
const { deviceRegistry } = await ignition.deploy(DeviceRegistryModule);
const base = await createBase(ethers, networkHelpers.time, await deviceRegistry.getAddress());
const report = await runAttackSearch(
  { base, takeSnapshot: () => networkHelpers.takeSnapshot() },
  { seed, budget, log: progress },
);
console.log(formatReport(report));
console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
const path = fileURLToPath(new URL("../bench/results.json", import.meta.url));
await writeEconomics(path, report);
progress(`wrote economics.* to ${path}`);
if (report.maxProfit >= 0n) {
  const best = report.best;
  const how =
    best === undefined
      ? ""
      : ` with ${show(best.params)} (bounty ${String(best.config.bountyBps)} bps, cover factor ` +
        `${String(best.config.coverFactorBps)} bps): ${best.result.detail}`;
  console.error(
    `\nPROFITABLE ATTACK FOUND (seed ${String(seed)}): ${report.bestPlan} made ` +
      `${report.maxProfit.toString()} base units${how}`,
  );
  process.exitCode = 1;
}
