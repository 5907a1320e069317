#!/usr/bin/env node
// The `etcp` command. Runs the prebuilt bundle (dist/etcp.cjs, made by `pnpm build`) with V8's
// code cache for that build and this Node (dist/etcp-<build>.cache, written by the first run);
// in a checkout that has not been built yet, runs the TypeScript sources through tsx instead.
import * as fs from "node:fs"
import Module from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as vm from "node:vm"

const dist = fileURLToPath(new URL("../dist/", import.meta.url))
const bundle = path.join(dist, "etcp.cjs")

let source
try {
  source = fs.readFileSync(bundle, "utf8")
} catch {
  // not built
}
if (source !== undefined) {
  const build = /^\/\* etcp build ([0-9a-f]+) \*\//.exec(source)?.[1]
  const cache = build === undefined ? undefined : path.join(dist, `etcp-${build}.cache`)
  let cachedData
  try {
    if (cache !== undefined) cachedData = fs.readFileSync(cache)
  } catch {
    // no cache for this build: V8 compiles as usual
  }
  const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData })
  // No usable cache (first run, or another Node version): leave one for the next run, if this
  // directory is writable (it is only ever read from the bundle's own directory).
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
  const module = new Module(bundle)
  module.filename = bundle
  module.paths = Module._nodeModulePaths(dist)
  script.runInThisContext()(module.exports, Module.createRequire(bundle), module, bundle, dist)
} else {
  const { register } = await import("tsx/esm/api")
  register()
  await import("../src/main.ts")
}
