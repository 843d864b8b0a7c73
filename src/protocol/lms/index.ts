export * from "./encoding.js";
export * from "./errors.js";
export * from "./hss.js";
export * from "./lms.js";
export * from "./params.js";
export * from "./fixtures.js";
