// UUID v7 from pooled random bytes: valid, unique, and increasing within the process.
import { expect, test } from "vitest";
import { uuidv7 } from "./ids.ts";

test("uuidv7: version 7, RFC variant, unique and strictly increasing across pool refills", () => {
  const ids = Array.from({ length: 5000 }, () => uuidv7());
  for (const id of ids.slice(0, 50))
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(new Set(ids).size).toBe(ids.length);
  for (let i = 1; i < ids.length; i++) expect((ids[i] as string) > (ids[i - 1] as string)).toBe(true);
  const ms = Number.parseInt((ids.at(-1) as string).replace(/-/g, "").slice(0, 12), 16);
  expect(Math.abs(ms - Date.now())).toBeLessThan(5000);
});
