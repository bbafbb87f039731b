// Where each service's CPU goes: reads the CPU profiles `WEFT_BENCH_PROFILE_DIR=dir pnpm bench`
// wrote (one folder per service) and prints self time by category, in total and per step.
//   node bench/src/profile-summary.ts <dir> [--steps n]
// Categories come from the sampled frame's file: Postgres client (pg, kysely), NATS client,
// protobuf, RPC (Connect, HTTP/2), replay (the SDK), the service's own code, telemetry, garbage
// collection, and the event loop/runtime rest. Module loading at start-up is reported apart.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  samples: number[];
  timeDeltas: number[];
}

const program = new Command("weft-profile-summary")
  .argument("<dir>", "the WEFT_BENCH_PROFILE_DIR of a bench run")
  .option("--steps <n>", "steps the run executed (prints µs per step)", Number)
  .parse();
const dir = program.args[0] as string;
const { steps } = program.opts<{ steps?: number }>();

const categories: [string, RegExp][] = [
  ["start-up (module loading)", /node:internal\/modules|amaro|internalModuleStat|compileSourceTextModule|wrapSafe/],
  ["postgres client (pg, kysely)", /\/(pg|pg-protocol|pg-pool|pg-types|kysely)\//],
  ["nats client", /@nats-io\//],
  ["protobuf", /@bufbuild\/protobuf/],
  ["rpc (connect, http/2)", /@connectrpc\/|node:internal\/http2|node:http2/],
  ["telemetry (otel, prom-client, pino)", /@opentelemetry\/|prom-client|pino|sonic-boom/],
  ["replay (sdk)", /libs\/sdk\//],
  ["service code", /services\/|libs\/(runtime|contracts|telemetry)\//],
  ["garbage collector", /^\(garbage collector\)$/],
  ["idle", /^\(idle\)$/],
];

function categorize(url: string, fn: string): string {
  const key = url || `(${fn.replace(/[()]/g, "")})`;
  for (const [name, pattern] of categories) if (pattern.test(key) || pattern.test(fn)) return name;
  return "runtime, I/O and event loop";
}

const out = (line = "") => process.stdout.write(`${line}\n`);
for (const service of readdirSync(dir)) {
  const files = readdirSync(join(dir, service)).filter((f) => f.endsWith(".cpuprofile"));
  const totals = new Map<string, number>();
  for (const file of files) {
    const p = JSON.parse(readFileSync(join(dir, service, file), "utf8")) as Profile;
    const byId = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
    // Start-up ends with the last module load in the first half of the profile: everything
    // before it (file reads, compiling, connecting) is start-up too.
    const cats = p.samples.map((id) => {
      const frame = byId.get(id);
      return frame ? categorize(frame.url, frame.functionName) : "idle";
    });
    let startUp = 0;
    for (let i = 0; i < cats.length / 2; i++) if (cats[i]?.startsWith("start-up")) startUp = i;
    for (const [i, cat] of cats.entries()) {
      const name = i <= startUp ? "start-up (module loading)" : cat;
      totals.set(name, (totals.get(name) ?? 0) + (p.timeDeltas[i] ?? 0));
    }
  }
  const busy = [...totals].filter(([c]) => c !== "idle" && !c.startsWith("start-up"));
  const busyUs = busy.reduce((s, [, v]) => s + v, 0);
  out(
    `${service}: ${(busyUs / 1e6).toFixed(2)} s busy after start-up${steps ? `, ${(busyUs / steps).toFixed(1)} µs/step` : ""}`,
  );
  for (const [cat, us] of busy.sort((a, b) => b[1] - a[1])) {
    const share = ((us / busyUs) * 100).toFixed(0).padStart(3);
    out(
      `  ${share}%  ${cat.padEnd(36)} ${steps ? `${(us / steps).toFixed(1).padStart(7)} µs/step` : `${(us / 1e6).toFixed(2)} s`}`,
    );
  }
}
