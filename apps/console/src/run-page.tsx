// One run: live through WatchWorkflow (server streaming, with steps), its step Gantt, inputs and
// outputs, error, events, its Jaeger trace link, and the cancel and send-event actions.
import { useEffect, useState } from "react";
import {
  type Event,
  encodeJson,
  errorMessage,
  isTaskKind,
  ms,
  payloadText,
  type Run,
  RunStatus,
  runStatusName,
  type Step,
  stepKindName,
  stepStatusName,
  traceIdOf,
} from "./api.ts";
import { useEnv } from "./app.tsx";
import { colourOf, formatDuration, formatTime } from "./format.ts";
import { type PhaseKind, stepPhases } from "./phases.ts";

export function RunPage({ runId }: { runId: string }) {
  const { client, config } = useEnv();
  const [run, setRun] = useState<Run>();
  const [steps, setSteps] = useState<Step[]>([]);
  const [events, setEvents] = useState<Event[]>([]);
  const [error, setError] = useState("");
  const [watching, setWatching] = useState(false);
  const [now, setNow] = useState(Date.now());
  const [historyTick, setHistoryTick] = useState(0);

  // Live state through the server-streaming watch; reconnects while the run is running.
  useEffect(() => {
    const abort = new AbortController();
    (async () => {
      while (!abort.signal.aborted) {
        let ended = false;
        try {
          setWatching(true);
          for await (const msg of client.watchWorkflow({ runId, includeSteps: true }, { signal: abort.signal })) {
            if (msg.run) setRun(msg.run);
            setSteps(msg.steps);
            setError("");
            ended = msg.run?.status !== RunStatus.RUNNING;
            setHistoryTick((t) => t + 1);
          }
        } catch (err) {
          if (abort.signal.aborted) return;
          setError(errorMessage(err));
        } finally {
          setWatching(false);
        }
        if (ended) return;
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    return () => abort.abort();
  }, [client, runId]);

  // Events come with the history; re-read it when the watch reports a change (historyTick).
  // biome-ignore lint/correctness/useExhaustiveDependencies: historyTick is the trigger
  useEffect(() => {
    let stale = false;
    client
      .getHistory({ runId })
      .then((h) => {
        if (stale) return;
        setEvents(h.events);
        if (h.run) setRun((r) => r ?? h.run);
        setSteps((s) => (s.length === 0 ? h.steps : s));
      })
      .catch((err) => !stale && setError(errorMessage(err)));
    return () => {
      stale = true;
    };
  }, [client, runId, historyTick]);

  useEffect(() => {
    if (run?.status !== RunStatus.RUNNING) return;
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [run?.status]);

  if (!run) {
    return <section>{error ? <p className="error">{error}</p> : <p>Loading run {runId}…</p>}</section>;
  }
  const traceId = traceIdOf(run.traceparent);
  const created = ms(run.createdAt);
  const completed = ms(run.completedAt);
  return (
    <section className="run-page" data-run-id={run.id} data-status={runStatusName(run.status)}>
      <h1>
        {run.workflowName} <span className={`badge ${runStatusName(run.status)}`}>{runStatusName(run.status)}</span>
        {watching && <span className="live-dot" title="watching live" />}
      </h1>
      <dl className="facts">
        <dt>Run</dt>
        <dd className="mono">{run.id}</dd>
        <dt>Created</dt>
        <dd className="mono">{formatTime(created)}</dd>
        <dt>Ended</dt>
        <dd className="mono">{formatTime(completed)}</dd>
        <dt>Duration</dt>
        <dd>{created ? formatDuration((completed ?? now) - created) : "—"}</dd>
        <dt>Shard / generation</dt>
        <dd>
          {run.shard} / {run.generation}
        </dd>
        <dt>App version</dt>
        <dd>{run.appVersion || "—"}</dd>
        {run.parentRunId && (
          <>
            <dt>Parent</dt>
            <dd className="mono">
              <a href={`#/runs/${run.parentRunId}`}>{run.parentRunId}</a>
            </dd>
          </>
        )}
        <dt>Trace</dt>
        <dd>
          {traceId ? (
            <a className="trace-link" href={`${config.jaegerUrl}/trace/${traceId}`} target="_blank" rel="noreferrer">
              {traceId} in Jaeger ↗
            </a>
          ) : (
            "—"
          )}
        </dd>
      </dl>
      {error && <p className="error">{error}</p>}
      <Actions run={run} onDone={() => setHistoryTick((t) => t + 1)} />
      <h2>Steps</h2>
      <Gantt run={run} steps={steps} now={now} />
      <div className="panels">
        <Panel title="Input" text={payloadText(run.args)} />
        <Panel title="Output" text={run.status === RunStatus.COMPLETED ? payloadText(run.result) : "—"} />
        {run.error && (
          <Panel
            title="Error"
            className="error-panel"
            text={`${run.error.name}: ${run.error.message}${run.error.stack ? `\n\n${run.error.stack}` : ""}`}
          />
        )}
      </div>
      <StepTable steps={steps} />
      <h2>Events</h2>
      {events.length === 0 ? (
        <p className="muted">No events.</p>
      ) : (
        <table className="events">
          <thead>
            <tr>
              <th>Name</th>
              <th>Received</th>
              <th>Consumed by step</th>
              <th>Payload</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr key={e.id}>
                <td>{e.name}</td>
                <td className="mono">{formatTime(ms(e.createdAt))}</td>
                <td>{e.consumedBySeq || "—"}</td>
                <td className="mono">{payloadText(e.payload)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Panel({ title, text, className }: { title: string; text: string; className?: string }) {
  return (
    <div className={`panel ${className ?? ""}`}>
      <h3>{title}</h3>
      <pre>{text}</pre>
    </div>
  );
}

function Actions({ run, onDone }: { run: Run; onDone: () => void }) {
  const { client } = useEnv();
  const [reason, setReason] = useState("canceled from the console");
  const [eventName, setEventName] = useState("");
  const [payload, setPayload] = useState("");
  const [message, setMessage] = useState("");
  const running = run.status === RunStatus.RUNNING;
  const act = async (what: () => Promise<string>) => {
    try {
      setMessage(await what());
      onDone();
    } catch (err) {
      setMessage(`failed: ${errorMessage(err)}`);
    }
  };
  return (
    <div className="actions">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void act(async () => {
            await client.cancelWorkflow({ runId: run.id, reason });
            return "cancel requested";
          });
        }}
      >
        <input name="reason" value={reason} onChange={(e) => setReason(e.target.value)} aria-label="cancel reason" />
        <button type="submit" name="cancel" disabled={!running}>
          Cancel run
        </button>
      </form>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void act(async () => {
            const res = await client.sendEvent({ runId: run.id, eventName, payload: encodeJson(payload) });
            return `event ${res.eventId} sent${res.delivered ? " and delivered" : ""}`;
          });
        }}
      >
        <input
          name="event-name"
          placeholder="event name"
          value={eventName}
          onChange={(e) => setEventName(e.target.value)}
          aria-label="event name"
        />
        <input
          name="event-payload"
          placeholder="JSON payload"
          value={payload}
          onChange={(e) => setPayload(e.target.value)}
          aria-label="event payload"
        />
        <button type="submit" name="send-event" disabled={!running || !eventName}>
          Send event
        </button>
      </form>
      {message && <span className="action-message">{message}</span>}
    </div>
  );
}

const PHASE_STYLE: Record<PhaseKind, { opacity: number; height: number }> = {
  queued: { opacity: 0.3, height: 0.6 },
  executing: { opacity: 1, height: 1 },
  settling: { opacity: 0.55, height: 0.25 },
  waiting: { opacity: 0.35, height: 0.6 },
};

function Gantt({ run, steps, now }: { run: Run; steps: Step[]; now: number }) {
  const rows = stepPhases(run, steps, now).sort((a, b) => a.step.seq - b.step.seq);
  const t0 = ms(run.createdAt) ?? 0;
  const t1 = Math.max(ms(run.completedAt) ?? now, ...rows.map((r) => r.end), t0 + 1);
  const width = 900;
  const label = 180;
  const rowH = 22;
  const height = rows.length * rowH + 30;
  const x = (t: number) => label + ((t - t0) / (t1 - t0)) * (width - label - 70);
  const ticks = Array.from({ length: 6 }, (_, i) => t0 + ((t1 - t0) * i) / 5);
  return (
    <div className="gantt-wrap">
      <svg className="gantt" viewBox={`0 0 ${width} ${height}`} width="100%" role="img" aria-label="step timeline">
        <defs>
          <pattern id="hatch" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
            <line x1="0" y1="0" x2="0" y2="4" stroke="#888" strokeWidth="2" />
          </pattern>
        </defs>
        {ticks.map((t) => (
          <g key={t}>
            <line x1={x(t)} x2={x(t)} y1={0} y2={height - 20} className="grid" />
            <text x={x(t)} y={height - 6} className="tick" textAnchor="middle">
              +{formatDuration(t - t0)}
            </text>
          </g>
        ))}
        {rows.map((r, i) => {
          const y = i * rowH + 4;
          const colour = colourOf(r.step.name || stepKindName(r.step.kind));
          return (
            <g key={r.step.id} className="gantt-row" data-step={r.step.name}>
              <text x={4} y={y + 14} className="row-label">
                {r.step.seq}. {r.step.name || stepKindName(r.step.kind)}
                {r.step.attempt > 1 ? ` ×${r.step.attempt}` : ""}
              </text>
              {r.phases.map((p) => {
                const st = PHASE_STYLE[p.kind];
                const h = (rowH - 6) * st.height;
                return (
                  <rect
                    key={p.kind}
                    className={`phase ${p.kind}`}
                    x={x(p.start)}
                    y={y + (rowH - 6 - h) / 2}
                    width={Math.max(1, x(p.end) - x(p.start))}
                    height={h}
                    fill={p.kind === "waiting" ? "url(#hatch)" : colour}
                    fillOpacity={st.opacity}
                  >
                    <title>
                      {p.kind}: {formatDuration(p.end - p.start)}
                      {p.open ? " (so far)" : ""}
                    </title>
                  </rect>
                );
              })}
              {r.step.attempt > 1 && (
                <g className="retry-mark">
                  {Array.from({ length: r.step.attempt - 1 }, (_, k) => `${r.step.id}-${k}`).map((key, k) => (
                    <line
                      key={key}
                      x1={x(r.start) + 3 + k * 4}
                      x2={x(r.start) + 3 + k * 4}
                      y1={y - 1}
                      y2={y + rowH - 5}
                      stroke="#e15759"
                      strokeWidth="2"
                    >
                      <title>earlier failed attempt</title>
                    </line>
                  ))}
                </g>
              )}
              {r.step.status !== 2 && r.step.status !== 1 && (
                <text x={x(r.end) + 4} y={y + 14} className={`end-mark ${stepStatusName(r.step.status)}`}>
                  {stepStatusName(r.step.status)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <p className="legend">
        <span className="key queued" /> queued (task published, not started; includes failed attempts)
        <span className="key executing" /> executing <span className="key settling" /> result recorded → next commit
        <span className="key waiting" /> timer / event / child <span className="key retry" /> retry
      </p>
    </div>
  );
}

function StepTable({ steps }: { steps: Step[] }) {
  const sorted = [...steps].sort((a, b) => a.seq - b.seq);
  return (
    <table className="steps">
      <thead>
        <tr>
          <th>#</th>
          <th>Step</th>
          <th>Kind</th>
          <th>Status</th>
          <th>Attempt</th>
          <th>Queued</th>
          <th>Ran</th>
          <th>Args</th>
          <th>Result / error</th>
        </tr>
      </thead>
      <tbody>
        {sorted.map((s) => {
          const c = ms(s.createdAt);
          const st = ms(s.startedAt);
          const done = ms(s.completedAt);
          return (
            <tr key={s.id} data-step={s.name} data-status={stepStatusName(s.status)}>
              <td>{s.seq}</td>
              <td>{s.name || s.eventName || s.childWorkflowName}</td>
              <td>{stepKindName(s.kind)}</td>
              <td>
                <span className={`badge ${stepStatusName(s.status)}`}>{stepStatusName(s.status)}</span>
              </td>
              <td className="num">{s.attempt || "—"}</td>
              <td className="num">{isTaskKind(s.kind) && c && st ? formatDuration(st - c) : "—"}</td>
              <td className="num">
                {st && done ? formatDuration(done - st) : c && done ? formatDuration(done - c) : "—"}
              </td>
              <td>
                <pre className="cell">{payloadText(s.args)}</pre>
              </td>
              <td>
                <pre className="cell">
                  {s.error ? `${s.error.name}: ${s.error.message}` : s.result.length ? payloadText(s.result) : "—"}
                </pre>
                {s.childRunId && <a href={`#/runs/${s.childRunId}`}>child run</a>}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
