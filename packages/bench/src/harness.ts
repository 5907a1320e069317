// Runs every scenario on each implementation as a pair of fresh processes (server, client) and
// collects what the clients report and what /proc says about both processes.
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { buildChildren } from "./build.js"
import { childPids, type ProcUsage, readProc, usage } from "./proc.js"
import {
  type ChildConfig,
  defaultParams,
  framesSource,
  type Impl,
  IMPLS,
  linesSource,
  type Scenario,
  type ScenarioParams,
  SCENARIOS,
  smokeParams
} from "./protocol.js"

export const BENCH_DIR = path.resolve(fileURLToPath(new URL(".", import.meta.url)), "..")
/** Where the children's bundles are built (gitignored). */
const CHILD_DIR = path.join(BENCH_DIR, "dist")

/**
 * The trap this guards against: with glibc's default dynamic trim threshold, a process whose V8
 * heap is larger takes many more page faults on Node's fresh 64 KiB read buffers. Whatever is set
 * here is set for every child of every implementation alike.
 */
export const DEFAULT_GLIBC_TUNABLES = "glibc.malloc.trim_threshold=134217728:glibc.malloc.top_pad=16777216"

export interface Pair {
  readonly client: Impl
  readonly server: Impl
}

export interface BenchOptions {
  readonly smoke: boolean
  readonly reps: number
  readonly scenarios: ReadonlyArray<Scenario>
  readonly impls: ReadonlyArray<Impl>
  /** also run every client against every other implementation's server */
  readonly mixed: boolean
  readonly params: ScenarioParams
  /** bound on one run's measured part, ms */
  readonly runTimeoutMs: number
  /** environment set for every child, identically */
  readonly env: Readonly<Record<string, string>>
  /**
   * Listen backlog given to every server alike (undefined: each library's default, 511 for
   * node:net and platform). 1,000 simultaneous connects overflow a smaller accept queue, and the
   * clients' SYN retries (1 s, 3 s, ...) then dominate the conc scenario instead of the code.
   */
  readonly backlog: number | undefined
  /** servers (raw, effect-tcp) on this many node:cluster workers sharing the port (undefined: one process) */
  readonly workers: number | undefined
  /** Over TLS: a key and self-signed certificate for every server (see `tlsCertificate`); platform has no TLS. */
  readonly tls: { readonly key: string; readonly cert: string } | undefined
  /** extra node flags for every child (e.g. --cpu-prof) */
  readonly nodeArgs: ReadonlyArray<string>
  readonly log: (line: string) => void
  /**
   * Runs in flight at once. Only smoke mode uses more than 1: it checks correctness, and starting
   * processes dominates its time.
   */
  readonly concurrency: number
}

/** A P-256 key and a self-signed certificate for 127.0.0.1 / localhost, made by `openssl`. */
export const tlsCertificate = (): { readonly key: string; readonly cert: string } => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-tcp-bench-tls-"))
  try {
    execFileSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-keyout",
      path.join(dir, "key.pem"),
      "-out",
      path.join(dir, "cert.pem")
    ], { stdio: ["ignore", "ignore", "pipe"] })
    return {
      key: fs.readFileSync(path.join(dir, "key.pem"), "utf8"),
      cert: fs.readFileSync(path.join(dir, "cert.pem"), "utf8")
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

export const defaultOptions = (smoke: boolean): BenchOptions => ({
  smoke,
  reps: smoke ? 1 : 3,
  scenarios: SCENARIOS,
  impls: IMPLS,
  mixed: false,
  params: smoke ? smokeParams : defaultParams,
  runTimeoutMs: smoke ? 30_000 : 300_000,
  env: { GLIBC_TUNABLES: DEFAULT_GLIBC_TUNABLES },
  backlog: 1024,
  workers: undefined,
  tls: undefined,
  nodeArgs: [],
  concurrency: smoke ? 3 : 1,
  log: (line) => process.stderr.write(line + "\n")
})

export interface RunRecord {
  readonly scenario: Scenario
  readonly client: Impl
  readonly server: Impl
  readonly rep: number
  readonly ok: boolean
  /** what was checked; on failure, what went wrong */
  readonly check: string
  readonly elapsedMs: number
  /** wall-clock ms the harness spent starting both processes, in the run (incl. checks), stopping them */
  readonly phases: { readonly startMs: number; readonly runMs: number; readonly stopMs: number }
  readonly metrics: Readonly<Record<string, number>>
  /** the scenario's parameters in this run */
  readonly params: ScenarioParams[Scenario]
  readonly serverStats?: Readonly<Record<string, number>>
  readonly clientProc?: ProcUsage
  readonly serverProc?: ProcUsage
  /**
   * With `--workers`: each worker's usage (`serverProc` is then the primary's alone) and the
   * connections it served, in the order the primary forked them.
   */
  readonly workerProcs?: ReadonlyArray<ProcUsage & { readonly pid: number; readonly connections?: number }>
  readonly stderr?: string
}

export interface BenchReport {
  readonly startedAt: string
  readonly host: {
    readonly node: string
    readonly cpus: number
    readonly cpuModel: string
    readonly platform: string
  }
  readonly options: Omit<BenchOptions, "log">
  readonly runs: ReadonlyArray<RunRecord>
}

// ---------------------------------------------------------------------------------------------
// One child process and its JSON-lines control channel.

type Message = Readonly<Record<string, unknown>> & { readonly t: string }

class Child {
  readonly proc: ChildProcess
  readonly pid: number
  private readonly messages: Array<Message> = []
  private readonly waiters: Array<() => void> = []
  private stdoutBuffer = ""
  private stderrTail = ""
  exitCode: number | null | undefined = undefined
  exitSignal: string | null = null
  readonly exited: Promise<void>
  constructor(readonly name: string, config: ChildConfig, options: BenchOptions, program: string) {
    const env: Record<string, string> = {}
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined && k !== "NODE_OPTIONS") env[k] = v
    }
    Object.assign(env, options.env)
    // Idle memory is measured after a full collection, which the child can only ask for with --expose-gc.
    const gc = config.scenario === "idle" ? ["--expose-gc"] : []
    this.proc = spawn(process.execPath, [...gc, ...options.nodeArgs, program, JSON.stringify(config)], {
      cwd: BENCH_DIR,
      env,
      stdio: ["pipe", "pipe", "pipe"]
    })
    if (this.proc.pid === undefined) throw new Error(`${name}: spawn failed`)
    this.pid = this.proc.pid
    live.add(this.proc)
    this.exited = new Promise((resolve) => {
      this.proc.on("exit", (code, signal) => {
        this.exitCode = code
        this.exitSignal = signal
        live.delete(this.proc)
        this.wake()
        resolve()
      })
    })
    this.proc.stdin!.on("error", () => {})
    this.proc.stdout!.setEncoding("utf8")
    this.proc.stdout!.on("data", (data: string) => {
      this.stdoutBuffer += data
      let nl: number
      while ((nl = this.stdoutBuffer.indexOf("\n")) >= 0) {
        const line = this.stdoutBuffer.slice(0, nl)
        this.stdoutBuffer = this.stdoutBuffer.slice(nl + 1)
        if (line.startsWith("{\"t\":")) {
          this.messages.push(JSON.parse(line) as Message)
          this.wake()
        } else if (line.trim() !== "") {
          this.appendStderr(`[stdout] ${line}\n`)
        }
      }
    })
    this.proc.stderr!.setEncoding("utf8")
    this.proc.stderr!.on("data", (data: string) => this.appendStderr(data))
  }
  private appendStderr(s: string) {
    this.stderrTail = (this.stderrTail + s).slice(-4000)
  }
  get stderr(): string {
    return this.stderrTail
  }
  private wake() {
    for (const w of this.waiters.splice(0)) w()
  }
  command(c: Readonly<Record<string, unknown>>): void {
    this.proc.stdin!.write(JSON.stringify(c) + "\n")
  }
  /** The next message of type `t`; fails on an error message, on exit, or after `timeoutMs`. */
  async next(t: string, timeoutMs: number): Promise<Message> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const i = this.messages.findIndex((m) => m.t === t || m.t === "error")
      if (i >= 0) {
        const m = this.messages.splice(i, 1)[0]!
        if (m.t === "error") throw new Error(`${this.name}: ${String(m["message"])}`)
        return m
      }
      if (this.exitCode !== undefined) {
        throw new Error(`${this.name} exited (code ${this.exitCode}, signal ${this.exitSignal}) before "${t}"`)
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`${this.name}: no "${t}" within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }
  /** Asks the child to exit; kills it (by its PID) if it has not exited within `timeoutMs`. */
  async stop(timeoutMs: number): Promise<string | undefined> {
    if (this.exitCode === undefined) {
      this.command({ cmd: "exit" })
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, timeoutMs).unref())])
    }
    if (this.exitCode === undefined) {
      this.kill()
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, 5_000).unref())])
      return `${this.name} did not exit within ${timeoutMs} ms; killed`
    }
    return this.exitCode === 0
      ? undefined
      : `${this.name} exited with code ${this.exitCode} (signal ${this.exitSignal})`
  }
  kill(): void {
    if (this.exitCode === undefined) {
      try {
        process.kill(this.pid, "SIGKILL")
      } catch {
        // already gone
      }
    }
  }
}

/** Every child this harness spawned and that has not exited yet, so they can be killed by PID. */
const live = new Set<ChildProcess>()

export const killLiveChildren = (): void => {
  for (const c of live) {
    if (c.pid !== undefined) {
      try {
        process.kill(c.pid, "SIGKILL")
      } catch {
        // already gone
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// One run: a fresh server and client process.

/** Server-side totals a correct run must show, from the scenario's parameters. */
const expectedServerStats = (scenario: Scenario, p: ScenarioParams): { bytesIn?: number; connections: number } => {
  switch (scenario) {
    case "bulk":
      return { bytesIn: 8 + p.bulk.bytes, connections: 1 }
    case "echo":
      return { bytesIn: (p.echo.warmup + p.echo.count) * p.echo.size, connections: 1 }
    case "churn":
      return { bytesIn: p.churn.count, connections: p.churn.count }
    case "lines":
      return { bytesIn: linesSource(p.lines.count, p.lines.chunk).totalBytes + 1, connections: 1 }
    case "frames":
      return { bytesIn: framesSource(p.frames.count, p.frames.chunk).totalBytes + 4, connections: 1 }
    case "conc":
      return { bytesIn: p.conc.connections * p.conc.roundTrips * p.conc.size, connections: p.conc.connections }
    case "backpressure":
      return { connections: 1 }
    case "accept":
      return { bytesIn: p.accept.connections, connections: p.accept.connections }
    case "idle":
      return { bytesIn: p.idle.connections, connections: p.idle.connections }
  }
}

/**
 * Scenarios that measure the server always use the raw client: in backpressure because the platform
 * Socket cannot write without also reading, in accept so that only the server's cost varies.
 */
export const clientFor = (scenario: Scenario, client: Impl): Impl =>
  scenario === "backpressure" || scenario === "accept" ? "raw" : client

/** A child's memory as it reports it after a full collection (`process.memoryUsage()`). */
interface Memory {
  readonly rss: number
  readonly heapUsed: number
  readonly external: number
}

const memoryOf = async (child: Child): Promise<Memory> => {
  child.command({ cmd: "memory" })
  const m = await child.next("memory", 30_000)
  return { rss: Number(m["rss"]), heapUsed: Number(m["heapUsed"]), external: Number(m["external"]) }
}

const runOnce = async (
  scenario: Scenario,
  pair: Pair,
  rep: number,
  options: BenchOptions,
  programs: Record<Impl, string>
): Promise<RunRecord> => {
  const params = options.params[scenario]
  const deadlineMs = options.runTimeoutMs + 60_000
  const base = (role: "server" | "client", impl: Impl): ChildConfig => ({
    role,
    impl,
    scenario,
    params,
    deadlineMs,
    ...(options.backlog !== undefined ? { backlog: options.backlog } : {}),
    ...(options.tls !== undefined ? { tls: options.tls } : {}),
    ...(options.workers !== undefined && role === "server" ? { workers: options.workers } : {})
  })
  const server = new Child(`server ${pair.server}`, base("server", pair.server), options, programs[pair.server])
  const client = new Child(`client ${pair.client}`, base("client", pair.client), options, programs[pair.client])
  const problems: Array<string> = []
  const t0 = performance.now()
  const phases = { startMs: NaN, runMs: NaN, stopMs: NaN }
  let result: Message | undefined
  let stats: Message | undefined
  let clientProc: ProcUsage | undefined
  let serverProc: ProcUsage | undefined
  let workerProcs: Array<ProcUsage & { readonly pid: number; readonly connections?: number }> | undefined
  const memory: Record<string, number> = {}
  try {
    const ready = await server.next("ready", 60_000)
    await client.next("ready", 60_000)
    phases.startMs = performance.now() - t0
    const idle = scenario === "idle"
    const serverMemBefore = idle ? await memoryOf(server) : undefined
    const clientMemBefore = idle ? await memoryOf(client) : undefined
    // Every worker listens before the server says "ready": its processes are all there now.
    const workerPids = options.workers === undefined ? [] : childPids(server.pid)
    const workersBefore = workerPids.map(readProc)
    const serverBefore = readProc(server.pid)
    const clientBefore = readProc(client.pid)
    client.command({ cmd: "go", port: ready["port"] })
    result = await client.next("result", options.runTimeoutMs)
    clientProc = usage(clientBefore, readProc(client.pid))
    serverProc = usage(serverBefore, readProc(server.pid))
    if (options.workers !== undefined) {
      workerProcs = workerPids.flatMap((pid, i) => {
        const u = usage(workersBefore[i], readProc(pid))
        return u === undefined ? [] : [{ pid, ...u }]
      })
    }
    if (serverMemBefore !== undefined && clientMemBefore !== undefined) {
      // What each held connection costs, after a full collection on both sides.
      const n = options.params.idle.connections
      const serverAfter = await memoryOf(server)
      const clientAfter = await memoryOf(client)
      memory["serverKiBPerConn"] = (serverAfter.rss - serverMemBefore.rss) / 1024 / n
      memory["serverHeapKiBPerConn"] =
        (serverAfter.heapUsed + serverAfter.external - serverMemBefore.heapUsed - serverMemBefore.external) / 1024 / n
      memory["clientKiBPerConn"] = (clientAfter.rss - clientMemBefore.rss) / 1024 / n
      memory["clientHeapKiBPerConn"] =
        (clientAfter.heapUsed + clientAfter.external - clientMemBefore.heapUsed - clientMemBefore.external) / 1024 / n
      memory["serverIdleRssMiB"] = serverMemBefore.rss / 1048576
    }
    server.command({ cmd: "stats" })
    stats = await server.next("stats", 10_000)
    const perWorker = stats["workers"] as ReadonlyArray<{ pid: number; connections: number }> | undefined
    if (workerProcs !== undefined && perWorker !== undefined) {
      workerProcs = workerProcs.map((w) => {
        const served = perWorker.find((p) => p.pid === w.pid)
        return served === undefined ? w : { ...w, connections: served.connections }
      })
    }
    if (result["ok"] !== true) problems.push(`client check failed: ${String(result["check"])}`)
    if (scenario === "backpressure") {
      client.command({ cmd: "verify" })
      const verified = await client.next("verified", options.runTimeoutMs)
      if (verified["ok"] !== true) problems.push(`echo-back check failed: ${String(verified["check"])}`)
    } else if (stats["errors"] !== 0) {
      problems.push(`server counted ${String(stats["errors"])} errors`)
    }
    const expected = expectedServerStats(scenario, options.params)
    if (expected.bytesIn !== undefined && stats["bytesIn"] !== expected.bytesIn) {
      problems.push(`server took in ${String(stats["bytesIn"])} bytes, expected ${expected.bytesIn}`)
    }
    if (stats["connections"] !== expected.connections) {
      problems.push(`server saw ${String(stats["connections"])} connections, expected ${expected.connections}`)
    }
    phases.runMs = performance.now() - t0 - phases.startMs
    for (const p of [await client.stop(15_000), await server.stop(30_000)]) {
      if (p !== undefined) problems.push(p)
    }
  } catch (e) {
    problems.push(e instanceof Error ? e.message : String(e))
  } finally {
    client.kill()
    server.kill()
    await Promise.race([Promise.all([client.exited, server.exited]), new Promise((r) => setTimeout(r, 5_000).unref())])
  }
  phases.stopMs = performance.now() - t0 - phases.startMs - phases.runMs
  const ok = problems.length === 0
  const metrics: Record<string, number> = { ...(result?.["metrics"] as Record<string, number> | undefined), ...memory }
  if (serverProc !== undefined) metrics["serverHwmMiB"] = serverProc.hwmMiB
  if (scenario === "backpressure" && stats !== undefined) metrics["serverMiBIn"] = Number(stats["bytesIn"]) / 1048576
  const stderr = ok ? undefined : `--- server ---\n${server.stderr}\n--- client ---\n${client.stderr}`
  return {
    scenario,
    client: pair.client,
    server: pair.server,
    rep,
    ok,
    check: ok ? String(result?.["check"]) : problems.join("; "),
    elapsedMs: Number(result?.["elapsedMs"] ?? NaN),
    phases,
    metrics,
    params,
    ...(stats !== undefined
      ? {
        serverStats: Object.fromEntries(
          Object.entries(stats).filter(([k, v]) => k !== "t" && typeof v === "number")
        ) as Record<string, number>
      }
      : {}),
    ...(clientProc !== undefined ? { clientProc } : {}),
    ...(serverProc !== undefined ? { serverProc } : {}),
    ...(workerProcs !== undefined ? { workerProcs } : {}),
    ...(stderr !== undefined ? { stderr } : {})
  }
}

export const pairsFor = (options: Pick<BenchOptions, "impls" | "mixed">): ReadonlyArray<Pair> => {
  const same = options.impls.map((impl) => ({ client: impl, server: impl }))
  if (!options.mixed) return same
  const crossed = options.impls.flatMap((client) =>
    options.impls.filter((server) => server !== client).map((server) => ({ client, server }))
  )
  return [...same, ...crossed]
}

export const runBench = async (options: BenchOptions): Promise<BenchReport> => {
  const os = await import("node:os")
  const startedAt = new Date().toISOString()
  const runs: Array<RunRecord> = []
  const pairs = pairsFor(options)
  const jobs: Array<{ readonly scenario: Scenario; readonly pair: Pair; readonly rep: number }> = []
  for (const scenario of options.scenarios) {
    // Backpressure and accept always use the raw client, so the mixed pairs collapse onto the servers.
    const scenarioPairs = pairs.filter((p, i) =>
      scenario !== "backpressure" ||
      pairs.findIndex((q) =>
          clientFor(scenario, q.client) === clientFor(scenario, p.client) && q.server === p.server
        ) === i
    )
    for (let rep = 0; rep < options.reps; rep++) {
      // A B C, C B A, A B C, ...: no implementation always runs first or last.
      const order = rep % 2 === 0 ? scenarioPairs : [...scenarioPairs].reverse()
      for (const pair of order) {
        jobs.push({ scenario, pair: { client: clientFor(scenario, pair.client), server: pair.server }, rep })
      }
    }
  }
  const programs = buildChildren(path.join(BENCH_DIR, "src"), CHILD_DIR, IMPLS)
  const records: Array<RunRecord | undefined> = jobs.map(() => undefined)
  let nextJob = 0
  const worker = async () => {
    while (nextJob < jobs.length) {
      const i = nextJob++
      const { pair, rep, scenario } = jobs[i]!
      const record = await runOnce(scenario, pair, rep, options, programs)
      records[i] = record
      options.log(
        `${scenario.padEnd(12)} rep ${rep + 1}/${options.reps} client ${pair.client.padEnd(10)} server ${
          pair.server.padEnd(10)
        } ` +
          (record.ok ? `ok   ${formatMetrics(record.metrics)}` : `FAIL ${record.check}`) +
          ` [start ${record.phases.startMs.toFixed(0)} run ${record.phases.runMs.toFixed(0)} stop ${
            record.phases.stopMs.toFixed(0)
          } ms]`
      )
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker))
  for (const r of records) if (r !== undefined) runs.push(r)
  const { log: _, ...rest } = options
  return {
    startedAt,
    host: {
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? "?",
      platform: `${os.platform()} ${os.release()}`
    },
    options: rest,
    runs
  }
}

const formatMetrics = (m: Readonly<Record<string, number>>): string =>
  Object.entries(m).map(([k, v]) => `${k}=${round(v)}`).join(" ")

export const round = (v: number): string => {
  if (!Number.isFinite(v)) return String(v)
  const a = Math.abs(v)
  return a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(3)
}
