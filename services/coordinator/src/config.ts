// The coordinator's settings, from the environment.

import { hostname } from "node:os";
import { commonEnv, envBool, envInt, parseEnv } from "@weft/runtime";
import { z } from "zod";

export const coordinatorEnv = {
  ...commonEnv,
  WEFT_APP: z.string({ message: "required: path of the app module (workflows and steps)" }).min(1),
  WEFT_COORDINATOR_HOST: z.string().default("0.0.0.0"),
  WEFT_COORDINATOR_PORT: envInt(0, 65535, 7234),
  WEFT_COORDINATOR_ID: z.string().min(1).default(`coordinator-${hostname()}-${process.pid}`),
  WEFT_CLAIM_BATCH: envInt(1, 10_000, 256),
  WEFT_LEASE_MS: envInt(1_000, 3_600_000, 30_000),
  WEFT_SAFETY_POLL_MS: envInt(50, 60_000, 1_000),
  WEFT_MAX_CONCURRENT_TURNS: envInt(1, 64, 2),
  WEFT_ALWAYS_REPLAY: envBool(false),
  WEFT_CACHED_RUNS: envInt(0, 10_000_000, 50_000),
  WEFT_CLAIM_STREAM_ROTATE_RUNS: envInt(1, 10_000_000, 10_000),
  WEFT_REGISTER_INTERVAL_MS: envInt(100, 3_600_000, 10_000),
};

export type CoordinatorConfig = ReturnType<typeof parseCoordinatorConfig>;

export function parseCoordinatorConfig(env: Record<string, string | undefined> = process.env) {
  return parseEnv(coordinatorEnv, env);
}
