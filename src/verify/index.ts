export * from "./appraise.js";
export * from "./message.js";
export * from "./pool.js";
export { serveVerifyPool, type VerifyWorkerHooks } from "./pool-serve.js";
export { hasNativeSecp256k1, type Secp256k1Backend } from "./secp256k1-recover.js";
export * from "./signature.js";
export { readSignatureInput, type SignatureInput } from "./signature-input.js";
export { SIGNATURE_VERDICTS } from "./verdict.js";
export * from "./verifier.js";
