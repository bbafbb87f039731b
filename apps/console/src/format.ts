export function formatTime(msValue: number | undefined): string {
  if (msValue === undefined) return "—";
  const d = new Date(msValue);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function formatDuration(msValue: number | undefined): string {
  if (msValue === undefined || !Number.isFinite(msValue)) return "—";
  if (msValue < 1000) return `${Math.round(msValue)} ms`;
  if (msValue < 60_000) return `${(msValue / 1000).toFixed(msValue < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(msValue / 60_000);
  return `${m} min ${Math.round((msValue % 60_000) / 1000)} s`;
}

/** A stable colour per step name, from a small palette that stays readable on dark and light. */
const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#b07aa1",
  "#edc948",
  "#76b7b2",
  "#ff9da7",
  "#9c755f",
  "#e15759",
  "#bab0ac",
];
const assigned = new Map<string, string>();
export function colourOf(name: string): string {
  let c = assigned.get(name);
  if (!c) {
    let h = 2166136261;
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
    const used = new Set(assigned.values());
    const start = (h >>> 0) % PALETTE.length;
    c = PALETTE[start]!;
    for (let i = 0; i < PALETTE.length && used.has(c); i++) c = PALETTE[(start + i) % PALETTE.length]!;
    assigned.set(name, c);
  }
  return c;
}
