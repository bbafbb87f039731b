// The `weft` command: start, inspect, await, watch, list, cancel, signal, reset and retry runs through the
// journal's public WorkflowService (via @weft/sdk/client), and run the benchmark.
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";
import { AppLoadError, loadApp } from "@weft/sdk";
import {
  createOperatorClient,
  createWeftClient,
  isFinalStatus,
  type RunSnapshot,
  type RunStatusName,
  toHistoryExport,
  type WatchedRun,
  type WeftClient,
} from "@weft/sdk/client";
import { checkHistory, HistoryFormatError, parseHistory } from "@weft/sdk/workflow";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { CliError, EXIT, reportError, usageError } from "./exit.ts";
import {
  formatDiagnosis,
  formatHistory,
  formatRun,
  formatRunTable,
  formatStepLine,
  formatWatchLine,
  showPayload,
  toJson,
} from "./format.ts";
import { createProgress } from "./progress.ts";

export const DEFAULT_URL = "http://127.0.0.1:7233";
export const benchEntry = fileURLToPath(new URL("../../../bench/src/bench.ts", import.meta.url));

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Progress bars only on a terminal. */
  stderrIsTTY: boolean;
  readStdin(): Promise<string>;
}

export const processIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stderrIsTTY: Boolean(process.stderr.isTTY),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  },
};

interface Globals {
  url: string;
  /** Bearer token; never given a default, so that --help cannot print it. */
  token?: string;
  json: boolean;
}

const STATUSES: RunStatusName[] = ["running", "completed", "failed", "canceled"];

const integer = (name: string, min: number, max = Number.MAX_SAFE_INTEGER) => {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    }
    return n;
  };
};

const seconds = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("must be a positive number of seconds");
  return n;
};

const isoTime = (value: string) => {
  const t = new Date(value);
  if (Number.isNaN(t.getTime())) throw new InvalidArgumentError("must be a time such as 2026-01-31T12:00:00Z");
  return t;
};

/** "127.0.0.1:7233" → "http://127.0.0.1:7233". */
export function normalizeUrl(url: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`;
  try {
    return new URL(withScheme).toString().replace(/\/$/, "");
  } catch {
    throw usageError(`--url: "${url}" is not a URL`);
  }
}

/** The leading global options, then "bench": the rest goes to the benchmark untouched. */
export function benchArgs(argv: string[]): string[] | undefined {
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i]!;
    if (arg === "--json" || arg.startsWith("--url=") || arg.startsWith("--token=")) i++;
    else if (arg === "--url" || arg === "--token") i += 2;
    else break;
  }
  return argv[i] === "bench" ? argv.slice(i + 1) : undefined;
}

export function runBench(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [benchEntry, ...args], { stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
  });
}

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  const bench = benchArgs(argv);
  if (bench) return runBench(bench);

  let exitCode: number = EXIT.ok;
  let globals: Globals = { url: DEFAULT_URL, json: false };
  let client: WeftClient | undefined;
  const weft = (): WeftClient => {
    const token = globals.token || process.env.WEFT_TOKEN || undefined;
    client ??= createWeftClient({ baseUrl: normalizeUrl(globals.url), ...(token ? { token } : {}) });
    return client;
  };
  const out = (text: string) => io.stdout(`${text}\n`);
  const err = (text: string) => io.stderr(`${text}\n`);
  const emit = (human: () => string, json: () => unknown) => out(globals.json ? toJson(json()) : human());

  const parseJson = async (text: string | undefined, what: string): Promise<unknown> => {
    if (text === undefined) return null;
    const source = text === "-" ? await io.readStdin() : text;
    try {
      return JSON.parse(source);
    } catch (e) {
      throw usageError(`${what} is not valid JSON: ${(e as Error).message}`);
    }
  };

  /** Watches the run (with steps, for the progress bar) until it ends or the timeout passes. */
  const waitForEnd = async (runId: string, timeoutS: number | undefined, label: string): Promise<WatchedRun> => {
    const progress = createProgress(io.stderrIsTTY && !globals.json, label);
    const controller = new AbortController();
    const timer = timeoutS === undefined ? undefined : setTimeout(() => controller.abort(), timeoutS * 1_000);
    let last: WatchedRun | undefined;
    try {
      for await (const snapshot of weft().watch(runId, { includeSteps: true, signal: controller.signal })) {
        last = snapshot;
        progress.update(snapshot);
        if (isFinalStatus(snapshot.status)) return snapshot;
      }
    } catch (e) {
      if (!controller.signal.aborted) throw e;
      throw new CliError(
        `timed out after ${timeoutS}s waiting for run ${runId} (status ${last?.status ?? "unknown"})`,
        EXIT.timeout,
        "deadline_exceeded",
      );
    } finally {
      clearTimeout(timer);
      progress.stop();
    }
    throw new CliError(`the watch of run ${runId} ended before the run did`, EXIT.error, "internal");
  };

  /** Reports how an ended run ended: its result, or why it failed, with the matching exit code. */
  const outcome = (run: RunSnapshot): number => {
    if (run.status === "completed") return EXIT.ok;
    const why = run.error ? `${run.error.name}: ${run.error.message}` : "no error recorded";
    err(`weft: run ${run.id} ${run.status === "canceled" ? "was canceled" : "failed"}: ${why}`);
    return EXIT.runFailed;
  };

  const program = new Command("weft")
    .description("Start, inspect, await and signal Weft workflow runs.")
    .option("--url <url>", "the journal's address (env WEFT_URL)", process.env.WEFT_URL || DEFAULT_URL)
    .option("--token <token>", "bearer token for the journal (env WEFT_TOKEN; docs/security.md)")
    .option("--json", "machine-readable JSON on stdout (one document per line)", false)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError("(weft --help lists the commands)")
    .hook("preAction", (_program, action) => {
      globals = action.optsWithGlobals<Globals>();
    });

  program
    .command("start")
    .description("start a run of a workflow")
    .argument("<workflow>", "workflow name")
    .argument("[args-json]", "the workflow's input as JSON (- reads stdin; default null)")
    .option("-k, --idempotency-key <key>", "a second start with the same key returns the first run")
    .option("-w, --wait", "wait for the run to end and print its result", false)
    .option("--timeout <s>", "with --wait: give up after this many seconds", seconds)
    .action(
      async (
        workflow: string,
        argsJson: string | undefined,
        opts: { idempotencyKey?: string; wait: boolean; timeout?: number },
      ) => {
        const args = await parseJson(argsJson, "args-json");
        const started = await weft().start(
          workflow,
          args,
          opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {},
        );
        const { runId, existing } = started;
        if (!opts.wait) {
          emit(
            () => `${existing ? "existing" : "started"} run ${runId} (${workflow})`,
            () => started,
          );
          return;
        }
        if (!globals.json) out(`${existing ? "existing" : "started"} run ${runId} (${workflow})`);
        const final = isFinalStatus(started.run.status) ? started.run : await waitForEnd(runId, opts.timeout, workflow);
        if (globals.json) out(toJson({ runId, existing, run: final }));
        else if (final.status === "completed") out(showPayload(final.result));
        exitCode = outcome(final);
      },
    );

  program
    .command("get")
    .description("show a run")
    .argument("<run-id>")
    .action(async (runId: string) => {
      const run = await weft().get(runId);
      emit(
        () => formatRun(run),
        () => run,
      );
    });

  program
    .command("result")
    .description("wait for a run to end and print its result (exit 1 when it failed or was canceled)")
    .argument("<run-id>")
    .option("--timeout <s>", "give up after this many seconds (exit 5)", seconds)
    .action(async (runId: string, opts: { timeout?: number }) => {
      // A unary call first, so that an unknown run or an unreachable journal fails at once
      // instead of the watch reconnecting.
      const current = await weft().get(runId);
      const final = isFinalStatus(current.status)
        ? current
        : await waitForEnd(runId, opts.timeout, current.workflowName);
      if (globals.json) {
        const { id, status, result, error } = final;
        out(toJson({ runId: id, status, result, error }));
      } else if (final.status === "completed") {
        out(showPayload(final.result));
      }
      exitCode = outcome(final);
    });

  program
    .command("watch")
    .description("print a line on every change of a run until it ends")
    .argument("<run-id>")
    .option("--steps", "also print each step as it changes", false)
    .action(async (runId: string, opts: { steps: boolean }) => {
      await weft().get(runId);
      let lastKey = "";
      const seen = new Map<number, string>();
      let final: WatchedRun | undefined;
      for await (const snapshot of weft().watch(runId, { includeSteps: true })) {
        final = snapshot;
        // Reconnects repeat the current state: print changes only.
        const key = `${snapshot.status}|${(snapshot.steps ?? []).map((s) => `${s.seq}:${s.status}:${s.attempt}`).join(",")}`;
        if (key === lastKey) continue;
        lastKey = key;
        if (globals.json) {
          const { steps, ...run } = snapshot;
          out(
            toJson(opts.steps ? snapshot : { ...run, stepsDone: steps?.filter((s) => s.status !== "running").length }),
          );
          continue;
        }
        out(formatWatchLine(snapshot, new Date()));
        if (!opts.steps) continue;
        for (const step of snapshot.steps ?? []) {
          const state = `${step.status}:${step.attempt}`;
          if (seen.get(step.seq) === state) continue;
          seen.set(step.seq, state);
          out(formatStepLine(step));
        }
      }
      if (final) exitCode = outcome(final);
    });

  program
    .command("list")
    .description("list runs, newest first")
    .option("-w, --workflow <name>", "only runs of this workflow")
    .addOption(new Option("-s, --status <status...>", "only runs in these statuses").choices(STATUSES))
    .option("-n, --limit <n>", "runs per page", integer("--limit", 1, 1000), 20)
    .option("--page-token <token>", "continue after a previous page")
    .option("-a, --all", "every matching run, page after page", false)
    .action(
      async (opts: {
        workflow?: string;
        status?: RunStatusName[];
        limit: number;
        pageToken?: string;
        all: boolean;
      }) => {
        const filter = {
          ...(opts.workflow ? { workflowName: opts.workflow } : {}),
          ...(opts.status ? { statuses: opts.status } : {}),
          pageSize: opts.limit,
        };
        let runs: RunSnapshot[] = [];
        let nextPageToken: string | undefined;
        if (opts.all) {
          for await (const run of weft().listAll(filter)) runs.push(run);
        } else {
          const page = await weft().list({ ...filter, ...(opts.pageToken ? { pageToken: opts.pageToken } : {}) });
          runs = page.runs;
          nextPageToken = page.nextPageToken;
        }
        if (globals.json) {
          out(toJson({ runs, nextPageToken: nextPageToken ?? null }));
          return;
        }
        out(runs.length ? formatRunTable(runs) : "(no runs)");
        if (nextPageToken) err(`more: weft list --page-token ${nextPageToken} (or --all)`);
      },
    );

  program
    .command("cancel")
    .description("cancel a running run (an ended run is shown as it is)")
    .argument("<run-id>")
    .option("-r, --reason <text>", "recorded as the run's error message")
    .action(async (runId: string, opts: { reason?: string }) => {
      const run = await weft().cancel(runId, opts.reason ?? "");
      emit(
        () =>
          run.status === "canceled"
            ? `canceled run ${run.id}${run.error?.message ? `: ${run.error.message}` : ""}`
            : `run ${run.id} had already ended: ${run.status}`,
        () => run,
      );
    });

  program
    .command("send-event")
    .description("deliver a named event to a run")
    .argument("<run-id>")
    .argument("<name>", "event name")
    .argument("[payload-json]", "the event's payload as JSON (- reads stdin; default null)")
    .action(async (runId: string, name: string, payloadJson: string | undefined) => {
      const payload = await parseJson(payloadJson, "payload-json");
      const sent = await weft().sendEvent(runId, name, payload);
      emit(
        () =>
          `sent event ${sent.eventId} to run ${runId}: ${sent.delivered ? "delivered to a waiting step" : "stored until the run waits for it"}`,
        () => sent,
      );
    });

  program
    .command("history")
    .description("show a run with its steps and events (--json: the export format weft.history.v1, for weft replay)")
    .argument("<run-id>")
    .action(async (runId: string) => {
      const history = await weft().history(runId);
      emit(
        () => formatHistory(history),
        () => toHistoryExport(history),
      );
    });

  program
    .command("diagnose")
    .description("where work waits: per-shard backlog and lag, ready runs unclaimed for long, steps past their timeout")
    .option(
      "--unclaimed <s>",
      "list ready runs unclaimed for longer than this (default: the journal's setting)",
      seconds,
    )
    .option("-n, --limit <n>", "entries per list", integer("--limit", 1, 1000), 20)
    .action(async (opts: { unclaimed?: number; limit: number }) => {
      const token = globals.token || process.env.WEFT_TOKEN || undefined;
      const operator = createOperatorClient({ baseUrl: normalizeUrl(globals.url), ...(token ? { token } : {}) });
      const diagnosis = await operator.diagnose({
        limit: opts.limit,
        ...(opts.unclaimed === undefined ? {} : { unclaimedThresholdMs: Math.round(opts.unclaimed * 1000) }),
      });
      emit(
        () => formatDiagnosis(diagnosis),
        () => diagnosis,
      );
    });

  program
    .command("replay")
    .description(
      "replay the current workflow code against a recorded history; exit 0 when it matches, 1 at the first divergence",
    )
    .requiredOption("--history <file>", "a history written by weft history <run-id> --json (- reads stdin)")
    .requiredOption("--app <path>", "the app module (its default export is defineApp({...}))")
    .action(async (opts: { history: string; app: string }) => {
      let text: string;
      try {
        text = opts.history === "-" ? await io.readStdin() : await readFile(opts.history, "utf8");
      } catch (e) {
        throw usageError(`--history: cannot read ${opts.history}: ${(e as Error).message}`);
      }
      let history: ReturnType<typeof parseHistory>;
      try {
        history = parseHistory(JSON.parse(text));
      } catch (e) {
        if (e instanceof HistoryFormatError || e instanceof SyntaxError) {
          throw usageError(`--history ${opts.history}: ${(e as Error).message}`);
        }
        throw e;
      }
      let app: Awaited<ReturnType<typeof loadApp>>;
      try {
        app = await loadApp(opts.app);
      } catch (e) {
        if (e instanceof AppLoadError) throw usageError(`--app: ${e.message}`);
        throw e;
      }
      const check = await checkHistory(app, history);
      const run = history.run;
      if (check.ok) {
        emit(
          () =>
            `ok: run ${run.id} (${run.workflowName}, ${run.status}): the code replays its ${check.replayedSteps} recorded steps (${check.outcome})`,
          () => ({ runId: run.id, workflowName: run.workflowName, ...check }),
        );
        return;
      }
      const d = check.divergence;
      emit(
        () => `divergence: run ${run.id} (${run.workflowName}, ${run.status}): ${d.message}`,
        () => ({ runId: run.id, workflowName: run.workflowName, ...check }),
      );
      exitCode = EXIT.runFailed;
    });

  program
    .command("reset")
    .description("run a run again from a step: a new generation keeps the steps before it (any status)")
    .argument("<run-id>")
    .requiredOption("-f, --from <seq|step-name>", "first step to run again: its seq (1 = from the start) or name")
    .option("--app-version <version>", "move the run to this app version (default: keep its version)")
    .option("-r, --reason <text>", "why (logged by the journal)")
    .action(async (runId: string, opts: { from: string; appVersion?: string; reason?: string }) => {
      const bySeq = /^\d+$/.test(opts.from);
      const reset = await weft().reset(runId, {
        ...(bySeq ? { fromSeq: Number(opts.from) } : { fromStep: opts.from }),
        ...(opts.appVersion ? { appVersion: opts.appVersion } : {}),
        ...(opts.reason ? { reason: opts.reason } : {}),
      });
      emit(
        () =>
          `reset run ${runId} from step ${reset.fromSeq}: generation ${reset.run.generation}, ${reset.run.status}` +
          (reset.run.appVersion ? `, app version ${reset.run.appVersion}` : ""),
        () => reset,
      );
    });

  program
    .command("retry-failed")
    .description("reset failed runs matching a filter, each from its first failed step, page after page")
    .option("-w, --workflow <name>", "only runs of this workflow")
    .option("--error <text>", "only runs whose error message contains this (case-insensitive)")
    .option("--since <time>", "only runs created after this time (ISO 8601)", isoTime)
    .option("--until <time>", "only runs created before this time (ISO 8601)", isoTime)
    .option("--app-version <version>", "move the runs to this app version (needs --workflow)")
    .option("-n, --page-size <n>", "runs reset per call", integer("--page-size", 1, 1000), 100)
    .option("--dry-run", "count the matching runs and change nothing", false)
    .action(
      async (opts: {
        workflow?: string;
        error?: string;
        since?: Date;
        until?: Date;
        appVersion?: string;
        pageSize: number;
        dryRun: boolean;
      }) => {
        const filter = {
          ...(opts.workflow ? { workflowName: opts.workflow } : {}),
          ...(opts.error ? { errorContains: opts.error } : {}),
          ...(opts.since ? { createdAfter: opts.since } : {}),
          ...(opts.until ? { createdBefore: opts.until } : {}),
        };
        if (opts.dryRun) {
          const count = await weft().countFailed(filter);
          emit(
            () => `${count} failed run${count === 1 ? "" : "s"} match (dry run: nothing changed)`,
            () => ({ dryRun: true, count }),
          );
          return;
        }
        const runIds: string[] = [];
        let pageToken: string | undefined;
        do {
          const page = await weft().retryFailed({
            ...filter,
            ...(opts.appVersion ? { appVersion: opts.appVersion } : {}),
            pageSize: opts.pageSize,
            ...(pageToken ? { pageToken } : {}),
          });
          runIds.push(...page.runIds);
          pageToken = page.nextPageToken;
        } while (pageToken);
        emit(
          () => [`reset ${runIds.length} failed run${runIds.length === 1 ? "" : "s"}`, ...runIds].join("\n"),
          () => ({ dryRun: false, count: runIds.length, runIds }),
        );
      },
    );

  program
    .command("bench")
    .description("run the benchmark on this machine (node bench/src/bench.ts; weft bench --help)")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[options...]")
    .action(async (options: string[]) => {
      exitCode = await runBench(options);
    });

  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const report = reportError(e);
    if (globals.json) err(toJson({ error: { code: report.code, message: report.message } }));
    else err(`weft: [${report.code}] ${report.message}`);
    return report.exitCode;
  }
}
