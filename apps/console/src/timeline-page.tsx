// Live timeline of many runs, on canvas: one thin row per run (bars coloured by step name, the
// phases told apart by brightness and height), a stacked chart of how many runs sit in each step
// over time, and per-shard backlog and lag derived from the steps.
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { RunStatus, StepStatus } from "./api.ts";
import { useEnv } from "./app.tsx";
import { colourOf, formatDuration } from "./format.ts";
import type { PhaseKind } from "./phases.ts";
import { type Entry, TimelineStore } from "./timeline-store.ts";

declare global {
  interface Window {
    __weftTimeline?: { rows: number; withSteps: number; frames: number; lastFrameMs: number; maxFrameMs: number };
  }
}

const WINDOWS: Record<string, number> = { "15 min": 15 * 60_000, "1 h": 3_600_000, "6 h": 6 * 3_600_000, all: 0 };

function hashParams(): URLSearchParams {
  const q = window.location.hash.indexOf("?");
  return new URLSearchParams(q >= 0 ? window.location.hash.slice(q + 1) : "");
}

export function TimelinePage() {
  const { client } = useEnv();
  const params = hashParams();
  const synthetic = Number(params.get("synthetic") ?? 0);
  const [name, setName] = useState(params.get("workflow") ?? "");
  const [windowKey, setWindowKey] = useState(params.get("window") ?? "1 h");
  const [maxRuns, setMaxRuns] = useState(Number(params.get("max") ?? 20_000));
  const [rowChoice, setRowH] = useState(Number(params.get("row") ?? 0)); // 0: fit
  const [fitX, setFitX] = useState(params.get("x") !== "all");
  const store = useMemo(
    () =>
      new TimelineStore(synthetic ? undefined : client, {
        workflowName: name.trim(),
        createdAfter: WINDOWS[windowKey] ? Date.now() - WINDOWS[windowKey]! : 0,
        maxRuns,
      }),
    [client, synthetic, name, windowKey, maxRuns],
  );
  const [, bump] = useReducer((n: number) => n + 1, 0);
  useEffect(() => {
    let scheduled = false;
    const off = store.subscribe(() => {
      if (scheduled) return;
      scheduled = true;
      setTimeout(() => {
        scheduled = false;
        bump();
      }, 500);
    });
    if (synthetic) store.synthesize(synthetic);
    else void store.start();
    return () => {
      off();
      store.stop();
    };
  }, [store, synthetic]);

  const withSteps = store.entries.filter((e) => e.bars).length;
  const running = store.entries.filter((e) => e.run.status === RunStatus.RUNNING).length;
  return (
    <section className="timeline-page">
      <h1>Live timeline</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Workflow
          <input name="workflow" placeholder="any" value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          Created in the last
          <select value={windowKey} onChange={(e) => setWindowKey(e.target.value)}>
            {Object.keys(WINDOWS).map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
        <label>
          At most
          <select value={maxRuns} onChange={(e) => setMaxRuns(Number(e.target.value))}>
            {[1000, 5000, 20_000, 50_000].map((n) => (
              <option key={n} value={n}>
                {n} runs
              </option>
            ))}
          </select>
        </label>
        <label>
          Row height
          <select value={rowChoice} onChange={(e) => setRowH(Number(e.target.value))}>
            {[0, 1, 2, 3, 4, 6, 10].map((n) => (
              <option key={n} value={n}>
                {n ? `${n} px` : "auto"}
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input type="checkbox" name="fit-x" checked={fitX} onChange={(e) => setFitX(e.target.checked)} />
          time axis fits the rows on screen
        </label>
        <span className="stats" data-testid="timeline-stats">
          {store.entries.length} runs ({running} running), steps read for {withSteps}
          {store.loadingRuns ? " — loading…" : ""}
          {synthetic ? " — synthetic data" : ""}
        </span>
      </form>
      {store.error && <p className="error">{store.error}</p>}
      <Legend entries={store.entries} />
      <StackedChart store={store} />
      <RunRows
        store={store}
        rowH={rowChoice || Math.max(1, Math.min(16, Math.floor(480 / Math.max(1, store.entries.length))))}
        fitX={fitX}
      />
      <ShardTable store={store} />
    </section>
  );
}

function Legend({ entries }: { entries: Entry[] }) {
  const names = new Set<string>();
  for (let i = 0; i < entries.length && names.size < 12; i += Math.max(1, Math.floor(entries.length / 200))) {
    for (const b of entries[i]!.bars ?? []) names.add(b.name);
  }
  return (
    <p className="legend">
      {[...names].map((n) => (
        <span key={n} className="legend-item">
          <span className="swatch" style={{ background: colourOf(n) }} />
          {n}
        </span>
      ))}
      <span className="legend-item">
        phases: <span className="key queued" /> queued <span className="key executing" /> executing{" "}
        <span className="key settling" /> recorded → next commit (result buffer + commit) <span className="key retry" />{" "}
        retried
      </span>
    </p>
  );
}

/** Time axis shared by the charts: from the first run's creation to the last end (or now). */
function timeRange(entries: Entry[], now: number, from = 0, to = entries.length): [number, number] {
  if (to <= from || entries.length === 0) return [now - 60_000, now];
  const t0 = entries[from]!.created;
  let t1 = t0 + 1;
  for (let i = from; i < to; i++) {
    const e = entries[i]!;
    const end = e.run.status === RunStatus.RUNNING ? now : (e.ended ?? e.created);
    if (end > t1) t1 = end;
  }
  return [t0, t1];
}

function useCanvas(height: number) {
  const ref = useRef<HTMLCanvasElement>(null);
  const size = useCallback(() => {
    const c = ref.current!;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(height * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(height * dpr);
    }
    const ctx = c.getContext("2d")!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { ctx, w, h: height };
  }, [height]);
  return { ref, size };
}

const PHASE_ALPHA: Record<PhaseKind, number> = { queued: 0.28, executing: 1, settling: 0.8, waiting: 0.2 };

function RunRows({ store, rowH, fitX }: { store: TimelineStore; rowH: number; fitX: boolean }) {
  const scroller = useRef<HTMLDivElement>(null);
  const viewH = 480;
  const { ref, size } = useCanvas(viewH);
  const [hover, setHover] = useState<{ x: number; y: number; text: string }>();
  const stats = useRef({ rows: 0, withSteps: 0, frames: 0, lastFrameMs: 0, maxFrameMs: 0 });
  const range = useRef<[number, number]>([0, 1]);

  useEffect(() => {
    let raf = 0;
    let lastVersion = -1;
    let lastScroll = -1;
    let lastDraw = 0;
    const draw = () => {
      raf = requestAnimationFrame(draw);
      const now = Date.now();
      const top = scroller.current?.scrollTop ?? 0;
      const anyRunning = store.entries.some((e) => e.run.status === RunStatus.RUNNING);
      // Redraw on data or scroll changes; while runs are running, also as time passes (10 fps).
      if (store.version === lastVersion && top === lastScroll && !(anyRunning && now - lastDraw > 100)) return;
      lastVersion = store.version;
      lastScroll = top;
      lastDraw = now;
      const t = performance.now();
      const { ctx, w, h } = size();
      ctx.clearRect(0, 0, w, h);
      const entries = store.entries;
      const first = Math.floor(top / rowH);
      const last = Math.min(entries.length, Math.ceil((top + h) / rowH) + 1);
      const [t0, t1] = fitX ? timeRange(entries, now, first, last) : timeRange(entries, now);
      range.current = [t0, t1];
      const x = (v: number) => ((v - t0) / (t1 - t0)) * (w - 2) + 1;
      store.visible = [first, last];
      const gap = rowH >= 3 ? 1 : 0;
      // time grid: +offset from the first run of the whole set
      const origin = entries[0]?.created ?? t0;
      ctx.font = "11px system-ui, sans-serif";
      for (let k = 0; k <= 5; k++) {
        const tv = t0 + ((t1 - t0) * k) / 5;
        ctx.globalAlpha = 0.25;
        ctx.fillStyle = "#8a8f98";
        ctx.fillRect(x(tv), 0, 1, h);
        ctx.globalAlpha = 0.8;
        ctx.fillText(`+${formatDuration(tv - origin)}`, Math.min(x(tv) + 3, w - 60), h - 4);
      }
      for (let i = first; i < last; i++) {
        const e = entries[i]!;
        const y = i * rowH - top;
        const rh = rowH - gap;
        const end = e.run.status === RunStatus.RUNNING ? now : (e.ended ?? e.created);
        // the run's whole life as a faint line
        ctx.globalAlpha = 0.35;
        ctx.fillStyle = "#8a8f98";
        ctx.fillRect(x(e.created), y + rh / 2 - 0.5, Math.max(1, x(end) - x(e.created)), 1);
        for (const bar of e.bars ?? []) {
          ctx.fillStyle = colourOf(bar.name);
          for (const p of bar.phases) {
            const pEnd = p.open ? now : p.end;
            ctx.globalAlpha = PHASE_ALPHA[p.kind];
            const ph = p.kind === "settling" ? Math.max(1, rh / 3) : rh;
            const py = p.kind === "settling" ? y + rh - ph : y;
            ctx.fillRect(x(p.start), py, Math.max(1, x(pEnd) - x(p.start)), ph);
          }
          if (bar.attempt > 1 || bar.status === StepStatus.FAILED) {
            ctx.globalAlpha = 1;
            ctx.fillStyle = "#e15759";
            ctx.fillRect(x(bar.phases[0]!.start), y, 2, rh);
          }
        }
        if (e.run.status === RunStatus.FAILED || e.run.status === RunStatus.CANCELED) {
          ctx.globalAlpha = 1;
          ctx.fillStyle = e.run.status === RunStatus.FAILED ? "#e15759" : "#bab0ac";
          ctx.fillRect(x(end) - 1, y, 3, rh);
        }
      }
      ctx.globalAlpha = 1;
      const took = performance.now() - t;
      const s = stats.current;
      s.rows = entries.length;
      s.withSteps = entries.reduce((n, e) => n + (e.bars ? 1 : 0), 0);
      s.frames++;
      s.lastFrameMs = took;
      s.maxFrameMs = Math.max(s.maxFrameMs, took);
      window.__weftTimeline = s;
    };
    raf = requestAnimationFrame(draw);
    const onScroll = () => store.pump();
    const el = scroller.current;
    el?.addEventListener("scroll", onScroll, { passive: true });
    return () => {
      cancelAnimationFrame(raf);
      el?.removeEventListener("scroll", onScroll);
    };
  }, [store, rowH, fitX, size]);

  const entryAt = (clientX: number, clientY: number) => {
    const c = ref.current!;
    const r = c.getBoundingClientRect();
    const top = scroller.current?.scrollTop ?? 0;
    const i = Math.floor((clientY - r.top + top) / rowH);
    const e = store.entries[i];
    if (!e) return undefined;
    const [t0, t1] = range.current;
    const t = t0 + ((clientX - r.left) / r.width) * (t1 - t0);
    const bar = e.bars?.find((b) => b.phases.some((p) => t >= p.start && t <= (p.open ? Date.now() : p.end)));
    const phase = bar?.phases.find((p) => t >= p.start && t <= (p.open ? Date.now() : p.end));
    return { e, bar, phase, x: clientX - r.left, y: clientY - r.top };
  };

  return (
    <div className="rows-wrap">
      <div ref={scroller} className="rows-scroll" style={{ height: viewH }}>
        <div style={{ height: Math.max(viewH, store.entries.length * rowH), position: "relative" }}>
          <canvas
            ref={ref}
            className="rows-canvas"
            data-testid="timeline-canvas"
            style={{ position: "sticky", top: 0, width: "100%", height: viewH, display: "block" }}
            onMouseMove={(ev) => {
              const hit = entryAt(ev.clientX, ev.clientY);
              setHover(
                hit && {
                  x: hit.x,
                  y: hit.y,
                  text: `${hit.e.run.id.slice(0, 8)} ${hit.e.run.workflowName}${
                    hit.bar && hit.phase
                      ? ` — ${hit.bar.name} ${hit.phase.kind} ${formatDuration((hit.phase.open ? Date.now() : hit.phase.end) - hit.phase.start)}${hit.bar.attempt > 1 ? ` (attempt ${hit.bar.attempt})` : ""}`
                      : ""
                  }`,
                },
              );
            }}
            onMouseLeave={() => setHover(undefined)}
            onClick={(ev) => {
              const hit = entryAt(ev.clientX, ev.clientY);
              if (hit && !hit.e.run.id.startsWith("00000000-")) window.location.hash = `#/runs/${hit.e.run.id}`;
            }}
          />
        </div>
      </div>
      {hover && (
        <div className="tooltip" style={{ left: hover.x + 12, top: hover.y + 12 }}>
          {hover.text}
        </div>
      )}
    </div>
  );
}

/** How many runs sit in each step at each moment: a stacked area per step name. */
function StackedChart({ store }: { store: TimelineStore }) {
  const height = 150;
  const { ref, size } = useCanvas(height);
  useEffect(() => {
    let last = -1;
    let lastDraw = 0;
    let raf = 0;
    const draw = () => {
      raf = requestAnimationFrame(draw);
      const now = Date.now();
      if (store.version === last && now - lastDraw < 1000) return;
      if (now - lastDraw < 250) return;
      last = store.version;
      lastDraw = now;
      const { ctx, w, h } = size();
      ctx.clearRect(0, 0, w, h);
      const entries = store.entries;
      const [t0, t1] = timeRange(entries, now);
      const bins = Math.max(10, Math.floor(w / 2));
      const binOf = (t: number) => Math.min(bins, Math.max(0, Math.floor(((t - t0) / (t1 - t0)) * bins)));
      const diff = new Map<string, Int32Array>();
      for (const e of entries) {
        for (const b of e.bars ?? []) {
          let d = diff.get(b.name);
          if (!d) {
            d = new Int32Array(bins + 1);
            diff.set(b.name, d);
          }
          const p0 = b.phases[0]!;
          const pn = b.phases[b.phases.length - 1]!;
          // a run sits in a step from its creation until it ended (or now)
          const endPhase = pn.kind === "settling" ? (b.phases[b.phases.length - 2] ?? pn) : pn;
          const end = endPhase.open ? now : endPhase.end;
          d[binOf(p0.start)]!++;
          d[binOf(end)]!--;
        }
      }
      const names = [...diff.keys()].sort();
      const series = names.map((n) => {
        const d = diff.get(n)!;
        const out = new Float64Array(bins);
        let acc = 0;
        for (let i = 0; i < bins; i++) out[i] = acc += d[i]!;
        return out;
      });
      let peak = 1;
      for (let i = 0; i < bins; i++) {
        let sum = 0;
        for (const s of series) sum += s[i]!;
        if (sum > peak) peak = sum;
      }
      const bw = w / bins;
      const plotH = h - 16;
      const base = new Float64Array(bins);
      names.forEach((n, k) => {
        ctx.fillStyle = colourOf(n);
        const s = series[k]!;
        for (let i = 0; i < bins; i++) {
          const v = s[i]!;
          if (v <= 0) continue;
          const y0 = plotH - (base[i]! / peak) * plotH;
          const hh = (v / peak) * plotH;
          ctx.fillRect(i * bw, y0 - hh, bw + 0.5, hh);
          base[i] = base[i]! + v;
        }
      });
      ctx.fillStyle = "#9aa0a6";
      ctx.font = "11px system-ui, sans-serif";
      ctx.fillText(`peak ${peak} runs in a step`, 4, 12);
      ctx.fillText(`+${formatDuration(t1 - t0)}`, w - 70, h - 3);
      ctx.fillText("0", 2, h - 3);
    };
    raf = requestAnimationFrame(draw);
    return () => cancelAnimationFrame(raf);
  }, [store, size]);
  return (
    <div className="chart-wrap">
      <h2>Runs in each step</h2>
      <canvas ref={ref} data-testid="stacked-chart" style={{ width: "100%", height, display: "block" }} />
    </div>
  );
}

/** Per shard, from the runs read so far: running runs, task steps waiting for an executor, and lag. */
function ShardTable({ store }: { store: TimelineStore }) {
  const now = Date.now();
  const shards = new Map<number, { running: number; queued: number; oldest: number; waits: number[] }>();
  for (const e of store.entries) {
    const s = e.run.shard;
    let row = shards.get(s);
    if (!row) {
      row = { running: 0, queued: 0, oldest: now, waits: [] };
      shards.set(s, row);
    }
    if (e.run.status === RunStatus.RUNNING) row.running++;
    for (const b of e.bars ?? []) {
      if (!b.task) continue;
      const q = b.phases[0]!;
      if (q.kind === "queued" && q.open) {
        row.queued++;
        row.oldest = Math.min(row.oldest, q.start);
      } else if (q.kind === "queued" && now - q.end < 60_000) {
        row.waits.push(q.end - q.start);
      }
    }
  }
  const rows = [...shards.entries()].sort((a, b) => a[0] - b[0]);
  const maxQ = Math.max(1, ...rows.map(([, r]) => r.queued));
  return (
    <div className="shards">
      <h2>Shards</h2>
      <table>
        <thead>
          <tr>
            <th>Shard</th>
            <th>Running runs</th>
            <th>Backlog (task steps not yet recorded)</th>
            <th>Lag (oldest unrecorded task)</th>
            <th>Queue wait, last minute (p50)</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([shard, r]) => {
            const sorted = r.waits.sort((a, b) => a - b);
            return (
              <tr key={shard}>
                <td className="num">{shard}</td>
                <td className="num">{r.running}</td>
                <td>
                  <span className="bar" style={{ width: `${(r.queued / maxQ) * 160}px` }} /> {r.queued}
                </td>
                <td className="num">{r.queued ? formatDuration(now - r.oldest) : "—"}</td>
                <td className="num">{sorted.length ? formatDuration(sorted[Math.floor(sorted.length / 2)]!) : "—"}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
