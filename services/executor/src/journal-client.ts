// The executor's client of JournalService: gRPC over HTTP/2 with the binary codec.
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { JournalService } from "@weft/contracts";

export type JournalClient = Client<typeof JournalService>;

export function createJournalClient(baseUrl: string): JournalClient {
  const transport = createGrpcTransport({
    baseUrl,
    useBinaryFormat: true,
    // A dead journal must not hold a flush forever; the flush retries with backoff.
    defaultTimeoutMs: 30_000,
  });
  return createClient(JournalService, transport);
}
