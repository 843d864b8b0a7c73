import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { id } from "ethers";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { buildPsaToken } from "../../src/device/psa-token.js";
import { publishFirmware, registryAt } from "../../src/client/index.js";
import { psaInstanceId, sha256Hex, toHex, type Hex } from "../../src/protocol/index.js";
import { TEST_SCRYPT, tempDir } from "../client/fixture.js";
import { runTask } from "./run-task.js";
import { taskRegistry } from "./task-chain.js";

const IMAGES = ["bootloader 3.1.0", "tf-m 2.1.0", "app 1.4.2"].map((s) => Buffer.from(s));
const bytes32 = (byte: string): Hex => `0x${byte.repeat(32)}`;

/**
 * `device challenge` then `device attest --psa-token`: the operator issues a nonce, the device (here
 * buildPsaToken over its key store) signs a PSA token over it, the operator relays the token file.
 */
describe("tasks: device challenge, device attest --psa-token", function () {
  let registry: string;
  let appraiser: string;
  let dir: string;
  let cleanup: () => Promise<void>;
  let keyFile: string;
  let store: SoftwareKeyStore;
  let deviceId: Hex;

  before(async function () {
    const chain = await taskRegistry("Acme MCUs");
    registry = chain.registry;
    appraiser = await chain.deployWithRole("PsaAttestation", id("APPRAISER_ROLE"));
    ({ dir, cleanup } = await tempDir());
    store = SoftwareKeyStore.generate("p256");
    keyFile = join(dir, "device.json");
    await store.save(keyFile, "pw", TEST_SCRYPT);
    deviceId = await chain.registerEndorsed(store, 21);
    await publishFirmware({
      registry: registryAt(registry, chain.maker),
      model: 21,
      version: "2.1.0",
      images: IMAGES,
    });
  });

  after(async function () {
    await store.close();
    await cleanup();
  });

  const chain = (json: boolean) => ({ registry, from: "2", json });
  const attestArgs = (psaToken: string, psaAttestation: string) => ({
    ...chain(true),
    keyFile,
    password: "pw",
    module: "",
    token: "",
    pin: "",
    label: "",
    deviceId: "",
    images: "",
    bootState: "",
    challenge: "block",
    tpm: "",
    tpmAttestation: "",
    psaToken,
    psaAttestation,
  });

  /** The device's token over `nonce`, written to a file (hex when `asHex`). */
  async function tokenFile(nonce: Hex, name: string, asHex: boolean): Promise<string> {
    const token = await buildPsaToken(
      {
        nonce,
        instanceId: psaInstanceId(store.publicKey),
        clientId: -1,
        securityLifecycle: 0x3000,
        implementationId: bytes32("07"),
        softwareComponents: IMAGES.map((image, i) => ({
          measurementType: `stage${String(i)}`,
          measurementValue: sha256Hex(image),
          signerId: bytes32("51"),
        })),
      },
      store,
    );
    const file = join(dir, name);
    await writeFile(file, asHex ? toHex(token) : token);
    return file;
  }

  it("relays a token the device signed over the issued nonce: the device is trusted", async function () {
    const issued = await runTask(["device", "challenge"], { ...chain(true), deviceId });
    assert.equal(issued.result.success, true, issued.stderr);
    const { challenge } = JSON.parse(issued.stdout) as { challenge: Hex };
    const file = await tokenFile(challenge, "token.cbor", false);
    const attest = await runTask(["device", "attest"], attestArgs(file, appraiser));
    assert.equal(attest.result.success, true, attest.stderr);
    const out = JSON.parse(attest.stdout) as { deviceId: string; firmwareId: number };
    assert.equal(out.deviceId, deviceId);
    assert.equal(out.firmwareId, 1);
    assert.match(attest.stderr, /appraising the PSA token \(\d+ bytes\) against the pending nonce/);
    const trust = await runTask(["device", "trust"], {
      ...chain(false),
      deviceId,
      maxAge: 3600,
    });
    assert.match(trust.stdout, /^verdict: +Trusted$/m);
  });

  it("says what to do when no nonce is pending, and refuses a token over another nonce", async function () {
    const stale = await tokenFile(bytes32("ab"), "stale.hex", true);
    const none = await runTask(["device", "attest"], attestArgs(stale, appraiser));
    assert.equal(none.result.success, false);
    assert.match(none.stderr, /has no pending nonce: issue one \(npx hardhat device challenge\)/);
    await runTask(["device", "challenge"], { ...chain(true), deviceId });
    const wrong = await runTask(["device", "attest"], attestArgs(stale, appraiser));
    assert.equal(wrong.result.success, false);
    assert.match(wrong.stderr, /WrongNonce/);
  });
});
