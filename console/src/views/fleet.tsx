/** The fleet: how many devices are trusted and why the others are not, a page of 100 at a time. */
import { useState } from "preact/hooks";
import { VERDICTS, type FleetPage, type FleetRow, type Verdict } from "../../../src/console/api.js";
import {
  Age,
  Amount,
  DeviceLink,
  Empty,
  FeedValue,
  GradeBadge,
  Id,
  StatusBadge,
  VerdictBadge,
  count,
  shortIds,
  verdictTone,
  words,
} from "../format.js";
import { useApi, useDebounced } from "../live.js";
import { Firmware, LoadedView, makerName } from "./shared.js";
import { Grid, type Heading } from "./table.js";

const PAGE = 100;

/** The query survives a visit to a device and back. */
const remembered = { text: "", verdict: "" as Verdict | "", key: "|", offset: 0 };

export function FleetView() {
  const [text, setText] = useState(remembered.text);
  const [verdict, setVerdict] = useState<Verdict | "">(remembered.verdict);
  const q = useDebounced(text.trim(), 200);
  const filterKey = `${q}|${verdict}`;
  const [paging, setPaging] = useState({ key: remembered.key, offset: remembered.offset });
  const offset = paging.key === filterKey ? paging.offset : 0;
  Object.assign(remembered, { text, verdict, key: filterKey, offset });

  const query = new URLSearchParams({
    offset: String(offset),
    limit: String(PAGE),
    q,
    verdict,
  });
  const state = useApi("fleet", `?${query.toString()}`, true);

  return (
    <LoadedView
      name="fleet"
      title="Fleet"
      head={state.stale ? <span class="refreshing">searching…</span> : null}
      state={state}
      what="the fleet"
    >
      {(page) => (
        <>
          <VerdictCards
            page={page}
            selected={verdict}
            onSelect={(next) => {
              setVerdict(next);
            }}
          />
          <div class="toolbar">
            <input
              type="search"
              class="search"
              data-testid="fleet-search"
              placeholder="Search by device id or operator (prefix or part)…"
              value={text}
              spellcheck={false}
              autocomplete="off"
              onInput={(event) => {
                setText(event.currentTarget.value);
              }}
            />
            {verdict === "" ? null : (
              <button
                type="button"
                class="chip"
                onClick={() => {
                  setVerdict("");
                }}
                title="Show every verdict"
              >
                {words(verdict)} ✕
              </button>
            )}
            <Pager
              page={page}
              offset={offset}
              onOffset={(next) => {
                setPaging({ key: filterKey, offset: next });
              }}
            />
          </div>
          {page.rows.length === 0 ? (
            <Empty>
              {page.total === 0
                ? "No devices are registered on this chain yet."
                : "No device matches this search."}
            </Empty>
          ) : (
            <FleetTable rows={page.rows} stale={state.stale} />
          )}
        </>
      )}
    </LoadedView>
  );
}

function VerdictCards({
  page,
  selected,
  onSelect,
}: {
  page: FleetPage;
  selected: Verdict | "";
  onSelect: (verdict: Verdict | "") => void;
}) {
  return (
    <div class="cards verdict-cards">
      <button
        type="button"
        class={`card count-card info${selected === "" ? " selected" : ""}`}
        data-testid="count-all"
        onClick={() => {
          onSelect("");
        }}
        aria-pressed={selected === ""}
      >
        <span class="card-label">All devices</span>{" "}
        <span class="card-number">{count(page.total)}</span>
      </button>
      {VERDICTS.map((verdict) => {
        const n = page.counts[verdict];
        const share = page.total === 0 ? 0 : (100 * n) / page.total;
        return (
          <button
            type="button"
            key={verdict}
            class={`card count-card ${n === 0 ? "muted" : verdictTone(verdict)}${selected === verdict ? " selected" : ""}`}
            data-testid={`count-${verdict}`}
            aria-pressed={selected === verdict}
            title={`${count(n)} of ${count(page.total)} devices (${share.toFixed(1)}%): click to show only these`}
            onClick={() => {
              onSelect(selected === verdict ? "" : verdict);
            }}
          >
            <span class="card-label">{words(verdict)}</span>{" "}
            <span class="card-number">{count(n)}</span>
            <span class="card-bar">
              <span style={{ width: `${share}%` }} />
            </span>
          </button>
        );
      })}
    </div>
  );
}

function Pager({
  page,
  offset,
  onOffset,
}: {
  page: FleetPage;
  offset: number;
  onOffset: (offset: number) => void;
}) {
  const first = page.rows.length === 0 ? 0 : page.offset + 1;
  const last = page.offset + page.rows.length;
  const filtered = page.matching !== page.total;
  return (
    <div class="pager">
      <span class="pager-text" data-testid="fleet-range">
        {count(first)}–{count(last)} of {count(page.matching)}
        {filtered ? <span class="muted"> matching ({count(page.total)} in the fleet)</span> : null}
      </span>
      <button
        type="button"
        data-testid="fleet-prev"
        disabled={offset === 0}
        onClick={() => {
          onOffset(Math.max(0, offset - PAGE));
        }}
      >
        ‹ Prev
      </button>
      <button
        type="button"
        data-testid="fleet-next"
        disabled={offset + PAGE >= page.matching}
        onClick={() => {
          onOffset(offset + PAGE);
        }}
      >
        Next ›
      </button>
    </div>
  );
}

const FLEET_HEADINGS: readonly Heading[] = [
  { head: "Device" },
  { head: "Status" },
  { head: "Operator" },
  { head: "Maker / model" },
  { head: "Firmware" },
  { head: "Attested" },
  { head: "Verdict" },
  { head: "Stake", class: "r" },
  {
    head: (
      <>
        Pending
        <br />
        withdrawal
      </>
    ),
    class: "r wrap",
  },
  { head: "Last reading" },
  { head: "Rating", class: "c" },
];

function FleetTable({ rows, stale }: { rows: readonly FleetRow[]; stale: boolean }) {
  return (
    <Grid headings={FLEET_HEADINGS} testid="fleet" class="fleet-table" stale={stale}>
      {rows.map((row) => (
        <FleetRowView key={row.deviceId} row={row} />
      ))}
    </Grid>
  );
}

function FleetRowView({ row }: { row: FleetRow }) {
  const trusted = row.verdict === "Trusted";
  return (
    <tr
      data-device={row.deviceId}
      data-verdict={row.verdict}
      class={trusted ? "row-ok" : "row-bad"}
    >
      <td class="nowrap">
        <DeviceLink id={row.deviceId} />
        {row.incidents > 0 ? (
          <span
            class="incidents"
            title={`${row.incidents} incident${row.incidents === 1 ? "" : "s"} on record`}
          >
            {" "}
            ⚠ {row.incidents}
          </span>
        ) : null}
      </td>
      <td>
        <StatusBadge status={row.status} />
      </td>
      <td>
        <Id id={row.operator} />
      </td>
      <td>
        <span class="maker" title={`maker ${row.maker}, model ${row.model}`}>
          {makerName(row)}
          <span class="muted"> · {row.model}</span>
        </span>
      </td>
      <td>
        {row.firmwareId === 0 && row.firmwareVersion === null ? (
          <span class="muted">—</span>
        ) : (
          <span class="nowrap">
            <Firmware row={row} titled />
          </span>
        )}
      </td>
      <td class="nowrap">
        <Age time={row.attestedAt} />
      </td>
      <td class="verdict-cell">
        <VerdictBadge verdict={row.verdict} why={row.why} />
        {row.why === "" ? null : (
          <div class="why" title={row.why}>
            {shortIds(row.why)}
          </div>
        )}
      </td>
      <td class="r nowrap">
        <Amount value={row.stake} zero="—" />
      </td>
      <td class="r nowrap">
        <Amount value={row.pendingWithdrawal} zero="—" />
      </td>
      <td class="readings">
        {row.lastReadings.length === 0 ? (
          <span class="muted">—</span>
        ) : (
          row.lastReadings.map((reading) => (
            <div
              key={reading.feed}
              class="reading"
              title={`${reading.feedName}: sequence ${reading.sequence}, block ${reading.block}`}
            >
              <a class="reading-feed" href={`#/feed/${reading.feed}`}>
                {reading.feedName}
              </a>
              <FeedValue value={reading.value} decimals={reading.decimals} />
              <Age time={reading.time} />
            </div>
          ))
        )}
      </td>
      <td class="c">
        <GradeBadge rating={row.rating} />
      </td>
    </tr>
  );
}
