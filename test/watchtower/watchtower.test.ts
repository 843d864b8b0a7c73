import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { DeviceSigner } from "../../src/device/device-signer.js";
import { keyHash, structHash } from "../../src/protocol/index.js";
import { EvidenceStore } from "../../src/watchtower/index.js";
import {
  BENEFICIARY,
  FakeDirectory,
  FakeSubmitter,
  QueueSource,
  deviceSigner,
  evidenceUsed,
  fromArray,
  memoryLogger,
  reading,
  sample,
  tempDb,
  watchtower,
} from "./helpers.js";

describe("Watchtower", function () {
  describe("equivocation", function () {
    it("proves two different readings for one sequence exactly once", async function () {
      const device = deviceSigner();
      const first = await reading(device, 1n, 20n);
      const second = await reading(device, 1n, 21n);
      const third = await reading(device, 1n, 22n, 1_700_000_001n);
      const submitter = new FakeSubmitter();
      const w = watchtower({
        source: fromArray([first, first, second, second, third]),
        directory: new FakeDirectory(),
        submitter,
        dbPath: ":memory:",
      });
      await w.start();
      await w.drained();
      assert.equal(submitter.calls.length, 1);
      const call = submitter.calls[0];
      assert.equal(call?.kind, "equivocation");
      assert.equal(call.beneficiary, BENEFICIARY);
      assert.deepEqual(call.evidence, [first, second]);
      const [proof] = w.evidence.proofs();
      assert.equal(proof?.status, "submitted");
      assert.equal(proof.attempts, 1);
      const text = await w.metrics.text();
      assert.equal(sample(text, "watchtower_equivocations_total"), 1);
      assert.equal(sample(text, 'watchtower_messages_total{result="stored"}'), 1);
      assert.equal(sample(text, 'watchtower_messages_total{result="duplicate"}'), 1);
      assert.equal(sample(text, 'watchtower_messages_total{result="conflict"}'), 3);
      assert.equal(sample(text, 'watchtower_proofs_submitted_total{result="submitted"}'), 1);
      await w.stop();
    });

    it("accepts a rotated key the registry says belongs to the device", async function () {
      const device = deviceSigner("secp256k1");
      const rotated = deviceSigner("p256");
      // The rotated key signs under the original device id.
      const asDevice = new DeviceSigner(rotated.keyStore, rotated.domain, device.deviceId);
      const directory = new FakeDirectory();
      directory.owners.set(keyHash(rotated.key), device.deviceId);
      const submitter = new FakeSubmitter();
      const w = watchtower({
        source: fromArray([await reading(device, 5n, 1n), await reading(asDevice, 5n, 2n)]),
        directory,
        submitter,
        dbPath: ":memory:",
      });
      await w.start();
      await w.drained();
      assert.equal(submitter.calls.length, 1);
      await w.stop();
    });

    it("treats ProofsEvidenceUsed as already proven and does not retry it", async function () {
      const device = deviceSigner();
      const submitter = new FakeSubmitter();
      submitter.behaviour = evidenceUsed;
      const w = watchtower({
        source: fromArray([await reading(device, 1n, 1n), await reading(device, 1n, 2n)]),
        directory: new FakeDirectory(),
        submitter,
        dbPath: ":memory:",
      });
      await w.start();
      await w.drained();
      assert.equal(submitter.calls.length, 1);
      assert.equal(w.evidence.proofs()[0]?.status, "already-proven");
      const text = await w.metrics.text();
      assert.equal(sample(text, 'watchtower_proofs_submitted_total{result="already_proven"}'), 1);
      await w.stop();
    });

    it("retries transient failures with backoff and succeeds", async function () {
      const device = deviceSigner();
      const submitter = new FakeSubmitter();
      const succeed = submitter.behaviour;
      submitter.behaviour = (call) =>
        call < 3 ? Promise.reject(new Error("ECONNRESET")) : succeed(call);
      const w = watchtower({
        source: fromArray([await reading(device, 1n, 1n), await reading(device, 1n, 2n)]),
        directory: new FakeDirectory(),
        submitter,
        dbPath: ":memory:",
      });
      await w.start();
      await w.drained();
      assert.equal(submitter.calls.length, 3);
      const [proof] = w.evidence.proofs();
      assert.equal(proof?.status, "submitted");
      assert.equal(proof.attempts, 3);
      const text = await w.metrics.text();
      assert.equal(sample(text, 'watchtower_proofs_submitted_total{result="retried"}'), 2);
      await w.stop();
    });

    it("gives up after the bounded attempts and resumes the proof at the next start", async function () {
      const dbPath = await tempDb();
      const device = deviceSigner();
      const failing = new FakeSubmitter();
      failing.behaviour = () => Promise.reject(new Error("network down"));
      const w1 = watchtower({
        source: fromArray([await reading(device, 1n, 1n), await reading(device, 1n, 2n)]),
        directory: new FakeDirectory(),
        submitter: failing,
        dbPath,
      });
      await w1.start();
      await w1.drained();
      assert.equal(failing.calls.length, 3);
      assert.equal(w1.evidence.proofs()[0]?.status, "failed");
      await w1.stop();

      const working = new FakeSubmitter();
      const w2 = watchtower({
        source: fromArray([]),
        directory: new FakeDirectory(),
        submitter: working,
        dbPath,
      });
      await w2.start();
      await w2.drained();
      assert.equal(working.calls.length, 1);
      assert.equal(w2.evidence.proofs()[0]?.status, "submitted");
      assert.equal(w2.evidence.proofs()[0]?.attempts, 4);
      await w2.stop();
    });
  });

  describe("restart", function () {
    it("proves a conflict whose first reading it saw before a restart", async function () {
      const dbPath = await tempDb();
      const device = deviceSigner();
      const first = await reading(device, 9n, 100n);
      const second = await reading(device, 9n, 101n);

      const before = new FakeSubmitter();
      const w1 = watchtower({
        source: fromArray([first]),
        directory: new FakeDirectory(),
        submitter: before,
        dbPath,
      });
      await w1.start();
      await w1.drained();
      await w1.stop();
      assert.equal(before.calls.length, 0);

      const after = new FakeSubmitter();
      const w2 = watchtower({
        source: fromArray([second]),
        directory: new FakeDirectory(),
        submitter: after,
        dbPath,
      });
      await w2.start();
      await w2.drained();
      assert.equal(after.calls.length, 1);
      const [call] = after.calls;
      assert.deepEqual(call?.evidence, [first, second]);
      assert.equal(call.beneficiary, BENEFICIARY);
      await w2.stop();
    });

    it("does not submit again for duplicate or further conflicts after a submission, across restarts", async function () {
      const dbPath = await tempDb();
      const device = deviceSigner();
      const first = await reading(device, 3n, 1n);
      const second = await reading(device, 3n, 2n);
      const submitter = new FakeSubmitter();
      const w1 = watchtower({
        source: fromArray([first, second]),
        directory: new FakeDirectory(),
        submitter,
        dbPath,
      });
      await w1.start();
      await w1.drained();
      await w1.stop();
      assert.equal(submitter.calls.length, 1);

      const w2 = watchtower({
        source: fromArray([second, first, second, await reading(device, 3n, 3n)]),
        directory: new FakeDirectory(),
        submitter,
        dbPath,
      });
      await w2.start();
      await w2.drained();
      assert.equal(submitter.calls.length, 1);
      assert.equal(w2.evidence.proofs().length, 1);
      await w2.stop();
    });
  });

  describe("out of bounds", function () {
    it("proves a reading outside the model's declared range once, and none inside it", async function () {
      const device = deviceSigner();
      const directory = new FakeDirectory();
      directory.range = { min: -40n, max: 85n };
      const outside = await reading(device, 2n, 200n);
      const submitter = new FakeSubmitter();
      const w = watchtower({
        source: fromArray([
          await reading(device, 1n, 85n),
          await reading(device, 3n, -40n),
          outside,
          outside,
        ]),
        directory,
        submitter,
        dbPath: ":memory:",
      });
      await w.start();
      await w.drained();
      assert.deepEqual(
        submitter.calls.map((c) => c.kind),
        ["out-of-bounds"],
      );
      assert.deepEqual(submitter.calls[0]?.evidence, [outside]);
      assert.equal(sample(await w.metrics.text(), "watchtower_out_of_bounds_total"), 1);
      // The range is cached: one lookup for the three new readings.
      assert.equal(directory.rangeLookups, 1);
      await w.stop();
    });

    it("checks nothing when no range was declared", async function () {
      const device = deviceSigner();
      const submitter = new FakeSubmitter();
      const w = watchtower({
        source: fromArray([await reading(device, 1n, 10n ** 30n)]),
        directory: new FakeDirectory(),
        submitter,
        dbPath: ":memory:",
      });
      await w.start();
      await w.drained();
      assert.equal(submitter.calls.length, 0);
      await w.stop();
    });
  });

  describe("verification", function () {
    it("drops and counts invalid signatures and keys of other devices", async function () {
      const device = deviceSigner();
      const other = deviceSigner();
      const good = await reading(device, 1n, 1n);
      const tampered = { ...good, reading: { ...good.reading, value: 2n } };
      const forged = await reading(other, 1n, 3n);
      const stolenId = { ...forged, reading: { ...forged.reading, deviceId: device.deviceId } };
      const badSig = { ...good, signature: `0x${"11".repeat(64)}` as const };
      const submitter = new FakeSubmitter();
      const { logger, lines } = memoryLogger();
      const w = watchtower({
        source: fromArray([tampered, stolenId, badSig, good]),
        directory: new FakeDirectory(),
        submitter,
        dbPath: ":memory:",
        logger,
      });
      await w.start();
      await w.drained();
      assert.equal(submitter.calls.length, 0);
      assert.equal(w.evidence.readingCount(), 1);
      const text = await w.metrics.text();
      // A tampered reading and a reading re-labelled with another device id fail the signature check.
      assert.equal(sample(text, 'watchtower_messages_total{result="invalid_signature"}'), 3);
      assert.equal(sample(text, 'watchtower_messages_total{result="stored"}'), 1);
      const dropped = lines.filter((l) => l.result === "invalid_signature");
      assert.equal(dropped.length, 3);
      assert.equal(dropped[0]?.deviceId, device.deviceId);
      await w.stop();
    });

    it("logs the first few dropped messages per result and interval, then one summary; the metrics count all", async function () {
      const device = deviceSigner();
      const good = await reading(device, 1n, 1n);
      const tampered = Array.from({ length: 20 }, (_, i) => ({
        ...good,
        reading: { ...good.reading, value: BigInt(100 + i) },
      }));
      const { logger, lines } = memoryLogger();
      const w = watchtower({
        source: fromArray([...tampered, good]),
        directory: new FakeDirectory(),
        submitter: new FakeSubmitter(),
        dbPath: ":memory:",
        logger,
        messageLog: { burst: 2, intervalMs: 60_000 },
      });
      await w.start();
      await w.drained();
      const text = await w.metrics.text();
      assert.equal(sample(text, 'watchtower_messages_total{result="invalid_signature"}'), 20);
      const detailed = lines.filter(
        (l) => l.event === "message" && l.result === "invalid_signature",
      );
      assert.equal(detailed.length, 2);
      assert.equal(detailed[1]?.sequence, "1");
      // The interval is still open: its summary is written when the watchtower stops.
      const summaries = () => lines.filter((l) => l.event === "message_suppressed");
      assert.deepEqual(summaries(), []);
      await w.stop();
      assert.deepEqual(
        summaries().map((l) => [l.result, l.suppressed]),
        [["invalid_signature", 18]],
      );
    });

    it("drops a validly signed reading whose key the registry does not give to its device", async function () {
      const device = deviceSigner();
      const other = deviceSigner();
      // Another device's key signs readings that name `device`: a valid signature, a wrong key.
      const impostor = new DeviceSigner(other.keyStore, other.domain, device.deviceId);
      const w = watchtower({
        source: fromArray([await reading(impostor, 1n, 1n)]),
        directory: new FakeDirectory(),
        submitter: new FakeSubmitter(),
        dbPath: ":memory:",
      });
      await w.start();
      await w.drained();
      const text = await w.metrics.text();
      assert.equal(sample(text, 'watchtower_messages_total{result="wrong_device"}'), 1);
      assert.equal(w.evidence.readingCount(), 0);
      await w.stop();
    });
  });

  describe("HTTP", function () {
    it("serves /health (200, then 503 when the chain is unreachable) and /metrics", async function () {
      const directory = new FakeDirectory();
      const device = deviceSigner();
      const w = watchtower({
        source: fromArray([await reading(device, 1n, 1n)]),
        directory,
        submitter: new FakeSubmitter(),
        dbPath: ":memory:",
        http: { port: 0 },
      });
      const address = await w.start();
      assert.ok(address !== null);
      await w.drained();
      const base = `http://127.0.0.1:${String(address.port)}`;
      const ok = await fetch(`${base}/health`);
      assert.equal(ok.status, 200);
      const body = (await ok.json()) as Record<string, unknown>;
      assert.equal(body.status, "ok");
      assert.equal(body.readings, 1);
      assert.equal(body.running, true);

      directory.reachable = false;
      const down = await fetch(`${base}/health`);
      assert.equal(down.status, 503);
      const downBody = (await down.json()) as { chain: { ok: boolean; error: string } };
      assert.equal(downBody.chain.ok, false);
      assert.match(downBody.chain.error, /connection refused/);

      const metrics = await fetch(`${base}/metrics`);
      assert.equal(metrics.status, 200);
      const text = await metrics.text();
      assert.match(text, /# TYPE watchtower_messages_total counter/);
      assert.equal(sample(text, 'watchtower_messages_total{result="stored"}'), 1);
      assert.ok((sample(text, "watchtower_last_message_timestamp") ?? 0) > 1_700_000_000);
      assert.equal((await fetch(`${base}/nope`)).status, 404);
      await w.stop();
    });

    it("answers 503 when the store fails", async function () {
      const w = watchtower({
        source: new QueueSource(),
        directory: new FakeDirectory(),
        submitter: new FakeSubmitter(),
        dbPath: ":memory:",
      });
      await w.start();
      w.evidence.close();
      const report = await w.health();
      assert.equal(report.status, "unavailable");
      assert.equal(report.store.ok, false);
      await w.stop();
    });
  });

  describe("stop", function () {
    it("stops intake on a never-ending source, finishes the in-flight submission, closes store and server", async function () {
      const dbPath = await tempDb();
      const device = deviceSigner();
      const source = new QueueSource();
      const submitter = new FakeSubmitter();
      let release: () => void = () => undefined;
      const succeed = submitter.behaviour;
      submitter.behaviour = (call) =>
        new Promise((resolve) => {
          release = () => {
            resolve(succeed(call));
          };
        });
      const w = watchtower({
        source,
        directory: new FakeDirectory(),
        submitter,
        dbPath,
        http: { port: 0 },
      });
      const address = await w.start();
      assert.ok(address !== null);
      source.push(await reading(device, 1n, 1n), await reading(device, 1n, 2n));
      while (submitter.calls.length === 0) await new Promise((r) => setTimeout(r, 5));

      let stopped = false;
      const stopping = w.stop().then(() => {
        stopped = true;
      });
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(stopped, false, "stop() waits for the submission in flight");
      release();
      await stopping;
      // Messages pushed after stop are not taken.
      source.push(await reading(device, 2n, 1n));
      await assert.rejects(fetch(`http://127.0.0.1:${String(address.port)}/health`));
      assert.equal(w.evidence.isOpen, false);

      const store = new EvidenceStore(dbPath);
      assert.equal(store.proofs()[0]?.status, "submitted");
      assert.equal(store.readingCount(), 1);
      store.close();
    });
  });

  describe("EvidenceStore", function () {
    it("keeps the first reading of a slot with its struct hash", async function () {
      const dbPath = await tempDb();
      const device = deviceSigner();
      const a = await reading(device, 1n, 1n);
      const b = await reading(device, 1n, 2n);
      const store = new EvidenceStore(dbPath);
      assert.equal(store.putFirst(a, structHash("Reading", a.reading), 1).inserted, true);
      const again = store.putFirst(b, structHash("Reading", b.reading), 2);
      assert.equal(again.inserted, false);
      assert.deepEqual(again.first.signed, a);
      store.close();
      const db = new DatabaseSync(dbPath);
      const row = db.prepare("SELECT sequence, value FROM readings").get();
      assert.deepEqual({ ...row }, { sequence: "1", value: "1" });
      db.close();
    });
  });
});
