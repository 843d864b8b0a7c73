/**
 * The page's data: JSON from the console's /api, refetched when /api/status says the index moved
 * (polling: the server pushes nothing). A view keeps its data on screen while a refetch is in flight.
 */
import { createContext } from "preact";
import { useContext, useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type {
  AccountsPage,
  DevicePage,
  FeedPage,
  FeedSummary,
  FleetPage,
  InsurancePage,
  OpsPage,
  SecurityView,
  Status,
} from "../../src/console/api.js";

/** What each /api route answers. */
export interface Endpoints {
  status: Status;
  fleet: FleetPage;
  device: DevicePage;
  feeds: readonly FeedSummary[];
  feed: FeedPage;
  insurance: InsurancePage;
  security: SecurityView;
  accounts: AccountsPage;
  ops: OpsPage;
}

/** An answer of the server that is not a success: its sentence, and the HTTP status (0: no answer). */
export class ApiFailure extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "ApiFailure";
  }
}

function isApiError(body: unknown): body is { error: string } {
  return (
    typeof body === "object" && body !== null && "error" in body && typeof body.error === "string"
  );
}

/** The sentence of anything thrown, for the page. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * GET api/<endpoint><rest> as JSON. Relative to the page, so the page and its API may be mounted under
 * any prefix together. Errors are ApiFailure with the server's own sentence when it gave one.
 */
export async function getJson<K extends keyof Endpoints>(
  endpoint: K,
  rest: string,
  signal?: AbortSignal,
): Promise<Endpoints[K]> {
  const url = `api/${endpoint}${rest}`;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { accept: "application/json" },
      cache: "no-store",
      ...(signal === undefined ? {} : { signal }),
    });
  } catch (error) {
    if (signal?.aborted === true) throw error;
    throw new ApiFailure(
      `The console's server did not answer /${url} (${errorMessage(error)}): is it still running?`,
      0,
    );
  }
  const text = await response.text();
  let body: unknown = undefined;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: said below.
  }
  if (!response.ok) {
    const sentence = isApiError(body)
      ? body.error
      : `/${url} answered ${response.status} ${response.statusText}`.trim();
    throw new ApiFailure(sentence, response.status);
  }
  if (body === undefined) {
    throw new ApiFailure(
      `/${url} did not answer JSON: is this the console's server?`,
      response.status,
    );
  }
  return body as Endpoints[K];
}

/** What every view shares: the last status, a counter that moves when the index did, and "now". */
export interface Live {
  readonly status: Status;
  /** Moves when Status.version or Status.block changed: views refetch then. */
  readonly tick: number;
  /** Unix seconds the ages are measured to. */
  readonly now: number;
}

export const LiveContext = createContext<Live | null>(null);

/** The live context; views are only rendered once the first status arrived. */
export function useLive(): Live {
  const live = useContext(LiveContext);
  if (live === null) throw new Error("The console's status has not arrived yet.");
  return live;
}

export interface ApiState<T> {
  /** The data of this query (or, with `keep`, of the previous one until this one answers). */
  readonly data: T | null;
  /** The last fetch's error sentence, shown over the data kept on screen. */
  readonly error: string | null;
  /** A fetch is in flight. */
  readonly loading: boolean;
  /** The data shown is the previous query's (`keep`), while this one loads. */
  readonly stale: boolean;
}

interface Loaded<T> {
  readonly key: string | null;
  readonly data: T | null;
  readonly error: string | null;
}

/**
 * Fetches api/<endpoint><rest>, again whenever the index moves (a refetch that arrives while one is in
 * flight waits for it, so a slow server is never starved by aborts). `rest` null: fetch nothing.
 * `keep`: show the previous query's data while a new query loads (the fleet's search and pages).
 * `everyMs`: also refetch that often, for data that moves without the chain (the services of /ops).
 */
export function useApi<K extends keyof Endpoints>(
  endpoint: K,
  rest: string | null,
  keep = false,
  everyMs?: number,
): ApiState<Endpoints[K]> {
  const { tick } = useLive();
  const key = rest === null ? null : `${endpoint}${rest}`;
  const [loaded, setLoaded] = useState<Loaded<Endpoints[K]>>({
    key: null,
    data: null,
    error: null,
  });
  const [loading, setLoading] = useState(false);
  const refresh = useRef<(() => void) | null>(null);
  const seenTick = useRef(tick);

  // A layout effect: the request leaves as soon as the view rendered, not a frame later.
  useLayoutEffect(() => {
    if (rest === null || key === null) return;
    seenTick.current = tick;
    const controller = new AbortController();
    let cancelled = false;
    let busy = false;
    let again = false;
    const run = (): void => {
      busy = true;
      setLoading(true);
      void getJson(endpoint, rest, controller.signal)
        .then(
          (data) => {
            if (!cancelled) setLoaded({ key, data, error: null });
          },
          (error: unknown) => {
            if (cancelled) return;
            setLoaded((previous) => ({
              key,
              data: previous.key === key || keep ? previous.data : null,
              error: errorMessage(error),
            }));
          },
        )
        .finally(() => {
          busy = false;
          if (cancelled) return;
          if (again) {
            again = false;
            run();
          } else {
            setLoading(false);
          }
        });
    };
    run();
    const refetch = (): void => {
      if (busy) again = true;
      else run();
    };
    refresh.current = refetch;
    const timer = everyMs === undefined ? undefined : setInterval(refetch, everyMs);
    return () => {
      cancelled = true;
      controller.abort();
      clearInterval(timer);
      refresh.current = null;
    };
    // `tick` is read only to mark it seen: the effect below refetches on it.
  }, [endpoint, rest, key, keep, everyMs]);

  useEffect(() => {
    if (tick === seenTick.current) return;
    seenTick.current = tick;
    refresh.current?.();
  }, [tick]);

  const current = loaded.key === key;
  return {
    data: current || keep ? loaded.data : null,
    error: current ? loaded.error : null,
    loading: loading || (key !== null && !current),
    stale: !current && loaded.data !== null && keep,
  };
}

/** `value`, once it stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => {
      setSettled(value);
    }, ms);
    return () => {
      clearTimeout(timer);
    };
  }, [value, ms]);
  return settled;
}
