// Conversions between protobuf Timestamps and epoch milliseconds / Dates.
import { type Timestamp, timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";

export function toTimestamp(value: Date | number): Timestamp {
  return timestampFromMs(typeof value === "number" ? value : value.getTime());
}

export function fromTimestamp(value: Timestamp | undefined): Date | undefined {
  return value ? timestampDate(value) : undefined;
}

export function timestampMs(value: Timestamp | undefined): number | undefined {
  return value ? Number(value.seconds) * 1000 + Math.floor(value.nanos / 1_000_000) : undefined;
}
