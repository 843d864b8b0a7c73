import assert from "node:assert/strict";
import {
  DeviceRateLimiter,
  DevicePublisher,
  ExpiringMap,
  FairQueue,
} from "../../src/gateway/index.js";
import type { Hex } from "../../src/protocol/index.js";
import { FEED, FakeDirectory, deviceSigner, reading } from "../watchtower/helpers.js";
import { FakeFeeds, brokerPerTest, gateway, waitFor } from "./helpers.js";

/** A registry and feeds whose answers the test sets, counting every question asked. */
class AdmissionDirectory extends FakeDirectory {
  readonly memberOf = new Map<Hex, Set<Hex>>();
  readonly inactiveDevices = new Set<Hex>();
  memberLookups = 0;
  activeLookups = 0;
  ownerLookups = 0;
  private readonly registrations = new Set<(deviceId: Hex) => void>();

  override keyOwner(keyHash: Hex): Promise<Hex> {
    this.ownerLookups++;
    return super.keyOwner(keyHash);
  }
  feedMembers(feedId: Hex): Promise<readonly Hex[]> {
    this.memberLookups++;
    return Promise.resolve([...(this.memberOf.get(feedId.toLowerCase() as Hex) ?? [])]);
  }
  isActive(deviceId: Hex): Promise<boolean> {
    this.activeLookups++;
    return Promise.resolve(!this.inactiveDevices.has(deviceId));
  }
  watchRegistrations(listener: (deviceId: Hex) => void): Promise<() => Promise<void>> {
    this.registrations.add(listener);
    return Promise.resolve(() => {
      this.registrations.delete(listener);
      return Promise.resolve();
    });
  }
  /** The device registers now: the registry knows it and the listeners hear of it. */
  register(deviceId: Hex): void {
    this.unknown.delete(deviceId);
    for (const l of this.registrations) l(deviceId);
  }
  admit(feedId: Hex, ...devices: Hex[]): void {
    const key = feedId.toLowerCase() as Hex;
    const set = this.memberOf.get(key) ?? new Set<Hex>();
    for (const d of devices) set.add(d.toLowerCase() as Hex);
    this.memberOf.set(key, set);
  }
}

const NOW_S = (): bigint => BigInt(Math.floor(Date.now() / 1000));

describe("Gateway admission", function () {
  describe("building blocks", function () {
    it("ExpiringMap forgets after its ttl and drops the oldest entry when full", function () {
      let now = 1000;
      const m = new ExpiringMap<string, number>(100, 2, () => now);
      m.set("a", 1);
      m.set("b", 2);
      m.set("c", 3); // full: "a" goes
      assert.equal(m.get("a"), undefined);
      assert.equal(m.get("b"), 2);
      now += 100;
      assert.equal(m.get("b"), undefined, "expired at exactly ttl");
      assert.equal(m.size, 1);
    });

    it("DeviceRateLimiter allows a burst, then the rate, per device", function () {
      let now = 0;
      const limiter = new DeviceRateLimiter({ perSecond: 2, burst: 3 }, 10, () => now);
      const taken = [1, 2, 3, 4].map(() => limiter.take("a"));
      assert.deepEqual(taken, [true, true, true, false]);
      assert.equal(limiter.take("b"), true, "another device has its own bucket");
      now += 500; // one token back
      assert.equal(limiter.take("a"), true);
      assert.equal(limiter.take("a"), false);
      assert.throws(() => new DeviceRateLimiter({ perSecond: 0, burst: 1 }), RangeError);
    });

    it("FairQueue serves devices in turn, each in arrival order, and rotates the ring", function () {
      interface Item {
        id: number;
        receivedAt: number;
        device: string;
      }
      const q = new FairQueue<Item>((i) => i.device);
      let id = 0;
      for (let i = 0; i < 5; i++) q.push({ id: ++id, receivedAt: id, device: "flood" });
      q.push({ id: ++id, receivedAt: id, device: "honest" });
      q.push({ id: ++id, receivedAt: id, device: "other" });
      const first = q.peek(3);
      assert.deepEqual(
        first.map((i) => i.device),
        ["flood", "honest", "other"],
      );
      q.remove(first);
      assert.equal(q.length, 4);
      assert.equal(q.oldest(), 2, "the flooding device's second item is now the oldest");
      const rest = q.peek(10);
      assert.deepEqual(
        rest.map((i) => i.id),
        [2, 3, 4, 5],
        "one device left: its items in order",
      );
      q.remove(rest);
      assert.equal(q.length, 0);
      assert.equal(q.oldest(), undefined);
    });
  });

  describe("without MQTT", function () {
    it("refuses non-members, inactive devices and readings dated beyond the clock skew", async function () {
      const directory = new AdmissionDirectory();
      const member = deviceSigner("p256");
      const outsider = deviceSigner("secp256k1");
      const suspended = deviceSigner("p256");
      directory.admit(FEED, member.deviceId, suspended.deviceId);
      directory.inactiveDevices.add(suspended.deviceId);
      const g = gateway({
        brokerUrl: "unused",
        dbPath: ":memory:",
        submitter: new FakeFeeds(),
        directory,
        maxClockSkewMs: 5_000,
      });
      await g.open();
      const now = NOW_S();
      assert.equal(await g.accept(await reading(member, 1n, 20n, now)), "accepted");
      assert.equal(await g.accept(await reading(member, 2n, 20n, now + 5n)), "accepted");
      assert.equal(await g.accept(await reading(member, 3n, 20n, now + 60n)), "future_timestamp");
      assert.equal(
        await g.accept(await reading(member, 4n, 20n, now + 365n * 86_400n)),
        "future_timestamp",
      );
      for (let i = 1n; i <= 20n; i++) {
        assert.equal(await g.accept(await reading(outsider, i, 20n, now)), "not_member");
        assert.equal(await g.accept(await reading(suspended, i, 20n, now)), "inactive_device");
      }
      assert.equal(directory.memberLookups, 1, "the member list is asked for once");
      assert.equal(directory.activeLookups, 3, "each device's status once");
      await g.stop();
    });

    it("limits each device to its rate; replays of its own readings do not spend its allowance", async function () {
      const directory = new AdmissionDirectory();
      const flood = deviceSigner("p256");
      const honest = deviceSigner("p256");
      directory.admit(FEED, flood.deviceId, honest.deviceId);
      const g = gateway({
        brokerUrl: "unused",
        dbPath: ":memory:",
        submitter: new FakeFeeds(),
        directory,
        deviceRate: { perSecond: 0.001, burst: 5 },
      });
      await g.open();
      const now = NOW_S();
      const sent = [];
      for (let i = 1n; i <= 5n; i++) sent.push(await reading(flood, i, 20n, now));
      for (const r of sent) assert.equal(await g.accept(r), "accepted");
      assert.equal(await g.accept(await reading(flood, 6n, 20n, now)), "rate_limited");
      assert.equal(await g.accept(await reading(honest, 1n, 20n, now)), "accepted");
      // Someone replaying the honest device's message: a duplicate, and its allowance is untouched.
      const mine = await reading(honest, 2n, 20n, now);
      assert.equal(await g.accept(mine), "accepted");
      for (let i = 0; i < 20; i++) assert.equal(await g.accept(mine), "duplicate");
      for (let i = 3n; i <= 5n; i++) {
        assert.equal(await g.accept(await reading(honest, i, 20n, now)), "accepted");
      }
      await g.stop();
    });
  });

  describe("over MQTT (aedes on loopback)", function () {
    const current = brokerPerTest();

    it("asks the registry about an unknown key once per negative-cache period, and at once after DeviceRegistered", async function () {
      const directory = new AdmissionDirectory();
      const device = deviceSigner("p256");
      directory.unknown.add(device.deviceId);
      directory.admit(FEED, device.deviceId);
      const g = gateway({
        brokerUrl: current().url,
        dbPath: ":memory:",
        submitter: new FakeFeeds(),
        directory,
      });
      // start() subscribes to the registry's events (DeviceRegistered among them).
      await g.start();
      for (let i = 1n; i <= 50n; i++) {
        assert.equal(await g.accept(await reading(device, i, 20n, NOW_S())), "unknown_key");
      }
      assert.equal(directory.currentKeyLookups, 1, "one chain question for 50 messages");
      directory.register(device.deviceId);
      assert.equal(await g.accept(await reading(device, 51n, 20n, NOW_S())), "accepted");
      assert.equal(directory.currentKeyLookups, 2);
      await g.stop();
    });

    it("drops a payload above its topic kind's limit without decoding it", async function () {
      const directory = new AdmissionDirectory();
      const device = deviceSigner("p256");
      directory.admit(FEED, device.deviceId);
      const g = gateway({
        brokerUrl: current().url,
        dbPath: ":memory:",
        submitter: new FakeFeeds(),
        directory,
        maxReadingBytes: 2048,
      });
      await g.start();
      const pub = await DevicePublisher.connect(current().url);
      const good = await reading(device, 1n, 20n, NOW_S());
      await pub.publish(good);
      // A reading padded past the limit (a huge value string is what a hostile sender would try).
      const huge = { ...good, reading: { ...good.reading, sequence: 2n, value: 10n ** 3000n } };
      await pub.publish(huge);
      let oversize = 0;
      for (let i = 0; i < 400 && oversize === 0; i++) {
        const counted = await g.metrics.rejected.get();
        oversize = counted.values.find((v) => v.labels.reason === "oversize")?.value ?? 0;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.equal(oversize, 1, "the oversize reading is counted");
      await waitFor(
        () => g.readings.counts().pending + g.readings.counts().submitted === 1,
        "1 stored",
      );
      assert.equal(g.readings.counts().pending + g.readings.counts().submitted, 1);
      await pub.close();
      await g.stop();
    });

    it("one device flooding does not put its backlog ahead of another device's reading", async function () {
      const directory = new AdmissionDirectory();
      const flood = deviceSigner("p256");
      const honest = deviceSigner("p256");
      directory.admit(FEED, flood.deviceId, honest.deviceId);
      const feeds = new FakeFeeds();
      let release: () => void = () => undefined;
      feeds.gate = new Promise((resolve) => (release = resolve));
      const g = gateway({
        brokerUrl: "unused",
        dbPath: ":memory:",
        submitter: feeds,
        directory,
        batchSize: 8,
        maxQueue: 1000,
        deviceRate: false,
      });
      await g.open();
      const now = NOW_S();
      for (let i = 1n; i <= 200n; i++) await g.accept(await reading(flood, i, 20n, now));
      await g.accept(await reading(honest, 1n, 20n, now));
      release();
      await g.flushNow();
      // The first transaction was formed before the honest reading arrived; it rides in the next
      // one, not behind the flooding device's 200-reading backlog (25 transactions).
      const at = feeds.calls.findIndex((c) =>
        c.some((r) => r.reading.deviceId === honest.deviceId),
      );
      assert.ok(at >= 0 && at <= 1, `the honest reading went in transaction ${String(at)}`);
      assert.equal(feeds.counts.size, 201);
      await g.stop();
    });
  });
});
