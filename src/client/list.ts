import { asHex, type Hex } from "../protocol/index.js";
import { statusName } from "./decode-error.js";
import type { DeviceRegistry } from "./registry.js";
import { keyTypeName } from "./show.js";

export interface DeviceSummary {
  readonly deviceId: Hex;
  readonly status: string;
  readonly operator: Hex;
  readonly maker: number;
  readonly model: number;
  readonly keyType: string;
  /** The key the device registered with (the event carries it; storage holds only hashes). */
  readonly firstKey: Hex;
  readonly registeredAtBlock: number;
}

export interface ListFilter {
  /** Devices this operator holds now (registered to it, or transferred to it and not away). */
  readonly operator?: string | undefined;
  /** Devices this maker vouched for. */
  readonly maker?: number | undefined;
  readonly fromBlock?: number | undefined;
}

/**
 * Lists devices from the registry's events (DeviceRegistered, CustodyTransferred), each with its
 * current status and operator read from the registry. Without a filter, every device.
 */
export async function listDevices(
  registry: DeviceRegistry,
  filter: ListFilter = {},
): Promise<DeviceSummary[]> {
  const from = filter.fromBlock ?? 0;
  const operator =
    (filter.operator ?? "") === "" ? undefined : asHex(filter.operator ?? "", "operator", 20);
  const maker = filter.maker;
  const registered = await registry.queryFilter(
    registry.filters.DeviceRegistered(undefined, operator, maker),
    from,
  );
  const candidates = new Set(registered.map((e) => e.args.deviceId.toLowerCase()));
  if (operator !== undefined) {
    const received = await registry.queryFilter(
      registry.filters.CustodyTransferred(undefined, undefined, operator),
      from,
    );
    for (const e of received) candidates.add(e.args.deviceId.toLowerCase());
  }
  // The registration event of every candidate (a device received by transfer was registered by someone else).
  const events =
    operator === undefined
      ? registered
      : await registry.queryFilter(
          registry.filters.DeviceRegistered(undefined, undefined, maker),
          from,
        );
  const out: DeviceSummary[] = [];
  for (const e of events) {
    const id = e.args.deviceId.toLowerCase() as Hex;
    if (!candidates.has(id)) continue;
    const info = await registry.deviceInfo(id);
    const current = info.operator.toLowerCase() as Hex;
    if (operator !== undefined && current !== operator) continue;
    out.push({
      deviceId: id,
      status: statusName(info.status),
      operator: current,
      maker: Number(e.args.maker),
      model: Number(e.args.model),
      keyType: keyTypeName(e.args.keyType),
      firstKey: e.args.key.toLowerCase() as Hex,
      registeredAtBlock: e.blockNumber,
    });
  }
  return out;
}
