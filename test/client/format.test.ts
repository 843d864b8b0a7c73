import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  formatHuman,
  formatJson,
  formatTable,
  resolveRegistryAddress,
} from "../../src/client/index.js";
import { tempDir } from "./fixture.js";

describe("client", function () {
  describe("formatJson", function () {
    it("writes bigint as decimal strings, bytes as hex, drops undefined, keeps key order", function () {
      const text = formatJson({
        b: 2n ** 70n,
        a: new Uint8Array([1, 255]),
        skip: undefined,
        n: null,
        list: [1n],
      });
      assert.equal(
        text,
        '{\n  "b": "1180591620717411303424",\n  "a": "0x01ff",\n  "n": null,\n  "list": [\n    "1"\n  ]\n}',
      );
    });
  });

  describe("formatHuman", function () {
    it("aligns key: value lines and dots nested keys", function () {
      assert.equal(
        formatHuman({ deviceId: "0xab", gasUsed: 71234n, pending: null, tx: { hash: "0x1" } }),
        ["deviceId: 0xab", "gasUsed:  71234", "pending:  -", "tx.hash:  0x1"].join("\n"),
      );
    });

    it("prints a list of records as a table", function () {
      assert.equal(
        formatHuman([
          { id: "0xa", status: "Active" },
          { id: "0xbbb", status: "Revoked" },
        ]),
        ["id     status", "-----  -------", "0xa    Active", "0xbbb  Revoked"].join("\n"),
      );
      assert.equal(formatTable([]), "(none)");
    });
  });

  describe("resolveRegistryAddress", function () {
    it("prefers --registry, else reads Ignition's deployed_addresses.json for the chain", async function () {
      const { dir, cleanup } = await tempDir();
      try {
        const explicit = "0x" + "12".repeat(20);
        assert.equal(
          await resolveRegistryAddress({ explicit, chainId: 1n, ignitionDir: dir }),
          explicit,
        );
        await assert.rejects(
          resolveRegistryAddress({ chainId: 5n, ignitionDir: dir }),
          (err: unknown) => {
            assert.ok(err instanceof Error && "code" in err && err.code === "REGISTRY_NOT_FOUND");
            assert.match(
              err.message,
              /no DeviceRegistry deployment for chain 5 .*: deploy the system \(npx hardhat ignition deploy .*\) or pass --registry <address>/,
            );
            return true;
          },
        );
        const chainDir = join(dir, "deployments", "chain-5");
        await mkdir(chainDir, { recursive: true });
        const address = "0x" + "AB".repeat(20);
        await writeFile(
          join(chainDir, "deployed_addresses.json"),
          JSON.stringify({ "DeviceTrust#DeviceRegistry": address }),
        );
        assert.equal(
          await resolveRegistryAddress({ explicit: "", chainId: 5n, ignitionDir: dir }),
          address.toLowerCase(),
        );
        await assert.rejects(
          resolveRegistryAddress({ explicit: "0x12", chainId: 5n, ignitionDir: dir }),
          /--registry must be 20 bytes/,
        );
      } finally {
        await cleanup();
      }
    });

    it("reads a named deployment (--deployment-id), and never a folder for an in-process network", async function () {
      const { dir, cleanup } = await tempDir();
      try {
        const named = "0x" + "CD".repeat(20);
        const stale = "0x" + "EF".repeat(20);
        for (const [folder, address] of [
          ["sepolia-v2", named],
          // What a `hardhat node` deployment leaves behind: chain 31337, like the in-process network.
          ["chain-31337", stale],
        ] as const) {
          await mkdir(join(dir, "deployments", folder), { recursive: true });
          await writeFile(
            join(dir, "deployments", folder, "deployed_addresses.json"),
            JSON.stringify({ "DeviceTrust#DeviceRegistry": address }),
          );
        }
        const lookup = { chainId: 31_337n, ignitionDir: dir };
        assert.equal(
          await resolveRegistryAddress({ ...lookup, deploymentId: "sepolia-v2" }),
          named.toLowerCase(),
        );
        assert.equal(await resolveRegistryAddress(lookup), stale.toLowerCase(), "a node's own");
        await assert.rejects(
          resolveRegistryAddress({ ...lookup, inProcess: true }),
          /no DeviceRegistry address for the in-process network \(chain 31337\), which starts empty on every run: pass --registry <address>/,
        );
        await assert.rejects(
          resolveRegistryAddress({ ...lookup, deploymentId: "nope" }),
          /no DeviceRegistry deployment "nope"/,
        );
      } finally {
        await cleanup();
      }
    });
  });
});
