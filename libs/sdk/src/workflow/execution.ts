// The replay engine: runs a workflow function against its journal. A WorkflowExecution keeps the
// function's live state, so a coordinator can feed it only the outcomes that arrived since the last
// turn; replayTurn builds a fresh one and feeds it the whole journal (replay from scratch).
//
// Workflow code must be deterministic: it may only wait on promises made by its WorkflowContext.
// Outcomes are delivered one at a time in completion order with the microtask queue drained in
// between (a setImmediate), which replays Promise.all/Promise.race exactly as they first ran. A
// promise settled by real I/O or timers would land outside that order; such code is unsupported.
import type { App } from "../app.ts";
import {
  CanceledError,
  ChildWorkflowFailedError,
  DefinitionError,
  type FailureInfo,
  failureToError,
  NonDeterminismError,
  StepFailedError,
  toFailure,
  WeftError,
} from "../errors.ts";
import type { StepDefinition } from "../step.ts";
import type { WorkflowContext, WorkflowDefinition } from "../workflow-definition.ts";
import { fnv1a32, mulberry32 } from "./deterministic.ts";
import {
  EXECUTOR_KINDS,
  type JournalStep,
  type NewStepCommand,
  type RunInfo,
  type StepKindName,
  type TurnCompletion,
  type TurnOutcome,
} from "./journal.ts";

/** The run's workflow name is not in the app (the coordinator runs an app without it). */
export class WorkflowNotFoundError extends WeftError {
  override name = "WorkflowNotFoundError";
}

/**
 * The journal given to `apply` contradicts outcomes this execution already delivered (e.g. the run
 * was reset). The execution is unusable; replay from scratch.
 */
export class StaleExecutionError extends WeftError {
  override name = "StaleExecutionError";
}

export interface ApplyOptions {
  /** `steps` is the run's whole journal: a step known before but missing now makes the execution stale. */
  fullJournal?: boolean;
}

interface Call {
  readonly command: NewStepCommand;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
}

const drain = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function compareOrder(a: JournalStep, b: JournalStep): number {
  const x = BigInt(a.completionOrder);
  const y = BigInt(b.completionOrder);
  if (x !== y) return x < y ? -1 : 1;
  return a.seq - b.seq;
}

/** A patch id names a journal entry: the same rules as step names. */
function validatePatchId(what: string, changeId: unknown): string {
  if (typeof changeId !== "string" || !/^[A-Za-z0-9_.:-]{1,200}$/.test(changeId)) {
    throw new RangeError(`${what}: invalid change id ${JSON.stringify(changeId)} (1-200 of A-Z a-z 0-9 _ . : -)`);
  }
  return changeId;
}

function describeCall(kind: StepKindName, name: string): string {
  return `${kind} "${name}"`;
}

/** A copy of `value` as JSON would carry it (what the journal records), or a TypeError naming the call. */
function jsonCopy(value: unknown, what: string): unknown {
  if (value === undefined) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new TypeError(`${what}: args are not JSON-serialisable (${(err as Error).message})`);
  }
  return text === undefined ? null : JSON.parse(text);
}

export class WorkflowExecution {
  readonly app: App;
  readonly run: RunInfo;
  readonly workflow: WorkflowDefinition;

  private readonly calls = new Map<number, Call>();
  private readonly journal = new Map<number, JournalStep>();
  private readonly delivered = new Set<number>();
  private readonly random: () => number;
  private nextSeq = 1;
  private nowMs: number;
  private started = false;
  private completion: TurnCompletion | undefined;
  private nonDeterminism: NonDeterminismError | undefined;
  private busy = false;
  private maxDeliveredOrder: bigint | undefined;
  private maxJournalSeq = 0;

  constructor(app: App, run: RunInfo) {
    const workflow = app.workflows.get(run.workflowName);
    if (!workflow) {
      throw new WorkflowNotFoundError(`workflow "${run.workflowName}" of run ${run.id} is not registered in the app`);
    }
    this.app = app;
    this.run = run;
    this.workflow = workflow;
    this.nowMs = run.createdAtMs;
    this.random = mulberry32(fnv1a32(run.id));
  }

  /** True once the workflow function returned or threw, or the run failed on non-determinism. */
  get done(): boolean {
    return this.completion !== undefined || this.nonDeterminism !== undefined;
  }

  /** The step calls the workflow code has made so far, in call order. */
  get stepCalls(): { seq: number; name: string; kind: StepKindName }[] {
    return [...this.calls.values()].map(({ command: { seq, name, kind } }) => ({ seq, name, kind }));
  }

  /** Number of step calls the workflow code has made so far. */
  get callCount(): number {
    return this.nextSeq - 1;
  }

  /**
   * Feeds journal steps (the whole journal or only what changed since the last call) and runs the
   * workflow code until it waits on something unresolved. Outcomes already delivered are skipped.
   */
  async apply(steps: readonly JournalStep[], options: ApplyOptions = {}): Promise<TurnOutcome> {
    if (this.busy) throw new Error(`WorkflowExecution ${this.run.id}: apply() called while a previous apply() runs`);
    this.busy = true;
    try {
      if (options.fullJournal) this.checkComplete(steps);
      const fresh: JournalStep[] = [];
      for (const step of steps) {
        if (step.seq < 1) continue; // seq 0 is the on-complete hook, not workflow code
        this.checkDelivered(step);
        // PATCH markers are read by ctx.patched() where the code reaches them, never delivered.
        if (step.kind !== "patch" && step.status !== "running" && !this.delivered.has(step.seq)) fresh.push(step);
      }
      fresh.sort(compareOrder);
      // A live execution must see outcomes in the order a fresh replay would: an outcome ordered
      // before one it already delivered (a snapshot that missed it) means it has diverged.
      const first = fresh[0];
      if (first && this.maxDeliveredOrder !== undefined && BigInt(first.completionOrder) < this.maxDeliveredOrder) {
        throw new StaleExecutionError(
          `run ${this.run.id} step ${first.seq}: outcome ordered ${first.completionOrder} arrived after outcome ${this.maxDeliveredOrder} was delivered`,
        );
      }
      // The journal is known before the code runs, so that ctx.patched() can tell whether the run
      // already went past the point where it is called.
      for (const step of steps) {
        if (step.seq < 1) continue;
        this.journal.set(step.seq, step);
        if (step.seq > this.maxJournalSeq) this.maxJournalSeq = step.seq;
        this.checkMatch(step.seq);
      }
      if (!this.started) {
        this.started = true;
        this.startFunction();
        await drain();
      }
      await this.deliver(fresh);
      return this.outcome();
    } finally {
      this.busy = false;
    }
  }

  private startFunction(): void {
    const ctx = this.context();
    let promise: Promise<unknown>;
    try {
      promise = Promise.resolve(this.workflow.handler(ctx, this.run.args));
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      (result) => {
        this.completion ??= { result: result === undefined ? null : result };
      },
      (err) => {
        this.completion ??= { failure: toFailure(err) };
      },
    );
  }

  private async deliver(outcomes: JournalStep[]): Promise<void> {
    // Outcomes whose call the code has not made yet wait until it does (normally impossible: an
    // outcome's call precedes it in completion order); leftovers are reported as non-determinism.
    let deferred: JournalStep[] = [];
    for (const step of outcomes) {
      if (this.nonDeterminism) return;
      if (!this.calls.has(step.seq)) {
        deferred.push(step);
        continue;
      }
      this.resolveCall(step);
      await drain();
      if (deferred.length > 0) deferred = await this.deliverReady(deferred);
    }
  }

  private async deliverReady(deferred: JournalStep[]): Promise<JournalStep[]> {
    let progress = true;
    while (progress && !this.nonDeterminism) {
      progress = false;
      const next = deferred.find((s) => this.calls.has(s.seq));
      if (next) {
        deferred = deferred.filter((s) => s !== next);
        this.resolveCall(next);
        await drain();
        progress = true;
      }
    }
    return deferred;
  }

  private resolveCall(step: JournalStep): void {
    const call = this.calls.get(step.seq)!;
    this.delivered.add(step.seq);
    const order = BigInt(step.completionOrder);
    if (this.maxDeliveredOrder === undefined || order > this.maxDeliveredOrder) this.maxDeliveredOrder = order;
    if (step.completedAtMs !== undefined) this.nowMs = step.completedAtMs;
    const { kind, name, seq } = call.command;
    const failure: FailureInfo = step.failure ?? {
      name: "Error",
      message: `step ${seq} ${step.status} without an error`,
    };
    if (step.status === "completed") {
      call.resolve(kind === "sleep" ? undefined : step.result === undefined ? null : step.result);
    } else if (kind === "child") {
      const childFailure =
        step.status === "canceled" && !step.failure ? { name: "CanceledError", message: "canceled" } : failure;
      call.reject(new ChildWorkflowFailedError(name, step.childRunId, childFailure));
    } else if (step.status === "canceled") {
      call.reject(new CanceledError(step.failure?.message ?? `step ${seq} ${describeCall(kind, name)} was canceled`));
    } else if (EXECUTOR_KINDS.has(kind)) {
      call.reject(new StepFailedError(name, seq, failure));
    } else {
      // sleep/event: the journal's own failure (TimeoutError for an event wait that timed out).
      call.reject(failureToError(failure));
    }
  }

  /** With the whole journal: every step this execution knows must still be there, unchanged. */
  private checkComplete(steps: readonly JournalStep[]): void {
    const bySeq = new Map(steps.map((s) => [s.seq, s]));
    for (const known of this.journal.values()) {
      const now = bySeq.get(known.seq);
      if (!now || now.name !== known.name || now.kind !== known.kind) {
        throw new StaleExecutionError(
          `run ${this.run.id} step ${known.seq}: the journal no longer has ${describeCall(known.kind, known.name)}`,
        );
      }
    }
  }

  /** Journal steps must not change an outcome this execution already acted on. */
  private checkDelivered(step: JournalStep): void {
    if (!this.delivered.has(step.seq)) return;
    const before = this.journal.get(step.seq);
    if (before && before.status !== step.status) {
      throw new StaleExecutionError(
        `run ${this.run.id} step ${step.seq}: journal says ${step.status} but ${before.status} was already delivered`,
      );
    }
  }

  /** Compares the code's call and the journal's entry at `seq` when both exist. */
  private checkMatch(seq: number): void {
    const call = this.calls.get(seq);
    const step = this.journal.get(seq);
    if (!call || !step || this.nonDeterminism) return;
    const { kind, name } = call.command;
    if (kind !== step.kind || name !== step.name) {
      this.nonDeterminism = new NonDeterminismError(
        `step ${seq}: the code called ${describeCall(kind, name)} but the journal has ${describeCall(step.kind, step.name)}`,
      );
    }
  }

  private outcome(): TurnOutcome {
    if (!this.nonDeterminism) {
      const calls = this.callCount;
      for (const step of this.journal.values()) {
        if (step.seq > calls) {
          const state = this.completion ? "completed" : "is waiting";
          this.nonDeterminism = new NonDeterminismError(
            `step ${step.seq}: the journal has ${describeCall(step.kind, step.name)} but the code ${state} after ${calls} step call${calls === 1 ? "" : "s"} without calling it`,
          );
          break;
        }
      }
    }
    if (this.nonDeterminism) return { newSteps: [], completion: { failure: toFailure(this.nonDeterminism) } };
    if (this.completion) return { newSteps: [], completion: this.completion };
    return { newSteps: this.newSteps() };
  }

  /** Calls the journal has not seen, lower seq first, with executor steps capped by maxStepsInFlight. */
  private newSteps(): NewStepCommand[] {
    let inFlight = 0;
    for (const step of this.journal.values()) {
      if (step.status === "running" && EXECUTOR_KINDS.has(step.kind)) inFlight++;
    }
    const cap = this.workflow.maxStepsInFlight;
    const out: NewStepCommand[] = [];
    for (let seq = 1; seq < this.nextSeq; seq++) {
      if (this.journal.has(seq)) continue;
      const call = this.calls.get(seq)!;
      if (EXECUTOR_KINDS.has(call.command.kind)) {
        if (inFlight >= cap) continue;
        inFlight++;
      }
      out.push({ ...call.command });
    }
    return out;
  }

  /**
   * ctx.patched / ctx.deprecatePatch at the next seq: the journal's marker there → true (consumed);
   * another entry there, or any entry after it → false (the run went past this point with the old
   * code; nothing consumed); nothing there yet → a new marker is journaled with the turn → true.
   */
  private patch(changeId: string): boolean {
    if (this.done) return true;
    const seq = this.nextSeq;
    const entry = this.journal.get(seq);
    const recorded = entry?.kind === "patch" && entry.name === changeId;
    if (!recorded && (entry !== undefined || this.maxJournalSeq >= seq)) return false;
    this.nextSeq++;
    const settle = () => {};
    this.calls.set(seq, {
      command: { seq, name: changeId, kind: "patch", args: null },
      resolve: settle,
      reject: settle,
    });
    this.delivered.add(seq);
    return true;
  }

  /** Registers the next call; its promise settles when the journal delivers the outcome. */
  private call(command: Omit<NewStepCommand, "seq">): Promise<unknown> {
    if (this.done) return new Promise(() => {}); // the run is over: nothing more is journaled
    const seq = this.nextSeq++;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    // A call the code never awaits (fire and forget) must not crash the host with an unhandled
    // rejection when its step fails; code that awaits it still sees the rejection.
    promise.catch(() => {});
    this.calls.set(seq, { command: { seq, ...command }, resolve, reject });
    this.checkMatch(seq);
    return promise;
  }

  private context(): WorkflowContext {
    const exec = this;
    const workflowName = this.workflow.name;
    return Object.freeze({
      runId: this.run.id,
      workflowName,
      step<A, R>(step: StepDefinition<A, R>, args: A): Promise<R> {
        const name = step?.name;
        const registered = typeof name === "string" ? exec.app.steps.get(name) : undefined;
        if (!registered) {
          return Promise.reject(
            new DefinitionError(
              `workflow "${workflowName}" called step ${JSON.stringify(name)}, which is not registered in the app`,
            ),
          );
        }
        let copy: unknown;
        try {
          copy = jsonCopy(args, `step "${name}"`);
        } catch (err) {
          return Promise.reject(err);
        }
        return exec.call({ name: registered.name, kind: registered.kind, args: copy }) as Promise<R>;
      },
      sleep(ms: number): Promise<void> {
        if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
          return Promise.reject(new RangeError(`ctx.sleep: ms must be a finite number >= 0, got ${ms}`));
        }
        return exec.call({ name: "sleep", kind: "sleep", args: null, wakeAtMs: exec.nowMs + ms }) as Promise<void>;
      },
      sleepUntil(time: number | Date): Promise<void> {
        const at = time instanceof Date ? time.getTime() : time;
        if (typeof at !== "number" || !Number.isFinite(at)) {
          return Promise.reject(
            new RangeError(`ctx.sleepUntil: time must be a finite epoch ms or a valid Date, got ${String(time)}`),
          );
        }
        return exec.call({ name: "sleep", kind: "sleep", args: null, wakeAtMs: at }) as Promise<void>;
      },
      awaitEvent<T = unknown>(name: string, options?: { timeoutMs?: number }): Promise<T> {
        if (typeof name !== "string" || !/^[A-Za-z0-9_.:-]{1,200}$/.test(name)) {
          return Promise.reject(new RangeError(`ctx.awaitEvent: invalid event name ${JSON.stringify(name)}`));
        }
        const timeoutMs = options?.timeoutMs;
        if (
          timeoutMs !== undefined &&
          (typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) || timeoutMs < 0)
        ) {
          return Promise.reject(
            new RangeError(`ctx.awaitEvent("${name}"): timeoutMs must be a finite number >= 0, got ${timeoutMs}`),
          );
        }
        const command: Omit<NewStepCommand, "seq"> = { name, kind: "event", args: null, eventName: name };
        if (timeoutMs !== undefined) command.timeoutAtMs = exec.nowMs + timeoutMs;
        return exec.call(command) as Promise<T>;
      },
      child<A, R>(workflow: WorkflowDefinition<A, R>, args: A): Promise<R> {
        const name = workflow?.name;
        const registered = typeof name === "string" ? exec.app.workflows.get(name) : undefined;
        if (!registered) {
          return Promise.reject(
            new DefinitionError(
              `workflow "${workflowName}" started child workflow ${JSON.stringify(name)}, which is not registered in the app`,
            ),
          );
        }
        let copy: unknown;
        try {
          copy = jsonCopy(args, `child workflow "${name}"`);
        } catch (err) {
          return Promise.reject(err);
        }
        return exec.call({
          name: registered.name,
          kind: "child",
          args: copy,
          childWorkflowName: registered.name,
        }) as Promise<R>;
      },
      now(): number {
        return exec.nowMs;
      },
      random(): number {
        return exec.random();
      },
      patched(changeId: string): boolean {
        return exec.patch(validatePatchId("ctx.patched", changeId));
      },
      deprecatePatch(changeId: string): void {
        exec.patch(validatePatchId("ctx.deprecatePatch", changeId));
      },
    });
  }
}
