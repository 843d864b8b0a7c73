import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import {
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  realpath,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { HDNodeWallet } from "ethers";
import { decodeRevertData } from "../../src/client/decode-error.js";
import { KeyType, deviceIdOf } from "../../src/protocol/index.js";
import { DeviceRegistry__factory } from "../../types/ethers-contracts/index.js";

/**
 * The package as an integrator installs it: `npm pack`, then a scratch Hardhat 3 project that installs
 * the tarball, compiles Solidity against its interfaces and imports its client from Node and TypeScript.
 *
 * How the scratch project installs, and what that proves: the tarball is unpacked into
 * node_modules/devicetrust, as npm does with a tarball, and each package the tarball's package.json
 * requires (its `dependencies` and non-optional `peerDependencies`, read from the tarball) is a symlink
 * to this checkout's copy, as are the consumer's own tools (hardhat, solc, @types/node). Nothing else
 * is in the scratch node_modules, and Node and Hardhat resolve the package's imports from its unpacked
 * folder, so an import the package does not declare (the gateway's MQTT, pg, PKCS#11) fails here as it
 * would for an integrator. No `npm install`: it would need the registry, or packuments that `npm ci`
 * does not cache, and CI must pass offline. So this does not prove that npm resolves the declared
 * version ranges; the linked copies are the versions this checkout's lockfile pins within them.
 */

const ROOT = path.resolve(import.meta.dirname, "../..");
const REPO_MODULES = path.join(ROOT, "node_modules");
const TSC = path.join(REPO_MODULES, "typescript", "bin", "tsc");
/** What the consumer project brings of its own: Hardhat and the same offline solc, and Node's types. */
const CONSUMER_TOOLS = ["hardhat", "solc", "@types/node"];
/** Hardhat's default accounts: well-known keys that must never ship. */
const TEST_MNEMONIC = "test test test test test test test test test test test junk";
const MAX_TARBALL_BYTES = 1_500_000;
const SECP256K1_KEY = { keyType: KeyType.Secp256k1, key: `0x${"ab".repeat(20)}` } as const;

const run = promisify(execFile);

interface PackResult {
  readonly filename: string;
  readonly size: number;
  readonly files: readonly { readonly path: string }[];
}

interface PackageJson {
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { readonly optional?: boolean }>;
}

/**
 * This process's environment for a child, with this Node first on PATH and without the HARDHAT_*
 * variables `hardhat test` sets: HARDHAT_CONFIG would make the consumer's Hardhat build this project.
 */
function childEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("HARDHAT_")),
  );
  const PATH = `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ""}`;
  return { ...env, PATH, FORCE_COLOR: "0" };
}

/** Runs `file args` in `cwd`; returns stdout. */
async function exec(file: string, args: readonly string[], cwd: string): Promise<string> {
  const { stdout } = await run(file, args, { cwd, env: childEnv(), maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** `npm run build`'s TypeScript half (incremental: seconds when dist/ is current). */
async function buildDist(): Promise<void> {
  if (!existsSync(path.join(ROOT, "types", "ethers-contracts", "index.ts"))) {
    throw new Error("types/ethers-contracts is missing: run `npx hardhat build` first");
  }
  await exec(process.execPath, [TSC, "-p", "tsconfig.build.json"], ROOT);
}

async function pack(destination: string): Promise<PackResult> {
  const stdout = await exec(
    "npm",
    ["pack", "--json", "--ignore-scripts", "--pack-destination", destination],
    ROOT,
  );
  const [result] = JSON.parse(stdout) as PackResult[];
  assert.ok(result !== undefined, "npm pack reported no package");
  return result;
}

/** The names npm would install with the package: its dependencies and required peers. */
function requiredPackages(manifest: PackageJson): string[] {
  const optional = manifest.peerDependenciesMeta ?? {};
  const peers = Object.keys(manifest.peerDependencies ?? {}).filter((n) => !optional[n]?.optional);
  return [...Object.keys(manifest.dependencies ?? {}), ...peers];
}

async function linkFromRepo(modules: string, name: string): Promise<void> {
  const target = path.join(modules, name);
  await mkdir(path.dirname(target), { recursive: true });
  await symlink(await realpath(path.join(REPO_MODULES, name)), target, "dir");
}

/** Installs the tarball into `project` (see the file comment); returns the unpacked package folder. */
async function installTarball(project: string, tarball: string): Promise<string> {
  const modules = path.join(project, "node_modules");
  const installed = path.join(modules, "devicetrust");
  await mkdir(installed, { recursive: true });
  await exec("tar", ["-xzf", tarball, "-C", installed, "--strip-components=1"], project);
  const manifest = JSON.parse(
    await readFile(path.join(installed, "package.json"), "utf8"),
  ) as PackageJson;
  for (const name of [...requiredPackages(manifest), ...CONSUMER_TOOLS]) {
    await linkFromRepo(modules, name);
  }
  return installed;
}

/** The README's consumer snippet, made a source file. */
async function readmeConsumer(): Promise<string> {
  const readme = await readFile(path.join(ROOT, "README.md"), "utf8");
  const snippet =
    /```solidity\n(import [^`]*devicetrust\/contracts\/interfaces\/IInsurancePool\.sol[^`]*)```/.exec(
      readme,
    )?.[1];
  assert.ok(snippet !== undefined, "README.md has no consumer snippet importing IInsurancePool");
  return `// SPDX-License-Identifier: MIT\npragma solidity ^0.8.30;\n\n${snippet}`;
}

const TRUSTED_READER = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IDeviceAttestation} from "devicetrust/contracts/interfaces/IDeviceAttestation.sol";
import {TrustLib} from "devicetrust/contracts/libraries/TrustLib.sol";
import {DeviceId} from "devicetrust/contracts/types/DeviceId.sol";

contract TrustedReader {
    using TrustLib for IDeviceAttestation;

    IDeviceAttestation public immutable CORE;

    constructor(IDeviceAttestation core) {
        CORE = core;
    }

    function check(DeviceId device) external view {
        CORE.requireTrusted(device, 1 hours);
    }
}
`;

const HARDHAT_CONFIG = `import { createRequire } from "node:module";
import { defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);

export default defineConfig({
  solidity: {
    version: "0.8.37",
    path: require.resolve("solc/soljson.js"),
    settings: { evmVersion: "prague" },
  },
});
`;

const TS_CONSUMER = `import { decodeRevertData, registryAt } from "devicetrust";
import { KeyType, deviceIdOf, type Hex } from "devicetrust/protocol";
import { DeviceRegistry__factory, type DeviceRegistry } from "devicetrust/factories";
import { JsonRpcProvider } from "ethers";

const id: Hex = deviceIdOf({ keyType: KeyType.Secp256k1, key: "${SECP256K1_KEY.key}" });
const registry: DeviceRegistry = registryAt(
  "0x0000000000000000000000000000000000000001",
  new JsonRpcProvider(),
);
const trusted: Promise<boolean> = registry.isTrusted(id, 3600n);
const unknown = DeviceRegistry__factory.createInterface().encodeErrorResult(
  "DeviceRegistryUnknownDevice",
  [id],
);
// @ts-expect-error deviceIdOf takes a DeviceKey: the declarations carry real types, not any.
deviceIdOf("0x12");
export const uses = [trusted, decodeRevertData(unknown)?.message] as const;
`;

const TS_CONFIG = JSON.stringify({
  compilerOptions: {
    target: "ES2023",
    module: "nodenext",
    moduleResolution: "nodenext",
    strict: true,
    exactOptionalPropertyTypes: true,
    noEmit: true,
    types: ["node"],
  },
  include: ["consumer.ts"],
});

/** Plain Node, ESM: every subpath loads without the optional peers, except the gateway that needs them. */
const NODE_SCRIPT = `
import { decodeRevertData } from "devicetrust";
import { KeyType, deviceIdOf } from "devicetrust/protocol";
import { DeviceRegistry__factory } from "devicetrust/factories";
const id = deviceIdOf({ keyType: KeyType.Secp256k1, key: "${SECP256K1_KEY.key}" });
const data = DeviceRegistry__factory.createInterface().encodeErrorResult("DeviceRegistryUnknownDevice", [id]);
await Promise.all(["payments", "verify", "device"].map((subpath) => import(\`devicetrust/\${subpath}\`)));
const gateway = await import("devicetrust/gateway").then(() => "loaded", (err) => err.code);
console.log(JSON.stringify({ id, error: decodeRevertData(data)?.message, gateway }));
`;

async function writeProject(project: string): Promise<void> {
  await mkdir(path.join(project, "contracts"), { recursive: true });
  const files: [string, string][] = [
    ["package.json", JSON.stringify({ name: "consumer", private: true, type: "module" })],
    ["hardhat.config.ts", HARDHAT_CONFIG],
    ["contracts/Consumer.sol", await readmeConsumer()],
    ["contracts/TrustedReader.sol", TRUSTED_READER],
    ["consumer.ts", TS_CONSUMER],
    ["tsconfig.json", TS_CONFIG],
  ];
  for (const [name, text] of files) await writeFile(path.join(project, name), text);
}

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/** Private keys of Hardhat's 20 default accounts, hex without 0x. */
function hardhatTestKeys(): string[] {
  const root = HDNodeWallet.fromPhrase(TEST_MNEMONIC, undefined, "m/44'/60'/0'/0");
  return Array.from({ length: 20 }, (_, i) => root.deriveChild(i).privateKey.slice(2));
}

describe("package (npm pack, installed into a scratch Hardhat 3 project)", function () {
  let work: string;
  let packed: PackResult;
  let project: string;
  let installed: string;

  before(async function () {
    this.timeout(180_000);
    work = await mkdtemp(path.join(tmpdir(), "devicetrust-pack-"));
    project = path.join(work, "consumer");
    await buildDist();
    packed = await pack(work);
    await writeProject(project);
    installed = await installTarball(project, path.join(work, packed.filename));
  });

  after(async function () {
    await rm(work, { recursive: true, force: true });
  });

  describe("the tarball", function () {
    it("holds the compiled client with its declarations and factories, and the Solidity interfaces", function () {
      const paths = new Set(packed.files.map((f) => f.path));
      for (const expected of [
        "package.json",
        "README.md",
        "dist/src/client/index.js",
        "dist/src/client/index.d.ts",
        "dist/src/protocol/index.d.ts",
        "dist/types/ethers-contracts/index.js",
        "dist/types/ethers-contracts/index.d.ts",
        "contracts/interfaces/IInsurancePool.sol",
        "contracts/types/DeviceId.sol",
      ]) {
        assert.ok(paths.has(expected), `${expected} is not in the tarball`);
      }
    });

    it("holds no tests, TypeScript or mock sources, secrets, key files or node_modules, and stays small", function () {
      const forbidden =
        /^(test|tasks|scripts|deploy|src|types|artifacts|cache|bench|config|node_modules)\/|^contracts\/(?!interfaces\/|libraries\/|types\/)|(^|\/)\.env|\.(pem|key|p12|sqlite)$/;
      const leaks = packed.files.map((f) => f.path).filter((p) => forbidden.test(p));
      assert.deepEqual(leaks, []);
      assert.ok(packed.size < MAX_TARBALL_BYTES, `tarball is ${String(packed.size)} bytes`);
    });

    it("contains none of Hardhat's test account keys", async function () {
      const keys = hardhatTestKeys();
      for (const file of await filesUnder(installed)) {
        const text = await readFile(file, "utf8");
        const found = keys.find((key) => text.includes(key));
        assert.equal(found, undefined, `${path.relative(installed, file)} holds a test key`);
      }
    });
  });

  it("compiles the README's consumer and a TrustLib user against devicetrust/contracts, OpenZeppelin resolved as the peer", async function () {
    this.timeout(120_000);
    await exec(process.execPath, ["node_modules/hardhat/dist/src/cli.js", "build"], project);
    for (const name of ["Consumer", "TrustedReader"]) {
      const artifact = path.join(project, "artifacts", "contracts", `${name}.sol`, `${name}.json`);
      const { abi } = JSON.parse(await readFile(artifact, "utf8")) as { abi: unknown[] };
      assert.ok(abi.length > 0, `${name} has an ABI`);
    }
  });

  it("imports the client, protocol, factories, payments, verify and device from plain Node (ESM), the gateway failing only for its optional peers", async function () {
    this.timeout(60_000);
    const stdout = await exec(
      process.execPath,
      ["--no-warnings", "--input-type=module", "-e", NODE_SCRIPT],
      project,
    );
    const id = deviceIdOf(SECP256K1_KEY);
    const data = DeviceRegistry__factory.createInterface().encodeErrorResult(
      "DeviceRegistryUnknownDevice",
      [id],
    );
    const error = decodeRevertData(data)?.message;
    assert.ok(error !== undefined, "the source decodes DeviceRegistryUnknownDevice");
    assert.deepEqual(JSON.parse(stdout), { id, error, gateway: "ERR_MODULE_NOT_FOUND" });
  });

  it("typechecks a TypeScript consumer against the package's declarations", async function () {
    this.timeout(60_000);
    await exec(process.execPath, [TSC, "-p", "tsconfig.json"], project);
  });
});
