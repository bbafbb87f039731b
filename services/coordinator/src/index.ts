// The coordinator as a library: start it in-process (tests, the stack command) or via main.ts.
export { type CoordinatorConfig, parseCoordinatorConfig } from "./config.ts";
export { type RunningCoordinator, startCoordinator } from "./coordinator.ts";
