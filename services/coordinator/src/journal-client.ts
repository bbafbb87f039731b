// The coordinator's client of the journal's internal API: gRPC over one HTTP/2 connection,
// protobuf binary.
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { JournalService } from "@weft/contracts";

export type JournalClient = Client<typeof JournalService>;

export function createJournalClient(baseUrl: string, interceptors: Interceptor[] = []): JournalClient {
  return createClient(JournalService, createGrpcTransport({ baseUrl, interceptors }));
}
