// Parsing of Postgres `timestamptz` text (the journal's rows carry up to seven per row). pg's
// default parser runs three regular expressions per value, about 3% of the journal's CPU under load.
// Values in the shape Postgres prints with DateStyle ISO (`2026-11-27 17:28:07.123456+00`, any
// offset) are read here by position; anything else (BC, infinity, a year before 1000 or after
// 9999, another DateStyle) goes to pg's own parser, and both give the same Date (millisecond
// precision, the fraction truncated).
import pg from "pg";

const TIMESTAMPTZ_OID = 1184;
const fallback = pg.types.getTypeParser(TIMESTAMPTZ_OID, "text") as (text: string) => Date | number | null;

/** Two decimal digits at `i`, or NaN. */
function two(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : Number.NaN;
}

export function parseTimestamptz(s: string): Date | number | null {
  // "YYYY-MM-DD HH:MM:SS" then an optional fraction, then the offset "+HH", "+HH:MM" or "+HH:MM:SS".
  if (s.length < 22 || s.charCodeAt(4) !== 45 || s.charCodeAt(10) !== 32 || s.charCodeAt(13) !== 58) {
    return fallback(s);
  }
  const year = two(s, 0) * 100 + two(s, 2);
  const month = two(s, 5);
  const day = two(s, 8);
  const hour = two(s, 11);
  const minute = two(s, 14);
  const second = two(s, 17);
  let i = 19;
  let ms = 0;
  if (s.charCodeAt(i) === 46) {
    // The fraction: its first three digits are the milliseconds (the rest is truncated by Date).
    i++;
    let scale = 100;
    while (i < s.length) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      ms += d * scale;
      scale /= 10;
      i++;
    }
    ms = Math.floor(ms);
  }
  const sign = s.charCodeAt(i);
  if (sign !== 43 && sign !== 45) return fallback(s);
  let offset = two(s, i + 1) * 3600;
  i += 3;
  if (s.charCodeAt(i) === 58) {
    offset += two(s, i + 1) * 60;
    i += 3;
    if (s.charCodeAt(i) === 58) {
      offset += two(s, i + 1);
      i += 3;
    }
  }
  if (i !== s.length || year < 1000 || Number.isNaN(year + month + day + hour + minute + second + offset)) {
    return fallback(s);
  }
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  return new Date(sign === 43 ? utc - offset * 1000 : utc + offset * 1000);
}

/** pg type parsers with the fast timestamptz parser (for a pool's `types` option). */
export const journalTypes = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === TIMESTAMPTZ_OID && format !== "binary"
      ? parseTimestamptz
      : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
};
