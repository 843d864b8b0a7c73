export * from "./message.js";
export * from "./signature.js";
