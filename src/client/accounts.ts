/**
 * Machine accounts (ERC-4337 DeviceAccounts): the setup and counterfactual address
 * (account-setup.ts), the calls of a UserOperation (account-calls.ts), the multisignature from device
 * key stores and the operator (account-signature.ts), sending through a bundler or handleOps and reading
 * the outcome (account-send.ts), the account's state (account-state.ts) and its errors
 * (account-errors.ts), and gas sponsored by a DevicePaymaster (paymaster*.ts).
 */
export * from "./account-setup.js";
export * from "./account-calls.js";
export * from "./account-signature.js";
export * from "./account-send.js";
export * from "./account-state.js";
export * from "./account-errors.js";
export * from "./account-actions.js";
export * from "./paymaster.js";
export * from "./paymaster-errors.js";
export * from "./paymaster-state.js";
