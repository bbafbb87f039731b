// The coordinator's client of the journal's internal API: gRPC over one HTTP/2 connection,
// protobuf binary.
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { JournalService } from "@weft/contracts";

export type JournalClient = Client<typeof JournalService>;

export function createJournalClient(baseUrl: string): JournalClient {
  return createClient(JournalService, createGrpcTransport({ baseUrl }));
}
