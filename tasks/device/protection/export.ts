import { exportSigningRecord } from "../../../src/device/signing-record-transfer.js";
import { InvalidInputError } from "../../../src/protocol/index.js";
import { run, type OutputArgs } from "../../common.js";

interface Args extends OutputArgs {
  record: string;
  file: string;
}

/** Writes a device's signing record as an interchange file, to move it to new hardware. */
export default async function deviceProtectionExport(args: Args) {
  return run(args, async () => {
    if (args.record === "") {
      throw new InvalidInputError(
        "--record is required: the device's signing record (fleet simulate keeps them under .devicetrust/signing-records/<chainId>-<registry>/<deviceId>.sqlite)",
      );
    }
    if (args.file === "") throw new InvalidInputError("--file is required: the JSON file to write");
    return exportSigningRecord(args.record, args.file);
  });
}
