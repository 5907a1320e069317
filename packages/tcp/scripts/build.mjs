// Builds the published form of effect-tcp into dist/: ESM (dist/esm) and CommonJS (dist/cjs),
// each with its own .d.ts (so `import` and `require` consumers get declarations of the right
// module kind under `moduleResolution: "nodenext"`) and source maps with the sources inlined.
// The workspace itself never uses dist/: it resolves `effect-tcp` to src/ (package.json `exports`);
// `pnpm pack` swaps in `publishConfig.exports`, which points here.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const dist = path.join(root, "dist")
const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"))

// Every public module (src/Foo.ts) must be in the published exports map, and nothing else.
const modules = fs.readdirSync(path.join(root, "src")).filter((f) => f.endsWith(".ts")).map((f) => f.slice(0, -3))
const expected = modules.map((m) => (m === "index" ? "." : `./${m}`)).sort()
const published = Object.keys(manifest.publishConfig.exports).filter((k) => k !== "./package.json").sort()
if (JSON.stringify(expected) !== JSON.stringify(published)) {
  const missing = expected.filter((k) => !published.includes(k))
  const extra = published.filter((k) => !expected.includes(k))
  console.error(
    `effect-tcp build: publishConfig.exports in packages/tcp/package.json does not match src/*.ts` +
      (missing.length > 0 ? `\n  missing (add them like "./Reader"): ${missing.join(", ")}` : "") +
      (extra.length > 0 ? `\n  no such module: ${extra.join(", ")}` : "")
  )
  process.exit(1)
}

fs.rmSync(dist, { recursive: true, force: true })
const tsc = path.join(root, "node_modules", ".bin", "tsc")
const run = (project) =>
  new Promise((resolve, reject) => {
    const child = spawn(tsc, ["-p", project], { cwd: root, stdio: "inherit" })
    child.on("error", reject)
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`tsc -p ${project} exited with ${code}`))))
  })
try {
  await Promise.all([run("tsconfig.build.json"), run("tsconfig.build.cjs.json")])
} catch (error) {
  console.error(`effect-tcp build: ${error.message}`)
  process.exit(1)
}
// Module kind markers: .js and .d.ts under each folder are read as that kind whatever the root says.
fs.writeFileSync(path.join(dist, "esm", "package.json"), JSON.stringify({ type: "module", sideEffects: false }) + "\n")
fs.writeFileSync(
  path.join(dist, "cjs", "package.json"),
  JSON.stringify({ type: "commonjs", sideEffects: false }) + "\n"
)
console.log(`effect-tcp build: dist/esm and dist/cjs (${modules.length} modules)`)
