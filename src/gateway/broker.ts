import { createServer, type AddressInfo, type Server } from "node:net";
import { Aedes } from "aedes";

/** An MQTT broker inside this process (aedes, MQTT 3.1.1, in-memory sessions) on a TCP port. */
export interface EmbeddedBroker {
  readonly broker: Aedes;
  readonly port: number;
  /** mqtt://host:port, for clients. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts aedes on `host` (default 127.0.0.1) and `port` (default 1883; 0 picks a free one). Sessions
 * and queued QoS 1 messages live in memory: they survive a gateway restart, not a broker restart.
 */
export async function startEmbeddedBroker(
  options: { readonly port?: number; readonly host?: string } = {},
): Promise<EmbeddedBroker> {
  const host = options.host ?? "127.0.0.1";
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 1883, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err: unknown) {
    // The broker's heartbeat timer would keep the process alive with nothing bound (a port in use).
    await new Promise<void>((resolve) => {
      broker.close(() => {
        resolve();
      });
    });
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  return {
    broker,
    port,
    url: `mqtt://${host}:${String(port)}`,
    close: async () => {
      await new Promise<void>((resolve) => {
        broker.close(() => {
          resolve();
        });
      });
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}
