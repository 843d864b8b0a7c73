export * from "./chain.js";
export * from "./json-source.js";
export * from "./metrics.js";
export * from "./run.js";
export * from "./store.js";
export * from "./types.js";
export * from "./watchtower.js";
export * from "./batch.js";
