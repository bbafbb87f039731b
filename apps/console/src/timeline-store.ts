// The many-runs timeline's data: runs paged in through ListWorkflows (1000 a page), their steps
// through GetHistory (a bounded number in flight, rows on screen first), kept fresh by polling:
// new runs (created after the newest seen) and the set of running runs (a run that left it has
// ended: its history is read once more). Nothing here renders; the page draws from `entries`.
import { create } from "@bufbuild/protobuf";
import { RunSchema, StepSchema } from "@weft/contracts";
import {
  errorMessage,
  isTaskKind,
  ms,
  type Run,
  RunStatus,
  type Step,
  StepKind,
  StepStatus,
  toTimestamp,
  type WorkflowClient,
} from "./api.ts";
import { type Phase, stepPhases } from "./phases.ts";

export interface Bar {
  name: string;
  shard: number;
  status: StepStatus;
  task: boolean;
  attempt: number;
  phases: Phase[];
}

export interface Entry {
  run: Run;
  created: number;
  /** End of the run, or undefined while running. */
  ended: number | undefined;
  bars: Bar[] | undefined;
  /** Time the history was last read (0: never). */
  readAt: number;
  loading: boolean;
}

export interface TimelineFilters {
  workflowName: string;
  /** Only runs created after this (ms); 0 for all. */
  createdAfter: number;
  maxRuns: number;
}

const PAGE = 1000;
const HISTORY_CONCURRENCY = 6;

export class TimelineStore {
  entries: Entry[] = [];
  byId = new Map<string, Entry>();
  error = "";
  loadingRuns = false;
  /** Row range on screen, read first. */
  visible: [number, number] = [0, 0];
  version = 0;
  private listeners = new Set<() => void>();
  private stopped = false;
  private inFlight = 0;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;

  private readonly client: WorkflowClient | undefined;
  readonly filters: TimelineFilters;

  constructor(client: WorkflowClient | undefined, filters: TimelineFilters) {
    this.client = client;
    this.filters = filters;
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed() {
    this.version++;
    for (const fn of this.listeners) fn();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.pollTimer);
  }

  /** Loads every page (newest first) up to maxRuns, then keeps polling. */
  async start() {
    if (!this.client) return;
    this.loadingRuns = true;
    this.changed();
    try {
      let token = "";
      do {
        const res = await this.client.listWorkflows({
          workflowName: this.filters.workflowName,
          createdAfter: this.filters.createdAfter ? toTimestamp(this.filters.createdAfter) : undefined,
          pageSize: PAGE,
          pageToken: token,
        });
        if (this.stopped) return;
        this.upsert(res.runs);
        token = res.nextPageToken;
        this.pump();
      } while (token && this.entries.length < this.filters.maxRuns);
      this.error = "";
    } catch (err) {
      this.error = errorMessage(err);
    } finally {
      this.loadingRuns = false;
      this.changed();
    }
    this.schedulePoll();
  }

  private schedulePoll() {
    if (this.stopped) return;
    this.pollTimer = setTimeout(() => void this.poll().finally(() => this.schedulePoll()), 2000);
  }

  private async poll() {
    const client = this.client;
    if (!client || this.stopped) return;
    try {
      // New runs: created after the newest one seen (a second of overlap; ids dedupe).
      const newest = this.entries.length ? this.entries[this.entries.length - 1]!.created : this.filters.createdAfter;
      let token = "";
      do {
        const res = await client.listWorkflows({
          workflowName: this.filters.workflowName,
          createdAfter: newest ? toTimestamp(Math.max(newest - 1000, this.filters.createdAfter)) : undefined,
          pageSize: PAGE,
          pageToken: token,
        });
        this.upsert(res.runs);
        token = res.nextPageToken;
      } while (token && this.entries.length < this.filters.maxRuns && !this.stopped);
      // Running runs: whatever left the set has ended.
      const running = new Set<string>();
      const oldest = this.entries.length ? this.entries[0]!.created : 0;
      token = "";
      do {
        const res = await client.listWorkflows({
          workflowName: this.filters.workflowName,
          statuses: [RunStatus.RUNNING],
          createdAfter: oldest ? toTimestamp(oldest - 1) : undefined,
          pageSize: PAGE,
          pageToken: token,
        });
        for (const r of res.runs) running.add(r.id);
        this.upsert(res.runs);
        token = res.nextPageToken;
      } while (token && !this.stopped);
      for (const e of this.entries) {
        if (e.run.status === RunStatus.RUNNING && !running.has(e.run.id)) e.readAt = -1; // ended: read again
      }
      this.error = "";
    } catch (err) {
      this.error = errorMessage(err);
    }
    this.pump();
    this.changed();
  }

  upsert(runs: readonly Run[]) {
    let added = false;
    for (const run of runs) {
      const existing = this.byId.get(run.id);
      if (existing) {
        if (existing.run.status === RunStatus.RUNNING && run.status !== RunStatus.RUNNING) existing.readAt = -1;
        existing.run = run;
        existing.ended = ms(run.completedAt);
        continue;
      }
      if (this.byId.size >= this.filters.maxRuns) break;
      const e: Entry = {
        run,
        created: ms(run.createdAt) ?? 0,
        ended: ms(run.completedAt),
        bars: undefined,
        readAt: 0,
        loading: false,
      };
      this.byId.set(run.id, e);
      this.entries.push(e);
      added = true;
    }
    if (added) this.entries.sort((a, b) => a.created - b.created || (a.run.id < b.run.id ? -1 : 1));
    this.changed();
  }

  setSteps(e: Entry, run: Run, steps: readonly Step[], now: number) {
    e.run = run;
    e.ended = ms(run.completedAt);
    e.bars = stepPhases(run, steps, now).map((p) => ({
      name: p.step.name || StepKind[p.step.kind]!.toLowerCase(),
      shard: run.shard,
      status: p.step.status,
      task: isTaskKind(p.step.kind),
      attempt: p.step.attempt,
      phases: p.phases,
    }));
    e.readAt = now;
  }

  /** Which run to read next: on screen first, never read, then ended-since-read, then stale running ones. */
  private next(now: number): Entry | undefined {
    const [from, to] = this.visible;
    const want = (e: Entry, staleMs: number) =>
      !e.loading && (e.readAt <= 0 || (e.run.status === RunStatus.RUNNING && now - e.readAt > staleMs));
    for (let i = from; i < Math.min(to, this.entries.length); i++) {
      const e = this.entries[i]!;
      if (want(e, 1500)) return e;
    }
    for (const e of this.entries) if (!e.loading && e.readAt <= 0) return e;
    for (const e of this.entries) if (want(e, 10_000)) return e;
    return undefined;
  }

  /** Keeps up to HISTORY_CONCURRENCY GetHistory calls in flight. */
  pump() {
    const client = this.client;
    if (!client) return;
    while (!this.stopped && this.inFlight < HISTORY_CONCURRENCY) {
      const e = this.next(Date.now());
      if (!e) return;
      e.loading = true;
      this.inFlight++;
      client
        .getHistory({ runId: e.run.id })
        .then((h) => {
          if (h.run) this.setSteps(e, h.run, h.steps, Date.now());
        })
        .catch((err) => {
          this.error = errorMessage(err);
          e.readAt = Date.now();
        })
        .finally(() => {
          e.loading = false;
          this.inFlight--;
          this.changed();
          setTimeout(() => this.pump(), this.next(Date.now()) ? 0 : 500);
        });
    }
  }

  /** Fills the store with `n` made-up pipeline runs (for checking that drawing stays smooth). */
  synthesize(n: number, now = Date.now()) {
    const span = 120_000;
    const names = ["extract", "analyzeA", "analyzeB", "summarize"];
    const runs: Run[] = [];
    const stepsOf = new Map<string, Step[]>();
    let seed = 42;
    const rnd = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let i = 0; i < n; i++) {
      const t0 = now - span + (span * i) / n;
      const id = `00000000-0000-7000-8000-${String(i).padStart(12, "0")}`;
      const steps: Step[] = [];
      let t = t0 + 5 + rnd() * 20;
      let done = true;
      const addStep = (seq: number, name: string, createdAt: number): number => {
        if (createdAt > now) {
          done = false;
          return createdAt;
        }
        const start = createdAt + rnd() * 400 * (i / n + 0.2);
        const end = start + 20 + rnd() * 80;
        const finished = end < now;
        if (!finished) done = false;
        steps.push(
          create(StepSchema, {
            id: `${id}-${seq}`,
            runId: id,
            seq,
            name,
            kind: StepKind.ACTION,
            status: finished ? StepStatus.COMPLETED : StepStatus.RUNNING,
            attempt: rnd() < 0.02 ? 2 : 1,
            createdAt: toTimestamp(createdAt),
            startedAt: finished ? toTimestamp(start) : undefined,
            completedAt: finished ? toTimestamp(end) : undefined,
          }),
        );
        return end;
      };
      t = addStep(1, names[0]!, t) + 10 + rnd() * 30;
      const a = addStep(2, names[1]!, t);
      const b = addStep(3, names[2]!, t);
      t = Math.max(a, b) + 10 + rnd() * 30;
      const end = addStep(4, names[3]!, t) + 10;
      const finished = done && end < now;
      runs.push(
        create(RunSchema, {
          id,
          workflowName: "pipeline",
          status: finished ? RunStatus.COMPLETED : RunStatus.RUNNING,
          shard: i % 16,
          createdAt: toTimestamp(t0),
          completedAt: finished ? toTimestamp(end) : undefined,
        }),
      );
      stepsOf.set(id, steps);
    }
    this.upsert(runs);
    for (const e of this.entries) this.setSteps(e, e.run, stepsOf.get(e.run.id) ?? [], now);
    this.changed();
  }
}
