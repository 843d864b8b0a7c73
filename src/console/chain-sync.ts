import { Contract, Result, type Interface, type Log, type Provider } from "ethers";
import {
  DeviceAccountFactory__factory,
  DeviceAccount__factory,
  DeviceFeedFactory__factory,
  DeviceFeed__factory,
  DeviceRegistry__factory,
  DeviceStaking__factory,
  FraudProofs__factory,
  InsurancePool__factory,
} from "../../types/ethers-contracts/index.js";
import { poolUnits } from "../client/insurance.js";
import type { HexString } from "./api.js";
import type { EventIndex, IndexedEvent, SourceKind } from "./event-index.js";

/** What a sync's events touched: the state read again at the head (pool: blocks with pool events). */
interface Touched {
  readonly devices: Set<HexString>;
  readonly feeds: Set<HexString>;
  readonly pool: Set<number>;
  readonly accounts: Set<HexString>;
}

function emptyTouched(): Touched {
  return { devices: new Set(), feeds: new Set(), pool: new Set(), accounts: new Set() };
}

/** The deployed contracts the console reads; feeds and accounts are found through their factories. */
export interface ConsoleAddresses {
  readonly registry: HexString;
  readonly staking?: HexString | undefined;
  readonly proofs?: HexString | undefined;
  readonly pool?: HexString | undefined;
  readonly feedFactory?: HexString | undefined;
  /** Feeds not created by the factory (or without one), read all the same. */
  readonly feeds?: readonly HexString[] | undefined;
  readonly accountFactory?: HexString | undefined;
}

export interface ChainSyncOptions {
  /** The first block to read (default 0: the whole chain). */
  readonly fromBlock?: number;
  /** Blocks per eth_getLogs (default 5,000; a public RPC may want fewer). */
  readonly chunk?: number;
  /**
   * Blocks to stay behind the head (default 0): events are applied once and never taken back, so on a
   * chain that reorganizes, index only what that many blocks confirm.
   */
  readonly confirmations?: number;
  /** Parallel reads of state (default 16). */
  readonly concurrency?: number;
  /** Called with progress on long catch-ups (blocks read of blocks to read). */
  readonly onProgress?: (done: number, total: number) => void;
}

const INTERFACES: Readonly<Record<SourceKind, Interface>> = {
  registry: DeviceRegistry__factory.createInterface(),
  staking: DeviceStaking__factory.createInterface(),
  proofs: FraudProofs__factory.createInterface(),
  pool: InsurancePool__factory.createInterface(),
  feedFactory: DeviceFeedFactory__factory.createInterface(),
  feed: DeviceFeed__factory.createInterface(),
  accountFactory: DeviceAccountFactory__factory.createInterface(),
  account: DeviceAccount__factory.createInterface(),
};

/**
 * Assets per whole share, in whole asset units (1 before the first deposit, as ERC-4626 starts), to
 * six significant decimals: for the chart, not for accounting.
 */
export function sharePrice(
  assets: bigint,
  supply: bigint,
  assetDecimals: number,
  shareDecimals: number,
): number {
  if (supply === 0n) return 1;
  const micro =
    (assets * 10n ** BigInt(shareDecimals) * 1_000_000n) / (supply * 10n ** BigInt(assetDecimals));
  return Number(micro) / 1_000_000;
}

/**
 * A node's refusal of an eth_getLogs range as too large, by its words (providers phrase it differently:
 * "query returned more than 10000 results", "block range is too large", "exceed maximum block range",
 * "Log response size exceeded", "limit exceeded").
 */
export function isRangeRefusal(err: unknown): boolean {
  const text =
    err instanceof Error
      ? `${err.message} ${JSON.stringify((err as { error?: unknown }).error ?? "")}`
      : String(err);
  // A rate limit is not a range refusal: more, smaller calls would only make it worse.
  if (/rate.?limit|too many requests|\b429\b/i.test(text)) return false;
  return /more than \d+ results|range|too (large|many|big)|exceed|limit/i.test(text);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (t: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

/** Event arguments by name, integers as bigint, structs as objects, arrays as arrays. */
function argsOf(
  iface: Interface,
  log: Log,
): { name: string; args: Record<string, unknown> } | null {
  const parsed = iface.parseLog({ topics: [...log.topics], data: log.data });
  if (parsed === null) return null;
  const args: Record<string, unknown> = {};
  parsed.fragment.inputs.forEach((input, i) => {
    const v: unknown = parsed.args[i];
    // A struct by its fields' names (TokenLimits, Config), an array as a plain array.
    if (v instanceof Result)
      args[input.name] = input.isTuple() ? v.toObject(true) : v.toArray(true);
    else args[input.name] = v;
  });
  return { name: parsed.name, args };
}

/**
 * Keeps an EventIndex in step with the chain: reads each new range of blocks once (eth_getLogs over
 * the known contracts, feeds and accounts found through their factories in the same range), applies
 * the events in chain order, then reads the state the events touched (stakes of the devices whose
 * stake moved, feeds' configuration and cost of corruption, the pool's totals, accounts' locks) at
 * the new head. A share price point is read at each block with pool events (historic state; skipped
 * where the node keeps none).
 */
export class ChainSync {
  readonly provider: Provider;
  readonly addresses: ConsoleAddresses;
  readonly index: EventIndex;
  /** Blocks per eth_getLogs: smaller once a node refused a range as too large. */
  private chunk: number;
  private readonly concurrency: number;
  private readonly confirmations: number;
  private readonly onProgress: ((done: number, total: number) => void) | undefined;
  private next: number;
  private readonly sources = new Map<string, SourceKind>();
  private readonly blockTimes = new Map<number, number>();
  /** State the applied events touched and not yet read again (Touched). */
  private touched: Touched = emptyTouched();
  /** The pool's asset's and shares' decimals, read once. */
  private decimals: { readonly asset: number; readonly shares: number } | undefined;

  constructor(
    provider: Provider,
    addresses: ConsoleAddresses,
    index: EventIndex,
    options: ChainSyncOptions = {},
  ) {
    this.provider = provider;
    this.addresses = addresses;
    this.index = index;
    this.chunk = options.chunk ?? 5_000;
    this.concurrency = options.concurrency ?? 16;
    this.confirmations = Math.max(0, options.confirmations ?? 0);
    this.onProgress = options.onProgress;
    this.next = options.fromBlock ?? 0;
    const add = (a: HexString | undefined, kind: SourceKind): void => {
      if (a !== undefined) this.sources.set(a.toLowerCase(), kind);
    };
    add(addresses.registry, "registry");
    add(addresses.staking, "staking");
    add(addresses.proofs, "proofs");
    add(addresses.pool, "pool");
    add(addresses.feedFactory, "feedFactory");
    add(addresses.accountFactory, "accountFactory");
    for (const f of addresses.feeds ?? []) add(f, "feed");
  }

  /** The next block to read. */
  get nextBlock(): number {
    return this.next;
  }

  /**
   * Reads every block up to the head. True when the index changed (events, state, or only a newer head:
   * ages and verdicts move with time).
   */
  async sync(): Promise<boolean> {
    const head = (await this.provider.getBlockNumber()) - this.confirmations;
    if (head < this.next) {
      // No new block; state a failed read left unread is read now, at the index's head.
      const t = this.touched;
      if (t.devices.size + t.feeds.size + t.pool.size + t.accounts.size === 0) return false;
      await this.refresh(this.next - 1, t);
      this.touched = emptyTouched();
      return true;
    }
    const first = this.next;
    // Kept until a refresh succeeds: a failed read of state is tried again at the next sync.
    const touched = this.touched;
    for (const feed of this.addresses.feeds ?? []) {
      if (!this.index.feeds.has(feed.toLowerCase() as HexString))
        await this.addFeed(feed.toLowerCase() as HexString);
    }
    while (this.next <= head) {
      const to = Math.min(head, this.next + this.chunk - 1);
      await this.readRange(this.next, to, touched);
      this.next = to + 1;
      if (head - first > this.chunk) this.onProgress?.(this.next - first, head - first + 1);
    }
    await this.refresh(head, touched);
    this.touched = emptyTouched();
    const block = await this.provider.getBlock(head);
    this.index.advance(head, block?.timestamp ?? this.index.blockTime);
    return true;
  }

  private async addFeed(address: HexString): Promise<void> {
    const feed = DeviceFeed__factory.connect(address, this.provider);
    const [feedId, description, owner] = await Promise.all([
      feed.feedId(),
      feed.description(),
      feed.owner(),
    ]);
    this.index.addFeed(
      address,
      feedId.toLowerCase() as HexString,
      description,
      owner.toLowerCase() as HexString,
    );
  }

  /**
   * eth_getLogs over `address` in [from, to]. A node that refuses the range as too large (public RPCs
   * cap blocks or results per call) is asked for each half instead, and later ranges start at the size
   * that worked; any other error is thrown as it is.
   */
  private async logs(address: string[], from: number, to: number): Promise<Log[]> {
    try {
      return await this.provider.getLogs({ address, fromBlock: from, toBlock: to });
    } catch (err: unknown) {
      if (to <= from || !isRangeRefusal(err)) throw err;
      const mid = from + Math.floor((to - from) / 2);
      this.chunk = Math.max(1, Math.min(this.chunk, mid - from + 1));
      return [...(await this.logs(address, from, mid)), ...(await this.logs(address, mid + 1, to))];
    }
  }

  private async readRange(from: number, to: number, touched: Touched): Promise<void> {
    // Factories first: a feed or account created in this range has events in it too.
    const factories = [this.addresses.feedFactory, this.addresses.accountFactory].filter(
      (a): a is HexString => a !== undefined,
    );
    if (factories.length > 0) {
      const created = await this.logs(factories, from, to);
      for (const log of created) {
        const kind = this.sources.get(log.address.toLowerCase());
        if (kind === undefined) continue;
        const decoded = argsOf(INTERFACES[kind], log);
        if (decoded?.name === "FeedCreated")
          this.sources.set(String(decoded.args.feed).toLowerCase(), "feed");
        if (decoded?.name === "AccountCreated")
          this.sources.set(String(decoded.args.account).toLowerCase(), "account");
      }
    }
    const logs = await this.logs([...this.sources.keys()], from, to);
    logs.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
    const blocks = [...new Set(logs.map((l) => l.blockNumber))].filter(
      (b) => !this.blockTimes.has(b),
    );
    await eachLimited(blocks, this.concurrency, async (b) => {
      const block = await this.provider.getBlock(b);
      this.blockTimes.set(b, block?.timestamp ?? 0);
    });
    for (const log of logs) {
      const address = log.address.toLowerCase() as HexString;
      const source = this.sources.get(address);
      if (source === undefined) continue;
      const decoded = argsOf(INTERFACES[source], log);
      if (decoded === null) continue;
      const event: IndexedEvent = {
        source,
        address,
        name: decoded.name,
        args: decoded.args,
        block: log.blockNumber,
        logIndex: log.index,
        tx: log.transactionHash.toLowerCase() as HexString,
        time: this.blockTimes.get(log.blockNumber) ?? 0,
      };
      this.index.apply(event);
      if (source === "staking" && typeof decoded.args.deviceId === "string") {
        touched.devices.add(decoded.args.deviceId.toLowerCase() as HexString);
      }
      if (source === "feed") touched.feeds.add(address);
      if (source === "feedFactory" && decoded.name === "FeedCreated") {
        touched.feeds.add(String(decoded.args.feed).toLowerCase() as HexString);
      }
      if (source === "pool") touched.pool.add(log.blockNumber);
      if (source === "account") touched.accounts.add(address);
      // Membership and stake move a feed's cost of corruption.
      if (source === "staking")
        for (const f of this.index.feeds.values()) touched.feeds.add(f.address);
    }
    // A feed whose configuration was never read (given by --feeds, or its first read failed).
    for (const f of this.index.feeds.values()) if (f.state === null) touched.feeds.add(f.address);
  }

  /** Reads the state the events touched, at `head`. */
  private async refresh(head: number, touched: Touched): Promise<void> {
    const tag = { blockTag: head };
    if (this.addresses.staking !== undefined && touched.devices.size > 0) {
      const staking = DeviceStaking__factory.connect(this.addresses.staking, this.provider);
      await eachLimited([...touched.devices], this.concurrency, async (id) => {
        const s = await staking.stakeOf(id, tag);
        this.index.setStake(id, {
          active: s.active,
          pending: s.pending,
          unlockAt: Number(s.unlockAt),
        });
      });
    }
    await eachLimited([...touched.feeds], this.concurrency, async (address) => {
      const feed = DeviceFeed__factory.connect(address, this.provider);
      const [config, corruption] = await Promise.all([feed.config(tag), feed.corruption(tag)]);
      this.index.setFeedState(address, {
        decimals: Number(config.decimals),
        quorum: Number(config.quorum),
        heartbeat: Number(config.heartbeat),
        costOfCorruption: corruption.cost,
        operatorsToControl: corruption.operators,
      });
    });
    if (this.addresses.pool !== undefined && (touched.pool.size > 0 || this.index.pool === null)) {
      const pool = InsurancePool__factory.connect(this.addresses.pool, this.provider);
      let decimals = this.decimals;
      if (decimals === undefined) {
        const units = await poolUnits(pool);
        decimals = { asset: units.asset.decimals, shares: units.shares.decimals };
        this.decimals = decimals;
      }
      const { asset, shares } = decimals;
      for (const block of [...touched.pool].sort((a, b) => a - b)) {
        try {
          const [assets, supply] = await Promise.all([
            pool.totalAssets({ blockTag: block }),
            pool.totalSupply({ blockTag: block }),
          ]);
          // Before the first deposit there is no price to plot.
          if (supply === 0n) continue;
          this.index.addSharePrice({
            block,
            time: this.blockTimes.get(block) ?? 0,
            totalAssets: assets.toString(),
            totalSupply: supply.toString(),
            price: sharePrice(assets, supply, asset, shares),
          });
        } catch {
          // A node without this block's state: the series starts later.
        }
      }
      const [totalAssets, totalSupply, lockedCapital, freeCapital, liabilities] = await Promise.all(
        [
          pool.totalAssets(tag),
          pool.totalSupply(tag),
          pool.lockedCapital(tag),
          pool.freeCapital(tag),
          pool.liabilities(tag),
        ],
      );
      this.index.setPool({
        shareDecimals: shares,
        totalAssets,
        totalSupply,
        lockedCapital,
        freeCapital,
        liabilities,
      });
    }
    await eachLimited([...touched.accounts], this.concurrency, async (address) => {
      const account = new Contract(address, INTERFACES.account, this.provider);
      const locked = (await account.getFunction("locked")(tag)) as boolean;
      this.index.setAccountLocked(address, locked);
    });
  }
}
