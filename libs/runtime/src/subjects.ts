// Names of the JetStream stream, consumers and NATS subjects, derived from one prefix so that
// every deployment (and every test) is isolated by its prefix.

export const taskSubject = (prefix: string, shard: number) => `${prefix}.tasks.${shard}`;
export const taskStream = (prefix: string) => `${prefix}_tasks`;
export const shardConsumer = (prefix: string, shard: number) => `${prefix}_shard_${shard}`;
/** Core NATS: "some run became ready". */
export const wakeSubject = (prefix: string) => `${prefix}.wake`;
/**
 * Core NATS: "these runs changed" (watchers re-read them). One notice per commit, its body the
 * changed run ids separated by spaces; every journal replica listens while it serves a watch.
 */
export const runChangesSubject = (prefix: string) => `${prefix}.run.changes`;
/**
 * Core NATS: "these runs ended" (completed, failed or canceled), for watches of the final state
 * only (and executors, to stop the running steps of ended runs). The same body as the change
 * notice; the runs are named in the change notice too.
 */
export const runEndsSubject = (prefix: string) => `${prefix}.run.ends`;

const noticeEncoder = new TextEncoder();
const noticeDecoder = new TextDecoder();
/** The body of a run notice (`run.changes`, `run.ends`): the run ids, separated by spaces. */
export const encodeRunIds = (runIds: readonly string[]): Uint8Array => noticeEncoder.encode(runIds.join(" "));
/** The run ids a run notice names. */
export const decodeRunIds = (body: Uint8Array): string[] => noticeDecoder.decode(body).split(" ");
/** Core NATS: rate-limit notices shared by all executors. */
export const rateLimitSubject = (prefix: string) => `${prefix}.ratelimit`;

/** FNV-1a (32-bit) of the run id, mod the shard count. */
export function shardOf(runId: string, shardCount: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < runId.length; i++) {
    hash ^= runId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shardCount;
}
