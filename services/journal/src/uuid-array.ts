// uuid[] parameters in Postgres's binary array format. The journal's connections (db.ts) send
// every parameter a statement casts `$n::uuid[]` this way: node-pg sends a Buffer parameter as
// binary, and Postgres reads it with array_recv, copying 16 bytes per id instead of parsing a text
// literal (array_in and uuid_in were about 6% of its time at W0), and the client writes the bytes
// instead of quoting every element into a string.

const UUID_OID = 2950;
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[65 + i] = 10 + i;
  HEX[97 + i] = 10 + i;
}
// Where each of the 16 bytes starts in the canonical 8-4-4-4-12 text form.
const OFFSETS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

function nibble(text: string, at: number): number {
  const code = text.charCodeAt(at);
  const value = code < 128 ? (HEX[code] as number) : -1;
  if (value < 0) throw new TypeError(`not a uuid: "${text}"`);
  return value;
}

/**
 * The binary form of a one-dimensional uuid[] (nulls allowed), for a parameter cast `::uuid[]`.
 * Ids must be in the canonical text form (either case); anything else throws, as Postgres would.
 */
export function uuidArray(ids: Iterable<string | null | undefined>): Buffer {
  const list = Array.isArray(ids) ? (ids as readonly (string | null | undefined)[]) : [...ids];
  const n = list.length;
  if (n === 0) {
    // No dimensions: ndim 0, no nulls, the element type.
    const empty = Buffer.alloc(12);
    empty.writeUInt32BE(UUID_OID, 8);
    return empty;
  }
  let nulls = 0;
  for (const id of list) if (id == null) nulls++;
  const out = Buffer.allocUnsafe(20 + n * 4 + (n - nulls) * 16);
  out.writeInt32BE(1, 0); // dimensions
  out.writeInt32BE(nulls > 0 ? 1 : 0, 4);
  out.writeUInt32BE(UUID_OID, 8);
  out.writeInt32BE(n, 12); // length of the dimension
  out.writeInt32BE(1, 16); // its lower bound
  let at = 20;
  for (const id of list) {
    if (id == null) {
      out.writeInt32BE(-1, at);
      at += 4;
      continue;
    }
    if (id.length !== 36 || id[8] !== "-" || id[13] !== "-" || id[18] !== "-" || id[23] !== "-") {
      throw new TypeError(`not a uuid: "${id}"`);
    }
    out.writeInt32BE(16, at);
    at += 4;
    for (const o of OFFSETS) out[at++] = (nibble(id, o) << 4) | nibble(id, o + 1);
  }
  return out;
}
