// Public surface of the generated Weft contracts plus the payload and time conversions every
// service and client shares.
export * from "./gen/grpc/health/v1/health_pb.js";
export * from "./gen/weft/v1/journal_service_pb.js";
export * from "./gen/weft/v1/operator_service_pb.js";
export * from "./gen/weft/v1/task_pb.js";
export * from "./gen/weft/v1/types_pb.js";
export * from "./gen/weft/v1/workflow_service_pb.js";
export * from "./names.ts";
export * from "./payload.ts";
export * from "./time.ts";
