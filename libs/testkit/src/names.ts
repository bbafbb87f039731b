// Names for isolated test resources, derived from the test's own name so a leftover database or
// stream says which test made it.
import { randomBytes } from "node:crypto";

export function isolatedName(testName: string, maxBase = 30): string {
  const base = testName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, maxBase);
  return `t_${base}_${randomBytes(4).toString("hex")}`;
}
