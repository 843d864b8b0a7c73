export * from "./boot-simulator.js";
export * from "./device-signer.js";
export * from "./key-store.js";
export * from "./signing-record.js";
export * from "./signing-record-errors.js";
export * from "./signing-record-interchange.js";
export * from "./signing-record-transfer.js";
export * from "./software-key-store.js";
