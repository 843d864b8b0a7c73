import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rename, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

/**
 * Which solc the build runs: the native compiler where Hardhat has it or can fetch it (several times
 * faster), else WebAssembly solc from the npm `solc` package, which is this exact version and needs no
 * network. Decided once and remembered for a day (cache/solc-compiler.json); the fallback is said in one
 * line when it is decided. `DEVICETRUST_SOLC=native|wasm` chooses.
 */
export interface SolcChoice {
  readonly version: string;
  /** soljson.js for WebAssembly; absent: Hardhat's native compiler (downloaded if not cached yet). */
  readonly path?: string;
  readonly kind: "native" | "wasm";
  /** Why (one line). */
  readonly reason: string;
}

export interface SolcChoiceOptions {
  /** The project's cache folder (the decision is remembered there). */
  readonly cacheDir: string;
  /** Hardhat's global compiler cache (default: the platform's cache dir /hardhat-nodejs/compilers-v3). */
  readonly compilersDir?: string;
  /** Whether Hardhat's compiler list answers (default: fetch it with a 2 s timeout). */
  readonly probe?: (url: string) => Promise<boolean>;
  readonly env?: NodeJS.ProcessEnv;
  readonly now?: number;
  /** Where the one line goes (default: stderr). */
  readonly say?: (line: string) => void;
}

const DAY_MS = 86_400_000;
const LIST_HOST = "https://binaries.soliditylang.org";

/** Hardhat's name for this machine's native compiler builds, if solc publishes any. */
function nativePlatform(): string | undefined {
  if (process.arch !== "x64") return undefined;
  if (process.platform === "linux") return "linux-amd64";
  if (process.platform === "darwin") return "macosx-amd64";
  if (process.platform === "win32") return "windows-amd64";
  return undefined;
}

/** The platform's user cache folder, as Hardhat's global-dir resolves it (env-paths "hardhat-nodejs"). */
function defaultCompilersDir(env: NodeJS.ProcessEnv): string {
  const home = homedir();
  const base =
    process.platform === "darwin"
      ? join(home, "Library", "Caches")
      : process.platform === "win32"
        ? (env.LOCALAPPDATA ?? join(home, "AppData", "Local"))
        : (env.XDG_CACHE_HOME ?? join(home, ".cache"));
  return join(base, "hardhat-nodejs", "compilers-v3");
}

async function fetchProbe(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(2_000) });
    return response.ok;
  } catch {
    return false;
  }
}

function wasm(version: string, reason: string): SolcChoice {
  const require = createRequire(import.meta.url);
  return { version, path: require.resolve("solc/soljson.js"), kind: "wasm", reason };
}

/** Decides (or recalls) which solc `version` runs; see SolcChoice. */
export async function chooseSolc(version: string, options: SolcChoiceOptions): Promise<SolcChoice> {
  const env = options.env ?? process.env;
  const forced = env.DEVICETRUST_SOLC;
  if (forced === "wasm") return wasm(version, "DEVICETRUST_SOLC=wasm");
  if (forced === "native") return { version, kind: "native", reason: "DEVICETRUST_SOLC=native" };
  if (forced !== undefined && forced !== "") {
    throw new Error(`DEVICETRUST_SOLC must be "native" or "wasm", not "${forced}"`);
  }
  const now = options.now ?? Date.now();
  const memory = join(options.cacheDir, "solc-compiler.json");
  try {
    const saved = JSON.parse(await readFile(memory, "utf8")) as {
      version?: string;
      kind?: string;
      at?: number;
    };
    if (saved.version === version && typeof saved.at === "number" && now - saved.at < DAY_MS) {
      if (saved.kind === "native") return { version, kind: "native", reason: "decided earlier" };
      if (saved.kind === "wasm") return wasm(version, "decided earlier");
    }
  } catch {
    // Nothing remembered yet (or unreadable): decide now.
  }
  const platform = nativePlatform();
  let choice: SolcChoice;
  if (platform === undefined) {
    choice = wasm(version, `no native solc build for ${process.platform}-${process.arch}`);
  } else {
    const dir = join(options.compilersDir ?? defaultCompilersDir(env), platform);
    const cached = existsSync(dir)
      ? (await readdir(dir)).some(
          (f) => f.includes(`v${version}+`) && !f.endsWith(".does.not.work"),
        )
      : false;
    if (cached) {
      choice = { version, kind: "native", reason: `native solc ${version} is in ${dir}` };
    } else if (await (options.probe ?? fetchProbe)(`${LIST_HOST}/${platform}/list.json`)) {
      choice = { version, kind: "native", reason: `${LIST_HOST} answers: Hardhat downloads it` };
    } else {
      choice = wasm(version, `${LIST_HOST} is unreachable`);
      (options.say ?? ((line: string) => process.stderr.write(`${line}\n`)))(
        `solc ${version}: the native compiler cannot be fetched (${LIST_HOST} is unreachable): building with ` +
          `WebAssembly solc from the npm solc package (slower; DEVICETRUST_SOLC=native|wasm chooses)`,
      );
    }
  }
  // Written aside and renamed: the many Hardhat processes a test run starts never read half a file.
  await mkdir(dirname(memory), { recursive: true });
  const aside = `${memory}.${String(process.pid)}`;
  await writeFile(aside, JSON.stringify({ version, kind: choice.kind, at: now }));
  await rename(aside, memory);
  return choice;
}
