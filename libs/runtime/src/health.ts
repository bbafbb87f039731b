// grpc.health.v1 for every service: NOT_SERVING until the service says it is ready, and again
// first thing on shutdown, so that load balancers stop sending work before anything else stops.
import { EventEmitter, on } from "node:events";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { type Health, HealthCheckResponse_ServingStatus, HealthCheckResponseSchema } from "@weft/contracts";

export class HealthState {
  private serving = false;
  private readonly changes = new EventEmitter();
  private readonly services: readonly string[];
  /** `services`: names this process answers for besides "" (the whole server). */
  constructor(services: readonly string[]) {
    this.services = services;
    this.changes.setMaxListeners(0);
  }

  setServing(serving: boolean): void {
    if (this.serving === serving) return;
    this.serving = serving;
    this.changes.emit("change");
  }

  isServing(): boolean {
    return this.serving;
  }

  status(service: string): HealthCheckResponse_ServingStatus {
    if (service !== "" && !this.services.includes(service)) return HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN;
    return this.serving ? HealthCheckResponse_ServingStatus.SERVING : HealthCheckResponse_ServingStatus.NOT_SERVING;
  }

  impl(): ServiceImpl<typeof Health> {
    return {
      check: (req) => {
        const status = this.status(req.service);
        if (status === HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN) {
          // Bounded echo: a huge name in the message would overflow gRPC's trailer frame.
          const name = req.service.length > 256 ? `${req.service.slice(0, 256)}…` : req.service;
          throw new ConnectError(`service: unknown service "${name}"`, Code.NotFound);
        }
        return create(HealthCheckResponseSchema, { status });
      },
      watch: (req, ctx) => this.watch(req.service, ctx.signal),
    };
  }

  private async *watch(service: string, signal: AbortSignal) {
    let last: HealthCheckResponse_ServingStatus | undefined;
    const changes = on(this.changes, "change", { signal });
    for (;;) {
      const status = this.status(service);
      if (status !== last) {
        last = status;
        yield create(HealthCheckResponseSchema, { status });
      }
      try {
        await changes.next();
      } catch {
        return;
      }
    }
  }
}
