/**
 * How the console writes ids, counts, durations and times: the pure pieces of format.tsx (no JSX, no
 * DOM, no Preact), so the repository's tests can check them.
 */
import { formatUnits, type Int } from "../../src/console/api.js";

/** 0x1234…abcd */
export function short(id: string): string {
  return id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-4)}` : id;
}

// One formatter each (a toLocaleString with options builds a new one per call: slow in a table).
const INTEGER = new Intl.NumberFormat("en-US");
const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const DATE = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
});

/** 10,000 */
export function count(n: number): string {
  return INTEGER.format(n);
}

/** "1 event", "3 events" (the count grouped). */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${count(n)} ${n === 1 ? noun : nouns}`;
}

/** A sentence with its long hex ids (32-byte ids, addresses) shortened: for one-line cells. */
export function shortIds(text: string): string {
  return text.replace(/0x[0-9a-fA-F]{40,}/g, (id) => short(id));
}

/** A duration for people: "60 min", "24 h", "7 d". */
export function duration(seconds: number): string {
  return span(seconds);
}

/** A base-unit integer grouped by thousands, exactly. */
export function groupInt(value: Int): string {
  return formatUnits(value, 0, 0);
}

/** A date for a title: local time, with the unix seconds. */
export function absolute(time: number): string {
  if (time === 0) return "never";
  return `${DATE_TIME.format(new Date(time * 1000))} (unix ${time})`;
}

/** A short calendar date. */
export function day(time: number): string {
  return DATE.format(new Date(time * 1000));
}

function span(seconds: number): string {
  if (seconds < 60) return `${Math.floor(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400 * 2) return `${Math.floor(seconds / 3600)} h`;
  if (seconds < 86400 * 365) return `${Math.floor(seconds / 86400)} d`;
  return `${(seconds / (86400 * 365)).toFixed(1)} y`;
}

/** "3 min ago", "in 2 d", "never". */
export function ago(time: number, now: number): string {
  if (time === 0) return "never";
  const delta = now - time;
  if (delta < 0) return `in ${span(-delta)}`;
  if (delta < 5) return "just now";
  return `${span(delta)} ago`;
}

/** "NeverAttested" → "Never attested". */
export function words(name: string): string {
  const spaced = name.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}
