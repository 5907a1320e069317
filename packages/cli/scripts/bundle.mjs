// Builds etcp's bundle: dist/etcp.cjs, the CLI and everything it imports (effect, @effect/cli,
// effect-tcp's sources) in one minified CommonJS file, so `etcp` starts without resolving or
// transpiling anything; and dist/etcp-<build>.cache, V8's code cache for that build (written by
// the first run, here `etcp --help`), which bin/etcp.js hands to V8 so the functions start-up
// needs are not compiled again (V8 rejects a cache made by another Node version, and the next
// run writes a new one). The published package ships without it (`files`).
// Files are replaced by rename, so an etcp starting meanwhile reads the old build or the new one.
// The test command builds it before the CLI tests (test/setup.ts).
import * as esbuild from "esbuild"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const dist = path.join(root, "dist")

export const bundle = async () => {
  const build = crypto.randomBytes(6).toString("hex")
  const result = await esbuild.build({
    entryPoints: [path.join(root, "src/main.ts")],
    bundle: true,
    write: false,
    platform: "node",
    format: "cjs",
    target: "node20",
    minify: true,
    legalComments: "none",
    logLevel: "warning",
    // The sources are ES modules: their import.meta, in CommonJS terms.
    define: { "import.meta.url": "__etcpUrl", "import.meta.resolve": "__etcpResolve" },
    banner: {
      // The first line names the build: bin/etcp.js uses only the code cache of the same build.
      js: `/* etcp build ${build} */\n` +
        "const __etcpUrl = require(\"node:url\").pathToFileURL(__filename).href;" +
        " const __etcpResolve = (s) => require(\"node:url\").pathToFileURL(require.resolve(s)).href;"
    }
  })
  fs.mkdirSync(dist, { recursive: true })
  const temporary = path.join(dist, `etcp.cjs.${build}.tmp`)
  fs.writeFileSync(temporary, result.outputFiles[0].contents)
  fs.renameSync(temporary, path.join(dist, "etcp.cjs"))
  for (const file of fs.readdirSync(dist)) {
    if (/^etcp-[0-9a-f]+\.cache$/.test(file) && file !== `etcp-${build}.cache`) fs.rmSync(path.join(dist, file))
  }
  // The first run writes the code cache.
  execFileSync(process.execPath, [path.join(root, "bin/etcp.js"), "--help"], { stdio: "ignore" })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundle()
  console.log("etcp: dist/etcp.cjs and its code cache")
}
