// `pnpm chaos [--size N] [--cluster] [--start-seconds S] [--keep-logs DIR]`: the bounded chaos
// run (default 5,000 workflows, every fault once) or the scale-out run (--cluster: three-node
// JetStream cluster, two of each service, one node killed mid-run). Prints the fault log and the
// figures, writes them as JSON under .bench-results/, and exits 1 when an invariant broke.
import { parseArgs } from "node:util";
import { formatReport, runChaos, writeReport } from "./run.ts";

const { values } = parseArgs({
  options: {
    size: { type: "string" },
    cluster: { type: "boolean", default: false },
    "start-seconds": { type: "string" },
    "keep-logs": { type: "string" },
  },
});
const cluster = values.cluster ?? false;
const size = Number(values.size ?? (cluster ? 2000 : 5000));
const report = await runChaos({
  size,
  cluster,
  startSeconds: values["start-seconds"] ? Number(values["start-seconds"]) : cluster ? 30 : 60,
  logDir: values["keep-logs"],
});
process.stdout.write(`${formatReport(report)}\n`);
const file = writeReport(report);
process.stdout.write(`report: ${file}\n`);
process.exit(report.violations.length === 0 ? 0 : 1);
