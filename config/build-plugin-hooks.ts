import { availableParallelism } from "node:os";
import type { SolidityHooks } from "hardhat/types/hooks";
import type { BuildOptions, CompilerOutputError } from "hardhat/types/solidity";

/** solc's cap on warnings: reached by a dependency's warnings, it says nothing about ours. */
const CAP = "There are more than 256 warnings. Ignoring the rest.";

/**
 * A warning (or info) that points at a file of an npm package. Hardhat hands the hook solc's diagnostics
 * without their source location, with the file named in the formatted message (` --> <path>:<line>`):
 * a path into node_modules (forge-std, remapped from inside @uniswap/v4-core) or an `npm/` source name.
 */
export function isDependencyWarning(error: CompilerOutputError): boolean {
  if (error.severity === "error") return false;
  const at = /^\s*--> (\S+?):\d+:\d+:/m.exec(error.formattedMessage ?? "")?.[1] ?? "";
  return at.includes("node_modules/") || at.startsWith("npm/");
}

/** The diagnostics a build prints: without dependencies' warnings (and solc's cap they reached). */
export function withoutDependencyWarnings(
  errors: readonly CompilerOutputError[],
): CompilerOutputError[] {
  const kept = errors.filter((e) => !isDependencyWarning(e));
  return kept.length === errors.length
    ? kept
    : kept.filter((e) => !(e.severity === "warning" && e.message === CAP));
}

/** Compilation jobs in parallel: one per core, unless the caller said how many. */
export function withJobPerCore(
  options: BuildOptions | undefined,
  cores = availableParallelism(),
): BuildOptions {
  return { ...options, concurrency: options?.concurrency ?? cores };
}

export default async (): Promise<Partial<SolidityHooks>> => {
  await Promise.resolve();
  return {
    async getCompilationJobErrors(context, job, output, next) {
      return withoutDependencyWarnings(await next(context, job, output));
    },
    async build(context, rootFilePaths, options, next) {
      return next(context, rootFilePaths, withJobPerCore(options));
    },
  };
};
