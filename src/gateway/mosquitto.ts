import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";
import { connectAsync } from "mqtt";

/**
 * Debian's Mosquitto as a process of its own, for the tests and the gateway bench (an operator runs it
 * as a service with config/mosquitto.conf).
 */

export const MOSQUITTO = "/usr/sbin/mosquitto";

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The configuration the project ships (config/mosquitto.conf) with what a test or bench must change: the
 * listener's port, the persistence folder, and the user (Mosquitto started as root drops to the
 * "mosquitto" user, which cannot write a temp folder; as another user the line has no effect).
 */
export function shippedConfig(port: number, persistenceDir: string): string {
  const shipped = readFileSync(join(process.cwd(), "config/mosquitto.conf"), "utf8");
  return configWith(shipped, port, persistenceDir);
}

/**
 * A Mosquitto configuration (`shipped`'s text) with the listener's port, the persistence folder, the
 * user (see shippedConfig) and any other `directives` it has replaced by the values given.
 */
export function configWith(
  shipped: string,
  port: number,
  persistenceDir: string,
  directives: Readonly<Record<string, string>> = {},
): string {
  const lines = shipped.split("\n");
  const replace = (directive: string, value: string): void => {
    const i = lines.findIndex((l) => l.startsWith(`${directive} `));
    if (i < 0) throw new Error(`the Mosquitto configuration has no ${directive} line`);
    lines[i] = `${directive} ${value}`;
  };
  replace("listener", `${String(port)} 127.0.0.1`);
  replace(
    "persistence_location",
    persistenceDir.endsWith("/") ? persistenceDir : `${persistenceDir}/`,
  );
  for (const [directive, value] of Object.entries(directives)) replace(directive, value);
  lines.push(`user ${userInfo().username}`);
  return lines.join("\n");
}

/** A Mosquitto process on loopback, restartable on the same port and configuration. */
export class MosquittoProcess {
  readonly url: string;
  private readonly confPath: string;
  private child: ChildProcess | undefined;
  private stderr = "";

  private constructor(confPath: string, port: number) {
    this.confPath = confPath;
    this.url = `mqtt://127.0.0.1:${String(port)}`;
  }

  /** Writes `config` to `dir`/mosquitto.conf and starts Mosquitto on it (`port` must be its listener's). */
  static async start(dir: string, port: number, config: string): Promise<MosquittoProcess> {
    const confPath = join(dir, "mosquitto.conf");
    await writeFile(confPath, config);
    const broker = new MosquittoProcess(confPath, port);
    await broker.restart();
    return broker;
  }

  /** Starts the process (again) and waits until it accepts connections. */
  async restart(): Promise<void> {
    if (this.running) throw new Error("mosquitto is running: kill it first");
    this.stderr = "";
    const child = spawn(MOSQUITTO, ["-c", this.confPath], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    this.child = child;
    const end = Date.now() + 10_000;
    for (;;) {
      try {
        const probe = await connectAsync(this.url, { reconnectPeriod: 0, connectTimeout: 500 });
        await probe.endAsync();
        return;
      } catch (err: unknown) {
        if (Date.now() > end || child.exitCode !== null) {
          throw new Error(`mosquitto did not start: ${this.stderr}`, { cause: err });
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /** The process id (undefined before the first start). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child?.exitCode === null && this.child.signalCode === null;
  }

  /** Sends `signal` (e.g. SIGUSR1: save a snapshot now) without waiting for anything. */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** Sends `signal` and waits until the process has exited. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    await exited;
  }
}
