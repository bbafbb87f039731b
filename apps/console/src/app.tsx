// Shell and hash routing: #/ runs, #/runs/<id> a run, #/timeline the many-runs timeline,
// #/diagnose where work waits. The query
// string (?journal=...) stays untouched, so links keep the configuration.
import { createContext, useContext, useEffect, useState } from "react";
import type { OperatorClient, WorkflowClient } from "./api.ts";
import type { ConsoleConfig } from "./config.ts";
import { DiagnosePage } from "./diagnose-page.tsx";
import { RunPage } from "./run-page.tsx";
import { RunsPage } from "./runs-page.tsx";
import { TimelinePage } from "./timeline-page.tsx";

export interface Env {
  config: ConsoleConfig;
  client: WorkflowClient;
  operator: OperatorClient;
}

const EnvContext = createContext<Env | null>(null);
export const useEnv = (): Env => useContext(EnvContext)!;

function useHash(): string {
  const [hash, setHash] = useState(() => window.location.hash);
  useEffect(() => {
    const onChange = () => setHash(window.location.hash);
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return hash;
}

export function App(props: Env) {
  const hash = useHash();
  const path = hash.replace(/^#/, "") || "/";
  const runMatch = /^\/runs\/([0-9a-f-]{36})/.exec(path);
  const page = runMatch
    ? "run"
    : path.startsWith("/timeline")
      ? "timeline"
      : path.startsWith("/diagnose")
        ? "diagnose"
        : "runs";
  return (
    <EnvContext.Provider value={props}>
      <header className="top">
        <span className="brand">Weft</span>
        <nav>
          <a href="#/" className={page === "runs" ? "active" : ""}>
            Runs
          </a>
          <a href="#/timeline" className={page === "timeline" ? "active" : ""}>
            Live timeline
          </a>
          <a href="#/diagnose" className={page === "diagnose" ? "active" : ""}>
            Diagnose
          </a>
        </nav>
        <span className="journal" title="journal URL">
          {props.config.journalUrl}
        </span>
      </header>
      <main>
        {page === "run" && runMatch ? (
          <RunPage key={runMatch[1]} runId={runMatch[1]!} />
        ) : page === "timeline" ? (
          <TimelinePage key={path} />
        ) : page === "diagnose" ? (
          <DiagnosePage />
        ) : (
          <RunsPage />
        )}
      </main>
    </EnvContext.Provider>
  );
}
