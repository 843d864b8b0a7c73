import { importSigningRecord } from "../../../src/device/signing-record-transfer.js";
import { InvalidInputError } from "../../../src/protocol/index.js";
import { run, type OutputArgs } from "../../common.js";

interface Args extends OutputArgs {
  record: string;
  file: string;
}

/**
 * Merges an interchange file into a device's signing record (created if missing): refused, with
 * nothing merged, when the two disagree or belong to different devices or deployments.
 */
export default async function deviceProtectionImport(args: Args) {
  return run(args, async () => {
    if (args.record === "") {
      throw new InvalidInputError(
        "--record is required: the device's signing record to merge into (created if missing)",
      );
    }
    if (args.file === "") {
      throw new InvalidInputError(
        "--file is required: the interchange file (device protection export)",
      );
    }
    return importSigningRecord(args.record, args.file);
  });
}
