// Medians, ranges and ratios of a benchmark report, as Markdown.
import type { BenchReport, Pair, RunRecord } from "./harness.js"
import { clientFor, pairsFor, round } from "./harness.js"
import type { ProcUsage } from "./proc.js"
import type { Impl, Scenario } from "./protocol.js"

interface MetricDef {
  readonly label: string
  /** which direction is better, shown next to the label */
  readonly better: "higher" | "lower"
  readonly get: (r: RunRecord) => number | undefined
  /** a CPU split: the cell shows the medians of user / system / other threads, and no ratio */
  readonly split?: (r: RunRecord) => ProcUsage | undefined
  /** with `--workers`: the cell shows one median per worker (in fork order), and no ratio */
  readonly perWorker?: (w: NonNullable<RunRecord["workerProcs"]>[number], r: RunRecord) => number | undefined
}

const m = (key: string) => (r: RunRecord) => r.metrics[key]

const primary: Record<Scenario, ReadonlyArray<MetricDef>> = {
  bulk: [{ label: "MiB/s", better: "higher", get: m("mibPerS") }],
  echo: [
    { label: "round trips/s", better: "higher", get: m("rtPerS") },
    { label: "p50 µs", better: "lower", get: m("p50Us") },
    { label: "p99 µs", better: "lower", get: m("p99Us") }
  ],
  churn: [{ label: "connections/s", better: "higher", get: m("connPerS") }],
  lines: [{ label: "lines/s", better: "higher", get: m("linesPerS") }],
  frames: [{ label: "frames/s", better: "higher", get: m("framesPerS") }],
  conc: [
    { label: "total ms", better: "lower", get: m("totalMs") },
    { label: "server peak RSS MiB", better: "lower", get: m("serverHwmMiB") }
  ],
  backpressure: [
    { label: "MiB server took in", better: "lower", get: m("serverMiBIn") },
    { label: "server peak RSS MiB", better: "lower", get: m("serverHwmMiB") }
  ],
  accept: [{ label: "ms until all served", better: "lower", get: m("totalMs") }],
  idle: [
    { label: "server KiB RSS per held connection", better: "lower", get: m("serverKiBPerConn") },
    { label: "server KiB heap+external per held connection", better: "lower", get: m("serverHeapKiBPerConn") },
    { label: "client KiB RSS per held connection", better: "lower", get: m("clientKiBPerConn") },
    { label: "client KiB heap+external per held connection", better: "lower", get: m("clientHeapKiBPerConn") },
    { label: "server RSS MiB before connections", better: "lower", get: m("serverIdleRssMiB") }
  ]
}

/** What one operation of a scenario is, and how many a run does: CPU is also shown per operation. */
const operations = (r: RunRecord): { readonly count: number } | undefined => {
  const p = r.params
  if (p === undefined) return undefined
  switch (r.scenario) {
    case "bulk":
      return { count: (p as { bytes: number }).bytes / 1048576 }
    case "echo": {
      const e = p as { warmup: number; count: number }
      return { count: e.warmup + e.count }
    }
    case "churn":
      return { count: (p as { count: number }).count }
    case "lines":
    case "frames":
      return { count: (p as { count: number }).count / 1000 }
    case "conc": {
      const c = p as { connections: number; roundTrips: number }
      return { count: c.connections * c.roundTrips }
    }
    case "accept":
    case "idle":
      return { count: (p as { connections: number }).connections }
    case "backpressure":
      return undefined
  }
}

const perOp = (cpu: (r: RunRecord) => number | undefined) => (r: RunRecord) => {
  const ops = operations(r)
  const s = cpu(r)
  return ops === undefined || s === undefined ? undefined : (s * 1e6) / ops.count
}

const unitOf: Record<Scenario, string> = {
  bulk: "µs/MiB",
  echo: "µs/round trip",
  churn: "µs/connection",
  lines: "µs/1000 lines",
  frames: "µs/1000 frames",
  conc: "µs/round trip",
  backpressure: "",
  accept: "µs/connection",
  idle: "µs/connection"
}

/** The server's CPU seconds: with `--workers`, the primary's and every worker's. */
const serverCpuS = (r: RunRecord): number | undefined =>
  r.serverProc === undefined
    ? undefined
    : r.serverProc.cpuS + (r.workerProcs ?? []).reduce((sum, w) => sum + w.cpuS, 0)

/** With `--workers`: where the server's CPU went, and how the connections were spread. */
const workerRows = (scenario: Scenario, cpus: number): ReadonlyArray<MetricDef> => [
  {
    // No schedule on `cpus` cores can finish sooner: the busiest process's CPU, or all of it spread evenly.
    label: `CPU floor ms on ${cpus} cores: max(client, primary, each worker, all ÷ ${cpus})`,
    better: "lower",
    get: (r) => {
      const server = serverCpuS(r)
      if (r.clientProc === undefined || server === undefined || r.serverProc === undefined) return undefined
      const busiest = Math.max(r.clientProc.cpuS, r.serverProc.cpuS, ...(r.workerProcs ?? []).map((w) => w.cpuS))
      return 1000 * Math.max(busiest, (r.clientProc.cpuS + server) / cpus)
    }
  },
  { label: "server CPU s: primary", better: "lower", get: (r) => r.serverProc?.cpuS },
  { label: "server CPU s: each worker", better: "lower", get: () => undefined, perWorker: (w) => w.cpuS },
  {
    label: `server CPU ${unitOf[scenario]}: each worker`,
    better: "lower",
    get: () => undefined,
    perWorker: (w, r) => perOp(() => w.cpuS)(r)
  },
  { label: "connections served: each worker", better: "higher", get: () => undefined, perWorker: (w) => w.connections }
]

const resources = (scenario: Scenario, workers: { readonly cpus: number } | undefined): ReadonlyArray<MetricDef> => [
  ...(scenario === "backpressure" ? [] : [
    { label: `client CPU ${unitOf[scenario]}`, better: "lower" as const, get: perOp((r) => r.clientProc?.cpuS) },
    {
      label: `server CPU ${unitOf[scenario]}${workers ? " (primary + workers)" : ""}`,
      better: "lower" as const,
      get: perOp(serverCpuS)
    }
  ]),
  { label: "client CPU s", better: "lower", get: (r) => r.clientProc?.cpuS },
  {
    label: "client CPU s: user / system / V8+libuv threads",
    better: "lower",
    get: (r) => r.clientProc?.userS,
    split: (r) => r.clientProc
  },
  { label: `server CPU s${workers ? " (primary + workers)" : ""}`, better: "lower", get: serverCpuS },
  ...(workers === undefined ? [] : workerRows(scenario, workers.cpus)),
  {
    label: `server CPU s${workers ? " (primary)" : ""}: user / system / V8+libuv threads`,
    better: "lower",
    get: (r) => r.serverProc?.userS,
    split: (r) => r.serverProc
  },
  { label: "client peak RSS MiB", better: "lower", get: (r) => r.clientProc?.hwmMiB },
  ...(scenario === "conc" || scenario === "backpressure" ?
    [] :
    [{ label: "server peak RSS MiB", better: "lower" as const, get: (r: RunRecord) => r.serverProc?.hwmMiB }]),
  { label: "server minor faults", better: "lower", get: (r) => r.serverProc?.minflt }
]

export const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export interface Summary {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly n: number
  readonly failed: number
}

const summarize = (runs: ReadonlyArray<RunRecord>, get: MetricDef["get"]): Summary => {
  const values = runs.filter((r) => r.ok).map(get).filter((v): v is number => v !== undefined && Number.isFinite(v))
  return {
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    n: values.length,
    failed: runs.filter((r) => !r.ok).length
  }
}

const cell = (s: Summary | undefined): string => {
  if (s === undefined) return "–"
  if (s.n === 0) return s.failed > 0 ? `FAIL ×${s.failed}` : "–"
  const range = s.n > 1 ? ` (${round(s.min)}–${round(s.max)})` : ""
  return `${round(s.median)}${range}${s.failed > 0 ? ` ⚠${s.failed} failed` : ""}`
}

const splitCell = (runs: ReadonlyArray<RunRecord>, split: (r: RunRecord) => ProcUsage | undefined): string => {
  const med = (get: (u: ProcUsage) => number) => {
    const v = summarize(runs, (r) => {
      const u = split(r)
      return u === undefined ? undefined : get(u)
    })
    return v.n === 0 ? "–" : round(v.median)
  }
  return `${med((u) => u.userS)} / ${med((u) => u.sysS)} / ${med((u) => u.bgS)}`
}

const workersCell = (
  runs: ReadonlyArray<RunRecord>,
  perWorker: NonNullable<MetricDef["perWorker"]>
): string => {
  const count = Math.max(0, ...runs.filter((r) => r.ok).map((r) => r.workerProcs?.length ?? 0))
  if (count === 0) return "–"
  return Array.from({ length: count }, (_, i) => {
    const v = summarize(runs, (r) => {
      const w = r.workerProcs?.[i]
      return w === undefined ? undefined : perWorker(w, r)
    })
    return v.n === 0 ? "–" : round(v.median)
  }).join(" / ")
}

const ratio = (a: Summary | undefined, b: Summary | undefined): string =>
  a === undefined || b === undefined || a.n === 0 || b.n === 0 || b.median === 0
    ? "–"
    : `${(a.median / b.median).toFixed(2)}×`

const runsOf = (report: BenchReport, scenario: Scenario, pair: Pair) =>
  report.runs.filter((r) =>
    r.scenario === scenario && r.client === clientFor(scenario, pair.client) && r.server === pair.server
  )

const label = (d: MetricDef) => `${d.label} ${d.better === "higher" ? "↑" : "↓"}`

export const summaryTable = (report: BenchReport): string => {
  const impls = report.options.impls
  const has = (i: Impl) => impls.includes(i)
  const head = ["scenario", "metric", ...impls]
  if (has("effect-tcp") && has("raw")) head.push("effect-tcp/raw")
  if (has("effect-tcp") && has("platform")) head.push("effect-tcp/platform")
  const rows: Array<Array<string>> = []
  for (const scenario of report.options.scenarios) {
    const workers = report.options.workers === undefined ? undefined : { cpus: report.host.cpus }
    for (const d of [...primary[scenario], ...resources(scenario, workers)]) {
      const perWorker = d.perWorker
      const split = d.split
      const resourceCell = perWorker !== undefined
        ? (runs: ReadonlyArray<RunRecord>) => workersCell(runs, perWorker)
        : split !== undefined
        ? (runs: ReadonlyArray<RunRecord>) => splitCell(runs, split)
        : undefined
      if (resourceCell !== undefined) {
        const row = [
          scenario,
          label(d),
          ...impls.map((i) => resourceCell(runsOf(report, scenario, { client: i, server: i })))
        ]
        if (has("effect-tcp") && has("raw")) row.push("")
        if (has("effect-tcp") && has("platform")) row.push("")
        rows.push(row)
        continue
      }
      const s = new Map<Impl, Summary>()
      for (const impl of impls) s.set(impl, summarize(runsOf(report, scenario, { client: impl, server: impl }), d.get))
      const row = [scenario, label(d), ...impls.map((i) => cell(s.get(i)))]
      if (has("effect-tcp") && has("raw")) row.push(ratio(s.get("effect-tcp"), s.get("raw")))
      if (has("effect-tcp") && has("platform")) row.push(ratio(s.get("effect-tcp"), s.get("platform")))
      rows.push(row)
    }
  }
  return markdown(head, rows)
}

const short: Record<Impl, string> = { raw: "raw", platform: "plat", "effect-tcp": "etcp" }

/** Every client/server pair that ran, primary metrics only (client → server). */
export const mixedTable = (report: BenchReport): string => {
  const pairs = pairsFor(report.options)
  const head = ["scenario", "metric", ...pairs.map((p) => `${short[p.client]}→${short[p.server]}`)]
  const rows: Array<Array<string>> = []
  for (const scenario of report.options.scenarios) {
    const workers = report.options.workers === undefined ? undefined : { cpus: report.host.cpus }
    const all = resources(scenario, workers)
    const shown = [
      ...primary[scenario],
      all[0]!,
      all[1]!,
      ...(workers === undefined ? [] : workerRows(scenario, workers.cpus))
    ]
    for (const d of shown) {
      const perWorker = d.perWorker
      rows.push([
        scenario,
        label(d),
        ...pairs.map((p) =>
          scenario === "backpressure" && p.client !== clientFor(scenario, p.client)
            ? "(raw client)"
            : perWorker !== undefined
            ? workersCell(runsOf(report, scenario, p), perWorker)
            : cell(summarize(runsOf(report, scenario, p), d.get))
        )
      ])
    }
  }
  return markdown(head, rows)
}

const markdown = (head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`)
  ].join("\n")

export const failures = (report: BenchReport): ReadonlyArray<RunRecord> => report.runs.filter((r) => !r.ok)

export const formatReport = (report: BenchReport): string => {
  const o = report.options
  const lines = [
    `## effect-tcp benchmark${o.smoke ? " (smoke: tiny sizes, correctness only)" : ""}`,
    "",
    `${report.host.cpuModel} × ${report.host.cpus}, ${report.host.platform}, Node ${report.host.node}; ` +
    `${o.reps} repetition(s), fresh processes per run, loopback; listen backlog ${
      o.backlog ?? "each library's default"
    }; ` +
    `env ${JSON.stringify(o.env)}` +
    (o.nodeArgs.length > 0 ? `, node ${o.nodeArgs.join(" ")}` : ""),
    "",
    "Cells: median (min–max) over repetitions. Ratios are of medians (effect-tcp ÷ other); ↑/↓ says which way is better.",
    "CPU seconds are from /proc/<pid>/stat between \"ready\" and the end of the measured part (startup excluded);",
    "\"V8+libuv threads\" is the CPU of every thread but the JavaScript one (GC, compiler, libuv pool).",
    ...(o.workers !== undefined
      ? [
        `Servers on ${o.workers} node:cluster worker(s): "server CPU" is the primary's plus every worker's; ` +
        "\"each worker\" cells list one median per worker, in fork order."
      ]
      : []),
    "Peak RSS is VmHWM. Backpressure and accept always use the raw client (see README).",
    "",
    summaryTable(report)
  ]
  if (o.mixed) lines.push("", "### Every client → server pair", "", mixedTable(report))
  const failed = failures(report)
  if (failed.length > 0) {
    lines.push("", `### ${failed.length} failed run(s)`, "")
    for (const r of failed) lines.push(`- ${r.scenario} rep ${r.rep + 1} ${r.client}→${r.server}: ${r.check}`)
  }
  return lines.join("\n")
}
