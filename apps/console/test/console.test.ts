// The console in a real browser (Debian's chromium through playwright-core) against a real,
// isolated stack running the pipeline app: runs appear and finish live, a run's page with its
// step timeline, send-event and cancel, the live timeline (real runs, then 20,000 synthetic
// ones for smoothness). A screenshot of each page is taken (docs/screenshots/ with WEFT_UPDATE_SCREENSHOTS=1).
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { encodePayload, type Run, RunStatus, StartWorkflowRequestSchema, WorkflowService } from "@weft/contracts";
import { type ConsoleServer, type Stack, startConsoleServer, startStack } from "@weft/stack";
import { createTestEnvironment, type TestEnvironment } from "@weft/testkit";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCorsGateway } from "./cors-gateway.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");
// Screenshots land in a scratch folder; WEFT_UPDATE_SCREENSHOTS=1 refreshes the committed ones.
const shots =
  process.env.WEFT_UPDATE_SCREENSHOTS === "1"
    ? join(root, "docs", "screenshots")
    : mkdtempSync(join(tmpdir(), "weft-shots-"));
const appPath = fileURLToPath(new URL("../../../examples/pipeline/src/app.ts", import.meta.url));
const CHROMIUM = process.env.WEFT_CHROMIUM ?? "/usr/bin/chromium";

let env: TestEnvironment;
let stack: Stack;
let server: ConsoleServer & { setJournal(url: string): void };
let client: Client<typeof WorkflowService>;
let context: BrowserContext;
let page: Page;
let userDataDir: string;
/** "cors": the page calls the journal directly (another origin); "proxy": through the console's origin. */
let mode: "cors" | "proxy";
let consoleUrl: string;

async function startRun(args: unknown): Promise<Run> {
  const res = await client.startWorkflow(
    create(StartWorkflowRequestSchema, { workflowName: "pipeline", args: encodePayload(args) }),
  );
  return res.run!;
}

const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

beforeAll(async () => {
  await build({ root, logLevel: "warn", configFile: join(root, "vite.config.ts") });
  server = await startConsoleServer({ dist });
  env = await createTestEnvironment("console");
  stack = await startStack({
    env: { ...env.env, WEFT_LOG_LEVEL: "info", WEFT_SAFETY_POLL_MS: "500", WEFT_CORS_ORIGINS: server.origin },
    app: appPath,
  });
  server.setJournal(stack.journalUrl);
  const token = stack.token ?? "";
  client = createClient(
    WorkflowService,
    createGrpcTransport({
      baseUrl: stack.journalUrl,
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${token}`);
          return next(req);
        },
      ],
    }),
  );

  // Does the journal answer CORS for the console's origin? Then the page talks to it directly.
  const preflight = await fetch(`${stack.journalUrl}/weft.v1.WorkflowService/ListWorkflows`, {
    method: "OPTIONS",
    headers: {
      origin: server.origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type,connect-protocol-version",
    },
  });
  const forced = process.env.WEFT_CONSOLE_TEST_MODE;
  mode = forced === "proxy" || forced === "cors" ? forced : preflight.status === 204 ? "cors" : "proxy";
  // The token travels once in ?token= and then stays in the tab's sessionStorage.
  const auth = `token=${encodeURIComponent(token)}`;
  consoleUrl =
    mode === "cors" ? `${server.url}?journal=${encodeURIComponent(stack.journalUrl)}&${auth}` : `${server.url}?${auth}`;

  mkdirSync(shots, { recursive: true });
  userDataDir = mkdtempSync(join(tmpdir(), "weft-console-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (err) => console.error("page error:", err.message));
});

afterAll(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  await stack?.stop();
  await env?.cleanup();
  await server?.close();
});

describe(`console in chromium against a real stack`, () => {
  it("lists runs live: they appear and finish without a reload, and filters apply", async () => {
    console.warn(`console test mode: ${mode} (journal ${stack.journalUrl}, console ${server.origin})`);
    await page.goto(`${consoleUrl}#/`);
    await page.getByRole("heading", { name: "Runs" }).waitFor();
    const runs = await Promise.all(
      [1, 2, 3].map((id) => startRun({ id, text: `hello console number ${id}`, stepMs: 400 })),
    );
    for (const run of runs) {
      await page.locator(`tr[data-run-id="${run.id}"]`).waitFor({ timeout: 15_000 });
    }
    for (const run of runs) {
      await page.locator(`tr[data-run-id="${run.id}"][data-status="completed"]`).waitFor({ timeout: 30_000 });
    }
    await shot("runs");

    await page.getByLabel("Workflow").fill("no-such-workflow");
    await page.getByText("No runs match.").waitFor();
    await page.getByLabel("Workflow").fill("pipeline");
    await page.locator('input[name="status-failed"]').check();
    await page.getByText("No runs match.").waitFor();
    await page.locator('input[name="status-failed"]').uncheck();
    await page.locator('input[name="status-completed"]').check();
    await expect.poll(() => page.locator("tr[data-run-id]").count()).toBe(3);
  });

  it("opens a run and follows it live through the watch stream to its output", async () => {
    const run = await startRun({ id: 7, text: "watch me run live", stepMs: 800 });
    await page.goto(`${consoleUrl}#/runs/${run.id}`);
    await page.locator(`section.run-page[data-run-id="${run.id}"][data-status="running"]`).waitFor();
    await page.locator(`section.run-page[data-status="completed"]`).waitFor({ timeout: 30_000 });
    await expect.poll(() => page.locator("svg.gantt g.gantt-row").count()).toBe(4);
    for (const step of ["extract", "analyzeA", "analyzeB", "summarize"]) {
      await page.locator(`table.steps tr[data-step="${step}"][data-status="completed"]`).waitFor();
    }
    expect(await page.locator(".panel", { hasText: "Output" }).textContent()).toContain("#7: 4 words");
    expect(await page.locator("svg.gantt rect.phase.executing").count()).toBe(4);
    const trace = page.locator("a.trace-link");
    if ((await trace.count()) > 0) expect(await trace.getAttribute("href")).toMatch(/\/trace\/[0-9a-f]{32}$/);
    await shot("run");
  });

  it("sends an event to a running run and cancels it", async () => {
    const run = await startRun({ id: 8, text: "cancel me", stepMs: { extract: 120_000 } });
    await page.goto(`${consoleUrl}#/runs/${run.id}`);
    await page.locator(`section.run-page[data-status="running"]`).waitFor();
    await page.getByLabel("event name").fill("approve");
    await page.getByLabel("event payload").fill('{"by":"console"}');
    await page.locator('button[name="send-event"]').click();
    await page.getByText(/event .* sent/).waitFor();
    await page.locator("table.events td", { hasText: "approve" }).waitFor();
    await page.locator('button[name="cancel"]').click();
    await page.locator(`section.run-page[data-status="canceled"]`).waitFor({ timeout: 15_000 });
    await page.locator(".error-panel", { hasText: "CanceledError" }).waitFor();
    await shot("run-canceled");
    const final = await client.getWorkflow({ runId: run.id });
    expect(final.run?.status).toBe(RunStatus.CANCELED);
  });

  it("draws the live timeline of the stack's runs, and new runs join it", async () => {
    await page.goto(`${consoleUrl}#/timeline`);
    const stats = page.getByTestId("timeline-stats");
    await expect.poll(() => stats.textContent().then((t) => t ?? ""), { timeout: 15_000 }).toMatch(/^5 runs/);
    const late = await Promise.all([9, 10].map((id) => startRun({ id, text: "late joiner", stepMs: 300 })));
    await expect
      .poll(() => stats.textContent().then((t) => t ?? ""), { timeout: 15_000 })
      .toMatch(/^7 runs \(0 running\), steps read for 7/);
    expect(late).toHaveLength(2);
    await page.locator(".shards table tbody tr").first().waitFor();
    await shot("timeline");
  });

  it("stays smooth with 20,000 runs (synthetic data, canvas)", async () => {
    await page.goto(`${consoleUrl}#/timeline?synthetic=20000&row=2`);
    await expect.poll(() => page.evaluate(() => window.__weftTimeline?.rows ?? 0), { timeout: 30_000 }).toBe(20_000);
    await page.evaluate(() => {
      if (window.__weftTimeline) window.__weftTimeline.maxFrameMs = 0;
    });
    const scroller = page.locator(".rows-scroll");
    for (let i = 1; i <= 20; i++) {
      await scroller.evaluate((el, top) => {
        el.scrollTop = top;
      }, i * 1900);
      await page.waitForTimeout(30);
    }
    const stats = await page.evaluate(() => window.__weftTimeline!);
    console.warn(`timeline 20k: ${stats.frames} frames, max ${stats.maxFrameMs.toFixed(1)} ms per frame`);
    expect(stats.maxFrameMs).toBeLessThan(50);
    await scroller.evaluate((el) => {
      el.scrollTop = el.scrollHeight / 2;
    });
    await page.waitForTimeout(300);
    await shot("timeline-20k");
  });

  it("talks to a journal on another origin through CORS (Connect-Web unary and the watch stream)", async () => {
    // The journal itself when it answers CORS; else a gateway applying the runtime's CORS policy.
    const gateway = mode === "cors" ? undefined : await startCorsGateway(stack.journalUrl, [server.origin]);
    try {
      const journalUrl = gateway?.url ?? stack.journalUrl;
      const crossOrigin = `${server.url}?journal=${encodeURIComponent(journalUrl)}&token=${encodeURIComponent(stack.token ?? "")}`;
      const run = await startRun({ id: 11, text: "across origins", stepMs: 500 });
      await page.goto(`${crossOrigin}#/`);
      await page.locator(`tr[data-run-id="${run.id}"]`).waitFor({ timeout: 15_000 });
      await page.goto(`${crossOrigin}#/runs/${run.id}`);
      await page.locator(`section.run-page[data-status="completed"]`).waitFor({ timeout: 30_000 });
      expect(await page.locator("header .journal").textContent()).toBe(journalUrl);
    } finally {
      await gateway?.close();
    }
  });

  it("renders the diagnose page: per-shard backlog and a run's step in progress", async () => {
    const run = await startRun({ id: 12, text: "slow step", stepMs: { extract: 60_000 } });
    await page.goto(`${consoleUrl}#/diagnose`);
    await page.locator("section.diagnose-page").waitFor();
    await page.getByTestId("diagnose-summary").waitFor({ timeout: 15_000 });
    const shard = run.shard;
    const row = page.locator(`table.shards-table tr[data-shard="${shard}"]`);
    await row.waitFor();
    // The extract step runs for a minute: its shard shows one task running and an executor.
    await expect.poll(() => row.locator("td").nth(4).textContent(), { timeout: 15_000 }).toBe("1");
    expect(await row.locator("td").nth(8).textContent()).not.toBe("none");
    expect(await page.locator("table.shards-table tbody tr").count()).toBeGreaterThan(0);
    await page.getByRole("heading", { name: "Versions" }).waitFor();
    await expect.poll(() => page.getByTestId("diagnose-summary").textContent()).toMatch(/ready runs, oldest ready/);
    await shot("diagnose");
    await client.cancelWorkflow({ runId: run.id, reason: "test over" });
  });
});
