/** Device accounts: which can spend, which are frozen and why, and what happened to each. */
import { Fragment } from "preact";
import { useState } from "preact/hooks";
import { formatUnits, type AccountRow, type HexString } from "../../../src/console/api.js";
import {
  Badge,
  DeviceLink,
  Empty,
  Id,
  count,
  duration,
  groupInt,
  short,
  shortIds,
} from "../format.js";
import { useApi, useLive } from "../live.js";
import { LoadedView, Stat, Timeline } from "./shared.js";
import { Grid, type Heading } from "./table.js";

export function AccountsView() {
  const state = useApi("accounts", "");
  return (
    <LoadedView
      name="accounts"
      title="Accounts"
      head={
        state.data?.factory === undefined || state.data.factory === null ? null : (
          <span class="muted small">
            factory <Id id={state.data.factory} />
          </span>
        )
      }
      state={state}
      what="the device accounts"
    >
      {(page) =>
        page.factory === null ? (
          <Empty>
            No account factory is deployed on this chain, so there are no device accounts to show.
          </Empty>
        ) : page.accounts.length === 0 ? (
          <Empty>The account factory has created no device account yet.</Empty>
        ) : (
          <AccountsTable accounts={page.accounts} />
        )
      }
    </LoadedView>
  );
}

const ACCOUNT_HEADINGS: readonly Heading[] = [
  { head: "Account" },
  { head: "Operator" },
  { head: "State" },
  { head: "Policy" },
  { head: "Spent this period" },
  { head: "Breaker trips", class: "r" },
  { head: "Refused", class: "r" },
  { head: "Distrusted devices" },
  { head: "History" },
];

/** An amount of a token: in the asset's units when it is the asset, else in base units. */
function TokenAmount({ token, value }: { token: HexString; value: string }) {
  const { status } = useLive();
  const asset = status.asset;
  if (asset !== null && asset.address.toLowerCase() === token.toLowerCase()) {
    return (
      <span
        class="num"
        title={`${formatUnits(value, asset.decimals, asset.decimals)} ${asset.symbol} (${value} base units of ${token})`}
      >
        {formatUnits(value, asset.decimals)} <span class="unit">{asset.symbol}</span>
      </span>
    );
  }
  return (
    <span class="num" title={`${value} base units of ${token}`}>
      {groupInt(value)} <span class="unit">{short(token)}</span>
    </span>
  );
}

/**
 * The spending policy in a few lines: who signs what (thresholds), each token's caps and breaker, and
 * the allowed counterparties (their own caps in the title).
 */
function Policy({ policy }: { policy: AccountRow["policy"] }) {
  const allowed = policy.counterparties.filter((c) => c.allowed);
  const n = (v: number | null): string => (v === null ? "?" : String(v));
  return (
    <div class="policy small">
      <div title="Signer weight a device-signed operation needs (inside the policy) / the operator's (outside it)">
        low {n(policy.lowThreshold)} · high {n(policy.highThreshold)}
      </div>
      {policy.tokens.map((t) => (
        <div key={t.token}>
          <TokenAmount token={t.token} value={t.periodCap} /> per {duration(t.period)}, at most{" "}
          <TokenAmount token={t.token} value={t.perCallCap} /> a call
          {t.velocityWindow === 0 ? ", no breaker" : ""}
        </div>
      ))}
      {allowed.length === 0 ? null : (
        <div
          class="muted"
          title={allowed.map((c) => `${c.counterparty} (${short(c.token)})`).join("\n")}
        >
          {count(allowed.length)} allowed {allowed.length === 1 ? "counterparty" : "counterparties"}
        </div>
      )}
    </div>
  );
}

function AccountsTable({ accounts }: { accounts: readonly AccountRow[] }) {
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const toggle = (account: string): void => {
    setOpen((previous) => {
      const next = new Set(previous);
      if (next.has(account)) next.delete(account);
      else next.add(account);
      return next;
    });
  };
  const frozen = accounts.filter((a) => a.locked || a.distrusted.length > 0).length;
  return (
    <>
      <div class="cards stat-cards small-cards">
        <Stat label="Accounts" tone="info" valueClass="num">
          {count(accounts.length)}
        </Stat>
        <Stat label="Frozen" tone={frozen > 0 ? "bad" : "ok"} valueClass="num">
          {count(frozen)}
        </Stat>
      </div>
      <Grid headings={ACCOUNT_HEADINGS} testid="accounts">
        {accounts.map((account) => {
          const expanded = open.has(account.account);
          return (
            <Fragment key={account.account}>
              <tr
                data-account={account.account}
                data-locked={account.locked ? "true" : "false"}
                class={account.locked ? "row-bad" : "row-ok"}
              >
                <td>
                  <Id id={account.account} />
                </td>
                <td>
                  <Id id={account.operator} />
                </td>
                <td class="verdict-cell">
                  {account.locked ? (
                    <Badge tone="bad" title={account.why}>
                      frozen
                    </Badge>
                  ) : account.distrusted.length > 0 ? (
                    <Badge tone="warn" title={account.why}>
                      frozen for devices
                    </Badge>
                  ) : (
                    <Badge tone="ok">active</Badge>
                  )}
                  {account.why === "" ? null : (
                    <div class="why" title={account.why}>
                      {shortIds(account.why)}
                    </div>
                  )}
                </td>
                <td>
                  <Policy policy={account.policy} />
                </td>
                <td>
                  {account.spent.length === 0 ? (
                    <span class="muted">—</span>
                  ) : (
                    account.spent.map((s) => (
                      <div key={s.token}>
                        <TokenAmount token={s.token} value={s.spentThisPeriod} />
                      </div>
                    ))
                  )}
                </td>
                <td class={`r num${account.breakerTrips > 0 ? " text-bad" : ""}`}>
                  {count(account.breakerTrips)}
                </td>
                <td class={`r num${account.refused > 0 ? " text-warn" : ""}`}>
                  {count(account.refused)}
                </td>
                <td>
                  {account.distrusted.length === 0 ? (
                    <span class="muted">none</span>
                  ) : (
                    account.distrusted.map((device) => (
                      <div key={device}>
                        <DeviceLink id={device} />
                      </div>
                    ))
                  )}
                </td>
                <td>
                  {account.history.length === 0 ? (
                    <span class="muted">no events</span>
                  ) : (
                    <button
                      type="button"
                      class="link-button"
                      aria-expanded={expanded}
                      data-testid={`history-toggle-${account.account}`}
                      onClick={() => {
                        toggle(account.account);
                      }}
                    >
                      {expanded ? "▾" : "▸"} {account.history.length} event
                      {account.history.length === 1 ? "" : "s"}
                    </button>
                  )}
                </td>
              </tr>
              {expanded ? (
                <tr class="history-row" data-history={account.account}>
                  <td colSpan={8}>
                    <Timeline
                      entries={account.history}
                      testid={`history-${account.account}`}
                      attribute="data-event"
                    />
                  </td>
                </tr>
              ) : null}
            </Fragment>
          );
        })}
      </Grid>
    </>
  );
}
