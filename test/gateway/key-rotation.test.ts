import assert from "node:assert/strict";
import { pino } from "pino";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { DeviceSigner } from "../../src/device/device-signer.js";
import { feedAt, registryAt, rotateKey } from "../../src/client/index.js";
import {
  ChainSubmitter,
  DevicePublisher,
  WatchtowerLink,
  startEmbeddedBroker,
  type ReadingSubmitter,
} from "../../src/gateway/index.js";
import { digest, keyHash, type SignedReading } from "../../src/protocol/index.js";
import { chainDirectory } from "../../src/watchtower/index.js";
import { ethers, networkHelpers } from "../client/fixture.js";
import { chainTime, deployFeedSystem, type FeedSystem } from "../client/feed-fixture.js";
import { FakeSubmitter, sample, tempDb, watchtower } from "../watchtower/helpers.js";
import { gateway, waitFor } from "./helpers.js";

const quiet = pino({ level: "silent" });

async function system(): Promise<FeedSystem> {
  return deployFeedSystem(ethers);
}

async function signed(
  signer: DeviceSigner,
  feedId: FeedSystem["feedId"],
  sequence: bigint,
  value: bigint,
): Promise<SignedReading> {
  const timestamp = await chainTime(ethers);
  const s = await signer.signReading({ feedId, sequence, timestamp, value });
  return { reading: s.message, key: s.key, signature: s.signature };
}

describe("Gateway and key rotation (on chain)", function () {
  it("submits the reading of the device's new key; the rotated-out key's reading of the same sequence, arriving first, takes nothing and goes to the watchtower, which keeps it as evidence of the old key and proves nothing with it", async function () {
    this.timeout(60_000);
    const s = await networkHelpers.loadFixture(system);
    const [device] = s.devices;
    assert.ok(device !== undefined);
    const directory = chainDirectory(s.registryAddress, s.proofsAddress, s.watcher);
    const chain = new ChainSubmitter({
      signer: s.watcher,
      anchor: s.anchorAddress,
      logger: quiet,
      pollMs: 10,
    });
    // What the gateway sends, and what the feed made of it.
    const sent: SignedReading[] = [];
    const onChain: { accepted: number; rejected: number }[] = [];
    const submitter: ReadingSubmitter = {
      async submitReadings(readings) {
        sent.push(...readings);
        const result = await chain.submitReadings(readings);
        onChain.push({ accepted: result.accepted, rejected: result.rejected.length });
        return result;
      },
      anchorBatch: (batch) => chain.anchorBatch(batch),
    };
    const link = new WatchtowerLink();
    const proofs = new FakeSubmitter();
    const tower = watchtower({
      domain: s.domain,
      source: link,
      directory,
      submitter: proofs,
      dbPath: await tempDb(),
    });
    await tower.start();
    const broker = await startEmbeddedBroker({ port: 0 });
    const g = gateway({
      brokerUrl: broker.url,
      dbPath: await tempDb(),
      submitter,
      directory,
      domain: s.domain,
      sink: link.sink,
      batchSize: 1,
      // Readings are dated by the chain, whose clock the tests move ahead of this machine's.
      maxClockSkewMs: 30 * 86_400_000,
    });
    const pub = await DevicePublisher.connect(broker.url);
    const nextStore = SoftwareKeyStore.generate("secp256k1");
    try {
      await g.start();
      const feed = feedAt(s.feedAddress, s.watcher);

      // Sequence 1 by the device's first key: the gateway now holds that key as current.
      await pub.publish(await signed(device.signer, s.feedId, 1n, 2_000n * 10n ** 8n));
      await waitFor(() => g.readings.counts().submitted === 1, "sequence 1 submitted");
      assert.equal(await feed.sequenceOf(device.deviceId), 1n);

      // The operator rotates the key (say it leaked): the gateway hears the KeyRotated event.
      await rotateKey({
        registry: registryAt(s.registryAddress, s.operator),
        current: device.store,
        next: nextStore,
        deadline: (await chainTime(ethers)) + 600n,
      });
      const text = async (): Promise<string> => g.metrics.text();
      const rotations = async (): Promise<number> =>
        sample(await text(), "gateway_key_rotations_total") ?? 0;
      for (const end = Date.now() + 10_000; (await rotations()) < 1;) {
        assert.ok(Date.now() < end, "the gateway did not hear the KeyRotated event");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await networkHelpers.time.increase(60); // past the feed's minimum interval

      // Sequence 2: the old key's reading arrives first, the device's real one second.
      const next = new DeviceSigner(nextStore, s.domain, device.deviceId);
      const old = await signed(device.signer, s.feedId, 2n, 9_999n * 10n ** 8n);
      const real = await signed(next, s.feedId, 2n, 2_001n * 10n ** 8n);
      await pub.publish(old);
      await pub.publish(real);
      await waitFor(
        () => g.readings.counts().submitted === 2 && g.queued === 0,
        "the real sequence 2 submitted",
      );

      // The real one was submitted and the feed took it; the old one was never sent or stored.
      assert.deepEqual(
        sent.map((r) => [r.reading.sequence, keyHash(r.key)]),
        [
          [1n, keyHash(device.store.deviceKey)],
          [2n, keyHash(nextStore.deviceKey)],
        ],
      );
      assert.deepEqual(onChain, [
        { accepted: 1, rejected: 0 },
        { accepted: 1, rejected: 0 },
      ]);
      assert.equal(await feed.sequenceOf(device.deviceId), 2n);
      assert.deepEqual(g.readings.counts(), { pending: 0, submitted: 2, rejected: 0 });
      const metrics = await text();
      assert.equal(sample(metrics, 'gateway_rejected_total{reason="old_key"}'), 1);
      assert.equal(sample(metrics, 'gateway_rejected_total{reason="conflict"}'), undefined);

      // The chain agrees: the feed's check refuses the old key; the key is still one the device held,
      // but the old reading is dated after the rotation retired it, so FraudProofs would refuse it
      // (ProofsKeyRetired): whoever holds the old key cannot get the device slashed with it.
      const registry = registryAt(s.registryAddress, s.watcher);
      const oldDigest = digest(s.domain, "Reading", old.reading);
      const oldKey = { keyType: old.key.keyType, key: old.key.key };
      assert.equal(
        await registry.isValidDeviceSignature(device.deviceId, oldDigest, oldKey, old.signature),
        false,
      );
      assert.equal(
        await registry.isDeviceKeySignature(device.deviceId, oldDigest, oldKey, old.signature),
        true,
      );
      const retiredAt = await registry.keyRetiredAt(keyHash(device.store.deviceKey));
      assert.ok(retiredAt > 0n && retiredAt <= old.reading.timestamp, "retired before the reading");
    } finally {
      await pub.close();
      await g.stop();
      await broker.close();
      link.end();
      await tower.drained();
    }

    try {
      // The watchtower kept the old-key reading aside (its key was rotated out before its timestamp:
      // no proof applies) and holds the real one as the first of its slot: nothing to prove.
      const first = tower.evidence.reading(device.deviceId, s.feedId, 2n);
      assert.ok(first !== undefined);
      assert.equal(keyHash(first.signed.key), keyHash(nextStore.deviceKey));
      assert.deepEqual(proofs.calls, []);
      const kept = tower.evidence.retiredKeyMessages();
      assert.equal(kept.length, 1);
      assert.equal(kept[0]?.keyHash, keyHash(device.store.deviceKey));
      const message = kept[0].message;
      assert.ok("reading" in message);
      assert.equal(message.reading.sequence, 2n);
      assert.equal(message.reading.value, 9_999n * 10n ** 8n);
    } finally {
      await tower.stop();
    }
  });
});
