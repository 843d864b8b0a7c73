/** The insurance pool: its capital, its share price, what it covers, what it paid and recovered. */
import { useMemo, useState } from "preact/hooks";
import {
  formatUnits,
  type ClaimEntry,
  type InsurancePage,
  type PolicyEntry,
  type RecoveryEntry,
} from "../../../src/console/api.js";
import { align } from "../chart.js";
import { Age, Amount, ErrorNote, Id, Loading, plural } from "../format.js";
import { errorMessage, useApi, useLive } from "../live.js";
import {
  ChartPanel,
  LoadedView,
  Panel,
  PoliciesTable,
  SecurityReport,
  Stat,
  TablePanel,
  targetHref,
} from "./shared.js";
import {
  ageColumn,
  amountColumn,
  blockColumn,
  deviceColumn,
  idColumn,
  type Column,
} from "./table.js";

const PRICE = new Intl.NumberFormat("en-US", {
  minimumFractionDigits: 4,
  maximumFractionDigits: 6,
});

/**
 * "1,000.5" in whole units → base units, exactly (string arithmetic): "1000500000" for 6 decimals.
 * Throws a sentence for anything that is not a non-negative amount with at most `decimals` decimals.
 */
export function parseUnits(text: string, decimals: number): string {
  const plain = text.trim().replace(/[,_\s]/g, "");
  const match = /^(\d*)(?:\.(\d*))?$/.exec(plain);
  const whole = match?.[1] ?? "";
  const fraction = match?.[2] ?? "";
  if (match === null || (whole === "" && fraction === "")) {
    throw new Error("Enter the value at risk as an amount, e.g. 250000 or 1,250.50.");
  }
  if (fraction.length > decimals && /[1-9]/.test(fraction.slice(decimals))) {
    throw new Error(
      `The asset has ${decimals} decimals: the value at risk cannot have more than ${decimals} digits after the point.`,
    );
  }
  const digits = `${whole}${fraction.slice(0, decimals).padEnd(decimals, "0")}`.replace(/^0+/, "");
  return digits === "" ? "0" : digits;
}

export function InsuranceView() {
  const state = useApi("insurance", "");
  return (
    <LoadedView name="insurance" title="Insurance" state={state} what="the insurance pool">
      {(page) => <Insurance page={page} />}
    </LoadedView>
  );
}

const CLAIM_COLUMNS: readonly Column<ClaimEntry>[] = [
  ageColumn("When", (claim) => claim.time),
  {
    head: "Policy",
    cell: (claim) => (
      <>
        <Id id={claim.target} /> <span class="muted">#{claim.serial}</span>
      </>
    ),
  },
  idColumn("Incident", (claim) => claim.incident),
  deviceColumn("Device", (claim) => claim.deviceId),
  idColumn("Beneficiary", (claim) => claim.beneficiary),
  amountColumn("Payout", (claim) => claim.payout),
  idColumn("Tx", (claim) => claim.tx),
];

const RECOVERY_COLUMNS: readonly Column<RecoveryEntry>[] = [
  ageColumn("When", (recovery) => recovery.time),
  deviceColumn("Device", (recovery) => recovery.deviceId),
  idColumn("Incident", (recovery) => recovery.incident),
  amountColumn("Liability", (recovery) => recovery.liability),
  amountColumn("Recovered", (recovery) => recovery.recovery),
  blockColumn((recovery) => recovery.block),
  idColumn("Tx", (recovery) => recovery.tx),
];

function Insurance({ page }: { page: InsurancePage }) {
  const { status } = useLive();
  const symbol = status.asset?.symbol ?? "";
  const latest = page.sharePrice[page.sharePrice.length - 1];
  const utilization = page.utilizationBps / 100;
  const utilizationTone = utilization >= 90 ? "bad" : utilization >= 70 ? "warn" : "ok";

  const chart = useMemo(
    () => ({
      data: align([page.sharePrice.map((p) => ({ time: p.time, y: p.price }))]),
      series: [{ label: "share price", stroke: "#2563eb", width: 2 }],
    }),
    [page.sharePrice],
  );

  return (
    <>
      <div class="pool-line muted small">
        pool <Id id={page.pool} />
      </div>
      <div class="cards stat-cards" data-testid="pool-stats">
        <Stat label="Total assets">
          <Amount value={page.totalAssets} />
        </Stat>
        <Stat label="Shares">
          <span
            class="num"
            title={`${formatUnits(page.totalSupply, page.shareDecimals, page.shareDecimals)} shares (${page.totalSupply} base units, ${page.shareDecimals} decimals)`}
          >
            {formatUnits(page.totalSupply, page.shareDecimals)}
          </span>
        </Stat>
        <Stat label="Share price" sub={latest === undefined ? null : <Age time={latest.time} />}>
          {latest === undefined ? (
            <span class="muted">—</span>
          ) : (
            <span class="num">
              {PRICE.format(latest.price)} <span class="unit">{symbol}/share</span>
            </span>
          )}
        </Stat>
        <Stat label="Locked">
          <Amount value={page.lockedCapital} />
        </Stat>
        <Stat label="Free">
          <Amount value={page.freeCapital} />
        </Stat>
        <Stat label="Liabilities" tone={/^0*$/.test(page.liabilities) ? undefined : "warn"}>
          <Amount value={page.liabilities} />
        </Stat>
        <Stat
          label="Utilization"
          tone={utilizationTone}
          sub={
            <span class="meter">
              <span
                class={`meter-fill ${utilizationTone}`}
                style={{ width: `${Math.min(100, utilization)}%` }}
              />
            </span>
          }
        >
          <span class="num" data-testid="utilization">
            {utilization.toFixed(2)}%
          </span>
        </Stat>
        <Stat label="Claims paid">
          <Amount value={page.claimsPaid} />
        </Stat>
        <Stat label="Recovered">
          <Amount value={page.recovered} />
        </Stat>
      </div>

      <ChartPanel
        title="Share price"
        extra={plural(page.sharePrice.length, "point")}
        empty={page.sharePrice.length === 0 ? "No deposit or claim has moved it yet." : null}
        testid="share-price-chart"
        points={page.sharePrice.length}
        data={chart.data}
        series={chart.series}
        format={(v) => PRICE.format(v)}
        height={220}
      />

      <SecurityForm policies={page.policies} />

      <Panel
        title="Policies"
        extra={`${page.policies.filter((p) => p.active).length} in force of ${page.policies.length}`}
      >
        <PoliciesTable
          policies={page.policies}
          testid="policies"
          empty="The pool has written no policy yet."
        />
      </Panel>

      <TablePanel
        title="Claims"
        rows={page.claims}
        columns={CLAIM_COLUMNS}
        rowKey={(claim) => `${claim.incident}-${claim.serial}`}
        rowAttributes={(claim) => ({ "data-claim": claim.incident })}
        testid="claims"
        empty="No claim was paid."
      />

      <TablePanel
        title="Recoveries"
        rows={page.recoveries}
        columns={RECOVERY_COLUMNS}
        rowKey={(recovery) => `${recovery.incident}-${recovery.tx}`}
        rowAttributes={(recovery) => ({ "data-incident": recovery.incident })}
        testid="recoveries"
        empty="Nothing was recovered from slashed stake yet."
      />
    </>
  );
}

/** Ask the server whether corrupting a device or a feed would pay, for a value at risk. */
function SecurityForm({ policies }: { policies: readonly PolicyEntry[] }) {
  const { status } = useLive();
  const decimals = status.asset?.decimals ?? 0;
  const symbol = status.asset?.symbol ?? "base units";
  const [kind, setKind] = useState<"device" | "feed">("device");
  const [target, setTarget] = useState("");
  const [value, setValue] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [asked, setAsked] = useState<{
    kind: "device" | "feed";
    target: string;
    rest: string;
  } | null>(null);
  const result = useApi("security", asked?.rest ?? null);

  const targets = useMemo(
    () => [...new Set(policies.filter((p) => p.kind === kind).map((p) => p.target))],
    [policies, kind],
  );

  const submit = (event: Event): void => {
    event.preventDefault();
    const id = target.trim().toLowerCase();
    const length = kind === "device" ? 66 : 42;
    if (!/^0x[0-9a-f]+$/.test(id) || id.length !== length) {
      setProblem(
        kind === "device"
          ? "The target of a device report is its id: 0x and 64 hex digits."
          : "The target of a feed report is its address: 0x and 40 hex digits.",
      );
      return;
    }
    let base: string;
    try {
      base = parseUnits(value, decimals);
    } catch (error) {
      setProblem(errorMessage(error));
      return;
    }
    setProblem(null);
    setAsked({
      kind,
      target: id,
      rest: `?${new URLSearchParams({ kind, target: id, valueAtRisk: base }).toString()}`,
    });
  };

  return (
    <Panel title="Security report" extra="cost of corruption against value at risk">
      <form class="security-form" onSubmit={submit} data-testid="security-form">
        <label>
          <span>Kind</span>
          <select
            name="kind"
            value={kind}
            onChange={(event) => {
              setKind(event.currentTarget.value === "feed" ? "feed" : "device");
            }}
          >
            <option value="device">device</option>
            <option value="feed">feed</option>
          </select>
        </label>
        <label class="grow">
          <span>Target</span>
          <input
            name="target"
            list="security-targets"
            placeholder={kind === "device" ? "0x… device id" : "0x… feed address"}
            value={target}
            spellcheck={false}
            autocomplete="off"
            onInput={(event) => {
              setTarget(event.currentTarget.value);
            }}
          />
          <datalist id="security-targets">
            {targets.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </label>
        <label>
          <span>Value at risk ({symbol})</span>
          <input
            name="valueAtRisk"
            inputMode="decimal"
            placeholder="250,000"
            value={value}
            onInput={(event) => {
              setValue(event.currentTarget.value);
            }}
          />
        </label>
        <button type="submit" class="primary">
          Report
        </button>
      </form>
      {problem === null ? null : <ErrorNote message={problem} />}
      {asked === null || problem !== null ? null : result.data === null ? (
        result.error === null ? (
          <Loading what="the security report" />
        ) : (
          <ErrorNote message={result.error} />
        )
      ) : (
        <>
          {result.error === null ? null : <ErrorNote message={result.error} />}
          <div class="muted small security-for">
            Report for the {asked.kind}{" "}
            <Id id={asked.target} href={targetHref(asked.kind, asked.target)} />
          </div>
          <SecurityReport view={result.data} testid="security-result" />
        </>
      )}
    </Panel>
  );
}
