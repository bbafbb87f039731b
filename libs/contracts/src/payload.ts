// JSON payloads travel as UTF-8 bytes in proto `bytes` fields; an empty field means null.
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

const EMPTY = new Uint8Array(0);

/** Encodes a JSON-serialisable value; `undefined` becomes the empty payload (null). */
export function encodePayload(value: unknown): Uint8Array {
  if (value === undefined) return EMPTY;
  const text = JSON.stringify(value);
  // JSON.stringify returns undefined for functions and symbols.
  if (text === undefined) return EMPTY;
  return encoder.encode(text);
}

/** Decodes a payload; throws PayloadError on invalid UTF-8 or invalid JSON. */
export function decodePayload<T = unknown>(bytes: Uint8Array): T {
  if (bytes.length === 0) return null as T;
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new PayloadError("is not valid UTF-8");
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new PayloadError(`is not valid JSON (${(err as Error).message})`);
  }
}

export class PayloadError extends Error {
  override name = "PayloadError";
}
