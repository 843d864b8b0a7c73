import { Tag } from "cbor2";

/**
 * The head of a CBOR item of `major` type with argument `arg` in the length `form` picks (RFC 8949 §3):
 * 0 the shortest, 1-4 a one-, two-, four- or eight-byte argument where `arg` fits (else the shortest).
 */
export function looseHead(major: number, arg: number, form: number): Buffer {
  const f = form % 5;
  const fits = [arg < 24, arg < 0x100, arg < 0x10000, arg < 0x100000000, true];
  const size = f > 0 && fits[f] === true ? f : fits.findIndex((x) => x);
  if (size === 0) return Buffer.of((major << 5) | arg);
  const bytes = 1 << (size - 1);
  const out = Buffer.alloc(1 + bytes);
  out[0] = (major << 5) | (23 + size);
  // Zero-filled: the high bytes of an 8-byte argument stay 0 (every argument here is below 2^48).
  out.writeUIntBE(arg, 1 + bytes - Math.min(bytes, 6), Math.min(bytes, 6));
  return out;
}

/**
 * CBOR as an attester that does not emit preferred serialization may write it (RFC 9783 §5): every head's
 * argument in the length `form` picks (see looseHead), map entries in the order `order` gives. Integers,
 * byte and text strings, arrays, maps and tags.
 */
export function encodeLoose(
  value: unknown,
  form: () => number,
  order: <T>(entries: T[]) => T[] = (e) => e,
): Uint8Array {
  const head = (major: number, arg: number): Buffer => looseHead(major, arg, form());
  const enc = (v: unknown): Buffer => {
    if (typeof v === "number") return v >= 0 ? head(0, v) : head(1, -1 - v);
    if (v instanceof Uint8Array) return Buffer.concat([head(2, v.length), v]);
    if (typeof v === "string") {
      const b = Buffer.from(v, "utf8");
      return Buffer.concat([head(3, b.length), b]);
    }
    if (Array.isArray(v)) return Buffer.concat([head(4, v.length), ...v.map(enc)]);
    if (v instanceof Map) {
      const entries = order([...(v as Map<unknown, unknown>)]);
      return Buffer.concat([
        head(5, entries.length),
        ...entries.flatMap(([k, x]) => [enc(k), enc(x)]),
      ]);
    }
    if (v instanceof Tag) return Buffer.concat([head(6, Number(v.tag)), enc(v.contents)]);
    throw new Error(`encodeLoose: cannot encode ${typeof v}`);
  };
  return new Uint8Array(enc(value));
}
