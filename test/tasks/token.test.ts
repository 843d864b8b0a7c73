import assert from "node:assert/strict";
import hre from "hardhat";
import { Wallet, parseEther } from "ethers";
import { requireLocalChain } from "../../tasks/token/mint.js";
import { runTask } from "./run-task.js";

describe("tasks: token mint (local chains only)", function () {
  it("mints the mock token in token units (or --wei) to an account, defaulting to the sender", async function () {
    const { ethers } = await hre.network.getOrCreate();
    const [deployer] = await ethers.getSigners();
    const token = await ethers.deployContract("MockERC20", ["Energy Credit", "NRG"]);
    const address = await token.getAddress();
    const to = Wallet.createRandom().address;

    const minted = await runTask(["token", "mint"], {
      token: address,
      to,
      amount: "1.5",
      json: true,
    });
    assert.equal(minted.result.success, true, minted.stderr);
    assert.equal(await token.balanceOf(to), parseEther("1.5"));
    const json = JSON.parse(minted.stdout) as { amount: string; balance: string; to: string };
    assert.deepEqual(
      [json.amount, json.balance, json.to],
      ["1500000000000000000", "1500000000000000000", to],
    );

    const raw = await runTask(["token", "mint"], { token: address, amount: "7", wei: true });
    assert.equal(raw.result.success, true, raw.stderr);
    assert.equal(await token.balanceOf(deployer?.address ?? ""), 7n);
  });

  it("asks for --token in process (no deployment folder is read there) and refuses a bad amount", async function () {
    const none = await runTask(["token", "mint"], { amount: "1" });
    assert.equal(none.result.success, false);
    assert.match(none.stderr, /in-process network .* pass --token <address>/);
    const { ethers } = await hre.network.getOrCreate();
    const token = await ethers.deployContract("MockERC20", ["Energy Credit", "NRG"]);
    const bad = await runTask(["token", "mint"], {
      token: await token.getAddress(),
      amount: "1.5x",
    });
    assert.equal(bad.result.success, false);
    assert.match(bad.stderr, /--amount/);
  });

  it("refuses a public chain: tokens there are real", function () {
    const http = { type: "http" } as Parameters<typeof requireLocalChain>[1];
    assert.throws(
      () => requireLocalChain("sepolia", http, 11_155_111n),
      /token mint runs on local chains only .*network "sepolia" is chain 11155111, where tokens are real/,
    );
    assert.doesNotThrow(() => requireLocalChain("localhost", http, 31_337n));
    const edr = { type: "edr-simulated" } as Parameters<typeof requireLocalChain>[1];
    assert.doesNotThrow(() => requireLocalChain("osaka", edr, 1n));
  });
});
