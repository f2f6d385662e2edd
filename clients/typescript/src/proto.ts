// The generated rekey.v1 messages, enums and service descriptors (src/gen/, by `npm run generate`).
export * from "./gen/rekey/v1/errors_pb.js";
export * from "./gen/rekey/v1/key_service_pb.js";
export * from "./gen/rekey/v1/rotation_service_pb.js";
export * from "./gen/rekey/v1/admin_service_pb.js";
