// Exit codes and the one-line error the CLI prints on stderr: scripts branch on the code, people
// read the Connect code and message.
import { Code, ConnectError } from "@connectrpc/connect";

export const EXIT = {
  ok: 0,
  /** The run ended failed or canceled (result, start --wait, watch). */
  runFailed: 1,
  /** Bad usage or input, or a request the journal rejected (InvalidArgument, FailedPrecondition, ...). */
  usage: 2,
  notFound: 3,
  /** The journal is unreachable or unavailable. */
  unavailable: 4,
  /** --timeout passed before the run ended. */
  timeout: 5,
  /** Anything else (Internal, Unknown, a bug). */
  error: 6,
} as const;

/** An error the CLI reports with its own exit code and a Connect-style code name. */
export class CliError extends Error {
  readonly exitCode: number;
  readonly code: string;
  constructor(message: string, exitCode: number, code: string) {
    super(message);
    this.exitCode = exitCode;
    this.code = code;
  }
}

export const usageError = (message: string) => new CliError(message, EXIT.usage, "invalid_argument");

const BY_CODE: Partial<Record<Code, number>> = {
  [Code.InvalidArgument]: EXIT.usage,
  [Code.FailedPrecondition]: EXIT.usage,
  [Code.OutOfRange]: EXIT.usage,
  [Code.ResourceExhausted]: EXIT.usage,
  [Code.AlreadyExists]: EXIT.usage,
  [Code.NotFound]: EXIT.notFound,
  [Code.Unavailable]: EXIT.unavailable,
  [Code.DeadlineExceeded]: EXIT.unavailable,
};

/** Connect's wire name of a code: NotFound → "not_found". */
export const codeName = (code: Code): string => Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();

export interface ErrorReport {
  exitCode: number;
  /** Connect code name ("not_found", "unavailable", ...). */
  code: string;
  message: string;
}

export function reportError(err: unknown): ErrorReport {
  if (err instanceof CliError) return { exitCode: err.exitCode, code: err.code, message: err.message };
  if (err instanceof ConnectError) {
    return { exitCode: BY_CODE[err.code] ?? EXIT.error, code: codeName(err.code), message: err.rawMessage };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { exitCode: EXIT.error, code: "unknown", message };
}
