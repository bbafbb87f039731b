// The claim loop against a journal client that answers from the test: a CommitTurns the journal
// could not answer is retried with the same turns (the coordinator still holds their leases), and
// one the journal refused is not.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type ClaimedRun,
  ClaimedRunSchema,
  type CommitTurnsRequest,
  type CommitTurnsResponse,
  CommitTurnsResponseSchema,
  encodePayload,
  TurnStatus,
} from "@weft/contracts";
import { createLogger } from "@weft/runtime";
import { defineApp, defineStep, defineWorkflow } from "@weft/sdk";
import { afterEach, expect, test } from "vitest";
import { ClaimLoop } from "./claim-loop.ts";
import type { JournalClient } from "./journal-client.ts";
import { createCoordinatorMetrics } from "./metrics.ts";
import { WakeSignal } from "./wake-signal.ts";

const fetchOne = defineStep({ name: "fetchOne", kind: "query", handler: () => 1 });
const app = defineApp({
  workflows: [defineWorkflow({ name: "one", handler: (ctx) => ctx.step(fetchOne, null) })],
  steps: [fetchOne],
});

const claim: ClaimedRun = create(ClaimedRunSchema, {
  run: { id: "01936f6e-0000-7000-8000-000000000001", workflowName: "one", args: encodePayload(null), generation: 1 },
  leaseToken: 7n,
  claim: 1,
  partial: false,
});

let loop: ClaimLoop | undefined;
afterEach(async () => {
  await loop?.stop();
  loop = undefined;
});

/** A loop whose journal hands out `claim` once and answers CommitTurns with `commit`. */
function start(commit: (req: CommitTurnsRequest, call: number) => CommitTurnsResponse) {
  const commits: { req: CommitTurnsRequest; at: number }[] = [];
  let claimed = false;
  const journal = {
    claimRuns: async () => {
      const runs = claimed ? [] : [claim];
      claimed = true;
      return { runs };
    },
    commitTurns: async (req: CommitTurnsRequest) => {
      commits.push({ req, at: performance.now() });
      return commit(req, commits.length);
    },
  } as unknown as JournalClient;
  loop = new ClaimLoop({
    owner: "coordinator-test",
    journal,
    app,
    logger: createLogger("coordinator-test", "silent"),
    wake: new WakeSignal(),
    metrics: createCoordinatorMetrics(),
    claimBatch: 10,
    leaseMs: 30_000,
    safetyPollMs: 20,
    workers: 1,
    alwaysReplay: false,
    cachedRuns: 100,
    pushClaims: false,
  });
  loop.start();
  return commits;
}

const committed = (req: CommitTurnsRequest) =>
  create(CommitTurnsResponseSchema, {
    results: req.turns.map((t) => ({ runId: t.runId, status: TurnStatus.COMMITTED, ready: false })),
  });

async function until(check: () => boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test("a CommitTurns the journal could not answer is sent again with the same turns", async () => {
  const commits = start((req, call) => {
    if (call < 3) throw new ConnectError("journal restarting", Code.Unavailable);
    return committed(req);
  });
  await until(() => commits.length === 3);
  const [first, , third] = commits;
  expect(third?.req).toEqual(first?.req);
  expect(first?.req.turns).toHaveLength(1);
  expect(first?.req.turns[0]).toMatchObject({ runId: claim.run?.id, leaseToken: 7n });
  expect(first?.req.turns[0]?.newSteps.map((s) => s.name)).toEqual(["fetchOne"]);
  // 50 then 100 ms apart: well inside the lease, not a lease period.
  expect((third?.at ?? 0) - (first?.at ?? 0)).toBeLessThan(2_000);
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(commits).toHaveLength(3);
});

test("a CommitTurns the journal refused is not retried", async () => {
  const commits = start(() => {
    throw new ConnectError("turns[0].run_id: not a UUID", Code.InvalidArgument);
  });
  await until(() => commits.length === 1);
  await new Promise((resolve) => setTimeout(resolve, 400));
  expect(commits).toHaveLength(1);
});

test("a journal that stays away gets five attempts, then the batch waits for its leases", async () => {
  const commits = start(() => {
    throw new ConnectError("journal down", Code.Unavailable);
  });
  await until(() => commits.length === 5);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  expect(commits).toHaveLength(5);
});
