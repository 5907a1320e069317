#!/usr/bin/env node
// The `etcp` command (CommonJS: bin/package.json; an ES module entry costs Node about 25 ms more
// to start). Runs the prebuilt bundles made by `pnpm build`: dist/etcp.cjs, the command line
// (arguments, help), and, only when a command runs, dist/etcp-run.cjs (effect, effect-tcp, the
// commands) with V8's code cache for that build and this Node (dist/etcp-run-<build>.cache,
// written by the first run). In a checkout that has not been built yet, runs the TypeScript
// sources through tsx instead.
"use strict"
const fs = require("node:fs")
const path = require("node:path")
const vm = require("node:vm")
// node:module itself, as CommonJS sees it (requiring "node:module" would load the ES module loader too).
const Module = module.constructor

const dist = path.join(__dirname, "..", "dist")

/** Loads a CommonJS bundle of dist/ with its code cache, leaving one for the next run if missing. */
const load = (name) => {
  const file = path.join(dist, name)
  const source = fs.readFileSync(file, "utf8")
  const build = /^\/\* etcp build ([0-9a-f]+) \*\//.exec(source)?.[1]
  const cache = build === undefined ? undefined : path.join(dist, `${name.replace(/\.cjs$/, "")}-${build}.cache`)
  let cachedData
  try {
    if (cache !== undefined) cachedData = fs.readFileSync(cache)
  } catch {
    // no cache for this build: V8 compiles as usual
  }
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData })
  // No usable cache (first run, or another Node version): leave one for the next run, if this
  // directory is writable. Made at exit, it holds the functions this run compiled.
  if (cache !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
    process.on("exit", () => {
      try {
        const temporary = `${cache}.${process.pid}.tmp`
        fs.writeFileSync(temporary, script.createCachedData())
        fs.renameSync(temporary, cache)
      } catch {
        // read-only installation: start without a cache
      }
    })
  }
  const module = new Module(file)
  module.filename = file
  module.paths = Module._nodeModulePaths(dist)
  script.runInThisContext()(module.exports, Module.createRequire(file), module, file, dist)
  return module.exports
}

let cli
try {
  cli = require(path.join(dist, "etcp.cjs"))
} catch (error) {
  if (error.code !== "MODULE_NOT_FOUND") throw error
}
if (cli !== undefined) {
  cli.main(process.argv.slice(2), () => load("etcp-run.cjs"))
} else {
  import("tsx/esm/api").then(({ register }) => {
    register()
    return import("../src/main.ts")
  })
}
