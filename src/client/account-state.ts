import { getAddress, type Provider } from "ethers";
import { DeviceTrustError, asHex, type Hex } from "../protocol/index.js";
import { DeviceAccount__factory, type DeviceAccount } from "../../types/ethers-contracts/index.js";
import { describeChange } from "./account-calls.js";
import { deviceOfSigner } from "./account-setup.js";
import { entryPointAt } from "./account-send.js";
import { registryAt } from "./registry.js";
import { deviceTrust } from "./trust.js";

/**
 * Everything a DeviceAccount's owner asks about it, read at one block: signers and weights, thresholds,
 * settings, the spending policy (tokens and counterparties found from TokenLimitsSet and
 * CounterpartyLimitsSet, their current limits read back), what was spent this period, the breaker's lock,
 * the trusted weight and why the account is frozen (which device is untrusted, with the registry's
 * trustReport verdict and its incident count), and the pending changes (ChangeProposed still pending).
 */

export interface AccountSignerState {
  readonly signer: Hex;
  readonly kind: "device" | "address" | "other";
  readonly weight: bigint;
  readonly deviceId?: Hex;
  readonly address?: Hex;
  /** Devices: whether the signer counts towards the trusted weight now. */
  readonly trusted?: boolean;
  /** Devices: the registry's trustReport verdict (judged with the account's maxAttestationAge). */
  readonly verdict?: string;
  readonly incidents?: bigint;
  /** Devices: whether the account's copy of the key is the registry's current key (else syncDevice). */
  readonly keyInSync?: boolean;
  /** Devices: its signatures validate again only from then (0: no cooldown). */
  readonly distrustedUntil?: bigint;
  /** Devices: why it does not count, or "trusted". */
  readonly reason?: string;
}

export interface AccountTokenState {
  readonly token: Hex;
  readonly periodCap: bigint;
  readonly perCallCap: bigint;
  readonly period: bigint;
  readonly velocityWindow: bigint;
  readonly spentThisPeriod: bigint;
  /** When the current window ends (spending counts from zero again). */
  readonly periodEndsAt: bigint;
}

export interface AccountCounterpartyState {
  readonly token: Hex;
  readonly counterparty: Hex;
  readonly periodCap: bigint;
  readonly perCallCap: bigint;
  readonly spentThisPeriod: bigint;
}

export interface PendingChange {
  readonly id: Hex;
  readonly data: Hex;
  readonly setter: string;
  readonly args: unknown;
  readonly eta: bigint;
  readonly due: boolean;
}

export interface AccountState {
  readonly account: Hex;
  readonly deployed: boolean;
  readonly checkedAt: bigint;
  readonly blockNumber: number;
  readonly registry: Hex;
  readonly verifier: Hex;
  readonly entryPoint: Hex;
  readonly nonce: bigint;
  /** Native coin held by the account, and its EntryPoint deposit. */
  readonly balance: bigint;
  readonly deposit: bigint;
  readonly lowThreshold: bigint;
  readonly highThreshold: bigint;
  readonly totalWeight: bigint;
  readonly config: {
    readonly operator: Hex;
    readonly maxAttestationAge: bigint;
    readonly changeDelay: bigint;
    readonly velocityShareBps: bigint;
  };
  readonly locked: boolean;
  readonly trustedWeight: bigint;
  readonly frozen: boolean;
  /** One sentence: whether devices can pay, and if not, why. */
  readonly why: string;
  readonly signers: readonly AccountSignerState[];
  readonly policy: {
    readonly tokens: readonly AccountTokenState[];
    readonly counterparties: readonly AccountCounterpartyState[];
  };
  readonly pendingChanges: readonly PendingChange[];
}

export function deviceAccountAt(address: string, provider: Provider): DeviceAccount {
  return DeviceAccount__factory.connect(address, provider);
}

const UNTIL_BITS = 48n;

/** The state of the DeviceAccount at `address` (events scanned from `fromBlock`, default 0). */
export async function accountState(
  provider: Provider,
  address: string,
  options: { readonly fromBlock?: number } = {},
): Promise<AccountState> {
  const account = getAddress(asHex(address, "account", 20)) as Hex;
  const latest = await provider.getBlock("latest");
  if (latest === null) throw new Error("the node has no latest block");
  const blockTag = latest.number;
  const now = BigInt(latest.timestamp);
  const at = { blockTag };
  const deployed = (await provider.getCode(account, blockTag)) !== "0x";
  if (!deployed) {
    throw new DeviceTrustError(
      "ACCOUNT_NOT_DEPLOYED",
      `no account at ${account} yet: it deploys with its first UserOperation (account pay) or account create --deploy`,
    );
  }
  const a = deviceAccountAt(account, provider);
  const [registryAddress, verifier, entryPointAddress] = (
    await Promise.all([a.REGISTRY(at), a.VERIFIER(at), a.entryPoint(at)])
  ).map((x) => getAddress(x) as Hex) as [Hex, Hex, Hex];
  const registry = registryAt(registryAddress, provider);
  const entryPoint = entryPointAt(entryPointAddress, provider);
  const [config, low, high, total, locked, signers, nonce, deposit, balance] = await Promise.all([
    a.config(at),
    a.threshold(at),
    a.highThreshold(at),
    a.totalWeight(at),
    a.locked(at),
    a.getSigners(0n, (1n << 64n) - 1n, at),
    entryPoint.getFunction("getNonce")(account, 0n, at) as Promise<bigint>,
    entryPoint.getFunction("balanceOf")(account, at) as Promise<bigint>,
    provider.getBalance(account, blockTag),
  ]);
  const maxAge = config.maxAttestationAge;

  const signerStates: AccountSignerState[] = [];
  for (const raw of signers) {
    const signer = raw.toLowerCase() as Hex;
    const weight = await a.signerWeight(signer, at);
    const deviceId = deviceOfSigner(signer, verifier);
    if (deviceId === undefined) {
      signerStates.push(
        signer.length === 42
          ? { signer, kind: "address", weight, address: getAddress(signer) as Hex }
          : { signer, kind: "other", weight },
      );
      continue;
    }
    const [info, slot, incidents, report] = await Promise.all([
      registry.deviceInfo(deviceId, at),
      a.deviceSlot(deviceId, at),
      registry.incidentsOf(deviceId, at),
      deviceTrust(registry, deviceId, maxAge),
    ]);
    const current = BigInt(info.keyHash);
    const copy = slot.keyHashHigh;
    const keyInSync = copy === 0n ? current === BigInt(deviceId) : current >> UNTIL_BITS === copy;
    const trustedKey = await registry.isTrustedKey(deviceId, info.keyHash, maxAge, at);
    const counts = keyInSync && trustedKey;
    let reason = "trusted";
    if (!keyInSync) {
      reason =
        "the registry's current key is not the account's copy (the device rotated its key): call syncDevice on the account";
    } else if (incidents > 0n) {
      reason = `${incidents.toString()} incident(s) recorded against it: a device with an incident never signs for an account again (remove it with a change)`;
    } else if (!trustedKey) {
      reason = `${report.verdict}: ${report.reason}`;
    }
    signerStates.push({
      signer,
      kind: "device",
      weight,
      deviceId,
      trusted: counts,
      verdict: report.verdict,
      incidents,
      keyInSync,
      distrustedUntil: slot.distrustedUntil,
      reason,
    });
  }

  const tokensSeen = new Set<string>();
  for (const e of await a.queryFilter(
    a.filters.TokenLimitsSet(),
    options.fromBlock ?? 0,
    blockTag,
  )) {
    tokensSeen.add(getAddress(e.args.token));
  }
  const tokens: AccountTokenState[] = [];
  for (const token of tokensSeen) {
    const l = await a.tokenLimits(token, at);
    if (l.period === 0n) continue;
    const spent: bigint = await a.getFunction("spentThisPeriod(address)")(token, at);
    tokens.push({
      token: token as Hex,
      periodCap: l.periodCap,
      perCallCap: l.perCallCap,
      period: l.period,
      velocityWindow: l.velocityWindow,
      spentThisPeriod: spent,
      periodEndsAt: (now / l.period + 1n) * l.period,
    });
  }
  const pairsSeen = new Map<string, [string, string]>();
  for (const e of await a.queryFilter(
    a.filters.CounterpartyLimitsSet(),
    options.fromBlock ?? 0,
    blockTag,
  )) {
    const pair: [string, string] = [getAddress(e.args.token), getAddress(e.args.counterparty)];
    pairsSeen.set(pair.join("/"), pair);
  }
  const counterparties: AccountCounterpartyState[] = [];
  for (const [token, counterparty] of pairsSeen.values()) {
    const l = await a.counterpartyLimits(token, counterparty, at);
    if (!l.allowed) continue;
    const spent: bigint = await a.getFunction("spentThisPeriod(address,address)")(
      token,
      counterparty,
      at,
    );
    counterparties.push({
      token: token as Hex,
      counterparty: counterparty as Hex,
      periodCap: l.periodCap,
      perCallCap: l.perCallCap,
      spentThisPeriod: spent,
    });
  }

  const proposed = new Map<string, Hex>();
  for (const e of await a.queryFilter(
    a.filters.ChangeProposed(),
    options.fromBlock ?? 0,
    blockTag,
  )) {
    proposed.set(e.args.id.toLowerCase(), e.args.data as Hex);
  }
  const pendingChanges: PendingChange[] = [];
  for (const [id, data] of proposed) {
    // Applied and cancelled changes read 0: the view is the truth, the events only name the candidates.
    const eta = await a.pendingChange(id, at);
    if (eta === 0n) continue;
    pendingChanges.push({ id: id as Hex, data, ...describeChange(data), eta, due: now >= eta });
  }

  // What DeviceAccountLens.trustedWeight answers, from the signer states above.
  const weight = signerStates.reduce(
    (sum, s) => (s.kind === "device" && s.trusted === true ? sum + s.weight : sum),
    0n,
  );
  const frozen = weight < low;
  const untrusted = signerStates.filter((s) => s.kind === "device" && s.trusted !== true);
  let why = `devices can pay: their trusted weight ${weight.toString()} reaches the low threshold ${low.toString()}`;
  if (frozen) {
    why = `frozen: the trusted device weight ${weight.toString()} is below the low threshold ${low.toString()}, so devices cannot pay (the high threshold, e.g. the operator, still can); untrusted: ${untrusted.map((s) => `${s.deviceId ?? s.signer} (${s.reason ?? ""})`).join("; ")}`;
  } else if (locked) {
    why = `locked: the velocity breaker tripped, devices cannot pay until the operator unlocks it (account policy --unlock) or the high threshold does`;
  }
  return {
    account,
    deployed,
    checkedAt: now,
    blockNumber: blockTag,
    registry: registryAddress,
    verifier,
    entryPoint: entryPointAddress,
    nonce,
    balance,
    deposit,
    lowThreshold: low,
    highThreshold: high,
    totalWeight: total,
    config: {
      operator: getAddress(config.operator) as Hex,
      maxAttestationAge: config.maxAttestationAge,
      changeDelay: config.changeDelay,
      velocityShareBps: config.velocityShareBps,
    },
    locked,
    trustedWeight: weight,
    frozen,
    why,
    signers: signerStates,
    policy: { tokens, counterparties },
    pendingChanges,
  };
}
