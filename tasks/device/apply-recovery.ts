import { readFile } from "node:fs/promises";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { applyRecoveryRequest } from "../../src/client/index.js";
import { InvalidInputError, asHex, type Hex } from "../../src/protocol/index.js";
import { parsePqRecoveryRequest, type PqRecoveryRequest } from "../../src/verify/pq.js";
import { progress, run, type ChainArgs } from "../common.js";
import { connectPqKeyRecovery } from "./pq-chain.js";

interface Args extends ChainArgs {
  request: string;
  deviceId: string;
  pqKeyRecovery: string;
}

/**
 * The recovery requests in a file: one request (PqRecoveryRequestJson), an object carrying one as
 * `request` (device recover-key --json, a line of a gateway's record), a gateway's GET /recoveries answer
 * (`pending`), an array of any of these, or a gateway's JSON-lines record file.
 */
function requestsIn(text: string, file: string): unknown[] {
  let values: unknown[];
  try {
    values = [JSON.parse(text) as unknown];
  } catch {
    try {
      values = text
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as unknown);
    } catch (err: unknown) {
      throw new InvalidInputError(
        `${file} is neither JSON nor JSON lines: give the request device recover-key --json printed, a gateway's /recoveries answer or its record file`,
        { cause: err },
      );
    }
  }
  const out: unknown[] = [];
  const take = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(take);
    } else if (typeof value === "object" && value !== null) {
      const v = value as Record<string, unknown>;
      if (Array.isArray(v.pending)) take(v.pending);
      else if (v.request !== undefined) out.push(v.request);
      else out.push(v);
    }
  };
  values.forEach(take);
  return out;
}

export default async function deviceApplyRecovery(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    if (args.request === "") {
      throw new InvalidInputError(
        "--request is required: the file with the signed recovery request (device recover-key --json, or a gateway's /recoveries)",
      );
    }
    const wanted = args.deviceId === "" ? undefined : asHex(args.deviceId, "--device-id", 32);
    let requests: PqRecoveryRequest[];
    try {
      requests = requestsIn(await readFile(args.request, "utf8"), args.request).map((r) =>
        parsePqRecoveryRequest(r),
      );
    } catch (err: unknown) {
      if (err instanceof InvalidInputError) throw err;
      throw new InvalidInputError(
        `${args.request} holds no recovery request this tool reads: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    const matching = requests.filter(
      (r) => wanted === undefined || r.deviceId.toLowerCase() === wanted.toLowerCase(),
    );
    const [request, ...more] = matching;
    if (request === undefined || more.length > 0) {
      const ids = [...new Set(requests.map((r) => r.deviceId.toLowerCase() as Hex))].join(", ");
      throw new InvalidInputError(
        request === undefined
          ? `${args.request} holds no recovery request${wanted === undefined ? "" : ` for device ${wanted}`} (it holds: ${ids === "" ? "none" : ids})`
          : `${args.request} holds ${String(matching.length)} recovery requests${wanted === undefined ? "" : ` for device ${wanted}`}: pick one with --device-id (${ids})`,
      );
    }
    const { chain, recovery } = await connectPqKeyRecovery(hre, args);
    progress(
      request.scheme === "lms"
        ? `checking the LMS request of device ${request.deviceId} against the chain, then sending it to PqKeyRecovery (which verifies it again)`
        : `checking the ML-DSA-44 request of device ${request.deviceId} against the chain (the signature with node:crypto: no contract verifies it yet), then applying it through the registry's recoverKey with KEY_RECOVERY_ROLE`,
    );
    return applyRecoveryRequest({
      recovery,
      registry: chain.registry,
      request,
    });
  });
}
