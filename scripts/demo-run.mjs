#!/usr/bin/env node
// `npm run demo [-- --serve]`: runs scripts/demo.ts with Hardhat. `hardhat run` takes no script
// arguments, so --serve travels as DEVICETRUST_DEMO_SERVE=1 (the demo then keeps the console open).
// Plain JavaScript: it runs under whatever Node npm uses; Hardhat runs under node_modules/.bin/node.

import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== "--serve");
if (unknown.length > 0) {
  process.stderr.write(`demo: unknown option ${unknown.join(" ")}: the only option is --serve\n`);
  process.exit(2);
}
// node:sqlite (the gateway's and watchtower's stores) prints an ExperimentalWarning when loaded: the demo's
// reader gets the story without it.
const quiet = "--disable-warning=ExperimentalWarning";
const env = {
  ...process.env,
  NODE_OPTIONS: [process.env.NODE_OPTIONS, quiet]
    .filter((o) => o !== undefined && o !== "")
    .join(" "),
  ...(args.includes("--serve") ? { DEVICETRUST_DEMO_SERVE: "1" } : {}),
};
const hardhat = path.join(
  ROOT,
  "node_modules",
  ".bin",
  process.platform === "win32" ? "hardhat.cmd" : "hardhat",
);
const child = spawn(hardhat, ["run", "scripts/demo.ts"], { cwd: ROOT, env, stdio: "inherit" });
// Ctrl-C reaches the child through the terminal's process group; a signal sent to this process alone
// is passed on.
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("exit", (code, signal) => {
  process.exit(code ?? (signal === "SIGINT" ? 130 : 143));
});
