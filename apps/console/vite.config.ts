// The console is a static bundle: `vite build` writes dist/, which any static server (the stack's
// start command, `vite preview`, the test's server) serves. It talks to the journal itself.
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  oxc: { jsx: { runtime: "automatic" } },
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1024 },
  server: { port: 5173 },
});
