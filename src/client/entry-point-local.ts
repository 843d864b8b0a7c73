import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import {
  Contract,
  ContractFactory,
  concat,
  parseEther,
  type ContractRunner,
  type InterfaceAbi,
  type Signer,
} from "ethers";
import { ENTRY_POINT_V08, ENTRY_POINT_V08_SALT } from "./user-operation.js";
import type { Hex } from "../protocol/index.js";

/**
 * EntryPoint v0.8 and its sample account on a local chain, from the artifacts that
 * @account-abstraction/contracts 0.8.0 ships (compiled by eth-infinitism: the EntryPoint's init code is
 * byte for byte the one deployed on public chains, so CREATE2 puts it at ENTRY_POINT_V08). Used by the demo, the bench
 * and the tests on local chains.
 */

const require = createRequire(import.meta.url);

interface Artifact {
  readonly abi: InterfaceAbi;
  readonly bytecode: Hex;
}

export type AccountAbstractionArtifact =
  "EntryPoint" | "SimpleAccount" | "SimpleAccountFactory" | "SenderCreator";

export function accountAbstractionArtifact(name: AccountAbstractionArtifact): Artifact {
  const path = require.resolve(`@account-abstraction/contracts/artifacts/${name}.json`);
  return JSON.parse(readFileSync(path, "utf8")) as Artifact;
}

/**
 * The deterministic-deployment proxy (github.com/Arachnid/deterministic-deployment-proxy): its
 * presigned, chain-less deployment transaction, the one-off sender it recovers to, and the address
 * it creates. alto's own copy of this transaction is corrupted in 0.0.20 (its hex has "V"s), so the
 * proxy must be on the chain before alto starts.
 */
export const DETERMINISTIC_DEPLOYER = "0x4e59b44847b379578588920ca78fbf26c0b4956c";
const DETERMINISTIC_DEPLOYER_SIGNER = "0x3fab184622dc19b6109349b94811493bf2a45362";
const DETERMINISTIC_DEPLOYER_TX =
  "0xf8a58085174876e800830186a08080b853604580600e600039806000f350fe7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf31ba02222222222222222222222222222222222222222222222222222222222222222a02222222222222222222222222222222222222222222222222222222222222222";

/** Anything that can run raw JSON-RPC: an EIP-1193 provider's request, or ethers' send. */
export type JsonRpcSend = (method: string, params: unknown[]) => Promise<unknown>;

async function hasCode(send: JsonRpcSend, address: string): Promise<boolean> {
  const code = await send("eth_getCode", [address, "latest"]);
  return typeof code === "string" && code !== "0x";
}

async function mined(send: JsonRpcSend, hash: unknown): Promise<void> {
  const receipt = (await send("eth_getTransactionReceipt", [hash])) as {
    status?: string;
  } | null;
  if (receipt?.status !== "0x1") {
    throw new Error(`transaction ${String(hash)} failed or is not mined (automining expected)`);
  }
}

/**
 * Deploys the deterministic deployer (if absent) and EntryPoint v0.8 at its canonical address (if
 * absent) with `funder` paying; the chain must automine. Returns the EntryPoint's address.
 */
export async function deployEntryPointV08(funder: Signer, send: JsonRpcSend): Promise<Hex> {
  if (!(await hasCode(send, DETERMINISTIC_DEPLOYER))) {
    // 100k gas at 100 gwei: what the presigned transaction costs its one-off sender.
    await (
      await funder.sendTransaction({ to: DETERMINISTIC_DEPLOYER_SIGNER, value: parseEther("0.01") })
    ).wait();
    await mined(send, await send("eth_sendRawTransaction", [DETERMINISTIC_DEPLOYER_TX]));
  }
  if (!(await hasCode(send, ENTRY_POINT_V08))) {
    const tx = await funder.sendTransaction({
      to: DETERMINISTIC_DEPLOYER,
      data: concat([ENTRY_POINT_V08_SALT, accountAbstractionArtifact("EntryPoint").bytecode]),
      // ~5.0M measured; the estimate of a CREATE2 through the proxy is not always enough.
      gasLimit: 6_000_000n,
    });
    await tx.wait();
    if (!(await hasCode(send, ENTRY_POINT_V08))) {
      throw new Error(
        `EntryPoint v0.8 is not at ${ENTRY_POINT_V08} after the CREATE2 deployment: is @account-abstraction/contracts 0.8.0 installed?`,
      );
    }
  }
  return ENTRY_POINT_V08;
}

export function entryPointAt(runner: ContractRunner, address: Hex = ENTRY_POINT_V08): Contract {
  return new Contract(address, accountAbstractionArtifact("EntryPoint").abi, runner);
}

/** A SimpleAccountFactory (v0.8 sample) for `entryPoint`, deployed by `deployer`. */
export async function deploySimpleAccountFactory(
  deployer: Signer,
  entryPoint: Hex = ENTRY_POINT_V08,
): Promise<Contract> {
  const { abi, bytecode } = accountAbstractionArtifact("SimpleAccountFactory");
  const factory = await new ContractFactory(abi, bytecode, deployer).deploy(entryPoint);
  await factory.waitForDeployment();
  return new Contract(await factory.getAddress(), abi, deployer);
}
