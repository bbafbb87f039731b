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
  // One summary per series: the name, plus its labels other than `le` when it has any.
  const series = new Map<string, { sum: number; count: number; buckets: Record<string, number> }>();
  const get = (key: string) => {
    const entry = series.get(key) ?? { sum: 0, count: 0, buckets: {} };
    series.set(key, entry);
    return entry;
  };
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)_(bucket|sum|count)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || !names.includes(m[1] ?? "")) continue;
    const [, name, part, labelText = "", value] = m;
    const labels = labelText
      .split(/,(?=[a-z_]+=)/)
      .filter((l) => l && !l.startsWith("le="))
      .join(",");
    const entry = get(labels ? `${name}{${labels}}` : (name as string));
    if (part === "bucket") {
      const le = /le="([^"]+)"/.exec(labelText)?.[1];
      if (le) entry.buckets[le] = (entry.buckets[le] ?? 0) + Number(value);
    } else if (part === "sum") entry.sum += Number(value);
    else entry.count += Number(value);
  }
  for (const [key, { sum, count, buckets }] of series) {
    if (count > 0) out[key] = { count, mean: Number((sum / count).toFixed(4)), buckets };
  }
  return out;
}
