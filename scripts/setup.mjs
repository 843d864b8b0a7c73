#!/usr/bin/env node
// Makes `npm test`, `npm run demo` and `npm run bench` work on a fresh clone whose system Node is 20.
//
// Hardhat 3 and its EDR native binding need Node >= 22. npm skips the binding (an optional
// dependency with `engines: node >= 22`) when it installs under Node 20, so a plain `npm install`
// under Node 20 leaves a node_modules that looks fine but cannot run Hardhat. This script checks
// node_modules and, when anything is missing or stale, reinstalls it with npm running under Node >= 22
// (the current Node when it is new enough, else Node 24 fetched through `npx -p node@24`).
//
// Plain JavaScript with no dependencies: it must run before node_modules exists. Silent and fast when
// everything is in place; progress goes to stderr so stdout stays clean for `--json` consumers.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const MIN_NODE_MAJOR = 22;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const NODE_MODULES = path.join(ROOT, "node_modules");
const LOCKFILE = path.join(ROOT, "package-lock.json");
const MARKER = path.join(NODE_MODULES, ".devicetrust-lock-hash");
const IS_WINDOWS = process.platform === "win32";

/** Major version from a string like "v24.9.0" or "24.9.0"; NaN when it is not one. */
function majorOf(version) {
  return Number.parseInt(String(version).trim().replace(/^v/, "").split(".")[0] ?? "", 10);
}

/** Same detection order as EDR's own loader (NAPI-RS): /usr/bin/ldd, then the process report. */
function isMusl() {
  if (process.platform !== "linux") return false;
  try {
    return readFileSync("/usr/bin/ldd", "utf8").includes("musl");
  } catch {
    const header = process.report?.getReport?.()?.header;
    return header !== undefined && !header.glibcVersionRuntime;
  }
}

/** Name of the EDR binding package npm must install for this platform. */
function edrBindingPackage() {
  const { platform, arch } = process;
  if (platform === "linux") {
    return `@nomicfoundation/edr-linux-${arch}-${isMusl() ? "musl" : "gnu"}`;
  }
  if (platform === "win32") return `@nomicfoundation/edr-win32-${arch}-msvc`;
  return `@nomicfoundation/edr-${platform}-${arch}`;
}

/** Content hash of what `npm ci` installs from: the lockfile, or package.json when there is none. */
function lockHash() {
  const source = existsSync(LOCKFILE) ? LOCKFILE : path.join(ROOT, "package.json");
  return createHash("sha256").update(readFileSync(source)).digest("hex");
}

/** The Node that npm scripts run (the `node` devDependency), or undefined when it is missing. */
function projectNodeMajor() {
  const bin = path.join(NODE_MODULES, ".bin", IS_WINDOWS ? "node.cmd" : "node");
  if (!existsSync(bin)) return undefined;
  const result = spawnSync(bin, ["--version"], { encoding: "utf8", shell: IS_WINDOWS });
  return result.status === 0 ? majorOf(result.stdout) : undefined;
}

/** Why node_modules cannot run the project, or undefined when it is healthy. Cheapest checks first. */
function problem() {
  if (!existsSync(NODE_MODULES)) return "node_modules is missing";
  let marker;
  try {
    marker = readFileSync(MARKER, "utf8").trim();
  } catch {
    return "node_modules was not installed by this script";
  }
  if (marker !== lockHash()) return "package-lock.json changed since the last install";
  if (!existsSync(path.join(NODE_MODULES, "hardhat", "package.json"))) return "hardhat is missing";
  const binding = edrBindingPackage();
  if (!existsSync(path.join(NODE_MODULES, ...binding.split("/"), "package.json"))) {
    return `the EDR native binding ${binding} is missing`;
  }
  const pkcs11 = path.join(NODE_MODULES, "pkcs11js", "build", "Release", "pkcs11.node");
  if (!existsSync(pkcs11)) return "the pkcs11js native module was not built";
  const major = projectNodeMajor();
  if (major === undefined || !(major >= MIN_NODE_MAJOR)) {
    return `node_modules/.bin/node is missing or older than Node ${MIN_NODE_MAJOR}`;
  }
  return undefined;
}

/** True when `dir` is the project's node_modules or inside it. */
function insideNodeModules(dir) {
  const relative = path.relative(NODE_MODULES, path.resolve(dir));
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

/**
 * Environment for the installer. npm scripts put node_modules/.bin first on PATH, and `npm ci`
 * deletes node_modules, so the installer and its lifecycle scripts must not resolve `node` there.
 */
function installerEnv(extraPathDir) {
  const pathKey = Object.keys(process.env).find((key) => key.toUpperCase() === "PATH") ?? "PATH";
  const dirs = (process.env[pathKey] ?? "")
    .split(path.delimiter)
    .filter((dir) => dir !== "" && !insideNodeModules(dir));
  if (extraPathDir !== undefined) dirs.unshift(extraPathDir);
  return { ...process.env, [pathKey]: dirs.join(path.delimiter) };
}

function install() {
  const npmArgs = existsSync(LOCKFILE) ? ["ci"] : ["install"];
  npmArgs.push("--no-audit", "--no-fund");
  const runningDir = path.dirname(process.execPath);
  const useCurrentNode =
    majorOf(process.version) >= MIN_NODE_MAJOR && !insideNodeModules(runningDir);

  let command;
  let args;
  let env;
  if (useCurrentNode) {
    process.stderr.write(
      `devicetrust setup: installing dependencies with Node ${process.version}…\n`,
    );
    command = "npm";
    args = npmArgs;
    env = installerEnv(runningDir); // `npm` resolves `node` through PATH: make it this Node.
  } else {
    process.stderr.write(
      "devicetrust setup: installing dependencies with Node 24 (this runs once)…\n",
    );
    command = "npx";
    args = ["-y", "-p", "node@24", "--", "npm", ...npmArgs];
    env = installerEnv(undefined);
  }
  // The installer's stdout goes to our stderr: callers may parse our stdout.
  const result = spawnSync(command, args, {
    cwd: ROOT,
    env,
    stdio: ["ignore", process.stderr, process.stderr],
    shell: IS_WINDOWS,
  });
  if (result.error !== undefined) {
    return `could not start ${command}: ${result.error.message}`;
  }
  if (result.status !== 0) {
    return `\`${command} ${args.join(" ")}\` exited with ${String(result.status ?? result.signal)}`;
  }
  return undefined;
}

function fail(reason) {
  process.stderr.write(
    `devicetrust setup: ${reason}.\n` +
      "  Install dependencies with Node >= 22, from the project folder:\n" +
      "    npx -y -p node@24 -- npm ci\n" +
      "  (use `npm install` instead of `npm ci` if package-lock.json is out of date with package.json),\n" +
      "  then rerun your command. Node 24 via nvm (`nvm use`, see .nvmrc) works as well.\n",
  );
  process.exit(1);
}

const before = problem();
if (before !== undefined) {
  process.stderr.write(`devicetrust setup: ${before}.\n`);
  const installError = install();
  if (installError !== undefined) fail(installError);
  if (!existsSync(NODE_MODULES)) fail("the install finished without creating node_modules");
  // The marker must exist before problem() can pass; write it only if the rest is in place.
  writeFileSync(MARKER, `${lockHash()}\n`);
  const after = problem();
  if (after !== undefined) {
    try {
      writeFileSync(MARKER, "");
    } catch {
      // Best effort: an empty marker only forces the next run to reinstall.
    }
    fail(`the install finished but ${after}`);
  }
  process.stderr.write("devicetrust setup: dependencies installed.\n");
}
