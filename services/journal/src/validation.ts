// Edge validation: every RPC checks its input here first and answers with a Connect code and a
// message that names the field, so that a rejected call writes nothing.
import { Code, ConnectError } from "@connectrpc/connect";
import { decodePayload, PayloadError } from "@weft/contracts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const invalid = (field: string, problem: string) =>
  new ConnectError(`${field}: ${problem}`, Code.InvalidArgument);

export const notFound = (field: string, problem: string) => new ConnectError(`${field}: ${problem}`, Code.NotFound);

export function requireUuid(field: string, value: string): string {
  if (value === "") throw invalid(field, "is required");
  if (!UUID.test(value)) throw invalid(field, `"${truncate(value)}" is not a UUID`);
  return value.toLowerCase();
}

export function optionalUuid(field: string, value: string): string | undefined {
  return value === "" ? undefined : requireUuid(field, value);
}

export function requireName(field: string, value: string, maxLength = 256): string {
  if (value === "") throw invalid(field, "is required");
  return requireText(field, value, maxLength);
}

export function optionalText(field: string, value: string, maxLength: number): string | undefined {
  requireText(field, value, maxLength);
  return value === "" ? undefined : value;
}

/** Text Postgres can store as it came: bounded, well-formed Unicode (no lone surrogates), no NUL. */
function requireText(field: string, value: string, maxLength: number): string {
  if (value.length > maxLength) throw invalid(field, `is longer than ${maxLength} characters`);
  if (!value.isWellFormed()) throw invalid(field, "is not well-formed Unicode (lone surrogate)");
  if (value.includes("\u0000")) throw invalid(field, "contains a NUL character");
  return value;
}

/** A step's or run's failure: name and message required-ish text, stack bounded, details a JSON payload. */
export function requireFailure(
  field: string,
  failure: { name: string; message: string; stack: string; details: Uint8Array },
  maxPayloadBytes: number,
): void {
  optionalText(`${field}.name`, failure.name, 256);
  optionalText(`${field}.message`, failure.message, 64 * 1024);
  optionalText(`${field}.stack`, failure.stack, 64 * 1024);
  requireJson(`${field}.details`, failure.details, maxPayloadBytes);
}

/** A JSON payload in a `bytes` field: at most `maxBytes`, UTF-8, valid JSON (empty means null). */
export function requireJson(field: string, value: Uint8Array, maxBytes: number): Uint8Array {
  if (value.length > maxBytes) {
    throw new ConnectError(
      `${field}: payload of ${value.length} bytes exceeds the limit of ${maxBytes} bytes (WEFT_MAX_PAYLOAD_BYTES)`,
      Code.ResourceExhausted,
    );
  }
  try {
    decodePayload(value);
  } catch (err) {
    if (err instanceof PayloadError) throw invalid(field, err.message);
    throw err;
  }
  return value;
}

export function requireRange(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, `must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

/** Protobuf's Timestamp range (years 1 to 9999) with nanos in [0, 1e9): what Postgres and Date can hold. */
export function optionalTimestamp(field: string, value: { seconds: bigint; nanos: number } | undefined): void {
  if (!value) return;
  if (value.seconds < -62_135_596_800n || value.seconds > 253_402_300_799n) {
    throw invalid(field, `seconds ${value.seconds} is outside years 1 to 9999`);
  }
  if (!Number.isInteger(value.nanos) || value.nanos < 0 || value.nanos > 999_999_999) {
    throw invalid(field, `nanos ${value.nanos} is outside 0 to 999999999`);
  }
}

const INT64_MAX = 2n ** 63n - 1n;
const INT32_MAX = 2 ** 31 - 1;

/** A uint64 stored in a Postgres bigint. */
export function requireInt64(field: string, value: bigint): bigint {
  if (value < 0n || value > INT64_MAX) throw invalid(field, `must be between 0 and ${INT64_MAX}, got ${value}`);
  return value;
}

/** A uint32 stored in a Postgres integer. */
export function requireInt32(field: string, value: number): number {
  return requireRange(field, value, 0, INT32_MAX);
}

export function requireCount(field: string, length: number, min: number, max: number): void {
  if (length < min) throw invalid(field, min === 1 ? "must not be empty" : `needs at least ${min} entries`);
  if (length > max) throw invalid(field, `has ${length} entries, more than the maximum of ${max}`);
}

function truncate(value: string): string {
  return value.length > 64 ? `${value.slice(0, 64)}…` : value;
}
