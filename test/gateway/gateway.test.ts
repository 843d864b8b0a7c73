import assert from "node:assert/strict";
import { ZeroHash } from "ethers";
import { DeviceSigner } from "../../src/device/device-signer.js";
import { DevicePublisher, SinkSource, type EmbeddedBroker } from "../../src/gateway/index.js";
import {
  digest,
  keyHash,
  structHash,
  type Hex,
  readingDigester,
  readingStructHash,
  type SignedReading,
  type WatchedMessage,
  decodeReading,
  encodeReading,
  parseReadingTopic,
  readingSubscription,
  readingTopic,
} from "../../src/protocol/index.js";
import {
  DOMAIN,
  FEED,
  FakeDirectory,
  deviceSigner,
  memoryLogger,
  reading,
  sample,
  tempDb,
} from "../watchtower/helpers.js";
import { FakeFeeds, brokerPerTest, gateway, slotOf, sqliteOf, waitFor } from "./helpers.js";

async function stream(device: DeviceSigner, count: number, from = 1n): Promise<SignedReading[]> {
  const out: SignedReading[] = [];
  for (let i = 0n; i < BigInt(count); i++) {
    out.push(await reading(device, from + i, 20n + i, 1_700_000_000n + from + i));
  }
  return out;
}

describe("Gateway", function () {
  describe("topics and codec", function () {
    it("round-trips a topic and a signed reading", async function () {
      const device = deviceSigner();
      const r = await reading(device, 7n, -5n);
      const topic = readingTopic(r.reading.feedId, r.reading.deviceId);
      assert.equal(topic, `dt/devicetrust/${FEED}/${device.deviceId}/reading`);
      assert.deepEqual(parseReadingTopic(topic), { feedId: FEED, deviceId: device.deviceId });
      assert.deepEqual(decodeReading(encodeReading(r)), r);
      assert.equal(parseReadingTopic("dt/devicetrust/0x12/0x34/reading"), null);
      assert.equal(parseReadingTopic(`dt/devicetrust/${FEED}/${device.deviceId}/other`), null);
      assert.equal(readingSubscription("g1"), "$share/g1/dt/devicetrust/+/+/reading");
      assert.throws(() => readingSubscription("a/b"), { code: "INVALID_INPUT" });
    });

    it("hashes a Reading exactly as the protocol's EIP-712 encoder", async function () {
      const digestOf = readingDigester(DOMAIN);
      for (const curve of ["p256", "secp256k1"] as const) {
        const r = (await reading(deviceSigner(curve), 2n ** 64n - 1n, -(2n ** 255n))).reading;
        const h = readingStructHash(r);
        assert.equal(`0x${h.toString("hex")}`, structHash("Reading", r));
        assert.equal(digestOf(h), digest(DOMAIN, "Reading", r));
      }
    });
  });

  describe("verification without MQTT", function () {
    it("answers a conflict only once a committing sink says the pair is durable (sinkCommits)", async function () {
      const device = deviceSigner("p256");
      const seen: WatchedMessage[] = [];
      const hook: { commit?: (() => void) | undefined } = {};
      const g = gateway({
        brokerUrl: "unused",
        dbPath: ":memory:",
        submitter: new FakeFeeds(),
        directory: new FakeDirectory(),
        sinkCommits: true,
        sink: (m) => {
          seen.push(m);
          hook.commit = m.durable;
          return Promise.resolve();
        },
      });
      await g.open();
      assert.equal(await g.accept(await reading(device, 1n, 10n), Date.now(), "t"), "accepted");
      assert.equal(hook.commit, undefined, "an accepted reading waits for no commit");
      let answered: string | undefined;
      const conflict = g
        .accept(await reading(device, 1n, 99n), Date.now(), "t")
        .then((o) => (answered = o));
      await waitFor(() => hook.commit !== undefined, "the stored original handed to the sink");
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(answered, undefined, "not answered (so not acknowledged) before the commit");
      assert.deepEqual(
        seen.map((m) => [m.reading.value, m.origin]),
        [
          [10n, "t"],
          [99n, "t"],
          [10n, "store"],
        ],
      );
      const commit = hook.commit as (() => void) | undefined;
      assert.ok(commit !== undefined);
      commit();
      assert.equal(await conflict, "conflict");
      await g.stop();
    });

    it("accepts only the device's current key; rejects old, unknown and other devices' keys and malformed hex", async function () {
      const device = deviceSigner("secp256k1");
      const rotated = new DeviceSigner(deviceSigner("p256").keyStore, DOMAIN, device.deviceId);
      const stranger = new DeviceSigner(deviceSigner("p256").keyStore, DOMAIN, device.deviceId);
      const other = deviceSigner("p256");
      const othersKey = new DeviceSigner(other.keyStore, DOMAIN, device.deviceId);
      const unregistered = deviceSigner("p256");
      const directory = new FakeDirectory();
      directory.owners.set(other.deviceId, other.deviceId); // the registry knows first keys too
      directory.unknown.add(unregistered.deviceId);
      const feeds = new FakeFeeds();
      const g = gateway({
        brokerUrl: "unused",
        dbPath: ":memory:",
        submitter: feeds,
        directory,
      });
      await g.open();
      const first = await reading(device, 1n, 10n);
      const tampered = { ...first, reading: { ...first.reading, sequence: 4n } };
      const outOfRange = { ...first, reading: { ...first.reading, sequence: 2n ** 64n } };
      const equivocation = await reading(device, 1n, 99n);
      assert.equal(await g.accept(first), "accepted");
      assert.equal(await g.accept(first), "duplicate");
      assert.equal(await g.accept(await reading(stranger, 3n, 12n)), "unknown_key");
      assert.equal(await g.accept(await reading(othersKey, 3n, 12n)), "wrong_device");
      assert.equal(await g.accept(await reading(unregistered, 3n, 12n)), "unknown_key");
      assert.equal(await g.accept(tampered), "invalid_signature");
      assert.equal(await g.accept(outOfRange), "malformed");
      // Hex that Buffer.from would have cut short: malformed, not a valid signature.
      assert.equal(await g.accept({ ...first, signature: `${first.signature}zz` }), "malformed");
      const badKey = `${first.key.key.slice(0, -2)}zz` as Hex;
      assert.equal(await g.accept({ ...first, key: { ...first.key, key: badKey } }), "malformed");
      assert.equal(await g.accept(equivocation), "conflict");
      // A rotation the gateway has not heard of: the new key's first message makes it ask again.
      directory.rotate(device.deviceId, rotated.key, false);
      assert.equal(await g.accept(await reading(rotated, 2n, 11n)), "accepted");
      // From now on the key it rotated from takes no sequence (the feed would refuse it).
      assert.equal(await g.accept(await reading(device, 3n, 13n)), "old_key");
      assert.equal(await g.accept(await reading(rotated, 3n, 14n)), "accepted");
      assert.equal(await g.accept(await reading(device, 4n, 15n)), "old_key");
      assert.equal(g.queued, 3);
      await g.flushNow();
      assert.equal(feeds.counts.size, 3);
      for (const batch of feeds.calls) {
        for (const r of batch)
          assert.equal(
            keyHash(r.key),
            keyHash(r.reading.sequence === 1n ? device.key : rotated.key),
          );
      }
      await g.stop();
    });

    it("asks the registry once per device, again only for another key of the device or after keyCacheTtlMs", async function () {
      const device = deviceSigner("p256");
      const next = new DeviceSigner(deviceSigner("p256").keyStore, DOMAIN, device.deviceId);
      const directory = new FakeDirectory();
      const g = gateway({
        brokerUrl: "unused",
        dbPath: ":memory:",
        submitter: new FakeFeeds(),
        directory,
        keyCacheTtlMs: 200,
      });
      await g.open();
      const readings = await stream(device, 20);
      const outcomes = await Promise.all(readings.map((r) => g.accept(r)));
      assert.deepEqual(new Set(outcomes), new Set(["accepted"]));
      assert.equal(directory.currentKeyLookups, 1, "concurrent messages share one lookup");
      // A rotation whose event was lost: the cached key is trusted until keyCacheTtlMs has passed.
      directory.rotate(device.deviceId, next.key, false);
      await new Promise((resolve) => setTimeout(resolve, 250));
      assert.equal(await g.accept(await reading(device, 21n, 1n)), "old_key");
      assert.equal(directory.currentKeyLookups, 2);
      // Known old now: no more lookups for it.
      assert.equal(await g.accept(await reading(device, 22n, 1n)), "old_key");
      assert.equal(await g.accept(await reading(next, 21n, 2n)), "accepted");
      assert.equal(directory.currentKeyLookups, 2);
      await g.stop();
    });
  });

  describe("over MQTT (aedes on loopback)", function () {
    const current = brokerPerTest();
    let broker: EmbeddedBroker;
    beforeEach(function () {
      broker = current();
    });

    it("verifies, deduplicates, persists, submits once and mirrors to the sink", async function () {
      this.timeout(20_000);
      const feeds = new FakeFeeds();
      feeds.failures = 2; // transient: retried with backoff
      const mirror = new SinkSource(10_000);
      const seen: WatchedMessage[] = [];
      const g = gateway({
        brokerUrl: broker.url,
        dbPath: await tempDb(),
        submitter: feeds,
        sink: mirror.sink,
        http: { port: 0 },
      });
      const address = await g.start();
      const devices = [
        deviceSigner("p256"),
        deviceSigner("p256"),
        deviceSigner("secp256k1"),
        deviceSigner("secp256k1"),
      ];
      const readings = (await Promise.all(devices.map((d) => stream(d, 25)))).flat();
      const pub = await DevicePublisher.connect(broker.url);
      for (const r of readings) await pub.publish(r);
      // Replays, a forged value, a payload on the wrong topic, garbage.
      for (const r of readings.slice(0, 10)) await pub.publish(r);
      const first = readings[0];
      assert.ok(first !== undefined);
      const device0 = devices[0];
      assert.ok(device0 !== undefined);
      await pub.publish({ ...first, reading: { ...first.reading, value: 1_000_000n } });
      await pub.publish(await reading(device0, 1n, 999n)); // a second signed reading for seq 1
      await pub.publishRaw(readingTopic(FEED, ZeroHash as Hex), encodeReading(first));
      await pub.publishRaw(readingTopic(FEED, first.reading.deviceId), "not json");
      // One subscriber, one publisher: messages are handled in order, so this one comes last.
      const last = await reading(device0, 26n, 1n, 1_700_000_100n);
      await pub.publish(last);
      readings.push(last);
      await waitFor(() => feeds.counts.size === 101 && g.queued === 0, "101 submitted readings");
      assert.deepEqual(feeds.duplicates(), []);
      assert.deepEqual(new Set(feeds.counts.keys()), new Set(readings.map(slotOf)));
      assert.deepEqual(g.readings.counts(), { pending: 0, submitted: 101, rejected: 0 });
      for (const batch of feeds.calls) assert.ok(batch.length <= 8);
      const text = await g.metrics.text();
      assert.equal(sample(text, "gateway_received_total"), 115);
      assert.equal(sample(text, "gateway_verified_total"), 101);
      assert.equal(sample(text, "gateway_duplicates_total"), 10);
      assert.equal(sample(text, "gateway_submitted_total"), 101);
      assert.equal(sample(text, 'gateway_rejected_total{reason="conflict"}'), 1);
      assert.equal(sample(text, 'gateway_rejected_total{reason="invalid_signature"}'), 1);
      assert.equal(sample(text, 'gateway_rejected_total{reason="topic_mismatch"}'), 1);
      assert.equal(sample(text, 'gateway_rejected_total{reason="malformed"}'), 1);
      assert.equal(sample(text, 'gateway_submit_errors_total{kind="retried"}'), 2);
      assert.ok(address !== null);
      const health = await fetch(`http://127.0.0.1:${String(address.port)}/health`);
      assert.equal(health.status, 200);
      const body = (await health.json()) as { status: string; submitted: number };
      assert.equal(body.status, "ok");
      assert.equal(body.submitted, 101);
      const metrics = await fetch(`http://127.0.0.1:${String(address.port)}/metrics`);
      assert.match(await metrics.text(), /gateway_verified_total 101/);
      await pub.close();
      await g.stop();
      mirror.end();
      for await (const m of mirror) seen.push(m);
      // Every well-formed message on its own topic reached the watchtower (forgery, conflict included),
      // and the conflict's original once more from the store.
      assert.equal(seen.filter((m) => m.origin !== "store").length, 113);
      assert.equal(seen.filter((m) => m.origin === "store").length, 1);
    });

    it("follows KeyRotated: an old-key reading takes no sequence, is counted and logged, and still reaches the sink", async function () {
      this.timeout(10_000);
      const feeds = new FakeFeeds();
      const directory = new FakeDirectory();
      const mirror = new SinkSource(100);
      const { logger, lines } = memoryLogger();
      const g = gateway({
        brokerUrl: broker.url,
        dbPath: ":memory:",
        submitter: feeds,
        directory,
        sink: mirror.sink,
        logger,
      });
      await g.start();
      const device = deviceSigner("p256");
      const next = new DeviceSigner(deviceSigner("secp256k1").keyStore, DOMAIN, device.deviceId);
      const pub = await DevicePublisher.connect(broker.url);
      await pub.publish(await reading(device, 1n, 1n));
      await waitFor(() => feeds.counts.size === 1 && g.queued === 0, "the first reading");
      directory.rotate(device.deviceId, next.key); // the registry's KeyRotated event
      const old = await reading(device, 2n, 666n);
      const real = await reading(next, 2n, 2n);
      await pub.publish(old);
      await pub.publish(real);
      await waitFor(() => feeds.counts.size === 2 && g.queued === 0, "the real reading");
      const second = feeds.calls.flat().filter((r) => r.reading.sequence === 2n);
      assert.deepEqual(second, [real]);
      assert.deepEqual(g.readings.counts(), { pending: 0, submitted: 2, rejected: 0 });
      const text = await g.metrics.text();
      assert.equal(sample(text, 'gateway_rejected_total{reason="old_key"}'), 1);
      assert.equal(sample(text, 'gateway_rejected_total{reason="conflict"}'), undefined);
      assert.equal(sample(text, "gateway_key_rotations_total"), 1);
      assert.equal(directory.currentKeyLookups, 1, "the event told the gateway: no lookup");
      const rejected = lines.find((l) => l.event === "rejected" && l.reason === "old_key");
      assert.equal(rejected?.keyHash, keyHash(device.key));
      assert.equal(rejected.sequence, "2");
      await pub.close();
      await g.stop();
      mirror.end();
      const seen: WatchedMessage[] = [];
      for await (const m of mirror) seen.push(m);
      // The watchtower gets the old-key reading too: evidence, never a reading to submit.
      assert.deepEqual(
        seen.map((m) => m.reading.value),
        [1n, 666n, 2n],
      );
    });

    it("drops invalid signatures without submitting them", async function () {
      this.timeout(10_000);
      const feeds = new FakeFeeds();
      const g = gateway({ brokerUrl: broker.url, dbPath: ":memory:", submitter: feeds });
      await g.start();
      const device = deviceSigner("p256");
      const other = deviceSigner("p256");
      const good = await reading(device, 1n, 1n);
      const forged = { ...(await reading(other, 2n, 2n)), key: good.key };
      const badSig = { ...good, reading: { ...good.reading, sequence: 3n } };
      const pub = await DevicePublisher.connect(broker.url);
      await pub.publish(forged);
      await pub.publish(badSig);
      await pub.publish(good);
      await waitFor(() => feeds.counts.size === 1 && g.queued === 0, "the valid reading");
      const text = await g.metrics.text();
      assert.equal(sample(text, 'gateway_rejected_total{reason="invalid_signature"}'), 2);
      assert.deepEqual([...feeds.counts.keys()], [slotOf(good)]);
      await pub.close();
      await g.stop();
    });

    it("holds acknowledgements when the queue is full and resumes when it drains", async function () {
      this.timeout(20_000);
      const feeds = new FakeFeeds();
      let open: () => void = () => undefined;
      feeds.gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const g = gateway({
        brokerUrl: broker.url,
        dbPath: ":memory:",
        submitter: feeds,
        batchSize: 4,
        maxQueue: 8,
      });
      await g.start();
      const readings = await stream(deviceSigner("p256"), 40);
      const pub = await DevicePublisher.connect(broker.url);
      for (const r of readings) await pub.publish(r);
      await waitFor(() => g.queued === 8, "a full queue");
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(g.queued, 8, "intake paused at maxQueue");
      const text = await g.metrics.text();
      assert.equal(sample(text, "gateway_verified_total"), 8);
      open();
      feeds.gate = undefined;
      await waitFor(() => feeds.counts.size === 40 && g.queued === 0, "all 40 submitted");
      assert.deepEqual(feeds.duplicates(), []);
      await pub.close();
      await g.stop();
    });

    it("marks a finally refused batch rejected and carries on", async function () {
      this.timeout(10_000);
      const feeds = new FakeFeeds();
      feeds.rejectNext = true;
      const g = gateway({ brokerUrl: broker.url, dbPath: ":memory:", submitter: feeds });
      await g.start();
      const pub = await DevicePublisher.connect(broker.url);
      const readings = await stream(deviceSigner("p256"), 16);
      for (const r of readings) await pub.publish(r);
      await waitFor(() => g.queued === 0 && feeds.counts.size === 8, "one batch submitted");
      assert.deepEqual(g.readings.counts(), { pending: 0, submitted: 8, rejected: 8 });
      await pub.close();
      await g.stop();
    });

    it("marks submitted only what the feed accepted: a reading skipped inside a good transaction is rejected with its reason", async function () {
      this.timeout(10_000);
      const feeds = new FakeFeeds();
      // The feed skips odd sequences (as a ReadingRejected inside a successful submitMany would).
      feeds.refuseReading = (r) =>
        r.reading.sequence % 2n === 1n ? "SequenceNotIncreasing" : null;
      const { logger, lines } = memoryLogger();
      const g = gateway({
        brokerUrl: broker.url,
        dbPath: ":memory:",
        submitter: feeds,
        batchSize: 8,
        logger,
      });
      await g.start();
      const pub = await DevicePublisher.connect(broker.url);
      for (const r of await stream(deviceSigner("p256"), 8)) await pub.publish(r);
      await waitFor(() => g.queued === 0 && feeds.counts.size === 8, "one batch sent");
      assert.deepEqual(g.readings.counts(), { pending: 0, submitted: 4, rejected: 4 });
      assert.deepEqual(await g.readings.rejectionReasons(), { SequenceNotIncreasing: 4 });
      assert.deepEqual(
        sqliteOf(g).recount().readings,
        g.readings.counts(),
        "tallies match the file",
      );
      const text = await g.metrics.text();
      assert.match(text, /^gateway_submitted_total 4$/m);
      assert.match(text, /^gateway_refused_total\{reason="SequenceNotIncreasing"\} 4$/m);
      const logged = lines.filter((l) => l.event === "readings_refused");
      assert.equal(logged.length, 1, "one line per transaction, not one per reading");
      assert.deepEqual(logged[0]?.refused, { SequenceNotIncreasing: 4 });
      await pub.close();
      await g.stop();
    });

    it("restarts on the same store without losing or resubmitting a reading", async function () {
      this.timeout(30_000);
      const feeds = new FakeFeeds();
      const dbPath = await tempDb();
      const options = { brokerUrl: broker.url, dbPath, submitter: feeds, clientId: "gw-restart" };
      const readings = (
        await Promise.all([
          stream(deviceSigner("p256"), 150),
          stream(deviceSigner("secp256k1"), 150),
        ])
      ).flat();
      const pub = await DevicePublisher.connect(broker.url);
      const a = gateway(options);
      await a.start();
      // Submissions are slow, so some readings are still queued when the gateway stops.
      feeds.gate = new Promise((resolve) => setTimeout(resolve, 50));
      const half = readings.slice(0, 150);
      for (const r of half) await pub.publish(r);
      await waitFor(() => a.readings.counts().pending + a.readings.counts().submitted > 60, "60");
      await a.stop();
      // The broker keeps the session's messages while no gateway runs.
      for (const r of readings.slice(150)) await pub.publish(r);
      for (const r of half.slice(0, 20)) await pub.publish(r); // device retries
      feeds.gate = undefined;
      const b = gateway(options);
      await b.start();
      await waitFor(() => feeds.counts.size === 300 && b.queued === 0, "all 300 submitted", 20_000);
      assert.deepEqual(feeds.duplicates(), []);
      assert.deepEqual(new Set(feeds.counts.keys()), new Set(readings.map(slotOf)));
      assert.deepEqual(b.readings.counts(), { pending: 0, submitted: 300, rejected: 0 });
      await pub.close();
      await b.stop();
    });
  });
});
