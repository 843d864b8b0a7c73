/**
 * The fleet console's page: `vite build --config console/vite.config.ts` writes dist/console, which the
 * console's server (src/console) serves next to its /api. `vite --config console/vite.config.ts` serves
 * the page for development; CONSOLE_API=http://127.0.0.1:<port> proxies /api to a running console.
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const api = process.env.CONSOLE_API;

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  // Relative asset URLs: the page works wherever the server mounts it.
  base: "./",
  // Preact's automatic JSX runtime (Vite 8 transforms with oxc; no preset plugin needed).
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: fileURLToPath(new URL("../dist/console", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
  },
  server: api === undefined ? {} : { proxy: { "/api": { target: api, changeOrigin: true } } },
});
