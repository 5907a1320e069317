// The benchmark's command line: `pnpm bench [options]`. See the package README for the options.
import * as fs from "node:fs"
import * as path from "node:path"
import { BENCH_DIR, type BenchOptions, defaultOptions, killLiveChildren, runBench, tlsCertificate } from "./harness.js"
import { type Impl, IMPLS, type Scenario, type ScenarioParams, SCENARIOS } from "./protocol.js"
import { failures, formatReport } from "./report.js"

const usage = `usage: pnpm bench [options]
  --smoke                 tiny sizes, one repetition: checks every ack, not speed
  --reps N                repetitions (default 3, smoke 1)
  --scenarios a,b         among ${SCENARIOS.join(", ")}
  --impls a,b             among ${IMPLS.join(", ")}
  --mixed                 also run every client against every other implementation's server
  --out PATH              JSON results (default results/bench-<time>.json; smoke writes none unless given)
  --concurrency N         runs in flight at once (default 1; smoke 3: correctness only)
  --timeout SECONDS       bound on one run's measured part (default 300, smoke 30)
  --glibc-tunables S      GLIBC_TUNABLES for every child ("" to leave it unset)
  --backlog N|default     listen backlog for every server alike (default 1024)
  --workers N             servers on N node:cluster workers (raw: node:cluster; effect-tcp: ServerCluster)
  --tls                   over TLS (a self-signed P-256 certificate made by openssl); raw and effect-tcp only
  --node-arg FLAG         extra node flag for every child (repeatable)
  --cpu-prof              write a .cpuprofile per child under results/prof-<time>/
  --<scenario>.<field> V  override a parameter, e.g. --bulk.bytes 256Mi --echo.count 5k
                          (suffixes: k M G decimal, Ki Mi Gi binary)`

const parseNumber = (s: string): number => {
  const m = /^([0-9_.]+)\s*(k|M|G|Ki|Mi|Gi)?$/.exec(s)
  if (m === null) throw new Error(`not a number: ${s}`)
  const mult = { k: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m[2] ?? ""] ?? 1
  return Math.round(Number(m[1]!.replaceAll("_", "")) * mult)
}

const list = <A extends string>(s: string, allowed: ReadonlyArray<A>): Array<A> =>
  s.split(",").map((x) => {
    if (!allowed.includes(x as A)) throw new Error(`unknown ${x}; expected one of ${allowed.join(", ")}`)
    return x as A
  })

const parseArgs = (argv: ReadonlyArray<string>): { options: BenchOptions; out: string | undefined } => {
  const args = argv.filter((a) => a !== "--")
  const smoke = args.includes("--smoke")
  let options: BenchOptions = defaultOptions(smoke)
  const params = JSON.parse(JSON.stringify(options.params)) as Record<string, Record<string, number>>
  let out: string | undefined
  const nodeArgs: Array<string> = []
  let env = { ...options.env }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-")
  for (let i = 0; i < args.length; i++) {
    const raw = args[i]!
    const [flag, inline] = raw.includes("=")
      ? [raw.slice(0, raw.indexOf("=")), raw.slice(raw.indexOf("=") + 1)]
      : [raw, undefined]
    const value = () => {
      if (inline !== undefined) return inline
      const v = args[++i]
      if (v === undefined) throw new Error(`${flag} needs a value`)
      return v
    }
    switch (flag) {
      case "--smoke":
        break
      case "--help":
      case "-h":
        process.stdout.write(usage + "\n")
        process.exit(0)
      case "--reps":
        options = { ...options, reps: parseNumber(value()) }
        break
      case "--scenarios":
        options = { ...options, scenarios: list<Scenario>(value(), SCENARIOS) }
        break
      case "--impls":
        options = { ...options, impls: list<Impl>(value(), IMPLS) }
        break
      case "--mixed":
        options = { ...options, mixed: true }
        break
      case "--concurrency":
        options = { ...options, concurrency: parseNumber(value()) }
        break
      case "--out":
        out = value()
        break
      case "--timeout":
        options = { ...options, runTimeoutMs: parseNumber(value()) * 1000 }
        break
      case "--glibc-tunables": {
        const v = value()
        const { GLIBC_TUNABLES: _, ...others } = env
        env = v === "" ? others : { ...others, GLIBC_TUNABLES: v }
        break
      }
      case "--backlog": {
        const v = value()
        options = { ...options, backlog: v === "default" ? undefined : parseNumber(v) }
        break
      }
      case "--tls":
        options = { ...options, tls: tlsCertificate() }
        break
      case "--workers":
        options = { ...options, workers: parseNumber(value()) }
        break
      case "--node-arg":
        nodeArgs.push(value())
        break
      case "--cpu-prof":
        nodeArgs.push("--cpu-prof", `--cpu-prof-dir=${path.join(BENCH_DIR, "results", `prof-${stamp}`)}`)
        break
      default: {
        const m = /^--(\w+)\.(\w+)$/.exec(flag)
        if (m === null || params[m[1]!] === undefined || params[m[1]!]![m[2]!] === undefined) {
          throw new Error(`unknown option ${raw}\n${usage}`)
        }
        params[m[1]!]![m[2]!] = parseNumber(value())
      }
    }
  }
  if (out === undefined && !smoke) out = path.join(BENCH_DIR, "results", `bench-${stamp}.json`)
  if (options.tls !== undefined && options.impls.includes("platform")) {
    // @effect/platform 0.97 (the Effect 3 line) has no TLS sockets: NodeSocket.makeTls is Effect 4.
    process.stderr.write("--tls: platform has no TLS on the Effect 3 line; running raw and effect-tcp\n")
    options = { ...options, impls: options.impls.filter((impl) => impl !== "platform") }
  }
  options = { ...options, params: params as unknown as ScenarioParams, env, nodeArgs }
  return { options, out }
}

const main = async () => {
  const { options, out } = parseArgs(process.argv.slice(2))
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      killLiveChildren()
      process.exit(130)
    })
  }
  process.on("exit", killLiveChildren)
  const report = await runBench(options)
  process.stdout.write(formatReport(report) + "\n")
  if (out !== undefined) {
    fs.mkdirSync(path.dirname(out), { recursive: true })
    fs.writeFileSync(out, JSON.stringify(report, null, 2) + "\n")
    process.stderr.write(`results written to ${out}\n`)
  }
  process.exitCode = failures(report).length > 0 ? 1 : 0
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`)
  killLiveChildren()
  process.exit(2)
})
