/** The console's frame: top bar, hash routes, status polling, footer. */
import type { ComponentChildren } from "preact";
import { useEffect, useErrorBoundary, useMemo, useRef, useState } from "preact/hooks";
import type { Status } from "../../src/console/api.js";
import { Age, ErrorNote, Loading, absolute, count, duration, plural } from "./format.js";
import { LiveContext, errorMessage, getJson, type Live } from "./live.js";
import { AccountsView } from "./views/accounts.js";
import { DeviceView } from "./views/device.js";
import { FeedView } from "./views/feed.js";
import { FeedsView } from "./views/feeds.js";
import { FleetView } from "./views/fleet.js";
import { InsuranceView } from "./views/insurance.js";
import { OpsView } from "./views/ops.js";

const POLL_MS = 1000;

export type Route =
  | { readonly view: "fleet" }
  | { readonly view: "device"; readonly id: string }
  | { readonly view: "feeds" }
  | { readonly view: "feed"; readonly address: string }
  | { readonly view: "insurance" }
  | { readonly view: "accounts" }
  | { readonly view: "ops" }
  | { readonly view: "missing"; readonly hash: string };

/** #/fleet (default), #/device/<id>, #/feeds, #/feed/<address>, #/insurance, #/accounts, #/ops. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#\/?/, "").split("?")[0] ?? "";
  const [head = "", ...rest] = path.split("/").filter((part) => part !== "");
  const arg = decodeURIComponent(rest.join("/")).toLowerCase();
  switch (head) {
    case "":
    case "fleet":
      return { view: "fleet" };
    case "device":
      return arg === "" ? { view: "fleet" } : { view: "device", id: arg };
    case "feeds":
      return { view: "feeds" };
    case "feed":
      return arg === "" ? { view: "feeds" } : { view: "feed", address: arg };
    case "insurance":
      return { view: "insurance" };
    case "accounts":
      return { view: "accounts" };
    case "ops":
      return { view: "ops" };
    default:
      return { view: "missing", hash };
  }
}

function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = (): void => {
      setHash(location.hash);
    };
    addEventListener("hashchange", onChange);
    return () => {
      removeEventListener("hashchange", onChange);
    };
  }, []);
  return useMemo(() => parseRoute(hash), [hash]);
}

interface Polled {
  readonly status: Status | null;
  readonly error: string | null;
  readonly tick: number;
  /** When the last status arrived (ms), for "updated … ago". */
  readonly at: number;
}

/** Polls /api/status; `tick` moves when the index's version or block did. */
function useStatus(): Polled {
  const [polled, setPolled] = useState<Polled>({ status: null, error: null, tick: 0, at: 0 });
  const last = useRef<Status | null>(null);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const controller = new AbortController();
    const poll = async (): Promise<void> => {
      try {
        const status = await getJson("status", "", controller.signal);
        if (stopped) return;
        const previous = last.current;
        last.current = status;
        const moved =
          previous !== null &&
          (previous.version !== status.version || previous.block !== status.block);
        const same = previous !== null && JSON.stringify(previous) === JSON.stringify(status);
        setPolled((p) => ({
          // The same status again: keep the object, so nothing re-renders for nothing.
          status: same ? p.status : status,
          error: null,
          tick: moved ? p.tick + 1 : p.tick,
          at: Date.now(),
        }));
      } catch (error) {
        if (stopped) return;
        setPolled((p) => ({ ...p, error: errorMessage(error) }));
      } finally {
        if (!stopped) timer = setTimeout(() => void poll(), POLL_MS);
      }
    };
    void poll();
    return () => {
      stopped = true;
      controller.abort();
      clearTimeout(timer);
    };
  }, []);
  return polled;
}

/** Unix seconds now, moving every few seconds (ages need no finer). */
function useNow(status: Status | null): number {
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    const timer = setInterval(() => {
      setNow(Date.now() / 1000);
    }, 5000);
    return () => {
      clearInterval(timer);
    };
  }, []);
  // A chain whose clock runs ahead of ours (a local chain moved forward): ages count from its head.
  return Math.max(now, status?.blockTime ?? 0);
}

const NAV: readonly { readonly href: string; readonly label: string; readonly views: string[] }[] =
  [
    { href: "#/fleet", label: "Fleet", views: ["fleet", "device"] },
    { href: "#/feeds", label: "Feeds", views: ["feeds", "feed"] },
    { href: "#/insurance", label: "Insurance", views: ["insurance"] },
    { href: "#/accounts", label: "Accounts", views: ["accounts"] },
    { href: "#/ops", label: "Ops", views: ["ops"] },
  ];

function TopBar({ route, polled }: { route: Route; polled: Polled }) {
  const status = polled.status;
  return (
    <header class="topbar">
      <a class="brand" href="#/fleet">
        <span class="brand-mark" aria-hidden="true">
          ◆
        </span>
        DeviceTrust console
      </a>
      <nav>
        {NAV.map((item) => (
          <a
            key={item.href}
            href={item.href}
            class={item.views.includes(route.view) ? "active" : ""}
            aria-current={item.views.includes(route.view) ? "page" : undefined}
          >
            {item.label}
          </a>
        ))}
      </nav>
      <div class="chain">
        {status === null ? null : (
          <>
            <span class="chain-item" title="chain id">
              chain <strong data-testid="chain">{status.chainId}</strong>
            </span>
            <span class="chain-item" title={`block time ${absolute(status.blockTime)}`}>
              block <strong data-testid="block">{status.block}</strong>
            </span>
          </>
        )}
        <span
          class={`live-dot ${polled.error !== null ? "bad" : (status?.error ?? null) !== null ? "warn" : "ok"}`}
          title={
            polled.error ?? status?.error ?? "The index is following the chain (polling every 1 s)."
          }
        />
      </div>
    </header>
  );
}

function Footer({ polled }: { polled: Polled }) {
  const status = polled.status;
  if (status === null) return null;
  return (
    <footer class="footer" data-testid="footer">
      <span title={`The page asks /api/status every ${POLL_MS / 1000} s`}>
        <span class={`live-dot small ${polled.error === null ? "ok" : "bad"}`} /> Live updates:{" "}
        {status.live}
      </span>
      <span>
        index version {count(status.version)} · {plural(status.events, "event")} ·{" "}
        {plural(status.devices, "device")} · {plural(status.feeds, "feed")} · trust window{" "}
        {duration(status.maxAge)} · head <Age time={status.blockTime} />
      </span>
    </footer>
  );
}

/** A view that throws while rendering shows its sentence instead of a blank page. */
function Guard({ children }: { children: ComponentChildren }) {
  const boundary = useErrorBoundary();
  const error: unknown = boundary[0];
  const reset = boundary[1];
  if (error !== undefined) {
    return (
      <div class="view">
        <ErrorNote message={`This view failed to render: ${errorMessage(error)}`} />
        <button
          type="button"
          onClick={() => {
            reset();
          }}
        >
          Try again
        </button>
      </div>
    );
  }
  return <>{children}</>;
}

function View({ route }: { route: Route }) {
  switch (route.view) {
    case "fleet":
      return <FleetView />;
    case "device":
      return <DeviceView id={route.id} />;
    case "feeds":
      return <FeedsView />;
    case "feed":
      return <FeedView address={route.address} />;
    case "insurance":
      return <InsuranceView />;
    case "accounts":
      return <AccountsView />;
    case "ops":
      return <OpsView />;
    case "missing":
      return (
        <div class="view">
          <ErrorNote message={`There is no page at ${route.hash}.`} />
          <p>
            <a href="#/fleet">Go to the fleet</a>
          </p>
        </div>
      );
  }
}

export function App() {
  const route = useRoute();
  const polled = useStatus();
  const now = useNow(polled.status);
  const live = useMemo<Live | null>(
    () => (polled.status === null ? null : { status: polled.status, tick: polled.tick, now }),
    [polled.status, polled.tick, now],
  );
  const routeKey = JSON.stringify(route);
  const syncError = live?.status.error ?? null;

  return (
    <LiveContext.Provider value={live}>
      <TopBar route={route} polled={polled} />
      {polled.error !== null && live !== null ? (
        <div class="banner bad" role="alert">
          Lost the console's server: {polled.error} Showing the last data; retrying every second.
        </div>
      ) : null}
      {syncError === null ? null : (
        <div class="banner warn" role="alert">
          The index could not sync with the chain: {syncError}
        </div>
      )}
      <main class="main">
        {live === null ? (
          polled.error === null ? (
            <Loading what="the console's status" />
          ) : (
            <div class="view">
              <ErrorNote message={polled.error} />
            </div>
          )
        ) : (
          <Guard key={routeKey}>
            <View route={route} />
          </Guard>
        )}
      </main>
      <Footer polled={polled} />
    </LiveContext.Provider>
  );
}
