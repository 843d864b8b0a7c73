import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { HexString } from "../console/api.js";
import { EventIndex, type IndexedEvent, type SourceKind } from "../console/event-index.js";
import { ensureConsoleBundle } from "../console/run.js";
import { ConsoleServer } from "../console/server.js";
import { fleetPage } from "../console/views.js";

/**
 * A synthetic fleet's events, as ChainSync would decode them: for the console's benchmark (10,000
 * devices) and its tests. Deterministic: device i's id, operator and facts follow from i.
 */

export const SYNTHETIC = {
  registry: "0x00000000000000000000000000000000000000a1",
  staking: "0x00000000000000000000000000000000000000a2",
  proofs: "0x00000000000000000000000000000000000000a3",
  pool: "0x00000000000000000000000000000000000000a4",
  feedFactory: "0x00000000000000000000000000000000000000a5",
  feed: "0x00000000000000000000000000000000000000f1",
} as const satisfies Record<string, HexString>;

const hex = (n: number | bigint, bytes: number): HexString =>
  `0x${n.toString(16).padStart(bytes * 2, "0")}`;

export function syntheticDeviceId(i: number): HexString {
  return hex(0xd0000000n + BigInt(i), 32);
}

export function syntheticOperator(i: number): HexString {
  return hex(0x0b000000 + (i % 50), 20);
}

export interface SyntheticFleet {
  readonly events: IndexedEvent[];
  /** The head's time: devices attested within the day before it, some stale, some never. */
  readonly now: number;
}

/**
 * `devices` devices of one maker: most attested on firmware 1 and staked; every 10th never attested,
 * every 7th attested two days ago (stale), every 13th suspended, every 50th (the 48th of each 50) on revoked firmware 2; the
 * first 5 members of one feed with 20 answers.
 */
export function syntheticFleet(devices: number): SyntheticFleet {
  const now = 1_800_000_000;
  const events: IndexedEvent[] = [];
  let block = 1;
  let logIndex = 0;
  const push = (
    source: SourceKind,
    address: HexString,
    name: string,
    args: Record<string, unknown>,
    time = now - 86_400,
  ): void => {
    events.push({
      source,
      address,
      name,
      args,
      block,
      logIndex: logIndex++,
      tx: hex(block * 1000 + logIndex, 32),
      time,
    });
  };
  push("registry", SYNTHETIC.registry, "MakerAdded", {
    maker: 1n,
    signer: hex(0xaa, 20),
    name: "Acme Sensors",
  });
  for (const [id, version] of [
    [1n, "1.0.0"],
    [2n, "0.9.0"],
  ] as const) {
    push("registry", SYNTHETIC.registry, "FirmwarePublished", {
      firmwareId: id,
      maker: 1n,
      model: 42n,
      version,
      measurement: hex(id, 32),
      uri: "",
      imageDigests: [],
    });
  }
  push("registry", SYNTHETIC.registry, "FirmwareStatusChanged", {
    firmwareId: 2n,
    status: 3n,
    sunset: 0n,
    by: hex(0xaa, 20),
  });
  block++;
  for (let i = 0; i < devices; i++) {
    if (i % 500 === 0) {
      block++;
      logIndex = 0;
    }
    const deviceId = syntheticDeviceId(i);
    push("registry", SYNTHETIC.registry, "DeviceRegistered", {
      deviceId,
      operator: syntheticOperator(i),
      maker: 1n,
      model: 42n,
      keyType: BigInt(1 + (i % 2)),
      key: "0x",
    });
    if (i % 10 !== 9) {
      const attestedAt = i % 7 === 6 ? now - 2 * 86_400 : now - 600 - (i % 3600);
      push("registry", SYNTHETIC.registry, "DeviceAttested", {
        deviceId,
        firmwareId: i % 50 === 47 ? 2n : 1n,
        timestamp: BigInt(attestedAt),
        bootCount: BigInt(i % 5),
      });
    }
    if (i % 13 === 12) {
      push("registry", SYNTHETIC.registry, "DeviceSuspended", {
        deviceId,
        by: hex(0xbb, 20),
        reason: hex(0, 32),
      });
    }
    push("staking", SYNTHETIC.staking, "Staked", {
      deviceId,
      operator: syntheticOperator(i),
      amount: 10n ** 20n,
      active: 10n ** 20n,
    });
  }
  block++;
  push("feedFactory", SYNTHETIC.feedFactory, "FeedCreated", {
    feed: SYNTHETIC.feed,
    owner: syntheticOperator(0),
    feedId: hex(BigInt(SYNTHETIC.feed), 32),
    description: "Synthetic temperature",
  });
  for (let i = 0; i < Math.min(5, devices); i++) {
    push("feed", SYNTHETIC.feed, "MemberAdded", { deviceId: syntheticDeviceId(i) });
  }
  for (let r = 1; r <= 20; r++) {
    block++;
    const time = now - (20 - r) * 60;
    for (let i = 0; i < Math.min(5, devices); i++) {
      push(
        "feed",
        SYNTHETIC.feed,
        "ReadingAccepted",
        {
          deviceId: syntheticDeviceId(i),
          sequence: BigInt(r),
          value: 2_150_000_000n + BigInt(i + r) * 1_000_000n,
        },
        time,
      );
    }
    push(
      "feed",
      SYNTHETIC.feed,
      "AnswerUpdated",
      {
        current: 2_152_000_000n + BigInt(r) * 1_000_000n,
        roundId: BigInt(r),
        updatedAt: BigInt(time),
      },
      time,
    );
  }
  return { events, now };
}

/** Debian's Chromium (CHROMIUM_PATH overrides): the console's tests and benchmark drive it headless. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface ConsoleBench {
  readonly perSecond: Record<string, number>;
  readonly bytes: Record<string, number>;
  readonly seconds: Record<string, number>;
  readonly meta: Record<string, string | number>;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

/**
 * The console's figures: events indexed per second and fleet pages answered per second (10,000
 * devices), the page's bundle gzipped, and the time from opening the fleet view in headless Chromium
 * to its first 100 rows on screen, with 10,000 devices behind it (median of 5 fresh pages).
 */
export async function benchConsole(options: {
  readonly progress: (line: string) => void;
  readonly devices?: number;
}): Promise<ConsoleBench> {
  const devices = options.devices ?? 10_000;
  const fleet = syntheticFleet(devices);
  const perSecond: Record<string, number> = {};
  const bytes: Record<string, number> = {};
  const seconds: Record<string, number> = {};

  let index = new EventIndex();
  let best = Number.POSITIVE_INFINITY;
  for (let run = 0; run < 3; run++) {
    index = new EventIndex();
    const t0 = performance.now();
    for (const e of fleet.events) index.apply(e);
    best = Math.min(best, performance.now() - t0);
  }
  index.advance(index.block + 1, fleet.now);
  perSecond["console.index.events"] = Math.round((fleet.events.length * 1000) / best);
  const ctx = { index, now: fleet.now, maxAge: 86_400 };
  const pageStart = performance.now();
  let pages = 0;
  while (performance.now() - pageStart < 1000) {
    fleetPage(ctx, { offset: (pages * 100) % devices, limit: 100 });
    pages++;
  }
  perSecond[`console.fleet.page.${String(devices)}devices`] = Math.round(
    (pages * 1000) / (performance.now() - pageStart),
  );
  options.progress(
    `console: ${String(fleet.events.length)} events indexed at ${String(perSecond["console.index.events"])}/s; fleet pages at ${String(perSecond[`console.fleet.page.${String(devices)}devices`])}/s`,
  );

  // Built now, as `npm run build` would: the figure is the shipped bundle's.
  const dir = await ensureConsoleBundle(options.progress, { force: true });
  for (const ext of ["js", "css"]) {
    let raw = 0;
    let gz = 0;
    for (const f of await readdir(join(dir, "assets"))) {
      if (!f.endsWith(`.${ext}`)) continue;
      const body = await readFile(join(dir, "assets", f));
      raw += body.length;
      gz += gzipSync(body, { level: 9 }).length;
    }
    bytes[`console.bundle.${ext}`] = raw;
    bytes[`console.bundle.${ext}.gzip`] = gz;
  }

  const server = new ConsoleServer({
    index,
    addresses: { registry: SYNTHETIC.registry, pool: SYNTHETIC.pool },
    chainId: "31337",
    maxAge: 86_400,
    asset: { address: SYNTHETIC.pool, symbol: "USD", decimals: 18 },
    staticDir: dir,
  });
  const url = await server.start();
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ["--no-sandbox"] });
  try {
    const times: number[] = [];
    for (let run = 0; run < 6; run++) {
      const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
      const t0 = performance.now();
      await page.goto(`${url}#/fleet`);
      await page.waitForFunction(
        (n) =>
          (
            globalThis as unknown as {
              document: { querySelectorAll(s: string): { length: number } };
            }
          ).document.querySelectorAll("tr[data-device]").length >= n,
        Math.min(100, devices),
      );
      // The first run warms the browser's caches and JIT: not counted.
      if (run > 0) times.push(performance.now() - t0);
      await page.close();
    }
    seconds[`console.fleet.render.${String(devices)}devices`] = Math.round(median(times)) / 1000;
    options.progress(
      `console: fleet view of ${String(devices)} devices on screen in ${times.map((t) => String(Math.round(t))).join(", ")} ms (median ${String(Math.round(median(times)))})`,
    );
  } finally {
    await browser.close();
    await server.stop();
  }
  return {
    perSecond,
    bytes,
    seconds,
    meta: {
      "console.method": `a synthetic fleet of ${String(devices)} devices (src/bench/console.ts) indexed in memory (best of 3) and served by ConsoleServer; render: headless Chromium (${CHROMIUM_PATH}) from page.goto to the first 100 fleet rows in the DOM, median of 5 fresh pages after one warm-up; bundle: dist/console/assets gzipped at level 9`,
    },
  };
}
