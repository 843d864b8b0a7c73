export * from "./curves.js";
export * from "./errors.js";
export * from "./hex.js";
export * from "./keys.js";
export * from "./measured-boot.js";
export * from "./merkle.js";
export * from "./messages.js";
