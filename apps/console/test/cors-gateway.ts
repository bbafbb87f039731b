// A CORS gateway in front of a journal, for the console's cross-origin test while a journal
// without a CORS policy is in use: it applies the runtime's policy and forwards to the journal.
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { applyCors } from "@weft/runtime";

/**
 * A pass-through to the journal on its own port that answers CORS with the runtime's policy code
 * (`applyCors`, what WEFT_CORS_ORIGINS turns on): lets the test exercise the cross-origin path
 * even where the journal under test does not apply CORS itself.
 */
export async function startCorsGateway(
  journalUrl: string,
  origins: string[],
): Promise<{ url: string; close(): Promise<void> }> {
  const journal = new URL(journalUrl);
  const server = createServer((req, res) => {
    if (applyCors({ origins, headers: ["authorization"] }, req, res)) return;
    const upstream = request(
      {
        host: journal.hostname,
        port: journal.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: journal.host },
      },
      (up) => {
        // keep the CORS headers applyCors set; add the journal's own
        for (const [k, v] of Object.entries(up.headers)) if (v !== undefined) res.setHeader(k, v);
        res.writeHead(up.statusCode ?? 502);
        up.pipe(res);
      },
    );
    upstream.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(err));
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
