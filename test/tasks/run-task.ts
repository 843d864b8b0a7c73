import hre from "hardhat";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";

/** Runs tasks through the HRE as the CLI would. No describe() here: mocha finds no tests in this file. */
export interface Captured {
  readonly result: { success: boolean; value?: unknown; error?: { code: string; message: string } };
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a task through the HRE as the CLI would, capturing what it prints. */
export async function runTask(
  id: string[],
  args: Record<string, unknown>,
  runtime: HardhatRuntimeEnvironment = hre,
): Promise<Captured> {
  let stdout = "";
  let stderr = "";
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = (chunk: string | Uint8Array): boolean => {
    stdout += String(chunk);
    return true;
  };
  process.stderr.write = (chunk: string | Uint8Array): boolean => {
    stderr += String(chunk);
    return true;
  };
  try {
    const result = (await runtime.tasks.getTask(id).run(args)) as Captured["result"];
    return { result, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}
