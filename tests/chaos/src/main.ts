// `pnpm chaos [--size N] [--cluster] [--start-seconds S] [--keep-logs DIR]`: the bounded chaos
// run (default 5,000 workflows, every fault once) or the scale-out run (--cluster: three-node
// JetStream cluster, two of each service, one node killed mid-run). Prints the fault log and the
// figures, writes them as JSON under .bench-results/, and exits 1 when an invariant broke.
import { parseArgs } from "node:util";
import { formatReport, runChaos, writeReport } from "./run.ts";

const USAGE = `usage: pnpm chaos [--size N] [--cluster] [--start-seconds S] [--keep-logs DIR]
  --size N             workflows to start (default 5,000; 2,000 with --cluster)
  --cluster            three-node JetStream cluster, two of each service, one node killed mid-run
  --start-seconds S    spread the starts over S seconds (default 60; 30 with --cluster)
  --keep-logs DIR      keep every process's log in DIR
Exits 1 when an invariant broke.`;

function usageError(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

const parse = () =>
  parseArgs({
    options: {
      help: { type: "boolean", short: "h", default: false },
      size: { type: "string" },
      cluster: { type: "boolean", default: false },
      "start-seconds": { type: "string" },
      "keep-logs": { type: "string" },
    },
  });
let values: ReturnType<typeof parse>["values"];
try {
  values = parse().values;
} catch (err) {
  usageError((err as Error).message);
}
/** A positive integer option, or a usage error naming it. */
const positive = (name: string, value: string | undefined, fallback: number): number => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) usageError(`--${name} must be a positive integer, got "${value}"`);
  return n;
};
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const cluster = values.cluster ?? false;
const size = positive("size", values.size, cluster ? 2000 : 5000);
const report = await runChaos({
  size,
  cluster,
  startSeconds: positive("start-seconds", values["start-seconds"], cluster ? 30 : 60),
  logDir: values["keep-logs"],
});
process.stdout.write(`${formatReport(report)}\n`);
const file = writeReport(report);
process.stdout.write(`report: ${file}\n`);
process.exit(report.violations.length === 0 ? 0 : 1);
