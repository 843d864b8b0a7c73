import assert from "node:assert/strict";
import type { Hex } from "../../src/protocol/index.js";
import {
  FakeDirectory,
  FakeSubmitter,
  QueueSource,
  deviceSigner,
  reading,
  sample,
  tempDb,
  watchtower,
} from "./helpers.js";

/** A registry that knows only the devices in `registered`, counting the model lookups. */
class SparseDirectory extends FakeDirectory {
  readonly registered = new Set<Hex>();
  modelLookups = 0;
  private readonly listeners = new Set<(deviceId: Hex) => void>();

  override deviceModel(deviceId?: Hex): Promise<{ maker: number; model: number }> {
    this.modelLookups++;
    const known = deviceId !== undefined && this.registered.has(deviceId.toLowerCase() as Hex);
    return Promise.resolve(known ? { maker: 1, model: 7 } : { maker: 0, model: 0 });
  }
  watchRegistrations(listener: (deviceId: Hex) => void): Promise<() => Promise<void>> {
    this.listeners.add(listener);
    return Promise.resolve(() => {
      this.listeners.delete(listener);
      return Promise.resolve();
    });
  }
  register(deviceId: Hex): void {
    this.registered.add(deviceId.toLowerCase() as Hex);
    for (const l of this.listeners) l(deviceId);
  }
}

describe("Watchtower and devices the registry does not know", function () {
  it("stores nothing of an unregistered device, asks about it once per negative-cache period, and counts it again at once after DeviceRegistered", async function () {
    const directory = new SparseDirectory();
    const known = deviceSigner("p256");
    const stranger = deviceSigner("secp256k1");
    directory.registered.add(known.deviceId);
    const dbPath = await tempDb();
    const w = watchtower({
      source: new QueueSource(),
      directory,
      submitter: new FakeSubmitter(),
      dbPath,
    });
    await w.start();
    try {
      for (let i = 1n; i <= 100n; i++) await w.handle(await reading(stranger, i, 20n));
      await w.handle(await reading(known, 1n, 20n));
      assert.equal(w.evidence.readingCount(), 1, "only the registered device's reading is kept");
      // One lookup for the stranger (then the negative cache), one for the known device.
      assert.equal(directory.modelLookups, 2);
      const text = await w.metrics.text();
      assert.equal(sample(text, 'watchtower_messages_total{result="unknown_device"}'), 100);
      directory.register(stranger.deviceId);
      await w.handle(await reading(stranger, 101n, 20n));
      assert.equal(w.evidence.readingCount(), 2, "registered now: its messages are evidence");
    } finally {
      await w.stop();
    }
  });
});
