import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomInt } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LmsStatefulSigner } from "../../src/device/lms-signer.js";
import {
  fromHex,
  lmotsByName,
  lmsByName,
  lmsVerify,
  parseLmsSignature,
  type Hex,
  type LmotsParams,
  type LmsParams,
} from "../../src/protocol/index.js";

const PASSWORD = "crash test";
const H10 = lmsByName("LMS_SHA256_M32_H10") as LmsParams;
const W4 = lmotsByName("LMOTS_SHA256_N32_W4") as LmotsParams;
const RUNS = 6;

interface Child {
  readonly process: ChildProcess;
  /** The complete lines printed so far (a line cut by the kill is not one). */
  readonly lines: string[];
  readonly exited: Promise<unknown>;
}

/** Starts helpers/lms-crash-child.ts, which signs until it is killed. */
function startChild(env: Record<string, string>): Child {
  const child = spawn(
    join(process.cwd(), "node_modules/.bin/node"),
    ["--no-warnings", "--import", "tsx", "test/device/helpers/lms-crash-child.ts"],
    { env: { ...process.env, ...env, LMS_CRASH_CHILD: "1" }, stdio: ["ignore", "pipe", "inherit"] },
  );
  const lines: string[] = [];
  let partial = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return { process: child, lines, exited };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once the child printed a line (or exited). */
async function firstLine(child: Child): Promise<void> {
  while (child.lines.length === 0 && child.process.exitCode === null) await sleep(5);
}

describe("LmsStatefulSigner SIGKILL crash", function () {
  this.timeout(180_000);
  let dir: string;
  let children: Child[];

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), "devicetrust-lms-crash-"));
    children = [];
  });
  afterEach(async function () {
    for (const c of children) {
      if (c.process.exitCode === null && c.process.signalCode === null) {
        c.process.kill("SIGKILL");
        await c.exited;
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  it("killed at random moments while signing, never emits one leaf twice, and every signature it emitted verifies", async function () {
    const paths = {
      key: join(dir, "key.json"),
      state: join(dir, "key.state"),
      watermark: join(dir, "second", "key.watermark"),
    };
    const created = await LmsStatefulSigner.create(paths, PASSWORD, {
      lms: H10,
      lmots: W4,
      scrypt: { N: 1 << 10, r: 8, p: 1 },
    });
    const publicKey = created.publicKey;
    created.close();

    const env = {
      LMS_KEY: paths.key,
      LMS_STATE: paths.state,
      LMS_WATERMARK: paths.watermark,
      LMS_PASSWORD: PASSWORD,
    };
    const emitted = new Map<number, string>();
    let last = -1;
    for (let run = 0; run < RUNS; run++) {
      const child = startChild(env);
      children.push(child);
      // The last run dies at a random moment from its start (opening, computing the tree, or signing);
      // the others at a random moment after their first signature.
      if (run === RUNS - 1) await sleep(randomInt(50, 1500));
      else {
        await firstLine(child);
        await sleep(randomInt(20, 300));
      }
      child.process.kill("SIGKILL");
      await child.exited;
      assert.equal(
        child.process.signalCode,
        "SIGKILL",
        "the child died of the kill, not of an error",
      );
      for (const line of child.lines) {
        const [qText, message, signature] = line.split(" ");
        assert.ok(qText !== undefined && message !== undefined && signature !== undefined, line);
        const q = Number(qText);
        assert.equal(emitted.has(q), false, `leaf ${qText} emitted twice`);
        assert.ok(
          q > last,
          `leaves only go up, across restarts too (${String(q)} after ${String(last)})`,
        );
        last = q;
        const bytes = fromHex(signature as Hex);
        assert.equal(parseLmsSignature(bytes).q, q);
        assert.equal(
          lmsVerify(publicKey, fromHex(message as Hex), bytes),
          true,
          `signature of leaf ${qText}`,
        );
        emitted.set(q, message);
      }
      if (run < RUNS - 1) assert.ok(child.lines.length > 0, `run ${String(run)} signed`);
    }

    // The restarted signer starts past every leaf emitted (the state may be one ahead: killed between the
    // state write and the print).
    const signer = await LmsStatefulSigner.open(paths, PASSWORD);
    try {
      assert.ok(signer.next > last, `next ${String(signer.next)} after leaf ${String(last)}`);
      const { q } = signer.sign(Uint8Array.of(1));
      assert.equal(emitted.has(q), false);
      console.log(
        `      ${String(RUNS)} SIGKILLs over ${String(emitted.size)} signatures (leaves 0..${String(last)}; ${String(last + 1 - emitted.size)} skipped by the kills), none twice, all verified`,
      );
    } finally {
      signer.close();
    }
  });
});
