import assert from "node:assert/strict";
import { createServer } from "node:net";
import { Wallet, parseEther, type BaseWallet, type Contract } from "ethers";
import { BundlerClient, BundlerError } from "../../src/client/bundler-client.js";
import {
  DUMMY_ECDSA_SIGNATURE,
  packUserOperation,
  userOperationHash,
  type UserOperation,
} from "../../src/client/user-operation.js";
import type { Hex } from "../../src/protocol/index.js";
import { EXECUTOR, startAlto } from "../../src/client/alto-local.js";
import { startBundlerChain, type BundlerChain } from "../support/bundler.js";
import { deploySimpleAccountFactory, entryPointAt } from "../../src/client/entry-point-local.js";
import { checkUserOperationValidation, formatViolations } from "../support/erc7562.js";
import {
  counterfactualAccount,
  entryPointHash,
  executeCall,
  signUserOperation,
} from "../support/simple-account.js";

async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("ERC-4337 through a real bundler (alto 0.0.20 on hardhat node)", function () {
  this.timeout(120_000);
  let chain: BundlerChain;
  let client: BundlerClient;
  let factory: Contract;

  before(async function () {
    chain = await startBundlerChain();
    const t = chain.timings;
    console.log(
      `      (started: hardhat node ${t.node} ms, EntryPoint v0.8 ${t.entryPoint} ms, alto ${t.alto} ms)`,
    );
    client = new BundlerClient(chain.bundlerUrl, chain.entryPoint);
    factory = await deploySimpleAccountFactory(chain.funder, chain.entryPoint);
  });

  after(async function () {
    await chain.stop();
  });

  /** estimate → sign → ERC-7562 check → eth_sendUserOperation → receipt. */
  async function submit(
    draft: UserOperation,
    owner: BaseWallet,
  ): Promise<{ op: UserOperation; hash: Hex; violations: string }> {
    const estimate = await client.estimateUserOperationGas(draft);
    const op = signUserOperation(
      {
        ...draft,
        callGasLimit: estimate.callGasLimit,
        verificationGasLimit: estimate.verificationGasLimit,
        preVerificationGas: estimate.preVerificationGas,
      },
      owner,
      chain.entryPoint,
      chain.chainId,
    );
    // Our EIP-712 hash is the EntryPoint's.
    const { packed, hash } = await entryPointHash(entryPointAt(chain.provider), op);
    assert.equal(userOperationHash(op, chain.entryPoint, chain.chainId), hash);

    // alto runs without safe mode on EDR: the same ERC-7562 rules, checked from EDR's struct logs.
    const report = await checkUserOperationValidation(chain.send, packed, {
      entryPoint: chain.entryPoint,
      bundler: EXECUTOR,
    });
    const violations = formatViolations(report);
    console.log(
      `      (ERC-7562, by test/support/erc7562.ts since alto's safe mode cannot trace on EDR: ${report.entities.join(" + ")} validated, violations: ${violations})`,
    );

    const sent = await client.sendUserOperation(op);
    assert.equal(sent, hash, "alto's userOpHash is the EntryPoint's");
    return { op, hash, violations };
  }

  it("deploys a funded counterfactual SimpleAccount with its first UserOperation, then sends a second without initCode", async function () {
    assert.deepEqual(await client.supportedEntryPoints(), [chain.entryPoint]);
    assert.equal(await client.chainId(), chain.chainId);

    const owner = Wallet.createRandom();
    const account = await counterfactualAccount(factory, owner.address);
    assert.equal(await chain.provider.getCode(account.sender), "0x");
    await (
      await chain.funder.sendTransaction({ to: account.sender, value: parseEther("1") })
    ).wait();
    const recipient = Wallet.createRandom().address as Hex;
    const fees = await client.userOperationGasPrice();
    const draft = (nonce: bigint): UserOperation => ({
      sender: account.sender,
      nonce,
      callData: executeCall(recipient, parseEther("0.1")),
      callGasLimit: 0n,
      verificationGasLimit: 0n,
      preVerificationGas: 0n,
      ...fees,
      signature: DUMMY_ECDSA_SIGNATURE,
    });

    const first = await submit(
      { ...draft(0n), factory: account.factory, factoryData: account.factoryData },
      owner,
    );
    assert.equal(first.violations, "none");
    const receipt = await client.waitForUserOperationReceipt(first.hash);
    assert.equal(receipt.success, true);
    assert.equal(receipt.sender, account.sender);
    assert.equal(receipt.nonce, 0n);
    assert.ok(receipt.actualGasCost > 0n);
    assert.notEqual(await chain.provider.getCode(account.sender), "0x");
    assert.equal(await chain.provider.getBalance(recipient), parseEther("0.1"));

    const entryPoint = entryPointAt(chain.provider);
    const nonce = (await entryPoint.getFunction("getNonce")(account.sender, 0n)) as bigint;
    assert.equal(nonce, 1n);
    const second = await submit(draft(nonce), owner);
    assert.equal(second.violations, "none");
    assert.equal(packUserOperation(second.op).initCode, "0x");
    const receipt2 = await client.waitForUserOperationReceipt(second.hash);
    assert.equal(receipt2.success, true);
    assert.equal(receipt2.nonce, 1n);
    assert.equal(await chain.provider.getBalance(recipient), parseEther("0.2"));
  });

  it("rejects a wrongly signed operation with a BundlerError that says what to do", async function () {
    const owner = Wallet.createRandom();
    const account = await counterfactualAccount(factory, owner.address, 7n);
    await (
      await chain.funder.sendTransaction({ to: account.sender, value: parseEther("1") })
    ).wait();
    const op = signUserOperation(
      {
        ...account,
        nonce: 0n,
        callData: "0x",
        callGasLimit: 50_000n,
        verificationGasLimit: 500_000n,
        preVerificationGas: 60_000n,
        ...(await client.userOperationGasPrice()),
        signature: "0x",
      },
      Wallet.createRandom(), // not the owner
      chain.entryPoint,
      chain.chainId,
    );
    await assert.rejects(client.sendUserOperation(op), (err: unknown) => {
      assert.ok(err instanceof BundlerError);
      assert.equal(err.code, "BUNDLER_INVALID_SIGNATURE");
      assert.equal(err.rpcCode, -32507);
      assert.match(err.message, /AA24 .* sign this operation's userOpHash/);
      return true;
    });
  });

  it("cannot run alto's safe mode on EDR: its JavaScript tracer is refused (-32602)", async function () {
    // The call alto's safe mode makes (debug_traceCall with a JS tracer), straight to the node.
    await assert.rejects(
      chain.send("debug_traceCall", [
        { to: chain.entryPoint, data: "0x" },
        "latest",
        {
          tracer: "{ step: function() {}, fault: function() {}, result: function() { return 1; } }",
        },
      ]),
      (err: unknown) => {
        assert.match(String(err), /JS Tracer is not enabled/);
        assert.equal((err as { code?: number }).code, -32602);
        return true;
      },
    );
    // And through alto: with --safe-mode, eth_sendUserOperation fails on that error.
    const alto = await startAlto(chain.rpcUrl, { entryPoint: chain.entryPoint, safeMode: true });
    try {
      const owner = Wallet.createRandom();
      const account = await counterfactualAccount(factory, owner.address, 8n);
      await (
        await chain.funder.sendTransaction({ to: account.sender, value: parseEther("1") })
      ).wait();
      const safe = new BundlerClient(alto.url, chain.entryPoint);
      const draft: UserOperation = {
        ...account,
        nonce: 0n,
        callData: "0x",
        callGasLimit: 0n,
        verificationGasLimit: 0n,
        preVerificationGas: 0n,
        ...(await safe.userOperationGasPrice()),
        signature: DUMMY_ECDSA_SIGNATURE,
      };
      const estimate = await safe.estimateUserOperationGas(draft); // estimation needs no tracer
      const op = signUserOperation(
        { ...draft, ...estimate },
        owner,
        chain.entryPoint,
        chain.chainId,
      );
      await assert.rejects(safe.sendUserOperation(op), /JS Tracer is not enabled/);
    } finally {
      await alto.stop();
    }
    assert.equal(running(alto.pid), false);
  });

  it("stops both processes by pid and frees their ports", async function () {
    await chain.stop();
    assert.equal(running(chain.pids.alto), false);
    assert.equal(running(chain.pids.node), false);
    assert.equal(await portIsFree(chain.ports.alto), true);
    assert.equal(await portIsFree(chain.ports.node), true);
  });
});
