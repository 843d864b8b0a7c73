import type { FirmwareRef } from "../../src/client/index.js";
import { InvalidInputError } from "../../src/protocol/index.js";

export interface FirmwareRefArgs {
  id: number;
  maker: number;
  model: number;
  firmwareVersion: string;
}

/** --id, or --model and --firmware-version (with --maker, default the sender's maker). */
export function firmwareRef(args: FirmwareRefArgs): FirmwareRef {
  const byVersion = args.model >= 0 || args.firmwareVersion !== "";
  if (args.id > 0 === byVersion) {
    throw new InvalidInputError(
      "name the firmware by --id <id>, or by --model <model> --firmware-version <version> (and --maker for another maker's), not both",
    );
  }
  if (args.id > 0) return { id: args.id };
  return {
    maker: args.maker > 0 ? args.maker : undefined,
    model: args.model,
    version: args.firmwareVersion,
  };
}
