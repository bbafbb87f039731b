// Runs: ListWorkflows with filters (name, status, creation time) and keyset paging; the current
// page refreshes every two seconds while "live" is on.
import { useCallback, useEffect, useRef, useState } from "react";
import { errorMessage, ms, type Run, RunStatus, runStatusName, toTimestamp } from "./api.ts";
import { useEnv } from "./app.tsx";
import { formatDuration, formatTime } from "./format.ts";

interface Filters {
  name: string;
  statuses: RunStatus[];
  after: string; // datetime-local value
  before: string;
  pageSize: number;
}

const STATUSES = [RunStatus.RUNNING, RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED];

export function RunsPage() {
  const { client } = useEnv();
  const [filters, setFilters] = useState<Filters>({ name: "", statuses: [], after: "", before: "", pageSize: 50 });
  const [tokens, setTokens] = useState<string[]>([""]); // page tokens of the pages seen so far
  const [runs, setRuns] = useState<Run[]>([]);
  const [next, setNext] = useState("");
  const [error, setError] = useState("");
  const [live, setLive] = useState(true);
  const [loadedAt, setLoadedAt] = useState(0);
  const seq = useRef(0);
  const pageToken = tokens[tokens.length - 1] ?? "";

  const load = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const res = await client.listWorkflows({
        workflowName: filters.name.trim(),
        statuses: filters.statuses,
        createdAfter: filters.after ? toTimestamp(new Date(filters.after).getTime()) : undefined,
        createdBefore: filters.before ? toTimestamp(new Date(filters.before).getTime()) : undefined,
        pageSize: filters.pageSize,
        pageToken,
      });
      if (mine !== seq.current) return;
      setRuns(res.runs);
      setNext(res.nextPageToken);
      setError("");
      setLoadedAt(Date.now());
    } catch (err) {
      if (mine === seq.current) setError(errorMessage(err));
    }
  }, [client, filters, pageToken]);

  useEffect(() => {
    void load();
    if (!live) return;
    const timer = setInterval(() => void load(), 2000);
    return () => clearInterval(timer);
  }, [load, live]);

  const update = (patch: Partial<Filters>) => {
    setFilters((f) => ({ ...f, ...patch }));
    setTokens([""]);
  };
  const toggleStatus = (s: RunStatus) =>
    update({
      statuses: filters.statuses.includes(s) ? filters.statuses.filter((x) => x !== s) : [...filters.statuses, s],
    });

  return (
    <section className="runs-page">
      <h1>Runs</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Workflow
          <input
            name="workflow"
            placeholder="any"
            value={filters.name}
            onChange={(e) => update({ name: e.target.value })}
          />
        </label>
        <fieldset>
          <legend>Status</legend>
          {STATUSES.map((s) => (
            <label key={s} className="check">
              <input
                type="checkbox"
                name={`status-${runStatusName(s)}`}
                checked={filters.statuses.includes(s)}
                onChange={() => toggleStatus(s)}
              />
              {runStatusName(s)}
            </label>
          ))}
        </fieldset>
        <label>
          Created after
          <input
            type="datetime-local"
            step="1"
            value={filters.after}
            onChange={(e) => update({ after: e.target.value })}
          />
        </label>
        <label>
          Created before
          <input
            type="datetime-local"
            step="1"
            value={filters.before}
            onChange={(e) => update({ before: e.target.value })}
          />
        </label>
        <label>
          Page size
          <select value={filters.pageSize} onChange={(e) => update({ pageSize: Number(e.target.value) })}>
            {[20, 50, 100, 500].map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} />
          live
        </label>
      </form>
      {error && <p className="error">{error}</p>}
      <table className="runs">
        <thead>
          <tr>
            <th>Run</th>
            <th>Workflow</th>
            <th>Status</th>
            <th>Created</th>
            <th>Duration</th>
            <th>Shard</th>
            <th>Error</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => {
            const created = ms(run.createdAt);
            const end = ms(run.completedAt) ?? (run.status === RunStatus.RUNNING ? loadedAt : undefined);
            return (
              <tr key={run.id} data-run-id={run.id} data-status={runStatusName(run.status)}>
                <td className="mono">
                  <a href={`#/runs/${run.id}`}>
                    {run.id.slice(0, 8)}…{run.id.slice(-4)}
                  </a>
                </td>
                <td>{run.workflowName}</td>
                <td>
                  <span className={`badge ${runStatusName(run.status)}`}>{runStatusName(run.status)}</span>
                </td>
                <td className="mono">{formatTime(created)}</td>
                <td className="num">
                  {created !== undefined && end !== undefined ? formatDuration(end - created) : "—"}
                </td>
                <td className="num">{run.shard}</td>
                <td className="err-cell" title={run.error?.message}>
                  {run.error ? `${run.error.name}: ${run.error.message}` : ""}
                </td>
              </tr>
            );
          })}
          {runs.length === 0 && (
            <tr>
              <td colSpan={7} className="empty">
                No runs match.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <div className="pager">
        <button type="button" disabled={tokens.length <= 1} onClick={() => setTokens((t) => t.slice(0, -1))}>
          ← Newer
        </button>
        <span>page {tokens.length}</span>
        <button type="button" disabled={!next} onClick={() => setTokens((t) => [...t, next])}>
          Older →
        </button>
      </div>
    </section>
  );
}
