import assert from "node:assert/strict";
import { network } from "hardhat";
import { httpJsonRpc, serveJsonRpc, type JsonRpcBridge } from "../../src/client/alto-local.js";

describe("serveJsonRpc: an in-process chain on loopback JSON-RPC (what the demo's alto reads)", function () {
  let bridge: JsonRpcBridge;
  let provider: Awaited<ReturnType<typeof network.create>>["provider"];

  before(async function () {
    ({ provider } = await network.create("osaka"));
    bridge = await serveJsonRpc(provider);
  });

  after(async function () {
    await bridge.close();
  });

  it("answers single requests as the provider does, on 127.0.0.1", async function () {
    assert.match(bridge.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const send = httpJsonRpc(bridge.url);
    assert.equal(await send("eth_chainId", []), await provider.request({ method: "eth_chainId" }));
    const [from] = (await send("eth_accounts", [])) as string[];
    const hash = (await send("eth_sendTransaction", [{ from, to: from, value: "0x1" }])) as string;
    const receipt = (await send("eth_getTransactionReceipt", [hash])) as { status: string };
    assert.equal(receipt.status, "0x1");
  });

  it("answers a batch in order, and keeps an error's code, message and revert data", async function () {
    const response = await fetch(bridge.url, {
      method: "POST",
      body: JSON.stringify([
        { jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] },
        { jsonrpc: "2.0", id: 2, method: "eth_noSuchMethod", params: [] },
        // Code that reverts with the 4 bytes 0xdeadbeef (PUSH4, SHL 224, MSTORE, REVERT(0, 4)).
        {
          jsonrpc: "2.0",
          id: 3,
          method: "eth_call",
          params: [
            {
              data: "0x63deadbeef60e01b60005260046000fd",
            },
            "latest",
          ],
        },
      ]),
    });
    const answers = (await response.json()) as {
      id: number;
      result?: unknown;
      error?: { code: number; message: string; data?: unknown };
    }[];
    assert.deepEqual(
      answers.map((a) => a.id),
      [1, 2, 3],
    );
    assert.match(String(answers[0]?.result), /^0x[0-9a-f]+$/);
    // The provider's own code for an unknown method (EDR: -32004), not one the bridge makes up.
    const own = await provider.request({ method: "eth_noSuchMethod" }).then(
      () => undefined,
      (err: unknown) => (err as { code?: number }).code,
    );
    assert.ok(own !== undefined);
    assert.equal(answers[1]?.error?.code, own);
    const reverted = answers[2]?.error;
    assert.ok(reverted !== undefined, "the reverting call is an error");
    assert.match(JSON.stringify(reverted.data), /deadbeef/);
  });

  it("answers a body that is not JSON with a parse error", async function () {
    const response = await fetch(bridge.url, { method: "POST", body: "{not json" });
    const answer = (await response.json()) as { error?: { code: number } };
    assert.equal(answer.error?.code, -32700);
  });

  it("frees its port when closed", async function () {
    const closing = await serveJsonRpc(provider);
    await closing.close();
    await assert.rejects(fetch(closing.url, { method: "POST", body: "{}" }));
  });
});
