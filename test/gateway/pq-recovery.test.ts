import assert from "node:assert/strict";
import { appendFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { runGateway, type RunningGateway } from "../../src/app/index.js";
import {
  applyRecoveryRequest,
  commitPqKey,
  lmsPqSigner,
  makerEndorse,
  mlDsa44PqSigner,
  pqCommitmentOf,
  pqKeyRecoveryAt,
  prepareKeyRecovery,
  registerDevice,
  registryAt,
  type PqKeyRecovery,
  type PqSigner,
} from "../../src/client/index.js";
import { LmsStatefulSigner } from "../../src/device/lms-signer.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import {
  DevicePublisher,
  RecoveryRecords,
  type Gateway,
  type PendingRecovery,
  type RecoveryRecord,
} from "../../src/gateway/index.js";
import {
  deviceIdOf,
  generateMlDsa44KeyPair,
  keyHash,
  lmotsByName,
  lmsByName,
  parseReadingTopic,
  parseRecoveryTopic,
  parseTopic,
  recoveryTopic,
  toHex,
  type Hex,
} from "../../src/protocol/index.js";
import {
  parsePqRecoveryRequest,
  pqRecoveryRequestToJson,
  type PqRecoveryRequest,
} from "../../src/verify/pq.js";
import { TEST_SCRYPT, ethers, networkHelpers } from "../client/fixture.js";
import {
  FEED_MODEL,
  chainTime,
  deployFeedSystem,
  type FeedSystem,
} from "../client/feed-fixture.js";
import { waitFor } from "./helpers.js";
import { MosquittoProcess, freePort, requireMosquitto } from "./mosquitto-broker.js";

/** A feed system without devices, with PqKeyRecovery deployed and holding the registry's KEY_RECOVERY_ROLE. */
async function recoverySystem(): Promise<FeedSystem & { readonly recoveryAddress: Hex }> {
  const s = await deployFeedSystem(ethers, { devices: 0 });
  const deployed = await ethers.deployContract("PqKeyRecovery", [s.registryAddress]);
  const recoveryAddress = (await deployed.getAddress()).toLowerCase() as Hex;
  const asGovernance = registryAt(s.registryAddress, s.governance);
  await (
    await asGovernance.grantRole(await asGovernance.KEY_RECOVERY_ROLE(), recoveryAddress)
  ).wait();
  return { ...s, recoveryAddress };
}

type System = Awaited<ReturnType<typeof recoverySystem>>;

/** recovery_requests_total{scheme,result} of `gateway` now. */
async function requests(gateway: Gateway, scheme: string, result: string): Promise<number> {
  const { values } = await gateway.metrics.recoveryRequests.get();
  return values.find((v) => v.labels.scheme === scheme && v.labels.result === result)?.value ?? 0;
}

/** `counter`{reason} of `gateway` now (recovery_rejected_total or recovery_refused_total). */
async function byReason(
  gateway: Gateway,
  counter: "recoveryRejected" | "recoveryRefused",
  reason: string,
): Promise<number> {
  const { values } = await gateway.metrics[counter].get();
  return values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

/** The record file's lines. */
async function recordsAt(path: string): Promise<RecoveryRecord[]> {
  const text = await readFile(path, "utf8");
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as RecoveryRecord);
}

/**
 * The gateway's post-quantum recovery intake end to end: devices publish recovery requests over a real
 * Mosquitto, a gateway started by runGateway with --pq-key-recovery verifies them against the in-process
 * chain, carries LMS ones out from its own account, records ML-DSA-44 ones for governance, and drops or
 * counts as refused everything else, never reporting a refusal as a success.
 */
describe("Gateway post-quantum recovery intake", function () {
  this.timeout(120_000);
  let mosquitto: MosquittoProcess | undefined;
  let dir = "";
  let running: RunningGateway | undefined;
  let publisher: DevicePublisher | undefined;
  const lmsKeys: LmsStatefulSigner[] = [];
  let runs = 0;

  before(async function () {
    requireMosquitto(this);
    dir = await mkdtemp(join(tmpdir(), "devicetrust-pq-gateway-"));
    const port = await freePort();
    mosquitto = await MosquittoProcess.start(
      dir,
      port,
      `listener ${String(port)} 127.0.0.1\nallow_anonymous true\npersistence false\n`,
    );
  });

  afterEach(async function () {
    await publisher?.close();
    publisher = undefined;
    await running?.stop();
    running = undefined;
  });

  after(async function () {
    for (const key of lmsKeys) key.close();
    await mosquitto?.kill("SIGTERM");
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  /** A gateway on `s` sending from the watcher account, its recovery intake on unless `off`. */
  async function start(
    s: System,
    options: {
      readonly off?: boolean;
      readonly dbPath?: string;
      readonly rate?: { perSecond: number; burst: number };
    } = {},
  ) {
    runs++;
    const dbPath = options.dbPath ?? join(dir, `gateway-${String(runs)}.sqlite`);
    running = await runGateway({
      registry: s.registryAddress,
      proofs: s.proofsAddress,
      signer: s.watcher,
      brokerUrl: mosquitto?.url ?? "",
      clientId: `pq-gateway-${String(runs)}`,
      dbPath,
      httpPort: 0,
      logger: pino({ level: "silent" }),
      handleSignals: false,
      ...(options.off === true ? {} : { pqKeyRecovery: s.recoveryAddress }),
      ...(options.rate === undefined ? {} : { pqRecoveryRate: options.rate }),
    });
    publisher = await DevicePublisher.connect(mosquitto?.url ?? "");
    return { gateway: running.gateway, records: `${dbPath}.recoveries.jsonl` };
  }

  /** The publisher of the running test. */
  function pub(): DevicePublisher {
    if (publisher === undefined) throw new Error("start() a gateway first");
    return publisher;
  }

  /** The operator's view of the contracts (it commits and prepares; the gateway's account sends). */
  function client(s: System): { recovery: PqKeyRecovery; registry: ReturnType<typeof registryAt> } {
    const registry = registryAt(s.registryAddress, s.operator);
    return { registry, recovery: pqKeyRecoveryAt(s.recoveryAddress, registry) };
  }

  async function deadline(seconds = 3600): Promise<bigint> {
    return (await chainTime(ethers)) + BigInt(seconds);
  }

  /** A registered P-256 device: `store`'s key (a new one when omitted). */
  async function registered(s: System, store = SoftwareKeyStore.generate("p256")) {
    const deviceId = deviceIdOf(store.deviceKey);
    await registerDevice({
      registry: client(s).registry,
      device: store,
      operator: s.operator.address,
      deadline: await deadline(),
      model: FEED_MODEL,
      endorsement: await makerEndorse(
        registryAt(s.registryAddress, s.maker),
        s.maker,
        deviceId,
        FEED_MODEL,
      ),
    });
    return { store, deviceId };
  }

  async function lmsKey(name: string): Promise<LmsStatefulSigner> {
    const lms = lmsByName("LMS_SHA256_M24_H10");
    const lmots = lmotsByName("LMOTS_SHA256_N24_W4");
    if (lms === undefined || lmots === undefined) throw new Error("unknown LMS parameter set");
    const key = await LmsStatefulSigner.create(
      { key: join(dir, `${name}-${String(runs)}.json`) },
      "pw",
      { lms, lmots, scrypt: TEST_SCRYPT },
    );
    lmsKeys.push(key);
    return key;
  }

  /**
   * A registered device committed to `pqSigner`'s key, and its signed request to move to a new key,
   * which expires `seconds` after the latest block once committed (0: that block's time).
   */
  async function committedRequest(
    s: System,
    pqSigner: PqSigner,
    seconds = 3600,
  ): Promise<{
    deviceId: Hex;
    oldKeyHash: Hex;
    next: SoftwareKeyStore;
    request: PqRecoveryRequest;
    recoverDigest: Hex;
  }> {
    const { store, deviceId } = await registered(s);
    const { recovery, registry } = client(s);
    await commitPqKey({
      recovery,
      registry,
      device: store,
      scheme: pqSigner.scheme,
      publicKey: pqSigner.publicKey,
      deadline: await deadline(),
    });
    const next = SoftwareKeyStore.generate("p256");
    const prepared = await prepareKeyRecovery({
      recovery,
      registry,
      deviceId,
      pqSigner,
      newKey: next,
      deadline: await deadline(seconds),
    });
    return {
      deviceId,
      oldKeyHash: keyHash(store.deviceKey),
      next,
      request: prepared.request,
      recoverDigest: prepared.check.recoverDigest,
    };
  }

  /** The gateway account's nonce and the chain's height: what a request that is sent moves. */
  async function relayerState(s: System): Promise<[number, number]> {
    return [
      await ethers.provider.getTransactionCount(s.watcher.address, "latest"),
      await ethers.provider.getBlockNumber(),
    ];
  }

  it("names recovery topics that no reading or batch parser takes", function () {
    const deviceId: Hex = `0x${"ab".repeat(32)}`;
    const topic = recoveryTopic(deviceId);
    assert.equal(topic, `dt/devicetrust/recovery/${deviceId}`);
    assert.deepEqual(parseRecoveryTopic(topic), { deviceId });
    assert.equal(parseTopic(topic), null);
    assert.equal(parseReadingTopic(topic), null);
    assert.equal(parseRecoveryTopic(`dt/devicetrust/${deviceId}/${deviceId}/reading`), null);
    assert.equal(parseRecoveryTopic("dt/devicetrust/recovery/0x12"), null);
  });

  it("carries out an LMS recovery published over MQTT, once: the registry's key changes after the receipt", async function () {
    const s = await networkHelpers.loadFixture(recoverySystem);
    const { gateway, records } = await start(s);
    const pq = await lmsKey("lms-ok");
    const { deviceId, oldKeyHash, next, request } = await committedRequest(s, lmsPqSigner(pq));
    const [nonceBefore] = await relayerState(s);
    await pub().publishRecovery(request);
    await waitFor(async () => (await requests(gateway, "lms", "recovered")) === 1, "recovered");
    const registry = client(s).registry;
    assert.equal(await registry.currentKeyHash(deviceId), keyHash(next.deviceKey));
    assert.ok((await registry.keyRetiredAt(oldKeyHash)) > 0n);
    assert.equal((await pqCommitmentOf(client(s).recovery, deviceId)).nonce, 1);
    const [nonceAfter] = await relayerState(s);
    assert.equal(nonceAfter, nonceBefore + 1, "the gateway's account sent one transaction");
    const [line, ...more] = await recordsAt(records);
    assert.deepEqual(more, []);
    assert.equal(line?.result, "recovered");
    assert.equal(line.deviceId, deviceId);
    assert.equal(line.newKeyHash, keyHash(next.deviceKey));
    const receipt = await ethers.provider.getTransactionReceipt(line.txHash ?? "");
    assert.equal(receipt?.status, 1);
    assert.equal(receipt.from.toLowerCase(), s.watcher.address.toLowerCase());

    // The same request again (a redelivery, a replay): a duplicate, nothing sent.
    await pub().publishRecovery(request);
    await waitFor(async () => (await requests(gateway, "lms", "duplicate")) === 1, "duplicate");
    assert.equal((await relayerState(s))[0], nonceAfter);
    assert.equal(await requests(gateway, "lms", "recovered"), 1);
    assert.equal((await recordsAt(records)).length, 1);
  });

  it("limits each device's requests checked against the chain; duplicates and other devices spend none", async function () {
    const s = await networkHelpers.loadFixture(recoverySystem);
    const { gateway } = await start(s, { rate: { perSecond: 1 / 3600, burst: 1 } });
    const pq = await lmsKey("lms-rate");
    const first = await committedRequest(s, lmsPqSigner(pq));
    // A second request of the same device, to another key: distinct, so not a duplicate.
    const second = await prepareKeyRecovery({
      ...client(s),
      deviceId: first.deviceId,
      pqSigner: lmsPqSigner(pq),
      newKey: SoftwareKeyStore.generate("p256"),
      deadline: await deadline(),
    });
    await pub().publishRecovery(first.request);
    await waitFor(async () => (await requests(gateway, "lms", "recovered")) === 1, "recovered");
    await pub().publishRecovery(first.request);
    await waitFor(async () => (await requests(gateway, "lms", "duplicate")) === 1, "duplicate");
    const [nonce] = await relayerState(s);
    await pub().publishRecovery(second.request);
    await waitFor(
      async () => (await byReason(gateway, "recoveryRejected", "rate_limited")) === 1,
      "limited",
    );
    assert.equal((await relayerState(s))[0], nonce, "nothing sent for the limited request");
    // Another device has its own allowance.
    const other = await committedRequest(s, lmsPqSigner(await lmsKey("lms-rate-other")));
    await pub().publishRecovery(other.request);
    await waitFor(
      async () => (await requests(gateway, "lms", "recovered")) === 2,
      "other recovered",
    );
    assert.equal(
      await client(s).registry.currentKeyHash(other.deviceId),
      keyHash(other.next.deviceKey),
    );
  });

  it("drops a forged or wrong-key LMS request with its problem and sends nothing", async function () {
    const s = await networkHelpers.loadFixture(recoverySystem);
    const { gateway, records } = await start(s);
    const pq = await lmsKey("lms-committed");
    const other = await lmsKey("lms-other");
    const { deviceId, oldKeyHash, request, recoverDigest } = await committedRequest(
      s,
      lmsPqSigner(pq),
    );
    const before = await relayerState(s);
    // Another key's signature of the same request, with that key: not the committed key.
    const byOther = toHex(other.sign(Buffer.from(recoverDigest.slice(2), "hex")).signature);
    await pub().publishRecovery({
      ...request,
      pqPublicKey: other.publicKeyHex,
      pqSignature: byOther,
    });
    // The committed key's public key with the other key's signature: a forgery.
    await pub().publishRecovery({ ...request, pqSignature: byOther });
    await waitFor(
      async () => (await requests(gateway, "lms", "rejected")) === 2,
      "both requests dropped",
    );
    assert.equal(await byReason(gateway, "recoveryRejected", "WrongPqKey"), 1);
    assert.equal(await byReason(gateway, "recoveryRejected", "InvalidPqSignature"), 1);
    assert.deepEqual(await relayerState(s), before, "no transaction, no block");
    assert.equal(await client(s).registry.currentKeyHash(deviceId), oldKeyHash);
    assert.deepEqual(await recordsAt(records), []);
  });

  it("verifies and records an ML-DSA-44 request for governance, once; a tampered one is not", async function () {
    const s = await networkHelpers.loadFixture(recoverySystem);
    const { gateway, records } = await start(s);
    const pq = generateMlDsa44KeyPair();
    const { deviceId, oldKeyHash, next, request } = await committedRequest(
      s,
      mlDsa44PqSigner(pq.privateKey),
    );
    const before = await relayerState(s);
    // A copy with one byte of the signature changed comes first: dropped, it does not block the real one.
    const flipped = (Number.parseInt(request.pqSignature.slice(10, 12), 16) ^ 1)
      .toString(16)
      .padStart(2, "0");
    const tampered = `${request.pqSignature.slice(0, 10)}${flipped}${request.pqSignature.slice(12)}`;
    await pub().publishRecovery({ ...request, pqSignature: tampered as Hex });
    await waitFor(
      async () => (await byReason(gateway, "recoveryRejected", "InvalidPqSignature")) === 1,
      "the tampered request dropped",
    );
    assert.deepEqual(await recordsAt(records), []);
    await pub().publishRecovery(request);
    await pub().publishRecovery(request);
    await waitFor(
      async () =>
        (await requests(gateway, "ml-dsa-44", "recorded")) === 1 &&
        (await requests(gateway, "ml-dsa-44", "duplicate")) === 1,
      "recorded once, then a duplicate",
    );
    const lines = await recordsAt(records);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.result, "verified");
    assert.equal(lines[0].scheme, "ml-dsa-44");
    assert.equal(lines[0].newKeyHash, keyHash(next.deviceKey));
    assert.equal(lines[0].request.pqSignature, request.pqSignature);
    // Nothing on chain: no contract verifies ML-DSA-44; governance acts on the record.
    assert.deepEqual(await relayerState(s), before);
    assert.equal(await client(s).registry.currentKeyHash(deviceId), oldKeyHash);
    const res = await fetch(`http://127.0.0.1:${String(running?.port)}/recoveries`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { enabled: boolean; pending: PendingRecovery[] };
    assert.equal(body.enabled, true);
    assert.deepEqual(
      body.pending.map((r) => [r.deviceId, r.digest, r.result]),
      [[deviceId, lines[0].digest, "verified"]],
    );
    // Governance, holding KEY_RECOVERY_ROLE, applies it from the gateway's answer (as device
    // apply-recovery does): the device moves to its new key, and the request is no longer pending.
    const asGovernance = registryAt(s.registryAddress, s.governance);
    const role = await asGovernance.KEY_RECOVERY_ROLE();
    await (await asGovernance.grantRole(role, s.governance.address)).wait();
    const applied = await applyRecoveryRequest({
      recovery: pqKeyRecoveryAt(s.recoveryAddress, asGovernance),
      registry: asGovernance,
      request: parsePqRecoveryRequest(body.pending[0]?.request),
    });
    assert.equal(applied.via, "DeviceRegistry");
    assert.equal(await client(s).registry.currentKeyHash(deviceId), keyHash(next.deviceKey));
    const after = await fetch(`http://127.0.0.1:${String(running?.port)}/recoveries`);
    assert.deepEqual(((await after.json()) as { pending: PendingRecovery[] }).pending, []);

    // After a restart on the same store the record still makes the request a duplicate.
    await pub().close();
    publisher = undefined;
    await running?.stop();
    const again = await start(s, { dbPath: records.replace(/\.recoveries\.jsonl$/, "") });
    assert.equal(again.records, records);
    await pub().publishRecovery(request);
    await waitFor(
      async () => (await requests(again.gateway, "ml-dsa-44", "duplicate")) === 1,
      "a duplicate after the restart",
    );
    assert.equal((await recordsAt(records)).length, 1);
  });

  it("drops a request for a device with no commitment, or none at all, as NotCommitted", async function () {
    const s = await networkHelpers.loadFixture(recoverySystem);
    const { gateway, records } = await start(s);
    const pq = await lmsKey("lms-uncommitted");
    const { request } = await committedRequest(s, lmsPqSigner(pq));
    const bare = await registered(s);
    const before = await relayerState(s);
    await pub().publishRecovery({ ...request, deviceId: bare.deviceId });
    await pub().publishRecovery({ ...request, deviceId: `0x${"5a".repeat(32)}` });
    await waitFor(
      async () => (await byReason(gateway, "recoveryRejected", "NotCommitted")) === 2,
      "both dropped as NotCommitted",
    );
    assert.deepEqual(await relayerState(s), before);
    assert.equal(
      await client(s).registry.currentKeyHash(bare.deviceId),
      keyHash(bare.store.deviceKey),
    );
    assert.deepEqual(await recordsAt(records), []);
  });

  it("counts a verified LMS request the chain refuses as refused, with its custom error, never as recovered", async function () {
    const s = await networkHelpers.loadFixture(recoverySystem);
    const { gateway, records } = await start(s);
    // Expires with the block that committed it: blocks mined since, the gateway's check drops it.
    const late = await committedRequest(s, lmsPqSigner(await lmsKey("lms-late")), 0);
    // The new key is taken between the check and the send: another device registers with it.
    const taken = await committedRequest(s, lmsPqSigner(await lmsKey("lms-taken")));
    await registered(s, taken.next);
    // Expires at the latest block's time, made last: it verifies against that block, and the block
    // the transaction would be in is later (the deadline passes between the check and the send).
    const lateAgain = await committedRequest(s, lmsPqSigner(await lmsKey("lms-late-again")), 0);
    await pub().publishRecovery(lateAgain.request);
    await waitFor(async () => (await requests(gateway, "lms", "refused")) === 1, "late refused");
    assert.equal(await byReason(gateway, "recoveryRefused", "PqKeyRecoveryExpired"), 1);
    await pub().publishRecovery(taken.request);
    await waitFor(async () => (await requests(gateway, "lms", "refused")) === 2, "taken refused");
    assert.equal(await byReason(gateway, "recoveryRefused", "DeviceRegistryKeyTaken"), 1);
    // The first late request's deadline passed long before: the gateway's own check drops it.
    await pub().publishRecovery(late.request);
    await waitFor(
      async () => (await byReason(gateway, "recoveryRejected", "Expired")) === 1,
      "expired dropped before the chain",
    );
    assert.equal(await requests(gateway, "lms", "recovered"), 0);
    const registry = client(s).registry;
    for (const r of [late, taken, lateAgain]) {
      assert.equal(await registry.currentKeyHash(r.deviceId), r.oldKeyHash);
    }
    const lines = await recordsAt(records);
    assert.deepEqual(
      lines.map((l) => [l.deviceId, l.result, l.reason]),
      [
        [lateAgain.deviceId, "refused", "PqKeyRecoveryExpired"],
        [taken.deviceId, "refused", "DeviceRegistryKeyTaken"],
      ],
    );
  });

  it("drops recovery requests as recovery_off without --pq-key-recovery, and malformed ones with it", async function () {
    const s = await networkHelpers.loadFixture(recoverySystem);
    const off = await start(s, { off: true });
    const deviceId: Hex = `0x${"77".repeat(32)}`;
    await pub().publishRaw(recoveryTopic(deviceId), "{}");
    await waitFor(
      async () => (await byReason(off.gateway, "recoveryRejected", "recovery_off")) === 1,
      "recovery_off",
    );
    const res = await fetch(`http://127.0.0.1:${String(running?.port)}/recoveries`);
    assert.deepEqual(await res.json(), { enabled: false, recordPath: null, pending: [] });
    await publisher?.close();
    publisher = undefined;
    await running?.stop();
    running = undefined;

    const { gateway } = await start(s);
    await pub().publishRaw(recoveryTopic(deviceId), "not json");
    await pub().publishRaw(recoveryTopic(deviceId), Buffer.alloc(40_000, 0x7b));
    const pq = await lmsKey("lms-mismatch");
    const { request } = await committedRequest(s, lmsPqSigner(pq));
    // A request published on another device's topic.
    await pub().publishRaw(
      recoveryTopic(deviceId),
      JSON.stringify(pqRecoveryRequestToJson(request)),
    );
    await waitFor(
      async () =>
        (await byReason(gateway, "recoveryRejected", "malformed")) === 1 &&
        (await byReason(gateway, "recoveryRejected", "oversize")) === 1 &&
        (await byReason(gateway, "recoveryRejected", "topic_mismatch")) === 1,
      "malformed, oversize and topic_mismatch",
    );
  });
});

describe("RecoveryRecords", function () {
  it("cuts off a line a crash left unfinished, and keeps the whole ones", async function () {
    const folder = await mkdtemp(join(tmpdir(), "devicetrust-recovery-records-"));
    try {
      const path = join(folder, "nested", "recoveries.jsonl");
      const first = await RecoveryRecords.open(path);
      const record = {
        digest: `0x${"ab".repeat(32)}`,
        scheme: "ml-dsa-44",
        result: "verified",
        deviceId: `0x${"cd".repeat(32)}`,
        newKeyHash: `0x${"ef".repeat(32)}`,
        rotateDigest: `0x${"01".repeat(32)}`,
        at: new Date(0).toISOString(),
        request: {
          deviceId: `0x${"cd".repeat(32)}`,
          newKey: { keyType: 2, key: "0x00" },
          deadline: "1",
          scheme: "ml-dsa-44",
          nonce: "0",
          pqPublicKey: "0x00",
          pqSignature: "0x00",
          registryNonce: "0",
          newKeySignature: "0x00",
        },
      } as const satisfies RecoveryRecord;
      await first.append(record);
      await first.close();
      await appendFile(path, '{"digest":"0x12');
      const reopened = await RecoveryRecords.open(path);
      assert.deepEqual(reopened.all(), [record]);
      assert.equal(reopened.has(record.digest), true);
      await reopened.close();
      assert.equal(await readFile(path, "utf8"), `${JSON.stringify(record)}\n`);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
