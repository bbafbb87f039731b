// The executor's client of JournalService: gRPC over HTTP/2 with the binary codec.
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { JournalService } from "@weft/contracts";

export type JournalClient = Client<typeof JournalService>;

/** `interceptors`: the executor passes `clientTraceInterceptor` (trace context in the metadata). */
export function createJournalClient(baseUrl: string, interceptors: Interceptor[] = []): JournalClient {
  const transport = createGrpcTransport({
    baseUrl,
    interceptors,
    useBinaryFormat: true,
    // A dead journal must not hold a flush forever; the flush retries with backoff.
    defaultTimeoutMs: 30_000,
  });
  return createClient(JournalService, transport);
}
