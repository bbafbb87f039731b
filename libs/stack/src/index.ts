// Launching Weft services as real processes: one at a time, or a whole stack.
export * from "./console-server.ts";
export * from "./process.ts";
export * from "./stack.ts";
