// Reads histograms from a service's /metrics (Prometheus text format) for the batch-size report.
export interface HistogramSummary {
  count: number;
  mean: number;
  /** Cumulative bucket counts by upper bound. */
  buckets: Record<string, number>;
}

export async function scrapeHistograms(url: string, names: string[]): Promise<Record<string, HistogramSummary>> {
  const out: Record<string, HistogramSummary> = {};
  let text: string;
  try {
    text = await (await fetch(url)).text();
  } catch {
    return out;
  }
  for (const name of names) {
    const buckets: Record<string, number> = {};
    let sum = 0;
    let count = 0;
    for (const line of text.split("\n")) {
      if (line.startsWith(`${name}_bucket{`)) {
        const le = /le="([^"]+)"/.exec(line)?.[1];
        if (le) buckets[le] = (buckets[le] ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1));
      } else if (line.startsWith(`${name}_sum`)) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
      else if (line.startsWith(`${name}_count`)) count += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
    if (count > 0) out[name] = { count, mean: Number((sum / count).toFixed(2)), buckets };
  }
  return out;
}
