/** A VerifyPool worker thread's entry module (VerifyPool starts it; nothing else should import it). */
import { serveVerifyPool } from "./pool-serve.js";

serveVerifyPool();
