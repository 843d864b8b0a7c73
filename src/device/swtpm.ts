import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeviceTrustError } from "../protocol/index.js";

/**
 * A TPM 2.0 simulator (swtpm) on loopback, for tests and the demo: a fresh TPM state in a scratch folder,
 * its TCTI for tpm2-tools, stopped by its pid. Not shipped (tsconfig.build.json excludes it).
 */
export interface SoftwareTpm {
  /** TPM2TOOLS_TCTI for this TPM. */
  readonly tcti: string;
  readonly port: number;
  readonly pid: number;
  /** The scratch folder: the TPM state (tools may keep their files in a folder inside). */
  readonly dir: string;
  /** Stops swtpm (SIGTERM, SIGKILL after 5 s) and deletes the folder. */
  stop(): Promise<void>;
}

export class SwtpmUnavailableError extends DeviceTrustError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super("SWTPM_UNAVAILABLE", `the TPM simulator is not usable: ${reason}`, options);
    this.name = "SwtpmUnavailableError";
  }
}

/** Listens on `port` (0: any) on loopback and closes again; the port it got, or null if taken. */
async function probePort(port: number): Promise<number | null> {
  const server = createServer();
  const got = await new Promise<number | null>((resolve) => {
    server.once("error", () => resolve(null));
    server.listen(port, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
  if (got !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  return got;
}

/** Two free consecutive ports: the swtpm TCTI finds the control channel at the server port + 1. */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await probePort(0);
    if (port !== null && port < 65_535 && (await probePort(port + 1)) !== null) return port;
  }
  throw new SwtpmUnavailableError("no two consecutive free ports on 127.0.0.1");
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Starts swtpm (`apt-get install swtpm swtpm-tools tpm2-tools libtss2-tcti-swtpm0`) on two free ports. */
export async function startSoftwareTpm(timeoutMs = 10_000): Promise<SoftwareTpm> {
  const dir = await mkdtemp(join(tmpdir(), "devicetrust-swtpm-"));
  const port = await freePortPair();
  const ctrl = port + 1;
  const child = spawn(
    "swtpm",
    [
      ...["socket", "--tpm2", "--tpmstate", `dir=${dir}`],
      ...["--server", `type=tcp,port=${String(port)},bindaddr=127.0.0.1`],
      ...["--ctrl", `type=tcp,port=${String(ctrl)},bindaddr=127.0.0.1`],
      ...["--flags", "not-need-init,startup-clear"],
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const stop = async (): Promise<void> => {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  const spawned = new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  try {
    await spawned;
  } catch (cause) {
    await rm(dir, { recursive: true, force: true });
    throw new SwtpmUnavailableError("swtpm is not installed (apt-get install swtpm swtpm-tools)", {
      cause,
    });
  }
  const deadline = Date.now() + timeoutMs;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new SwtpmUnavailableError(
        `swtpm did not listen on 127.0.0.1:${String(port)}: ${stderr.trim()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    tcti: `swtpm:host=127.0.0.1,port=${String(port)}`,
    port,
    pid: child.pid ?? 0,
    dir,
    stop,
  };
}
