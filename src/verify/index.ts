export * from "./appraise.js";
export * from "./message.js";
export * from "./signature.js";
