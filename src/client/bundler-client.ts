import { DeviceTrustError, type Hex } from "../protocol/index.js";
import {
  ENTRY_POINT_V08,
  parseGasEstimate,
  parseUserOperationReceipt,
  toRpcUserOperation,
  type UserOperation,
  type UserOperationGasEstimate,
  type UserOperationReceipt,
} from "./user-operation.js";

/**
 * An ERC-4337 bundler over JSON-RPC (ERC-7769), through fetch: eth_estimateUserOperationGas,
 * eth_sendUserOperation, eth_getUserOperationReceipt. Every failure is a BundlerError whose code says
 * which kind it is and whose message says what to do.
 */

/** What a bundler's JSON-RPC error code means, and what to do about it (ERC-7769 codes). */
const RPC_CODES: Readonly<Record<number, { code: string; advice: string }>> = {
  [-32601]: {
    code: "BUNDLER_METHOD_NOT_FOUND",
    advice:
      "the bundler does not serve this method (debug methods need alto's --enable-debug-endpoints)",
  },
  [-32602]: {
    code: "BUNDLER_INVALID_PARAMS",
    advice:
      "a field is malformed or missing: check the operation's fields and the EntryPoint address",
  },
  [-32500]: {
    code: "BUNDLER_REJECTED_BY_ACCOUNT",
    advice:
      "the EntryPoint's validation rejected the operation in the account or factory: see the AA code",
  },
  [-32501]: {
    code: "BUNDLER_REJECTED_BY_PAYMASTER",
    advice: "the paymaster's validatePaymasterUserOp rejected the operation",
  },
  [-32502]: {
    code: "BUNDLER_RULE_VIOLATION",
    advice:
      "validation broke an ERC-7562 rule (a banned opcode or storage the sender may not touch): change the account's validation, or stake the entity",
  },
  [-32503]: {
    code: "BUNDLER_OUT_OF_TIME_RANGE",
    advice: "validUntil/validAfter exclude now or expire too soon: sign with a wider time range",
  },
  [-32504]: {
    code: "BUNDLER_THROTTLED",
    advice: "the paymaster, factory or sender is throttled or banned by the bundler's reputation",
  },
  [-32505]: {
    code: "BUNDLER_INSUFFICIENT_STAKE",
    advice: "an entity needs a stake in the EntryPoint (addStake) for what its validation does",
  },
  [-32506]: {
    code: "BUNDLER_UNSUPPORTED_AGGREGATOR",
    advice: "the bundler does not support the account's signature aggregator",
  },
  [-32507]: {
    code: "BUNDLER_INVALID_SIGNATURE",
    advice:
      "the account's signature check failed: sign the userOpHash of exactly this operation (after setting its gas fields), for this EntryPoint and chain",
  },
  [-32508]: {
    code: "BUNDLER_PAYMASTER_DEPOSIT_TOO_LOW",
    advice: "the paymaster's EntryPoint deposit cannot cover the operation: deposit more",
  },
  [-32521]: {
    code: "BUNDLER_EXECUTION_REVERTED",
    advice: "the operation's call reverted in simulation: check callData against the account",
  },
};

/** EntryPoint revert codes a bundler forwards in its messages, with what to do. */
const AA_ADVICE: Readonly<Record<string, string>> = {
  AA10: "the sender already exists: drop factory and factoryData",
  AA13: "the factory failed or ran out of gas: check factoryData, raise verificationGasLimit",
  AA14: "the factory returned another address than sender: sender must be the factory's counterfactual address",
  AA15: "the factory did not deploy code at sender",
  AA20: "the sender has no code and no factory was given: add factory and factoryData",
  AA21: "the sender cannot pay the prefund: send it ETH (or use a paymaster)",
  AA22: "the signature's time range has expired or not started",
  AA23: "the account's validateUserOp reverted (often a malformed signature)",
  AA24: "the signature does not match: sign this operation's userOpHash",
  AA25: "wrong nonce: read EntryPoint.getNonce(sender, key)",
  AA26: "validation used more than verificationGasLimit: raise it (estimate again)",
  AA31: "the paymaster's deposit is too low",
  AA33: "the paymaster's validatePaymasterUserOp reverted",
  AA34: "the paymaster signature does not match",
  AA40: "verification used more gas than its limit: estimate again",
  AA41: "too little verificationGas to handle postOp",
  AA51: "the prefund is below the actual gas cost: raise the gas limits",
  AA95: "the bundle ran out of gas",
};

/** A bundler refused a request, answered something unreadable, or could not be reached. */
export class BundlerError extends DeviceTrustError {
  /** The JSON-RPC method that failed. */
  readonly method: string;
  /** The bundler's JSON-RPC error code (undefined when it gave none, or for transport failures). */
  readonly rpcCode: number | undefined;
  /** The bundler's error data, as sent. */
  readonly data: unknown;
  /** The EntryPoint's AAxx code found in the bundler's message, if any. */
  readonly entryPointCode: string | undefined;

  constructor(
    code: string,
    method: string,
    message: string,
    details: { rpcCode?: number; data?: unknown; entryPointCode?: string; cause?: unknown } = {},
  ) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "BundlerError";
    this.method = method;
    this.rpcCode = details.rpcCode;
    this.data = details.data;
    this.entryPointCode = details.entryPointCode;
  }
}

/**
 * A bundler's message on one line: alto forwards its node's errors as viem prints them, over many
 * lines with the whole request body; the lines that say what went wrong stay ("Details: …").
 */
function condensed(message: string): string {
  const lines = message
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^(URL|Request body|Version):/.test(l));
  const text = lines.join(" ");
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}

/** A JSON-RPC error object as a BundlerError (exported for tests and other transports). */
export function decodeBundlerError(method: string, error: unknown): BundlerError {
  const e =
    typeof error === "object" && error !== null ? (error as Record<string, unknown>) : undefined;
  const rpcCode = typeof e?.code === "number" ? e.code : undefined;
  const said = typeof e?.message === "string" ? e.message : JSON.stringify(error);
  const known = rpcCode === undefined ? undefined : RPC_CODES[rpcCode];
  const aa = /\bAA\d\d\b/.exec(said)?.[0];
  const aaAdvice = aa === undefined ? undefined : AA_ADVICE[aa];
  const advice =
    aaAdvice ??
    known?.advice ??
    (rpcCode === undefined
      ? "the bundler failed internally: read its log"
      : "see the bundler's message");
  return new BundlerError(
    known?.code ?? "BUNDLER_ERROR",
    method,
    `${method} failed${rpcCode === undefined ? "" : ` (${rpcCode})`}: ${condensed(said)} — ${advice}`,
    {
      ...(rpcCode === undefined ? {} : { rpcCode }),
      ...(e?.data === undefined ? {} : { data: e.data }),
      ...(aa === undefined ? {} : { entryPointCode: aa }),
    },
  );
}

export interface BundlerClientOptions {
  /** The fetch to use (tests pass a fake); globalThis.fetch by default. */
  readonly fetch?: typeof fetch;
  /** Per request, in milliseconds (default 30 s). */
  readonly timeoutMs?: number;
}

/** Gas prices a bundler will accept now. */
export interface UserOperationGasPrice {
  readonly maxFeePerGas: bigint;
  readonly maxPriorityFeePerGas: bigint;
}

export class BundlerClient {
  readonly url: string;
  readonly entryPoint: Hex;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;
  private nextId = 1;

  constructor(url: string, entryPoint: Hex = ENTRY_POINT_V08, options: BundlerClientOptions = {}) {
    this.url = url;
    this.entryPoint = entryPoint;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** One JSON-RPC call; throws a BundlerError for any failure. */
  async request(method: string, params: readonly unknown[]): Promise<unknown> {
    const id = this.nextId++;
    let response: Response;
    try {
      response = await this.fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err: unknown) {
      throw new BundlerError(
        "BUNDLER_UNREACHABLE",
        method,
        `${method}: no answer from the bundler at ${this.url} — is it running and is the URL right?`,
        { cause: err },
      );
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err: unknown) {
      throw new BundlerError(
        "BUNDLER_BAD_RESPONSE",
        method,
        `${method}: the bundler answered HTTP ${response.status} with something that is not JSON: ${text.slice(0, 200)}`,
        { cause: err },
      );
    }
    const reply =
      typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
    // alto answers a non-RPC failure with HTTP 500 and an error without a code: still an error object.
    if (reply.error !== undefined) throw decodeBundlerError(method, reply.error);
    if (!("result" in reply)) {
      throw new BundlerError(
        "BUNDLER_BAD_RESPONSE",
        method,
        `${method}: the bundler's answer (HTTP ${response.status}) has neither result nor error: ${text.slice(0, 200)}`,
      );
    }
    return reply.result;
  }

  async chainId(): Promise<bigint> {
    return BigInt(String(await this.request("eth_chainId", [])));
  }

  async supportedEntryPoints(): Promise<Hex[]> {
    const result = await this.request("eth_supportedEntryPoints", []);
    if (!Array.isArray(result)) {
      throw new BundlerError(
        "BUNDLER_BAD_RESPONSE",
        "eth_supportedEntryPoints",
        "eth_supportedEntryPoints did not answer an array",
      );
    }
    return result.map((a) => String(a) as Hex);
  }

  /**
   * Gas limits for `op` (its gas fields may be zero; its signature must parse, e.g.
   * DUMMY_ECDSA_SIGNATURE, and fail without reverting).
   */
  async estimateUserOperationGas(op: UserOperation): Promise<UserOperationGasEstimate> {
    return parseGasEstimate(
      await this.request("eth_estimateUserOperationGas", [toRpcUserOperation(op), this.entryPoint]),
    );
  }

  /** Submits a signed operation; returns its userOpHash as the bundler computed it. */
  async sendUserOperation(op: UserOperation): Promise<Hex> {
    const hash = await this.request("eth_sendUserOperation", [
      toRpcUserOperation(op),
      this.entryPoint,
    ]);
    if (typeof hash !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(hash)) {
      throw new BundlerError(
        "BUNDLER_BAD_RESPONSE",
        "eth_sendUserOperation",
        `eth_sendUserOperation answered ${JSON.stringify(hash)}, not a userOpHash`,
      );
    }
    return hash as Hex;
  }

  /** The receipt, or undefined while the operation is not mined. */
  async getUserOperationReceipt(userOpHash: Hex): Promise<UserOperationReceipt | undefined> {
    const result = await this.request("eth_getUserOperationReceipt", [userOpHash]);
    return result === null ? undefined : parseUserOperationReceipt(result);
  }

  /** Polls getUserOperationReceipt until the operation is mined; BUNDLER_TIMEOUT after timeoutMs. */
  async waitForUserOperationReceipt(
    userOpHash: Hex,
    { timeoutMs = 30_000, pollMs = 100 }: { timeoutMs?: number; pollMs?: number } = {},
  ): Promise<UserOperationReceipt> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const receipt = await this.getUserOperationReceipt(userOpHash);
      if (receipt !== undefined) return receipt;
      if (Date.now() >= end) {
        throw new BundlerError(
          "BUNDLER_TIMEOUT",
          "eth_getUserOperationReceipt",
          `no receipt for ${userOpHash} after ${timeoutMs} ms: the bundler may have dropped it (eth_getUserOperationByHash tells), or is not bundling (alto --bundle-mode)`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /**
   * The gas prices the bundler accepts now ("standard" tier): Pimlico's
   * pimlico_getUserOperationGasPrice, served by alto; other bundlers may not have it.
   */
  async userOperationGasPrice(): Promise<UserOperationGasPrice> {
    const method = "pimlico_getUserOperationGasPrice";
    const result = await this.request(method, []);
    const standard =
      typeof result === "object" && result !== null
        ? (result as Record<string, unknown>).standard
        : undefined;
    const s =
      typeof standard === "object" && standard !== null
        ? (standard as Record<string, unknown>)
        : {};
    if (typeof s.maxFeePerGas !== "string" || typeof s.maxPriorityFeePerGas !== "string") {
      throw new BundlerError(
        "BUNDLER_BAD_RESPONSE",
        method,
        `${method} answered ${JSON.stringify(result)}: no standard tier`,
      );
    }
    return {
      maxFeePerGas: BigInt(s.maxFeePerGas),
      maxPriorityFeePerGas: BigInt(s.maxPriorityFeePerGas),
    };
  }
}
