// Launching Weft services as real processes: one at a time, or a whole stack.
export * from "./process.ts";
export * from "./stack.ts";
