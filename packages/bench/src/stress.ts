/**
 * `stress`: effect-tcp under load and abuse, on loopback only, every loop bounded in count and
 * time. The server runs in this process (the RSS and descriptor columns are this process's); the
 * clients too, except those of `concurrent`. Scenarios:
 *
 * - `concurrent`: N clients (default 10,000) connected at once to a server with the default
 *   options, each sending a line and waiting for its echo, all held open until every one has been
 *   answered. The clients run in a child process (`stressClients.ts`), so that only the server's
 *   descriptors count against this process's limit; the note gives the peak of
 *   `server.numConnections`.
 * - `cycles`: M connect/close cycles (default 100,000), 64 at a time; descriptors and RSS sampled.
 * - `hostile`: one peer per read operation offering 1 GiB (generated, not stored) that the read
 *   must refuse at its 1 MiB bound; RSS growth and whether another client was served meanwhile.
 * - `resets`: K clients (default 5,000) that connect and reset at once; then a normal client.
 *
 * Usage: `tsx src/stress.ts [--small] [--concurrent=N] [--only=concurrent,cycles,hostile,resets]`
 * (`--small`: counts for the test command, seconds).
 */
import type { Address, Connection } from "effect-tcp"
import { BindToAddress, BindToPort, Reader, Server, WhereToListen } from "effect-tcp"
import type { InvalidArgument, ReadError } from "effect-tcp/TcpError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as cp from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const localhost = WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs)

export interface StressCounts {
  readonly concurrent: number
  readonly cycles: number
  readonly offered: number
  readonly resets: number
  /** Bound on each scenario, milliseconds. */
  readonly deadline: number
}

export const fullCounts: StressCounts = {
  concurrent: 10_000,
  cycles: 100_000,
  offered: 1024 * 1024 * 1024,
  resets: 5_000,
  deadline: 300_000
}

export const smallCounts: StressCounts = {
  concurrent: 200,
  cycles: 1_000,
  offered: 64 * 1024 * 1024,
  resets: 200,
  deadline: 60_000
}

export interface Row {
  readonly scenario: string
  readonly count: number
  readonly ok: number
  readonly seconds: number
  readonly fdsBefore: number
  readonly fdsAfter: number
  readonly rssMiB: number
  readonly note: string
}

const fds = (): number => fs.readdirSync("/proc/self/fd").length
const rssMiB = (): number => process.memoryUsage().rss / 2 ** 20

/** Settles after `ms` with `value`, whatever else happens: every wait below is bounded. */
const within = <A>(promise: Promise<A>, ms: number, value: A): Promise<A> =>
  Promise.race([promise, new Promise<A>((resolve) => setTimeout(() => resolve(value), ms).unref())])

/** One client: sends `line`, resolves true when it comes back. */
const echoOnce = (port: number, line = "ping", preamble = ""): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    let got = ""
    socket.on("error", () => resolve(false))
    socket.on("data", (data) => {
      got += data.toString()
      if (got.endsWith("\n")) {
        socket.destroy()
        resolve(got === `${line}\n`)
      }
    })
    socket.write(`${preamble}${line}\n`)
  })

const echo = (conn: Connection.Connection<Address.Inet>) =>
  Effect.gen(function*() {
    for (;;) {
      const line = yield* conn.reader.readLine
      if (Option.isNone(line)) return
      yield* conn.writer.writeLine(line.value)
    }
  })

type Handler = (conn: Connection.Connection<Address.Inet>) => Effect.Effect<void, unknown>

const withServer = <A>(
  handler: Handler,
  use: (port: number, numConnections: () => number) => Promise<A>
): Promise<A> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const server = yield* Server.make(localhost, handler, { onHandlerError: "ignore", shutdownGracePeriod: "1 second" })
    return yield* Effect.promise(() => use(server.listeningOn, () => Effect.runSync(server.numConnections)))
  })))

/** Runs `stressClients.ts` against `port`: how many of `count` clients got their echo, and how many were open at once. */
const childClients = (port: number, count: number, deadline: number): Promise<{ ok: number; held: number }> =>
  new Promise((resolve) => {
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "stressClients.ts")
    const child = cp.spawn(
      process.execPath,
      ["--import", "tsx", script, String(port), String(count), String(deadline)],
      {
        stdio: ["ignore", "pipe", "inherit"]
      }
    )
    let out = ""
    child.stdout.on("data", (data: Buffer) => (out += data.toString()))
    // The child ends itself at the deadline; this bounds a child that could not even start.
    const kill = setTimeout(() => child.kill("SIGKILL"), deadline + 30_000)
    child.once("exit", () => {
      clearTimeout(kill)
      try {
        resolve(JSON.parse(out.trim().split("\n").pop() ?? ""))
      } catch {
        resolve({ ok: 0, held: 0 })
      }
    })
  })

const measure = async (
  scenario: string,
  count: number,
  run: () => Promise<{ ok: number; note: string }>
): Promise<Row> => {
  const fdsBefore = fds()
  const started = Date.now()
  let peak = rssMiB()
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB())), 20)
  const { note, ok } = await run()
  clearInterval(sampler)
  const seconds = (Date.now() - started) / 1000
  await new Promise((resolve) => setTimeout(resolve, 200))
  return { scenario, count, ok, seconds, fdsBefore, fdsAfter: fds(), rssMiB: Math.round(peak), note }
}

const concurrent = (counts: StressCounts) =>
  measure(
    "concurrent connections (default options, clients in a child process)",
    counts.concurrent,
    () =>
      withServer(echo, async (port, numConnections) => {
        let peak = 0
        const sampler = setInterval(() => (peak = Math.max(peak, numConnections())), 20)
        const { held, ok } = await childClients(port, counts.concurrent, counts.deadline)
        clearInterval(sampler)
        return {
          ok,
          note: `all at once, one line each, held until all answered: ${held.toLocaleString("en")} open at the end, ${
            peak.toLocaleString("en")
          } server handlers at the peak`
        }
      })
  )

const cycles = (counts: StressCounts) =>
  measure("connect/close cycles (64 at a time)", counts.cycles, () =>
    withServer(echo, async (port) => {
      let ok = 0
      let next = 0
      const deadline = Date.now() + counts.deadline
      const samples: Array<string> = []
      const worker = async () => {
        while (next < counts.cycles && Date.now() < deadline) {
          const i = next++
          if (await echoOnce(port)) ok++
          if (i % Math.max(1, Math.floor(counts.cycles / 4)) === 0) samples.push(`${fds()}fd/${Math.round(rssMiB())}M`)
        }
      }
      await Promise.all(Array.from({ length: 64 }, worker))
      return { ok, note: `samples ${samples.join(" ")}` }
    }))

/** A peer naming `op`, then offering `offered` bytes of "x" as fast as the server takes them. */
const hostilePeer = (port: number, op: string, offered: number, header: Uint8Array) => {
  const chunk = Buffer.alloc(64 * 1024, 0x78)
  const socket = net.connect(port, "127.0.0.1")
  let sent = 0
  let stopped = false
  socket.on("error", () => (stopped = true))
  const pump = (): void => {
    while (!stopped && sent < offered) {
      sent += chunk.length
      if (!socket.write(chunk)) {
        socket.once("drain", pump)
        return
      }
    }
  }
  socket.write(`${op}\n`)
  socket.write(header)
  pump()
  const answer = new Promise<string>((resolve) => {
    let got = ""
    socket.on("data", (data) => {
      got += data.toString()
      if (got.includes("\n")) resolve(got.trim())
    })
  })
  return { answer, stop: () => ((stopped = true), socket.destroy()), sent: () => sent }
}

const hostileHandler = (conn: Connection.Connection<Address.Inet>) =>
  Effect.gen(function*() {
    const op = Option.getOrElse(yield* conn.reader.readLine, () => "")
    if (op === "echo") return yield* echo(conn)
    const prefix = Effect.map(conn.reader.readExactly(4), (b) => Buffer.from(b).readUInt32BE(0))
    const read: Effect.Effect<unknown, ReadError | InvalidArgument> = op === "readUntil"
      ? conn.reader.readUntil("\r\n\r\n")
      : op === "readExactly"
      ? Effect.flatMap(prefix, (n) => conn.reader.readExactly(n))
      : op === "readAll"
      ? conn.reader.readAll
      : conn.reader.readChunks(() => Reader.Consumed(0))
    const result = yield* Effect.either(read)
    yield* conn.writer.writeLine(
      result._tag === "Right" ? "ok" : result.left._tag === "ReadError" ? result.left.reason : result.left._tag
    )
    yield* Effect.raceFirst(conn.writer.consumerLeft, Effect.sleep("5 seconds"))
  })

const hostile = (counts: StressCounts) =>
  measure(
    "hostile peers offering 1 GiB each (readUntil, readExactly, readAll, readChunks)",
    4,
    () =>
      withServer(hostileHandler, async (port) => {
        const before = rssMiB()
        const header = Buffer.alloc(4)
        header.writeUInt32BE(0xfffffff0)
        const peers = ["readUntil", "readExactly", "readAll", "readChunks"].map((op) =>
          hostilePeer(port, op, counts.offered, op === "readExactly" ? header : Buffer.alloc(0))
        )
        const answers = await within(Promise.all(peers.map((p) => p.answer)), counts.deadline, [])
        const served = await within(echoOnce(port, "ping", "echo\n"), 10_000, false)
        let peak = rssMiB()
        for (let i = 0; i < 10; i++) {
          await new Promise((resolve) => setTimeout(resolve, 50))
          peak = Math.max(peak, rssMiB())
        }
        for (const p of peers) p.stop()
        const ok = answers.filter((a) => a === "LineTooLong" || a === "TooLarge").length
        return {
          ok,
          note: `answers ${answers.join(",")}; RSS +${Math.round(peak - before)} MiB; other client served: ${served}`
        }
      })
  )

const resets = (counts: StressCounts) =>
  measure("reset flood (connect, then RST)", counts.resets, () =>
    withServer(echo, async (port) => {
      let done = 0
      await within(
        new Promise<void>((resolve) => {
          for (let i = 0; i < counts.resets; i++) {
            const socket = net.connect(port, "127.0.0.1")
            const finish = () => {
              if (++done === counts.resets) resolve()
            }
            socket.on("error", finish)
            socket.on("close", finish)
            socket.once("connect", () => {
              socket.write("half a line")
              socket.resetAndDestroy()
            })
          }
        }),
        counts.deadline,
        undefined
      )
      await new Promise((resolve) => setTimeout(resolve, 500))
      const served = await within(echoOnce(port), 10_000, false)
      return { ok: served ? counts.resets : 0, note: `a normal client served after the flood: ${served}` }
    }))

const scenarios = { concurrent, cycles, hostile, resets }

/** Runs the scenarios named in `only` (all by default), in the order above. */
export const runStress = async (
  counts: StressCounts,
  only: ReadonlyArray<string> = Object.keys(scenarios)
): Promise<Array<Row>> => {
  const rows: Array<Row> = []
  for (const [name, scenario] of Object.entries(scenarios)) {
    if (only.includes(name)) rows.push(await scenario(counts))
  }
  return rows
}

export const formatTable = (rows: ReadonlyArray<Row>): string => {
  const header =
    "| scenario | count | ok | seconds | fds before → after | peak RSS MiB | note |\n|---|---:|---:|---:|---|---:|---|"
  return [
    header,
    ...rows.map((r) =>
      `| ${r.scenario} | ${r.count.toLocaleString("en")} | ${r.ok.toLocaleString("en")} | ${
        r.seconds.toFixed(1)
      } | ${r.fdsBefore} → ${r.fdsAfter} | ${r.rssMiB} | ${r.note} |`
    )
  ].join("\n")
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split("/").pop()!)
if (isMain) {
  const base = process.argv.includes("--small") ? smallCounts : fullCounts
  const flag = process.argv.find((arg) => arg.startsWith("--concurrent="))
  const counts = flag === undefined ? base : { ...base, concurrent: Number(flag.slice("--concurrent=".length)) }
  const only = process.argv.find((arg) => arg.startsWith("--only="))?.slice("--only=".length).split(",")
  const started = new Date()
  void runStress(counts, only).then((rows) => {
    process.stdout.write(
      `effect-tcp stress, ${started.toISOString()}, Node ${process.version}, loopback, ulimit -n from /proc/self/limits\n\n`
    )
    process.stdout.write(formatTable(rows) + "\n")
    process.exit(0)
  })
}
