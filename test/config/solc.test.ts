import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  isDependencyWarning,
  withoutDependencyWarnings,
  withJobPerCore,
} from "../../config/build-plugin-hooks.js";
import { chooseSolc } from "../../config/solc.js";
import type { CompilerOutputError } from "hardhat/types/solidity";

const PLATFORM =
  process.platform === "linux"
    ? "linux-amd64"
    : process.platform === "darwin"
      ? "macosx-amd64"
      : "";

describe("config/solc: which solc builds", function () {
  let dir: string;
  let lines: string[];
  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), "devicetrust-solc-"));
    lines = [];
  });
  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  const options = (over: Partial<Parameters<typeof chooseSolc>[1]> = {}) => ({
    cacheDir: join(dir, "cache"),
    compilersDir: join(dir, "compilers"),
    env: {},
    say: (line: string) => lines.push(line),
    ...over,
  });

  it("falls back to WebAssembly solc when the compiler list is unreachable, says so once, and remembers", async function () {
    if (process.arch !== "x64" || PLATFORM === "") this.skip();
    let probes = 0;
    const probe = (url: string): Promise<boolean> => {
      probes += 1;
      assert.equal(url, `https://binaries.soliditylang.org/${PLATFORM}/list.json`);
      return Promise.resolve(false);
    };
    const first = await chooseSolc("0.8.37", options({ probe }));
    assert.equal(first.kind, "wasm");
    assert.match(first.path ?? "", /solc[/\\]soljson\.js$/);
    assert.equal(lines.length, 1);
    assert.match(
      lines[0] ?? "",
      /^solc 0\.8\.37: the native compiler cannot be fetched .* WebAssembly/,
    );

    const again = await chooseSolc("0.8.37", options({ probe }));
    assert.equal(again.kind, "wasm");
    assert.equal(again.reason, "decided earlier");
    assert.equal(probes, 1, "decided once");
    assert.equal(lines.length, 1, "said once");
    const saved = JSON.parse(await readFile(join(dir, "cache", "solc-compiler.json"), "utf8")) as {
      kind: string;
    };
    assert.equal(saved.kind, "wasm");

    // A day later it looks again.
    const later = await chooseSolc("0.8.37", options({ probe, now: Date.now() + 86_400_001 }));
    assert.equal(later.kind, "wasm");
    assert.equal(probes, 2);
  });

  it("uses the native compiler Hardhat has cached, or can download", async function () {
    if (process.arch !== "x64" || PLATFORM === "") this.skip();
    await mkdir(join(dir, "compilers", PLATFORM), { recursive: true });
    await writeFile(join(dir, "compilers", PLATFORM, "solc-v0.8.37+commit.a5dc7db5"), "");
    const cached = await chooseSolc(
      "0.8.37",
      options({ probe: () => Promise.reject(new Error("not asked")) }),
    );
    assert.equal(cached.kind, "native");
    assert.equal(cached.path, undefined);
    assert.deepEqual(lines, []);

    const fetched = await chooseSolc("0.8.36", options({ probe: () => Promise.resolve(true) }));
    assert.equal(fetched.kind, "native");
    assert.match(fetched.reason, /Hardhat downloads it/);
  });

  it("obeys DEVICETRUST_SOLC and refuses anything else", async function () {
    const forcedWasm = await chooseSolc("0.8.37", options({ env: { DEVICETRUST_SOLC: "wasm" } }));
    assert.equal(forcedWasm.kind, "wasm");
    const forcedNative = await chooseSolc(
      "0.8.37",
      options({ env: { DEVICETRUST_SOLC: "native" } }),
    );
    assert.equal(forcedNative.kind, "native");
    await assert.rejects(
      chooseSolc("0.8.37", options({ env: { DEVICETRUST_SOLC: "fast" } })),
      /DEVICETRUST_SOLC must be "native" or "wasm", not "fast"/,
    );
  });
});

describe("config/dependency-warnings: warnings about npm packages are not printed", function () {
  /** A diagnostic as Hardhat hands it to the hook: the file named in the formatted message only. */
  const diagnostic = (severity: CompilerOutputError["severity"], at?: string, message = "m") =>
    ({
      type: severity === "error" ? "TypeError" : "Warning",
      component: "general",
      message,
      severity,
      formattedMessage:
        at === undefined ? `Warning: ${message}\n` : `Warning: ${message}\n --> ${at}:5:1:\n  |\n`,
    }) as CompilerOutputError;

  it("drops a dependency's warning, keeps ours and every error", function () {
    const forgeStd = diagnostic(
      "warning",
      "./node_modules/@uniswap/v4-core/lib/forge-std/src/Vm.sol",
    );
    assert.equal(isDependencyWarning(forgeStd), true);
    assert.equal(
      isDependencyWarning(diagnostic("warning", "npm/@openzeppelin/contracts@5.7.0/a.sol")),
      true,
    );
    assert.equal(
      isDependencyWarning(diagnostic("warning", "contracts/staking/DeviceStaking.sol")),
      false,
    );
    assert.equal(isDependencyWarning(diagnostic("warning")), false);
    assert.equal(isDependencyWarning(diagnostic("error", "./node_modules/x/y.sol")), false);
  });

  it("drops solc's 256-warning cap only when dependencies' warnings reached it", function () {
    const cap = diagnostic(
      "warning",
      undefined,
      "There are more than 256 warnings. Ignoring the rest.",
    );
    const ours = diagnostic("warning", "contracts/X.sol");
    const forgeStd = diagnostic(
      "warning",
      "./node_modules/@uniswap/v4-core/lib/forge-std/src/Vm.sol",
    );
    assert.deepEqual(withoutDependencyWarnings([forgeStd, ours, cap]), [ours]);
    assert.deepEqual(withoutDependencyWarnings([ours, cap]), [ours, cap]);
  });
});

describe("config/build-plugin: compilation jobs per core", function () {
  it("runs one job per core unless the caller says how many", function () {
    assert.equal(withJobPerCore(undefined, 2).concurrency, 2);
    assert.equal(withJobPerCore({ quiet: true }, 4).concurrency, 4);
    assert.equal(withJobPerCore({ concurrency: 1 }, 4).concurrency, 1);
  });
});
