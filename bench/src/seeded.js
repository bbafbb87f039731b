// Seeded step durations shared with the peers' benchmark: FNV-1a (32-bit) of
// "salt|index|step" seeds mulberry32; duration uniform in [8, 12) s.
import { fnv1a32, mulberry32 } from "@weft/sdk/workflow";
export const SEED_SALT = 20261125;
export const SEED_STEPS = ["extract", "analyzeA", "analyzeB", "summarize"];
export function seededMs(index, step, salt = SEED_SALT) {
  const next = mulberry32(fnv1a32(`${salt}|${index}|${step}`));
  return 8000 + Math.floor(next() * 4000);
}
export function seededDurations(index) {
  return SEED_STEPS.map((s) => seededMs(index, s));
}
/** The run's own critical path: extract + max(analyzeA, analyzeB) + summarize. */
export function criticalPathMs(ms) {
  return (ms[0] ?? 0) + Math.max(ms[1] ?? 0, ms[2] ?? 0) + (ms[3] ?? 0);
}
