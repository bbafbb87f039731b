// Recorded histories committed as fixtures (examples/pipeline/histories/*.json, exported with
// `weft --json history <run>`) must replay against the pipeline app as it is now: a change to the
// workflow that would break runs in flight fails here.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pipelineApp from "@weft/example-pipeline";
import { checkHistory, parseHistory } from "@weft/sdk/workflow";
import { describe, expect, it } from "vitest";

const dir = fileURLToPath(new URL("../../../examples/pipeline/histories/", import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith(".json"));

describe("committed pipeline histories replay against the current pipeline app", () => {
  it("has fixtures", () => {
    expect(files.length).toBeGreaterThan(0);
  });
  it.each(files)("%s", async (file) => {
    const history = parseHistory(JSON.parse(readFileSync(join(dir, file), "utf8")));
    expect(await checkHistory(pipelineApp, history)).toMatchObject({ ok: true });
  });
});
