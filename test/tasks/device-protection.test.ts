import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { DeviceSigner } from "../../src/device/device-signer.js";
import { SigningRecord } from "../../src/device/signing-record.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import type { Domain, Hex } from "../../src/protocol/index.js";
import { tempDir } from "../client/fixture.js";
import { runTask } from "./run-task.js";

const DOMAIN: Domain = {
  chainId: 31337n,
  verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
};
const FEED: Hex = `0x${"fe".repeat(32)}`;

describe("tasks: device protection export, device protection import", function () {
  let dir: string;
  let cleanup: () => Promise<void>;

  beforeEach(async function () {
    ({ dir, cleanup } = await tempDir());
  });
  afterEach(async function () {
    await cleanup();
  });

  /** A record on disk in which the device signed readings 1..3 of FEED, of `value` + their sequence. */
  async function signedRecord(path: string, store = SoftwareKeyStore.generate("p256"), value = 0n) {
    const signer = new DeviceSigner(store, DOMAIN);
    const record = SigningRecord.open(path, signer);
    const device = new DeviceSigner(store, DOMAIN, undefined, record);
    for (let s = 1n; s <= 3n; s++) {
      await device.signReading({ feedId: FEED, sequence: s, timestamp: s, value: value + s });
    }
    record.close();
    return { store, deviceId: signer.deviceId };
  }

  it("moves a record to new hardware: export writes the interchange, import creates the record from it", async function () {
    const old = join(dir, "old.sqlite");
    const { deviceId } = await signedRecord(old);
    const file = join(dir, "record.json");
    const exported = await runTask(["device", "protection", "export"], {
      record: old,
      file,
      json: false,
    });
    assert.equal(exported.result.success, true, exported.stderr);
    assert.match(exported.stdout, new RegExp(`deviceId: +${deviceId}`));
    assert.match(exported.stdout, /^feeds\[0\]\.nextSequence: +4$/m);
    const interchange = JSON.parse(await readFile(file, "utf8")) as {
      kind: string;
      version: number;
      metadata: { chainId: string; deviceId: string };
    };
    assert.deepEqual(
      [interchange.kind, interchange.version, interchange.metadata.chainId],
      ["devicetrust-signing-record", 1, "31337"],
    );

    const moved = join(dir, "new", "record.sqlite");
    const imported = await runTask(["device", "protection", "import"], {
      record: moved,
      file,
      json: true,
    });
    assert.equal(imported.result.success, true, imported.stderr);
    const out = JSON.parse(imported.stdout) as {
      deviceId: string;
      imported: { readings: number; batches: number };
      feeds: { feedId: string; highWater: string; nextSequence: string }[];
    };
    assert.equal(out.deviceId, deviceId);
    assert.deepEqual(out.imported, { readings: 3, batches: 0, attestation: false });
    assert.deepEqual(out.feeds[0]?.nextSequence, "4");
    const record = SigningRecord.open(moved);
    try {
      assert.equal(record.nextSequence(FEED), 4n);
    } finally {
      record.close();
    }
  });

  it("refuses a conflicting import with a sentence, and a missing --record or --file", async function () {
    const mine = join(dir, "mine.sqlite");
    const { store } = await signedRecord(mine);
    // The same key signed other readings elsewhere (a clone, or a restored old disk).
    const theirs = join(dir, "theirs.sqlite");
    await signedRecord(
      theirs,
      SoftwareKeyStore.fromPrivateKey("p256", store.exportPrivateKey()),
      100n,
    );
    const file = join(dir, "theirs.json");
    const exported = await runTask(["device", "protection", "export"], {
      record: theirs,
      file,
      json: true,
    });
    assert.equal(exported.result.success, true, exported.stderr);
    const refused = await runTask(["device", "protection", "import"], {
      record: mine,
      file,
      json: true,
    });
    assert.equal(refused.result.success, false);
    assert.match(
      refused.stderr,
      /Error SIGNING_RECORD_IMPORT_CONFLICT: cannot import into .*mine\.sqlite: the two records disagree/,
    );
    assert.equal(
      (JSON.parse(refused.stdout) as { error: { code: string } }).error.code,
      "SIGNING_RECORD_IMPORT_CONFLICT",
    );
    const noRecord = await runTask(["device", "protection", "export"], {
      record: "",
      file,
      json: false,
    });
    assert.match(noRecord.stderr, /Error INVALID_INPUT: --record is required/);
    const noFile = await runTask(["device", "protection", "import"], {
      record: mine,
      file: "",
      json: false,
    });
    assert.match(noFile.stderr, /Error INVALID_INPUT: --file is required/);
    const missing = await runTask(["device", "protection", "export"], {
      record: join(dir, "missing.sqlite"),
      file,
      json: false,
    });
    assert.match(missing.stderr, /Error SIGNING_RECORD: no signing record at .*missing\.sqlite/);
  });
});
