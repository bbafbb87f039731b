// The progress bar on long waits (result, start --wait): steps done of steps known, the run's
// status and the time waited, redrawn on stderr while it is a terminal; nothing otherwise.
import type { WatchedRun } from "@weft/sdk/client";
import { Presets, SingleBar } from "cli-progress";
import { stepCounts } from "./format.ts";

export interface Progress {
  update(run: WatchedRun): void;
  stop(): void;
}

const silent: Progress = { update() {}, stop() {} };

export function createProgress(enabled: boolean, label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!enabled) return silent;
  const bar = new SingleBar(
    {
      format: `${label} |{bar}| {value}/{total} steps | {status} | {duration_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      stream,
    },
    Presets.shades_classic,
  );
  bar.start(1, 0, { status: "running" });
  return {
    update(run) {
      const { done, total } = stepCounts(run.steps);
      bar.setTotal(Math.max(total, 1));
      bar.update(done, { status: run.status });
    },
    stop() {
      bar.stop();
    },
  };
}
