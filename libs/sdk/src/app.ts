// The app: the registry of workflows and steps a service process loads (WEFT_APP).
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { AppLoadError, DefinitionError, DuplicateNameError } from "./errors.ts";
import { isStepDefinition, type StepDefinition } from "./step.ts";
import { isWorkflowDefinition, type WorkflowDefinition } from "./workflow-definition.ts";

export interface App {
  /** Recorded with each run (app_version); empty when not given. */
  readonly version: string;
  readonly workflows: ReadonlyMap<string, WorkflowDefinition>;
  readonly steps: ReadonlyMap<string, StepDefinition>;
}

export interface AppOptions {
  version?: string;
  // biome-ignore lint/suspicious/noExplicitAny: definitions of any argument and result types are accepted.
  workflows: WorkflowDefinition<any, any>[];
  // biome-ignore lint/suspicious/noExplicitAny: definitions of any argument and result types are accepted.
  steps: StepDefinition<any, any>[];
}

// Symbol.for so an App made by another copy of the SDK (a second install) is still recognised.
const APP_BRAND: unique symbol = Symbol.for("weft.sdk.app") as never;

/** Builds the registry; a second registration of a workflow or step name throws DuplicateNameError. */
export function defineApp(options: AppOptions): App {
  if (typeof options !== "object" || options === null) throw new DefinitionError("defineApp needs an options object");
  const version = options.version ?? "";
  if (typeof version !== "string") throw new DefinitionError(`app version must be a string, got ${typeof version}`);
  const workflows = new Map<string, WorkflowDefinition>();
  for (const [i, wf] of (options.workflows ?? []).entries()) {
    if (!isWorkflowDefinition(wf)) throw new DefinitionError(`workflows[${i}] is not made by defineWorkflow`);
    if (workflows.has(wf.name)) throw new DuplicateNameError("workflow", wf.name);
    workflows.set(wf.name, wf);
  }
  const steps = new Map<string, StepDefinition>();
  for (const [i, step] of (options.steps ?? []).entries()) {
    if (!isStepDefinition(step)) throw new DefinitionError(`steps[${i}] is not made by defineStep`);
    if (steps.has(step.name)) throw new DuplicateNameError("step", step.name);
    steps.set(step.name, step);
  }
  return Object.freeze({ version, workflows, steps, [APP_BRAND]: true });
}

export function isApp(value: unknown): value is App {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[APP_BRAND] === true;
}

/** Imports the module at `path` (absolute, or relative to the working directory); its default export must be an App. */
export async function loadApp(path: string): Promise<App> {
  if (typeof path !== "string" || path.length === 0) throw new AppLoadError("app module path is empty (set WEFT_APP)");
  const absolute = isAbsolute(path) ? path : resolve(process.cwd(), path);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as { code?: string }).code;
    const reason = code === "ERR_MODULE_NOT_FOUND" ? "module not found" : `import failed`;
    throw new AppLoadError(`cannot load app module ${absolute}: ${reason}: ${(err as Error).message}`, { cause: err });
  }
  if (!("default" in mod) || mod.default === undefined) {
    throw new AppLoadError(`app module ${absolute} has no default export; write \`export default defineApp({ ... })\``);
  }
  if (!isApp(mod.default)) {
    throw new AppLoadError(
      `the default export of app module ${absolute} is not an App made by defineApp (got ${describe(mod.default)})`,
    );
  }
  return mod.default;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return `an object with keys ${Object.keys(value).slice(0, 5).join(", ") || "(none)"}`;
  return typeof value;
}
