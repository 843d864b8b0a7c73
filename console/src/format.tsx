/** How the console writes ids, amounts, times and trust: small pieces every view shares. */
import type { ComponentChildren } from "preact";
import {
  formatUnits,
  type DeviceStatusName,
  type FirmwareStatusName,
  type Grade,
  type Int,
  type Rating,
  type Verdict,
} from "../../src/console/api.js";
import { useLive, type ApiState } from "./live.js";
import { absolute, ago, groupInt, short, words } from "./text.js";

// The pure pieces live in text.ts (tested there); the views import them from here as before.
export {
  absolute,
  ago,
  count,
  day,
  duration,
  groupInt,
  plural,
  short,
  shortIds,
  words,
} from "./text.js";

/** The green/amber/red language of trust (plus grey for "nothing to judge" and blue for facts). */
export type Tone = "ok" | "warn" | "bad" | "muted" | "info";

/** A lower-case hex id, short, monospace, the full id in its title (and linked when `href`). */
export function Id({ id, href }: { id: string; href?: string }) {
  const text = <code class="id">{short(id)}</code>;
  return href === undefined ? (
    <span title={id}>{text}</span>
  ) : (
    <a href={href} title={id}>
      {text}
    </a>
  );
}

/** A device's id, linked to its page. */
export function DeviceLink({ id }: { id: string }) {
  return <Id id={id} href={`#/device/${id}`} />;
}

/** A relative age; the absolute time in its title. */
export function Age({ time }: { time: number }) {
  const { now } = useLive();
  return (
    <time class="age" title={absolute(time)} dateTime={time === 0 ? undefined : isoTime(time)}>
      {ago(time, now)}
    </time>
  );
}

function isoTime(time: number): string {
  return new Date(time * 1000).toISOString();
}

/** An amount of the asset: 2 decimals and its symbol, every digit in the title. */
export function Amount({ value, zero }: { value: Int; zero?: string | undefined }) {
  const { status } = useLive();
  const asset = status.asset;
  if (zero !== undefined && /^-?0*$/.test(value)) return <span class="muted">{zero}</span>;
  if (asset === null) {
    return (
      <span class="num" title={`${value} base units (the console knows no asset)`}>
        {groupInt(value)}
      </span>
    );
  }
  return (
    <span
      class="num"
      title={`${formatUnits(value, asset.decimals, asset.decimals)} ${asset.symbol} (${value} base units)`}
    >
      {formatUnits(value, asset.decimals)} <span class="unit">{asset.symbol}</span>
    </span>
  );
}

/** A feed value scaled by its decimals (at most 4 shown, every digit in the title). */
export function FeedValue({ value, decimals }: { value: Int; decimals: number }) {
  return (
    <span class="num" title={`${formatUnits(value, decimals, decimals)} (${value} base units)`}>
      {formatUnits(value, decimals, Math.min(decimals, 4))}
    </span>
  );
}

export function Badge({
  tone,
  title,
  children,
}: {
  tone: Tone;
  title?: string | undefined;
  children: ComponentChildren;
}) {
  return (
    <span class={`badge ${tone}`} title={title}>
      {children}
    </span>
  );
}

export function verdictTone(verdict: Verdict): Tone {
  switch (verdict) {
    case "Trusted":
      return "ok";
    case "Stale":
    case "NeverAttested":
    case "FirmwareSunset":
      return "warn";
    case "NotActive":
    case "FirmwareRevoked":
    case "ModelMismatch":
      return "bad";
  }
}

export function VerdictBadge({ verdict, why }: { verdict: Verdict; why?: string }) {
  return (
    <Badge tone={verdictTone(verdict)} title={why === undefined || why === "" ? undefined : why}>
      {words(verdict)}
    </Badge>
  );
}

export function statusTone(status: DeviceStatusName): Tone {
  switch (status) {
    case "Active":
      return "ok";
    case "Suspended":
      return "warn";
    case "Revoked":
      return "bad";
    case "Decommissioned":
    case "Unknown":
      return "muted";
  }
}

export function StatusBadge({ status }: { status: DeviceStatusName }) {
  return <Badge tone={statusTone(status)}>{status}</Badge>;
}

export function firmwareTone(status: FirmwareStatusName | null): Tone {
  switch (status) {
    case "Good":
      return "ok";
    case "Deprecated":
      return "warn";
    case "Revoked":
      return "bad";
    case "Unknown":
    case null:
      return "muted";
  }
}

export function gradeTone(grade: Grade): Tone {
  switch (grade) {
    case "A":
    case "B":
      return "ok";
    case "C":
    case "D":
      return "warn";
    case "E":
    case "F":
      return "bad";
  }
}

/** The rating's grade as a square badge; score and deductions in the title. */
export function GradeBadge({ rating, large }: { rating: Rating; large?: boolean }) {
  const deductions = rating.factors.map((f) => `−${f.points} ${f.factor}: ${f.detail}`).join("\n");
  return (
    <span
      class={`grade ${gradeTone(rating.grade)}${large === true ? " large" : ""}`}
      title={`Score ${rating.score}/100${deductions === "" ? "" : `\n${deductions}`}`}
    >
      {rating.grade}
    </span>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <div class="state loading" role="status">
      <span class="spinner" aria-hidden="true" /> Loading {what}…
    </div>
  );
}

export function ErrorNote({ message }: { message: string }) {
  return (
    <div class="state error" role="alert">
      {message}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="state empty">{children}</div>;
}

/**
 * A view's data: loading until the first answer, the error sentence when there is nothing to show,
 * else the data (kept while a refetch is in flight, with the refetch's error above it).
 */
export function Loaded<T>({
  state,
  what,
  children,
}: {
  state: ApiState<T>;
  what: string;
  children: (data: T) => ComponentChildren;
}) {
  if (state.data === null) {
    return state.error === null ? <Loading what={what} /> : <ErrorNote message={state.error} />;
  }
  return (
    <>
      {state.error === null ? null : <ErrorNote message={`Could not refresh: ${state.error}`} />}
      {children(state.data)}
    </>
  );
}

/** A labelled figure for the header grids. */
export function Field({
  label,
  children,
  testid,
  valueClass,
}: {
  label: string;
  children: ComponentChildren;
  testid?: string;
  /** More classes for the value (num, text-bad…). */
  valueClass?: string;
}) {
  return (
    <div class="field" data-testid={testid}>
      <div class="label">{label}</div>
      <div class={valueClass === undefined ? "value" : `value ${valueClass}`}>{children}</div>
    </div>
  );
}
