// Builds etcp's two bundles, so that `etcp --help` loads only what it prints:
// - dist/etcp.cjs: the command line (src/cli.ts: arguments, help, usage errors), no effect;
// - dist/etcp-run.cjs: the commands (src/run.ts) with everything they import (effect, effect-tcp's
//   sources), loaded by bin/etcp.js once a command runs. Each command's modules are initialised
//   only when it runs (esbuild wraps a dynamically imported module and what it imports in a lazy
//   initialiser), and node:tls and node:crypto only when used (`lazyBuiltins`: etcp connect
//   without --tls never needs them, and they cost a few milliseconds to load);
// - dist/etcp-run-<build>.cache, V8's code cache for that build, written by the first run (here
//   an `etcp connect` to a local listener, the start-up that matters most). bin/etcp.js hands it
//   to V8 so that the functions start-up needs are not compiled again (V8 rejects a cache made by
//   another Node version, and the next run writes a new one). The published package ships
//   without it (`files`).
// Both are minified CommonJS, so etcp starts without resolving or transpiling anything. Files are
// replaced by rename, so an etcp starting meanwhile reads the old build or the new one.
// The test command builds them before the CLI tests (test/setup.ts).
import * as esbuild from "esbuild"
import { execFile } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const dist = path.join(root, "dist")
const require = createRequire(import.meta.url)

/** `import * as tls from "node:tls"` as getters that require the module on first use (connect to an
 * IP address without --tls needs neither tls, crypto nor dns). */
const lazyBuiltins = {
  name: "lazy-builtins",
  setup(build) {
    build.onResolve(
      { filter: /^node:(tls|crypto|dns)$/ },
      (args) => args.namespace === "lazy" ? undefined : { path: args.path, namespace: "lazy" }
    )
    build.onLoad({ filter: /.*/, namespace: "lazy" }, (args) => {
      const names = Object.keys(require(args.path)).filter((name) => name !== "default")
      const getters = names.map((name) => `${JSON.stringify(name)}: { get: () => load()[${JSON.stringify(name)}] }`)
      return {
        contents: `let loaded; const load = () => loaded ??= require(${JSON.stringify(args.path)});\n` +
          `module.exports = Object.defineProperties({}, {${getters.join(",\n")}})`,
        loader: "js"
      }
    })
  }
}

const options = {
  bundle: true,
  write: false,
  platform: "node",
  format: "cjs",
  target: "node20",
  minify: true,
  legalComments: "none",
  logLevel: "warning",
  // The sources are ES modules: their import.meta, in CommonJS terms.
  define: { "import.meta.url": "__etcpUrl", "import.meta.resolve": "__etcpResolve" }
}

const replace = (name, contents) => {
  const temporary = path.join(dist, `${name}.tmp`)
  fs.writeFileSync(temporary, contents)
  fs.renameSync(temporary, path.join(dist, name))
}

export const bundle = async () => {
  const build = crypto.randomBytes(6).toString("hex")
  const [cli, run] = await Promise.all([
    esbuild.build({ ...options, entryPoints: [path.join(root, "src/cli.ts")], metafile: true }),
    esbuild.build({
      ...options,
      entryPoints: [path.join(root, "src/run.ts")],
      plugins: [lazyBuiltins],
      banner: {
        // The first line names the build: bin/etcp.js uses only the code cache of the same build.
        js: `/* etcp build ${build} */\n` +
          "const __etcpUrl = require(\"node:url\").pathToFileURL(__filename).href;" +
          " const __etcpResolve = (s) => require(\"node:url\").pathToFileURL(require.resolve(s)).href;"
      }
    })
  ])
  const heavy = Object.keys(cli.metafile.inputs).filter((input) => /node_modules|packages\/tcp/.test(input))
  if (heavy.length > 0) throw new Error(`dist/etcp.cjs must not import ${heavy.join(", ")}: load it from run.ts`)
  fs.mkdirSync(dist, { recursive: true })
  replace("etcp.cjs", cli.outputFiles[0].contents)
  replace("etcp-run.cjs", run.outputFiles[0].contents)
  for (const file of fs.readdirSync(dist)) {
    if (/^etcp.*\.cache$/.test(file) && file !== `etcp-run-${build}.cache`) fs.rmSync(path.join(dist, file))
  }
  // The first run writes the code cache.
  const server = net.createServer((socket) => socket.end())
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve))
  try {
    await new Promise((resolve, reject) => {
      const child = execFile(
        process.execPath,
        [path.join(root, "bin/etcp.js"), "connect", "127.0.0.1", String(server.address().port)],
        { timeout: 30_000 },
        (error) => error === null ? resolve() : reject(error)
      )
      child.stdin.end()
    })
  } finally {
    server.close()
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundle()
  console.log("etcp: dist/etcp.cjs, dist/etcp-run.cjs and its code cache")
}
