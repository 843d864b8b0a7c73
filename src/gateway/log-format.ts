import { Writable } from "node:stream";

const LEVELS: Readonly<Record<number, string>> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};

/** Fields every pino line has, left out of the key=value tail. */
const STANDARD = new Set(["level", "time", "pid", "hostname", "name", "msg", "v"]);

/** One pino JSON line as a line for people: `12:00:01 WARN  gateway  message  key=value ...`. */
export function humanLogLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time =
    typeof record.time === "number" ? new Date(record.time).toISOString().slice(11, 19) : "";
  const level = LEVELS[Number(record.level)] ?? String(record.level);
  const extra = Object.entries(record)
    .filter(([k]) => !STANDARD.has(k))
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  const name = typeof record.name === "string" ? record.name : "";
  const msg = typeof record.msg === "string" ? record.msg : "";
  return [time, level.padEnd(5), name, msg, extra].filter((p) => p !== "").join("  ");
}

/** A stream for pino that writes each log line for people to `out` (default stderr). */
export function humanLogStream(out: NodeJS.WritableStream = process.stderr): Writable {
  let rest = "";
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      const lines = (rest + chunk.toString("utf8")).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) if (line.trim() !== "") out.write(`${humanLogLine(line)}\n`);
      done();
    },
  });
}
