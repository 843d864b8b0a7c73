import { readFile, writeFile } from "node:fs/promises";
import {
  attempt,
  createBase,
  deployConfig,
  poolParams,
  send,
  BPS,
  type Base,
  type GovernanceConfig,
  type World,
} from "./attacks-world.js";
import {
  capacityBlock,
  exitBeforeProof,
  fmt,
  foreignFeeds,
  insurerExit,
  jitDeposit,
  oneLieManyPolicies,
  piecewise,
  rng,
  selfInsurance,
  type Params,
  type Plan,
  type PlanResult,
} from "./attacks-plans.js";
import {
  DeviceStaking__factory,
  InsurancePool__factory,
} from "../../types/ethers-contracts/index.js";

export { fmt, rng, type Params, type Plan, type PlanResult } from "./attacks-plans.js";
export type { GovernanceConfig } from "./attacks-world.js";

/**
 * Issue 10's adversarial bench: for governance configurations the contracts accept (always the highest
 * bounty + cover factor they let governance set together, plus a grid below and random ones) and for every
 * attack plan, a grid of the plan's parameters plus a seeded random search, each trial from an EVM
 * snapshot of the configuration's world. Reports the best attacker profit found per plan and overall.
 */

export interface Snapshot {
  restore(): Promise<void>;
}

export interface SearchDeps {
  readonly base: Base;
  readonly takeSnapshot: () => Promise<Snapshot>;
}

export interface SearchOptions {
  readonly seed: number;
  /** Trials in all (grid trials first, then random ones), spread over configurations and plans. */
  readonly budget: number;
  /** Extra random configurations beside the fixed ones (default: 1 when the budget allows). */
  readonly randomConfigs?: number;
  readonly log?: (line: string) => void;
}

export interface Trial {
  readonly plan: string;
  readonly config: GovernanceConfig;
  readonly params: Params;
  readonly result: PlanResult;
}

export interface PlanSummary {
  readonly plan: string;
  readonly trials: number;
  readonly errors: number;
  readonly best: Trial | undefined;
}

export interface SearchReport {
  readonly seed: number;
  readonly trials: number;
  readonly plans: readonly PlanSummary[];
  readonly maxProfit: bigint;
  readonly bestPlan: string;
  readonly best: Trial | undefined;
  readonly capacityBlockMinCost: bigint | undefined;
  /** Weakened configurations the contracts refused (each with the error it raised). */
  readonly refusedConfigs: readonly string[];
  readonly configs: readonly GovernanceConfig[];
}

/** Bounty + cover factor at the highest sum the contracts accept (9_999 bps), then a grid below it. */
export const FIXED_CONFIGS: readonly GovernanceConfig[] = [
  { bountyBps: 1_000n, coverFactorBps: 8_999n },
  { bountyBps: 0n, coverFactorBps: 9_999n },
  { bountyBps: 4_999n, coverFactorBps: 5_000n },
  { bountyBps: 1_000n, coverFactorBps: 5_000n },
];

export function plans(takeSnapshot: () => Promise<Snapshot>): Plan[] {
  return [
    selfInsurance,
    foreignFeeds,
    oneLieManyPolicies,
    exitBeforeProof,
    insurerExit,
    jitDeposit,
    piecewise(takeSnapshot),
    capacityBlock,
  ];
}

/**
 * Tries configurations the contracts must refuse on `world`: a pool whose cover factor plus the bounty
 * reaches 100% (constructor and setParams), and a bounty scheduled so that it reaches 100% with an
 * approved pool's ceiling. Returns the refusals; a missing one is a broken invariant.
 */
export async function weakenedConfigs(world: World): Promise<string[]> {
  const gov = world.accounts.governance;
  const bounty = world.config.bountyBps;
  const out: string[] = [];
  const atHundred = BPS - bounty;
  const pool = world.pools[0];
  if (pool === undefined) throw new Error("no pool");
  const deploy = await attempt(async () => {
    const p = await new InsurancePool__factory(gov).deploy(
      await world.token.getAddress(),
      await world.staking.REGISTRY(),
      await world.staking.getAddress(),
      await world.proofs.getAddress(),
      await world.factory.getAddress(),
      await gov.getAddress(),
      poolParams(atHundred),
      [0n, 10_000n, 10_000n, 5_000n, 5_000n],
    );
    await p.waitForDeployment();
  });
  out.push(
    `new pool coverFactor ${String(atHundred)} + bounty ${String(bounty)}: ${deploy ?? "ACCEPTED"}`,
  );
  const set = await attempt(() => send(pool.connect(gov).setParams(poolParams(atHundred))));
  out.push(`setParams coverFactor ${String(atHundred)}: ${set ?? "ACCEPTED"}`);
  const params = await world.staking.params();
  const ceiling = await pool.coverFactorCeilingBps();
  const stakingAddress = await world.staking.getAddress();
  const scheduled = await attempt(() =>
    send(
      DeviceStaking__factory.connect(stakingAddress, gov).scheduleParams({
        minStake: params.minStake,
        unbondingPeriod: params.unbondingPeriod,
        bountyBps: BPS - ceiling,
        lossRecipient: params.lossRecipient,
      }),
    ),
  );
  out.push(
    `scheduleParams bounty ${String(BPS - ceiling)} + ceiling ${String(ceiling)}: ${scheduled ?? "ACCEPTED"}`,
  );
  return out;
}

/** Runs the search. Exported for the test (a small budget, no subprocess). */
export async function runAttackSearch(
  deps: SearchDeps,
  options: SearchOptions,
): Promise<SearchReport> {
  const log = options.log ?? (() => undefined);
  const r = rng(options.seed);
  const configs: GovernanceConfig[] = [...FIXED_CONFIGS];
  const extra = options.randomConfigs ?? (options.budget >= 60 ? 1 : 0);
  for (let i = 0; i < extra; i++) {
    const bountyBps = r.big(0n, 9_000n);
    configs.push({ bountyBps, coverFactorBps: r.big(1n, BPS - 1n - bountyBps) });
  }
  const baseSnapshot = await deps.takeSnapshot();
  const planNames = plans(deps.takeSnapshot).map((p) => p.name);
  const summaries = new Map<string, { trials: number; errors: number; best: Trial | undefined }>(
    planNames.map((n) => [n, { trials: 0, errors: 0, best: undefined }]),
  );
  let trials = 0;
  let capacityMin: bigint | undefined;
  const refusedConfigs: string[] = [];
  // Every plan runs its whole grid on the first configuration; the rest of the budget is random trials
  // spread evenly over configurations and plans.
  const perCell = Math.max(1, Math.floor(options.budget / (configs.length * planNames.length)));
  for (const [ci, config] of configs.entries()) {
    await baseSnapshot.restore();
    log(
      `config ${String(ci + 1)}/${String(configs.length)}: bounty ${String(config.bountyBps)} bps, cover factor ${String(config.coverFactorBps)} bps`,
    );
    const world = await deployConfig(deps.base, config);
    const configSnapshot = await deps.takeSnapshot();
    if (ci === 0) {
      refusedConfigs.push(...(await weakenedConfigs(world)));
      await configSnapshot.restore();
    }
    for (const plan of plans(deps.takeSnapshot)) {
      const grid = ci === 0 ? plan.grid(world) : plan.grid(world).slice(0, 1);
      const randomCount = Math.max(0, perCell - grid.length);
      const cases = [...grid, ...Array.from({ length: randomCount }, () => plan.random(r, world))];
      for (const params of cases) {
        if (trials >= options.budget && ci > 0) break;
        await configSnapshot.restore();
        const summary = summaries.get(plan.name);
        if (summary === undefined) throw new Error(`unknown plan ${plan.name}`);
        trials++;
        summary.trials++;
        let result: PlanResult;
        try {
          result = await plan.run(world, params);
        } catch (e: unknown) {
          summary.errors++;
          log(
            `  ${plan.name} ${show(params)}: trial failed: ${e instanceof Error ? (e.message.split("\n")[0] ?? "") : String(e)}`,
          );
          continue;
        }
        if (result.cost !== undefined && (capacityMin === undefined || result.cost < capacityMin)) {
          capacityMin = result.cost;
        }
        const trial: Trial = { plan: plan.name, config, params, result };
        if (summary.best === undefined || result.profit > summary.best.result.profit)
          summary.best = trial;
        if (result.profit >= 0n) {
          log(
            `  PROFITABLE ${plan.name} ${show(params)}: ${fmt(result.profit)} (${result.detail})`,
          );
        }
      }
    }
  }
  await baseSnapshot.restore();
  const planSummaries: PlanSummary[] = planNames.map((plan) => {
    const s = summaries.get(plan);
    return { plan, trials: s?.trials ?? 0, errors: s?.errors ?? 0, best: s?.best };
  });
  let best: Trial | undefined;
  for (const s of planSummaries) {
    if (s.best !== undefined && (best === undefined || s.best.result.profit > best.result.profit))
      best = s.best;
  }
  return {
    seed: options.seed,
    trials,
    plans: planSummaries,
    maxProfit: best?.result.profit ?? 0n,
    bestPlan: best?.plan ?? "none",
    best,
    capacityBlockMinCost: capacityMin,
    refusedConfigs,
    configs,
  };
}

export function show(params: Params): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${typeof v === "bigint" ? v.toString() : String(v)}`)
    .join(" ");
}

/** The table printed by `npm run bench:attacks`. */
export function formatReport(report: SearchReport): string {
  const lines = [
    `seed ${String(report.seed)}, ${String(report.trials)} trials over ${String(report.configs.length)} configurations`,
    "",
    "plan                 trials errors  best profit (units)   config (bounty/cover)  parameters",
  ];
  for (const s of report.plans) {
    const b = s.best;
    lines.push(
      [
        s.plan.padEnd(20),
        String(s.trials).padStart(6),
        String(s.errors).padStart(6),
        (b === undefined ? "-" : fmt(b.result.profit)).padStart(22),
        (b === undefined
          ? "-"
          : `${String(b.config.bountyBps)}/${String(b.config.coverFactorBps)}`
        ).padStart(22),
        b === undefined ? "" : ` ${show(b.params)}`,
      ].join(" "),
    );
    if (b !== undefined)
      lines.push(
        `${"".padEnd(21)}gained ${fmt(b.result.gained)}, lost ${fmt(b.result.lost)}: ${b.result.detail}`,
      );
  }
  lines.push("");
  if (report.best !== undefined) {
    lines.push(
      `closest to profit: ${report.bestPlan} at ${report.maxProfit.toString()} base units (${fmt(report.maxProfit)}), ${show(report.best.params)}`,
    );
  }
  if (report.capacityBlockMinCost !== undefined) {
    lines.push(`capacity blocking costs at least ${fmt(report.capacityBlockMinCost)} units`);
  }
  lines.push("weakened configurations:");
  for (const line of report.refusedConfigs) lines.push(`  ${line}`);
  return lines.join("\n");
}

/** The flat `economics.*` figures. */
export function economics(report: SearchReport): Record<string, string | number> {
  const out: Record<string, string | number> = {
    "economics.attack.maxProfit": report.maxProfit.toString(),
    "economics.attack.bestPlan": report.bestPlan,
    "economics.attack.trials": report.trials,
    "economics.attack.seed": report.seed,
  };
  for (const s of report.plans) {
    if (s.best !== undefined)
      out[`economics.${s.plan}.maxProfit`] = s.best.result.profit.toString();
  }
  if (report.capacityBlockMinCost !== undefined) {
    out["economics.capacityBlock.minCost"] = report.capacityBlockMinCost.toString();
  }
  return out;
}

/** Read-modify-write: replaces only the top-level "economics" object of the results file. */
export async function writeEconomics(path: string, report: SearchReport): Promise<void> {
  const results = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
  results.economics = economics(report);
  await writeFile(path, `${JSON.stringify(results, null, 2)}\n`);
}

export { createBase, deployConfig };
