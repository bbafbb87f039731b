// Core NATS notices after a commit: `<prefix>.wake` for coordinators when runs became ready, and
// `<prefix>.run.<id>` for watchers when a run or its steps changed. Fire-and-forget: losing one
// only delays a claim until the coordinator's poll or a watcher's fallback read.
import { type NatsConnection, runSubject, wakeSubject } from "@weft/runtime";

export class Notifier {
  private readonly nc: NatsConnection;
  private readonly prefix: string;

  constructor(nc: NatsConnection, prefix: string) {
    this.nc = nc;
    this.prefix = prefix;
  }

  wake(): void {
    this.safely(() => this.nc.publish(wakeSubject(this.prefix)));
  }

  runsChanged(runIds: Iterable<string>): void {
    for (const id of new Set(runIds)) this.safely(() => this.nc.publish(runSubject(this.prefix, id)));
  }

  private safely(fn: () => void): void {
    if (this.nc.isClosed() || this.nc.isDraining()) return;
    try {
      fn();
    } catch {
      // A notice is an optimisation; the durable state is in Postgres.
    }
  }
}
