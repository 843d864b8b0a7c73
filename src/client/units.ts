import { formatUnits, parseUnits } from "ethers";
import { InvalidInputError } from "../protocol/index.js";

/**
 * Numbers given on the command line. Hardhat 3's parser reads every word that starts with "-" as an
 * option: `--min-value -40` and `--min-value=-40` (split into the same two words) are refused before a
 * task sees them. A negative value is written with a leading space inside quotes, `--min-value " -40"`,
 * which these parsers accept (they trim).
 */

/** How a negative value gets past Hardhat's argument parser; said in every error about one. */
export const NEGATIVE_HINT = 'a negative value goes in quotes with a leading space: " -40"';

/**
 * A value given with more decimals than the feed holds ("21.555" for a feed of 2 decimals): refused
 * rather than rounded, since a rounded reading is not the one asked for. Code INVALID_INPUT.
 */
export class TooManyDecimalsError extends InvalidInputError {
  readonly option: string;
  readonly value: string;
  /** The value's decimals, trailing zeros left out. */
  readonly given: number;
  /** The feed's decimals. */
  readonly decimals: number;

  constructor(option: string, value: string, given: number, decimals: number) {
    super(
      `${option} "${value}" has ${String(given)} decimals, the feed only ${String(decimals)}: give it with at most ${String(decimals)} decimals (round it yourself; the feed holds values scaled by 10^${String(decimals)})`,
    );
    this.name = "TooManyDecimalsError";
    this.option = option;
    this.value = value;
    this.given = given;
    this.decimals = decimals;
  }
}

/**
 * A signed decimal (" -40.5", "125") scaled by `decimals`: the feed's integer for a physical value. A
 * value finer than the feed can hold ("21.555" with 2 decimals) is refused, not rounded.
 */
export function parseDecimal(value: string, decimals: number, option: string): bigint {
  const v = value.trim();
  if (v === "")
    throw new InvalidInputError(`${option} is required: give a number (${NEGATIVE_HINT})`);
  // Trailing zeros lose nothing ("21.50" is 2150 with 2 decimals).
  const fraction = /^-?\d*\.(\d*?)0*$/.exec(v)?.[1];
  if (fraction !== undefined && fraction.length > decimals) {
    throw new TooManyDecimalsError(option, value, fraction.length, decimals);
  }
  try {
    return parseUnits(v, decimals);
  } catch (cause) {
    throw new InvalidInputError(
      `${option} "${value}" is not a number with at most ${String(decimals)} decimals (e.g. 125 or -40.5; ${NEGATIVE_HINT})`,
      { cause },
    );
  }
}

/** What parseAmount needs of a token. */
export interface TokenUnits {
  readonly symbol: string;
  readonly decimals: number;
}

/**
 * A positive token amount given on the command line: decimal units of the token ("1.5" is 1.5 tokens,
 * read with the token's decimals) or, with `wei`, its smallest units as a whole number. With
 * `allowZero`, 0 is taken too (a minimum that asks for nothing).
 */
export function parseAmount(
  value: string,
  token: TokenUnits,
  wei: boolean,
  option: string,
  { allowZero = false }: { readonly allowZero?: boolean } = {},
): bigint {
  const v = value.trim();
  if (v === "")
    throw new InvalidInputError(`${option} is required: give an amount of ${token.symbol}`);
  const amount = wei ? parseWei(v, token, option) : parseTokens(v, token, option);
  if (amount < 0n || (amount === 0n && !allowZero)) {
    throw new InvalidInputError(
      `${option} must be ${allowZero ? "zero or more" : "positive"}, got "${value}"`,
    );
  }
  return amount;
}

function parseWei(value: string, token: TokenUnits, option: string): bigint {
  if (!/^\d+$/.test(value)) {
    throw new InvalidInputError(
      `${option} "${value}" is not a whole number of ${token.symbol} base units (--wei): drop --wei to give token units (e.g. 1.5)`,
    );
  }
  return BigInt(value);
}

function parseTokens(value: string, token: TokenUnits, option: string): bigint {
  try {
    return parseUnits(value, token.decimals);
  } catch (cause) {
    throw new InvalidInputError(
      `${option} "${value}" is not an amount of ${token.symbol} with at most ${String(token.decimals)} decimals (e.g. 1.5); add --wei to give base units`,
      { cause },
    );
  }
}

/** `amount` in decimal units, without a trailing ".0": "1000.5", "-40.25". */
export function formatAmount(amount: bigint, token: Pick<TokenUnits, "decimals">): string {
  const text = formatUnits(amount, token.decimals);
  return text.endsWith(".0") ? text.slice(0, -2) : text;
}
