// Compiles every ```ts block of every JSDoc comment in src/ (the `@example`s), so an example that
// stops compiling fails the test command. Each block becomes its own module in .examples/ (inside
// this package, so `import ... from "effect-tcp"` resolves to this package's sources) and one tsc
// run checks them all with the repository's settings (unused names allowed).
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const src = path.join(root, "src")
const out = path.join(root, ".examples")

const sources = []
const walk = (dir) => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) walk(full)
    else if (entry.name.endsWith(".ts")) sources.push(full)
  }
}
walk(src)

fs.rmSync(out, { recursive: true, force: true })
fs.mkdirSync(out)
const written = new Map()
for (const file of sources.sort()) {
  const lines = fs.readFileSync(file, "utf8").split("\n")
  // Only the blocks of an @example section (a snippet in prose, such as a one-line diff, is not one).
  let inExample = false
  for (let i = 0; i < lines.length; i++) {
    if (/^\s*\*\s*@example\b/.test(lines[i])) inExample = true
    else if (/^\s*\*\s*@\w+/.test(lines[i]) || /\*\//.test(lines[i])) inExample = false
    if (!inExample || !/^\s*\*\s*```(ts|typescript)\s*$/.test(lines[i])) continue
    const start = i + 1
    const body = []
    for (i = start; i < lines.length && !/^\s*\*\s*```\s*$/.test(lines[i]); i++) {
      body.push(lines[i].replace(/^\s*\* ?/, ""))
    }
    const relative = path.relative(root, file)
    const name = `${relative.replace(/[\\/]/g, "_").replace(/\.ts$/, "")}_L${start}.ts`
    fs.writeFileSync(path.join(out, name), `${body.join("\n")}\nexport {}\n`)
    written.set(name, `${relative}:${start}`)
  }
}
fs.writeFileSync(
  path.join(out, "tsconfig.json"),
  JSON.stringify({
    extends: "../../../tsconfig.base.json",
    compilerOptions: { noUnusedLocals: false, noUnusedParameters: false },
    include: ["*.ts"]
  })
)

const tsc = path.join(root, "node_modules", ".bin", "tsc")
const result = spawnSync(tsc, ["-p", path.join(out, "tsconfig.json"), "--pretty", "false"], { encoding: "utf8" })
const output = (result.stdout + result.stderr).replace(
  /^(?:\S*\.examples\/)?([\w.-]+_L\d+\.ts)\((\d+),(\d+)\)/gm,
  (all, name, line, column) => {
    const origin = written.get(name)
    if (origin === undefined) return all
    const [file, fence] = origin.split(":")
    return `${file}:${Number(fence) + Number(line)}:${column} (example at line ${fence})`
  }
)
if (result.status !== 0) {
  process.stderr.write(output)
  console.error(`\neffect-tcp: @example blocks that do not compile (${written.size} checked)`)
  process.exit(1)
}
console.log(`effect-tcp: ${written.size} @example blocks compile`)
