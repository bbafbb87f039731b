import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { defineApp, loadApp } from "./app.ts";
import { AppLoadError, DefinitionError, DuplicateNameError } from "./errors.ts";
import { defineStep } from "./step.ts";
import { defineWorkflow } from "./workflow-definition.ts";

const step = (name: string) => defineStep({ name, kind: "query", handler: () => name });
const wf = (name: string) => defineWorkflow({ name, handler: async () => name });

describe("defineApp", () => {
  it("registers workflows and steps by name", () => {
    const app = defineApp({ version: "1.2", workflows: [wf("w")], steps: [step("a"), step("b")] });
    expect(app.version).toBe("1.2");
    expect([...app.workflows.keys()]).toEqual(["w"]);
    expect([...app.steps.keys()]).toEqual(["a", "b"]);
    expect(defineApp({ workflows: [], steps: [] }).version).toBe("");
  });
  it("throws DuplicateNameError naming a twice-registered step or workflow", () => {
    expect(() => defineApp({ workflows: [], steps: [step("dup"), step("dup")] })).toThrow(DuplicateNameError);
    expect(() => defineApp({ workflows: [], steps: [step("dup"), step("dup")] })).toThrow(/step name "dup"/);
    expect(() => defineApp({ workflows: [wf("w"), wf("w")], steps: [] })).toThrow(/workflow name "w"/);
  });
  it("validates names", () => {
    expect(() => step("")).toThrow(DefinitionError);
    expect(() => step("has space")).toThrow(/may contain only/);
    expect(() => step("x".repeat(201))).toThrow(/maximum is 200/);
    expect(step("ok_name.v1:part-2").name).toBe("ok_name.v1:part-2");
    expect(() => wf("bad/name")).toThrow(/workflow name/);
    expect(() => defineWorkflow({ name: "w", handler: async () => 1, maxStepsInFlight: 0 })).toThrow(
      /maxStepsInFlight/,
    );
  });
});

describe("loadApp", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-sdk-app-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const appTs = fileURLToPath(new URL("./app.ts", import.meta.url));
  const stepTs = fileURLToPath(new URL("./step.ts", import.meta.url));

  it("loads the default export of an absolute or cwd-relative path", async () => {
    const file = join(dir, "good.ts");
    writeFileSync(
      file,
      `import { defineApp } from ${JSON.stringify(appTs)};\nimport { defineStep } from ${JSON.stringify(stepTs)};\n` +
        `export default defineApp({ version: "7", workflows: [], steps: [defineStep({ name: "s", kind: "query", handler: () => 1 })] });\n`,
    );
    const app = await loadApp(file);
    expect(app.version).toBe("7");
    expect(app.steps.has("s")).toBe(true);
    const rel = await loadApp(relative(process.cwd(), file));
    expect(rel.version).toBe("7");
  });
  it("gives precise errors", async () => {
    await expect(loadApp(join(dir, "missing.ts"))).rejects.toThrow(/module not found/);
    writeFileSync(join(dir, "nodefault.ts"), "export const x = 1;\n");
    await expect(loadApp(join(dir, "nodefault.ts"))).rejects.toThrow(/no default export/);
    writeFileSync(join(dir, "notapp.ts"), "export default { workflows: [] };\n");
    await expect(loadApp(join(dir, "notapp.ts"))).rejects.toThrow(AppLoadError);
    await expect(loadApp(join(dir, "notapp.ts"))).rejects.toThrow(/not an App made by defineApp/);
  });
});
