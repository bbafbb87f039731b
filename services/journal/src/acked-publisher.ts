// JetStream publishes with acks, for the task hot path. `JetStreamClient.publish` makes each
// publish a full request (its own mux entry, timer and, on every completion, an Error built for
// a stack trace); at thousands of tasks a second that showed as the journal's largest NATS cost.
// Here every publish is a core publish whose reply subject is one shared wildcard subscription:
// an ack is one map lookup, and one sweep a second times out the publishes nobody answered.
// The message id travels in the `Nats-Msg-Id` header, so JetStream's duplicate window applies
// exactly as with `JetStreamClient.publish({ msgID })`.
import { createInbox, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";

export interface PubAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

interface Pending {
  resolve(ack: PubAck): void;
  reject(err: Error): void;
  sentAt: number;
}

export class AckedPublisher {
  private readonly nc: NatsConnection;
  private readonly inbox: string;
  private readonly sub: Subscription;
  private readonly pending = new Map<number, Pending>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly timeoutMs: number;
  private next = 0;
  private closed = false;

  constructor(nc: NatsConnection, timeoutMs = 5_000) {
    this.nc = nc;
    this.timeoutMs = timeoutMs;
    this.inbox = createInbox();
    this.sub = nc.subscribe(`${this.inbox}.*`, {
      callback: (err, msg) => {
        if (err) return this.failAll(err);
        this.settle(msg.subject, msg.data, msg.headers);
      },
    });
    this.sweeper = setInterval(() => this.sweep(), Math.min(1_000, timeoutMs)).unref();
  }

  /** Publishes `data` to a stream's subject and resolves with JetStream's ack. */
  publish(subject: string, data: Uint8Array, msgId: string, headers: MsgHdrs): Promise<PubAck> {
    if (this.closed) return Promise.reject(new Error("JetStream publish: publisher closed"));
    const id = ++this.next;
    headers.set("Nats-Msg-Id", msgId);
    return new Promise<PubAck>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, sentAt: Date.now() });
      try {
        this.nc.publish(subject, data, { reply: `${this.inbox}.${id}`, headers });
      } catch (err) {
        this.pending.delete(id);
        reject(err as Error);
      }
    });
  }

  /** Publishes awaiting their ack (tests, metrics). */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Stops listening; publishes still waiting fail. */
  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    this.sub.unsubscribe();
    this.failAll(new Error("publisher closed"));
  }

  private settle(subject: string, data: Uint8Array, headers: MsgHdrs | undefined): void {
    const id = Number(subject.slice(this.inbox.length + 1));
    const entry = this.pending.get(id);
    if (!entry) return; // already timed out
    this.pending.delete(id);
    // A status reply: 503 when no stream listens on the subject.
    if (headers?.hasError) {
      entry.reject(new Error(`JetStream publish failed: ${headers.code} ${headers.description || "no responders"}`));
      return;
    }
    try {
      const ack = JSON.parse(new TextDecoder().decode(data)) as {
        stream?: string;
        seq?: number;
        duplicate?: boolean;
        error?: { code?: number; err_code?: number; description?: string };
      };
      if (ack.error) {
        const { description = "error", err_code, code } = ack.error;
        entry.reject(new Error(`JetStream publish failed: ${description} (${err_code ?? code})`));
      } else if (!ack.stream) {
        entry.reject(new Error("JetStream publish failed: invalid ack"));
      } else {
        entry.resolve({ stream: ack.stream, seq: ack.seq ?? 0, duplicate: ack.duplicate ?? false });
      }
    } catch (err) {
      entry.reject(err as Error);
    }
  }

  private sweep(): void {
    const cutoff = Date.now() - this.timeoutMs;
    for (const [id, entry] of this.pending) {
      // Entries are in publish order: the first one not yet due ends the sweep.
      if (entry.sentAt > cutoff) break;
      this.pending.delete(id);
      entry.reject(new Error(`JetStream publish: no ack within ${this.timeoutMs} ms`));
    }
  }

  private failAll(err: Error): void {
    for (const entry of this.pending.values()) entry.reject(err);
    this.pending.clear();
  }
}
