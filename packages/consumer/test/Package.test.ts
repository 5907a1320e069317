// effect-tcp as a user gets it: `pnpm pack` (which builds dist/), then a fresh project outside
// this workspace installs the tarball and `effect` from the registry, runs an ES module and a
// CommonJS script against it, and type-checks a consumer with the strictest settings under
// `nodenext` and `bundler` resolution.
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, "../../..")
const fixture = path.resolve(here, "../fixture")

/** What a user installs next to the tarball, in the versions this repository is tested with. */
const registryPackages = ["effect@~3.22.4", "@effect/platform@~0.97.2", "typescript@~5.9.3", "@types/node@~20.19.0"]

interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const exec = (command: string, args: ReadonlyArray<string>, cwd: string, timeout = 300_000): Promise<Result> =>
  new Promise((resolve) => {
    const child = execFile(command, args, { cwd, timeout, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
      resolve({ code, stdout, stderr })
    })
    child.stdin?.end()
  })

const ok = async (command: string, args: ReadonlyArray<string>, cwd: string): Promise<Result> => {
  const result = await exec(command, args, cwd)
  assert.strictEqual(result.code, 0, `${command} ${args.join(" ")} (in ${cwd}):\n${result.stdout}\n${result.stderr}`)
  return result
}

/** pnpm itself when the test command runs under it, else the pinned one through npx. */
const pnpm = (args: ReadonlyArray<string>, cwd: string) => {
  const execpath = process.env["npm_execpath"]
  return execpath !== undefined && /pnpm/.test(execpath)
    ? ok(process.execPath, [execpath, ...args], cwd)
    : ok("npx", ["-y", "pnpm@10.34.9", ...args], cwd)
}

const npmFlags = ["--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"]

let work = ""
let project = ""
let tarball = ""
let cliTarball = ""

const packed = (prefix: string) =>
  path.join(work, fs.readdirSync(work).find((f) => f.startsWith(prefix) && f.endsWith(".tgz"))!)

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "effect-tcp-consumer-"))
  assert.isFalse(work.startsWith(repo + path.sep), "the consumer project is outside the workspace")
  await Promise.all([
    pnpm(["pack", "--pack-destination", work], path.join(repo, "packages/tcp")),
    pnpm(["pack", "--pack-destination", work], path.join(repo, "packages/cli"))
  ])
  tarball = packed("effect-tcp-0")
  cliTarball = packed("effect-tcp-cli-")
  project = path.join(work, "project")
  fs.mkdirSync(project)
  fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "consumer", private: true }) + "\n")
  for (const file of fs.readdirSync(fixture)) fs.copyFileSync(path.join(fixture, file), path.join(project, file))
  await ok("npm", ["install", ...npmFlags, tarball, cliTarball, ...registryPackages], project)
})

afterAll(() => {
  if (work !== "") fs.rmSync(work, { recursive: true, force: true })
})

describe("effect-tcp installed from its tarball", () => {
  it("the tarball holds the build, the README and the LICENSE: no sources, tests or docs", async () => {
    const listing = await ok("tar", ["tzf", tarball], work)
    const files = listing.stdout.trim().split("\n").map((f) => f.replace(/^package\//, ""))
    for (const required of ["package.json", "README.md", "LICENSE", "dist/esm/index.js", "dist/cjs/index.js"]) {
      assert.include(files, required)
    }
    for (const m of ["index", "Tcp", "Reader", "PlatformSocket"]) {
      for (const kind of ["esm", "cjs"]) {
        assert.include(files, `dist/${kind}/${m}.d.ts`)
        assert.include(files, `dist/${kind}/${m}.js.map`)
      }
    }
    const unexpected = files.filter((f) =>
      !["package.json", "README.md", "LICENSE"].includes(f) &&
      !/^dist\/(esm|cjs)\/(internal\/)?[A-Za-z]+\.(js|js\.map|d\.ts)$/.test(f) &&
      !/^dist\/(esm|cjs)\/package\.json$/.test(f)
    )
    assert.deepStrictEqual(unexpected, [])
    const manifest = JSON.parse(fs.readFileSync(path.join(project, "node_modules/effect-tcp/package.json"), "utf8"))
    assert.strictEqual(manifest.peerDependencies.effect, "^3.22.0")
    assert.isTrue(manifest.peerDependenciesMeta["@effect/platform"].optional)
    assert.deepStrictEqual(manifest.dependencies ?? {}, {})
    assert.notInclude(JSON.stringify(manifest.exports), "src/")
    assert.notProperty(manifest.exports, "./internal/*")
  })

  it("a plain node ES module: a server and Tcp.withConnection exchange lines", async () => {
    const result = await ok(process.execPath, ["esm.mjs"], project)
    assert.strictEqual(result.stdout, "HELLO WORLD\n")
  })

  it("a plain node CommonJS script: the same, and internal/ is not importable", async () => {
    const result = await ok(process.execPath, ["cjs.cjs"], project)
    assert.strictEqual(result.stdout, "FROM COMMONJS\n")
  })

  it("types: strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess, no skipLibCheck; nodenext and bundler", async () => {
    const tsc = path.join(project, "node_modules/.bin/tsc")
    await Promise.all([
      ok(tsc, ["-p", "tsconfig.nodenext.json"], project),
      ok(tsc, ["-p", "tsconfig.bundler.json"], project)
    ])
  })

  it("npm refuses to install it next to an unsupported effect, naming the peer range", async () => {
    const other = path.join(work, "effect4")
    fs.mkdirSync(other)
    fs.writeFileSync(path.join(other, "package.json"), JSON.stringify({ name: "effect4", private: true }) + "\n")
    const result = await exec("npm", ["install", "--dry-run", ...npmFlags, tarball, "effect@4"], other)
    assert.notStrictEqual(result.code, 0)
    assert.include(result.stderr, "ERESOLVE")
    assert.include(result.stderr, `peer effect@"^3.22.0" from effect-tcp`)
  })

  it("npx etcp: --help, and connect to a local listener (the bundled @effect-tcp/cli, no dependencies)", async () => {
    const manifest = JSON.parse(
      fs.readFileSync(path.join(project, "node_modules/@effect-tcp/cli/package.json"), "utf8")
    )
    assert.deepStrictEqual(manifest.dependencies ?? {}, {})
    const help = await ok("npx", ["--no-install", "etcp", "--help"], project)
    assert.include(help.stdout, "connect")
    const server = net.createServer((socket) => socket.end("hello from the listener\n"))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    try {
      const port = (server.address() as net.AddressInfo).port
      const connect = await ok("npx", ["--no-install", "etcp", "connect", "127.0.0.1", String(port)], project)
      assert.strictEqual(connect.stdout, "hello from the listener\n")
    } finally {
      server.close()
    }
  })
})
