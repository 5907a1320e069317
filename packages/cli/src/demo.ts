/**
 * The repository's demo (`pnpm demo`): an echo server with `Server.make` on a port the OS
 * chooses and another on a Unix socket in a temporary directory, clients running against them
 * at the same time (line echo, a bulk transfer with its rate, a client that finds the server
 * full and waits for a slot), a short transcript on standard output, then a graceful shutdown.
 * Loopback and a temporary directory only: no outside network, no fixed port.
 *
 * @since 0.1.0
 */
import { Address, BindToAddress, BindToPort, Server, Tcp, WhereToConnect, WhereToListen } from "effect-tcp"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { echo } from "./exchange.js"
import { formatBytes, formatRate } from "./progress.js"

const start = performance.now()
const say = (section: string, line: string) =>
  Effect.sync(() => {
    const ms = String(Math.round(performance.now() - start)).padStart(5)
    process.stdout.write(`[${ms} ms] ${section.padEnd(8)} ${line}\n`)
  })

/** A client that sends lines and reads each one back. */
const lineClient = <A extends Address.Address>(
  section: string,
  where: WhereToConnect.WhereToConnect<A>,
  lines: ReadonlyArray<string>
) =>
  Tcp.withConnection(where, (connection) =>
    Effect.gen(function*() {
      yield* say(section, `connected to ${where} from ${Address.format(connection.socket.localAddress) || "(unnamed)"}`)
      for (const line of lines) {
        yield* connection.writer.writeLine(line)
        const back = yield* connection.reader.readLine
        yield* say(
          section,
          `sent ${JSON.stringify(line)}, got back ${JSON.stringify(Option.getOrElse(back, () => ""))}`
        )
      }
    }))

/** Sends `bytes` and reads them back at the same time; reports the rate. */
const bulkClient = (where: WhereToConnect.WhereToConnect<Address.Inet>, bytes: number) =>
  Tcp.withConnection(where, (connection) =>
    Effect.gen(function*() {
      const block = new Uint8Array(256 * 1024).map((_, i) => i % 251)
      const began = performance.now()
      const send = Effect.gen(function*() {
        for (let sent = 0; sent < bytes; sent += block.length) yield* connection.writer.write(block)
        yield* connection.writer.close
      })
      const receive = Effect.gen(function*() {
        let received = 0
        let mismatches = 0
        while (true) {
          const chunk = yield* connection.reader.read()
          if (Option.isNone(chunk)) break
          for (let i = 0; i < chunk.value.length; i += 4096) {
            if (chunk.value[i] !== (received + i) % (256 * 1024) % 251) mismatches++
          }
          received += chunk.value.length
        }
        return { received, mismatches }
      })
      const [, { mismatches, received }] = yield* Effect.all([send, receive], { concurrency: 2 })
      const seconds = (performance.now() - began) / 1000
      yield* say(
        "bulk",
        `sent ${formatBytes(bytes)} and got ${formatBytes(received)} back in ${seconds.toFixed(2)} s: ${
          formatRate(bytes, seconds)
        } each way${mismatches === 0 ? ", every byte intact" : `, ${mismatches} CORRUPT samples`}`
      )
      if (received !== bytes || mismatches !== 0) return yield* Effect.dieMessage("bulk transfer corrupted")
    }))

/** Two clients take both slots of a `maxConnections: 2` server; a third waits until one leaves. */
const fullServer = Effect.gen(function*() {
  const server = yield* Server.make(
    WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs),
    echo,
    { maxConnections: 2 }
  )
  const where = WhereToConnect.hostAndPort("127.0.0.1", server.listeningOn)
  yield* say("limit", `second server on ${where}, maxConnections: 2`)
  const leave = yield* Deferred.make<void>()
  const holder = (name: string) =>
    Tcp.withConnection(where, (connection) =>
      Effect.gen(function*() {
        yield* connection.writer.writeLine(`${name} here`)
        yield* connection.reader.readLine
        yield* say("limit", `${name} holds a slot`)
        yield* Deferred.await(leave)
      }))
  const holders = yield* Effect.fork(Effect.all([holder("client A"), holder("client B")], { concurrency: 2 }))
  while ((yield* server.numConnections) < 2) yield* Effect.sleep("5 millis")
  const third = yield* Effect.fork(Tcp.withConnection(where, (connection) =>
    Effect.gen(function*() {
      const asked = performance.now()
      yield* connection.writer.writeLine("client C here")
      const back = yield* connection.reader.readLine
      yield* say(
        "limit",
        `client C got ${JSON.stringify(Option.getOrElse(back, () => ""))} after waiting ${
          Math.round(performance.now() - asked)
        } ms`
      )
    })))
  while ((yield* server.numWaiting) < 1) yield* Effect.sleep("5 millis")
  yield* say(
    "limit",
    `client C connected and waits: ${yield* server.numConnections} running, ${yield* server.numWaiting} waiting`
  )
  yield* Effect.sleep("200 millis")
  yield* say("limit", "clients A and B leave")
  yield* Deferred.succeed(leave, undefined)
  yield* Fiber.join(holders)
  yield* Fiber.join(third)
})

const program = Effect.gen(function*() {
  yield* Effect.sync(() =>
    process.stdout.write("effect-tcp demo: servers with Server.make, clients with Tcp.withConnection\n")
  )
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "etcp-demo-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )
  const socketPath = path.join(dir, "echo.sock")
  const tcp = yield* Server.make(WhereToListen.bindTo(BindToAddress.Localhost, BindToPort.OnPortChosenByOs), echo)
  const unix = yield* Server.make(WhereToListen.onFile(socketPath), echo)
  yield* say("server", `echo server on 127.0.0.1 port ${tcp.listeningOn} (the OS chose it)`)
  yield* say("server", `echo server on ${unix.listeningOn}`)

  yield* Effect.all([
    lineClient("tcp", WhereToConnect.hostAndPort("localhost", tcp.listeningOn), ["hello", "effect-tcp"]),
    lineClient("unix", WhereToConnect.file(socketPath), ["over a Unix socket", "héllo, wörld"]),
    bulkClient(WhereToConnect.hostAndPort("127.0.0.1", tcp.listeningOn), 64 * 1024 * 1024)
  ], { concurrency: "unbounded" })

  yield* Effect.scoped(fullServer)

  yield* say("server", "closing both servers (graceful: running handlers may finish)")
  yield* tcp.close()
  yield* unix.close()
  yield* tcp.closeFinishedAndHandlersDetermined.pipe(Effect.timeout("10 seconds"))
  yield* unix.closeFinishedAndHandlersDetermined.pipe(Effect.timeout("10 seconds"))
  yield* say(
    "server",
    `closed: ${yield* tcp.numConnections} + ${yield* unix.numConnections} connections open, socket file ${
      fs.existsSync(socketPath) ? "still there" : "removed"
    }`
  )
})

Effect.runPromiseExit(Effect.scoped(program).pipe(Effect.timeout(Duration.seconds(60)))).then((exit) => {
  if (exit._tag === "Success") {
    process.stdout.write("demo finished\n")
    process.exit(0)
  }
  process.stderr.write(`demo failed: ${String(exit.cause)}\n`)
  process.exit(1)
})
