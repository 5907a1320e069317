import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import type * as Address from "../src/Address.js"
import { type Connection, Server, Tcp, WhereToListen } from "../src/index.js"
import { eventually } from "./utils/eventually.js"
import { fdCount } from "./utils/fds.js"
import { echo, localhost, target } from "./utils/server.js"
import { tempDir } from "./utils/tempDir.js"

// No descriptor is left behind: counted in /proc/self/fd, exactly (no slack), around real sockets.

/** One round trip, then the client leaves: politely (FIN) or not (RST), as `i` says. */
const visit = (port: number, i: number) =>
  Effect.scoped(Effect.gen(function*() {
    const conn = yield* Tcp.connect(target(port))
    yield* conn.writer.writeLine(`visit ${i}`)
    const line = yield* conn.reader.readLine
    if (i % 4 === 3) yield* conn.socket.reset
    return line
  }))

/**
 * The same with a raw `node:net` client, cheaper than `Tcp.connect` when a test needs many: it
 * ends with FIN, or with RST when `i % 4 === 3`, and completes when its socket is closed.
 */
const rawVisit = (port: number, i: number) =>
  Effect.async<string>((resume) => {
    const socket = net.connect({ port, host: "127.0.0.1" })
    let reply = ""
    socket.setEncoding("utf8")
    socket.on("error", () => {})
    socket.on("data", (data: string) => {
      reply += data
      if (!reply.endsWith("\n")) return
      if (i % 4 === 3) socket.resetAndDestroy()
      else socket.end()
    })
    socket.once("close", () => resume(Effect.succeed(reply)))
    socket.write(`visit ${i}\n`)
    return Effect.sync(() => {
      socket.destroy()
    })
  })

/** Warms up everything that opens a descriptor once per process (resolver, timers, …). */
const warmUp = Effect.scoped(Effect.gen(function*() {
  const server = yield* Server.make(localhost, echo)
  yield* visit(server.listeningOn, 0)
}))

describe("Server resources", () => {
  it.live("1,000 connections leave the descriptor count where it was", () =>
    Effect.gen(function*() {
      yield* warmUp
      const baseline = fdCount()
      yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* Server.make(localhost, echo, { maxConnections: 40 })
        const withServer = fdCount()
        const replies = yield* Effect.forEach(
          Array.from({ length: 1000 }, (_, i) => i),
          (i) =>
            i % 10 === 0
              ? Effect.map(visit(server.listeningOn, i), Option.getOrElse(() => ""))
              : rawVisit(server.listeningOn, i),
          { concurrency: 50 }
        )
        assert.deepStrictEqual(
          replies,
          Array.from({ length: 1000 }, (_, i) => i % 10 === 0 ? `visit ${i}` : `visit ${i}\n`)
        )
        yield* eventually(server.numConnections, (n) => n === 0, "every connection to close")
        assert.strictEqual(fdCount(), withServer, "the listener's descriptor only")
      }))
      assert.strictEqual(fdCount(), baseline)
    }))

  it.live("connections cut short by a close of the server leave nothing behind", () =>
    Effect.gen(function*() {
      yield* warmUp
      const baseline = fdCount()
      yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* Server.make(localhost, (conn) => Effect.zipRight(echo(conn), Effect.never), {
          maxConnections: 5,
          maxWaiting: 10
        })
        // 5 served, 10 held, 5 turned away.
        const clients = yield* Effect.forEach(
          Array.from({ length: 20 }, (_, i) => i),
          () => Tcp.connect(target(server.listeningOn)),
          { concurrency: 20 }
        )
        yield* eventually(
          Effect.all([server.numConnections, server.numWaiting]),
          ([running, waiting]) => running === 5 && waiting === 10,
          "the handlers to start"
        )
        yield* server.close({ closeExistingConnections: true })
        yield* server.closeFinishedAndHandlersDetermined
        for (const client of clients) {
          const line = yield* Effect.either(client.reader.readLine)
          assert.isTrue(line._tag === "Left" || Option.isNone(line.right))
        }
      }))
      assert.strictEqual(fdCount(), baseline)
    }))

  it.live("interrupting a server while it starts leaves no descriptor and no socket file", () =>
    Effect.gen(function*() {
      yield* warmUp
      const dir = yield* tempDir
      const baseline = fdCount()
      for (let i = 0; i < 30; i++) {
        const where = i % 2 === 0 ? localhost : WhereToListen.onFile(path.join(dir, `s${i}.sock`))
        const fiber = yield* Effect.fork(Effect.scoped(Effect.zipRight(Server.make(where, echo), Effect.never)))
        if (i % 3 === 1) yield* Effect.yieldNow()
        if (i % 3 === 2) yield* Effect.sleep(2)
        yield* Fiber.interrupt(fiber)
      }
      assert.strictEqual(fdCount(), baseline)
      assert.deepStrictEqual(fs.readdirSync(dir), [])
    }).pipe(Effect.scoped))

  type Op =
    | { readonly _tag: "Connect" }
    | { readonly _tag: "CloseClient"; readonly index: number }
    | { readonly _tag: "ResetClient"; readonly index: number }
    | { readonly _tag: "CloseServer"; readonly closeExistingConnections: boolean }
    | { readonly _tag: "ToggleDrop" }
    | { readonly _tag: "Pause" }

  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.constant<Op>({ _tag: "Connect" }) },
    { weight: 2, arbitrary: fc.nat(9).map((index): Op => ({ _tag: "CloseClient", index })) },
    { weight: 1, arbitrary: fc.nat(9).map((index): Op => ({ _tag: "ResetClient", index })) },
    {
      weight: 1,
      arbitrary: fc.boolean().map((closeExistingConnections): Op => ({ _tag: "CloseServer", closeExistingConnections }))
    },
    { weight: 1, arbitrary: fc.constant<Op>({ _tag: "ToggleDrop" }) },
    { weight: 1, arbitrary: fc.constant<Op>({ _tag: "Pause" }) }
  )

  interface Setup {
    readonly maxConnections: number
    readonly maxWaiting: number
    readonly handler: "echo" | "stuck" | "fail" | "quick"
    readonly serverFirst: boolean
  }

  const setup: fc.Arbitrary<Setup> = fc.record({
    maxConnections: fc.integer({ min: 1, max: 3 }),
    maxWaiting: fc.integer({ min: 0, max: 2 }),
    handler: fc.constantFrom("echo" as const, "stuck" as const, "fail" as const, "quick" as const),
    serverFirst: fc.boolean()
  })

  const handlers: Record<
    Setup["handler"],
    (conn: Connection.Connection<Address.Inet>) => Effect.Effect<void, unknown>
  > = {
    echo,
    stuck: (conn: Connection.Connection<Address.Inet>) => Effect.zipRight(conn.writer.writeLine("hi"), Effect.never),
    fail: (conn: Connection.Connection<Address.Inet>) => Effect.zipRight(conn.reader.readLine, Effect.fail("boom")),
    quick: (conn: Connection.Connection<Address.Inet>) => conn.writer.writeLine("bye")
  }

  const scenario = (config: Setup, ops: ReadonlyArray<Op>) =>
    Effect.gen(function*() {
      const before = fdCount()
      const serverScope = yield* Scope.make()
      const server = yield* Scope.extend(
        Server.make(localhost, handlers[config.handler], {
          maxConnections: config.maxConnections,
          maxWaiting: config.maxWaiting,
          shutdownGracePeriod: "50 millis",
          onHandlerError: "ignore"
        }),
        serverScope
      )
      const clients: Array<{ scope: Scope.CloseableScope; conn: Connection.Connection<Address.Inet> }> = []
      let drop = false
      for (const step of ops) {
        switch (step._tag) {
          case "Connect": {
            const scope = yield* Scope.make()
            const conn = yield* Effect.either(Scope.extend(Tcp.connect(target(server.listeningOn)), scope))
            if (conn._tag === "Left") {
              yield* Scope.close(scope, Exit.void)
              break
            }
            yield* Effect.ignore(conn.right.writer.writeLine("hello"))
            clients.push({ scope, conn: conn.right })
            break
          }
          case "CloseClient":
          case "ResetClient": {
            if (clients.length === 0) break
            const client = clients.splice(step.index % clients.length, 1)[0]!
            if (step._tag === "ResetClient") yield* client.conn.socket.reset
            yield* Scope.close(client.scope, Exit.void)
            break
          }
          case "CloseServer":
            yield* server.close({ closeExistingConnections: step.closeExistingConnections })
            break
          case "ToggleDrop":
            drop = !drop
            yield* server.setDropIncomingConnections(drop)
            break
          case "Pause":
            yield* Effect.sleep(3)
            break
        }
      }
      const closeClients = Effect.forEach(clients, (client) => Scope.close(client.scope, Exit.void), { discard: true })
      const closeServer = Scope.close(serverScope, Exit.void)
      yield* config.serverFirst
        ? Effect.zipRight(closeServer, closeClients)
        : Effect.zipRight(closeClients, closeServer)
      yield* Effect.ignore(server.closeFinishedAndHandlersDetermined)
      const after = fdCount()
      return { before, after, numConnections: yield* server.numConnections, numWaiting: yield* server.numWaiting }
    }).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("scenario timed out") }))

  it("random interleavings of connects, client closes and server shutdowns leave no descriptor behind (property)", async () => {
    await Effect.runPromise(warmUp)
    await fc.assert(
      fc.asyncProperty(setup, fc.array(op, { minLength: 1, maxLength: 12 }), async (config, ops) => {
        const result = await Effect.runPromise(scenario(config, ops))
        assert.strictEqual(result.after, result.before, "descriptors")
        assert.strictEqual(result.numConnections, 0)
        assert.strictEqual(result.numWaiting, 0)
      }),
      { numRuns: 40 }
    )
  })
})
