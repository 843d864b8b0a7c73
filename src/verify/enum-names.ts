/**
 * The contracts' enums by value, as names: pure (no imports), so the console's page uses the same lists
 * as the verifier and the indexer.
 */

/** IDeviceAttestation.TrustVerdict, by enum value. */
export const TRUST_VERDICTS = [
  "Trusted",
  "NotActive",
  "NeverAttested",
  "Stale",
  "FirmwareRevoked",
  "FirmwareSunset",
  "ModelMismatch",
] as const;
export type TrustVerdictName = (typeof TRUST_VERDICTS)[number];

/** IDeviceAttestation.FirmwareStatus, by enum value. */
export const FIRMWARE_STATUSES = ["Unknown", "Good", "Deprecated", "Revoked"] as const;
export type FirmwareStatusName = (typeof FIRMWARE_STATUSES)[number];

/** DeviceStatus (contracts/types/DeviceStatus.sol), by enum value. */
export const DEVICE_STATUSES = [
  "Unknown",
  "Active",
  "Suspended",
  "Revoked",
  "Decommissioned",
] as const;
export type DeviceStatusName = (typeof DEVICE_STATUSES)[number];
