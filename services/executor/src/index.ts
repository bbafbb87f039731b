// Public surface of @weft/executor: start an executor in-process (tests, embedding) and its config.
export { type ExecutorConfig, executorConfig, executorConfigFromEnv, executorEnv } from "./config.ts";
export { type ExecutorStats, type RunningExecutor, type StartExecutorOptions, startExecutor } from "./executor.ts";
