// The fast timestamptz parser gives exactly what pg's own parser gives, on the shapes Postgres
// prints and on those it leaves to pg (BC, infinity, early years, malformed text).
import pg from "pg";
import { expect, test } from "vitest";
import { parseTimestamptz } from "./timestamps.ts";

const pgParse = pg.types.getTypeParser(1184, "text") as (text: string) => unknown;
const same = (text: string) => {
  const ours = parseTimestamptz(text);
  const theirs = pgParse(text);
  expect(ours instanceof Date ? ours.getTime() : ours, text).toEqual(
    theirs instanceof Date ? theirs.getTime() : theirs,
  );
};

test("agrees with pg's parser on the shapes Postgres prints", () => {
  for (const text of [
    "2026-11-27 17:28:07+00",
    "2026-11-27 17:28:07.1+00",
    "2026-11-27 17:28:07.123+00",
    "2026-11-27 17:28:07.123456+00",
    "2026-11-27 17:28:07.999999+00",
    "2026-11-27 17:28:07.000001+00",
    "2026-11-27 23:59:59.5-08",
    "2026-01-01 00:00:00.25+05:30",
    "1999-12-31 23:59:59.999+14",
    "2026-03-29 01:30:00+01:00",
    "1883-11-18 12:03:58+00:03:58",
    "2000-02-29 12:00:00.000500-11:30",
  ]) {
    same(text);
  }
});

test("agrees with pg's parser on random instants in any offset", () => {
  let seed = 20261127;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  for (let n = 0; n < 5000; n++) {
    const d = new Date(Date.UTC(1000 + Math.floor(rand() * 9000), 0, 1) + Math.floor(rand() * 365 * 86_400_000));
    const fraction =
      rand() < 0.3
        ? ""
        : `.${String(Math.floor(rand() * 1e6))
            .padStart(6, "0")
            .slice(0, 1 + Math.floor(rand() * 6))}`;
    const hours = Math.floor(rand() * 15);
    const minutes = rand() < 0.7 ? 0 : 30;
    const offset = `${rand() < 0.5 ? "+" : "-"}${pad(hours)}${minutes || rand() < 0.5 ? `:${pad(minutes)}` : ""}`;
    same(
      `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${fraction}${offset}`,
    );
  }
});

test("leaves what it does not read to pg's parser", () => {
  for (const text of [
    "infinity",
    "-infinity",
    "0044-03-15 12:00:00+00 BC",
    "0099-01-01 00:00:00+00",
    "0500-06-01 10:00:00.5+01",
    "12026-11-27 17:28:07+00",
    "2026-11-27 17:28:07",
    "2026-11-27T17:28:07Z",
    "2026-11-27 17:28:07.123+0a",
  ]) {
    same(text);
  }
});
