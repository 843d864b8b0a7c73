// @ts-check
import eslint from "@eslint/js";
import { defineConfig, globalIgnores } from "eslint/config";
import tseslint from "typescript-eslint";

/** Node globals for the plain JavaScript files (TypeScript files get them from @types/node). */
const nodeGlobals = {
  Buffer: "readonly",
  URL: "readonly",
  clearTimeout: "readonly",
  console: "readonly",
  process: "readonly",
  setTimeout: "readonly",
};

export default defineConfig(
  globalIgnores([
    "node_modules/",
    "artifacts/",
    "cache/",
    "types/",
    "coverage/",
    "dist/",
    "bench/results.json",
    "deploy/deployments/",
    ".devicetrust/",
  ]),
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      // Numbers (bigint too: how we carry uint256) and booleans read fine in messages.
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true },
      ],
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "all" },
      ],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      // `() => assertSomething()` in callbacks is clear enough.
      "@typescript-eslint/no-confusing-void-expression": ["error", { ignoreArrowShorthand: true }],
      // Conflicts with strict's no-non-null-assertion (it demands the `!` that rule forbids): narrow
      // with a check instead, or assert with `as` where a check cannot help.
      "@typescript-eslint/non-nullable-type-assertion-style": "off",
      eqeqeq: ["error", "always"],
    },
  },
  {
    // Plain JavaScript (this file, scripts/setup.mjs) is outside tsconfig.json: lint without types.
    files: ["**/*.{js,mjs,cjs}"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: nodeGlobals },
  },
  {
    // The console's Vite config runs in Node, outside the page's program (console/tsconfig.json has the
    // DOM and no Node types): its own project.
    files: ["console/vite.config.ts"],
    languageOptions: {
      parserOptions: {
        projectService: false,
        project: "./console/tsconfig.node.json",
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
  {
    // chai assertions are expressions (`expect(x).to.be.true`), and tests may assert presence with `!`.
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-expressions": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
);
