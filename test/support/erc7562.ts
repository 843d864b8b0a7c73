import { Interface, ZeroAddress, dataSlice, getAddress, id, keccak256, toQuantity } from "ethers";
import {
  packedUserOperationTuple,
  type PackedUserOperation,
} from "../../src/client/user-operation.js";
import type { Hex } from "../../src/protocol/index.js";
import {
  accountAbstractionArtifact,
  type JsonRpcSend,
} from "../../src/client/entry-point-local.js";

/**
 * The ERC-7562 validation rules a bundler's safe mode enforces, checked from EDR's default struct
 * logger (debug_traceCall with memory), because alto's safe mode needs a JavaScript tracer that EDR
 * refuses ("JS Tracer is not enabled"). It traces EntryPoint v0.8's handleOps for one operation and
 * looks at everything before the EntryPoint's BeforeExecution event: the validation phase.
 *
 * Checked: storage (STO-010, STO-021/022, STO-031/032/033; TLOAD/TSTORE count as storage, OP-070), the
 * blocked opcodes (OP-011, plus BLOBHASH and BLOBBASEFEE as alto bans them), GAS not followed by a
 * CALL (OP-012), CREATE2 only once and only in the factory (OP-031), BALANCE/SELFBALANCE only when
 * staked (OP-080), a context returned by an unstaked paymaster (EREP-050: its postOp runs after
 * execution, so only a staked paymaster may keep state for it). Not checked: OOG reverts (OP-020), calls to code-less addresses (OP-041), calls
 * into the EntryPoint (OP-05x), value calls (OP-061), precompiles (OP-062), code hashes (COD-010),
 * and the mempool-wide rules (STO-040/041, reputation). No describe() here: mocha loads this file
 * and finds no tests.
 */

export type Entity = "factory" | "account" | "paymaster";

export interface Violation {
  /** The ERC-7562 rule, e.g. "STO-033" or "OP-011". */
  readonly rule: string;
  readonly entity: Entity;
  readonly message: string;
}

/** One storage slot an entity's validation touched. */
export interface StorageAccess {
  readonly entity: Entity;
  /** The contract whose storage it is (undefined: a contract whose creation failed). */
  readonly contract: Hex | undefined;
  readonly slot: Hex;
  readonly write: boolean;
  readonly transient: boolean;
}

/** A step of the default struct logger (geth's shape, which EDR follows); stack bottom first. */
export interface StructLog {
  readonly op: string;
  readonly depth: number;
  readonly stack?: readonly string[];
  readonly memory?: readonly string[];
}

export interface ValidationContext {
  readonly entryPoint: Hex;
  /** EntryPoint.senderCreator(): the EntryPoint calls it to run the factory. */
  readonly senderCreator: Hex;
  readonly sender: Hex;
  readonly factory?: Hex;
  readonly paymaster?: Hex;
  /** Which entities have enough stake in the EntryPoint (see checkUserOperationValidation). */
  readonly staked: Readonly<Partial<Record<Entity, boolean>>>;
}

export interface ValidationReport {
  readonly violations: readonly Violation[];
  /** Distinct slots touched, in trace order. */
  readonly storage: readonly StorageAccess[];
  /** The entities whose validation code ran (in order). */
  readonly entities: readonly Entity[];
  readonly context: ValidationContext;
}

/** OP-011 (0x44 is PREVRANDAO since the merge, DIFFICULTY before), with alto's BLOBHASH/BLOBBASEFEE. */
const BLOCKED = new Set([
  "ORIGIN",
  "GASPRICE",
  "BLOCKHASH",
  "COINBASE",
  "TIMESTAMP",
  "NUMBER",
  "PREVRANDAO",
  "DIFFICULTY",
  "GASLIMIT",
  "BASEFEE",
  "CREATE",
  "INVALID",
  "SELFDESTRUCT",
  "BLOBHASH",
  "BLOBBASEFEE",
]);
/** OP-080: staked entities only. */
const STAKED_ONLY = new Set(["BALANCE", "SELFBALANCE"]);
const CALLS = new Set(["CALL", "CALLCODE", "DELEGATECALL", "STATICCALL"]);
const STORAGE = new Set(["SLOAD", "SSTORE", "TLOAD", "TSTORE"]);
const BEFORE_EXECUTION = BigInt(id("BeforeExecution()"));
/** How far past keccak(A ‖ x) a slot is still A's (a struct or a static array there). */
const ASSOCIATED_RANGE = 128n;

/** The n-th stack item from the top. */
function peek(log: StructLog, n: number): bigint {
  const stack = log.stack;
  const item = stack?.[stack.length - 1 - n];
  if (item === undefined) {
    throw new Error(`${log.op} at depth ${log.depth}: stack too short (trace without stack?)`);
  }
  return BigInt(item);
}

function addressOf(word: bigint): Hex {
  return getAddress(`0x${(word & ((1n << 160n) - 1n)).toString(16).padStart(40, "0")}`) as Hex;
}

function word(value: bigint): Hex {
  return `0x${value.toString(16).padStart(64, "0")}`;
}

function memorySlice(log: StructLog, offset: bigint, size: bigint): string {
  if (log.memory === undefined) {
    throw new Error("KECCAK256 without memory in the trace: trace with { enableMemory: true }");
  }
  const memory = log.memory.map((w) => (w.startsWith("0x") ? w.slice(2) : w)).join("");
  // Bytes past the end of memory read as zero (the EVM expands memory with zeros).
  return memory.slice(Number(offset) * 2, Number(offset + size) * 2).padEnd(Number(size) * 2, "0");
}

/**
 * The length of the context in validatePaymasterUserOp's return data, abi.encode(bytes context, uint256
 * validationData), read from the memory that RETURN hands back.
 */
function returnedContextLength(log: StructLog): bigint {
  const size = peek(log, 1);
  if (size < 96n) return 0n; // not the ABI encoding of (bytes, uint256)
  const data = memorySlice(log, peek(log, 0), size);
  const offset = BigInt(`0x${data.slice(0, 64)}`);
  if (offset + 32n > size) return 0n;
  return BigInt(`0x${data.slice(Number(offset) * 2, Number(offset) * 2 + 64)}`);
}

/** Whose storage a frame touches: set later for a CREATE frame (its address is known on return). */
interface Owner {
  address: Hex | undefined;
}

interface Frame {
  readonly owner: Owner;
  readonly creates: boolean;
}

interface RawAccess {
  readonly entity: Entity;
  readonly owner: Owner;
  readonly slot: bigint;
  readonly write: boolean;
  readonly transient: boolean;
}

/**
 * The rule violations in a struct-log trace of EntryPoint.handleOps([op]) (the top frame is the
 * EntryPoint at depth 1). Pure: `context` says who is who and who is staked.
 */
export function analyzeValidationTrace(
  logs: readonly StructLog[],
  context: ValidationContext,
): ValidationReport {
  const same = (a: string | undefined, b: string | undefined): boolean =>
    a !== undefined && a.toLowerCase() === b?.toLowerCase();
  const entityAt = (target: Hex): Entity | undefined => {
    if (same(target, context.senderCreator)) return "factory";
    if (same(target, context.sender)) return "account";
    if (same(target, context.paymaster)) return "paymaster";
    return undefined;
  };

  const violations = new Map<string, Violation>();
  const flag = (rule: string, entity: Entity, message: string): void => {
    const key = `${rule}|${entity}|${message}`;
    if (!violations.has(key)) violations.set(key, { rule, entity, message });
  };

  const frames: Frame[] = [{ owner: { address: context.entryPoint }, creates: false }];
  const preimages: string[] = [];
  const accesses: RawAccess[] = [];
  const entities: Entity[] = [];
  let entity: Entity | undefined;
  let create2InFactory = 0;

  for (let i = 0; i < logs.length; i++) {
    const log = logs[i] as StructLog;
    // Back from a call or creation: a creation's new address is now on top of the caller's stack.
    while (frames.length > log.depth) {
      const done = frames.pop() as Frame;
      if (done.creates) {
        const created = peek(log, 0);
        done.owner.address = created === 0n ? undefined : addressOf(created);
      }
    }
    const frame = frames[frames.length - 1] as Frame;

    if (log.depth === 1) {
      // The EntryPoint's own code: it sets the phase by whom it calls, and ends validation.
      if (log.op === "LOG1" && peek(log, 2) === BEFORE_EXECUTION) break;
      if (log.op === "CALL" || log.op === "STATICCALL") {
        entity = entityAt(addressOf(peek(log, 1)));
        if (entity !== undefined && entities.at(-1) !== entity) entities.push(entity);
      }
    } else if (entity !== undefined) {
      const op = log.op;
      const staked = context.staked[entity] === true;
      if (BLOCKED.has(op)) {
        flag("OP-011", entity, `${entity} uses the blocked opcode ${op}`);
      } else if (STAKED_ONLY.has(op) && !staked) {
        flag("OP-080", entity, `unstaked ${entity} uses ${op} (staked entities only)`);
      } else if (op === "GAS" && !CALLS.has(logs[i + 1]?.op ?? "")) {
        flag("OP-012", entity, `${entity} uses GAS other than right before a *CALL`);
      } else if (op === "CREATE2") {
        if (entity !== "factory") {
          flag("OP-031", entity, `${entity} uses CREATE2 (only the factory, to deploy the sender)`);
        } else if (++create2InFactory > 1) {
          flag("OP-031", entity, "the factory uses CREATE2 more than once");
        }
      } else if (op === "RETURN" && entity === "paymaster" && log.depth === 2) {
        // The paymaster's own frame returning to the EntryPoint (a proxy's implementation returns deeper).
        if (!staked && returnedContextLength(log) > 0n) {
          flag(
            "EREP-050",
            entity,
            "unstaked paymaster returns a context (its postOp runs after execution): stake it",
          );
        }
      } else if (STORAGE.has(op)) {
        accesses.push({
          entity,
          owner: frame.owner,
          slot: peek(log, 0),
          write: op === "SSTORE" || op === "TSTORE",
          transient: op === "TLOAD" || op === "TSTORE",
        });
      } else if (op === "KECCAK256") {
        const size = peek(log, 1);
        // A mapping slot hashes at least one word; 512 bytes bounds what we keep (alto keeps < 512).
        if (size >= 32n && size < 512n) preimages.push(memorySlice(log, peek(log, 0), size));
      }
    }

    // Into a call or creation: a frame only when the next step runs one level deeper (calls to
    // precompiles and to code-less accounts run no steps).
    const next = logs[i + 1];
    if (next?.depth === log.depth + 1) {
      if (log.op === "CALL" || log.op === "STATICCALL") {
        frames.push({ owner: { address: addressOf(peek(log, 1)) }, creates: false });
      } else if (log.op === "DELEGATECALL" || log.op === "CALLCODE") {
        frames.push({ owner: frame.owner, creates: false });
      } else if (log.op === "CREATE" || log.op === "CREATE2") {
        frames.push({ owner: { address: undefined }, creates: true });
      }
    }
  }

  // keccak(A ‖ x) for every hashed preimage, by the address A its first word holds.
  const slotsOf = new Map<string, bigint[]>();
  for (const preimage of preimages) {
    const first = preimage.slice(0, 64);
    if (!first.startsWith("000000000000000000000000")) continue;
    const base = BigInt(keccak256(`0x${preimage}`));
    const key = `0x${first.slice(24)}`.toLowerCase();
    slotsOf.set(key, [...(slotsOf.get(key) ?? []), base]);
  }
  const associated = (slot: bigint, who: Hex | undefined): boolean => {
    if (who === undefined) return false;
    if (slot === BigInt(who)) return true;
    return (slotsOf.get(who.toLowerCase()) ?? []).some(
      (base) => slot >= base && slot < base + ASSOCIATED_RANGE,
    );
  };
  const entityAddress: Record<Entity, Hex | undefined> = {
    factory: context.factory,
    account: context.sender,
    paymaster: context.paymaster,
  };

  const storage = new Map<string, StorageAccess>();
  const writtenSlots = new Set<string>();
  for (const a of accesses) {
    if (a.write) writtenSlots.add(`${a.entity}|${String(a.owner.address)}|${a.slot}`);
  }
  for (const a of accesses) {
    const contract = a.owner.address;
    const slot = word(a.slot);
    const key = `${a.entity}|${String(contract)}|${slot}|${a.transient}`;
    const seen = storage.get(key);
    storage.set(key, {
      entity: a.entity,
      contract,
      slot,
      write: a.write || (seen?.write ?? false),
      transient: a.transient,
    });

    const where = `${contract ?? "a contract whose creation failed"} slot ${slot}`;
    const staked = context.staked[a.entity] === true;
    const requireStake = (rule: string, what: string): void => {
      if (!staked) flag(rule, a.entity, `unstaked ${a.entity} ${what} ${where}`);
    };
    const mine = entityAddress[a.entity];
    if (same(contract, context.sender)) continue; // STO-010: the account's own storage
    if (same(contract, context.entryPoint)) continue; // deposits; calls into it are other rules
    if (associated(a.slot, context.sender)) {
      // STO-021: fine once the account exists. STO-022: while it is being created, only the account
      // (or the paymaster) may, and only if the factory is staked; else the entity needs a stake.
      if (
        context.factory !== undefined &&
        !((a.entity === "account" || a.entity === "paymaster") && context.staked.factory === true)
      ) {
        requireStake("STO-022", "touches the sender's associated storage before it exists:");
      }
    } else if (associated(a.slot, mine)) {
      requireStake("STO-032", "touches storage associated with itself:");
    } else if (same(contract, mine)) {
      requireStake("STO-031", "touches its own storage:");
    } else if (!writtenSlots.has(`${a.entity}|${String(contract)}|${a.slot}`)) {
      requireStake("STO-033", "reads storage it is not associated with:");
    } else {
      flag(
        "STO-033",
        a.entity,
        `${a.entity} writes storage it is not associated with (forbidden even when staked): ${where}`,
      );
    }
  }

  return {
    violations: [...violations.values()],
    storage: [...storage.values()],
    entities,
    context,
  };
}

export interface CheckOptions {
  readonly entryPoint: Hex;
  /** The bundler's EOA: handleOps's caller and beneficiary (EntryPoint v0.8 wants an EOA caller). */
  readonly bundler: Hex;
  /** The least stake and unstake delay that count as staked (alto 0.0.20: any, ≥ 1 s). */
  readonly minStake?: bigint;
  readonly minUnstakeDelay?: bigint;
}

const entryPointInterface = new Interface(accountAbstractionArtifact("EntryPoint").abi);

async function call(send: JsonRpcSend, to: Hex, data: string): Promise<string> {
  return String(await send("eth_call", [{ to, data }, "latest"]));
}

/**
 * Traces `op`'s validation as the EntryPoint runs it in handleOps (debug_traceCall, struct logger
 * with memory) and checks it against the ERC-7562 rules above. Throws when handleOps itself fails
 * (e.g. "AA24 signature error"): fix the operation first. EntryPoint v0.8 only.
 */
export async function checkUserOperationValidation(
  send: JsonRpcSend,
  op: PackedUserOperation,
  options: CheckOptions,
): Promise<ValidationReport> {
  const { entryPoint, bundler } = options;
  const senderCreator = getAddress(
    dataSlice(
      await call(send, entryPoint, entryPointInterface.encodeFunctionData("senderCreator")),
      12,
    ),
  ) as Hex;
  const factory =
    op.initCode.length >= 42 ? (getAddress(dataSlice(op.initCode, 0, 20)) as Hex) : undefined;
  const paymaster =
    op.paymasterAndData.length >= 42
      ? (getAddress(dataSlice(op.paymasterAndData, 0, 20)) as Hex)
      : undefined;

  const staked: Partial<Record<Entity, boolean>> = {};
  const entries: [Entity, Hex | undefined][] = [
    ["factory", factory],
    ["account", op.sender],
    ["paymaster", paymaster],
  ];
  for (const [entity, address] of entries) {
    if (address === undefined) continue;
    const info = entryPointInterface.decodeFunctionResult(
      "getDepositInfo",
      await call(
        send,
        entryPoint,
        entryPointInterface.encodeFunctionData("getDepositInfo", [address]),
      ),
    )[0] as { staked: boolean; stake: bigint; unstakeDelaySec: bigint };
    staked[entity] =
      info.staked &&
      info.stake >= (options.minStake ?? 1n) &&
      info.unstakeDelaySec >= (options.minUnstakeDelay ?? 1n);
  }

  const data = entryPointInterface.encodeFunctionData("handleOps", [
    [packedUserOperationTuple(op)],
    bundler,
  ]);
  const trace = (await send("debug_traceCall", [
    // Under the osaka cap on a transaction's gas (EIP-7825, 2^24).
    { from: bundler, to: entryPoint, data, gas: toQuantity(15_000_000) },
    "latest",
    { enableMemory: true, disableStorage: true },
  ])) as { failed: boolean; returnValue: string; structLogs: StructLog[] };
  if (trace.failed) {
    const returned = trace.returnValue.startsWith("0x")
      ? trace.returnValue
      : `0x${trace.returnValue}`;
    let reason = returned;
    try {
      const decoded = entryPointInterface.parseError(returned);
      if (decoded !== null) reason = `${decoded.name}(${decoded.args.map(String).join(", ")})`;
    } catch {
      // Not an EntryPoint error: show the raw bytes.
    }
    throw new Error(
      `handleOps reverts for this UserOperation (${reason}): fix it before checking rules`,
    );
  }
  return analyzeValidationTrace(trace.structLogs, {
    entryPoint,
    senderCreator,
    sender: getAddress(op.sender) as Hex,
    ...(factory === undefined ? {} : { factory }),
    ...(paymaster === undefined || paymaster === ZeroAddress ? {} : { paymaster }),
    staked,
  });
}

/** The violations as lines ("none" when there are none). */
export function formatViolations(report: ValidationReport): string {
  if (report.violations.length === 0) return "none";
  return report.violations.map((v) => `[${v.rule}] ${v.message}`).join("\n");
}
