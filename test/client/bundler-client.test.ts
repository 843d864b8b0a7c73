import assert from "node:assert/strict";
import {
  BundlerClient,
  BundlerError,
  decodeBundlerError,
} from "../../src/client/bundler-client.js";
import { ENTRY_POINT_V08, type UserOperation } from "../../src/client/user-operation.js";
import type { Hex } from "../../src/protocol/index.js";

/** A fetch that answers each request with the next of `replies` and records what it was asked. */
function fakeFetch(replies: (() => Response)[]): { fetch: typeof fetch; bodies: unknown[] } {
  const bodies: unknown[] = [];
  const fake = (_url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    bodies.push(JSON.parse(typeof init?.body === "string" ? init.body : "null"));
    const next = replies.shift();
    if (next === undefined) throw new Error("no more replies");
    return Promise.resolve(next());
  };
  return { fetch: fake, bodies };
}

const json =
  (body: unknown, status = 200) =>
  () =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

const HASH: Hex = `0x${"cd".repeat(32)}`;
const op: UserOperation = {
  sender: "0x1111111111111111111111111111111111111111",
  nonce: 0n,
  callData: "0x",
  callGasLimit: 1n,
  verificationGasLimit: 2n,
  preVerificationGas: 3n,
  maxFeePerGas: 4n,
  maxPriorityFeePerGas: 5n,
  signature: "0x",
};

async function rejection(promise: Promise<unknown>): Promise<BundlerError> {
  try {
    await promise;
  } catch (err: unknown) {
    assert.ok(err instanceof BundlerError, `not a BundlerError: ${String(err)}`);
    return err;
  }
  assert.fail("expected a BundlerError");
}

describe("client", function () {
  describe("BundlerClient", function () {
    it("sends eth_sendUserOperation with the RPC form and the EntryPoint", async function () {
      const { fetch, bodies } = fakeFetch([json({ jsonrpc: "2.0", id: 1, result: HASH })]);
      const client = new BundlerClient("http://bundler", ENTRY_POINT_V08, { fetch });
      assert.equal(await client.sendUserOperation(op), HASH);
      const body = bodies[0] as { method: string; params: [Record<string, unknown>, string] };
      assert.equal(body.method, "eth_sendUserOperation");
      assert.equal(body.params[0].callGasLimit, "0x1");
      assert.equal(body.params[1], ENTRY_POINT_V08);
    });

    it("decodes an EntryPoint rejection into a code and advice (-32500, AA21)", async function () {
      const { fetch } = fakeFetch([
        json({
          jsonrpc: "2.0",
          id: 1,
          error: {
            code: -32500,
            message: "UserOperation reverted with reason: AA21 didn't pay prefund",
          },
        }),
      ]);
      const err = await rejection(
        new BundlerClient("http://bundler", ENTRY_POINT_V08, { fetch }).sendUserOperation(op),
      );
      assert.equal(err.code, "BUNDLER_REJECTED_BY_ACCOUNT");
      assert.equal(err.rpcCode, -32500);
      assert.equal(err.entryPointCode, "AA21");
      assert.match(err.message, /send it ETH/);
    });

    it("says when a rule was broken (-32502) and keeps the bundler's data", function () {
      const err = decodeBundlerError("eth_sendUserOperation", {
        code: -32502,
        message: "account has forbidden read from 0xabc slot 0x0",
        data: { account: "0xabc" },
      });
      assert.equal(err.code, "BUNDLER_RULE_VIOLATION");
      assert.deepEqual(err.data, { account: "0xabc" });
      assert.match(err.message, /ERC-7562/);
    });

    it("reads alto's HTTP 500 errors, which have no code, down to the details line", async function () {
      const { fetch } = fakeFetch([
        json(
          {
            jsonrpc: "2.0",
            id: 1,
            error: {
              message:
                "Invalid parameters were provided to the RPC method.\nDouble check.\n\nURL: http://x\nRequest body: {}\n\nDetails: JS Tracer is not enabled\nVersion: viem@2",
            },
          },
          500,
        ),
      ]);
      const err = await rejection(
        new BundlerClient("http://bundler", ENTRY_POINT_V08, { fetch }).sendUserOperation(op),
      );
      assert.equal(err.code, "BUNDLER_ERROR");
      assert.equal(err.rpcCode, undefined);
      assert.match(err.message, /Details: JS Tracer is not enabled/);
      assert.doesNotMatch(err.message, /Request body/);
    });

    it("tells an unreachable bundler from a bad answer", async function () {
      const down = (() => Promise.reject(new TypeError("fetch failed"))) as typeof fetch;
      const unreachable = await rejection(
        new BundlerClient("http://bundler", ENTRY_POINT_V08, { fetch: down }).chainId(),
      );
      assert.equal(unreachable.code, "BUNDLER_UNREACHABLE");
      assert.match(unreachable.message, /is it running/);

      const { fetch } = fakeFetch([() => new Response("<html>502</html>", { status: 502 })]);
      const bad = await rejection(
        new BundlerClient("http://bundler", ENTRY_POINT_V08, { fetch }).chainId(),
      );
      assert.equal(bad.code, "BUNDLER_BAD_RESPONSE");
    });

    it("waits for a receipt, polling while the bundler answers null", async function () {
      const receipt = {
        userOpHash: HASH,
        entryPoint: ENTRY_POINT_V08,
        sender: op.sender,
        nonce: "0x0",
        actualGasCost: "0x10",
        actualGasUsed: "0x8",
        success: true,
        logs: [],
        receipt: { transactionHash: HASH, blockNumber: "0x2" },
      };
      const { fetch } = fakeFetch([
        json({ jsonrpc: "2.0", id: 1, result: null }),
        json({ jsonrpc: "2.0", id: 2, result: receipt }),
      ]);
      const client = new BundlerClient("http://bundler", ENTRY_POINT_V08, { fetch });
      const got = await client.waitForUserOperationReceipt(HASH, { pollMs: 1 });
      assert.equal(got.success, true);
      assert.equal(got.blockNumber, 2n);

      const never = fakeFetch([
        json({ jsonrpc: "2.0", id: 1, result: null }),
        json({ jsonrpc: "2.0", id: 2, result: null }),
      ]);
      const timeout = await rejection(
        new BundlerClient("http://bundler", ENTRY_POINT_V08, {
          fetch: never.fetch,
        }).waitForUserOperationReceipt(HASH, { timeoutMs: 0, pollMs: 1 }),
      );
      assert.equal(timeout.code, "BUNDLER_TIMEOUT");
    });
  });
});
