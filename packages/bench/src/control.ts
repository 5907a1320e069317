// The child side of the harness's control channel: JSON lines on stdout (to the harness) and on
// stdin (from it). Plain node, so the raw implementation does not load Effect.
//
// A server on node:cluster workers (--workers): the primary talks to the harness; a worker's
// messages go to the primary over the IPC channel ({ bench: message }), and the primary answers
// "stats" with the sum of every worker's counters.
import cluster from "node:cluster"

export interface Command {
  readonly cmd: "go" | "stats" | "memory" | "verify" | "exit"
  readonly port?: number
}

/** Counters a server keeps for the harness (bytes its application code took from the socket). */
export const counters = {
  bytesIn: 0,
  connections: 0,
  errors: 0
}

const waiting = new Map<string, Array<(c: Command) => void>>()
const arrived = new Map<string, Command>()
let stdinBuffer = ""
let started = false

const dispatch = (c: Command) => {
  if (c.cmd === "stats") {
    if (Object.keys(cluster.workers ?? {}).length > 0) void workerStats().then((sum) => send({ t: "stats", ...sum }))
    else send({ t: "stats", ...counters })
    return
  }
  if (c.cmd === "memory") {
    // A full collection first (the harness passes --expose-gc when it asks), so what is measured
    // is what is held, not garbage not yet collected.
    const gc = (globalThis as { gc?: () => void }).gc
    if (gc !== undefined) gc()
    send({ t: "memory", gc: gc !== undefined, ...process.memoryUsage() })
    return
  }
  const ws = waiting.get(c.cmd)
  if (ws !== undefined && ws.length > 0) {
    waiting.delete(c.cmd)
    for (const w of ws) w(c)
  } else {
    arrived.set(c.cmd, c)
  }
}

export const startControl = (): void => {
  if (started) return
  started = true
  process.stdin.setEncoding("utf8")
  process.stdin.on("data", (data: string) => {
    stdinBuffer += data
    let nl: number
    while ((nl = stdinBuffer.indexOf("\n")) >= 0) {
      const line = stdinBuffer.slice(0, nl)
      stdinBuffer = stdinBuffer.slice(nl + 1)
      if (line.trim() !== "") dispatch(JSON.parse(line) as Command)
    }
  })
  // The harness went away: behave as if told to exit.
  process.stdin.on("end", () => dispatch({ cmd: "exit" }))
}

/** Resolves when the harness sends `cmd` (or has already sent it). */
export const waitFor = (cmd: Command["cmd"]): Promise<Command> => {
  const c = arrived.get(cmd)
  if (c !== undefined) {
    arrived.delete(cmd)
    return Promise.resolve(c)
  }
  return new Promise((resolve) => {
    const ws = waiting.get(cmd) ?? []
    ws.push(resolve)
    waiting.set(cmd, ws)
  })
}

export const send = (msg: Readonly<Record<string, unknown>>): void => {
  if (cluster.isWorker) process.send?.({ bench: msg })
  else process.stdout.write(JSON.stringify(msg) + "\n")
}

type WorkerMessage = { readonly bench?: Readonly<Record<string, unknown>> | "stats" }

/** In a cluster worker: answers the primary's requests for this worker's counters. */
export const answerStats = (): void => {
  process.on("message", (m: WorkerMessage) => {
    if (m?.bench === "stats") send({ t: "stats", pid: process.pid, ...counters })
  })
}

type WorkerCounters = typeof counters & { readonly pid: number }

/** In a cluster primary: every worker's counters, summed, and each worker's connections (how they were spread). */
const workerStats = async (): Promise<typeof counters & { workers: Array<{ pid: number; connections: number }> }> => {
  const all = await Promise.all(
    Object.values(cluster.workers ?? {}).map((w) =>
      new Promise<WorkerCounters>((resolve) => {
        const onMessage = (m: WorkerMessage) => {
          if (typeof m?.bench === "object" && m.bench["t"] === "stats") {
            w!.off("message", onMessage)
            resolve(m.bench as unknown as WorkerCounters)
          }
        }
        w!.on("message", onMessage)
        w!.send({ bench: "stats" })
      })
    )
  )
  const sum = { bytesIn: 0, connections: 0, errors: 0 }
  for (const c of all) {
    sum.bytesIn += c.bytesIn
    sum.connections += c.connections
    sum.errors += c.errors
  }
  return { ...sum, workers: all.map((c) => ({ pid: c.pid, connections: c.connections })) }
}

/** A raw server's primary: forks the workers, reports ready once every one listens, ends them on "exit". */
export const runRawPrimary = (workers: number): void => {
  let ready = 0
  for (let i = 0; i < workers; i++) {
    const w = cluster.fork()
    w.on("message", (m: WorkerMessage) => {
      if (typeof m?.bench === "object" && m.bench["t"] === "ready" && ++ready === workers) {
        send({ t: "ready", port: m.bench["port"] })
      }
    })
  }
  void waitFor("exit").then(() => {
    const all = Object.values(cluster.workers ?? {})
    let left = all.length
    if (left === 0) process.exit(0)
    for (const w of all) {
      w!.once("exit", () => {
        if (--left === 0) process.exit(0)
      })
      w!.process.kill("SIGTERM")
    }
  })
}

/** Reports a failure and exits at once with status 2. */
export const fail = (message: string): never => {
  send({ t: "error", message })
  process.exit(2)
}
