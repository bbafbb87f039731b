// Identifiers: UUID v7 (time-ordered, so inserts stay local in the primary key index), monotonic
// within the process. The random bits come from a pooled buffer refilled 256 ids at a time: one
// getRandomValues call per id was 2% of the journal's CPU under load.
import { randomFillSync } from "node:crypto";
import { v7 } from "uuid";

const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let used = POOL_BYTES;
const state = { msecs: Number.NEGATIVE_INFINITY, seq: 0 };

export const uuidv7 = (): string => {
  if (used + 16 > POOL_BYTES) {
    randomFillSync(pool);
    used = 0;
  }
  const random = pool.subarray(used, used + 16);
  used += 16;
  // The uuid package's own monotonic sequence (RFC 9562 method 1), kept here because it applies
  // only when the package draws the random bytes itself.
  const now = Date.now();
  if (now > state.msecs) {
    state.seq =
      (((random[6] ?? 0) & 0x7f) << 24) | ((random[7] ?? 0) << 16) | ((random[8] ?? 0) << 8) | (random[9] ?? 0);
    state.msecs = now;
  } else {
    state.seq = (state.seq + 1) | 0;
    if (state.seq === 0) state.msecs++;
  }
  return v7({ random, msecs: state.msecs, seq: state.seq });
};
