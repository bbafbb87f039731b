// Seeded step durations shared with the peers' benchmark: FNV-1a (32-bit) of
// "salt|index|step" seeds mulberry32; duration uniform in [8, 12) s.
import { fnv1a32, mulberry32 } from "@weft/sdk/workflow";

export const SEED_SALT = 20261125;
export const SEED_STEPS = ["extract", "analyzeA", "analyzeB", "summarize"] as const;

export function seededMs(index: number, step: string, salt = SEED_SALT): number {
  const next = mulberry32(fnv1a32(`${salt}|${index}|${step}`));
  return 8000 + Math.floor(next() * 4000);
}

export function seededDurations(index: number): [number, number, number, number] {
  return SEED_STEPS.map((s) => seededMs(index, s)) as [number, number, number, number];
}

/** The run's own critical path: extract + max(analyzeA, analyzeB) + summarize. */
export function criticalPathMs(ms: readonly number[]): number {
  return (ms[0] ?? 0) + Math.max(ms[1] ?? 0, ms[2] ?? 0) + (ms[3] ?? 0);
}
