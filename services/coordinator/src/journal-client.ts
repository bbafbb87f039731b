// The coordinator's client of the journal's internal API: the Connect protocol over one HTTP/2
// connection, protobuf binary (fewer frames and writes per unary call than gRPC; see the
// executor's journal-client.ts).
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { JournalService } from "@weft/contracts";

export type JournalClient = Client<typeof JournalService>;

export function createJournalClient(baseUrl: string, interceptors: Interceptor[] = []): JournalClient {
  return createClient(
    JournalService,
    createConnectTransport({ baseUrl, interceptors, httpVersion: "2", useBinaryFormat: true }),
  );
}
