// Configuration from the environment, parsed once at start-up by a zod schema. A bad value stops
// the service with a message naming the variable.
import { z } from "zod";

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses `env` with a schema whose keys are environment variable names. */
export function parseEnv<S extends z.ZodRawShape>(
  shape: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<z.ZodObject<S>> {
  const picked: Record<string, string | undefined> = {};
  for (const key of Object.keys(shape)) {
    const value = env[key];
    picked[key] = value === "" ? undefined : value;
  }
  const parsed = z.object(shape).safeParse(picked);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${lines.join("; ")}`);
  }
  return parsed.data;
}

const int = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);

export const envInt = int;

export const envBool = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no"])
    .default(fallback ? "true" : "false")
    .transform((v) => v === "true" || v === "1" || v === "yes");

/** Settings every Weft process shares. */
export const commonEnv = {
  WEFT_DATABASE_URL: z.string().default("postgres://postgres@127.0.0.1:5432/weft"),
  WEFT_NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  WEFT_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9_-]+$/, "letters, digits, _ and - only")
    .default("weft"),
  WEFT_JOURNAL_URL: z.string().url().default("http://127.0.0.1:7233"),
  /** Comma-separated origins allowed to call from browsers (Connect-Web), or "*". */
  WEFT_CORS_ORIGINS: z
    .string()
    .default("")
    .transform((v) =>
      v
        .split(",")
        .map((o) => o.trim())
        .filter(Boolean),
    ),
  /** This process's NATS user (deploy/nats/nats.conf) and its password or token; secrets also from files. */
  WEFT_NATS_USER: z.string().min(1).optional(),
  WEFT_NATS_PASSWORD: z.string().optional(),
  WEFT_NATS_PASSWORD_FILE: z.string().optional(),
  WEFT_NATS_TOKEN: z.string().optional(),
  WEFT_NATS_TOKEN_FILE: z.string().optional(),
  /** The service token: what the journal accepts for its internal API, and what coordinators and executors send. */
  WEFT_SERVICE_TOKEN: z.string().min(16, "at least 16 characters").optional(),
  WEFT_SERVICE_TOKEN_FILE: z.string().optional(),
  WEFT_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
};

export type CommonConfig = z.infer<z.ZodObject<typeof commonEnv>>;
