export * from "./broker.js";
export * from "./gateway.js";
export * from "./metrics.js";
export * from "./publisher.js";
export * from "./store.js";
export * from "./types.js";
export * from "./sink.js";
export * from "./chain-submitter.js";
export * from "./fleet.js";
export * from "./log-format.js";
export * from "./admission.js";
export * from "./gas-model.js";
export {
  TxPipeline,
  asSubmissionRejection,
  type TxJob,
  type TxOutcome,
  type TxPipelineOptions,
} from "./tx-pipeline.js";
export * from "./reading-store.js";
export * from "./sqlite-reading-store.js";
export { Submission, type SubmissionOptions } from "./submission.js";
export { DeviceGate, type DeviceGateOptions, type KeyRole } from "./device-gate.js";
export { MqttIntake, type MqttIntakeOptions } from "./mqtt-intake.js";
export * from "./pg-store.js";
export { SignatureChecks, type SignatureChecksOptions } from "./signature-checks.js";
export { WriteGroups, type WriteGroupsOptions } from "./write-groups.js";
export {
  DEFAULT_RECOVERY_MAX_BYTES,
  PqRecoveryIntake,
  type PendingRecovery,
  type PqRecoveryOptions,
  type RecoveryRejectReason,
} from "./recovery-intake.js";
export { RecoveryRecords, type RecoveryRecord } from "./recovery-records.js";
