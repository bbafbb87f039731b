// Diagnose: OperatorService.Diagnose every two seconds while "live" is on — per-shard backlog and
// lag (journal and JetStream), ready runs unclaimed for longer than a threshold, steps in progress
// past their timeout, and ready runs by app version.
import { useCallback, useEffect, useRef, useState } from "react";
import { type DiagnoseResponse, errorMessage, ms } from "./api.ts";
import { useEnv } from "./app.tsx";
import { formatDuration, formatTime } from "./format.ts";

const age = (value: bigint) => (value > 0n ? formatDuration(Number(value)) : "—");

export function DiagnosePage() {
  const { operator } = useEnv();
  const [data, setData] = useState<DiagnoseResponse | undefined>();
  const [error, setError] = useState("");
  const [live, setLive] = useState(true);
  const [thresholdS, setThresholdS] = useState("");
  const seq = useRef(0);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const seconds = Number(thresholdS);
      const res = await operator.diagnose({
        unclaimedThresholdMs: thresholdS.trim() !== "" && seconds > 0 ? BigInt(Math.round(seconds * 1000)) : 0n,
        limit: 50,
      });
      if (mine !== seq.current) return;
      setData(res);
      setError("");
    } catch (err) {
      if (mine === seq.current) setError(errorMessage(err));
    }
  }, [operator, thresholdS]);

  useEffect(() => {
    void load();
    if (!live) return;
    const timer = setInterval(() => void load(), 2000);
    return () => clearInterval(timer);
  }, [load, live]);

  return (
    <section className="diagnose-page">
      <h1>Diagnose</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Unclaimed for over (s)
          <input
            name="unclaimed"
            placeholder="journal default"
            inputMode="decimal"
            value={thresholdS}
            onChange={(e) => setThresholdS(e.target.value)}
          />
        </label>
        <label className="check">
          <input type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} /> live
        </label>
      </form>
      {error && <p className="error">{error}</p>}
      {data && (
        <>
          <p className="summary" data-testid="diagnose-summary">
            {`${data.readyRuns} ready runs, oldest ready ${age(data.oldestReadyAgeMs)}; ${data.unclaimedRunsTotal} unclaimed for over ${formatDuration(Number(data.unclaimedThresholdMs))}; ${data.overdueStepsTotal} steps past their timeout`}
            <span className="muted"> · as of {formatTime(ms(data.generatedAt))}</span>
          </p>
          {data.warnings.map((w) => (
            <p key={w} className="error">
              {w}
            </p>
          ))}
          <h2>Shards</h2>
          <table className="shards-table">
            <thead>
              <tr>
                <th>shard</th>
                <th className="num">ready runs</th>
                <th className="num">oldest ready</th>
                <th className="num">leased runs</th>
                <th className="num">tasks running</th>
                <th className="num">pending</th>
                <th className="num">unacked</th>
                <th className="num">oldest unacked</th>
                <th>executor</th>
              </tr>
            </thead>
            <tbody>
              {data.shards.map((s) => (
                <tr key={s.shard} data-shard={s.shard}>
                  <td>{s.shard}</td>
                  <td className="num">{String(s.readyRuns)}</td>
                  <td className="num">{age(s.oldestReadyAgeMs)}</td>
                  <td className="num">{String(s.leasedRuns)}</td>
                  <td className="num">{String(s.runningTasks)}</td>
                  <td className="num">{String(s.tasksPending)}</td>
                  <td className="num">{String(s.tasksAckPending)}</td>
                  <td className="num">{age(s.oldestUnackedAgeMs)}</td>
                  <td className="mono">{s.executor || <span className="muted">none</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>Ready runs unclaimed for long ({String(data.unclaimedRunsTotal)})</h2>
          {data.unclaimedRuns.length === 0 ? (
            <p className="muted">none</p>
          ) : (
            <table className="unclaimed-table">
              <thead>
                <tr>
                  <th>run</th>
                  <th>workflow</th>
                  <th className="num">shard</th>
                  <th className="num">ready for</th>
                  <th>app version</th>
                </tr>
              </thead>
              <tbody>
                {data.unclaimedRuns.map((r) => (
                  <tr key={r.runId}>
                    <td className="mono">
                      <a href={`#/runs/${r.runId}`}>{r.runId}</a>
                    </td>
                    <td>{r.workflowName}</td>
                    <td className="num">{r.shard}</td>
                    <td className="num">{age(r.readyAgeMs)}</td>
                    <td>{r.appVersion}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2>Steps in progress past their timeout ({String(data.overdueStepsTotal)})</h2>
          {data.overdueSteps.length === 0 ? (
            <p className="muted">none</p>
          ) : (
            <table className="overdue-table">
              <thead>
                <tr>
                  <th>run</th>
                  <th className="num">seq</th>
                  <th>step</th>
                  <th>kind</th>
                  <th className="num">overdue</th>
                  <th className="num">attempt</th>
                  <th className="num">dispatch</th>
                </tr>
              </thead>
              <tbody>
                {data.overdueSteps.map((s) => (
                  <tr key={s.stepId}>
                    <td className="mono">
                      <a href={`#/runs/${s.runId}`}>{s.runId}</a>
                    </td>
                    <td className="num">{s.seq}</td>
                    <td>{s.name}</td>
                    <td>{s.kind}</td>
                    <td className="num">{age(s.overdueMs)}</td>
                    <td className="num">{s.attempt}</td>
                    <td className="num">{s.dispatch}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2>Versions</h2>
          {!data.versions?.available && <p className="muted versions-note">{data.versions?.note}</p>}
          {(data.versions?.waiting.length ?? 0) > 0 && (
            <table className="versions-table">
              <thead>
                <tr>
                  <th>app version</th>
                  <th className="num">ready runs</th>
                  <th className="num">oldest ready</th>
                  <th>carried</th>
                </tr>
              </thead>
              <tbody>
                {data.versions?.waiting.map((v) => (
                  <tr key={v.appVersion}>
                    <td>{v.appVersion || <span className="muted">none</span>}</td>
                    <td className="num">{String(v.readyRuns)}</td>
                    <td className="num">{age(v.oldestReadyAgeMs)}</td>
                    <td className={v.carried ? "" : "error"}>{v.carried ? "yes" : "no"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
