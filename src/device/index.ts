export * from "./boot-simulator.js";
export * from "./device-signer.js";
export * from "./key-store.js";
export * from "./software-key-store.js";
