// The encoded size of a StepResult without encoding it: the flusher splits batches by bytes, and
// encoding every result once for its size and again inside RecordResultBatch was ~8% of the
// executor's CPU per step. Exact for the fields below (result-size.test.ts compares with
// toBinary); a field added to StepResult must be added here too (the test fails until it is).
import type { Failure, StepResult } from "@weft/contracts";

interface Timestamp {
  seconds: bigint;
  nanos: number;
}

function varint(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function varint64(n: bigint): number {
  if (n < 0n) return 10; // two's complement of a negative int64
  let size = 1;
  while (n >= 0x80n) {
    n >>= 7n;
    size++;
  }
  return size;
}

/** Field of length-delimited content (tag 1 byte: field numbers < 16). */
const delimited = (len: number) => 1 + varint(len) + len;

function text(s: string): number {
  if (s.length === 0) return 0;
  return delimited(Buffer.byteLength(s));
}

function bytes(b: Uint8Array): number {
  return b.length === 0 ? 0 : delimited(b.length);
}

function uint32(n: number): number {
  return n === 0 ? 0 : 1 + varint(n);
}

function timestamp(t: Timestamp | undefined): number {
  if (!t) return 0;
  const inner = (t.seconds === 0n ? 0 : 1 + varint64(t.seconds)) + (t.nanos === 0 ? 0 : 1 + varint(t.nanos));
  return delimited(inner);
}

function failure(f: Failure): number {
  return delimited(text(f.name) + text(f.message) + text(f.stack) + bytes(f.details));
}

export function stepResultBytes(r: StepResult): number {
  let size = text(r.stepId) + text(r.runId) + uint32(r.generation) + uint32(r.attempt);
  if (r.outcome.case === "result") size += delimited(r.outcome.value.length);
  else if (r.outcome.case === "failure") size += failure(r.outcome.value);
  return size + timestamp(r.startedAt) + timestamp(r.finishedAt) + text(r.traceparent);
}
