// ESLint as the Effect repository configures it (eslint.config.mjs of Effect v3), minus its
// formatting rule: dprint itself formats and checks (dprint.json, `pnpm lint`), so the two never
// disagree.
import effect from "@effect/eslint-plugin"
import js from "@eslint/js"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["**/node_modules", "**/dist", "**/docs", "**/.examples", "**/coverage", "packages/tcp/mb-*"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: {
        process: "readonly",
        console: "readonly",
        Buffer: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        setImmediate: "readonly",
        URL: "readonly",
        TextEncoder: "readonly",
        TextDecoder: "readonly",
        AbortController: "readonly",
        AbortSignal: "readonly",
        queueMicrotask: "readonly",
        performance: "readonly",
        __dirname: "readonly",
        __filename: "readonly",
        require: "readonly",
        module: "writable"
      }
    },
    rules: {
      "no-fallthrough": "off",
      "no-irregular-whitespace": "off",
      // ANSI escapes are control characters on purpose (tests strip colours).
      "no-control-regex": "off",
      // Tests feed literals such as 1e309 on purpose.
      "no-loss-of-precision": "warn",
      "object-shorthand": "error",
      "prefer-destructuring": "off",
      "sort-imports": "off",
      // A warning (Effect has it as an error): a hot-path habit, not a bug.
      "no-restricted-syntax": ["warn", {
        selector: "CallExpression[callee.property.name='push'] > SpreadElement.arguments",
        message: "Do not use spread arguments in Array.push"
      }],
      "no-unused-vars": "off",
      "prefer-rest-params": "off",
      "prefer-spread": "off",
      "@typescript-eslint/array-type": ["warn", { default: "generic", readonly: "generic" }],
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-empty-interface": "off",
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/consistent-type-imports": "warn",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/ban-ts-comment": "off",
      "@typescript-eslint/no-array-constructor": "off",
      "@typescript-eslint/no-use-before-define": "off",
      "@typescript-eslint/no-namespace": "off",
      "@typescript-eslint/no-require-imports": "off"
    }
  },
  {
    // The library and the CLI import one module at a time (`import * as Effect from "effect/Effect"`),
    // never a barrel: a bundle then initialises only the modules it uses (etcp's start-up), and an
    // ESM consumer loads only what it imports. Examples, tests and the bench may use barrels, as
    // applications do (the CLI's demo too: it reads as a user's program). @effect/eslint-plugin's dprint rule is not used: dprint itself formats and
    // checks (the rule bundles an older @dprint/typescript, 0.91, than ours, 0.96).
    files: ["packages/tcp/src/**/*.ts", "packages/cli/src/**/*.ts"],
    ignores: ["packages/cli/src/demo.ts"],
    plugins: { "@effect": effect },
    rules: {
      "@effect/no-import-from-barrel-package": ["error", {
        packageNames: ["effect", "@effect/platform", "@effect/rpc", "@effect/cluster", "effect-tcp"]
      }]
    }
  }
)
