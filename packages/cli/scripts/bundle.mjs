// Builds etcp's bundle: dist/etcp.cjs, the CLI and everything it imports (effect, @effect/cli,
// effect-tcp's sources) in one minified CommonJS file, so `etcp` starts without resolving or
// transpiling anything; and dist/etcp.cache, V8's code cache for it (made by running
// `etcp --help` once), which bin/etcp.js hands to V8 so the functions start compiles are not
// compiled again (V8 ignores the cache when the Node version or the bundle differs).
// The test command builds it before the CLI tests (test/setup.ts).
import * as esbuild from "esbuild"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const dist = path.join(root, "dist")

export const bundle = async () => {
  fs.rmSync(path.join(dist, "etcp.cache"), { force: true })
  await esbuild.build({
    entryPoints: [path.join(root, "src/main.ts")],
    outfile: path.join(dist, "etcp.cjs"),
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    minify: true,
    legalComments: "none",
    logLevel: "warning",
    // The sources are ES modules: their import.meta, in CommonJS terms.
    define: { "import.meta.url": "__etcpUrl", "import.meta.resolve": "__etcpResolve" },
    banner: {
      js: "const __etcpUrl = require(\"node:url\").pathToFileURL(__filename).href;" +
        " const __etcpResolve = (s) => require(\"node:url\").pathToFileURL(require.resolve(s)).href;"
    }
  })
  execFileSync(process.execPath, [path.join(root, "bin/etcp.js"), "--help"], {
    env: { ...process.env, ETCP_WRITE_CODE_CACHE: "1" },
    stdio: "ignore"
  })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundle()
  console.log("etcp: dist/etcp.cjs, dist/etcp.cache")
}
