import type { HexString } from "../console/api.js";
import type { IndexedEvent, SourceKind } from "../console/event-index.js";

/**
 * A synthetic fleet's events, as ChainSync would decode them: for the console's benchmark (10,000
 * devices) and its tests. Deterministic: device i's id, operator and facts follow from i.
 */

export const SYNTHETIC = {
  registry: "0x00000000000000000000000000000000000000a1",
  staking: "0x00000000000000000000000000000000000000a2",
  proofs: "0x00000000000000000000000000000000000000a3",
  pool: "0x00000000000000000000000000000000000000a4",
  feedFactory: "0x00000000000000000000000000000000000000a5",
  feed: "0x00000000000000000000000000000000000000f1",
} as const satisfies Record<string, HexString>;

const hex = (n: number | bigint, bytes: number): HexString =>
  `0x${n.toString(16).padStart(bytes * 2, "0")}`;

export function syntheticDeviceId(i: number): HexString {
  return hex(0xd0000000n + BigInt(i), 32);
}

export function syntheticOperator(i: number): HexString {
  return hex(0x0b000000 + (i % 50), 20);
}

export interface SyntheticFleet {
  readonly events: IndexedEvent[];
  /** The head's time: devices attested within the day before it, some stale, some never. */
  readonly now: number;
}

/**
 * `devices` devices of one maker: most attested on firmware 1 and staked; every 10th never attested,
 * every 7th attested two days ago (stale), every 13th suspended, every 50th (the 48th of each 50) on revoked firmware 2; the
 * first 5 members of one feed with 20 answers.
 */
export function syntheticFleet(devices: number): SyntheticFleet {
  const now = 1_800_000_000;
  const events: IndexedEvent[] = [];
  let block = 1;
  let logIndex = 0;
  const push = (
    source: SourceKind,
    address: HexString,
    name: string,
    args: Record<string, unknown>,
    time = now - 86_400,
  ): void => {
    events.push({
      source,
      address,
      name,
      args,
      block,
      logIndex: logIndex++,
      tx: hex(block * 1000 + logIndex, 32),
      time,
    });
  };
  push("registry", SYNTHETIC.registry, "MakerAdded", {
    maker: 1n,
    signer: hex(0xaa, 20),
    name: "Acme Sensors",
  });
  for (const [id, version] of [
    [1n, "1.0.0"],
    [2n, "0.9.0"],
  ] as const) {
    push("registry", SYNTHETIC.registry, "FirmwarePublished", {
      firmwareId: id,
      maker: 1n,
      model: 42n,
      version,
      measurement: hex(id, 32),
      uri: "",
      imageDigests: [],
    });
  }
  push("registry", SYNTHETIC.registry, "FirmwareStatusChanged", {
    firmwareId: 2n,
    status: 3n,
    sunset: 0n,
    by: hex(0xaa, 20),
  });
  block++;
  for (let i = 0; i < devices; i++) {
    if (i % 500 === 0) {
      block++;
      logIndex = 0;
    }
    const deviceId = syntheticDeviceId(i);
    push("registry", SYNTHETIC.registry, "DeviceRegistered", {
      deviceId,
      operator: syntheticOperator(i),
      maker: 1n,
      model: 42n,
      keyType: BigInt(1 + (i % 2)),
      key: "0x",
    });
    if (i % 10 !== 9) {
      const attestedAt = i % 7 === 6 ? now - 2 * 86_400 : now - 600 - (i % 3600);
      push("registry", SYNTHETIC.registry, "DeviceAttested", {
        deviceId,
        firmwareId: i % 50 === 47 ? 2n : 1n,
        timestamp: BigInt(attestedAt),
        bootCount: BigInt(i % 5),
      });
    }
    if (i % 13 === 12) {
      push("registry", SYNTHETIC.registry, "DeviceSuspended", {
        deviceId,
        by: hex(0xbb, 20),
        reason: hex(0, 32),
      });
    }
    push("staking", SYNTHETIC.staking, "Staked", {
      deviceId,
      operator: syntheticOperator(i),
      amount: 10n ** 20n,
      active: 10n ** 20n,
    });
  }
  block++;
  push("feedFactory", SYNTHETIC.feedFactory, "FeedCreated", {
    feed: SYNTHETIC.feed,
    owner: syntheticOperator(0),
    feedId: hex(BigInt(SYNTHETIC.feed), 32),
    description: "Synthetic temperature",
  });
  for (let i = 0; i < Math.min(5, devices); i++) {
    push("feed", SYNTHETIC.feed, "MemberAdded", { deviceId: syntheticDeviceId(i) });
  }
  for (let r = 1; r <= 20; r++) {
    block++;
    const time = now - (20 - r) * 60;
    for (let i = 0; i < Math.min(5, devices); i++) {
      push(
        "feed",
        SYNTHETIC.feed,
        "ReadingAccepted",
        {
          deviceId: syntheticDeviceId(i),
          sequence: BigInt(r),
          value: 2_150_000_000n + BigInt(i + r) * 1_000_000n,
        },
        time,
      );
    }
    push(
      "feed",
      SYNTHETIC.feed,
      "AnswerUpdated",
      {
        current: 2_152_000_000n + BigInt(r) * 1_000_000n,
        roundId: BigInt(r),
        updatedAt: BigInt(time),
      },
      time,
    );
  }
  return { events, now };
}
