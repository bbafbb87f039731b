// Serves the built web console (apps/console/dist) for the stack's start command and the browser tests: static files,
// a config.json telling the page where the journal is, and — for same-origin deployments or a
// journal without CORS — a pass-through of the journal's WorkflowService under the same origin.
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";

export interface ConsoleServer {
  url: string;
  origin: string;
  /** What config.json says (journalUrl "" means: the page's own origin, i.e. the proxy). */
  config: { journalUrl: string; jaegerUrl: string };
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

export async function startConsoleServer(options: {
  dist: string;
  /** Journal to proxy `/weft.v1.WorkflowService/*` and `/weft.v1.OperatorService/*` to (set later with `setJournal` if unknown). */
  journalUrl?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
}): Promise<ConsoleServer & { setJournal(url: string): void }> {
  let journal = options.journalUrl ? new URL(options.journalUrl) : undefined;
  const config = { journalUrl: "", jaegerUrl: "http://localhost:16686" };
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? "/").split("?")[0]!);
    if (path.startsWith("/weft.v1.WorkflowService/") || path.startsWith("/weft.v1.OperatorService/")) {
      if (!journal) {
        res.writeHead(503).end("no journal");
        return;
      }
      const upstream = request(
        {
          host: journal.hostname,
          port: journal.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: journal.host },
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on("error", (err) => {
        if (!res.headersSent) res.writeHead(502);
        res.end(String(err));
      });
      req.pipe(upstream);
      return;
    }
    if (path === "/config.json") {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify(config));
      return;
    }
    const file = normalize(join(options.dist, path === "/" ? "index.html" : path));
    if (!file.startsWith(options.dist) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/`,
    origin,
    config,
    setJournal: (url) => {
      journal = new URL(url);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
