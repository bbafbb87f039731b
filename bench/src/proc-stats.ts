// CPU seconds and peak RSS of processes, from /proc (Linux): the benchmark's per-process cost.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const TICKS = 100; // USER_HZ on Linux

export interface ProcSample {
  cpuSeconds: number;
  rssBytes: number;
  peakRssBytes: number;
}

export function sample(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
    return { cpuSeconds: (utime + stime) / TICKS, rssBytes: kb("VmRSS"), peakRssBytes: kb("VmHWM") };
  } catch {
    return undefined;
  }
}

export function pidsOf(command: string): number[] {
  try {
    return execFileSync("pgrep", ["-x", command], { encoding: "utf8" }).split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Tracks a named group of processes: CPU used since `start`, peak RSS seen. */
export class ProcGroup {
  private readonly baseline = new Map<number, number>();
  private peak = 0;
  private readonly name: string;
  private readonly pids: () => number[];

  constructor(name: string, pids: () => number[]) {
    this.name = name;
    this.pids = pids;
    for (const pid of pids()) this.baseline.set(pid, sample(pid)?.cpuSeconds ?? 0);
  }

  /** Call periodically: RSS is sampled (summed over the group) for the peak. */
  poll(): void {
    let rss = 0;
    for (const pid of this.pids()) rss += sample(pid)?.rssBytes ?? 0;
    this.peak = Math.max(this.peak, rss);
  }

  report(): { name: string; cpuSeconds: number; peakRssMiB: number } {
    let cpu = 0;
    for (const pid of this.pids()) {
      const s = sample(pid);
      if (!s) continue;
      cpu += s.cpuSeconds - (this.baseline.get(pid) ?? 0);
      this.peak = Math.max(this.peak, s.peakRssBytes && this.pids().length === 1 ? s.peakRssBytes : 0);
    }
    return {
      name: this.name,
      cpuSeconds: Number(cpu.toFixed(2)),
      peakRssMiB: Number((this.peak / 2 ** 20).toFixed(1)),
    };
  }
}
