export * from "./errors.js";
export * from "./seller-store.js";
export * from "./terms.js";
export * from "./voucher-record.js";
export * from "./voucher-signer.js";
export * from "./voucher-verifier.js";
export * from "./voucher-file.js";
