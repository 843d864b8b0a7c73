import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { signedReadingFromJson, type SignedReadingJson } from "./store.js";
import type { WatchedMessage } from "./types.js";

/**
 * A message source over newline-delimited JSON (one signed reading per line, bigints as decimal
 * strings: the shape of `signedReadingToJson`), e.g. a file or stdin for `watchtower start`. Lines that
 * do not parse are reported through `onInvalid` and skipped.
 */
export async function* jsonLinesSource(
  input: Readable,
  name = "input",
  onInvalid: (line: number, err: unknown) => void = () => undefined,
): AsyncGenerator<WatchedMessage> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === "") continue;
    try {
      const parsed = signedReadingFromJson(JSON.parse(line) as SignedReadingJson);
      yield { ...parsed, origin: `${name}:${String(n)}` };
    } catch (err: unknown) {
      onInvalid(n, err);
    }
  }
}
