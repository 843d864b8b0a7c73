// `npm run bench:build`: how long a newcomer waits, measured on a fresh clone of this repository's HEAD.
//   build.demo.firstLine.freshClone  `npm run demo` from the clone to the demo's first line, install
//                                    (npm ci under Node 24) and contract build included (target 120 s)
//   build.test.freshClone            then `npm test` in that clone (CI=true), lint and both hardforks
//                                    included (target 480 s)
// The figures go into bench/results.json's `seconds` section (merged with what is there). Minutes of
// work and the network's npm cache: not part of `npm run bench`. Node built-ins only, run by Node 24's
// type stripping, so it needs no build of its own.

import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const FIRST_LINE = /^DeviceTrust demo — /m;
const TARGETS = {
  "build.demo.firstLine.freshClone": 120,
  "build.test.freshClone": 480,
} as const;

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Runs a command to its end; resolves with its exit code. Output goes to stderr, prefixed. */
function runToEnd(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  return new Promise<number>((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    const keep = (chunk: Buffer): void => {
      tail.push(chunk.toString());
      if (tail.length > 200) tail.shift();
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) progress(tail.join("").slice(-4_000));
      resolve(code ?? 1);
    });
  });
}

/**
 * Starts `npm run demo` in its own process group and resolves with the seconds until the demo's first
 * line, then stops the whole group (npm, Hardhat, the demo's gateway and broker).
 */
function demoFirstLine(cwd: string, env: NodeJS.ProcessEnv) {
  return new Promise<number>((resolve, reject) => {
    const started = Date.now();
    const child = spawn("npm", ["run", "demo"], {
      cwd,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    let seconds: number | undefined;
    const stop = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
    };
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (seconds === undefined && FIRST_LINE.test(out)) {
        seconds = (Date.now() - started) / 1000;
        stop();
      }
    });
    child.stderr.on("data", (chunk: Buffer) => {
      err = (err + chunk.toString()).slice(-8_000);
    });
    child.on("error", reject);
    child.on("close", () => {
      if (seconds === undefined) {
        reject(new Error(`npm run demo ended before its first line:\n${err}`));
      } else {
        resolve(seconds);
      }
    });
    // Output from before the first line: what a newcomer reads while waiting.
    child.on("close", () => {
      const before = out.split(FIRST_LINE)[0] ?? "";
      const warnings = (before + err).match(/^Warning: /gm)?.length ?? 0;
      progress(`demo: ${String(warnings)} compiler warnings before the first line`);
    });
  });
}

const scratch = await mkdtemp(join(tmpdir(), "devicetrust-bench-build-"));
const clone = join(scratch, "clone");
const env: NodeJS.ProcessEnv = { ...process.env };
// The clone must find its own Node and Hardhat, not this run's.
delete env.npm_config_prefix;
const loadBefore = loadavg()[0] ?? 0;
try {
  progress(`cloning ${ROOT} (HEAD) into ${clone}`);
  if (
    (await runToEnd("git", ["clone", "--quiet", "--no-hardlinks", ROOT, clone], ROOT, env)) !== 0
  ) {
    throw new Error("git clone failed");
  }
  progress("npm run demo on the fresh clone, until its first line");
  const demo = await demoFirstLine(clone, env);
  progress(`first demo line after ${demo.toFixed(1)} s`);
  progress("npm test in the clone (CI=true)");
  const testStarted = Date.now();
  const code = await runToEnd("npm", ["test"], clone, { ...env, CI: "true" });
  const test = (Date.now() - testStarted) / 1000;
  // The demo's figure stands whatever the tests say; a failed run's duration is not a figure.
  if (code !== 0) {
    progress(`npm test failed in the clone (exit ${String(code)}) after ${test.toFixed(0)} s`);
    process.exitCode = 1;
  }
  const seconds: Record<string, number> = { "build.demo.firstLine.freshClone": Math.round(demo) };
  if (code === 0) seconds["build.test.freshClone"] = Math.round(test);
  const file = join(ROOT, "bench", "results.json");
  const previous = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  const old = (previous.seconds ?? {}) as Record<string, number>;
  const meta = (previous.meta ?? {}) as Record<string, unknown>;
  await writeFile(
    file,
    `${JSON.stringify(
      {
        ...previous,
        seconds: { ...old, ...seconds },
        meta: { ...meta, "build.loadAverageBefore": Number(loadBefore.toFixed(2)) },
      },
      null,
      2,
    )}\n`,
  );
  const rows = Object.entries(seconds).map(([key, value]) => {
    const target = TARGETS[key as keyof typeof TARGETS];
    return `${key.padEnd(34)} ${String(value).padStart(5)} s  target <= ${String(target)} s  ${value <= target ? "pass" : "MISS"}`;
  });
  process.stdout.write(`${rows.join("\n")}\n`);
  progress(`wrote ${file}`);
} finally {
  await rm(scratch, { recursive: true, force: true });
}
