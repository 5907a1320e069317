#!/usr/bin/env node
// The `etcp` command. Runs the prebuilt bundle (dist/etcp.cjs, made by `pnpm build`) with V8's
// code cache for it (dist/etcp.cache) when there is one; in a checkout that has not been built
// yet, runs the TypeScript sources through tsx instead (a slower start).
import * as fs from "node:fs"
import Module from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as vm from "node:vm"

const dist = fileURLToPath(new URL("../dist/", import.meta.url))
const bundle = path.join(dist, "etcp.cjs")
const cache = path.join(dist, "etcp.cache")

if (fs.existsSync(bundle)) {
  let cachedData
  try {
    cachedData = fs.readFileSync(cache)
  } catch {
    // no cache: V8 compiles as usual
  }
  const script = new vm.Script(Module.wrap(fs.readFileSync(bundle, "utf8")), { filename: bundle, cachedData })
  if (process.env["ETCP_WRITE_CODE_CACHE"] === "1") {
    process.on("exit", () => fs.writeFileSync(cache, script.createCachedData()))
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
