// newestClaims: a batch carries one claim per run, the newest lease; older claims of the same run
// (leased again after their lease expired while they waited) are superseded, whatever their order.
import { create } from "@bufbuild/protobuf";
import { ClaimedRunSchema, RunSchema } from "@weft/contracts";
import { expect, it } from "vitest";
import { newestClaims } from "./turn.ts";

const claimOf = (runId: string, leaseToken: bigint, claim: number) =>
  create(ClaimedRunSchema, { run: create(RunSchema, { id: runId }), leaseToken, claim });

it("keeps the newest lease of each run and supersedes the older ones, in either order", () => {
  const a1 = claimOf("a", 4n, 2);
  const b = claimOf("b", 9n, 1);
  const a2 = claimOf("a", 5n, 3);
  const c1 = claimOf("c", 8n, 4);
  const c0 = claimOf("c", 7n, 3);
  const { newest, superseded } = newestClaims([a1, b, a2, c1, c0]);
  expect(newest).toEqual([a2, b, c1]);
  expect(superseded).toEqual([a1, c0]);
});

it("leaves a batch of distinct runs as it is", () => {
  const claims = [claimOf("a", 1n, 1), claimOf("b", 1n, 1)];
  expect(newestClaims(claims)).toEqual({ newest: claims, superseded: [] });
});
