/** The demos' output: numbered steps, indented lines, short hex and gas figures. */

export function out(line = ""): void {
  process.stdout.write(`${line}\n`);
}

let stepNo = 0;

/** A numbered step title after a blank line. */
export function step(title: string): void {
  stepNo++;
  out();
  out(`${String(stepNo)}. ${title}`);
}

/** A line under the current step. */
export function say(line: string): void {
  out(`   ${line}`);
}

/** 0x12345678…abcd */
export function short(hex: string): string {
  return `${hex.slice(0, 10)}…${hex.slice(-4)}`;
}

export function gas(g: bigint): string {
  return Number(g).toLocaleString("en-US");
}
