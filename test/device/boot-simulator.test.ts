import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BootSimulator, BootStateError, NotBootedError } from "../../src/device/boot-simulator.js";
import { DeviceSigner } from "../../src/device/device-signer.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { Pkcs11KeyStore } from "../../src/device/pkcs11-key-store.js";
import { createSoftHsmToken, type SoftHsmToken } from "../../src/device/softhsm-token.js";
import type { KeyStore } from "../../src/device/key-store.js";
import {
  InvalidInputError,
  deviceIdOf,
  keyHash,
  measureImages,
  toHex,
  type Curve,
  type Domain,
} from "../../src/protocol/index.js";
import { appraise, type FirmwareReference } from "../../src/verify/appraise.js";
import { verifySignedMessage } from "../../src/verify/message.js";
import { requireSoftHsm } from "./helpers/softhsm.js";

const DOMAIN: Domain = {
  chainId: 31337n,
  verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
};
const CURVES: readonly Curve[] = ["p256", "secp256k1"];
const CONTENTS = [
  Buffer.from("bootloader v1"),
  Buffer.from("kernel v1"),
  Buffer.from("meter app v1"),
];

async function writeImages(dir: string): Promise<string[]> {
  const names = ["boot.bin", "kernel.img", "app.bin"];
  const paths = names.map((n) => join(dir, n));
  for (const [i, p] of paths.entries()) await writeFile(p, CONTENTS[i] ?? "");
  return paths;
}

/** Boots twice, checks the counter persisted, and appraises the signed evidence with src/verify. */
async function bootAndVerify(store: KeyStore, dir: string): Promise<void> {
  const images = await writeImages(dir);
  const stateFile = join(dir, `state-${store.curve}.json`);
  const signer = new DeviceSigner(store, DOMAIN);
  const sim = new BootSimulator({ signer, images, stateFile });
  assert.equal(await sim.bootCount(), 0n);
  await assert.rejects(sim.attest(toHex(randomBytes(32)), 1n), NotBootedError);

  const first = await sim.boot();
  assert.equal(first.bootCount, 1n);
  assert.equal(first.measurement, measureImages(CONTENTS).measurement);
  const challenge = toHex(randomBytes(32));
  const now = 1_700_000_000n;
  const evidence = await sim.attest(challenge, now);
  assert.deepEqual(evidence.message, {
    deviceId: deviceIdOf(store.deviceKey),
    measurement: first.measurement,
    challenge,
    timestamp: now,
    bootCount: 1n,
  });
  assert.equal(verifySignedMessage(DOMAIN, evidence), "valid");

  const reference: FirmwareReference = {
    firmwareId: 1,
    maker: 1,
    model: 7,
    status: "Good",
    sunset: 0n,
    revokedAt: 0n,
    measurement: first.measurement,
  };
  const appraisal = appraise({
    domain: DOMAIN,
    device: {
      deviceId: signer.deviceId,
      status: 1,
      maker: 1,
      model: 7,
      keyHash: keyHash(store.deviceKey),
    },
    evidence,
    firmware: [reference],
    now: now + 5n,
    maxAge: 60n,
    expectedChallenge: challenge,
  });
  assert.equal(appraisal.verdict, "Trusted", appraisal.reason);
  assert.equal(appraisal.signature, "valid");

  // A second simulator over the same state file (a reboot of the process) continues the count.
  const again = await new BootSimulator({ signer, images, stateFile }).boot();
  assert.equal(again.bootCount, 2n);
  const state = JSON.parse(await readFile(stateFile, "utf8")) as { bootCount: string };
  assert.equal(state.bootCount, "2");
}

describe("BootSimulator", function () {
  let dir: string;
  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), "devicetrust-bootsim-"));
  });
  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  for (const curve of CURVES) {
    it(`boots, persists an increasing counter and signs evidence that verifies (software ${curve})`, async function () {
      const store = SoftwareKeyStore.generate(curve);
      try {
        await bootAndVerify(store, dir);
      } finally {
        await store.close();
      }
    });
  }

  it("measures the images as they are at each boot: a patched kernel changes the measurement", async function () {
    const images = await writeImages(dir);
    const sim = new BootSimulator({
      signer: new DeviceSigner(SoftwareKeyStore.generate("p256"), DOMAIN),
      images,
      stateFile: join(dir, "state.json"),
    });
    const before = await sim.boot();
    await writeFile(images[1] ?? "", "kernel v1 with a backdoor");
    const after = await sim.boot();
    assert.notEqual(after.measurement, before.measurement);
    assert.equal(after.bootCount, 2n);
    assert.equal(
      after.imageDigests[1],
      `0x${createHash("sha256").update("kernel v1 with a backdoor").digest("hex")}`,
    );
    assert.equal(sim.current?.measurement, after.measurement);
  });

  it("refuses a corrupt state file or another device's, rather than restarting the counter", async function () {
    const images = await writeImages(dir);
    const stateFile = join(dir, "state.json");
    const a = new BootSimulator({
      signer: new DeviceSigner(SoftwareKeyStore.generate("p256"), DOMAIN),
      images,
      stateFile,
    });
    await a.boot();
    const b = new BootSimulator({
      signer: new DeviceSigner(SoftwareKeyStore.generate("p256"), DOMAIN),
      images,
      stateFile,
    });
    await assert.rejects(b.boot(), (err: unknown) => {
      assert.ok(err instanceof BootStateError);
      assert.match(err.message, /belongs to device 0x[0-9a-f]{64}, not 0x[0-9a-f]{64}/);
      return true;
    });
    await writeFile(stateFile, "{ not json");
    await assert.rejects(a.boot(), /is corrupt: restore it/);
    await writeFile(stateFile, JSON.stringify({ kind: "devicetrust-boot-state", version: 1 }));
    await assert.rejects(a.boot(), /is not a DeviceTrust boot state/);
  });

  it("needs at least one image", function () {
    assert.throws(
      () =>
        new BootSimulator({
          signer: new DeviceSigner(SoftwareKeyStore.generate("p256"), DOMAIN),
          images: [],
          stateFile: join(dir, "s.json"),
        }),
      InvalidInputError,
    );
  });

  describe("with a PKCS#11 key (SoftHSM2)", function () {
    let token: SoftHsmToken;
    before(async function () {
      requireSoftHsm(this);
      token = await createSoftHsmToken({ label: "devicetrust-boot" });
    });
    after(async function () {
      if ((token as SoftHsmToken | undefined) !== undefined) await token.cleanup();
    });

    for (const curve of CURVES) {
      it(`signs evidence of the boot with the token's key (${curve})`, async function () {
        const store = await Pkcs11KeyStore.generate({
          module: token.modulePath,
          tokenLabel: token.tokenLabel,
          pin: token.pin,
          label: `boot-${curve}`,
          curve,
        });
        try {
          await bootAndVerify(store, dir);
        } finally {
          await store.close();
        }
      });
    }
  });
});
