export * from "./errors.js";
export * from "./terms.js";
export * from "./voucher-record.js";
export * from "./voucher-signer.js";
export * from "./voucher-verifier.js";
