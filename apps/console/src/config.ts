// Where the console finds the journal and Jaeger: `?journal=` / `?jaeger=` in the page's query
// string win, then config.json beside index.html (written by whatever serves the console), then
// the page's own origin (the console served behind the same host as the journal's API).
// The bearer token comes only from `?token=` (never config.json, which anyone can fetch): it is
// kept in this tab's sessionStorage and taken out of the address bar, so links and history do not
// carry it.
export interface ConsoleConfig {
  /** Base URL of the journal's Connect/gRPC-Web endpoint, without a trailing slash. */
  journalUrl: string;
  /** Jaeger UI base URL; trace links are `${jaegerUrl}/trace/<trace id>`. */
  jaegerUrl: string;
  /** "connect" (default) or "grpc-web". */
  protocol: "connect" | "grpc-web";
  /** Bearer token for the journal (docs/security.md: a read-only or one-namespace token); "" for none. */
  token: string;
}

const TOKEN_KEY = "weft-token";

function takeToken(location: Location): string {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl !== null) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete("token");
    history.replaceState(history.state, "", url.toString());
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? "";
}

const trim = (url: string) => url.replace(/\/+$/, "");

export async function loadConfig(location: Location = window.location): Promise<ConsoleConfig> {
  const token = takeToken(location);
  const params = new URLSearchParams(location.search);
  let file: Partial<ConsoleConfig> = {};
  try {
    const res = await fetch(new URL("config.json", location.href), { cache: "no-store" });
    if (res.ok) file = (await res.json()) as Partial<ConsoleConfig>;
  } catch {
    // No config.json: defaults.
  }
  const protocol = params.get("protocol") ?? file.protocol ?? "connect";
  return {
    journalUrl: trim(params.get("journal") || file.journalUrl || location.origin),
    jaegerUrl: trim(params.get("jaeger") || file.jaegerUrl || "http://localhost:16686"),
    protocol: protocol === "grpc-web" ? "grpc-web" : "connect",
    token,
  };
}
